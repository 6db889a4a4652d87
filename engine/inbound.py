"""Inbound calls: stored raw once, the processing cron triggered and woken.

Plain Python on a cursor or a registry (no fields, no models): the webhook
routes, the WSGI fast path (which has no ORM environment) and
``messaging.event`` store calls with :func:`store_event` and wake the cron
with :func:`wake_cron`; the cron sizes its batches with
:func:`next_batch_size` and spaces its tries with the delays below.
"""

import json
import logging
import threading
import time
from datetime import datetime, timedelta

from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID
from odoo.tools import SQL

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

from ..sql_pool import pool

_logger = logging.getLogger(__name__)

CRON_XMLID = "multichannel_messaging.ir_cron_messaging_process_events"
BATCH_SIZE = 100  # events per transaction in the processing cron (its first)
# the cron's later batches are sized to last about this long (receipts
# applied set-wise take ~0.5 ms each, other events several ms), within
# [BATCH_SIZE, MAX_BATCH_SIZE] events
BATCH_SECONDS = 0.5
MAX_BATCH_SIZE = 1000
WAKE_INTERVAL = 0.05  # seconds: at most 20 cron wake-ups per second per process
# Errors that Odoo's request/cron loop retries as a whole: never turn them
# into an "error" event, let them propagate.
RETRYABLE_ERRORS = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)
UNMATCHED_RETRY = timedelta(hours=1)  # receipts that arrive before the send result
RETRY_SPACING = timedelta(seconds=30)  # between two tries of an unmatched receipt
# an event whose processing raised is tried again after these delays, then
# kept as failed (an error the payload explains, a UserError, fails at once)
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))


def next_batch_size(count, seconds):
    """Events for the next batch, after ``count`` took ``seconds``: as many
    as should take BATCH_SECONDS, within [BATCH_SIZE, MAX_BATCH_SIZE]."""
    if seconds <= 0:
        return MAX_BATCH_SIZE
    return max(BATCH_SIZE, min(MAX_BATCH_SIZE, int(count * BATCH_SECONDS / seconds)))


def store_event(cr, values, cron_id=None, uid=SUPERUSER_ID):
    """Insert one inbound call as a 'received' event, unless its
    (channel, event key) is already stored: return the new id, or None.

    Plain SQL on a cursor (the webhook's fast path has no ORM environment).
    ``INSERT ... ON CONFLICT DO NOTHING``: a replay or a provider retry
    changes nothing, and two identical calls at the same moment are
    serialised by the unique index (the second waits, then finds the first).
    A new event also inserts a trigger for the processing cron (``cron_id``)
    in the same statement, so the trigger commits with the event or not at
    all; its ``call_at`` is the insert's clock time, later than the start of
    any cron run that could have missed the event.
    """
    now = datetime.utcnow().replace(microsecond=0)
    row = {
        "channel_id": values["channel_id"],
        "company_id": values.get("company_id"),
        "event_key": values["event_key"][:255],
        "event_name": (values.get("event_name") or "")[:128] or None,
        "payload": values.get("payload"),
        "headers": json.dumps(values.get("headers") or {}, ensure_ascii=False),
        "received_at": now,
        "state": "received",
        "event_at": values.get("event_at"),
        "signature_variant": values.get("signature_variant"),
        "sender_ref": values.get("sender_ref"),
        "create_uid": uid,
        "write_uid": uid,
        "create_date": now,
        "write_date": now,
    }
    insert = (
        "INSERT INTO messaging_event (%s) VALUES (%s)"
        " ON CONFLICT (channel_id, event_key) DO NOTHING RETURNING id"
    ) % (", ".join(row), ", ".join(["%s"] * len(row)))
    params = list(row.values())
    if cron_id:
        query = (
            "WITH event AS (%s), trigger AS ("
            " INSERT INTO ir_cron_trigger"
            " (cron_id, call_at, create_uid, write_uid, create_date, write_date)"
            " SELECT %%s, clock_timestamp() AT TIME ZONE 'UTC', %%s, %%s, %%s, %%s"
            " FROM event) SELECT id FROM event"
        ) % insert
        params += [cron_id, uid, uid, now, now]
    else:
        query = insert
    cr.execute(query, params)
    result = cr.fetchone()
    return result[0] if result else None


_WAKE_LOCK = threading.Lock()
_WAKE_LAST = {}  # database -> time.monotonic() of the last notification
_WAKE_TIMERS = {}  # database -> pending threading.Timer


def wake_cron(registry):
    """Wake the cron workers after a committed trigger (Odoo's own
    ``ir.cron._notifydb``), at most once per ``WAKE_INTERVAL`` per process:
    a call inside the interval schedules one notification at its end, so
    every committed trigger is followed by a notification."""
    if registry.in_test_mode() or getattr(threading.current_thread(), "testing", False):
        return
    dbname = registry.db_name
    now = time.monotonic()
    with _WAKE_LOCK:
        if dbname in _WAKE_TIMERS:
            return  # a notification is due after this commit anyway
        wait = _WAKE_LAST.get(dbname, 0.0) + WAKE_INTERVAL - now
        if wait > 0:
            timer = threading.Timer(wait, _wake_later, [dbname])
            timer.daemon = True
            _WAKE_TIMERS[dbname] = timer
            timer.start()
            return
        _WAKE_LAST[dbname] = now
    _notify_cron_workers(dbname)


def _wake_later(dbname):
    with _WAKE_LOCK:
        _WAKE_TIMERS.pop(dbname, None)
        _WAKE_LAST[dbname] = time.monotonic()
    _notify_cron_workers(dbname)


def _notify_cron_workers(dbname):
    try:
        query = SQL(
            "SELECT %s('cron_trigger', %s)",
            SQL.identifier(ODOO_NOTIFY_FUNCTION),
            dbname,
        )
        with pool.cursor("postgres") as cr:  # a plain psycopg2 cursor
            cr.execute(query.code, query.params)
    except Exception:  # noqa: BLE001 - the cron still runs on its interval
        _logger.warning("Could not wake the cron workers", exc_info=True)
