"""WSGI fast path for Zalo webhook calls, and the access log of webhook calls.

Part of the addon's speed machinery (README, "Speed machinery"). Importing
this module patches nothing: :func:`install`, called from the manifest's
``post_load`` (``__init__.post_load``) unless the server option
``messaging_fast_path`` is off, wraps two things once per process:

- ``odoo.http.Application.__call__``, to answer Zalo webhook calls ahead of
  Odoo's request stack (:func:`serve`) and to read a chunked webhook body
  before Odoo parses it (:func:`buffer_chunked_body`);
- ``werkzeug.serving.WSGIRequestHandler.log_request``, to keep webhook
  tokens out of the access log and sum answered calls up once a minute
  (:func:`install_access_log`).

Both act only on ``/messaging/webhook/`` calls to a database whose registry
is loaded in this process with this addon installed (:func:`addon_registry`,
which reads the process's registries, never a database); every other call
goes, untouched, to Odoo's own ``Application.__call__`` and access log.

Why: Odoo's request stack costs a few milliseconds of CPU per call before a
controller runs (session, registry signaling check, a cursor to match the
route, ``ir.http`` authentication and dispatch, a second cursor and
transaction), which alone caps a worker far below the 500 events/s that
Zalo's webhook may send. ``POST /messaging/webhook/zalo/<token>`` is
therefore answered ahead of that stack, by the same functions the route uses
(``main.answer_zalo``): one cursor, plain SQL (read the channel by token,
``INSERT ... ON CONFLICT DO NOTHING`` the event together with a trigger for
the processing cron), commit, answer; the cron is woken after the commit.

The fast path serves a call only when all of this holds, and otherwise hands
it, untouched, to Odoo's stack, whose route gives the same answers:

- the module-level switch ``ENABLED`` is on;
- the database is the one Odoo itself would pick for a call without a
  session cookie (``--database`` / ``--db-filter``, one match);
- that database's registry is already loaded in this process, ready, and has
  this addon (the first call after a start goes through Odoo's stack, which
  loads it);
- the body has a Content-Length of at most ``MAX_BODY_BYTES``.

Outside tests the call runs on an autocommit connection of ``sql_pool``
rather than an Odoo cursor: two round trips to PostgreSQL (read the channel,
insert the event with its cron trigger, committed by itself) instead of
seven. Tests keep Odoo's cursor, which is the test transaction.

Errors never lose an event: an exception before the insert leaves nothing
stored (the connection is dropped) and the call is served again by Odoo's
stack (the body is kept for it); once the insert committed, the same call
served again is answered "Duplicate" and stored once.
"""

import io
import json
import logging
import threading
import time
import weakref
from http import HTTPStatus

import werkzeug.serving
from werkzeug.datastructures import EnvironHeaders

from odoo import http
from odoo.modules.registry import Registry
from odoo.tools import config

from ..engine.inbound import wake_cron
from ..sql_pool import pool
from .main import MAX_BODY_BYTES, RAW_BODY, UNREADABLE, answer_zalo, cron_id

_logger = logging.getLogger(__name__)

WEBHOOK_PREFIX = "/messaging/webhook/"
PREFIX = WEBHOOK_PREFIX + "zalo/"  # the calls this fast path serves
ENABLED = True  # tests turn it off to go through the ordinary route
DB_CACHE_SECONDS = 10.0  # how long the database chosen for a host is reused

MODULE = "multichannel_messaging"
ADDON_CALL = "multichannel_messaging.webhook"  # environ key: a call of ours

_databases = {}  # host -> (expiry, database or None)
_crons = {}  # database -> id of the processing cron
_addon = {}  # database -> (weak reference to its registry, has this addon)
_odoo_call = None  # Odoo's own Application.__call__, kept by install()


def _host(environ):
    if config["proxy_mode"] and environ.get("HTTP_X_FORWARDED_HOST"):
        return environ["HTTP_X_FORWARDED_HOST"].split(",")[0].strip()
    return environ.get("HTTP_HOST", "")


def pick_database(environ):
    """The database Odoo serves a cookie-less call on (the only one left by
    ``--database`` / ``--db-filter``), or None; cached a few seconds per host
    (listing the databases may need a PostgreSQL connection)."""
    host = _host(environ)
    dbfilter = config["dbfilter"] or ""
    # the answer depends on the host only through %h / %d in the filter
    key = host if ("%h" in dbfilter or "%d" in dbfilter) else ""
    now = time.monotonic()
    cached = _databases.get(key)
    if cached and cached[0] > now:
        return cached[1]
    dbs = http.db_list(force=True, host=host)
    database = dbs[0] if len(dbs) == 1 else None
    if len(_databases) > 1000:  # bounded whatever Host headers arrive
        _databases.clear()
    _databases[key] = (now + DB_CACHE_SECONDS, database)
    return database


def addon_registry(database):
    """This database's registry when loaded in this process, ready, and with
    this addon installed; else None. Reads only the registries of this
    process (never a database); whether the addon is in is kept per
    database and registry (installing or removing a module makes Odoo build
    a new registry)."""
    registry = Registry.registries.get(database) if database else None
    if registry is None or not registry.ready:
        return None
    known = _addon.get(database)
    if known is None or known[0]() is not registry:
        known = _addon[database] = (
            weakref.ref(registry),
            MODULE in registry._init_modules,
        )
    return registry if known[1] else None


def serve(environ):
    """(HTTP status, JSON body) for this call, or None to let Odoo's stack
    serve it."""
    if not ENABLED or environ.get("REQUEST_METHOD") != "POST":
        return None
    path = environ.get("PATH_INFO") or ""
    if not path.startswith(PREFIX):
        return None
    token = path[len(PREFIX) :]
    if not token or "/" in token:
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None  # chunked or unknown length: the route reads it
    if length < 0 or length > MAX_BODY_BYTES:
        return None  # the route answers 404 or 413
    database = pick_database(environ)
    registry = addon_registry(database)
    if registry is None:
        return None
    raw = environ["wsgi.input"].read(length)
    # the body is consumed: keep it for Odoo's stack in case we pass
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    if len(raw) != length:
        return None
    current = threading.current_thread()
    current.dbname = database
    headers = EnvironHeaders(environ)
    try:
        cursor = (
            registry.cursor() if odoo_cursor_needed(registry) else pool.cursor(database)
        )
        with cursor as cr:
            status, payload, event_id, cron = _answer(cr, database, token, raw, headers)
    except Exception:  # noqa: BLE001 - Odoo's stack serves the call again
        _crons.pop(database, None)
        _logger.warning(
            "Zalo webhook fast path failed, the call goes through the route",
            exc_info=True,
        )
        return None
    if event_id and cron:
        wake_cron(registry)
    return status, json.dumps(payload).encode()


def odoo_cursor_needed(registry):
    """In tests, Odoo's cursor is the test transaction (a connection of our
    own would neither see the test's records nor be rolled back)."""
    return registry.in_test_mode()


def _answer(cr, database, token, raw, headers):
    cron = _crons.get(database) or cron_id(cr) or 0
    if cron:
        _crons[database] = cron
    return (*answer_zalo(cr, token, raw, headers, cron=cron), cron)


# ----------------------------------------------------------------------
# Access log of webhook calls
# ----------------------------------------------------------------------

SUMMARY_SECONDS = 60.0
_summary_lock = threading.Lock()
_summary = {"since": time.monotonic(), "counts": {}}


def _channel_type(path):
    """``<type>`` of ``/messaging/webhook/<type>/<token>[?query]``."""
    return path[len(WEBHOOK_PREFIX) :].split("?", 1)[0].split("/", 1)[0]


def redacted_path(path):
    """``/messaging/webhook/<type>/***``: the token is a secret and the
    query string (eSMS) has nothing an access log needs."""
    return "%s%s/***" % (WEBHOOK_PREFIX, _channel_type(path))


def count_answered_call(path, now=None):
    """Count a 2xx webhook answer; every ``SUMMARY_SECONDS`` (with the next
    call) one INFO line sums them up per channel type."""
    channel_type = _channel_type(path)
    now = time.monotonic() if now is None else now
    with _summary_lock:
        counts = _summary["counts"]
        counts[channel_type] = counts.get(channel_type, 0) + 1
        elapsed = now - _summary["since"]
        if elapsed < SUMMARY_SECONDS:
            return
        _summary["since"], _summary["counts"] = now, {}
    _logger.info(
        "Webhook calls answered in the last %d s: %s",
        elapsed,
        ", ".join("%s %d" % item for item in sorted(counts.items())),
    )


def install_access_log():
    """Odoo logs every HTTP call at INFO with its path, which for a webhook
    holds the channel's secret token, and at Zalo's rates that is hundreds of
    lines a second. Webhook calls of this addon (marked ``ADDON_CALL`` by
    :func:`application_call`) answered 2xx are counted into a summary line
    instead; other answers keep their line, with the token masked (refusals
    are also logged, with their reason, by ``main.refusal``). Every other
    call keeps Odoo's own line."""
    handler = werkzeug.serving.WSGIRequestHandler
    if getattr(handler.log_request, "_messaging_webhooks", False):
        return
    odoo_log_request = handler.log_request

    def log_request(self, code="-", size="-"):
        path = getattr(self, "path", None) or ""
        environ = getattr(self, "environ", None) or {}
        if not (path.startswith(WEBHOOK_PREFIX) and environ.get(ADDON_CALL)):
            return odoo_log_request(self, code, size)
        if str(code).startswith("2"):
            threading.current_thread().__dict__.pop("query_count", None)
            return count_answered_call(path)
        self.log(
            "info",
            '"%s %s %s" %s %s',
            self.command,
            redacted_path(path),
            self.request_version,
            code,
            size,
        )
        return None

    log_request._messaging_webhooks = True
    handler.log_request = log_request


def buffer_chunked_body(environ):
    """Read here a webhook body sent chunked (no Content-Length), at most the
    limit, and hand it on to Odoo's stack as a plain one. Odoo parses a form
    body before any route, and werkzeug raises OSError on a malformed chunk:
    without this, a 500. (status, JSON body) to answer at once, or None."""
    if (
        environ.get("CONTENT_LENGTH")
        or "chunked" not in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
    ):
        return None
    try:
        raw = environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
    except OSError:
        return 400, json.dumps({"error": 400, "message": UNREADABLE}).encode()
    if len(raw) > MAX_BODY_BYTES:
        return 413, json.dumps({"error": 413, "message": "Body too large"}).encode()
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    return None


def keep_raw_body(environ):
    """Read here a Zalo webhook body of known length that the fast path
    passed on, and keep its bytes for the route (``main.RAW_BODY``): Odoo's
    stack parses a form or multipart body before any route, which then
    reads nothing, and Zalo's URL check may come with such a Content-Type."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return  # chunked or unknown length: buffer_chunked_body, the route
    if not 0 < length <= MAX_BODY_BYTES:
        return  # nothing to keep, or the route answers 413
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    environ[RAW_BODY] = raw


def _respond(start_response, status, body):
    start_response(
        "%d %s" % (status, HTTPStatus(status).phrase),
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def application_call(self, environ, start_response):
    """``odoo.http.Application.__call__`` once :func:`install` ran: webhook
    calls to a database with this addon may be answered here; everything
    else goes straight to Odoo's own ``__call__``."""
    path = environ.get("PATH_INFO") or ""
    if (
        not path.startswith(WEBHOOK_PREFIX)
        or addon_registry(pick_database(environ)) is None
    ):
        return _odoo_call(self, environ, start_response)
    environ[ADDON_CALL] = True  # for the access log (install_access_log)
    if path.startswith(PREFIX):
        current = threading.current_thread()
        current.query_count = 0
        current.query_time = 0
        current.perf_t0 = time.time()
        answer = serve(environ)
        if answer is not None:
            return _respond(start_response, *answer)
        keep_raw_body(environ)
    # every provider's route: after serve(), which leaves chunked bodies to
    # the route (and keeps reading them there)
    answer = buffer_chunked_body(environ)
    if answer is not None:
        return _respond(start_response, *answer)
    return _odoo_call(self, environ, start_response)


application_call._messaging_fast_path = True


def install():
    """Wrap ``odoo.http.Application.__call__`` and werkzeug's access log,
    once per process (the manifest's ``post_load``)."""
    global _odoo_call  # pylint: disable=global-statement
    install_access_log()
    application = http.Application
    if getattr(application.__call__, "_messaging_fast_path", False):
        return
    _odoo_call = application.__call__
    application.__call__ = application_call
