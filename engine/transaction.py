"""Where the outbound queue commits: the one place, and why.

The queue is crash-safe because of *when* it commits:

* a claim is committed before anything is sent: its lease keeps the rows
  out of other dispatchers' claims (``engine/claim.py``);
* a group's ``sending`` state is committed BEFORE its provider calls: a
  dispatcher killed mid-call leaves its rows in ``sending``, and the
  recovery never resends those blindly (``claim.recover_stale_sending``);
* the provider's answers are committed right after them, without waiting
  for the disk (losing that commit to a server crash leaves rows in
  ``sending``, never a duplicate);
* state that every dispatcher shares on a channel row (throttle bookings,
  quota figures, a pause, the Zalo token pair) is written in a short
  transaction of its own (:func:`shared_cursor`), so that the others see it
  at once.

After a commit the queue's next transaction runs in READ COMMITTED: claims,
recoveries and campaign ends race with other dispatchers. Under REPEATABLE
READ (Odoo's default), locking or updating a row that another dispatcher
changed and committed after our snapshot raises a serialization failure
(the whole run fails) instead of skipping the row; in READ COMMITTED the
row's latest version is checked again.

Tests run in one transaction that is rolled back at the end (their thread
has a ``testing`` attribute): there :func:`auto_commit` is False, the queue
never commits and shared state is written on the caller's cursor. So it is
inside :func:`in_caller_transaction` (the demo history, made by the queue
while the module installs in one transaction).
"""

import threading
from contextlib import contextmanager

_held = threading.local()


def auto_commit():
    """True when the queue commits as it goes (not in a test thread, nor
    inside :func:`in_caller_transaction`)."""
    if getattr(_held, "depth", 0):
        return False
    return not getattr(threading.current_thread(), "testing", False)


@contextmanager
def in_caller_transaction():
    """The queue's work inside this block stays in the caller's transaction:
    no commit, shared state written on the caller's cursor."""
    _held.depth = getattr(_held, "depth", 0) + 1
    try:
        yield
    finally:
        _held.depth -= 1


def commit(env, read_committed=True, durable=True):
    """Commit the queue's work on ``env``'s cursor.

    ``read_committed``: the next transaction runs in READ COMMITTED (see
    the module's docstring). ``durable=False``: the commit does not wait for
    the disk (``synchronous_commit`` off for this transaction only).
    """
    if not durable:
        env.cr.execute("SET LOCAL synchronous_commit TO OFF")
    env.cr.commit()  # pylint: disable=invalid-commit
    if read_committed:
        env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")


@contextmanager
def shared_cursor(env):
    """A cursor for state that every dispatcher updates on a channel row.

    Several workers write the same channel row; inside a dispatcher's own
    transaction that would end in serialization failures or hold the row's
    lock until the dispatcher commits. So the write goes through a short
    READ COMMITTED transaction of its own, committed when the block ends.
    Without :func:`auto_commit` (tests): the caller's cursor, not committed.
    """
    if not auto_commit():
        yield env.cr
        return
    with env.registry.cursor() as cr:
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        yield cr
        # shared with the other workers at once
        cr.commit()  # pylint: disable=invalid-commit
