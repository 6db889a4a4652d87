"""Webhook load check: signed Zalo events posted on loopback to a RUNNING Odoo.

    python3 bench/webhook_load.py --url http://127.0.0.1:8069 --db messaging_demo \\
        --login admin --password admin -n 2000 --concurrency 8 --duplicates 0.1

Through JSON-RPC it creates a fresh Zalo channel (random secrets, strict
signature variant) and reads its webhook URL; then it posts N unique signed
events (half ``follow`` from distinct users, half ``user_send_text`` from
those users) plus a share of exact replays, from ``--concurrency`` threads
with keep-alive connections (``http.client``). It prints events/s and
p50/p90/p99 latency of the webhook answers (the call stores the event; the
processing cron, woken by it, processes stored events in batches), then waits
until every event is processed and prints how long that took after the last
answer and the processing rate (events / time from the first call to the last
event processed). Finally it checks in the database that every unique event
was stored and processed once (replays answered "Duplicate"), that each
follower got one identity, and that a forged call is refused with nothing
stored. The channel (and with it its events and identities) is deleted at the
end unless ``--keep``. The Odoo under test needs a cron thread or worker
(``--max-cron-threads`` >= 1) for the processing part.

Goals: >= 500 events/s per Odoo worker, p99 < 100 ms. Exit code 1 when a
correctness check fails (not when a goal is missed).
"""

import argparse
import concurrent.futures
import hashlib
import http.client
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

import requests

GOAL_RATE = 500.0
GOAL_P99_MS = 100.0


def out(line=""):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Rpc:
    """Minimal JSON-RPC client for /jsonrpc (object.execute_kw); an error
    ends the script unless a subclass's ``_error`` says otherwise."""

    timeout = 60

    def __init__(self, url, db, login, password):
        self.url = url.rstrip("/") + "/jsonrpc"
        self.db, self.password = db, password
        self.session = requests.Session()
        self.uid = self._call("common", "login", db, login, password)
        if not self.uid:
            raise SystemExit("login refused for %s on database %s" % (login, db))

    def _call(self, service, method, *args):
        answer = self.session.post(
            self.url,
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"service": service, "method": method, "args": args},
            },
            timeout=self.timeout,
        ).json()
        if answer.get("error"):
            self._error(answer["error"])
        return answer["result"]

    @staticmethod
    def _error(error):
        raise SystemExit(json.dumps(error, indent=1)[:2000])

    def __call__(self, model, method, *args, **kwargs):
        return self._call(
            "object",
            "execute_kw",
            self.db,
            self.uid,
            self.password,
            model,
            method,
            list(args),
            kwargs,
        )


def run_check(check, args, title, ok_line):
    """Set up ``check``, run it, clean up unless ``--keep``; the exit code."""
    out("%s on %s (database %s)" % (title, args.url, args.db))
    check.setup()
    try:
        check.run_checks()
    finally:
        if not args.keep:
            check.cleanup()
    if check.failures:
        out("FAILED: %s" % "; ".join(check.failures))
        return 1
    out(ok_line)
    return 0


def percentile(values, share):
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def build_events(count, app_id, oa_id, run):
    """``count`` unique (raw body, timestamp) pairs: follows then messages."""
    users = [str(10**17 + random.randrange(10**17)) for _ in range((count + 1) // 2)]
    now_ms = int(time.time() * 1000)
    events = []
    for index, user in enumerate(users):
        events.append(
            {
                "oa_id": oa_id,
                "follower": {"id": user},
                "event_name": "follow",
                "source": "oa_profile",
                "app_id": app_id,
                "timestamp": str(now_ms + index),
            }
        )
    for index in range(count - len(users)):
        events.append(
            {
                "app_id": app_id,
                "sender": {"id": users[index % len(users)]},
                "recipient": {"id": oa_id},
                "event_name": "user_send_text",
                "message": {
                    "text": "Xin chào, cho hỏi đơn hàng số %d" % index,
                    "msg_id": "%s-%d" % (run, index),
                },
                "timestamp": str(now_ms + index),
            }
        )
    raws = [
        (json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode(), e)
        for e in events
    ]
    return raws, users


def cpu_seconds(pids):
    """user + system CPU seconds of these processes (Linux /proc)."""
    total = 0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def postgres_pids():
    """Pids of this machine's PostgreSQL processes (all backends)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/comm" % name) as comm:
                    if comm.read().strip() in ("postgres", "postmaster"):
                        pids.append(int(name))
            except OSError:
                continue
    return pids


def sign(raw, timestamp, app_id, secret):
    digest = hashlib.sha256(
        app_id.encode() + raw + timestamp.encode() + secret.encode()
    )
    return "mac=" + digest.hexdigest()


class Poster:
    """Signs and posts calls; one keep-alive ``http.client`` connection per
    thread: about a third of the client CPU of ``requests``, which matters
    when the load generator shares a small machine with Odoo and
    PostgreSQL."""

    def __init__(self, endpoint, app_id, secret):
        self.target = urlsplit(endpoint)
        self.app_id, self.secret = app_id, secret
        self.local = threading.local()

    def signed(self, raw, event, is_replay):
        headers = {
            "Content-Type": "application/json",
            "X-ZEvent-Signature": sign(
                raw, event["timestamp"], self.app_id, self.secret
            ),
        }
        return raw, event, is_replay, headers

    def _connection(self):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(
                self.target.hostname, self.target.port or 80, timeout=30
            )
        return connection

    def post(self, call):
        """(latency ms, HTTP status, answered 'Duplicate', is a replay)."""
        raw, _event, is_replay, headers = call
        connection = self._connection()
        path = self.target.path
        start = time.perf_counter()
        try:
            connection.request("POST", path, body=raw, headers=headers)
            response = connection.getresponse()
        except (http.client.HTTPException, OSError):
            connection.close()  # the server closed a kept-alive connection
            connection.request("POST", path, body=raw, headers=headers)
            response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - start) * 1000.0
        return elapsed, response.status, b"Duplicate" in body, is_replay


def odoo_arguments(description):
    """A parser with the running Odoo's URL, database and login."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", required=True)
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    return parser


def main():
    parser = odoo_arguments(__doc__.split("\n")[0])
    parser.add_argument("-n", "--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--duplicates", type=float, default=0.1, help="share of replays (0-1)"
    )
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the channel")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for the cron to process every stored event "
        "(0: do not wait nor check processing, e.g. against an Odoo started "
        "with --max-cron-threads 0 to measure the answers alone)",
    )
    parser.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="Odoo worker (and PostgreSQL backend) pids whose CPU time per event "
        "is reported: a figure that holds on a busy machine",
    )
    args = parser.parse_args()

    rpc = Rpc(args.url, args.db, args.login, args.password)
    run = secrets.token_hex(4)
    app_id = str(10**17 + random.randrange(10**17))
    oa_id = str(10**17 + random.randrange(10**17))
    secret = secrets.token_urlsafe(24)
    channel_id = rpc(
        "messaging.channel",
        "create",
        {
            "name": "Webhook load %s" % run,
            "channel_type": "zalo",
            "zalo_app_id": app_id,
            "zalo_oa_id": oa_id,
            "zalo_oa_secret_key": secret,
            "zalo_signature_variant": "app_id",
            "opt_out_confirmation": False,
        },
    )
    token = rpc("messaging.channel", "read", [channel_id], ["webhook_token"])[0][
        "webhook_token"
    ]
    endpoint = "%s/messaging/webhook/zalo/%s" % (args.url.rstrip("/"), token)
    failures = []
    try:
        warm, warm_users = build_events(args.warmup, app_id, oa_id, run + "w")
        unique, users = build_events(args.events, app_id, oa_id, run)
        replays = random.sample(unique, int(len(unique) * args.duplicates))
        calls = [(raw, e, False) for raw, e in unique] + [
            (raw, e, True) for raw, e in replays
        ]

        poster = Poster(endpoint, app_id, secret)
        post, signed = poster.post, poster.signed
        calls = [signed(*call) for call in calls]

        post(signed(warm[0][0], warm[0][1], False))  # alone: Odoo's lazy setup
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(post, [signed(raw, e, False) for raw, e in warm[1:]]))
            pg_pids = postgres_pids()
            cpu_before = [cpu_seconds([pid]) for pid in args.server_pid]
            pg_before = cpu_seconds(pg_pids)
            started = time.perf_counter()
            results = list(pool.map(post, calls))
            wall = time.perf_counter() - started
            cpu_each = [
                cpu_seconds([pid]) - before
                for pid, before in zip(args.server_pid, cpu_before, strict=True)
            ]
            cpu_used = sum(cpu_each)
            pg_used = cpu_seconds(postgres_pids()) - pg_before

        latencies = [r[0] for r in results]
        bad_status = [r for r in results if r[1] != 200]
        rate = len(results) / wall
        p50, p90, p99 = (percentile(latencies, s) for s in (0.5, 0.9, 0.99))
        out(
            "Webhook load: %d calls (%d unique + %d replays), concurrency %d"
            % (len(results), len(unique), len(replays), args.concurrency)
        )
        out(
            "  throughput   %8.1f events/s   goal >= %d   %s"
            % (rate, GOAL_RATE, "PASS" if rate >= GOAL_RATE else "MISS")
        )
        out("  latency p50  %8.1f ms" % p50)
        out("  latency p90  %8.1f ms" % p90)
        out(
            "  latency p99  %8.1f ms        goal < %d    %s"
            % (p99, GOAL_P99_MS, "PASS" if p99 < GOAL_P99_MS else "MISS")
        )
        out(
            "  latency max  %8.1f ms   mean %.1f ms"
            % (max(latencies), statistics.mean(latencies))
        )
        if args.server_pid:
            out(
                "  server CPU   %8.2f ms/event (pids %s) -> %.0f events/s per busy core"
                % (
                    cpu_used * 1000.0 / len(results),
                    ",".join(map(str, args.server_pid)),
                    len(results) / cpu_used if cpu_used else 0.0,
                )
            )
            if len(args.server_pid) > 1:
                out(
                    "  per process    %s"
                    % ", ".join(
                        "%d: %.2f ms/event" % (pid, used * 1000.0 / len(results))
                        for pid, used in zip(args.server_pid, cpu_each, strict=True)
                    )
                )
        if pg_pids:
            out(
                "  PostgreSQL   %8.2f ms/event (all its processes, this machine)"
                % (pg_used * 1000.0 / len(results))
            )
        if bad_status:
            failures.append("%d calls not answered 200" % len(bad_status))

        # -- processing: wait until the cron has processed everything -------
        all_unique = len(unique) + len(warm)
        pending_domain = [("channel_id", "=", channel_id), ("state", "=", "received")]
        drain_deadline = time.perf_counter() + args.drain_timeout
        pending = 0
        if args.drain_timeout > 0:
            pending = rpc("messaging.event", "search_count", pending_domain)
        while pending and time.perf_counter() < drain_deadline:
            time.sleep(0.2)
            pending = rpc("messaging.event", "search_count", pending_domain)
        drained = time.perf_counter() - started
        if args.drain_timeout > 0:
            out(
                "  processed    %8.1f events/s   (all %d processed %.1f s after the"
                " last answer%s)"
                % (
                    len(unique) / drained,
                    all_unique - pending,
                    drained - wall,
                    "; %d still pending" % pending if pending else "",
                )
            )
        if pending:
            failures.append("%d events not processed in time" % pending)

        # -- correctness: each unique event stored and processed once --------
        stored = rpc(
            "messaging.event", "search_count", [("channel_id", "=", channel_id)]
        )
        done = rpc(
            "messaging.event",
            "search_count",
            [("channel_id", "=", channel_id), ("state", "=", "done")],
        )
        identities = rpc(
            "messaging.identity", "search_count", [("channel_id", "=", channel_id)]
        )
        answered_duplicate = sum(1 for r in results if r[2])
        out(
            "  stored events %d (expected %d), processed %d"
            % (stored, all_unique, done)
        )
        out(
            "  replays answered 'Duplicate': %d of %d"
            % (answered_duplicate, len(replays))
        )
        out(
            "  identities %d (expected %d)" % (identities, len(users) + len(warm_users))
        )
        if stored != all_unique:
            failures.append("events stored != unique events")
        if args.drain_timeout > 0 and done != all_unique:
            failures.append("events processed != unique events")
        if answered_duplicate != len(replays):
            failures.append("a replay was not answered as a duplicate")
        if args.drain_timeout > 0 and identities != len(users) + len(warm_users):
            failures.append("identity count differs from followers")

        # -- a forged call is refused and stores nothing ---------------------
        raw, event = unique[0][0].replace(b"follow", b"unfollow"), unique[0][1]
        forged = requests.post(
            endpoint,
            data=raw,
            headers={
                "X-ZEvent-Signature": sign(raw, event["timestamp"], app_id, "guess")
            },
            timeout=30,
        )
        after = rpc(
            "messaging.event", "search_count", [("channel_id", "=", channel_id)]
        )
        out(
            "  forged call -> HTTP %d, events stored after it: %d"
            % (forged.status_code, after)
        )
        if forged.status_code != 401 or after != stored:
            failures.append("forged call not refused cleanly")
    finally:
        if not args.keep:
            rpc("messaging.channel", "unlink", [channel_id])
    if failures:
        out("FAILED: " + "; ".join(failures))
        return 1
    out("OK: every unique event processed once, replays and forgery refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
