"""The production path of a Zalo webhook call: the fast path on an
autocommit connection of ``sql_pool`` (not Odoo's test cursor), so what it
stores is committed and seen by any other connection. The channel is
committed by a cursor of its own and everything is deleted afterwards.

Also: the pool itself (lending, limits, broken connections, forks) and the
access log of webhook calls (no token in it, 2xx answers summed up)."""

import io
import json
import logging
import threading
from unittest.mock import patch

import psycopg2
import werkzeug.serving

from odoo import SUPERUSER_ID, api, http, sql_db
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, HttpCase, get_db_name, tagged
from odoo.tools import config

from odoo.addons import multichannel_messaging as addon

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

    def test_database_without_the_addon_is_plain_odoo(self):
        """The machinery on, a Zalo webhook call to a database whose registry
        has not this addon: handed straight to Odoo's own stack (which, with
        no such route there, answers 404), the fast path not even asked,
        nothing stored, no connection taken from our pool."""
        registry = self.env.registry
        without = set(registry._init_modules) - {fast_path.MODULE}
        self.assertTrue(fast_path.ENABLED and sql_pool.pool.installed)
        with (
            patch.object(registry, "_init_modules", without),
            patch.dict(fast_path._addon, clear=True),
            patch.object(sql_pool.pool, "borrow", wraps=sql_pool.pool.borrow) as borrow,
            wh.fast_path_answers() as answers,
        ):
            registry.clear_cache("routing")  # Odoo's routes of these modules
            self.addCleanup(registry.clear_cache, "routing")
            self.assertIsNone(fast_path.addon_registry(self.dbname))
            response = self._post(wh.follow(user_id="90008"))
        self.assertEqual(response.status_code, 404)
        self.assertEqual(answers, [], "the fast path was not asked")
        borrow.assert_not_called()
        self.assertEqual(self._committed_events(), [(0,)])
        self.assertIs(fast_path.addon_registry(self.dbname), registry)


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
        self.pool = sql_pool.RawPool(maximum=sql_pool.IDLE_PER_DATABASE + 2)
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

    def __init__(self, path, ours=True):
        self.path = path
        # marked by the fast path's application_call for a database with the addon
        self.environ = {fast_path.ADDON_CALL: True} if ours else {}
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


class _OdooCall:
    """Stands for Odoo's own ``Application.__call__``: records its calls."""

    def __init__(self):
        self.environs = []

    def __call__(self, app, environ, start_response):
        self.environs.append(environ)
        start_response("404 Not Found", [])
        return [b""]


@tagged("post_install", "-at_install")
class TestSpeedMachineryScope(BaseCase):
    """What the fast path leaves to Odoo: every call but the webhook calls
    to a database with this addon, untouched (body unread, no mark)."""

    def setUp(self):
        super().setUp()
        self.odoo_call = _OdooCall()
        for patcher in (
            patch.object(fast_path, "_odoo_call", self.odoo_call),
            patch.dict(fast_path._addon, clear=True),
        ):
            patcher.start()
            self.addCleanup(patcher.stop)

    def _call(self, path, database, chunked=False):
        body = io.BytesIO(b"hello")  # as werkzeug hands it on (de-chunked)
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "HTTP_HOST": "127.0.0.1",
            "wsgi.input": body,
        }
        if chunked:
            environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        else:
            environ["CONTENT_LENGTH"] = "5"
        with (
            patch.object(fast_path, "pick_database", return_value=database),
            patch.object(sql_pool.pool, "borrow", side_effect=AssertionError),
            wh.fast_path_answers() as answers,
        ):
            fast_path.application_call(object(), environ, lambda *args: None)
        return environ, body, answers

    def assertPlainOdoo(self, environ, body, answers):
        self.assertEqual(self.odoo_call.environs, [environ])
        self.assertIs(environ["wsgi.input"], body)
        self.assertEqual(body.tell(), 0, "body left unread")
        self.assertNotIn(fast_path.ADDON_CALL, environ)
        self.assertEqual(answers, [])

    def test_other_paths_untouched(self):
        self.assertPlainOdoo(*self._call("/web/login", get_db_name()))

    def test_database_without_registry_untouched(self):
        for chunked in (False, True):
            with self.subTest(chunked=chunked):
                self.odoo_call.environs.clear()
                self.assertPlainOdoo(
                    *self._call("/messaging/webhook/zalo/tok", "mm_no_such_db", chunked)
                )

    def test_database_without_addon_untouched(self):
        registry = Registry(get_db_name())
        without = set(registry._init_modules) - {fast_path.MODULE}
        with patch.object(registry, "_init_modules", without):
            for path in ("/messaging/webhook/zalo/tok", "/messaging/webhook/esms/tok"):
                with self.subTest(path=path):
                    self.odoo_call.environs.clear()
                    self.assertPlainOdoo(*self._call(path, get_db_name(), True))

    def test_no_database_untouched(self):
        self.assertPlainOdoo(*self._call("/messaging/webhook/zalo/tok", None))

    def test_database_with_addon_is_ours(self):
        environ, body, _answers = self._call(
            "/messaging/webhook/esms/tok", get_db_name(), chunked=True
        )
        self.assertTrue(environ[fast_path.ADDON_CALL])
        self.assertIsNot(environ["wsgi.input"], body, "chunked body read here")
        self.assertEqual(environ["wsgi.input"].read(), b"hello")

    def test_access_log_of_other_databases_is_odoo_s(self):
        handler = _FakeHandler("/messaging/webhook/zalo/Token-Elsewhere", ours=False)
        werkzeug.serving.WSGIRequestHandler.log_request(handler, 200, "-")
        self.assertEqual(len(handler.lines), 1, "Odoo's line, not summed up")
        self.assertIn("/messaging/webhook/zalo/Token-Elsewhere", handler.lines[0][1])


@tagged("post_install", "-at_install")
class TestSpeedMachinerySwitch(BaseCase):
    """``post_load`` installs the machinery unless the server option
    ``messaging_fast_path`` is off."""

    def _post_load(self, value):
        def plain_call(self, environ, start_response):
            return []

        def plain_log(self, code="-", size="-"):
            return None

        handler = werkzeug.serving.WSGIRequestHandler
        with (
            patch.dict(config.options, {sql_pool.SWITCH_OPTION: value}),
            patch.object(http.Application, "__call__", plain_call),
            patch.object(handler, "log_request", plain_log),
            patch.object(fast_path, "_odoo_call", fast_path._odoo_call),
            patch.object(sql_pool.pool, "installed", False),
        ):
            addon.post_load()
            return (
                http.Application.__call__ is not plain_call,
                handler.log_request is not plain_log,
                sql_pool.pool.installed,
                fast_path._odoo_call is plain_call,
            )

    def test_on_by_default_and_installed_by_post_load(self):
        self.assertEqual(self._post_load(True), (True, True, True, True))
        with patch.dict(config.options):
            config.options.pop(sql_pool.SWITCH_OPTION, None)
            self.assertTrue(sql_pool.option_on(sql_pool.SWITCH_OPTION))

    def test_option_off_installs_nothing(self):
        for value in (False, "False", "0", "off"):
            with (
                self.subTest(value=value),
                self.assertLogs(addon.__name__, logging.INFO),
            ):
                self.assertEqual(self._post_load(value), (False, False, False, False))

    def test_pool_off_gives_odoo_cursors(self):
        with (
            patch.object(sql_pool.pool, "installed", False),
            patch.object(sql_pool.pool, "borrow", side_effect=AssertionError),
        ):
            with sql_pool.pool.cursor(get_db_name()) as cr:
                cr.execute("SELECT 1")
                self.assertEqual(cr.fetchone(), (1,))
                self.assertIsInstance(cr, sql_db.Cursor)


@tagged("post_install", "-at_install")
class TestSqlPoolMaximum(BaseCase):
    def setUp(self):
        super().setUp()
        self.dbname = get_db_name()

    def test_maximum_from_config(self):
        for options, maximum in (
            ({"db_maxconn": 64}, 8),
            ({"db_maxconn": 12}, 3),
            ({"db_maxconn": 2}, 1),
            ({"db_maxconn": 64, sql_pool.MAXCONN_OPTION: "20"}, 20),
        ):
            with self.subTest(options=options), patch.dict(config.options, options):
                if sql_pool.MAXCONN_OPTION not in options:
                    config.options.pop(sql_pool.MAXCONN_OPTION, None)
                self.assertEqual(sql_pool.configured_maximum(), maximum)
                self.assertEqual(sql_pool.RawPool().maximum, maximum)

    def test_threads_never_open_more_than_the_maximum(self):
        """Eight threads asking at once, three connections at most: they
        wait for each other, nobody fails, and PostgreSQL never sees more
        than three of our connections."""
        pool = sql_pool.RawPool(maximum=3)
        seen, pids, errors = [], set(), []
        lock = threading.Lock()
        barrier = threading.Barrier(8)

        def work():
            try:
                barrier.wait(30)
                for _i in range(3):
                    with pool.cursor(self.dbname) as cr:
                        cr.execute("SELECT pg_backend_pid(), pg_sleep(0.02)")
                        with lock:
                            pids.add(cr.fetchone()[0])
                            seen.append(pool.open_count())
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _i in range(8)]
        with patch.object(sql_pool, "WAIT_SECONDS", 60):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(seen), 24)
        self.assertLessEqual(max(seen), 3)
        self.assertLessEqual(len(pids), 3, "connections reused, never more than 3")
        with sql_db.db_connect(self.dbname).cursor() as cr:
            cr.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                [list(pids)],
            )
            self.assertEqual(cr.fetchone()[0], pool.open_count())
        self.assertLessEqual(pool.open_count(), 3)
        for idle in pool._idle.values():
            for connection in idle:
                connection.close()

    def test_full_pool_waits_then_refuses(self):
        pool = sql_pool.RawPool(maximum=1)
        connection = pool.borrow(self.dbname)
        with patch.object(sql_pool, "WAIT_SECONDS", 0.05):
            with self.assertRaises(sql_pool.PoolFull):
                pool.borrow(self.dbname)
        self.assertEqual(pool.open_count(), 1)
        pool.give_back(self.dbname, connection)
        self.assertIs(pool.borrow(self.dbname), connection, "the one given back")
        pool.give_back(self.dbname, connection, broken=True)
        self.assertEqual(pool.open_count(), 0)

    def test_idle_connection_of_another_database_makes_room(self):
        pool = sql_pool.RawPool(maximum=1)
        connection = pool.borrow(self.dbname)
        pool.give_back(self.dbname, connection)
        other = pool.borrow("postgres")
        self.assertTrue(connection.closed, "closed to stay at the maximum")
        self.assertEqual(pool.open_count(), 1)
        self.assertEqual(pool.idle_count(self.dbname), 0)
        pool.give_back("postgres", other, broken=True)
        self.assertEqual(pool.open_count(), 0)

    def test_failed_connect_frees_its_room(self):
        pool = sql_pool.RawPool(maximum=1)
        with patch.object(
            sql_pool.psycopg2, "connect", side_effect=psycopg2.OperationalError
        ):
            with self.assertRaises(psycopg2.OperationalError):
                pool.borrow(self.dbname)
        self.assertEqual(pool.open_count(), 0)
        pool.give_back(self.dbname, pool.borrow(self.dbname), broken=True)
