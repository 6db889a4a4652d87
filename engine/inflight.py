"""A bounded pool of in-flight provider calls for one dispatcher process.

A provider answers a message in tens or hundreds of milliseconds, nearly all
of it spent waiting: one dispatcher sending one message at a time does ~9
messages/s at 100 ms. The pool lets it keep up to ``size`` requests on the
wire at once. Its threads run ONLY a provider adapter's ``send`` (plain
Python, see ``providers/``): no ORM, no cursor. Everything else (claims,
throttle bookings, state changes, commits) stays in the dispatcher's thread.

The threads share one HTTP :class:`~..providers.transport.Session` whose
connection pools keep ``size`` keep-alive connections per host, so a busy
pool reuses its connections instead of opening one per request.

One pool per size per process, made when first needed and kept for the
dispatcher's run (``messaging.message._process_queue``), whose batches reuse
its threads and connections; :func:`close_pools` ends them with the run, so
that no idle thread nor open connection waits for the next cron run. A
forked process (Odoo's prefork workers) makes its own: threads do not
survive a fork.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..providers import transport
from ..providers.base import RETRY, SendResult
from ..providers.transport import LATE_REASON, new_session

# Stack of a request thread. Python's default (8 MiB, the main thread's) is
# reserved address space, and Odoo caps a worker's (limit_memory_hard, 2.5
# GiB by default): 100 threads would take a third of it. An HTTP call needs
# far less.
THREAD_STACK_SIZE = 512 * 1024

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
        self._start_threads()

    def _start_threads(self):
        """Start every thread now, with a small stack.

        The stack size is process-wide: it is set only while the threads
        are created (a few milliseconds), each one held busy until all exist
        so that every submit below creates one.
        """
        ready = threading.Barrier(self.size + 1)
        previous = threading.stack_size(THREAD_STACK_SIZE)
        try:
            for _index in range(self.size):
                self._executor.submit(ready.wait)
        finally:
            threading.stack_size(previous)
        ready.wait()

    def submit(self, adapter, outbound, send_by=None):
        """Start ``adapter.send(outbound)``; returns its future. At most
        ``size`` calls run at once, further ones wait for a free thread.

        ``send_by`` (``time.monotonic()``): a request whose thread starts,
        or whose first byte would leave, later is not sent (a booked
        throttle slot missed: sent late, it would follow the next one too
        closely); its result is :func:`late_result`.
        """
        return self._executor.submit(_send, adapter, outbound, send_by)

    def submit_many(self, adapter, outbounds, send_by=None):
        """Start ``adapter.send_many(outbounds)``, one request for them
        all; returns one future-like answer per outbound (see
        :meth:`submit`)."""
        future = self._executor.submit(_send_many, adapter, outbounds, send_by)
        return [_Share(future, index) for index in range(len(outbounds))]

    def close(self):
        self._executor.shutdown(wait=True)
        self.session.close()


def _send(adapter, outbound, send_by):
    if send_by is not None and time.monotonic() > send_by:
        return late_result()
    # checked again right before the request is written (a new connection,
    # a busy process): see providers/transport.py send_deadline
    transport.send_deadline(send_by)
    try:
        return adapter.send(outbound)
    finally:
        transport.send_deadline(None)


def _send_many(adapter, outbounds, send_by):
    if send_by is not None and time.monotonic() > send_by:
        return [late_result()] * len(outbounds)
    transport.send_deadline(send_by)
    try:
        return adapter.send_many(outbounds)
    finally:
        transport.send_deadline(None)


class _Share:
    """One message's answer in a request for several (``submit_many``)."""

    __slots__ = ("_future", "_index")

    def __init__(self, future, index):
        self._future = future
        self._index = index

    def result(self):
        return self._future.result()[self._index]


def late_result():
    """The result of a request not sent because its thread started after
    its ``send_by``: nothing left, the message may be queued again."""
    return SendResult(
        status=RETRY,
        reason=LATE_REASON,
        message="Not sent: its throttle slot was missed.",
    )


def close_pools():
    """End this process's pools: their threads stop, connections close."""
    pid = os.getpid()
    with _POOLS_LOCK:
        mine = [key for key in _POOLS if key[0] == pid]
        pools = [_POOLS.pop(key) for key in mine]
    for pool in pools:
        pool.close()


def get_pool(size):
    """This process's pool of ``size`` threads (at least 1)."""
    key = (os.getpid(), max(int(size or 1), 1))
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = InflightPool(key[1])
    return pool
