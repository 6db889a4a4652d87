"""The production path of a Zalo webhook call: the fast path on an
autocommit connection of ``sql_pool`` (not Odoo's test cursor), so what it
stores is committed and seen by any other connection. The channel is
committed by a cursor of its own and everything is deleted afterwards.

Also: the pool itself (lending, limits, broken connections, forks) and the
access log of webhook calls (no token in it, 2xx answers summed up)."""

import io
import json
import logging
from unittest.mock import patch

import psycopg2
import werkzeug.serving

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import BaseCase, HttpCase, get_db_name, tagged

from .. import sql_pool
from ..controllers import fast_path
from ..engine.inbound import CRON_XMLID
from . import test_webhook_common as wh


@tagged("post_install", "-at_install")
class TestWebhookCommittedPath(HttpCase):
    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        with sql_db.db_connect(self.dbname).cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            channel = env["messaging.channel"].create(
                wh.zalo_channel_values(name="Zalo OA (committed path)")
            )
            self.channel_id, self.token = channel.id, channel.webhook_token
            cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger")
            self.last_trigger = cr.fetchone()[0]
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._delete_committed)
        patcher = patch.object(fast_path, "odoo_cursor_needed", lambda registry: False)
        patcher.start()
        self.addCleanup(patcher.stop)

    def _delete_committed(self):
        with sql_db.db_connect(self.dbname).cursor() as cr:
            cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s", [self.last_trigger])
            cr.execute(
                "DELETE FROM messaging_event WHERE channel_id = %s", [self.channel_id]
            )
            cr.execute("DELETE FROM messaging_channel WHERE id = %s", [self.channel_id])
            cr.commit()  # pylint: disable=invalid-commit

    def _committed(self, query, params):
        """Rows as another connection sees them (the test cursor's snapshot
        is older than what the fast path committed)."""
        with sql_db.db_connect(self.dbname).cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall()

    def _committed_events(self):
        return self._committed(
            "SELECT COUNT(*) FROM messaging_event WHERE channel_id = %s",
            [self.channel_id],
        )

    def _post(self, payload, signature=None):
        raw = wh.encode(payload)
        return self.opener.post(
            "%s/messaging/webhook/zalo/%s" % (self.base_url(), self.token),
            data=raw,
            headers={
                "Content-Type": "application/json",
                "X-ZEvent-Signature": signature or wh.sign(raw, payload["timestamp"]),
            },
            timeout=10,
        )

    def test_call_is_committed_with_its_cron_trigger(self):
        with wh.fast_path_answers() as answers:
            response = self._post(wh.follow(user_id="90001"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["message"], "Success")
        self.assertEqual(answers[0][0], 200, "served by the fast path")
        events = self._committed(
            "SELECT id, event_name, state, sender_ref FROM messaging_event"
            " WHERE channel_id = %s",
            [self.channel_id],
        )
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0][1:], ("follow", "received", "90001"))
        cron = self.env.ref(CRON_XMLID)
        triggers = self._committed(
            "SELECT cron_id FROM ir_cron_trigger WHERE id > %s", [self.last_trigger]
        )
        self.assertEqual(triggers, [(cron.id,)])
        self.assertGreaterEqual(sql_pool.pool.idle_count(self.dbname), 1)
        # the test transaction did not take part: it sees nothing
        self.assertFalse(
            self.env["messaging.event"].search([("channel_id", "=", self.channel_id)])
        )

    def test_replay_answered_duplicate_and_stored_once(self):
        payload = wh.user_text("Xin chào", user_id="90002")
        self.assertEqual(self._post(payload).json()["message"], "Success")
        again = self._post(payload)
        self.assertEqual(again.status_code, 200)
        self.assertIn("Duplicate", again.json()["message"])
        count = self._committed_events()
        self.assertEqual(count, [(1,)])
        triggers = self._committed(
            "SELECT COUNT(*) FROM ir_cron_trigger WHERE id > %s", [self.last_trigger]
        )
        self.assertEqual(triggers, [(1,)], "a replay adds no cron trigger")

    def test_forged_call_refused_nothing_committed(self):
        payload = wh.follow(user_id="90003")
        response = self._post(payload, signature="mac=" + "0" * 64)
        self.assertEqual(response.status_code, 401)
        count = self._committed_events()
        self.assertEqual(count, [(0,)])

    def test_hostile_bodies_on_the_pool_commit_nothing(self):
        """Refused bodies and Zalo's URL check, answered by the fast path on
        a pooled connection: a 4xx or 200, nothing committed, and the
        connection goes back to the pool."""
        ts = wh.now_ms()
        for raw, status in (
            (b'{"a":' * 5000 + b"1" + b"}" * 5000, 400),
            (json.dumps(wh.follow(user_id="90007")).encode("utf-16"), 400),
            (b'{"timestamp":"%s","x":"\\u0000"}' % ts.encode(), 400),
            (b"[1]", 400),
            (b"{}", 200),
            (b"", 200),
        ):
            with self.subTest(raw=raw[:20]), wh.fast_path_answers() as answers:
                response = self.opener.post(
                    "%s/messaging/webhook/zalo/%s" % (self.base_url(), self.token),
                    data=raw,
                    headers={
                        "Content-Type": "application/json",
                        "X-ZEvent-Signature": wh.sign(raw, ts),
                    },
                    timeout=10,
                )
                self.assertEqual(response.status_code, status)
                self.assertEqual(answers[0][0], status, "served by the fast path")
        self.assertEqual(self._committed_events(), [(0,)])
        self.assertGreaterEqual(sql_pool.pool.idle_count(self.dbname), 1)

    def test_signed_event_with_odd_fields_is_committed(self):
        payload = dict(
            wh.follow(),
            follower={"id": [1, {"x": None}]},
            message={"msg_ids": 5, "msg_id": {"a": 1}},
            event_name=["follow"],
        )
        with wh.fast_path_answers() as answers:
            response = self._post(payload)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(answers[0][0], 200, "served by the fast path")
        events = self._committed(
            "SELECT event_name, state, sender_ref FROM messaging_event"
            " WHERE channel_id = %s",
            [self.channel_id],
        )
        self.assertEqual(events, [("unknown", "received", None)])

    def test_dead_connection_is_dropped_and_the_call_passed_on(self):
        """A pooled connection whose server process died: the fast path gives
        the call (body intact) to Odoo's stack and drops the connection; the
        next call gets a new connection and is stored."""
        self.assertEqual(self._post(wh.follow(user_id="90004")).status_code, 200)
        connection = sql_pool.pool.borrow(self.dbname)
        pid = connection.get_backend_pid()
        sql_pool.pool.give_back(self.dbname, connection)
        with sql_db.db_connect(self.dbname).cursor() as cr:
            cr.execute("SELECT pg_terminate_backend(%s)", [pid])
        payload = wh.follow(user_id="90005")
        raw = wh.encode(payload)
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/messaging/webhook/zalo/%s" % self.token,
            "CONTENT_LENGTH": str(len(raw)),
            "HTTP_HOST": "127.0.0.1",
            "HTTP_X_ZEVENT_SIGNATURE": wh.sign(raw, payload["timestamp"]),
            "wsgi.input": io.BytesIO(raw),
        }
        with self.assertLogs(fast_path.__name__, "WARNING"):
            self.assertIsNone(fast_path.serve(environ))
        self.assertEqual(environ["wsgi.input"].read(), raw, "body kept for Odoo")
        self.assertTrue(connection.closed)
        self.assertEqual(self._post(wh.follow(user_id="90006")).status_code, 200)
        senders = self._committed(
            "SELECT sender_ref FROM messaging_event WHERE channel_id = %s ORDER BY id",
            [self.channel_id],
        )
        self.assertEqual(senders, [("90004",), ("90006",)])


@tagged("post_install", "-at_install")
class TestSqlPool(BaseCase):
    def setUp(self):
        super().setUp()
        self.dbname = get_db_name()
        self.pool = sql_pool.RawPool()

    def test_autocommit_and_reuse(self):
        connection = self.pool.borrow(self.dbname)
        self.assertTrue(connection.autocommit)
        self.assertEqual(connection.encoding, "UTF8")
        self.pool.give_back(self.dbname, connection)
        self.assertEqual(self.pool.idle_count(self.dbname), 1)
        self.assertIs(self.pool.borrow(self.dbname), connection, "reused")
        self.pool.give_back(self.dbname, connection, broken=True)
        self.assertTrue(connection.closed)
        self.assertEqual(self.pool.idle_count(self.dbname), 0)

    def test_idle_connections_are_bounded(self):
        connections = [
            self.pool.borrow(self.dbname)
            for _i in range(sql_pool.IDLE_PER_DATABASE + 2)
        ]
        for connection in connections:
            self.pool.give_back(self.dbname, connection)
        self.assertEqual(self.pool.idle_count(self.dbname), sql_pool.IDLE_PER_DATABASE)
        self.assertEqual(sum(c.closed for c in connections), 2)
        for connection in connections:
            connection.close()

    def test_block_that_raises_closes_its_connection(self):
        with self.assertRaises(psycopg2.errors.DivisionByZero):
            with self.pool.cursor(self.dbname) as cr:
                cr.execute("SELECT 1 / 0")
        self.assertEqual(self.pool.idle_count(self.dbname), 0)
        with self.pool.cursor(self.dbname) as cr:
            cr.execute("SELECT 41 + 1")
            self.assertEqual(cr.fetchone(), (42,))
        self.assertEqual(self.pool.idle_count(self.dbname), 1)

    def test_forked_process_does_not_reuse_parent_connections(self):
        connection = self.pool.borrow(self.dbname)
        self.pool.give_back(self.dbname, connection)
        with patch.object(sql_pool.os, "getpid", return_value=-1):
            other = self.pool.borrow(self.dbname)
        self.assertIsNot(other, connection)
        self.assertFalse(connection.closed, "the parent's socket is left alone")
        connection.close()
        other.close()


class _FakeHandler:
    """What WSGIRequestHandler.log_request reads of a handler."""

    command = "POST"
    request_version = "HTTP/1.1"

    def __init__(self, path):
        self.path = path
        self.requestline = "POST %s HTTP/1.1" % path
        self.lines = []

    def log(self, level, message, *args):
        self.lines.append((level, message % args))


@tagged("post_install", "-at_install")
class TestWebhookAccessLog(BaseCase):
    def setUp(self):
        super().setUp()
        patcher = patch.dict(
            fast_path._summary, {"since": 1000.0, "counts": {}}, clear=True
        )
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_refused_call_logged_without_token(self):
        handler = _FakeHandler("/messaging/webhook/zalo/Secret-Token-123456789")
        werkzeug.serving.WSGIRequestHandler.log_request(handler, 401, "-")
        self.assertEqual(len(handler.lines), 1)
        line = handler.lines[0][1]
        self.assertIn("/messaging/webhook/zalo/***", line)
        self.assertIn("401", line)
        self.assertNotIn("Secret-Token", line)

    def test_esms_query_string_not_logged(self):
        self.assertEqual(
            fast_path.redacted_path("/messaging/webhook/esms/tok?SMSID=1&SendStatus=5"),
            "/messaging/webhook/esms/***",
        )

    def test_answered_calls_summed_up_once_a_minute(self):
        handler = _FakeHandler("/messaging/webhook/zalo/Secret-Token-123456789")
        with patch.object(fast_path.time, "monotonic", return_value=1010.0):
            for _i in range(3):
                werkzeug.serving.WSGIRequestHandler.log_request(handler, 200, "-")
        self.assertEqual(handler.lines, [], "no line per answered call")
        logger = logging.getLogger(fast_path.__name__)
        with self.assertLogs(logger, logging.INFO) as logs:  # "INFO" is 25 in Odoo
            fast_path.count_answered_call("/messaging/webhook/esms/tok?SMSID=1", 1061.0)
        self.assertEqual(len(logs.output), 1)
        self.assertIn("in the last 61 s: esms 1, zalo 3", logs.output[0])
        self.assertEqual(fast_path._summary["counts"], {})

    def test_other_paths_keep_odoo_line(self):
        handler = _FakeHandler("/web/login")
        werkzeug.serving.WSGIRequestHandler.log_request(handler, 200, "-")
        self.assertEqual(len(handler.lines), 1)
        self.assertIn("/web/login", handler.lines[0][1])
