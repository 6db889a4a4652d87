"""Autocommit PostgreSQL connections for the few hot statements that need
no ORM: storing a webhook call (``controllers/fast_path.py``) and waking
the cron workers (``models/messaging_event.py``).

Part of the addon's speed machinery (README, "Speed machinery"). It patches
nothing of Odoo's; its connections are lent only once :func:`install` ran,
from the manifest's ``post_load`` and only when the server option
``messaging_fast_path`` is not off. Until then, and with the option off,
:meth:`RawPool.cursor` gives an ordinary Odoo cursor instead.

Why: Odoo's own pool resets a connection each time it lends it (``ABORT``
and ``DISCARD ALL``) and its cursor opens a REPEATABLE READ transaction that
ends with a ``COMMIT``: five round trips to PostgreSQL around one or two
statements. Here a connection is in autocommit (each statement is its own
READ COMMITTED transaction), so a statement costs one round trip.

These connections are not Odoo's (``db_maxconn`` does not count them): a
process opens at most :attr:`RawPool.maximum` of them, lent or idle, all
databases together (server option ``messaging_pool_maxconn``, by default a
quarter of ``db_maxconn``, at most 8). A borrower finding them all lent waits
up to ``WAIT_SECONDS`` for one, then gets :class:`PoolFull` (the fast path
then leaves the call to Odoo's stack); an idle connection of another
database is closed to make room.

Connections are lent one call at a time and never shared by two threads;
at most ``IDLE_PER_DATABASE`` idle connections are kept per database and
process (the rest are closed when given back). A connection whose call
raised is closed, not given back; a forked process starts with an empty
pool (the parent's sockets are left alone).
"""

import contextlib
import os
import threading
import time

import psycopg2
import psycopg2.pool

from odoo import sql_db
from odoo.tools import config

IDLE_PER_DATABASE = 8
WAIT_SECONDS = 1.0  # how long a borrower waits when every connection is lent
SWITCH_OPTION = "messaging_fast_path"  # off: no fast path, no log summary, no pool
MAXCONN_OPTION = "messaging_pool_maxconn"
MAXCONN_CEILING = 8  # the default maximum never goes above this


def option_on(name, default=True):
    """A boolean server option (``[options]`` of odoo.conf): ``False``,
    ``0``, ``no`` and ``off`` turn it off."""
    value = config.get(name, default)
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "")
    return bool(value)


def configured_maximum():
    """``messaging_pool_maxconn`` when set, else a quarter of Odoo's
    ``db_maxconn`` (between 1 and ``MAXCONN_CEILING``)."""
    value = config.get(MAXCONN_OPTION)
    try:
        value = int(value or 0)
    except (TypeError, ValueError):
        value = 0
    if value > 0:
        return value
    db_maxconn = int(config.get("db_maxconn") or 64)
    return max(1, min(MAXCONN_CEILING, db_maxconn // 4))


class PoolFull(psycopg2.pool.PoolError):
    """Every connection the pool may open is lent and none came back."""


class RawPool:
    def __init__(self, maximum=None, installed=True):
        self._lock = threading.Condition()
        self._idle = {}  # database -> [connection]
        self._open = 0  # connections of this process, lent or idle
        self._pid = os.getpid()
        self._maximum = maximum
        self.installed = installed  # else cursor() gives Odoo's cursors

    @property
    def maximum(self):
        """Connections this pool may have open at once (lent or idle)."""
        return self._maximum or configured_maximum()

    def _forget_parent(self):
        """In a forked process: the parent's connections are not ours."""
        if self._pid != os.getpid():
            self._idle, self._open, self._pid = {}, 0, os.getpid()

    def _reserve(self, database):
        """An idle connection of ``database``, or None after reserving room
        for a new one (under the lock); waits while everything is lent."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            self._forget_parent()
            idle = self._idle.get(database)
            if idle:
                return idle.pop()
            if self._open < self.maximum or self._close_other_idle():
                self._open += 1
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PoolFull(
                    "All %d connections of the messaging pool are in use" % self.maximum
                )
            self._lock.wait(remaining)

    def _close_other_idle(self):
        """Close one idle connection (of any database) to make room."""
        for idle in self._idle.values():
            if idle:
                _close(idle.pop())
                self._open -= 1
                return True
        return False

    def borrow(self, database):
        with self._lock:
            connection = self._reserve(database)
        if connection is not None:
            return connection
        try:
            _name, info = sql_db.connection_info_for(database)
            connection = psycopg2.connect(**info)
            connection.set_client_encoding("UTF8")
            connection.autocommit = True
        except BaseException:
            if connection is not None:
                _close(connection)
            with self._lock:
                self._open -= 1
                self._lock.notify()
            raise
        return connection

    def give_back(self, database, connection, broken=False):
        with self._lock:
            if self._pid != os.getpid():
                self._forget_parent()  # not one of this process's connections
            elif (
                not broken
                and not connection.closed
                and len(self._idle.get(database, ())) < IDLE_PER_DATABASE
            ):
                self._idle.setdefault(database, []).append(connection)
                self._lock.notify()
                return
            else:
                self._open = max(self._open - 1, 0)
                self._lock.notify()
        _close(connection)

    def idle_count(self, database):
        with self._lock:
            return len(self._idle.get(database, ()))

    def open_count(self):
        """Connections of this pool open in this process, lent or idle."""
        with self._lock:
            self._forget_parent()
            return self._open

    @contextlib.contextmanager
    def cursor(self, database):
        """An autocommit cursor; its connection goes back to the pool after
        the block, or is closed when the block raised. Before :func:`install`
        (the machinery is off): an Odoo cursor, committed after the block."""
        if not self.installed:
            with sql_db.db_connect(database).cursor() as cr:
                yield cr
            return
        connection = self.borrow(database)
        try:
            with connection.cursor() as cr:
                yield cr
        except BaseException:
            self.give_back(database, connection, broken=True)
            raise
        self.give_back(database, connection)


def _close(connection):
    with contextlib.suppress(psycopg2.Error):
        connection.close()


pool = RawPool(installed=False)  # the process's pool, lending after install()


def install():
    """Lend connections from now on (the manifest's ``post_load``)."""
    pool.installed = True
