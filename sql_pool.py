"""Autocommit PostgreSQL connections for the few hot statements that need
no ORM: storing a webhook call (``controllers/fast_path.py``) and waking
the cron workers (``models/messaging_event.py``).

Odoo's own pool resets a connection each time it lends it (``ABORT`` and
``DISCARD ALL``) and its cursor opens a REPEATABLE READ transaction that
ends with a ``COMMIT``: five round trips to PostgreSQL around one or two
statements. Here a connection is in autocommit (each statement is its own
READ COMMITTED transaction), so a statement costs one round trip.

Connections are lent one call at a time and never shared by two threads;
at most ``IDLE_PER_DATABASE`` idle connections are kept per database and
process (the rest are closed when given back). A connection whose call
raised is closed, not given back; a forked process starts with an empty
pool (the parent's sockets are left alone).
"""

import contextlib
import os
import threading

import psycopg2

from odoo import sql_db

IDLE_PER_DATABASE = 8


class RawPool:
    def __init__(self):
        self._lock = threading.Lock()
        self._idle = {}  # database -> [connection]
        self._pid = os.getpid()

    def borrow(self, database):
        with self._lock:
            if self._pid != os.getpid():
                self._idle, self._pid = {}, os.getpid()
            idle = self._idle.get(database)
            if idle:
                return idle.pop()
        _name, info = sql_db.connection_info_for(database)
        connection = psycopg2.connect(**info)
        connection.set_client_encoding("UTF8")
        connection.autocommit = True
        return connection

    def give_back(self, database, connection, broken=False):
        if not broken and not connection.closed:
            with self._lock:
                idle = self._idle.setdefault(database, [])
                if self._pid == os.getpid() and len(idle) < IDLE_PER_DATABASE:
                    idle.append(connection)
                    return
        with contextlib.suppress(psycopg2.Error):
            connection.close()

    def idle_count(self, database):
        with self._lock:
            return len(self._idle.get(database, ()))

    @contextlib.contextmanager
    def cursor(self, database):
        """An autocommit cursor; its connection goes back to the pool after
        the block, or is closed when the block raised."""
        connection = self.borrow(database)
        try:
            with connection.cursor() as cr:
                yield cr
        except BaseException:
            self.give_back(database, connection, broken=True)
            raise
        self.give_back(database, connection)


pool = RawPool()
