"""Hostile input through the real HTTP route, on both paths (the WSGI fast
path and Odoo's route): whatever a caller sends, the answer is a 2xx or a
4xx, never a 5xx; what is refused stores nothing; a signed event with odd
fields is stored and ends processed, ignored or failed with its error.

The signed fuzz loop is deterministic: a seeded generator, a fixed number
of cases per event kind."""

import copy
import http.client
import json
import random
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo.tests import HttpCase, tagged
from odoo.tools import SQL

from ..controllers import fast_path, main
from . import test_webhook_common as wh

# rows a refused call must leave alone
WATCHED_TABLES = ("messaging_event", "discuss_channel", "mail_message", "res_partner")
FUZZ_SEED = 22
FUZZ_CASES_PER_KIND = 6


def deep(levels, inner=b"1"):
    return b'{"a":' * levels + inner + b"}" * levels


def signed_raw(raw_text, ts):
    """A body given as text (what json.dumps cannot write: NUL, lone
    surrogates...) and its signature."""
    raw = raw_text.encode("utf-8", "surrogatepass")
    return raw, wh.sign(raw, ts)


@tagged("post_install", "-at_install")
class TestWebhookHostile(HttpCase):
    """Served by the fast path; TestWebhookHostileRoute: by Odoo's route."""

    fast_path_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.channel, cls.esms, cls.speedsms = wh.make_webhook_channels(
            cls.env, "hostile"
        )
        cls.Event = cls.env["messaging.event"]

    def setUp(self):
        super().setUp()
        patcher = patch.object(fast_path, "ENABLED", self.fast_path_enabled)
        patcher.start()
        self.addCleanup(patcher.stop)

    # -- helpers ----------------------------------------------------------
    def _path(self, channel=None, token=None):
        channel = channel or self.channel
        return "/messaging/webhook/%s/%s" % (
            channel.channel_type,
            token if token is not None else channel.webhook_token,
        )

    def _request(self, method, path, body=None, headers=None):
        """One call with http.client: exact bytes for the path, the headers
        (non-ASCII too) and the body. (status, content type, body)."""
        url = urlsplit(self.base_url())
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            headers = dict(headers or {})
            if body is not None and "Content-Length" not in headers:
                headers["Content-Length"] = str(len(body))
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            return (
                response.status,
                response.getheader("Content-Type") or "",
                response.read(),
            )
        finally:
            connection.close()

    def _counts(self):
        self.env.flush_all()
        counts = {}
        for table in WATCHED_TABLES:
            self.env.cr.execute(SQL("SELECT COUNT(*) FROM %s", SQL.identifier(table)))
            counts[table] = self.env.cr.fetchone()[0]
        return counts

    def _post(self, raw, signature=None, headers=None, path=None):
        all_headers = {"Content-Type": "application/json"}
        if signature:
            all_headers["X-ZEvent-Signature"] = signature
        all_headers.update(headers or {})
        return self._request("POST", path or self._path(), raw, all_headers)

    def assertRefused(self, call, statuses, reason=None, served_by_fast_path=True):
        """Run ``call`` (-> (status, content type, body)): its status is one
        of ``statuses``, its JSON answer gives a reason, nothing changed."""
        before = self._counts()
        with wh.fast_path_answers() as answers:
            status, content_type, body = call()
        self.assertIn(status, statuses, body[:300])
        self.assertLess(status, 500)
        if "json" in content_type:
            message = json.loads(body)["message"]
            self.assertTrue(message)
            self.assertLess(len(message), 120, "a short reason")
            if reason:
                self.assertIn(reason, message)
        self.assertEqual(self._counts(), before, "nothing stored nor changed")
        if served_by_fast_path:
            self.assertEqual(
                bool(answers and answers[0] is not None), self.fast_path_enabled
            )
        return status, body

    def _signed(self, payload):
        raw = wh.encode(payload)
        return raw, wh.sign(raw, payload["timestamp"])

    # -- bodies that are not a UTF-8 JSON object: 4xx, nothing stored -------
    def test_deep_nesting_unsigned(self):
        # under the size limit (64 KiB), else refused with a 413 first
        for raw in (deep(5000), b"[" * 60000, b"[" * 40 + b"]" * 40):
            with self.subTest(size=len(raw)):
                self.assertRefused(lambda raw=raw: self._post(raw), (400,))

    def test_deep_nesting_signed(self):
        ts = wh.now_ms()
        for levels in (33, 2000, 10000):
            text = '{"event_name":"follow","timestamp":"%s","x":%s}' % (
                ts,
                deep(levels).decode(),
            )
            raw, signature = signed_raw(text, ts)
            with self.subTest(levels=levels):
                self.assertRefused(
                    lambda raw=raw, signature=signature: self._post(raw, signature),
                    (400,),
                    reason="nested",
                )

    def test_brackets_inside_strings_are_not_nesting(self):
        payload = wh.user_text('[[[{{{"' * 20 + "\\" * 7)
        raw, signature = self._signed(payload)
        status, _type, body = self._post(raw, signature)
        self.assertEqual(status, 200, body)
        self.Event._cron_process_pending()
        event = self.Event.search([("channel_id", "=", self.channel.id)])
        self.assertEqual(event.text, payload["message"]["text"])

    def test_other_encodings_and_byte_order_marks(self):
        payload = wh.follow()
        text = json.dumps(payload)
        ts = payload["timestamp"]
        bodies = {
            "utf-16": text.encode("utf-16"),  # with a BOM
            "utf-16-le": text.encode("utf-16-le"),
            "utf-16-be": text.encode("utf-16-be"),
            "utf-32": text.encode("utf-32"),
            "utf-32-le": text.encode("utf-32-le"),
            "utf-32-be": text.encode("utf-32-be"),
            "utf-8-sig": text.encode("utf-8-sig"),
            "latin-1": json.dumps(
                dict(payload, name="Nguyễn"[:4] + "é"), ensure_ascii=False
            ).encode("latin-1"),
        }
        for encoding, raw in bodies.items():
            with self.subTest(encoding=encoding):
                signature = wh.sign(raw, ts)
                self.assertRefused(
                    lambda raw=raw, signature=signature: self._post(raw, signature),
                    (400,),
                )

    def test_nul_and_lone_surrogates_refused(self):
        ts = wh.now_ms()
        texts = [
            # a raw NUL byte inside a string
            '{"event_name":"user_send_text","timestamp":"%s",'
            '"sender":{"id":"1"},"message":{"text":"a\x00b","msg_id":"m1"}}',
            # the \u0000 escape, in a value and in a key
            '{"event_name":"user_send_text","timestamp":"%s",'
            '"sender":{"id":"1"},"message":{"text":"a\\u0000b","msg_id":"m2"}}',
            '{"event_name":"follow","timestamp":"%s","a\\u0000":1}',
            # a lone surrogate, escaped (PostgreSQL refuses it too)
            '{"event_name":"user_send_text","timestamp":"%s",'
            '"sender":{"id":"1"},"message":{"text":"\\ud800x","msg_id":"m3"}}',
        ]
        for text in texts:
            raw, signature = signed_raw(text % ts, ts)
            with self.subTest(raw=raw):
                self.assertRefused(
                    lambda raw=raw, signature=signature: self._post(raw, signature),
                    (400,),
                )

    def test_escaped_backslash_before_u0000_is_text(self):
        """``\\\\u0000`` is a backslash then 'u0000': plain text, stored."""
        ts = wh.now_ms()
        text = (
            '{"event_name":"user_send_text","timestamp":"%s","sender":{"id":"%s"},'
            '"message":{"text":"C:\\\\u0000 \\ud83d\\ude00","msg_id":"%s"}}'
        ) % (ts, wh.USER_ID, wh.next_msg_id())
        raw, signature = signed_raw(text, ts)
        status, _type, body = self._post(raw, signature)
        self.assertEqual(status, 200, body)
        self.Event._cron_process_pending()
        event = self.Event.search([("channel_id", "=", self.channel.id)])
        self.assertEqual(event.state, "done")
        self.assertEqual(event.text, "C:\\u0000 \U0001f600")

    def test_invalid_utf8_refused(self):
        ts = wh.now_ms()
        for raw in (
            b'{"event_name":"follow","timestamp":"%s","x":"\xff\xfe"}' % ts.encode(),
            b'{"event_name":"follow","timestamp":"%s","x":"\xed\xa0\x80"}'
            % ts.encode(),  # an UTF-8 encoded surrogate
            b'{"event_name":"follow","timestamp":"%s","x":"\xc3"}' % ts.encode(),
        ):
            with self.subTest(raw=raw):
                signature = wh.sign(raw, ts)
                self.assertRefused(
                    lambda raw=raw, signature=signature: self._post(raw, signature),
                    (400,),
                    reason="UTF-8",
                )

    def test_huge_bodies_refused(self):
        payload = wh.user_text("x" * (2 * 1024 * 1024))
        raw, signature = self._signed(payload)
        # a Content-Length above the limit: the fast path leaves it to the
        # route, which refuses it without reading it
        self.assertRefused(
            lambda: self._post(raw, signature, headers={"Connection": "close"}),
            (413,),
            served_by_fast_path=False,
        )
        # a Content-Length that lies (shorter than the body): read as sent
        short = wh.encode(wh.follow())
        self.assertRefused(
            lambda: self._post(
                short,
                wh.sign(short, "1"),
                headers={
                    "Content-Length": str(len(short) // 2),
                    "Connection": "close",
                },
            ),
            (400,),
        )

    def test_odd_content_lengths(self):
        raw, signature = self._signed(wh.follow())
        for length in ("abc", "-1", "1e3", " 12"):
            with self.subTest(length=length):
                status, _body = self.assertRefused(
                    lambda length=length: self._post(
                        raw,
                        signature,
                        headers={"Content-Length": length, "Connection": "close"},
                    ),
                    (200, 400, 411, 413),
                    served_by_fast_path=False,
                )

    def _post_chunked(self, chunks, path=None, content_type="application/json"):
        """A chunked body written as given (``chunks``: the raw bytes after
        the headers, chunk sizes and all), no Content-Length."""
        url = urlsplit(self.base_url())
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
        try:
            connection.putrequest("POST", path or self._path())
            connection.putheader("Content-Type", content_type)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.putheader("Connection", "close")
            connection.endheaders()
            connection.send(chunks)
            response = connection.getresponse()
            return (
                response.status,
                response.getheader("Content-Type") or "",
                response.read(),
            )
        finally:
            connection.close()

    def test_malformed_chunked_body_refused(self):
        """werkzeug raises OSError on a bad chunk header: a 400, not a 500,
        in the route and in Odoo's form parsing before it (found from
        outside by bench/webhook_hostile_check.py)."""
        raw, _signature = self._signed(wh.follow())
        for path in (self._path(), self._path(self.speedsms)):
            for chunks in (
                b"zz\r\n" + raw + b"\r\n0\r\n\r\n",  # not a hex size
                b"-5\r\n" + raw + b"\r\n0\r\n\r\n",
                b"\r\n\r\n",  # no size at all
            ):
                with self.subTest(path=path[:30], chunks=chunks[:6]):
                    _status, body = self.assertRefused(
                        lambda path=path, chunks=chunks: self._post_chunked(
                            chunks, path
                        ),
                        (400,),
                        served_by_fast_path=False,
                    )
                    self.assertIn(b"chunked", body)
        # a form body: Odoo's stack parses it before any route
        form = "application/x-www-form-urlencoded"
        for path in (self._path(), self._path(self.esms)):
            with self.subTest(path=path[:30], content_type=form):
                self.assertRefused(
                    lambda path=path: self._post_chunked(
                        b"zz\r\na=1\r\n0\r\n\r\n", path, form
                    ),
                    (400,),
                    served_by_fast_path=False,
                )
        # a well-formed chunked body still goes through the route
        status, _type, body = self._post_chunked(b"2\r\n{}\r\n0\r\n\r\n")
        self.assertEqual(status, 200, body)

    def test_not_an_object_refused(self):
        for raw in (
            b"[]",
            b'[{"timestamp":"1"}]',
            b'"follow"',
            b"1",
            b"null",
            b"true",
            b'{"timestamp": NaN}',
            b'{"timestamp": Infinity}',
            b"{",
            b'{"a":}',
            b"{}{}",
            b"\xef\xbb\xbf{}",
            b"1" * 5000,
        ):
            with self.subTest(raw=raw[:30]):
                self.assertRefused(lambda raw=raw: self._post(raw), (400,))

    def test_odd_timestamps_refused(self):
        for timestamp in (
            ["1700000000000"],
            {"ms": 1},
            True,
            "abc",
            "-1700000000000",
            "1" * 40,
            10**400,
            1.5e12,
            "１７００００００００００００",  # full-width digits
        ):
            payload = dict(wh.follow(), timestamp=timestamp)
            raw = wh.encode(payload)
            signature = wh.sign(raw, json.dumps(timestamp).strip('"'))
            with self.subTest(timestamp=str(timestamp)[:20]):
                self.assertRefused(
                    lambda raw=raw, signature=signature: self._post(raw, signature),
                    (400, 401),
                )

    # -- Zalo's URL check: 200, nothing stored -------------------------------
    def test_url_check_answered_200_nothing_stored(self):
        for raw, headers in (
            (b"{}", {}),
            (b" { }\n", {}),
            (b"", {}),
            (b"{}", {"X-ZEvent-Signature": "mac=garbage"}),
        ):
            with self.subTest(raw=raw, headers=headers):
                status, body = self.assertRefused(
                    lambda raw=raw, headers=headers: self._post(raw, headers=headers),
                    (200,),
                )
                self.assertEqual(json.loads(body)["error"], 0)

    # -- odd HTTP ----------------------------------------------------------
    def test_wrong_content_types_refused(self):
        raw, signature = self._signed(wh.follow())
        for content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "multipart/form-data",
            "application/x-www-form-urlencoded; charset=utf-8",
            "text/html",
            "application/json; charset=utf-16",
            "image/png",
        ):
            with self.subTest(content_type=content_type):
                self.assertRefused(
                    lambda content_type=content_type: self._post(
                        raw, signature, headers={"Content-Type": content_type}
                    ),
                    (415,),
                )

    def test_accepted_content_types(self):
        for content_type in (
            "application/json; charset=UTF-8",
            "text/plain",
            "application/vnd.zalo+json",
        ):
            raw, signature = self._signed(wh.follow())
            status, _type, body = self._post(
                raw, signature, headers={"Content-Type": content_type}
            )
            self.assertEqual(status, 200, body)
        raw, signature = self._signed(wh.follow())
        status, _type, body = self._request(
            "POST", self._path(), raw, {"X-ZEvent-Signature": signature}
        )
        self.assertEqual(status, 200, "no Content-Type: taken as JSON")

    def test_odd_signature_headers_refused(self):
        raw, _signature = self._signed(wh.follow())
        for header in (
            None,
            "",
            "mac=",
            "mac=zz",
            "mac=" + "0" * 64,
            "MAC=" + "f" * 5000,
            "mac=đúng".encode(),
            b"\xff\xfe\xfd",
            "sha256=" + "a" * 64,
        ):
            headers = {} if header is None else {"X-ZEvent-Signature": header}
            with self.subTest(header=str(header)[:20]):
                self.assertRefused(
                    lambda headers=headers: self._post(raw, headers=headers), (401,)
                )

    def test_non_ascii_and_odd_headers(self):
        raw, signature = self._signed(wh.follow())
        self.assertRefused(
            lambda: self._post(
                raw,
                "mac=" + "0" * 64,
                headers={
                    "User-Agent": "Zalo/ứng dụng".encode(),
                    "X-ZEvent-Server": b"\xff\x00",
                    "num_retry": "một".encode(),
                    "Cookie": "session_id=\xff; x",
                },
            ),
            (401,),
        )
        # a good call with odd extra headers is stored; the headers are kept
        before = self._counts()["messaging_event"]
        status, _type, body = self._post(
            raw,
            signature,
            headers={"User-Agent": "Zalo/ứng dụng".encode(), "num_retry": "\xe9"},
        )
        self.assertEqual(status, 200, body)
        self.assertEqual(self._counts()["messaging_event"], before + 1)

    def test_odd_token_paths_refused(self):
        raw, signature = self._signed(wh.follow())
        prefix = "/messaging/webhook/zalo/"
        for token in (
            "%00" * 20,
            "%ff%fe" * 10,
            self.channel.webhook_token + "%00",
            self.channel.webhook_token + "%20",
            "t%C3%B4ken-t%C3%B4ken-t%C3%B4ken",
            "..%2F..%2Fetc%2Fpasswd-padding",
            "x" * 300,
            "a'%3B%20DROP%20TABLE%20messaging_event%3B--",
            "",
        ):
            with self.subTest(token=token[:30]):
                self.assertRefused(
                    lambda token=token: self._post(raw, signature, path=prefix + token),
                    (404, 405),
                    served_by_fast_path=False,
                )

    def test_other_methods_refused(self):
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            with self.subTest(method=method):
                self.assertRefused(
                    lambda method=method: self._request(method, self._path(), b"{}"),
                    (404, 405),
                    served_by_fast_path=False,
                )

    # -- SMS delivery receipts -----------------------------------------------
    def test_esms_odd_callbacks(self):
        path = self._path(self.esms)
        for query in (
            "",
            "?SendStatus=5",
            "?SMSID=%00",
            "?SMSID=1&SendStatus=%00",
            "?%00=1&SMSID=2",
        ):
            with self.subTest(query=query[:30]):
                self.assertRefused(
                    lambda query=query: self._request("GET", path + query),
                    (400, 413, 414),
                    served_by_fast_path=False,
                )

    def test_esms_odd_but_readable_callbacks_end_somewhere(self):
        path = self._path(self.esms)
        queries = (
            "?SMSID=%ff%fe&SendStatus=5&SendSuccess=abc",
            "?SMSID=1&SMSID=2&SendStatus=99999999999999999999",
            "?RequestId=" + "r" * 500 + "&SendFailed=-1",
            "?SMSID=%E1%BB%87&SendSuccess=1e9&SendStatus=5",
            "?SMSID=" + "9" * 60000,
        )
        for query in queries:
            with self.subTest(query=query[:30]):
                status, _type, body = self._request("GET", path + query)
                self.assertEqual(status, 200, body)
        self.Event._cron_process_pending()
        events = self.Event.search([("channel_id", "=", self.esms.id)])
        self.assertEqual(len(events), len(queries))
        for event in events:
            # no matching message: tried again every 30 s for an hour
            self.assertEqual(event.state, "received")
            self.assertFalse(event.attempt_count, event.error_message)

    def test_speedsms_hostile_bodies(self):
        path = self._path(self.speedsms)
        for raw in (
            deep(5000),
            json.dumps({"type": "report"}).encode("utf-16"),
            b'{"type":"report","tranId":"\\u0000"}',
            b"[1]",
            b'{"type": "report", "status": NaN}',
        ):
            with self.subTest(raw=raw[:30]):
                self.assertRefused(
                    lambda raw=raw: self._post(raw, path=path),
                    (400,),
                    served_by_fast_path=False,
                )

    def test_speedsms_odd_fields_end_somewhere(self):
        path = self._path(self.speedsms)
        for payload in (
            {"type": ["report"], "tranId": {"a": 1}, "phone": [1], "status": "x"},
            {"type": "report", "tranId": None, "phone": None, "status": None},
            {"type": "report", "tranId": 10**30, "phone": "9" * 500, "status": 1e300},
        ):
            status, _type, body = self._post(json.dumps(payload).encode(), path=path)
            self.assertEqual(status, 200, body)
        self.Event._cron_process_pending()
        events = self.Event.search([("channel_id", "=", self.speedsms.id)])
        self.assertEqual(len(events), 3)
        for event in events:
            self.assertIn(event.state, ("ignored", "received", "done"))
            self.assertFalse(event.attempt_count, event.error_message)

    # -- signed events with odd fields: stored, processed leniently ----------
    def test_duplicate_keys_are_fine(self):
        payload = wh.follow(user_id="7770001")
        text = json.dumps(payload)[:-1] + ', "follower": {"id": "7770002"}}'
        raw, signature = signed_raw(text, payload["timestamp"])
        status, _type, body = self._post(raw, signature)
        self.assertEqual(status, 200, body)
        self.Event._cron_process_pending()
        event = self.Event.search([("channel_id", "=", self.channel.id)])
        self.assertEqual(event.state, "done")
        self.assertEqual(event.sender_ref, "7770002", "the last key wins")

    def test_null_everywhere(self):
        for payload in (
            wh.follow(),
            wh.user_text("x"),
            wh.submit_info("0912345678"),
            wh.zns_received(msg_id="x"),
        ):
            nulls = {
                key: (value if key in ("timestamp", "event_name") else None)
                for key, value in payload.items()
            }
            raw, signature = self._signed(nulls)
            status, _type, body = self._post(raw, signature)
            self.assertEqual(status, 200, body)
        self.Event._cron_process_pending()
        events = self.Event.search([("channel_id", "=", self.channel.id)])
        self.assertEqual(len(events), 4)
        self.assertEqual(
            sorted(events.mapped("state")), ["error", "error", "error", "ignored"]
        )
        for event in events.filtered(lambda e: e.state == "error"):
            self.assertIn("Zalo user id", event.error_message)
            self.assertEqual(event.attempt_count, 1, "failed at once, not retried")

    def test_fuzzed_signed_events(self):
        """Odd values (types, sizes, characters) in the fields of every event
        kind we handle, signed: always answered 200, each stored event ends
        processed, ignored (receipts: waiting for their message) or failed
        with its error, never in the retry path of an unexpected exception."""
        rng = random.Random(FUZZ_SEED)
        stored = 0
        for kind, template in sorted(fuzz_templates().items()):
            for case in range(FUZZ_CASES_PER_KIND):
                payload = fuzz_payload(rng, template)
                raw, signature = self._signed(payload)
                with self.subTest(kind=kind, case=case):
                    status, _type, body = self._post(raw, signature)
                    self.assertEqual(status, 200, body)
                    answer = json.loads(body)["message"]
                    self.assertIn(answer, ("Success", main.DUPLICATE["message"]))
                    stored += answer == "Success"
        events = self.Event.search([("channel_id", "=", self.channel.id)])
        self.assertEqual(len(events), stored)
        self.assertGreater(stored, len(fuzz_templates()) * 4)
        self.Event._cron_process_pending()
        for event in events:
            with self.subTest(event=event.event_name, payload=event.payload[:200]):
                self.assertIn(event.state, ("done", "ignored", "error", "received"))
                self.assertFalse(
                    event.state == "received" and event.attempt_count,
                    "an unexpected error: %s" % event.error_message,
                )
                if event.state == "error":
                    self.assertTrue(event.error_message)
                    self.assertFalse(event.next_try_at)
                if event.state == "received":
                    self.assertIn(
                        event.event_name,
                        ("user_received_message", "user_seen_message"),
                    )


@tagged("post_install", "-at_install")
class TestWebhookHostileRoute(TestWebhookHostile):
    """The same calls through Odoo's stack and the controller route."""

    # Odoo's runner runs only the test methods a class defines itself
    # (pytest-odoo runs the inherited ones too): run them under both
    allow_inherited_tests_method = True
    fast_path_enabled = False


# ----------------------------------------------------------------------
# The fuzz generator
# ----------------------------------------------------------------------

ODD_SCALARS = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    10**30,
    1.5,
    -0.0,
    1e300,
    "",
    " ",
    "abc",
    "١٢٣٤٥",  # Arabic-Indic digits: isdigit() but not an id
    "x" * 3000,
    "😀 Xin chào",
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "84912345678",
    "0912345678",
    "2468458835296117922",
    "\\u0000 as text",
    "Hủy",
    "gặp nhân viên",
]


def odd_value(rng, depth=0):
    """A JSON value of any type, deterministic for the generator's state."""
    roll = rng.random()
    if depth > 2 or roll < 0.55:
        return rng.choice(ODD_SCALARS)
    if roll < 0.8:
        return [odd_value(rng, depth + 1) for _i in range(rng.randint(0, 3))]
    keys = ["id", "url", "text", "msg_id", "payload", "type", "x"]
    return {
        rng.choice(keys): odd_value(rng, depth + 1) for _i in range(rng.randint(0, 3))
    }


def _paths(value, prefix=()):
    """Every path of a JSON value (dict keys and list indexes)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield prefix + (key,)
        yield from _paths(item, prefix + (key,))


def fuzz_payload(rng, template):
    """The template (timestamp and event name kept) with 1 to 3 fields given
    odd values, removed, or an extra field added."""
    payload = copy.deepcopy(template)
    payload["timestamp"] = wh.now_ms()
    message = payload.get("message")
    if isinstance(message, dict) and "msg_id" in message:
        message["msg_id"] = wh.next_msg_id()  # else replays of one another
    paths = [
        path
        for path in _paths(payload)
        if path[0] not in ("timestamp", "event_name", "app_id")
    ]
    for _i in range(rng.randint(1, 3)):
        if not paths:
            break
        path = rng.choice(paths)
        parent = payload
        for key in path[:-1]:
            parent = parent[key] if isinstance(parent, (dict, list)) else None
            if parent is None:
                break
        if not isinstance(parent, (dict, list)):
            continue
        action = rng.random()
        try:
            if action < 0.75:
                parent[path[-1]] = odd_value(rng)
            elif action < 0.9 and isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent["extra_%d" % rng.randint(0, 99)] = odd_value(rng)
        except (KeyError, IndexError, TypeError):
            continue
    return payload


def fuzz_templates():
    sender = {"id": wh.USER_ID}
    recipient = {"id": wh.OA_ID}

    def user_event(name, message):
        return {
            "app_id": wh.APP_ID,
            "sender": dict(sender),
            "recipient": dict(recipient),
            "user_id_by_app": "552177279717587730",
            "event_name": name,
            "message": message,
            "timestamp": "0",
        }

    def attachment(kind, **payload):
        return {"type": kind, "payload": payload}

    return {
        "follow": wh.follow(),
        "unfollow": wh.follow(event="unfollow"),
        "user_send_text": user_event(
            "user_send_text", {"text": "Xin chào", "msg_id": "fz-1"}
        ),
        "user_send_image": user_event(
            "user_send_image",
            {
                "text": "ảnh",
                "msg_id": "fz-2",
                "attachments": [
                    attachment(
                        "image",
                        url="https://example.com/a.jpg",
                        thumbnail="https://example.com/t.jpg",
                    )
                ],
            },
        ),
        "user_send_location": user_event(
            "user_send_location",
            {
                "msg_id": "fz-3",
                "attachments": [
                    attachment(
                        "location",
                        coordinates={"latitude": "10.76", "longitude": "106.66"},
                    )
                ],
            },
        ),
        "user_send_file": user_event(
            "user_send_file",
            {
                "msg_id": "fz-4",
                "attachments": [
                    attachment("file", url="https://example.com/f.pdf", name="f.pdf")
                ],
            },
        ),
        "user_seen_message": user_event(
            "user_seen_message", {"msg_ids": ["oa-1", "oa-2"]}
        ),
        "user_received_message": {
            "sender": dict(recipient),
            "recipient": {"id": "84912345678"},
            "event_name": "user_received_message",
            "message": {
                "msg_id": "zns-1",
                "tracking_id": "tr-1",
                "delivery_time": "1700000000000",
            },
            "app_id": wh.APP_ID,
            "timestamp": "0",
        },
        "user_submit_info": dict(
            wh.submit_info("0912345678"),
            info={"name": "Khách", "phone": "0912345678", "address": "HN"},
        ),
        "oa_send_text": {
            "app_id": wh.APP_ID,
            "sender": dict(recipient),
            "recipient": dict(sender),
            "event_name": "oa_send_text",
            "message": {"text": "Chào bạn", "msg_id": "fz-5"},
            "timestamp": "0",
        },
        "change_template_status": {
            "app_id": wh.APP_ID,
            "oa_id": wh.OA_ID,
            "event_name": "change_template_status",
            "template_id": "31239",
            "status": {"prev_status": "PENDING_REVIEW", "new_status": "REJECT"},
            "reason": "spam",
            "timestamp": "0",
        },
        "change_oa_daily_quota": {
            "event_name": "change_oa_daily_quota",
            "oaId": wh.OA_ID,
            "quota": {"prev_value": 1000, "new_value": 2000},
            "timestamp": "0",
        },
    }
