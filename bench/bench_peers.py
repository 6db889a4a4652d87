"""Loopback peers for the queue benchmark (no Odoo import).

Reuses the addon's test peers (``tests/peers.py``, loaded by file path so that
importing this module never imports Odoo) and adds:

- arrival times of every provider request, served as JSON on
  ``GET /__bench/stats`` and cleared by ``POST /__bench/reset``;
- an optional fixed latency per provider request (``delay`` seconds);
- :class:`IapSmsPeer`, Odoo's IAP SMS endpoint (``/api/sms/3/send``, JSON-RPC,
  one result per number, matched by ``uuid``) as ``odoo/addons/sms`` 18.0
  calls it.

Run one in its own process (fairer than a thread: no shared GIL)::

    python bench/bench_peers.py esms --delay 0.1

prints one JSON line ``{"url": ...}`` then serves until stdin is closed.
"""

import argparse
import importlib.util
import json
import os
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
STATS_PATH = "/__bench/stats"
RESET_PATH = "/__bench/reset"


def _load_test_peers():
    path = os.path.join(HERE, os.pardir, "tests", "peers.py")
    spec = importlib.util.spec_from_file_location("messaging_bench_test_peers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


peers = _load_test_peers()


class BenchMixin:
    """Arrival times, a fixed latency and the two control paths.

    Requests are not kept (``requests`` would hold every body): only their
    arrival times are.
    """

    delay = 0.0

    def init_state(self):
        result = super().init_state()
        self.arrivals = []
        self.items = 0
        return result

    def _dispatch(self, handler):
        if handler.path in (STATS_PATH, RESET_PATH):
            return self._control(handler)
        super()._dispatch(handler)
        with self._lock:
            # the base class records every request with its body
            self.requests.clear()
        return None

    def _control(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        with self._lock:
            if handler.path == RESET_PATH:
                self.arrivals = []
                self.items = 0
                answer = {"reset": True}
            else:
                answer = {"arrivals": list(self.arrivals), "items": self.items}
        self._write(handler, 200, answer)

    def handle(self, request):
        with self._lock:
            self.arrivals.append(time.time())
        if self.delay:
            time.sleep(self.delay)
        return self.handle_provider(request)

    def handle_provider(self, request):
        raise NotImplementedError


class _BenchProviderPeer(BenchMixin):
    """A provider peer with a balance that never runs out, an optional
    latency, and its sent bodies counted, not kept."""

    provider = None  # the loopback peer class whose answers it gives

    def __init__(self, delay=0.0):
        self.delay = delay
        super().__init__(balance=10**15)

    def init_state(self):
        result = super().init_state()
        self.sent = _Counter(self)
        return result

    def handle_provider(self, request):
        return self.provider.handle(self, request)


class BenchEsmsPeer(_BenchProviderPeer, peers.EsmsPeer):
    """eSMS, unlimited, with an optional latency."""

    provider = peers.EsmsPeer


class BenchSpeedSmsPeer(_BenchProviderPeer, peers.SpeedSmsPeer):
    """SpeedSMS, unlimited, with an optional latency."""

    provider = peers.SpeedSmsPeer


class _Counter:
    """Stands in for ``EsmsPeer.sent`` (a list of every body): counts only."""

    def __init__(self, peer):
        self.peer = peer

    def append(self, _item):
        self.peer.items += 1


class IapSmsPeer(BenchMixin, peers.LoopbackPeer):
    """Odoo IAP SMS v3: ``POST /api/sms/3/send`` (JSON-RPC 2.0).

    ``params.messages`` is a list of ``{"content": str, "numbers": [{"number",
    "uuid"}]}``; the result lists ``{"uuid", "state", "credit"}`` per number
    (``sms.sms._send`` matches them by uuid). A call without
    ``params.account_token`` gets a JSON-RPC error as IAP would.
    """

    send_path = "/api/sms/3/send"

    def __init__(self, delay=0.0):
        self.delay = delay
        super().__init__()

    def handle_provider(self, request):
        body = request.body if isinstance(request.body, dict) else {}
        if request.method != "POST" or request.path != self.send_path:
            return 404, {"error": "not_found", "path": request.path}
        params = body.get("params") or {}
        if not params.get("account_token"):
            return 200, {
                "jsonrpc": "2.0",
                "id": body.get("id"),
                "error": {
                    "code": 200,
                    "message": "Odoo Server Error",
                    "data": {
                        "name": "odoo.exceptions.AccessError",
                        "message": "No account token",
                    },
                },
            }
        result = [
            {"uuid": number.get("uuid"), "state": "success", "credit": 1}
            for message in params.get("messages") or []
            for number in message.get("numbers") or []
        ]
        with self._lock:
            self.items += len(result)
        return 200, {"jsonrpc": "2.0", "id": body.get("id"), "result": result}


PEERS = {"esms": BenchEsmsPeer, "iap": IapSmsPeer, "speedsms": BenchSpeedSmsPeer}


# ----------------------------------------------------------------------
# Client side: used by the driver
# ----------------------------------------------------------------------
def _call(url, path, method="GET"):
    data = b"" if method == "POST" else None
    req = urllib.request.Request(url + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=30) as answer:
        return json.loads(answer.read().decode())


def peer_stats(url):
    """``{"arrivals": [epoch seconds...], "items": n}`` since the last reset."""
    return _call(url, STATS_PATH)


def peer_reset(url):
    _call(url, RESET_PATH, method="POST")


class PeerProcess:
    """A peer in a child process (``python bench_peers.py KIND``)."""

    def __init__(self, kind, delay=0.0, python=None):
        import subprocess  # noqa: PLC0415 - only the driver needs it

        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [python or sys.executable, os.path.abspath(__file__), kind]
            + ["--delay", str(delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} peer process did not start")
        self.url = json.loads(line)["url"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("kind", choices=sorted(PEERS))
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    peer = PEERS[args.kind](delay=args.delay).start()
    sys.stdout.write(json.dumps({"url": peer.url}) + "\n")
    sys.stdout.flush()
    stop = threading.Event()

    def _wait_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=_wait_stdin, daemon=True).start()
    stop.wait()
    peer.stop()


if __name__ == "__main__":
    main()
