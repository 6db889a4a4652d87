"""Consent and the marketing rules: who may receive a marketing message, and
when a queued one may go.

Odoo's lists are the truth: ``phone.blacklist`` for numbers (SMS, Zalo by
phone, and the person behind a Zalo user id), ``mail.blacklist`` for
e-mail; a Zalo user's opt-out on one OA, where Odoo has no list, is kept on
the identity. Transactional messages are never held by these rules.
"""

from datetime import timedelta

from odoo import fields, tools
from odoo.tools import SQL

from ..providers.zalo_codes import ZBS_TAG_RULES


def get_consent_refusal(channel, partner, route, address):
    """Why a marketing message may not go to this address, else False."""
    env = channel.env
    if route == "email" or (route == "sandbox" and address and "@" in address):
        if is_email_blacklisted(env, partner, address):
            return env._(
                "%(partner)s opted out of marketing messages: %(email)s is "
                "in the e-mail blacklist (mail.blacklist).",
                partner=consent_name(partner),
                email=address,
            )
        return False
    if route in ("uid", "consultation"):
        identity = partner._messaging_identity(channel) if partner else False
        if not identity and address:
            identity = (
                env["messaging.identity"]
                .sudo()
                .search(
                    [("channel_id", "=", channel.id), ("external_id", "=", address)],
                    limit=1,
                )
            )
        if identity and identity.sudo().opt_out:
            return env._(
                "%(partner)s opted out of marketing messages on %(channel)s.",
                partner=consent_name(partner),
                channel=channel.name,
            )
        address = False  # the person's own number decides below
    if is_phone_blacklisted(env, partner, address):
        return env._(
            "%(partner)s opted out of marketing messages: %(number)s is "
            "in the phone blacklist (phone.blacklist).",
            partner=consent_name(partner),
            number="+" + address if address else partner._messaging_checked_number(),
        )
    return False


def consent_name(partner):
    return partner.display_name or partner.env._("The recipient")


def is_phone_blacklisted(env, partner, number):
    """``number`` (84..., the address sent to) or the contact's own number
    is in ``phone.blacklist``."""
    listed = bool(partner) and partner.messaging_phone_blacklisted
    # the contact's numbers were checked with it (one query per batch of
    # contacts); only another number costs a query of its own
    if (
        listed
        or not number
        or (partner and "+" + number == partner.phone_sanitized)
        or (partner and number == partner._messaging_phone_or_none())
    ):
        return listed
    return bool(
        env["phone.blacklist"]
        .sudo()
        .search_count([("number", "=", "+" + number.lstrip("+"))], limit=1)
    )


def is_email_blacklisted(env, partner, email):
    if partner and email and email in (partner.email_normalized, partner.email):
        return partner.is_blacklisted
    if not email:
        return False
    return bool(
        env["mail.blacklist"]
        .sudo()
        .search_count([("email", "=", tools.email_normalize(email) or email)], limit=1)
    )


def get_sql_consent(category):
    """(phone free, e-mail free): SQL conditions on ``res_partner p``, the
    set-wise :func:`is_phone_blacklisted` and :func:`is_email_blacklisted`
    of a contact's own number and e-mail (``messaging_phone_blacklisted``
    and ``is_blacklisted``). Always true for a transactional message."""
    if category != "marketing":
        return SQL("TRUE"), SQL("TRUE")
    return (
        SQL(
            "NOT EXISTS (SELECT 1 FROM phone_blacklist b"
            " WHERE b.active AND b.number = p.phone_sanitized)"
        ),
        SQL(
            "NOT EXISTS (SELECT 1 FROM mail_blacklist b"
            " WHERE b.active AND b.email = p.email_normalized)"
        ),
    )


# ----------------------------------------------------------------------
# Marketing rules at send time
# ----------------------------------------------------------------------


def check_marketing_rules(message):
    """None when ``message`` may go now, else (action, when, reason): for
    "skip" the reason is a text, for "wait" a wait code
    (``messaging.message.wait_code``, see engine/waits.py)."""
    message.ensure_one()
    tag_hold = check_tag_rules(message)
    if tag_hold:
        return tag_hold
    if message.category != "marketing":
        return None
    channel = message.channel_id
    if channel._in_quiet_hours():
        return "wait", channel._next_local_time(channel.quiet_hours_end), "quiet_hours"
    if channel.resend_window_minutes and message.partner_id and message.template_id:
        since = fields.Datetime.now() - timedelta(minutes=channel.resend_window_minutes)
        if message.search_count(
            [
                ("id", "!=", message.id),
                ("partner_id", "=", message.partner_id.id),
                ("template_id", "=", message.template_id.id),
                *get_reached_domain(since),
            ],
            limit=1,
        ):
            return (
                "skip",
                None,
                message.env._(
                    "Already sent to this contact with this template within %s min.",
                    channel.resend_window_minutes,
                ),
            )
    if channel.recipient_daily_cap and message.partner_id:
        local_midnight = channel._local_now().replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        sent_today = message.search_count(
            [
                ("id", "!=", message.id),
                ("partner_id", "=", message.partner_id.id),
                ("channel_id", "=", channel.id),
                ("category", "=", "marketing"),
                *get_reached_domain(channel._to_utc_naive(local_midnight)),
            ]
        )
        if sent_today >= channel.recipient_daily_cap:
            return (
                "wait",
                channel._next_local_time(channel.quiet_hours_end),
                "recipient_cap",
            )
    return None


def check_tag_rules(message, now=None):
    """Zalo's rules of a ZBS template's tag, whatever the message's
    category: ``("wait", when, "tag_hours")`` outside the tag's sending
    hours, ``("wait", when, "tag_limit")`` when this person already got as
    many messages of the tag today (or this month) as Zalo allows; else
    None."""
    template = message.template_id
    rule = ZBS_TAG_RULES.get(template.zalo_tag or "") if template else None
    if not rule or message.route not in ("phone", "uid"):
        return None
    channel = message.channel_id
    local = channel._local_now(now)
    start, end = rule["hours"]
    if not start <= local.hour + local.minute / 60.0 < end:
        return "wait", channel._next_local_time(start, now), "tag_hours"
    if not rule.get("per_day") or not (message.partner_id or message.recipient):
        return None
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if _count_tag_reached(message, channel._to_utc_naive(midnight)) >= rule["per_day"]:
        return "wait", channel._next_local_time(start, now), "tag_limit"
    first = midnight.replace(day=1)
    if _count_tag_reached(message, channel._to_utc_naive(first)) >= rule["per_month"]:
        year, month = (
            (first.year + 1, 1) if first.month == 12 else (first.year, first.month + 1)
        )
        next_month = first.tzinfo.localize(
            first.replace(tzinfo=None, year=year, month=month, hour=int(start))
        )
        return "wait", channel._to_utc_naive(next_month), "tag_limit"
    return None


def _count_tag_reached(message, since):
    """Messages of the same tag on the same OA that reached this person
    (the contact, else the address) since ``since``."""
    who = (
        ("partner_id", "=", message.partner_id.id)
        if message.partner_id
        else ("recipient", "=", message.recipient)
    )
    return message.sudo().search_count(
        [
            ("id", "!=", message.id),
            who,
            ("channel_id", "=", message.channel_id.id),
            ("template_id.zalo_tag", "=", message.template_id.zalo_tag),
            *get_reached_domain(since),
        ]
    )


def get_reached_domain(since):
    """Messages that (may have) reached their recipient since ``since``:
    sent, and those whose outcome is unknown (counted as reached by the
    marketing rules: they may well have been received)."""
    return [
        "|",
        "&",
        ("state", "in", ("sending", "sent", "delivered", "read")),
        ("sent_at", ">=", since),
        "&",
        ("state", "=", "unknown"),
        ("unknown_since", ">=", since),
    ]
