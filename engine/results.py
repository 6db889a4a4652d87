"""Results of the outbound queue: what a provider's answer does to a message.

Accepted (``sent``, in one UPDATE per group), retry later (rescheduled with
backoff, up to the channel's attempts), unreachable on this channel (failed,
handed to the next fallback step), quota (the channel paused until the
provider's reset), credentials, permanent refusal, and a lost answer
(outcome unknown: resent only where the provider deduplicates, else held).
Also the later outcomes the queue settles itself: no delivery receipt in
time (fallback), no receipt for an unknown outcome (held for a Manager).
"""

from datetime import timedelta

from odoo import fields
from odoo.tools import SQL, html2plaintext

from ..providers import (
    ACCEPTED,
    AUTH,
    AWAIT_RECEIPT,
    PERMANENT,
    QUOTA,
    RESEND,
    RETRY,
    UNKNOWN,
    UNREACHABLE,
)
from . import claim, inflight, outbound, routing, throttle

# failures for which the next fallback step is tried
FALLBACK_FAILURE_TYPES = (
    "no_address",
    "invalid_address",
    "unreachable",
    "invalid_params",
    "not_configured",
)
# what ``set_sent_many`` writes
SENT_FIELDS = [
    "state",
    "sent_at",
    "provider_message_id",
    "error_code",
    "error_message",
    "failure_type",
    "claim_until",
    "cost",
    "receipt_due_at",
    "write_date",
    "write_uid",
]


def apply_results(env, results):
    """Keep a group's answers (``(message, result)`` pairs): the accepted
    ones in one UPDATE."""
    accepted = [(m, r) for m, r in results if r.status == ACCEPTED]
    for message, result in results:
        if result.reason == inflight.LATE_REASON:
            # never sent: back to the queue for another slot
            claim.reschedule(
                message, fields.Datetime.now(), count_attempt=False, code="throttle"
            )
        elif result.status == ACCEPTED:
            # a quota down to zero pauses the channel for the next group
            note_result_quota(message, result)
        else:
            apply_result(message, result)
    set_sent_many(env, accepted)
    post_on_documents(env["messaging.message"].union(*(m for m, _r in accepted)))


def apply_result(message, result):
    """Keep one answer of the provider to ``message``."""
    message.ensure_one()
    channel = message.channel_id
    note_result_quota(message, result)
    status = result.status
    if status == ACCEPTED:
        set_sent_many(message.env, [(message, result)])
        post_on_document(message)
    elif status == UNREACHABLE:
        message._set_failed("unreachable", result.message, code=result.code)
    elif status == QUOTA:
        until = fields.Datetime.now() + timedelta(seconds=result.retry_after or 3600)
        throttle.pause_until(channel, until)
        claim.reschedule(message, until, result, count_attempt=False, code="quota")
    elif status == RETRY:
        if message.attempt_count >= max(channel.max_attempts, 1):
            message._set_failed("retries", result.message, code=result.code)
        else:
            delay = (
                timedelta(seconds=result.retry_after)
                if result.retry_after
                else channel._default_retry_delay(message.attempt_count)
            )
            claim.reschedule(
                message, fields.Datetime.now() + delay, result, code="retry"
            )
    elif status == AUTH:
        message._set_failed("auth", result.message, code=result.code)
    elif status == UNKNOWN:
        set_outcome_unknown(message, result)
    else:
        assert status == PERMANENT, status
        message._set_failed("provider", result.message, code=result.code)


def set_failed(messages, failure_type, text, code=None, state="failed"):
    """Fail (or skip) ``messages`` and hand over to the next fallback step,
    if any (``messaging.message._set_failed``, which extensions extend)."""
    messages.sudo().write(
        {
            "state": state,
            "failure_type": failure_type,
            "error_code": code,
            "error_message": text,
            "failed_at": fields.Datetime.now(),
            "claim_until": False,
        }
    )
    if failure_type in messages._get_fallback_failure_types():
        create_fallback(messages)


def create_fallback(messages):
    """Queue the next fallback step of each of ``messages`` that has one
    and no fallback yet; returns the new messages."""
    children = messages.browse()
    for message in messages:
        chain = list(message.fallback_chain or [])
        if not chain or message.fallback_child_ids:
            continue
        channel_id, template_id = chain[0]
        # the queue's own row: a user's create refuses a fallback parent
        children |= messages.sudo().create(
            {
                "partner_id": message.partner_id.id,
                "channel_id": channel_id,
                "template_id": template_id,
                "campaign_id": message.campaign_id.id,
                "res_model": message.res_model,
                "res_id": message.res_id,
                "user_id": message.user_id.id,
                "category": message.category,
                "fallback_parent_id": message.id,
                "fallback_chain": chain[1:],
                # one coupon per recipient, not per attempt
                "coupon_id": message.coupon_id.id,
            }
        )
    return children


def note_result_quota(message, result):
    """Keep the quota figures a provider gave with its answer, if any."""
    message.ensure_one()
    if result.quota_remaining is not None or result.quota_daily is not None:
        throttle.note_quota(
            message.channel_id, result.quota_daily, result.quota_remaining
        )


def prepare_sent_values(message, result, now=None):
    """What an accepted answer writes on ``message``."""
    message.ensure_one()
    now = now or fields.Datetime.now()
    vals = {
        "state": "sent",
        "sent_at": now,
        "provider_message_id": result.provider_message_id,
        "error_code": False,
        "error_message": False,
        "failure_type": False,
        "claim_until": False,
        "cost": result.cost
        if result.cost is not None
        else routing.message_cost(message),
    }
    if message.channel_type == "sandbox":
        vals["receipt_due_at"] = now + timedelta(
            seconds=message.channel_id.sandbox_receipt_delay
        )
    return vals


def set_sent_many(env, accepted):
    """Accepted answers for many messages in one UPDATE.

    ``accepted`` lists ``(message, result)`` pairs. The values are those
    of ``prepare_sent_values``; one statement instead of one ORM write
    per message keeps the database work of a dispatched message far
    below its HTTP call.
    """
    if not accepted:
        return
    now = fields.Datetime.now()
    rows = []
    for message, result in accepted:
        vals = prepare_sent_values(message, result, now)
        rows.append(
            SQL(
                "(%s::int, %s::varchar, %s::numeric, %s::timestamp)",
                message.id,
                vals["provider_message_id"] or None,
                vals["cost"] or 0.0,
                vals.get("receipt_due_at"),
            )
        )
    messages = env["messaging.message"].browse([m.id for m, _result in accepted])
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            UPDATE messaging_message m
               SET state = 'sent', sent_at = %(now)s,
                   provider_message_id = v.provider_message_id,
                   error_code = NULL, error_message = NULL,
                   failure_type = NULL, claim_until = NULL, cost = v.cost,
                   receipt_due_at = COALESCE(v.receipt_due_at, m.receipt_due_at),
                   write_date = %(now)s, write_uid = %(uid)s
              FROM (VALUES %(rows)s)
                   AS v(id, provider_message_id, cost, receipt_due_at)
             WHERE m.id = v.id
            """,
            now=now,
            uid=env.uid,
            rows=SQL(", ").join(rows),
        )
    )
    messages.invalidate_recordset(SENT_FIELDS)
    # computed fields that depend on these (campaign counters) follow
    messages.modified(SENT_FIELDS)


def set_outcome_unknown(message, result):
    """The request may have reached the provider and no answer came back.

    Never resent blindly: resent with the same idempotency key where the
    provider drops duplicates (within its window and the channel's
    attempts), else "outcome unknown", out of the retry and fallback
    loop: waiting for a delivery receipt that names the message where
    one will (then held), or held for a Manager at once.
    """
    message.ensure_one()
    now = fields.Datetime.now()
    channel = message.channel_id
    since = message.unknown_since or now
    if outbound.may_resend_unknown(message, since) and message.attempt_count < max(
        channel.max_attempts, 1
    ):
        message.unknown_since = since
        delay = channel._default_retry_delay(message.attempt_count)
        claim.reschedule(message, now + delay, result, code="retry")
        return
    vals = {
        "state": "unknown",
        "failure_type": "no_answer",
        "error_code": result.code,
        "unknown_since": since,
        "claim_until": False,
    }
    minutes = channel.unknown_receipt_minutes
    policy = outbound.get_unknown_policy(message)
    if policy == AWAIT_RECEIPT and minutes > 0:
        vals["outcome_wait_until"] = now + timedelta(minutes=minutes)
    vals["error_message"] = _unknown_text(message.env, policy, result, minutes)
    message.write(vals)


def _unknown_text(env, policy, result, minutes):
    """Why a message is left with an unknown outcome, and what comes next."""
    reason = result.message or result.reason or ""
    if policy == RESEND:
        return env._(
            "%(reason)s. Resent with the same idempotency key while the "
            "provider drops duplicates; no answer to the last attempt (or "
            "its window has passed): held for a Manager.",
            reason=reason,
        )
    if policy == AWAIT_RECEIPT and minutes > 0:
        return env._(
            "%(reason)s. The provider may have received it: waiting up to "
            "%(minutes)s minutes for its delivery receipt, then held for a "
            "Manager.",
            reason=reason,
            minutes=minutes,
        )
    return env._(
        "%(reason)s. The provider may have received it and there is no "
        "way to check: held for a Manager to resend it or fall back.",
        reason=reason,
    )


def process_unknown_waits(env):
    """Unknown outcomes whose receipt did not come in time: held."""
    late = env["messaging.message"].search(
        [
            ("state", "=", "unknown"),
            ("outcome_wait_until", "<=", fields.Datetime.now()),
        ]
    )
    for message in late:
        message.write(
            {
                "outcome_wait_until": False,
                "error_message": env._(
                    "No answer from the provider and no delivery receipt "
                    "within %s minutes: held for a Manager to resend it or "
                    "fall back.",
                    message.channel_id.unknown_receipt_minutes,
                ),
            }
        )


def process_delivery_timeouts(env):
    """Fall back when no delivery receipt came within the channel's delay."""
    now = fields.Datetime.now()
    candidates = env["messaging.message"].search(
        [
            ("state", "=", "sent"),
            ("fallback_chain", "!=", False),
            ("fallback_child_ids", "=", False),
            ("channel_id.delivery_timeout_minutes", ">", 0),
        ]
    )
    late = candidates.filtered(
        lambda m: (
            m.fallback_chain
            and m.sent_at
            < now - timedelta(minutes=m.channel_id.delivery_timeout_minutes)
        )
    )
    for message in late:
        message.error_message = env._(
            "No delivery receipt within %s minutes: handed to the next channel.",
            message.channel_id.delivery_timeout_minutes,
        )
        create_fallback(message)


def post_on_document(message):
    """Log one sent message in its document's chatter (see
    :func:`post_on_documents`)."""
    message.ensure_one()
    post_on_documents(message)


def get_document(message):
    """The record whose chatter logs ``message`` once sent: one-off
    messages and those of a send from a list, not a planned campaign's.
    None when there is none (or it has no chatter)."""
    campaign = message.campaign_id
    if (campaign and not campaign.from_list) or not message.res_model:
        return None
    if not message.res_id or message.res_model not in message.env:
        return None
    record = message.env[message.res_model].browse(message.res_id).exists()
    if not record or not hasattr(record, "message_post"):
        return None
    return record


def post_on_documents(messages):
    """Log sent ``messages`` in their documents' chatters, like Odoo logs an
    SMS: the lines of a whole group in one create (a send from a list of
    500 orders does not post 500 times)."""
    entries = []
    for message in messages:
        record = get_document(message)
        if record is None:
            continue
        text = message.body or ", ".join(
            "%s: %s" % item for item in (message.template_data or {}).items()
        )
        params = {
            "channel": message.channel_id.name,
            "to": message.recipient,
            "text": html2plaintext(text or ""),
        }
        entries.append((record.sudo(), "sent", params))
    MailMessage = messages.env["mail.message"]
    if len(entries) == 1:
        # one message: posted as usual (open chatters show it at once)
        record, key, params = entries[0]
        MailMessage._messaging_post(
            record,
            key,
            params,
            message_type="notification",
            subtype_xmlid="mail.mt_note",
        )
    elif entries:
        MailMessage._messaging_post_many(entries)
