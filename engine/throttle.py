"""Throttles and waits of the outbound queue.

A channel's send slots (its rate, spacing and daily cap) are booked on the
channel row that every dispatcher shares, so that any number of workers
keep to one rate; a dispatcher sleeps until its booked slot, and one that
wakes up too late books another. Before a message goes, its channel may be
paused (quota reached) or the marketing rules may hold it. The quota
figures a provider gives with its answers are noted here, and a spent quota
pauses the channel until the provider's daily reset.
"""

import logging
import time
from datetime import datetime

from odoo import fields

from . import claim, consent, transaction, waits

_logger = logging.getLogger(__name__)
_sleep = time.sleep  # the throttle's waits (tests make a worker oversleep)

# a worker that wakes up later than this after its booked slot (a busy
# machine) does not send on it: the next slots, booked by other workers, would
# follow too closely. The request then has as much again to leave: its
# thread's start and the moment right before its first byte is written are
# checked against the same deadline (engine/inflight.py,
# providers/transport.py send_deadline), so no request leaves more than 20 ms
# after its slot. The rate's 4% slack (RATE_SLACK) leaves 2 ms per gap, 40 ms
# per second of requests: no second at the provider gets one request more
# than the rate unless the wire adds more than 20 ms of jitter. The rate
# reached is 96% of the one configured.
LATE_SEND_SECONDS = 0.010
LATE_SLOT_ATTEMPTS = 5
RATE_SLACK = 1.04
QUOTA_WRITE_SECONDS = 5.0
# (database name, channel id) -> monotonic time of this worker's last quota
# write; one process may serve several databases, whose channel ids overlap
_QUOTA_WRITES = {}


def has_throttle(channel):
    """True when the channel has a rate, a spacing or a daily cap."""
    channel.ensure_one()
    return bool(
        channel.rate_per_second or channel.min_interval_seconds or channel.daily_cap
    )


def slot_interval(channel):
    """Seconds between two send slots of the channel."""
    channel.ensure_one()
    # a little slack: a send that starts a few ms late must not put one
    # request more than the rate into a second at the provider
    rate = channel.rate_per_second
    by_rate = RATE_SLACK / rate if rate else 0.0
    return max(by_rate, channel.min_interval_seconds or 0.0)


def reserve_slot(channel, max_wait, count=1):
    """Book the next send slot of ``channel`` for one request carrying
    ``count`` messages (counted against the daily cap).

    Returns ``(wait_seconds, None)`` when booked (sleep that long, then
    send) or ``(None, retry_at)`` when the slot is further than
    ``max_wait`` or the daily cap is reached (nothing booked).
    The channel row is locked in a short READ COMMITTED transaction
    (``transaction.shared_cursor``) so that any number of workers share one
    rate, spacing and daily count.
    """
    wait, retry_at, _code = book_slot(channel, max_wait, count)
    return wait, retry_at


def book_slot(channel, max_wait, count=1):
    """``reserve_slot``, with why it was not booked: ``(wait_seconds, None,
    None)`` or ``(None, retry_at, wait code)`` ("daily_cap" or "throttle")."""
    channel.ensure_one()
    if not has_throttle(channel):
        return 0.0, None, None
    if not transaction.auto_commit():
        channel.flush_recordset()
    with transaction.shared_cursor(channel.env) as cr:
        return _book_slot(channel, cr, max_wait, count)


def _book_slot(channel, cr, max_wait, count=1):
    """``book_slot`` on ``cr``, under the channel row's lock."""
    # NO KEY UPDATE, not UPDATE: the foreign key checks (FOR KEY SHARE)
    # of the channel's messages written meanwhile neither wait for the
    # booking nor, under REPEATABLE READ, fail to serialize after it
    cr.execute(
        "SELECT throttle_next_ts, throttle_day, throttle_day_count"
        "  FROM messaging_channel WHERE id = %s FOR NO KEY UPDATE",
        [channel.id],
    )
    next_ts, day, day_count = cr.fetchone()
    now = time.time()
    slot = max(now, next_ts or 0.0)
    slot_utc = datetime.utcfromtimestamp(slot)
    local_day = channel._local_now(slot_utc).strftime("%Y-%m-%d")
    if local_day != day:
        day_count = 0
    if channel.daily_cap and day_count + count > channel.daily_cap:
        return None, channel._next_local_time(0.0, slot_utc), "daily_cap"
    if slot - now > max_wait:
        return None, slot_utc, "throttle"
    cr.execute(
        "UPDATE messaging_channel SET throttle_next_ts = %s, throttle_day = %s,"
        " throttle_day_count = %s WHERE id = %s",
        [slot + slot_interval(channel), local_day, day_count + count, channel.id],
    )
    channel.invalidate_recordset(
        ["throttle_next_ts", "throttle_day", "throttle_day_count"]
    )
    return slot - now, None, None


def wait_for_slot(channel, max_wait, count=1):
    """Book the channel's next send slot and sleep until it. Returns None
    when it is time to send, else when to try again (the slot is further
    than ``max_wait``, the daily cap is reached, or every booked slot was
    missed by waking up late)."""
    return wait_for_slot_why(channel, max_wait, count)[0]


def wait_for_slot_why(channel, max_wait, count=1):
    """``wait_for_slot``, with why: ``(None, None)`` when it is time to
    send, else ``(retry_at, wait code)``."""
    for _attempt in range(LATE_SLOT_ATTEMPTS):
        wait, retry_at, code = book_slot(channel, max_wait, count)
        if retry_at:
            return retry_at, code
        due = time.monotonic() + wait
        if wait > 0:
            _sleep(wait)
        late = time.monotonic() - due
        if late <= LATE_SEND_SECONDS:
            return None, None
        # the slot is left unused: a later one is booked instead
        _logger.debug(
            "Channel %s: woke up %.0f ms after the booked slot, booking again",
            channel.id,
            late * 1000,
        )
    return fields.Datetime.now(), "throttle"


def max_slot_wait(env):
    """Seconds a worker may sleep for a throttled slot before deferring."""
    if not transaction.auto_commit():
        return 0.0
    return float(
        env["ir.config_parameter"]
        .sudo()
        .get_param("multichannel_messaging.max_slot_wait", 10)
    )


def get_template_refusal(message):
    """Why ``message`` cannot go with its ZBS template (deleted, disabled,
    rejected or not yet approved on Zalo), else None."""
    if message.route not in ("phone", "uid") or not message.template_id:
        return None
    return message.template_id._get_zalo_unusable_reason()


def may_send_now(message):
    """False when ``message`` was held back (and rescheduled) or skipped."""
    message.ensure_one()
    channel = message.channel_id
    if channel._is_paused():
        # quota reached by an earlier message of this batch
        claim.reschedule(
            message, channel.paused_until, count_attempt=False, code="quota"
        )
        return False
    unusable = get_template_refusal(message)
    if unusable:
        message._set_failed("template", unusable)
        return False
    hold = consent.check_marketing_rules(message)
    if hold:
        action, when, reason = hold
        if action == "skip":
            message._set_failed("duplicate", reason, state="skipped")
        else:
            first = message.wait_code != reason
            claim.reschedule(message, when, count_attempt=False, code=reason)
            if first:
                waits.post_held_on_document(message)
        return False
    return True


def note_quota(channel, daily, remaining):
    """Keep the provider's quota figures, without a write per message.

    Written at most every few seconds per worker; a quota down to zero
    pauses the channel until the next local midnight (the providers'
    daily reset) instead of burning failures.
    """
    channel.ensure_one()
    key = (channel.env.registry.db_name, channel.id)
    last = _QUOTA_WRITES.get(key, 0.0)
    if remaining == 0:
        update_quota(channel, daily, remaining)
        pause_until(channel, channel._next_local_time(0.0))
    elif time.monotonic() - last > QUOTA_WRITE_SECONDS or not transaction.auto_commit():
        update_quota(channel, daily, remaining)
    else:
        return
    _QUOTA_WRITES[key] = time.monotonic()


def update_quota(channel, daily=None, remaining=None):
    """Write the provider's quota figures on the channel (shared state)."""
    vals = {"quota_updated_at": fields.Datetime.now()}
    if daily is not None:
        vals["quota_daily"] = daily
    if remaining is not None:
        vals["quota_remaining"] = remaining
    write_shared(channel, vals)


def pause_until(channel, until):
    """Hold the channel's messages until ``until`` (a quota reached)."""
    write_shared(channel, {"paused_until": until})
    _logger.info("Messaging channel %s paused until %s", channel.id, until)


def write_shared(channel, vals):
    """Write state that every dispatcher updates (quota, pause) in a short
    transaction of its own (``transaction.shared_cursor``)."""
    with transaction.shared_cursor(channel.env) as cr:
        channel.with_env(channel.env(cr=cr)).sudo().write(vals)
    if transaction.auto_commit():
        channel.invalidate_recordset(list(vals))
