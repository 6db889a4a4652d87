"""Claims and leases of the outbound queue.

A dispatcher leases due rows (``claim_until`` + ``claim_token``) with
``FOR UPDATE SKIP LOCKED``, turns the rows it still holds into ``sending``
just before their provider calls, and gives rows back to the queue
(rescheduled, or released at its deadline). A row whose lease expired in
``sending`` (a killed worker, PostgreSQL gone under it) is recovered here,
never resent blindly.
"""

import json
import uuid
from datetime import timedelta

from odoo import fields
from odoo.tools import SQL

from ..providers import ADAPTERS, AWAIT_RECEIPT
from . import outbound

CLAIM_SECONDS = 120
BATCH_SIZE = 200
# a throttled channel's claim: the rows its rate lets out in this time. A
# group waits for its last answer before the next claim: the slots of that
# wait (one provider latency) are left to other workers; over 2 s of slots
# a worker alone still uses ~95% of the rate at 100 ms of latency
CLAIM_HORIZON_SECONDS = 2.0
# what the recovery of rows left in ``sending`` changes on them
RECOVERED_FIELDS = [
    "state",
    "failure_type",
    "error_message",
    "claim_until",
    "claim_token",
    "unknown_since",
    "outcome_wait_until",
]


def claim_batch(env, limit=BATCH_SIZE):
    """Lease due messages for this worker; returns them, with this claim's
    token in their context.

    ``FOR UPDATE SKIP LOCKED`` lets several workers claim at once without
    waiting on each other; the lease (``claim_until`` + ``claim_token``)
    keeps the rows out of other workers' claims once the claim is
    committed, and expires on its own if this worker dies before sending
    (the rows are then still ``queued`` and were never handed over).

    A throttled channel gives one claim at most what its rate lets out
    in ``CLAIM_HORIZON_SECONDS`` (at least one row): several workers then
    share its rate, instead of one worker holding the channel's whole
    queue and sending it alone, as fast as its provider calls allow.
    """
    env.flush_all()
    token = uuid.uuid4().hex
    env.cr.execute(
        SQL(
            """
            UPDATE messaging_message m
               SET claim_until = %(now)s + make_interval(secs => %(lease)s),
                   claim_token = %(token)s
             WHERE m.id IN (
                   SELECT q.id
                     FROM messaging_channel ch
               CROSS JOIN LATERAL (
                          SELECT q.id, q.scheduled_at
                            FROM messaging_message q
                       LEFT JOIN messaging_campaign c ON c.id = q.campaign_id
                           WHERE q.channel_id = ch.id
                             AND q.state = 'queued'
                             AND q.scheduled_at <= %(now)s
                             AND (q.claim_until IS NULL OR q.claim_until < %(now)s)
                             AND (q.campaign_id IS NULL
                                  OR (c.state = 'running'
                                      AND c.resume_pending IS NOT TRUE))
                        ORDER BY q.scheduled_at, q.id
                           LIMIT %(channel_limit)s
                             FOR UPDATE OF q SKIP LOCKED) q
                    WHERE ch.active
                      AND (ch.paused_until IS NULL OR ch.paused_until <= %(now)s)
                 ORDER BY q.scheduled_at, q.id
                    LIMIT %(limit)s)
            RETURNING m.id
            """,
            lease=CLAIM_SECONDS,
            limit=limit,
            channel_limit=claim_limit_sql(limit),
            now=fields.Datetime.now(),
            token=token,
        )
    )
    ids = sorted(row[0] for row in env.cr.fetchall())
    Message = env["messaging.message"]
    Message.invalidate_model(["claim_until", "claim_token"])
    # the worker remembers its own token: the row's may change under it
    return Message.with_context(messaging_claim_token=token).browse(ids)


def claim_limit_sql(limit):
    """Rows one claim may take from channel ``ch`` (SQL, see claim_batch):
    ``limit``, or for a channel with a rate or a spacing what it lets out
    in ``CLAIM_HORIZON_SECONDS`` (the slot interval of
    ``throttle.slot_interval``, without its slack), times the recipients
    one request may carry on providers that take several (SpeedSMS)."""
    shared = {
        ctype: adapter.max_recipients
        for ctype, adapter in ADAPTERS.items()
        if adapter.max_recipients > 1
    }
    per_request = SQL("1")
    if shared:
        per_request = SQL(
            "COALESCE((%s::jsonb ->> ch.channel_type)::int, 1)", json.dumps(shared)
        )
    return SQL(
        """
        LEAST(%(limit)s, CASE
            WHEN ch.rate_per_second > 0 OR ch.min_interval_seconds > 0
            THEN GREATEST(1, FLOOR(%(horizon)s / GREATEST(
                CASE WHEN ch.rate_per_second > 0
                     THEN 1.0 / ch.rate_per_second ELSE 0 END,
                COALESCE(ch.min_interval_seconds, 0))))::int * %(per_request)s
            ELSE %(limit)s END)
        """,
        limit=limit,
        horizon=CLAIM_HORIZON_SECONDS,
        per_request=per_request,
    )


def mark_sending(messages):
    """queued -> sending for the rows of ``messages`` this worker still
    holds the lease of (the claim token of their context); returns those
    rows."""
    env = messages.env
    token = env.context.get("messaging_claim_token")
    if not token or not messages:
        return messages.browse()
    env.flush_all()
    env.cr.execute(
        """
        UPDATE messaging_message
           SET state = 'sending', attempt_count = COALESCE(attempt_count, 0) + 1,
               claim_until = %(until)s, wait_code = NULL, write_date = %(now)s,
               write_uid = %(uid)s
         WHERE id IN %(ids)s AND state = 'queued' AND claim_token = %(token)s
        RETURNING id
        """,
        {
            "until": fields.Datetime.now() + timedelta(seconds=CLAIM_SECONDS),
            "now": fields.Datetime.now(),
            "uid": env.uid,
            "ids": tuple(messages.ids),
            "token": token,
        },
    )
    owned = {row[0] for row in env.cr.fetchall()}
    messages.invalidate_recordset(
        ["state", "attempt_count", "claim_until", "wait_code"]
    )
    return messages.filtered(lambda m: m.id in owned)


def release(messages):
    """Give the rows of ``messages`` still queued back at once, rather than
    at the expiry of their lease."""
    messages.filtered(lambda m: m.state == "queued").write(
        {"claim_until": False, "claim_token": False}
    )


def reschedule(message, when, result=None, count_attempt=True, code=None):
    """Back to the queue, due at ``when``, lease released. ``result``: the
    provider's answer that sent it back; ``count_attempt=False``: an
    attempt that never reached the provider is not counted; ``code``: why
    it waits (``messaging.message.wait_code``, see engine/waits.py)."""
    vals = {
        "state": "queued",
        "scheduled_at": when,
        "claim_until": False,
        "wait_code": code or False,
    }
    if result is not None:
        vals.update({"error_code": result.code, "error_message": result.message})
    if not count_attempt and message.state == "sending":
        vals["attempt_count"] = max(message.attempt_count - 1, 0)
    message.write(vals)


def recover_stale_sending(env):
    """A row left in ``sending`` (crash mid-call) is never blindly resent.

    The same rule as a lost answer (``results.set_outcome_unknown``): queued
    again where the provider's idempotency key makes a resend harmless
    (eSMS refuses a second message with the same ``RequestId``, our
    tracking id, and answers code 124), else "outcome unknown" for a
    human, after waiting for a receipt where one names the message.
    """
    now = fields.Datetime.now()
    stale = env["messaging.message"].search(
        [("state", "=", "sending"), ("claim_until", "<", now)]
    )
    if not stale:
        return
    resend = stale.filtered(is_resend_safe)
    awaiting = (stale - resend).filtered(
        lambda m: (
            outbound.get_unknown_policy(m) == AWAIT_RECEIPT
            and m.channel_id.unknown_receipt_minutes > 0
        )
    )
    env.flush_all()
    # both updates are conditional: a row another dispatcher recovered
    # meanwhile is skipped
    _requeue_stale(env, resend, now)
    _hold_stale(env, stale - resend, awaiting, now)
    stale.invalidate_recordset(RECOVERED_FIELDS)


def _requeue_stale(env, messages, now):
    """Stale rows whose resend the provider deduplicates: queued again."""
    env.cr.execute(
        """
        UPDATE messaging_message
           SET state = 'queued', claim_until = NULL, claim_token = NULL,
               unknown_since = COALESCE(
                   unknown_since, claim_until - make_interval(secs => %(lease)s)),
               write_date = %(now)s, write_uid = %(uid)s
         WHERE id = ANY(%(ids)s) AND state = 'sending' AND claim_until < %(now)s
        """,
        {
            "ids": messages.ids,
            "now": now,
            "uid": env.uid,
            "lease": CLAIM_SECONDS,
        },
    )


def _hold_stale(env, messages, awaiting, now):
    """The other stale rows: outcome unknown, waiting for a receipt
    (``awaiting``) or held for a Manager at once."""
    env.cr.execute(
        """
        UPDATE messaging_message m
           SET state = 'unknown', failure_type = 'crash', claim_until = NULL,
               error_message = %(text)s, write_date = %(now)s,
               unknown_since = COALESCE(
                   m.unknown_since,
                   m.claim_until - make_interval(secs => %(lease)s)),
               outcome_wait_until = CASE WHEN m.id = ANY(%(awaiting)s)
                   THEN %(now)s + make_interval(mins => ch.unknown_receipt_minutes)
                   END,
               write_uid = %(uid)s
          FROM messaging_channel ch
         WHERE ch.id = m.channel_id AND m.id = ANY(%(ids)s)
           AND m.state = 'sending' AND m.claim_until < %(now)s
        """,
        {
            "ids": messages.ids,
            "awaiting": awaiting.ids,
            "now": now,
            "uid": env.uid,
            "lease": CLAIM_SECONDS,
            "text": env._(
                "The worker stopped while this message was being sent: it "
                "may or may not have reached the provider. Check and retry "
                "by hand."
            ),
        },
    )


def is_resend_safe(message):
    """A row left in ``sending`` may be queued again: the provider
    deduplicates a resend of an attempt started that long ago."""
    message.ensure_one()
    started = message.unknown_since or (
        message.claim_until - timedelta(seconds=CLAIM_SECONDS)
    )
    return outbound.may_resend_unknown(message, started)
