"""Why a queued message waits, and when sending really starts.

The queue keeps a wait as a code (``messaging.message.wait_code``, written
with ``scheduled_at`` where the queue defers a message: ``claim.reschedule``
and the set-wise updates) and the end of the wait as ``scheduled_at``; this
file words them on read, in the reader's language and time zone.

It also says beforehand when a message or a campaign would start on a
channel (:func:`next_start`) and when it would be done (:func:`finish_at`),
through the same rules the queue applies: a quota pause, marketing quiet
hours, the channel's daily cap.
"""

import math
from datetime import timedelta

import pytz

from odoo import fields
from odoo.tools import LazyTranslate

_lt = LazyTranslate(__name__)

# the queue's reasons to wait (``messaging.message.wait_code``)
WAIT_CODES = [
    ("quiet_hours", "Quiet hours"),
    ("daily_cap", "Daily cap reached"),
    ("quota", "Provider quota used up"),
    ("recipient_cap", "Per-recipient daily limit"),
    ("throttle", "Rate limit"),
    ("retry", "Retry after a temporary error"),
    ("tag_hours", "Outside template tag hours"),
    ("tag_limit", "Template tag limit reached"),
]
# what the composer and the activation say, by (category, delayed?)
START_TEXTS = {
    ("marketing", False): _lt("Marketing message: will be sent now."),
    ("marketing", True): _lt(
        "Marketing message: will be sent at %(when)s (%(reason)s)."
    ),
    ("transactional", False): _lt("Transactional message: will be sent now."),
    ("transactional", True): _lt(
        "Transactional message: will be sent at %(when)s (%(reason)s)."
    ),
}
# a start further than this is worth saying
START_SLACK = timedelta(minutes=1)
# days looked at by finish_at (a campaign spread over longer says so)
MAX_DAYS = 3660


# ----------------------------------------------------------------------
# Words, on read
# ----------------------------------------------------------------------


def reader_tz(env, default=None):
    """The reader's time zone: the context's, the user's, else ``default``
    (a channel's company time zone), else Vietnam's."""
    name = env.context.get("tz") or env.user.tz
    try:
        return pytz.timezone(name) if name else default or _vn()
    except pytz.UnknownTimeZoneError:
        return default or _vn()


def _vn():
    return pytz.timezone("Asia/Ho_Chi_Minh")


def format_when(env, when, tz=None, now=None):
    """``when`` (UTC, naive) in the reader's time zone and formats: the
    time alone within the next 24 hours (``08:00``), else the date too
    (``05/12/2026 08:00`` in Vietnamese)."""
    if not when:
        return ""
    tz = tz or reader_tz(env)
    now = now or fields.Datetime.now()
    local = pytz.utc.localize(when).astimezone(tz)
    lang = env["res.lang"]._get_data(code=env.lang or "en_US")
    time_format = (lang and lang.short_time_format) or "%H:%M"
    if timedelta(0) <= when - now < timedelta(hours=24):
        return local.strftime(time_format)
    date_format = (lang and lang.date_format) or "%m/%d/%Y"
    return local.strftime("%s %s" % (date_format, time_format))


def wait_text(env, code, until, error=None, tz=None, now=None):
    """Why a message waits and until when, in the language of ``env``
    (``code``: a wait code; ``until``: ``scheduled_at``; ``error``: the
    provider's text of a retried error)."""
    when = format_when(env, until, tz, now)
    texts = {
        "quiet_hours": env._("Quiet hours until %(when)s", when=when),
        "daily_cap": env._("Daily cap reached, continues %(when)s", when=when),
        "quota": env._("Provider quota used up until %(when)s", when=when),
        "recipient_cap": env._(
            "Per-recipient daily limit, continues %(when)s", when=when
        ),
        "throttle": env._("Rate limit, next try %(when)s", when=when),
        "tag_hours": env._("Outside template tag hours until %(when)s", when=when),
        "tag_limit": env._("Template tag limit reached until %(when)s", when=when),
    }
    if code == "campaign_paused":
        return env._("Campaign paused")
    if code == "retry":
        if error:
            return env._(
                "Retry at %(when)s after a temporary error: %(error)s",
                when=when,
                error=error,
            )
        return env._("Retry at %(when)s after a temporary error", when=when)
    if code in texts:
        return texts[code]
    now = now or fields.Datetime.now()
    if until and until > now + START_SLACK:
        return env._("Scheduled for %(when)s", when=when)
    return ""


def start_text(env, category, start, code, tz=None, now=None):
    """What the composer and the activation say before the click: the
    category and when sending starts (``start``/``code``: :func:`next_start`)."""
    kind = "marketing" if category == "marketing" else "transactional"
    text = START_TEXTS[kind, bool(code)]._translate(env.lang or "en_US")
    if not code:
        return text
    return text % {
        "when": format_when(env, start, tz, now),
        "reason": reason_label(env, code),
    }


def reason_label(env, code):
    """The short name of a wait code, in the language of ``env``."""
    labels = {
        "quiet_hours": env._("quiet hours"),
        "daily_cap": env._("daily cap reached"),
        "quota": env._("provider quota used up"),
        "scheduled": env._("send date"),
    }
    if code in labels:
        return labels[code]
    field = env["messaging.message"]._fields["wait_code"]
    return dict(field._description_selection(env)).get(code, code or "")


# ----------------------------------------------------------------------
# When sending starts and ends, beforehand
# ----------------------------------------------------------------------


def next_start(channel, category, now=None):
    """(when, code): the first time ``channel`` would send a message of
    ``category`` from ``now`` (UTC, naive), and the first rule that holds
    it until then (None: now)."""
    now = now or fields.Datetime.now()
    when, code = now, None
    for _step in range(4):
        held = _held_until(channel, category, when)
        if not held:
            break
        until, why = held
        when, code = until, code or why
    return when, code


def _held_until(channel, category, when):
    """(until, code) when ``channel`` may not send at ``when``, else None."""
    if channel.paused_until and channel.paused_until > when:
        return channel.paused_until, "quota"
    if category == "marketing" and channel._in_quiet_hours(when):
        return channel._next_local_time(channel.quiet_hours_end, when), "quiet_hours"
    if channel.daily_cap and _cap_reached(channel, when):
        return channel._next_local_time(0.0, when), "daily_cap"
    return None


def _cap_reached(channel, when):
    """The channel's daily count of the day of ``when`` reached its cap."""
    return _used_today(channel, when) >= channel.daily_cap


def finish_at(channel, category, start, count, interval, cap):
    """When ``count`` messages starting at ``start`` would all be handed
    over: ``interval`` seconds apart, at most ``cap`` per local day, and,
    for marketing, only outside the channel's quiet hours."""
    quiet = category == "marketing" and channel.quiet_hours_start != (
        channel.quiet_hours_end
    )
    if not count or not (quiet or cap):
        return start + timedelta(seconds=count * interval)
    when, left = start, count
    day, used = _local_day(channel, start), _used_today(channel, start)
    for _step in range(MAX_DAYS * 3):
        if _local_day(channel, when) != day:
            day, used = _local_day(channel, when), 0
        if quiet and channel._in_quiet_hours(when):
            when = channel._next_local_time(channel.quiet_hours_end, when)
            continue
        midnight = channel._next_local_time(0.0, when)
        end = (
            channel._next_local_time(channel.quiet_hours_start, when) if quiet else None
        )
        if cap:
            end = min(end, midnight) if end else midnight
        room = cap - used if cap else left
        if interval:
            room = min(
                room, max(math.floor((end - when).total_seconds() / interval), 1)
            )
        sent = max(min(left, room), 0)
        left, used = left - sent, used + sent
        if not left:
            return when + timedelta(seconds=sent * interval)
        when = end if not cap or used < cap else midnight
    return when


def _local_day(channel, when):
    return channel._local_now(when).strftime("%Y-%m-%d")


def _used_today(channel, when):
    """Messages the channel already sent on the local day of ``when``."""
    if channel.throttle_day != _local_day(channel, when):
        return 0
    return channel.throttle_day_count or 0


def to_string(when):
    """A UTC datetime as kept in JSON data."""
    return fields.Datetime.to_string(when) if when else False


def from_string(text):
    return fields.Datetime.to_datetime(text) if text else None


def post_held_on_document(message):
    """Say in the document's chatter why a one-off message (not a campaign
    one) waits and until when: worded in each reader's language."""
    message.ensure_one()
    record = message._get_chatter_record()
    if not record:
        return
    message.env["mail.message"]._messaging_post(
        record,
        "held",
        {
            "channel": message.channel_id.name,
            "to": message.recipient or message.partner_id.display_name,
            "wait": [message.wait_code, to_string(message.scheduled_at)],
        },
        message_type="notification",
        subtype_xmlid="mail.mt_note",
    )
