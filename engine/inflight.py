"""A bounded pool of in-flight provider calls for one dispatcher process.

A provider answers a message in tens or hundreds of milliseconds, nearly all
of it spent waiting: one dispatcher sending one message at a time does ~9
messages/s at 100 ms. The pool lets it keep up to ``size`` requests on the
wire at once. Its threads run ONLY a provider adapter's ``send`` (plain
Python, see ``providers/``): no ORM, no cursor. Everything else (claims,
throttle bookings, state changes, commits) stays in the dispatcher's thread.

The threads share one HTTP :class:`~..providers.base.Session` whose
connection pools keep ``size`` keep-alive connections per host, so a busy
pool reuses its connections instead of opening one per request.

One pool per size per process, made when first needed and kept: cron runs of
the same worker reuse its threads and connections. A forked process (Odoo's
prefork workers) makes its own: threads do not survive a fork.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ..providers.base import new_session

_POOLS = {}  # (pid, size) -> InflightPool
_POOLS_LOCK = threading.Lock()


class InflightPool:
    """``size`` threads calling providers, and their shared HTTP session."""

    def __init__(self, size):
        self.size = size
        self.session = new_session(pool_maxsize=size)
        self._executor = ThreadPoolExecutor(
            max_workers=size, thread_name_prefix="messaging-send"
        )

    def submit(self, adapter, outbound):
        """Start ``adapter.send(outbound)``; returns its future. At most
        ``size`` calls run at once, further ones wait for a free thread."""
        return self._executor.submit(adapter.send, outbound)

    def close(self):
        self._executor.shutdown(wait=True)
        self.session.close()


def get_pool(size):
    """This process's pool of ``size`` threads (at least 1)."""
    key = (os.getpid(), max(int(size or 1), 1))
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = InflightPool(key[1])
    return pool
