"""WSGI fast path for Zalo webhook calls.

Odoo's request stack costs a few milliseconds of CPU per call before a
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

Errors never lose an event: an exception before the commit rolls the
transaction back and the call is served again by Odoo's stack (the body is
kept for it); after the commit the event is stored and the answer is 200.
"""

import io
import json
import logging
import threading
import time

from werkzeug.datastructures import EnvironHeaders
from werkzeug.wrappers import Response

from odoo import http
from odoo.modules.registry import Registry
from odoo.tools import config

from ..models.messaging_event import wake_cron
from .main import MAX_BODY_BYTES, answer_zalo, cron_id

_logger = logging.getLogger(__name__)

PREFIX = "/messaging/webhook/zalo/"
ENABLED = True  # tests turn it off to go through the ordinary route
DB_CACHE_SECONDS = 10.0  # how long the database chosen for a host is reused

_databases = {}  # host -> (expiry, database or None)
_crons = {}  # database -> id of the processing cron


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


def loaded_registry(database):
    """This database's registry when loaded, ready and with this addon."""
    try:
        registry = Registry.registries[database]
    except KeyError:
        return None
    if not registry.ready or "messaging.event" not in registry:
        return None
    return registry


def serve(environ):
    """A WSGI response for this call, or None to let Odoo's stack serve it."""
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
    registry = loaded_registry(database) if database else None
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
    try:
        with registry.cursor() as cr:
            cron = _crons.get(database) or cron_id(cr) or 0
            if cron:
                _crons[database] = cron
            status, payload, event_id = answer_zalo(
                cr, token, raw, EnvironHeaders(environ), cron=cron
            )
    except Exception:  # noqa: BLE001 - Odoo's stack serves the call again
        _crons.pop(database, None)
        _logger.warning(
            "Zalo webhook fast path failed, the call goes through the route",
            exc_info=True,
        )
        return None
    if event_id and cron:
        wake_cron(registry)
    return Response(json.dumps(payload), status=status, content_type="application/json")


def install():
    """Wrap ``odoo.http.Application.__call__`` (once per process)."""
    application = http.Application
    if getattr(application.__call__, "_messaging_fast_path", False):
        return
    odoo_call = application.__call__

    def __call__(self, environ, start_response):
        if (environ.get("PATH_INFO") or "").startswith(PREFIX):
            current = threading.current_thread()
            current.query_count = 0
            current.query_time = 0
            current.perf_t0 = time.time()
            response = serve(environ)
            if response is not None:
                return response(environ, start_response)
        return odoo_call(self, environ, start_response)

    __call__._messaging_fast_path = True
    application.__call__ = __call__


install()
