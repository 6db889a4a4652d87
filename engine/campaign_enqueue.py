"""A campaign's recipients become queued messages, chunk by chunk.

Activating a campaign only starts it (:func:`start`): the enqueue cron
(``messaging.campaign._cron_enqueue`` -> :func:`cron_enqueue`) queues its
recipients one committed chunk at a time, each chunk moving the cursor of
the campaign's ``messaging.campaign.enqueue`` row in the same transaction
(a chunk is queued whole or not at all, never twice). A campaign that fits
in one chunk is queued inline at activation.

Plain functions on campaign records or an environment: no fields, no models.
"""

import time

from odoo import fields
from odoo.osv import expression
from odoo.tools import SQL

from . import ab_testing, coupons, transaction

# recipients queued per transaction by the enqueue cron; a campaign with at
# most this many recipients is queued inline when it is activated
ENQUEUE_CHUNK_SIZE = 5000
# seconds one run of the enqueue cron works before it re-triggers itself
ENQUEUE_TIME_LIMIT = 30
# queued messages of a cancelled campaign cancelled per transaction
CANCEL_CHUNK_SIZE = 50000


def chunk_size(env):
    return env.context.get("messaging_enqueue_chunk_size") or ENQUEUE_CHUNK_SIZE


def trigger_cron(env, xmlid):
    """Run the cron ``xmlid`` as soon as possible."""
    cron = env.ref(xmlid, raise_if_not_found=False)
    if cron:
        cron.sudo()._trigger()


def retrigger_cron(env):
    trigger_cron(env, "multichannel_messaging.ir_cron_messaging_campaign_enqueue")


def progress_of(campaign):
    """The campaign's enqueue progress row (cursor, recipients done, pace)."""
    campaign.ensure_one()
    return (
        campaign.env["messaging.campaign.enqueue"]
        .sudo()
        .search([("campaign_id", "=", campaign.id)], limit=1)
    )


def lock(campaigns):
    """Wait for a chunk being queued by the cron to be committed."""
    if not campaigns.ids:
        return
    campaigns.flush_recordset()
    campaigns.env.cr.execute(
        "SELECT id FROM messaging_campaign WHERE id IN %s FOR NO KEY UPDATE",
        [tuple(campaigns.ids)],
    )


def start(campaign):
    """The campaign runs and starts queuing its recipients: inline when they
    fit in one chunk, else by the cron. Returns whether the cron has to queue
    them."""
    campaign.ensure_one()
    now = fields.Datetime.now()
    campaign.write(
        {
            "state": "running",
            "enqueue_state": "enqueuing",
            "enqueue_total": campaign._count_recipients(),
            "enqueue_user_id": campaign.env.uid,
            "enqueue_started_at": now,
        }
    )
    Progress = campaign.env["messaging.campaign.enqueue"].sudo()
    Progress.search([("campaign_id", "=", campaign.id)]).unlink()
    Progress.create(
        {
            "campaign_id": campaign.id,
            "spread_start": max(campaign.scheduled_at or now, now),
        }
    )
    if campaign.enqueue_total <= chunk_size(campaign.env):
        enqueue_all(campaign)
        return False
    return True


def resume(campaigns):
    """What piled up during a pause keeps the campaigns' pace; the
    recipients still to queue follow it.

    Pacing moves every queued message of a campaign with its own spacing or
    daily cap: up to one chunk of them here, more in the enqueue cron
    (:func:`respread_resumed`), the claim skipping the campaign's messages
    until then (``resume_pending``), so that resuming returns at once."""
    now = fields.Datetime.now()
    env = campaigns.env
    later = campaigns.browse()
    for campaign in campaigns:
        progress_of(campaign).write({"spread_start": now})
        if _is_paced(campaign) and _queued_count(campaign) > chunk_size(env):
            later |= campaign
        else:
            _respread(campaign, now)
    if later:
        later.write({"resume_pending": True})
        retrigger_cron(env)


def respread_resumed(env):
    """Pace the resumed campaigns whose queued messages were too many to
    pace in the click (one statement each, then committed), and let the
    claim take them again."""
    auto_commit = env["messaging.message"]._auto_commit()
    for campaign in env["messaging.campaign"].search(
        [("resume_pending", "=", True), ("state", "=", "running")]
    ):
        # a concurrent pause or cancel waits for this, then sees it done
        lock(campaign)
        campaign.invalidate_recordset(["state", "resume_pending"])
        if campaign.state != "running" or not campaign.resume_pending:
            continue  # paused or cancelled since
        _respread(campaign, progress_of(campaign).spread_start)
        campaign.resume_pending = False
        if auto_commit:
            transaction.commit(env, read_committed=False)
    env["messaging.message"]._retrigger_cron()


def _respread(campaign, start):
    ranked = spread_schedule(campaign, start=start)
    # no chunk runs while paused: this row is not being moved
    progress_of(campaign).write({"spread_rank": ranked or 0})


def _is_paced(campaign):
    return bool(campaign.min_interval_seconds or campaign.daily_cap)


def _queued_count(campaigns):
    """Queued messages of ``campaigns``, counted up to one more than a
    chunk."""
    env = campaigns.env
    env.flush_all()
    env.cr.execute(
        "SELECT count(*) FROM (SELECT 1 FROM messaging_message"
        " WHERE campaign_id = ANY(%s) AND state = 'queued' LIMIT %s) q",
        [campaigns.ids, chunk_size(env) + 1],
    )
    return env.cr.fetchone()[0]


def enqueue_all(campaigns):
    """Queue every recipient left, in this transaction (small campaigns,
    tests)."""
    for campaign in campaigns:
        while campaign.enqueue_state == "enqueuing":
            enqueue_chunk(campaign, chunk_size(campaign.env))


def cron_enqueue(env, time_limit=ENQUEUE_TIME_LIMIT, max_chunks=None):
    """Queue the recipients of the running campaigns, one committed chunk at
    a time, for ``time_limit`` seconds (or ``max_chunks`` chunks);
    re-triggers itself while recipients remain. Returns the number of
    recipients queued."""
    Message = env["messaging.message"]
    Campaign = env["messaging.campaign"]
    auto_commit = Message._auto_commit()
    deadline = time.monotonic() + time_limit if time_limit else None
    done = chunks = 0
    cancel_leftovers(env, deadline)
    respread_resumed(env)
    dispatch_triggered = False
    campaign_ids = Campaign.search(
        [("state", "=", "running"), ("enqueue_state", "=", "enqueuing")],
        order="id",
    ).ids
    for campaign in Campaign.browse(campaign_ids):
        while (deadline is None or time.monotonic() < deadline) and (
            max_chunks is None or chunks < max_chunks
        ):
            step = campaign._enqueue_step(auto_commit)
            if step is None:
                break
            processed, finished = step
            done += processed
            chunks += 1
            if not dispatch_triggered or finished:
                # the first chunk is sent while the next ones are queued
                Message._retrigger_cron()
                dispatch_triggered = True
            if auto_commit:
                # the chunk is queued for good, with the cursor past it
                transaction.commit(env, read_committed=False)
            # flat memory: nothing of the chunk stays in the cache
            env.flush_all()
            env.invalidate_all()
            if finished:
                break
    left = remaining(env)
    env["ir.cron"]._notify_progress(done=done, remaining=left)
    if left:
        retrigger_cron(env)
    return done


def cancel_queued(campaigns):
    """Cancel what the (just cancelled) ``campaigns`` still have queued.

    The claim already skips their messages (the campaigns are not running):
    up to one chunk is cancelled here, at once; more is left to the enqueue
    cron (:func:`cancel_leftovers`), chunk by chunk, so that cancelling a
    campaign of any size returns at once."""
    env = campaigns.env
    if not campaigns.ids:
        return
    limit = chunk_size(env)
    if _queued_count(campaigns) > limit:
        retrigger_cron(env)
    else:
        _cancel_chunk(env, SQL("m.campaign_id = ANY(%s)", campaigns.ids), limit + 1)


def cancel_leftovers(env, deadline=None):
    """Cancel, a chunk per transaction, the queued messages of cancelled
    campaigns: those too many to cancel in the click, and those a chunk
    being queued committed while the cancel waited for it. Returns how many
    were cancelled; re-triggers the cron when time ran out first."""
    auto_commit = env["messaging.message"]._auto_commit()
    limit = CANCEL_CHUNK_SIZE
    cancelled = 0
    while True:
        count = _cancel_chunk(
            env,
            SQL(
                "m.campaign_id IN (SELECT id FROM messaging_campaign"
                " WHERE state = 'cancelled')"
            ),
            limit,
        )
        cancelled += count
        if auto_commit:
            transaction.commit(env, read_committed=False)
        if count < limit:
            return cancelled
        if deadline is not None and time.monotonic() >= deadline:
            retrigger_cron(env)
            return cancelled


def _cancel_chunk(env, where, limit):
    """Cancel at most ``limit`` queued messages matching ``where`` (SQL on
    ``messaging_message m``), in one statement."""
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            UPDATE messaging_message
               SET state = 'cancelled', failure_type = 'cancelled',
                   claim_until = NULL, write_uid = %(uid)s,
                   write_date = (now() AT TIME ZONE 'UTC')
             WHERE id IN (SELECT m.id FROM messaging_message m
                           WHERE m.state = 'queued' AND %(where)s
                           LIMIT %(limit)s)
            RETURNING id
            """,
            uid=env.uid,
            where=where,
            limit=limit,
        )
    )
    cancelled = [row[0] for row in env.cr.fetchall()]
    env["messaging.message"].invalidate_model(
        ["state", "failure_type", "claim_until", "write_uid", "write_date"]
    )
    # their coupons, never received, are no longer valid
    coupons.release(env, cancelled)
    return len(cancelled)


def remaining(env):
    """Recipients left to queue by the running campaigns (at least one per
    campaign still queuing)."""
    env.flush_all()
    env.cr.execute(
        "SELECT COALESCE(SUM(GREATEST(c.enqueue_total - e.done, 1)), 0)"
        " FROM messaging_campaign c"
        " JOIN messaging_campaign_enqueue e ON e.campaign_id = c.id"
        " WHERE c.state = 'running' AND c.enqueue_state = 'enqueuing'"
    )
    return env.cr.fetchone()[0]


def enqueue_chunk(campaign, limit):
    """Queue the next ``limit`` recipients after the stored cursor, and move
    the cursor in the same transaction (a chunk is queued whole or not at
    all, never twice). Returns (recipients processed, finished)."""
    campaign.ensure_one()
    user = campaign.enqueue_user_id or campaign.env.user
    as_user = campaign.with_user(user).with_company(campaign.company_id)
    progress = progress_of(campaign)
    recipients, cursor, processed, finished = recipient_chunk(
        as_user, progress.cursor, limit
    )
    ranked = 0
    if recipients:
        ids = enqueue_recipients(as_user, recipients)
        ids = with_fallback_children(campaign.env, ids)
        hold_until_start(campaign, ids)
        skip_recently_messaged(campaign, ids)
        ranked = spread_schedule(
            campaign,
            start=progress.spread_start,
            message_ids=ids,
            rank_offset=progress.spread_rank,
        )
    progress.write(
        {
            "cursor": cursor,
            "done": progress.done + processed,
            "spread_rank": progress.spread_rank + (ranked or 0),
        }
    )
    if finished:
        campaign.write(
            {
                "enqueue_state": "done",
                "estimate_data": campaign._get_enqueued_estimate(),
            }
        )
    return processed, finished


def recipient_chunk(campaign, cursor, limit):
    """(recipients, next cursor, processed, finished): the next ``limit``
    recipients after ``cursor`` as [(partner, res_model, res_id)], in the
    order of ``_get_recipients`` (contacts by id: keyset pagination; source
    records by position), none already queued by this campaign."""
    campaign.ensure_one()
    env = campaign.env
    if not campaign.source_res_ids:
        if not campaign.segment_ids:
            return [], cursor, 0, True
        domain = expression.AND(
            [campaign._get_recipient_domain(), [("id", ">", cursor)]]
        )
        partners = env["res.partner"].search(domain, order="id", limit=limit)
        recipients = [(p, "res.partner", p.id) for p in partners]
        next_cursor = partners[-1].id if partners else cursor
        return recipients, next_cursor, len(partners), len(partners) < limit
    res_ids = campaign.source_res_ids[cursor : cursor + limit]
    recipients = campaign._get_source_recipients(res_ids)
    seen = [partner.id for partner, _model, _id in recipients]
    if seen and cursor:  # a customer of an earlier chunk is not queued twice
        env.flush_all()
        env.cr.execute(
            "SELECT DISTINCT partner_id FROM messaging_message"
            " WHERE campaign_id = %s AND partner_id = ANY(%s)"
            " AND fallback_parent_id IS NULL AND create_date >= %s",
            [campaign.id, seen, campaign.enqueue_started_at],
        )
        queued = {row[0] for row in env.cr.fetchall()}
        recipients = [r for r in recipients if r[0].id not in queued]
    next_cursor = cursor + len(res_ids)
    finished = next_cursor >= len(campaign.source_res_ids)
    return recipients, next_cursor, len(res_ids), finished


def enqueue_recipients(campaign, recipients):
    """One queued message per recipient of ``recipients``; returns their
    ids."""
    campaign.ensure_one()
    if campaign.ab_state:
        return enqueue_ab_testing(campaign, recipients)
    if campaign.routing != "auto":
        return enqueue_on(
            campaign, campaign.channel_id, campaign.template_id, recipients
        )
    Message = campaign.env["messaging.message"]
    common = _common_values(campaign)
    ids = []
    groups = campaign._route_recipients(recipients)
    for (channel, template), group in groups.items():
        ids += Message._bulk_enqueue(channel, template, group, **common)
    return ids


def _common_values(campaign):
    return {
        "campaign_id": campaign.id,
        "company_id": campaign.company_id.id,
        "user_id": campaign.user_id.id,
        "scheduled_at": campaign.scheduled_at or fields.Datetime.now(),
    }


def enqueue_on(campaign, channel, template, recipients):
    """One queued message per recipient on ``channel`` with ``template``,
    then the campaign's fallback chain; returns their ids."""
    return campaign.env["messaging.message"]._bulk_enqueue(
        channel,
        template,
        recipients,
        fallback_chain=campaign._get_fallback_chain(),
        **_common_values(campaign),
    )


def enqueue_ab_testing(campaign, recipients):
    """A/B test (see ``ab_testing``): while testing, the test share of
    ``recipients`` on their variants, the others not queued; once decided,
    those not yet messaged with the winner. Returns the ids queued."""
    if campaign.ab_state == "decided":
        winner = campaign.ab_winner_id
        rest = ab_testing.not_yet_messaged(campaign, recipients)
        return enqueue_on(campaign, winner.channel_id, winner.template_id, rest)
    ids = []
    groups = ab_testing.split_test(campaign, progress_of(campaign), recipients)
    for variant, group in groups.items():
        if not group:
            continue
        variant_ids = enqueue_on(
            campaign, variant.channel_id, variant.template_id, group
        )
        ab_testing.mark_variant(campaign.env, variant, variant_ids)
        ids += variant_ids
    return ids


def with_fallback_children(env, ids):
    """``ids`` and the fallback messages created for them while queuing."""
    if not ids:
        return []
    env.flush_all()
    env.cr.execute(
        "SELECT id FROM messaging_message WHERE fallback_parent_id = ANY(%s)",
        [ids],
    )
    return ids + [row[0] for row in env.cr.fetchall()]


def skip_recently_messaged(campaign, message_ids):
    """The campaign's no re-send window, applied when it is activated (to
    ``message_ids``: the chunk just queued)."""
    campaign.ensure_one()
    if not campaign.resend_window_minutes:
        return
    queued = campaign.env["messaging.message"].search(
        [
            ("campaign_id", "=", campaign.id),
            ("state", "=", "queued"),
            ("id", "in", message_ids),
        ]
    )
    recent = campaign._get_recent_partner_ids(set(queued.partner_id.ids))
    queued.filtered(lambda m: m.partner_id.id in recent)._set_failed(
        "duplicate", campaign._get_recent_reason(), state="skipped"
    )


def hold_until_start(campaign, message_ids):
    """Fallback messages created while queuing (the primary channel refused
    the address at once) wait for the campaign's send date too
    (``message_ids``: the chunk just queued)."""
    campaign.ensure_one()
    if not campaign.scheduled_at or campaign.scheduled_at <= fields.Datetime.now():
        return
    env = campaign.env
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            UPDATE messaging_message SET scheduled_at = %(start)s
             WHERE campaign_id = %(id)s AND state = 'queued'
               AND scheduled_at < %(start)s AND %(only)s
            """,
            start=campaign.scheduled_at,
            id=campaign.id,
            only=_only_ids_sql(message_ids),
        )
    )
    env["messaging.message"].invalidate_model(["scheduled_at"])


def _only_ids_sql(message_ids):
    if message_ids is None:
        return SQL("TRUE")
    return SQL("id = ANY(%s)", list(message_ids))


def spread_schedule(campaign, start=None, message_ids=None, rank_offset=0):
    """The campaign's own spacing and daily cap: its queued messages (not yet
    tried) get send times ``min_interval_seconds`` apart and at most
    ``daily_cap`` per 24 hours from ``start``. The channels' own throttles
    still apply on top when the messages are sent.

    ``message_ids`` (a chunk just queued) are ranked after the
    ``rank_offset`` messages spread before them. Returns how many messages
    were spread (None: the campaign has no spacing nor cap).
    """
    campaign.ensure_one()
    interval = campaign.min_interval_seconds or 0.0
    cap = campaign.daily_cap or 0
    if not interval and not cap:
        return None
    now = fields.Datetime.now()
    start = start or max(campaign.scheduled_at or now, now)
    env = campaign.env
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            UPDATE messaging_message m
               SET scheduled_at = %(start)s + make_interval(secs => r.delay),
                   wait_code = CASE
                       WHEN %(cap)s > 0 AND r.rank >= %(cap)s THEN 'daily_cap'
                       WHEN r.delay > 0 THEN 'throttle' END
              FROM (SELECT n.id, n.rank,
                           GREATEST(
                               CASE WHEN %(cap)s > 0
                                    THEN (n.rank / %(cap)s) * 86400.0
                                         + mod(n.rank, %(cap)s) * %(interval)s
                                    ELSE 0 END,
                               n.rank * %(interval)s) AS delay
                      FROM (SELECT id,
                                   row_number() OVER (ORDER BY scheduled_at, id)
                                       - 1 + %(offset)s AS rank
                              FROM messaging_message
                             WHERE campaign_id = %(id)s
                               AND state = 'queued'
                               AND attempt_count = 0
                               AND %(only)s) n) r
             WHERE m.id = r.id
            """,
            start=start,
            cap=cap,
            interval=float(interval),
            id=campaign.id,
            offset=rank_offset,
            only=_only_ids_sql(message_ids),
        )
    )
    ranked = env.cr.rowcount
    env["messaging.message"].invalidate_model(["scheduled_at", "wait_code"])
    return ranked
