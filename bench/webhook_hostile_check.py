"""Hostile webhook bodies against a RUNNING Odoo: never a 5xx.

    python3 bench/webhook_hostile_check.py --url http://127.0.0.1:8069 \\
        --db messaging_demo

Through JSON-RPC it creates a fresh Zalo channel (random secrets), then posts
to its webhook URL, over raw HTTP (``http.client``, so that odd methods,
paths and chunked bodies reach the server as written): deep nesting,
UTF-16/UTF-32 with and without BOM, NUL bytes, invalid UTF-8, a 10 MiB body,
a chunked body without Content-Length, top-level arrays/numbers/strings/null,
``{}`` and an empty body, a form content type, garbage and non-ASCII
signature headers, odd token paths and methods, and signed events whose
fields have odd types. Each call must get the documented answer (never a
5xx); the channel's stored events must grow only by the signed odd-field
events. Run it against a server started with ``--workers`` (prefork) to
exercise the WSGI fast path; calls without Content-Length (chunked) go
through Odoo's route, and ``--route`` sends every POST chunked.

Prints one line per call and exits 1 when one fails. The channel (and its
events) is deleted at the end unless ``--keep``.
"""

import http.client
import json
import random
import secrets
import sys
import time
from urllib.parse import urlsplit

from webhook_load import Rpc, odoo_arguments, out, run_check, sign

MIB = 1024 * 1024
# an event's error that names one of these is a crash, not a refusal
PYTHON_ERRORS = (
    "Traceback",
    "KeyError",
    "TypeError",
    "AttributeError",
    "ValueError",
    "IndexError",
    "psycopg2",
    "RecursionError",
)


class Hostile:
    def __init__(self, args):
        self.args = args
        self.rpc = Rpc(args.url, args.db, args.login, args.password)
        self.target = urlsplit(args.url)
        self.app_id = str(10**18 + random.randrange(10**18))
        self.oa_id = str(10**17 + random.randrange(10**17))
        self.secret = secrets.token_urlsafe(24)
        self.failures = []
        self.stored = 0  # signed odd-field events expected to be stored

    def setup(self):
        self.channel_id = self.rpc(
            "messaging.channel",
            "create",
            {
                "name": "Hostile check %s" % secrets.token_hex(4),
                "channel_type": "zalo",
                "zalo_app_id": self.app_id,
                "zalo_oa_id": self.oa_id,
                "zalo_oa_secret_key": self.secret,
                "zalo_signature_variant": "app_id",
            },
        )
        self.token = self.rpc(
            "messaging.channel", "read", [self.channel_id], ["webhook_token"]
        )[0]["webhook_token"]
        self.path = "/messaging/webhook/zalo/%s" % self.token
        self.before = self.events()

    def events(self):
        return self.rpc(
            "messaging.event", "search_count", [("channel_id", "=", self.channel_id)]
        )

    def send(self, body=b"", headers=None, method="POST", path=None, chunked=False):
        connection = http.client.HTTPConnection(
            self.target.hostname, self.target.port or 80, timeout=120
        )
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        chunked = chunked or (self.args.route and method == "POST")
        try:
            if chunked:
                connection.putrequest(method, path or self.path)
                for name, value in all_headers.items():
                    connection.putheader(name, value)
                connection.putheader("Transfer-Encoding", "chunked")
                connection.endheaders()
                for start in range(0, len(body), 65536):
                    piece = body[start : start + 65536]
                    connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                connection.send(b"0\r\n\r\n")
            else:
                connection.putrequest(
                    method, path or self.path, skip_accept_encoding=True
                )
                for name, value in all_headers.items():
                    connection.putheader(name, value)
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.read()[:200]
        except (OSError, http.client.HTTPException) as error:
            # a server may close a connection while a huge body is sent
            return None, repr(error).encode()
        finally:
            connection.close()

    def send_raw_chunks(self, chunks, content_type):
        """A chunked body written as given (sizes included)."""
        connection = http.client.HTTPConnection(
            self.target.hostname, self.target.port or 80, timeout=60
        )
        try:
            connection.putrequest("POST", self.path)
            connection.putheader("Content-Type", content_type)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.putheader("Connection", "close")
            connection.endheaders()
            connection.send(chunks)
            response = connection.getresponse()
            return response.status, response.read()[:200]
        except (OSError, http.client.HTTPException) as error:
            return None, repr(error).encode()
        finally:
            connection.close()

    def expect(self, label, status, expected, detail=b""):
        ok = status is not None and status < 500 and status in expected
        if status is None and (413 in expected or 414 in expected):
            # connection closed on an oversized body or request line: not a
            # 5xx; Odoo's threaded HTTP server (werkzeug, before any WSGI
            # code of ours) drops a 64 KiB request line, prefork answers 414
            ok = True
        out(
            "  %-4s %s (HTTP %s, expected %s) %s"
            % (
                "OK" if ok else "FAIL",
                label,
                status,
                "/".join(map(str, expected)),
                detail.decode("utf-8", "replace")[:100] if not ok else "",
            )
        )
        if not ok:
            self.failures.append(label)

    def signed_headers(self, raw, timestamp):
        return {"X-ZEvent-Signature": sign(raw, timestamp, self.app_id, self.secret)}

    def now(self):
        return str(int(time.time() * 1000))

    # ------------------------------------------------------------------

    def unsigned_bodies(self):
        text = '{"event_name":"follow","timestamp":"%s"}' % self.now()
        # over 64 KiB: refused for its size before it is parsed
        yield "nesting 100000 [", b"[" * 100000, (413,)
        yield "nesting 100000 {", b'{"a":' * 100000, (413,)
        yield "nesting 100000 mixed", b'[{"a":' * 50000, (413,)
        # under 64 KiB: refused for its depth
        yield "nesting 60000 [", b"[" * 60000, (400,)
        yield "nesting 12000 {", b'{"a":' * 12000, (400,)
        yield "nesting 10000 [{ closed", b'[{"a":' * 5000 + b"1" + b"}]" * 5000, (400,)
        yield "nesting 33 levels", b"[" * 33 + b"]" * 33, (400,)
        for codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"):
            yield "%s body" % codec, text.encode(codec), (400,)
        yield "UTF-8 BOM", b"\xef\xbb\xbf" + text.encode(), (400, 401)
        yield "raw NUL", text.encode().replace(b"follow", b"fol\x00low"), (400,)
        yield "escaped NUL", text.encode().replace(b"follow", b"fol\\u0000low"), (400,)
        yield (
            "invalid UTF-8",
            text.encode().replace(b"follow", b"fol\xff\xfelow"),
            (400,),
        )
        yield "lone surrogate", text.encode().replace(b"follow", b"\\ud800"), (400,)
        yield "10 MiB body", b'{"a":"' + b"x" * (10 * MIB) + b'"}', (413,)
        for top in (b"[]", b"[1,2]", b"42", b'"text"', b"null", b"true", b"1e999"):
            yield "top-level %s" % top.decode(), top, (400,)
        yield "NaN constant", b'{"timestamp":NaN}', (400,)
        yield "{} unsigned (URL check)", b"{}", (200,)
        yield "empty body", b"", (200,)
        yield "whitespace body", b"  \r\n", (200,)
        yield "not JSON", b"garbage{", (400,)
        yield "unsigned event", text.encode(), (401,)

    def run_checks(self):
        for label, body, expected in self.unsigned_bodies():
            status, answer = self.send(body)
            self.expect(label, status, expected, answer)
        self.transport_checks()
        self.header_checks()
        self.path_checks()
        self.signed_checks()
        self.check_stored()

    def transport_checks(self):
        text = ('{"event_name":"follow","timestamp":"%s"}' % self.now()).encode()
        status, answer = self.send(text, chunked=True)
        self.expect("chunked unsigned event", status, (401,), answer)
        status, answer = self.send(b"{}", chunked=True)
        self.expect("chunked {}", status, (200,), answer)
        status, answer = self.send(b"[" * 100000, chunked=True)
        self.expect("chunked nesting 100000", status, (413,), answer)
        status, answer = self.send(b"[" * 60000, chunked=True)
        self.expect("chunked nesting 60000", status, (400,), answer)
        status, answer = self.send(b'{"a":"' + b"x" * (10 * MIB) + b'"}', chunked=True)
        self.expect("chunked 10 MiB", status, (413,), answer)
        for label, chunks, content_type in (
            ("malformed chunk size", b"zz\r\n{}\r\n0\r\n\r\n", "application/json"),
            ("negative chunk size", b"-5\r\n{}\r\n0\r\n\r\n", "application/json"),
            ("missing chunk size", b"\r\n\r\n", "application/json"),
            (
                "malformed chunk, form body",
                b"zz\r\na=1\r\n0\r\n\r\n",
                "application/x-www-form-urlencoded",
            ),
        ):
            status, answer = self.send_raw_chunks(chunks, content_type)
            self.expect(label, status, (400, 415), answer)
        status, answer = self.send(
            b"timestamp=1&event_name=follow",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.expect("form content type", status, (415,), answer)
        status, answer = self.send(
            b"--x\r\n\r\n--x--",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        self.expect("multipart content type", status, (415,), answer)
        status, answer = self.send(text, headers={"Content-Type": "text/plain"})
        self.expect("text/plain content type", status, (401, 415), answer)

    def header_checks(self):
        timestamp = self.now()
        raw = ('{"event_name":"follow","timestamp":"%s"}' % timestamp).encode()
        for label, value in (
            ("garbage signature", "garbage"),
            ("mac= only", "mac="),
            ("long signature", "mac=" + "a" * 8000),
            ("non-ASCII signature", "mac=ch\u1eef k\u00fd".encode().decode("latin-1")),
            ("NUL-free control chars", "mac=\x01\x02"),
        ):
            status, answer = self.send(raw, headers={"X-ZEvent-Signature": value})
            self.expect(label, status, (401,), answer)

    def path_checks(self):
        base = "/messaging/webhook/zalo/"
        for label, path, expected in (
            ("token %00", base + "%00", (404,)),
            (
                "token with %00 inside",
                base + self.token[:4] + "%00" + self.token[4:],
                (404,),
            ),
            ("token %00 suffix", self.path + "%00", (404,)),
            ("token %FF", base + "%FF%FE", (404,)),
            ("token non-ASCII", base + "%E1%BB%AF", (404,)),
            ("very long token (6 KiB)", base + "a" * 6000, (404, 414, 431)),
            ("very long path (64 KiB)", base + "a" * 65536, (404, 414, 431)),
            ("empty token", base, (404,)),
            ("token with slash", self.path + "/extra", (404,)),
        ):
            status, answer = self.send(b"{}", path=path)
            self.expect(label, status, expected, answer)
        for method, expected in (
            ("GET", (404, 405)),
            ("PUT", (404, 405)),
            ("DELETE", (404, 405)),
            ("PATCH", (404, 405)),
            ("OPTIONS", (200, 204, 404, 405)),
            ("HEAD", (200, 404, 405)),
        ):
            status, answer = self.send(
                b"" if method in ("GET", "HEAD") else b"{}", method=method
            )
            self.expect("%s on the webhook" % method, status, expected, answer)

    def odd_events(self):
        now = self.now()
        uid = str(10**17 + random.randrange(10**17))
        base = {"app_id": self.app_id, "timestamp": now}
        yield (
            "sender id a number",
            dict(
                base,
                event_name="user_send_text",
                sender={"id": 12345},
                recipient={"id": self.oa_id},
                message={"text": "a", "msg_id": 7},
            ),
        )
        yield (
            "sender a list",
            dict(
                base,
                event_name="user_send_text",
                sender=[uid],
                recipient={"id": self.oa_id},
                message={"text": "b", "msg_id": uid + "b"},
            ),
        )
        yield (
            "message a string",
            dict(
                base, event_name="user_send_text", sender={"id": uid}, message="hello"
            ),
        )
        yield (
            "message null",
            dict(base, event_name="user_send_text", sender={"id": uid}, message=None),
        )
        yield "event_name a number", dict(base, event_name=42, sender={"id": uid})
        yield "event_name null", dict(base, event_name=None, follower={"id": uid})
        yield "follower a string", dict(base, event_name="follow", follower=uid)
        yield (
            "info a list",
            dict(base, event_name="user_submit_info", sender={"id": uid}, info=["x"]),
        )
        yield (
            "attachments a dict",
            dict(
                base,
                event_name="user_send_image",
                sender={"id": uid},
                message={"msg_id": uid + "i", "attachments": {"payload": 1}},
            ),
        )
        yield (
            "timestamp a number",
            dict(
                base,
                timestamp=int(now),
                event_name="follow",
                follower={"id": uid + "1"},
            ),
        )
        yield (
            "msg_id a dict",
            dict(
                base,
                event_name="user_received_message",
                sender={"id": self.oa_id},
                message={"msg_id": {"a": 1}},
            ),
        )

    def post_signed(self, payload, timestamp=None):
        raw = json.dumps(payload, separators=(",", ":")).encode()
        stamp = timestamp if timestamp is not None else str(payload["timestamp"])
        return self.send(raw, headers=self.signed_headers(raw, stamp))

    def signed_checks(self):
        for label, payload in self.odd_events():
            status, answer = self.post_signed(payload)
            self.expect("signed, " + label, status, (200,), answer)
            if status == 200:
                self.stored += 1
        for label, stamp in (
            ("huge integer timestamp", 10**400),
            ("negative timestamp", -(10**30)),
            ("huge string timestamp", "9" * 5000),
            ("float timestamp", 1.5e300),
            ("timestamp text", "yesterday"),
        ):
            payload = {
                "app_id": self.app_id,
                "event_name": "follow",
                "timestamp": stamp,
            }
            status, answer = self.post_signed(payload, timestamp=str(stamp))
            self.expect("signed, " + label, status, (400,), answer)
        payload = {"app_id": self.app_id, "event_name": "follow", "timestamp": True}
        status, answer = self.post_signed(payload, timestamp="true")
        self.expect("signed, timestamp true", status, (400,), answer)

    def check_stored(self):
        stored = self.events() - self.before
        ok = stored == self.stored
        out(
            "  %-4s only the signed odd-field events stored (%d stored, %d expected)"
            % ("OK" if ok else "FAIL", stored, self.stored)
        )
        if not ok:
            self.failures.append("stored events")
        status, answer = self.send(b"{}")
        self.expect("server still answers", status, (200,), answer)
        self.check_processed()

    def check_processed(self):
        """The processing cron handles every odd event: processed, ignored or
        failed with a message, none left waiting, no Python error type."""
        deadline = time.monotonic() + self.args.timeout
        domain = [("channel_id", "=", self.channel_id)]
        while time.monotonic() < deadline:
            waiting = self.rpc(
                "messaging.event", "search_count", domain + [("state", "=", "received")]
            )
            if not waiting:
                break
            time.sleep(0.5)
        events = self.rpc(
            "messaging.event", "search_read", domain, ["state", "error_message"]
        )
        crashed = [
            e
            for e in events
            if e["state"] == "received"
            or any(word in (e["error_message"] or "") for word in PYTHON_ERRORS)
        ]
        ok = not crashed
        out(
            "  %-4s odd events processed leniently (%s)%s"
            % (
                "OK" if ok else "FAIL",
                ", ".join(
                    "%s %d" % (state, sum(e["state"] == state for e in events))
                    for state in ("done", "ignored", "error", "received")
                ),
                "".join(
                    "\n       %s: %s" % (e["state"], e["error_message"])
                    for e in crashed
                ),
            )
        )
        if not ok:
            self.failures.append("processing of odd events")

    def cleanup(self):
        self.rpc("messaging.channel", "unlink", [self.channel_id])


def main():
    parser = odoo_arguments(__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the channel")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="wait for the processing cron"
    )
    parser.add_argument(
        "--route",
        action="store_true",
        help="send every POST chunked (no Content-Length): Odoo's route "
        "answers them all instead of the fast path",
    )
    args = parser.parse_args()
    return run_check(
        Hostile(args),
        args,
        "Hostile webhook check",
        "OK: no 5xx, every answer as documented",
    )


if __name__ == "__main__":
    sys.exit(main())
