"""Loopback HTTP peers speaking the real provider protocols (no Odoo import).

Each peer is a small threaded HTTP/1.1 server on ``127.0.0.1`` (port 0, so a
free port is picked) that answers like the real provider: same paths, same
auth headers, same JSON shapes and error codes, errors as HTTP 200 where the
provider does that. Tests and benchmarks point an adapter at ``peer.url``::

    with ZaloPeer() as peer:
        adapter = get_adapter("zalo", peer.zalo_config())
        result = adapter.send(msg)
        assert peer.requests[-1].path == "/message/template"

Scripting the next answers for a path (FIFO, consumed one per request)::

    peer.queue_response("/message/template", {"error": -118, "message": "..."})
    peer.queue_response("/message/template", None, status=500)     # HTTP 500
    peer.queue_response("/message/template", delay=1.0)            # timeout
    peer.queue_response("/message/template", drop=True)            # no answer

When no scripted answer is queued the peer computes a realistic default
answer (token checks, quota counters, template checks...).

Faults on a schedule (deterministic, one entry per request to a *send*
path, see :data:`FAULT_KINDS`)::

    peer.set_faults(["ok", "drop", "http_500", "stall"])   # then "ok"
    peer.set_faults(itertools.cycle(["ok"] * 49 + ["drop"]))

A provider's latency: ``peer.latency = 0.1`` answers every send request
100 ms after it arrived (requests on different connections overlap).

``drop``, ``stall`` and ``garbage`` process the request first (the message
counts as received: it is in ``peer.sent``, the customer got it) and then
lose the answer; ``http_500``/``http_502`` and ``reset`` do not process it.
Refused connections are a mode, not a request (a refused connection never
reaches the peer): ``with peer.refusing(): ...`` stops listening and closes
every open connection; the same port listens again afterwards.

Every request is recorded in ``peer.requests`` as a :class:`RecordedRequest`
``(method, path, query, headers, body, raw)``: ``query`` maps names to single
values, ``headers`` has lower-case names, ``body`` is the parsed JSON or form.

Performance: ``protocol_version = "HTTP/1.1"`` (keep-alive),
``disable_nagle_algorithm = True`` and the status line, headers and body are
written with one ``sendall`` - otherwise Python's ``http.server`` stalls about
40 ms per keep-alive request and a benchmark measures the peer, not us.
"""

import base64
import collections
import contextlib
import email.parser
import email.policy
import json
import secrets
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RecordedRequest = collections.namedtuple(
    "RecordedRequest", "method path query headers body raw"
)

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


# Fault kinds of ``LoopbackPeer.set_faults`` (processed = counted as received)
FAULT_KINDS = {
    "ok": "answer normally",
    "http_500": "HTTP 500, not processed",
    "http_502": "HTTP 502, not processed",
    "reset": "close the connection without processing the request",
    "drop": "process, then close the connection without answering",
    "stall": "process, wait stall_seconds (past the read timeout), close",
    "garbage": "process, then answer HTTP 200 with a body that is not JSON",
}
PROCESSED_FAULTS = ("ok", "drop", "stall", "garbage")


class ScriptedResponse:
    """One queued answer: a JSON body (or raw bytes), an HTTP status, a delay
    before answering, or ``drop`` to close the connection without answering."""

    def __init__(self, body=None, status=200, delay=0.0, drop=False, headers=None):
        self.body = body
        self.status = status
        self.delay = delay
        self.drop = drop
        self.headers = dict(headers or {})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "LoopbackPeer/1.0"

    def setup(self):
        result = super().setup()
        self.server.peer._opened(self.connection)
        return result

    def finish(self):
        self.server.peer._closed(self.connection)
        return super().finish()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Silence the default stderr access log."""

    def do_GET(self):  # pylint: disable=invalid-name
        self.server.peer._dispatch(self)

    def do_POST(self):  # pylint: disable=invalid-name
        self.server.peer._dispatch(self)

    def do_PUT(self):  # pylint: disable=invalid-name
        self.server.peer._dispatch(self)

    def do_DELETE(self):  # pylint: disable=invalid-name
        self.server.peer._dispatch(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # a dispatcher keeps up to 200 requests in flight, each on its own
    # keep-alive connection: they all connect at once (the default backlog
    # of 5 drops SYNs, and the client retries them a second later)
    request_queue_size = 256

    def process_request(self, request, client_address):
        # a thread per connection, hundreds at once: a small stack each (a
        # test process under Odoo's limit_memory_hard has 2.5 GiB of
        # address space, 8 MiB stacks would take it)
        previous = threading.stack_size(512 * 1024)
        try:
            return super().process_request(request, client_address)
        finally:
            threading.stack_size(previous)

    def handle_error(self, request, client_address):
        # a client that died (a dispatcher killed by a test) resets its
        # connections: not worth a traceback
        if isinstance(sys.exc_info()[1], ConnectionError):
            return None
        return super().handle_error(request, client_address)


def _parse_multipart(raw, content_type):
    """A multipart form as ``{field: {"filename", "content_type", "data"}}``."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = {
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "data": part.get_payload(decode=True) or b"",
        }
    return fields


class LoopbackPeer:
    """Base class: a threaded HTTP server with recording and scripting."""

    # paths whose requests send a message (consume the fault schedule)
    send_paths = ()
    stall_seconds = 1.0
    # seconds a send request waits before its answer (a provider's latency);
    # each connection has its own thread, so requests in flight overlap
    latency = 0.0

    def __init__(self):
        self.requests = []
        self._scripts = collections.defaultdict(collections.deque)
        self._lock = threading.RLock()
        self._server = None
        self._thread = None
        self._port = 0
        self._connections = set()
        self.connections_opened = 0
        self._faults = iter(())
        self.faults_seen = []  # fault kind applied to each send request
        self.in_flight = 0  # send requests being answered now
        self.peak_in_flight = 0  # the most at once since the start or reset()
        self.url = None
        self.init_state()

    # -- lifecycle ----------------------------------------------------
    def start(self):
        if self._server is not None:
            return self
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.peer = self
        host, port = self._server.server_address[:2]
        self._port = port
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    @contextlib.contextmanager
    def refusing(self):
        """Connections to the peer are refused inside the block (nothing
        listens, every open connection is closed); it listens again, on the
        same port, after it. The client side should drop its pooled
        connections too (they were closed under it)."""
        self.stop()
        self.close_connections()
        try:
            yield self
        finally:
            self.start()

    def _opened(self, sock):
        with self._lock:
            self._connections.add(sock)
            self.connections_opened += 1

    def _closed(self, sock):
        with self._lock:
            self._connections.discard(sock)

    def close_connections(self):
        """Close every open connection, as a server does to idle keep-alive
        connections; returns how many were open."""
        with self._lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(connections)

    def set_faults(self, kinds):
        """Apply these fault kinds (an iterable, consumed one per request to
        a send path, then "ok") - see :data:`FAULT_KINDS`."""
        kinds = iter(kinds)
        with self._lock:
            self._faults = kinds

    def _next_fault(self, path):
        if path not in self.send_paths:
            return "ok"
        with self._lock:
            kind = next(self._faults, "ok")
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")
            self.faults_seen.append(kind)
        return kind

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- scripting and inspection --------------------------------------
    def queue_response(
        self, path, body=None, status=200, delay=0.0, drop=False, headers=None
    ):
        """Queue the next answer for ``path`` (exact path, no query string).

        ``body`` is a dict (sent as JSON), ``bytes``/``str`` (sent as is) or
        ``None`` (empty body, or the peer's default answer when ``delay`` is
        set and ``status`` is 200).
        """
        with self._lock:
            self._scripts[path].append(
                ScriptedResponse(body, status, delay, drop, headers)
            )

    def reset(self):
        """Forget recorded requests and queued answers, restore the initial
        provider state (tokens, balances, templates...)."""
        with self._lock:
            self.requests.clear()
            self._scripts.clear()
            self._faults = iter(())
            self.faults_seen = []
            self.peak_in_flight = 0
            self.init_state()

    def init_state(self):
        """(Re)build the provider-side state; subclasses extend it."""

    def requests_for(self, path):
        with self._lock:
            return [r for r in self.requests if r.path == path]

    @property
    def request_count(self):
        with self._lock:
            return len(self.requests)

    # -- request handling ------------------------------------------------
    def _dispatch(self, handler):
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        body = self._parse_body(raw, headers.get("content-type", ""))
        request = RecordedRequest(
            handler.command, split.path, query, headers, body, raw
        )
        with self._lock:
            self.requests.append(request)
            script = self._scripts[split.path]
            scripted = script.popleft() if script else None
        if scripted is not None:
            if scripted.delay:
                time.sleep(scripted.delay)
            if scripted.drop:
                self._drop(handler)
                return
            if scripted.body is not None or scripted.status != 200:
                self._write(handler, scripted.status, scripted.body, scripted.headers)
                return
        if split.path in self.send_paths:
            with self._in_flight():
                self._answer(handler, request)
            return
        self._answer(handler, request)

    @contextlib.contextmanager
    def _in_flight(self):
        """Count the send requests being answered at once (``peak_in_flight``)."""
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def wait_idle(self, timeout=10.0):
        """Wait until no send request is being answered (those of a killed
        client are still processed); True when idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self.in_flight:
                    return True
            time.sleep(0.01)
        return False

    def _answer(self, handler, request):
        fault = self._next_fault(request.path)
        if fault in ("http_500", "http_502"):
            self._write(handler, int(fault[-3:]), {"error": fault})
            return
        if fault == "reset":
            self._drop(handler)
            return
        try:
            status, answer = self.handle(request)
        except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-except
            # a bug in a peer must answer 500, not hang the client until timeout
            status, answer = 500, {"error": "peer_exception", "message": repr(exc)}
        if fault == "stall":
            # the client's read timeout fires meanwhile; no answer ever comes
            time.sleep(self.stall_seconds)
            fault = "drop"
        if fault == "drop":
            self._drop(handler)
            return
        if fault == "garbage":
            status, answer = 200, b"<html>502 upstream</html>"
        self._write(handler, status, answer)

    @staticmethod
    def _parse_body(raw, content_type):
        if not raw:
            return None
        if "multipart/form-data" in content_type:
            return _parse_multipart(raw, content_type)
        text = raw.decode("utf-8", "replace")
        if "application/x-www-form-urlencoded" in content_type:
            return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        try:
            return json.loads(text)
        except ValueError:
            return text

    @staticmethod
    def _drop(handler):
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _write(handler, status, body, extra_headers=None):
        if isinstance(body, (dict, list)):
            payload = json.dumps(body).encode()
            content_type = "application/json; charset=utf-8"
        elif isinstance(body, str):
            payload = body.encode()
            content_type = "text/plain; charset=utf-8"
        elif isinstance(body, bytes):
            payload = body
            content_type = "application/octet-stream"
        else:
            payload = b""
            content_type = "text/plain"
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(payload)}",
        ]
        lines.extend(f"{k}: {v}" for k, v in (extra_headers or {}).items())
        if handler.close_connection:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
        try:
            handler.wfile.write(data)
        except OSError:
            handler.close_connection = True

    def handle(self, request):
        """Default answer: override in subclasses. Returns ``(status, body)``."""
        return 404, {"error": "not_found", "path": request.path}


# ======================================================================
# Zalo
# ======================================================================
ZALO_PARAMS_DEFAULT = [
    {
        "name": "customer_name",
        "require": True,
        "type": "STRING",
        "maxLength": 30,
        "minLength": 0,
        "acceptNull": False,
    },
    {
        "name": "order_code",
        "require": True,
        "type": "STRING",
        "maxLength": 30,
        "minLength": 0,
        "acceptNull": False,
    },
    {
        "name": "amount",
        "require": False,
        "type": "NUMBER",
        "maxLength": 20,
        "minLength": 0,
        "acceptNull": True,
    },
    {
        "name": "order_date",
        "require": False,
        "type": "DATE",
        "maxLength": 20,
        "minLength": 0,
        "acceptNull": True,
    },
]


ZBS_IMAGE_MAX = 500 * 1024


class ZaloPeer(LoopbackPeer):
    """Zalo OA / ZBS (ZNS) / OAuth v4, all on one loopback host.

    Serves ``/message/template`` (ZBS by phone), ``/v3.0/oa/message/template``
    (ZBS by user id), ``/v3.0/oa/message/cs``, ``/template/all``,
    ``/template/info/v2``, ``/message/quota``, ``/v2.0/oa/getoa``,
    ``/v2.0/oa/upload/{image,gif,file}`` (types and sizes checked; the
    ``attachment_id`` / ``token`` they give is what ``message/cs`` accepts in
    an attachment) and ``/v4/oa/access_token``; templates written from Odoo:
    ``/upload/image`` (multipart, 500 KB), ``/template/create`` (pending
    review) and ``/template/edit`` (a rejected template only, else -1091),
    reviewed by :meth:`review`. Use ``zalo_config()`` for the adapter config.

    Tokens: ``access_token`` must equal ``self.access_token`` (else -124 on
    the business host paths, -216 on the OA paths); :meth:`expire_token`
    makes the current token invalid until the next refresh. The OAuth
    endpoint checks the ``secret_key`` header and the refresh token, which is
    single use: each refresh issues a new pair.
    """

    send_paths = (
        "/message/template",
        "/v3.0/oa/message/template",
        "/v3.0/oa/message/cs",
    )
    app_id = "3608465248940903967"
    app_secret = "peer-app-secret"
    oa_id = "1234567890123456789"
    oa_name = "Loopback Coffee"

    def __init__(self, daily_quota=500):
        self.initial_daily_quota = daily_quota
        super().__init__()

    def init_state(self):
        self.access_token = "AT-" + secrets.token_hex(8)
        self.token_valid = True
        self.refresh_token = "RT-" + secrets.token_hex(8)
        self.used_refresh_tokens = set()
        self.refresh_count = 0
        self.daily_quota = self.initial_daily_quota
        self.remaining_quota = self.initial_daily_quota
        self.sent = []  # accepted sends: dict(route, recipient, template_id, ...)
        self.uploads = {}  # attachment_id or token -> dict(kind, name, size)
        self.templates = {
            "100001": self.make_template("100001", "Order confirmation"),
            "100002": self.make_template("100002", "Shipping update"),
        }
        self.media_ids = set()  # images uploaded by /upload/image
        self.next_template_id = 300000

    @staticmethod
    def make_template(template_id, name, status="ENABLE", list_params=None):
        return {
            "templateId": template_id,
            "templateName": name,
            "status": status,
            "listParams": list(list_params or ZALO_PARAMS_DEFAULT),
            "listButtons": [],
            "timeout": 7200000,
            "previewUrl": f"https://account.zalo.cloud/znspreview/{template_id}",
            "templateQuality": "HIGH",
            "templateTag": "IN_TRANSACTION",
            "price": "300",
            "price_sdt": "300",
            "price_uid": "200",
            "createdTime": 1700000000000,
        }

    def zalo_config(self, **overrides):
        config = {
            "zalo_app_id": self.app_id,
            "zalo_app_secret": self.app_secret,
            "zalo_oa_secret_key": "peer-oa-secret",
            "zalo_access_token": self.access_token,
            "zalo_refresh_token": self.refresh_token,
            "zalo_business_url": self.url,
            "zalo_openapi_url": self.url,
            "zalo_oauth_url": self.url,
            "zalo_dev_mode": False,
        }
        config.update(overrides)
        return config

    def expire_token(self):
        """Make the current access token invalid (as after 25 h)."""
        with self._lock:
            self.token_valid = False

    # -- dispatch ------------------------------------------------------
    def handle(self, request):
        routes = {
            ("POST", "/message/template"): self._send_phone,
            ("POST", "/v3.0/oa/message/template"): self._send_uid,
            ("POST", "/v3.0/oa/message/cs"): self._send_cs,
            ("POST", "/v2.0/oa/upload/image"): self._upload,
            ("POST", "/v2.0/oa/upload/gif"): self._upload,
            ("POST", "/v2.0/oa/upload/file"): self._upload,
            ("GET", "/template/all"): self._template_all,
            ("GET", "/template/info/v2"): self._template_info,
            ("GET", "/message/quota"): self._quota,
            ("POST", "/template/create"): self._template_create,
            ("POST", "/template/edit"): self._template_edit,
            ("POST", "/upload/image"): self._upload_image,
            ("GET", "/v2.0/oa/getoa"): self._getoa,
            ("POST", "/v4/oa/access_token"): self._oauth,
        }
        route = routes.get((request.method, request.path))
        if route is None:
            return 200, {"error": -106, "message": "Method unsupported"}
        if request.path != "/v4/oa/access_token":
            token_error = self._check_token(request)
            if token_error:
                return 200, token_error
        return route(request)

    def _check_token(self, request):
        with self._lock:
            valid = (
                self.token_valid
                and request.headers.get("access_token") == self.access_token
            )
        if valid:
            return None
        if request.path.startswith("/v2.0/") or request.path.startswith("/v3.0/"):
            return {"error": -216, "message": "Access token is invalid"}
        return {"error": -124, "message": "Access token invalid"}

    @staticmethod
    def _new_msg_id():
        return secrets.token_hex(10)

    def _check_template(self, body):
        template = self.templates.get(str(body.get("template_id")))
        if template is None:
            return None, {"error": -109, "message": "Template ID invalid"}
        if template["status"] != "ENABLE":
            return None, {"error": -131, "message": "ZNS template is not approved"}
        data = body.get("template_data")
        if not isinstance(data, dict) or not data:
            return None, {"error": -111, "message": "Template data empty"}
        for spec in template["listParams"]:
            value = data.get(spec["name"])
            if spec["require"] and not spec["acceptNull"] and not value:
                return None, {
                    "error": -1122,
                    "message": f"template data {spec['name']} is missing",
                }
            if value and len(str(value)) > spec["maxLength"]:
                return None, {
                    "error": -1121,
                    "message": f"template data {spec['name']} is break max length",
                }
        return template, None

    def _consume_quota(self):
        with self._lock:
            if self.remaining_quota <= 0:
                return False
            self.remaining_quota -= 1
            return True

    def _send_phone(self, request):
        body = request.body if isinstance(request.body, dict) else {}
        phone = str(body.get("phone") or "")
        if not (phone.startswith("84") and phone.isdigit() and len(phone) == 11):
            return 200, {"error": -108, "message": "Phone number invalid"}
        template, error = self._check_template(body)
        if error:
            return 200, error
        if not self._consume_quota():
            return 200, {"error": -144, "message": "OA exceeded daily quota"}
        msg_id = self._new_msg_id()
        with self._lock:
            self.sent.append(
                {
                    "route": "phone",
                    "recipient": phone,
                    "template_id": template["templateId"],
                    "tracking_id": body.get("tracking_id"),
                    "msg_id": msg_id,
                    "mode": body.get("mode"),
                }
            )
            remaining = self.remaining_quota
        return 200, {
            "error": 0,
            "message": "Success",
            "data": {
                "msg_id": msg_id,
                "sent_time": str(int(time.time() * 1000)),
                "sending_mode": "1",
                "quota": {
                    "dailyQuota": str(self.daily_quota),
                    "remainingQuota": str(remaining),
                },
            },
        }

    def _send_uid(self, request):
        body = request.body if isinstance(request.body, dict) else {}
        user_id = str(body.get("user_id") or "")
        if not user_id.isdigit():
            return 200, {"error": -201, "message": "user_id is invalid!"}
        template, error = self._check_template(body)
        if error:
            return 200, error
        if not self._consume_quota():
            return 200, {"error": -144, "message": "OA exceeded daily quota"}
        msg_id = self._new_msg_id()
        with self._lock:
            self.sent.append(
                {
                    "route": "uid",
                    "recipient": user_id,
                    "template_id": template["templateId"],
                    "msg_id": msg_id,
                }
            )
            remaining = self.remaining_quota
        return 200, {
            "error": 0,
            "message": "Success",
            "data": {
                "message_id": msg_id,
                "user_id": user_id,
                "sent_time": str(int(time.time() * 1000)),
                "quota": {"quota_type": "purchase_quota", "remain": remaining},
            },
        }

    def _send_cs(self, request):
        body = request.body if isinstance(request.body, dict) else {}
        user_id = str((body.get("recipient") or {}).get("user_id") or "")
        message = body.get("message") or {}
        if not user_id.isdigit():
            return 200, {"error": -201, "message": "user_id is invalid!"}
        if not message.get("text") and not message.get("attachment"):
            return 200, {"error": -201, "message": "message is invalid!"}
        if message.get("attachment"):
            error = self._check_cs_attachment(message["attachment"])
            if error:
                return 200, {"error": -201, "message": error}
        msg_id = self._new_msg_id()
        with self._lock:
            self.sent.append(
                {
                    "route": "cs",
                    "recipient": user_id,
                    "msg_id": msg_id,
                    "text": message.get("text"),
                    "attachment": message.get("attachment"),
                }
            )
        return 200, {
            "error": 0,
            "message": "Success",
            "data": {
                "message_id": msg_id,
                "user_id": user_id,
                "quota": {"quota_type": "reward_quota", "remain": 7},
            },
        }

    # -- media -----------------------------------------------------------
    # kind -> (extensions, maximum bytes); the answer carries an
    # attachment_id (and url) for images and GIFs, a token for files
    UPLOAD_RULES = {
        "/v2.0/oa/upload/image": ("image", ("jpg", "jpeg", "png"), 1024 * 1024),
        "/v2.0/oa/upload/gif": ("gif", ("gif",), 5 * 1024 * 1024),
        "/v2.0/oa/upload/file": ("file", ("pdf", "doc", "docx"), 5 * 1024 * 1024),
    }

    def _upload(self, request):
        kind, extensions, max_bytes = self.UPLOAD_RULES[request.path]
        part = request.body.get("file") if isinstance(request.body, dict) else None
        if not isinstance(part, dict) or not part.get("data"):
            return 200, {"error": -201, "message": "file is missing"}
        name = part.get("filename") or ""
        extension = name.rsplit(".", 1)[-1].lower()
        if extension not in extensions:
            return 200, {"error": -210, "message": "file type is not supported"}
        if len(part["data"]) > max_bytes:
            return 200, {"error": -210, "message": "file size exceeds the limit"}
        reference = secrets.token_hex(12)
        with self._lock:
            self.uploads[reference] = {
                "kind": kind,
                "name": name,
                "size": len(part["data"]),
                "content_type": part.get("content_type"),
            }
        if kind == "file":
            return 200, {"error": 0, "message": "Success", "data": {"token": reference}}
        return 200, {
            "error": 0,
            "message": "Success",
            "data": {
                "attachment_id": reference,
                "url": f"https://photo.loopback.zdn.vn/{reference}.{extension}",
            },
        }

    def _check_cs_attachment(self, attachment):
        """Why Zalo would refuse this ``message.attachment``, or None."""
        payload = attachment.get("payload") or {}
        if attachment.get("type") == "file":
            upload = self.uploads.get(payload.get("token"))
            return None if upload and upload["kind"] == "file" else "file token invalid"
        if attachment.get("type") != "template":
            return "attachment type invalid"
        elements = payload.get("elements") or []
        if "buttons" in payload and not payload.get("template_type"):
            return self._check_cs_buttons(payload["buttons"])
        if payload.get("template_type") == "request_user_info":
            element = elements[0] if len(elements) == 1 else {}
            if not element.get("title") or not element.get("image_url"):
                return "element invalid"
            if len(element["title"]) > 100 or len(element.get("subtitle") or "") > 500:
                return "element too long"
            return None
        if payload.get("template_type") == "media":
            element = elements[0] if len(elements) == 1 else {}
            if element.get("url"):
                return None
            upload = self.uploads.get(element.get("attachment_id"))
            if not upload or upload["kind"] != element.get("media_type"):
                return "attachment_id invalid"
            return None
        if payload.get("template_type") == "list":
            if not 1 <= len(elements) <= 5:
                return "elements invalid"
            for element in elements:
                action = element.get("default_action") or {
                    "type": "oa.open.url",
                    "url": "x",
                }
                if not element.get("title") or action.get("type") != "oa.open.url":
                    return "element invalid"
                if not action.get("url"):
                    return "default_action url missing"
            return None
        return "template_type invalid"

    @staticmethod
    def _check_cs_buttons(buttons):
        """Why Zalo would refuse these buttons of a text message, or None."""
        if not 1 <= len(buttons or []) <= 5:
            return "buttons invalid"
        for button in buttons:
            if not button.get("title") or button.get("type") not in (
                "oa.query.show",
                "oa.query.hide",
                "oa.open.url",
                "oa.open.phone",
                "oa.open.sms",
            ):
                return "button invalid"
            if button["type"].startswith("oa.query") and not isinstance(
                button.get("payload"), str
            ):
                return "button payload invalid"
        return None

    def _template_all(self, request):
        offset = int(request.query.get("offset", 0))
        limit = min(int(request.query.get("limit", 100)), 100)
        status_filter = request.query.get("status")
        names = {
            "1": "ENABLE",
            "2": "PENDING_REVIEW",
            "3": "REJECT",
            "4": "DISABLE",
            "5": "DELETE",
        }
        rows = [
            {
                k: t[k]
                for k in (
                    "templateId",
                    "templateName",
                    "createdTime",
                    "status",
                    "templateQuality",
                )
            }
            for t in self.templates.values()
            if not status_filter or t["status"] == names.get(status_filter)
        ]
        return 200, {
            "error": 0,
            "message": "Success",
            "data": rows[offset : offset + limit],
            "metadata": {"total": len(rows)},
        }

    def _template_info(self, request):
        template = self.templates.get(request.query.get("template_id", ""))
        if template is None:
            return 200, {"error": -109, "message": "Template ID invalid"}
        return 200, {"error": 0, "message": "Success", "data": dict(template)}

    # -- templates written from Odoo --------------------------------------
    def review(self, template_id, status, reason=""):
        """Zalo's reviewers (or Zalo itself) set a template's status:
        ENABLE, REJECT (with ``reason``), DISABLE or DELETE."""
        with self._lock:
            template = self.templates[str(template_id)]
            template["status"] = status
            template["reason"] = reason
        return template

    def _upload_image(self, request):
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data") or (
            b'name="file"' not in request.raw
        ):
            return 200, {"error": -121, "message": "File is missing"}
        if len(request.raw) > ZBS_IMAGE_MAX + 1024:
            return 200, {"error": -130, "message": "Image size exceeds 500KB"}
        media_id = secrets.token_hex(12)
        with self._lock:
            self.media_ids.add(media_id)
        return 200, {"error": 0, "message": "Success", "data": {"media_id": media_id}}

    def _template_create(self, request):
        body = request.body if isinstance(request.body, dict) else {}
        error = self._check_template_body(body)
        if error is None and not body.get("tracking_id"):
            error = {"error": -121, "message": "tracking_id is required"}
        if error:
            return 200, error
        with self._lock:
            self.next_template_id += 1
            ref = str(self.next_template_id)
            self.templates[ref] = self._submitted(ref, body)
        return 200, self._submit_answer(self.templates[ref])

    def _template_edit(self, request):
        body = request.body if isinstance(request.body, dict) else {}
        ref = str(body.get("template_id") or "")
        template = self.templates.get(ref)
        if template is None:
            return 200, {"error": -109, "message": "Template ID invalid"}
        if template["status"] != "REJECT":
            return 200, {"error": -1091, "message": "Template cannot be edited"}
        error = self._check_template_body(body)
        if error:
            return 200, error
        with self._lock:
            self.templates[ref] = self._submitted(ref, body)
        return 200, self._submit_answer(self.templates[ref])

    def _check_template_body(self, body):
        """Zalo's answer to a template body it refuses, else None."""
        name = body.get("template_name") or ""
        layout = body.get("layout") if isinstance(body.get("layout"), dict) else {}
        if not 10 <= len(name) <= 60:
            return {"error": -116, "message": "template_name length is invalid"}
        if body.get("template_type") not in (1, 2, 3, 4, 5):
            return {"error": -121, "message": "template_type is invalid"}
        if body.get("tag") not in (1, 2, 3):
            return {"error": -121, "message": "tag is invalid"}
        if not (layout.get("body") or {}).get("components"):
            return {"error": -121, "message": "layout.body is required"}
        for component in (layout.get("header") or {}).get("components") or []:
            logo = (component.get("LOGO") or {}).get("light") or {}
            if logo.get("media_id") not in self.media_ids:
                return {"error": -1202, "message": "media_id is invalid"}
        for param in body.get("params") or []:
            if not param.get("name") or not param.get("sample_value"):
                return {"error": -112, "message": "param needs name and sample_value"}
        return None

    def _submitted(self, ref, body):
        """The stored template of a body Zalo took: pending review."""
        kinds = {"10": "NUMBER", "11": "DATE", "14": "CURRENCY"}
        params = [
            {
                "name": p["name"],
                "require": True,
                "type": kinds.get(str(p.get("type")), "STRING"),
                "maxLength": 30,
                "minLength": 0,
                "acceptNull": False,
            }
            for p in body.get("params") or []
        ]
        template = self.make_template(
            ref, body["template_name"], "PENDING_REVIEW", params
        )
        tags = {1: "TRANSACTION", 2: "CUSTOMER_CARE", 3: "PROMOTION"}
        template.update(
            templateTag=tags[body["tag"]],
            templateQuality="UNDEFINED",
            reason="",
            layout=body["layout"],
        )
        return template

    @staticmethod
    def _submit_answer(template):
        return {
            "error": 0,
            "message": "Success",
            "data": {
                "template_id": template["templateId"],
                "template_name": template["templateName"],
                "status": template["status"],
                "tag": template["templateTag"],
                "preview_url": template["previewUrl"],
                "price": template["price"],
            },
        }

    def _quota(self, _request):
        return 200, {
            "error": 0,
            "message": "success",
            "data": {
                "dailyQuota": self.daily_quota,
                "remainingQuota": self.remaining_quota,
                "dailyQuotaPromotion": None,
                "remainingQuotaPromotion": None,
                "monthlyPromotionQuota": 125,
                "remainingMonthlyPromotionQuota": 124,
                "estimatedNextMonthPromotionQuota": 2000,
            },
        }

    def _getoa(self, _request):
        return 200, {
            "error": 0,
            "message": "Success",
            "data": {
                "oa_id": self.oa_id,
                "name": self.oa_name,
                "description": "Loopback OA",
                "is_verified": True,
                "oa_type": 2,
                "num_follower": 1234,
                "package_name": "Advanced",
            },
        }

    def _oauth(self, request):
        form = request.body if isinstance(request.body, dict) else {}
        if request.headers.get("secret_key") != self.app_secret:
            return 200, {
                "error_name": "Invalid secret key",
                "error_reason": "App secret key is invalid",
                "ref_doc": "https://developers.zalo.me/docs/official-account",
                "error_description": "secret_key header does not match the app",
                "error": -14012,
            }
        if form.get("app_id") != self.app_id or form.get("grant_type") != (
            "refresh_token"
        ):
            return 200, {
                "error_name": "Invalid parameter",
                "error_reason": "app_id or grant_type is invalid",
                "error_description": "app_id or grant_type is invalid",
                "error": -14001,
            }
        with self._lock:
            token = form.get("refresh_token")
            if token != self.refresh_token or token in self.used_refresh_tokens:
                return 200, {
                    "error_name": "Invalid refresh token",
                    "error_reason": "Refresh token is invalid or has been used",
                    "error_description": "Invalid refresh token",
                    "error": -14014,
                }
            self.used_refresh_tokens.add(token)
            self.refresh_count += 1
            self.access_token = f"AT-{self.refresh_count}-{secrets.token_hex(8)}"
            self.token_valid = True
            self.refresh_token = f"RT-{self.refresh_count}-{secrets.token_hex(8)}"
            return 200, {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_in": "90000",
            }


# ======================================================================
# eSMS
# ======================================================================
def start_zalo_peer(testcase, channel):
    """A started ZaloPeer (stopped at the test's end) that ``channel`` uses."""
    peer = ZaloPeer()
    peer.start()
    testcase.addCleanup(peer.stop)
    channel.write(
        {
            "zalo_access_token": peer.access_token,
            "zalo_openapi_url": peer.url,
            "zalo_business_url": peer.url,
        }
    )
    return peer


class EsmsPeer(LoopbackPeer):
    """eSMS.vn REST API: ``SendMultipleMessage_V4_post_json`` and
    ``GetBalance_json`` (with or without the trailing slash).

    Checks ``ApiKey``/``SecretKey`` (101), the phone format (108), the
    brandname (104), a reused ``RequestId`` (124) and the balance (103).
    """

    api_key = "PEER-API-KEY"
    secret_key = "PEER-SECRET-KEY"
    brandname = "LOOPBACK"
    send_path = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
    send_paths = (send_path, send_path.rstrip("/"))
    balance_path = "/MainService.svc/json/GetBalance_json/"
    price = 800

    def __init__(self, balance=1000000):
        self.initial_balance = balance
        super().__init__()

    def init_state(self):
        self.balance = self.initial_balance
        self.request_ids = set()
        self.sent = []

    def esms_config(self, **overrides):
        config = {
            "esms_api_key": self.api_key,
            "esms_secret_key": self.secret_key,
            "esms_brandname": self.brandname,
            "esms_url": self.url,
            "esms_sms_type": "2",
            "esms_sandbox": False,
            "strip_accents": False,
        }
        config.update(overrides)
        return config

    def handle(self, request):
        path = request.path.rstrip("/") + "/"
        body = request.body if isinstance(request.body, dict) else {}
        if request.method != "POST" or path not in (self.send_path, self.balance_path):
            return 404, "Endpoint not found."
        if body.get("ApiKey") != self.api_key or body.get("SecretKey") != (
            self.secret_key
        ):
            key = "CodeResult" if path == self.send_path else "CodeResponse"
            return 200, {key: "101", "ErrorMessage": "Authorize Failed"}
        if path == self.balance_path:
            return 200, {"Balance": self.balance, "CodeResponse": "100", "UserID": 9999}
        return self._send(body)

    def _send(self, body):
        phone = str(body.get("Phone") or "")
        if not phone.isdigit() or len(phone) not in (10, 11):
            return 200, {
                "CodeResult": "108",
                "ErrorMessage": "Phone number is not in correct format",
            }
        if str(body.get("SmsType")) == "2" and body.get("Brandname") != self.brandname:
            return 200, {"CodeResult": "104", "ErrorMessage": "Brandname not exist"}
        with self._lock:
            request_id = body.get("RequestId")
            if request_id and request_id in self.request_ids:
                return 200, {"CodeResult": "124", "ErrorMessage": "Duplicate RequestId"}
            if self.balance < self.price:
                return 200, {"CodeResult": "103", "ErrorMessage": "Balance not enough"}
            if request_id:
                self.request_ids.add(request_id)
            if str(body.get("Sandbox")) != "1":
                self.balance -= self.price
            sms_id = str(uuid.uuid4())
            self.sent.append(dict(body, SMSID=sms_id))
        return 200, {"CodeResult": "100", "CountRegenerate": 0, "SMSID": sms_id}


# ======================================================================
# SpeedSMS
# ======================================================================
class SpeedSmsPeer(LoopbackPeer):
    """SpeedSMS.vn API: ``/index.php/sms/send`` and ``/index.php/user/info``
    with HTTP basic auth (access token as the user name)."""

    access_token = "peer-speedsms-token"
    send_paths = ("/index.php/sms/send",)
    price = 250

    def __init__(self, balance=500000):
        self.initial_balance = balance
        super().__init__()

    def init_state(self):
        self.balance = self.initial_balance
        self.tran_id = 1000
        self.sent = []

    def speedsms_config(self, **overrides):
        config = {
            "speedsms_access_token": self.access_token,
            "speedsms_sender": "",
            "speedsms_url": self.url,
            "speedsms_sms_type": 2,
            "strip_accents": False,
        }
        config.update(overrides)
        return config

    def _authorized(self, request):
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.access_token

    def handle(self, request):
        if not self._authorized(request):
            return 401, {"status": "error", "code": "401", "message": "Unauthorized"}
        if request.method == "GET" and request.path == "/index.php/user/info":
            return 200, {
                "status": "success",
                "code": "00",
                "data": {
                    "email": "peer@example.com",
                    "balance": self.balance,
                    "currency": "VND",
                },
            }
        if request.method == "POST" and request.path == "/index.php/sms/send":
            return self._send(request.body if isinstance(request.body, dict) else {})
        return 404, {"status": "error", "code": "404", "message": "Not found"}

    def _send(self, body):
        to = body.get("to")
        content = body.get("content")
        if not isinstance(to, list) or not to or not content:
            return 200, {
                "status": "error",
                "code": "101",
                "message": "Invalid or missing parameters",
            }
        if len(content) > 1000:
            return 200, {"status": "error", "code": "113", "message": "Too long"}
        valid = [p for p in to if str(p).isdigit() and len(str(p)) in (10, 11)]
        invalid = [p for p in to if p not in valid]
        with self._lock:
            cost = self.price * len(valid)
            if cost > self.balance:
                return 200, {
                    "status": "error",
                    "code": "300",
                    "message": "Your account balance not enough to send sms",
                }
            self.balance -= cost
            self.tran_id += 1
            self.sent.append(dict(body, tranId=self.tran_id))
            return 200, {
                "status": "success",
                "code": "00",
                "data": {
                    "tranId": self.tran_id,
                    "totalSMS": len(valid),
                    "totalPrice": cost,
                    "invalidPhone": invalid,
                },
            }


# sockets bound and never listening: their ports stay refused until the
# process ends (a port freed at once could be taken by a listener of another
# test run on a busy machine)
_REFUSING_SOCKETS = []


def unused_local_url():
    """``http://127.0.0.1:<port>`` where nothing listens (connection refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _REFUSING_SOCKETS.append(sock)
    return "http://127.0.0.1:%d" % sock.getsockname()[1]


class SmtpPeer:
    """A loopback SMTP server (RFC 5321, plain text, no TLS or AUTH) that
    accepts or refuses like a real one: ``refused`` recipients get ``550``
    at RCPT TO (``smtplib.SMTPRecipientsRefused`` in Odoo), every other
    message is taken and kept in ``messages`` as ``(mail_from, [rcpt],
    raw)``. ``with SmtpPeer() as peer:`` then point an ``ir.mail_server``
    at ``127.0.0.1:peer.port``."""

    def __init__(self, refused=()):
        self.refused = {address.lower() for address in refused}
        self.messages = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._thread = None

    def __enter__(self):
        self._sock.listen(5)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._sock.close()
        self._thread.join(5)

    def _serve(self):
        while True:
            try:
                conn, _addr = self._sock.accept()
            except OSError:
                return  # closed by __exit__
            with conn:
                self._session(conn.makefile("rb"), conn)

    def _session(self, reader, conn):
        def reply(line):
            conn.sendall(line.encode() + b"\r\n")

        reply("220 peer.test ESMTP")
        mail_from, rcpts = None, []
        for raw in reader:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                reply("250 peer.test")
            elif verb == "MAIL":
                mail_from, rcpts = line.split(":", 1)[1].strip(" <>"), []
                reply("250 OK")
            elif verb == "RCPT":
                address = line.split(":", 1)[1].strip().strip("<>")
                if address.lower() in self.refused:
                    reply("550 5.1.1 <%s>: Recipient address rejected" % address)
                else:
                    rcpts.append(address)
                    reply("250 OK")
            elif verb == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                chunks = []
                for data_line in reader:
                    if data_line == b".\r\n":
                        break
                    chunks.append(data_line)
                self.messages.append((mail_from, rcpts, b"".join(chunks)))
                reply("250 OK queued")
            elif verb == "RSET":
                mail_from, rcpts = None, []
                reply("250 OK")
            elif verb == "QUIT":
                reply("221 Bye")
                return
            else:
                reply("250 OK")


# ======================================================================
# OpenAI-compatible chat completions (the AI answer step)
# ======================================================================
def openai_error(message, error_type, code=None, param=None):
    """OpenAI's error body: ``{"error": {message, type, param, code}}``."""
    return {
        "error": {"message": message, "type": error_type, "param": param, "code": code}
    }


class ChatCompletionsPeer(LoopbackPeer):
    """An OpenAI-compatible API under ``/v1``: ``POST /v1/chat/completions``
    and ``GET /v1/models``, Bearer key, OpenAI's answer and error shapes.

    ``peer.answers`` (a deque) holds the next answers' ``content``; when it
    is empty the peer answers :attr:`default_answer`. Error answers are
    scripted with :meth:`queue_response` (see :func:`openai_error`). A wrong
    key gets OpenAI's 401, whose message quotes the key it was given (OpenAI
    quotes part of it): a client must never pass that message on."""

    api_key = "sk-peer-SECRET-4f3c2b1a"
    models = ("gpt-4o-mini", "gpt-4o")
    send_paths = ("/v1/chat/completions",)
    default_answer = "[[HANDOFF]]"
    COMPLETIONS = "/v1/chat/completions"

    def init_state(self):
        self.answers = collections.deque()

    @property
    def base_url(self):
        return self.url + "/v1"

    def handle(self, request):
        key = request.headers.get("authorization", "")[len("Bearer ") :]
        if key != self.api_key:
            return 401, openai_error(
                "Incorrect API key provided: %s. You can find your API key at "
                "https://platform.openai.com/account/api-keys." % key,
                "invalid_request_error",
                "invalid_api_key",
            )
        if request.method == "GET" and request.path == "/v1/models":
            return 200, {
                "object": "list",
                "data": [
                    {
                        "id": m,
                        "object": "model",
                        "created": 1715367049,
                        "owned_by": "system",
                    }
                    for m in self.models
                ],
            }
        if request.method == "POST" and request.path == self.COMPLETIONS:
            return self._complete(request.body)
        return 404, openai_error(
            "Invalid URL (%s %s)" % (request.method, request.path),
            "invalid_request_error",
        )

    def _complete(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return 400, openai_error(
                "'messages' is a required property", "invalid_request_error"
            )
        model = body.get("model")
        if model not in self.models:
            return 404, openai_error(
                "The model `%s` does not exist or you do not have access to it."
                % model,
                "invalid_request_error",
                "model_not_found",
            )
        with self._lock:
            content = self.answers.popleft() if self.answers else self.default_answer
        return 200, {
            "id": "chatcmpl-%s" % uuid.uuid4().hex[:24],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "total_tokens": 120,
            },
        }
