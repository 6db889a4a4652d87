"""A/B tests of a campaign, as Odoo's mass mailing does them for e-mail.

While the campaign tests (``ab_state`` ``testing``), each chunk of its
recipients puts ``ab_test_share`` percent of them into the test, spread
evenly over the variants (:func:`split_test`); the others are not queued at
all. At the decision (``messaging.campaign._cron_ab_decide`` or a Manager's
pick) the winner is chosen on the variants' messages (:func:`variant_stats`,
:func:`pick_winner`) and the rest of the audience is queued by the normal
chunked path with the winner's channel and template, leaving out whoever the
campaign already messaged (:func:`not_yet_messaged`).

The split is deterministic: the chunk's recipients are ordered by a hash of
(campaign, partner) and every ``100 / share``-th of the running count joins
the test, in turn on each variant. The running counts live on the
campaign's enqueue progress row and are moved in the chunk's transaction, so
a chunk queued again after a crash gets the same split.

Plain functions on campaign records or an environment: no fields, no models.
"""

import hashlib

from odoo.tools import SQL

# message states that count as sent (the denominator of the rates)
SENT_STATES = ("sent", "delivered", "read")


def _rank_key(campaign_id, partner_id):
    digest = hashlib.blake2b(
        b"%d:%d" % (campaign_id, partner_id), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big")


def split_test(campaign, progress, recipients):
    """{variant: [recipient]}: the test share of ``recipients`` (a chunk,
    as ``campaign_enqueue.recipient_chunk`` gives them), spread evenly over
    the campaign's variants. Moves the running counts of ``progress`` (the
    campaign's ``messaging.campaign.enqueue`` row)."""
    variants = campaign.ab_variant_ids.sorted()
    groups = {variant: [] for variant in variants}
    if not variants:
        return groups
    share = campaign.ab_test_share
    seen, tested = progress.ab_seen, progress.ab_tested
    ordered = sorted(recipients, key=lambda r: _rank_key(campaign.id, r[0].id))
    for recipient in ordered:
        seen += 1
        # exactly floor(seen * share / 100) recipients tested so far
        if seen * share // 100 > (seen - 1) * share // 100:
            groups[variants[tested % len(variants)]].append(recipient)
            tested += 1
    progress.write({"ab_seen": seen, "ab_tested": tested})
    return groups


def mark_variant(env, variant, message_ids):
    """Record ``variant`` on the messages ``message_ids`` and on the
    fallback messages already created for them (any depth)."""
    todo = list(message_ids)
    env.flush_all()
    while todo:
        env.cr.execute(
            "UPDATE messaging_message SET ab_variant_id = %s WHERE id = ANY(%s)",
            [variant.id, todo],
        )
        env.cr.execute(
            "SELECT id FROM messaging_message WHERE fallback_parent_id = ANY(%s)",
            [todo],
        )
        todo = [row[0] for row in env.cr.fetchall()]
    env["messaging.message"].invalidate_model(["ab_variant_id"])


def not_yet_messaged(campaign, recipients):
    """``recipients`` but those the campaign already messaged since it was
    activated (the test group)."""
    partner_ids = [r[0].id for r in recipients if r[0]]
    if not partner_ids:
        return recipients
    env = campaign.env
    env.flush_all()
    env.cr.execute(
        "SELECT DISTINCT partner_id FROM messaging_message"
        " WHERE campaign_id = %s AND partner_id = ANY(%s) AND create_date >= %s",
        [campaign.id, partner_ids, campaign.enqueue_started_at],
    )
    messaged = {row[0] for row in env.cr.fetchall()}
    return [r for r in recipients if not r[0] or r[0].id not in messaged]


def variant_stats(campaigns):
    """{variant id: figures} of the variants of ``campaigns``, from their
    messages (fallbacks included) and the orders attributed to them, in two
    grouped queries: recipients, sent, delivered, read, clicked, cost,
    revenue and the rates."""
    env = campaigns.env
    ids = campaigns._origin.ids
    if not ids:
        return {}
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            SELECT m.ab_variant_id,
                   count(*) FILTER (WHERE m.fallback_parent_id IS NULL),
                   count(*) FILTER (WHERE m.state IN %(sent)s),
                   count(*) FILTER (WHERE m.state IN ('delivered', 'read')),
                   count(*) FILTER (WHERE m.state = 'read'),
                   count(*) FILTER (WHERE m.click_count > 0),
                   COALESCE(sum(m.cost), 0)
              FROM messaging_message m
              JOIN messaging_campaign_variant v ON v.id = m.ab_variant_id
             WHERE v.campaign_id = ANY(%(ids)s)
             GROUP BY m.ab_variant_id
            """,
            sent=SENT_STATES,
            ids=ids,
        )
    )
    stats = {}
    for (
        variant_id,
        recipients,
        sent,
        delivered,
        read,
        clicked,
        cost,
    ) in env.cr.fetchall():
        stats[variant_id] = {
            "recipients": recipients,
            "sent": sent,
            "delivered": delivered,
            "read": read,
            "clicked": clicked,
            "cost": cost,
            "revenue": 0.0,
        }
    env.cr.execute(
        """
        SELECT m.ab_variant_id, COALESCE(sum(s.amount), 0)
          FROM messaging_campaign_sale s
          JOIN messaging_message m ON m.id = s.message_id
         WHERE s.campaign_id = ANY(%s) AND m.ab_variant_id IS NOT NULL
         GROUP BY m.ab_variant_id
        """,
        [ids],
    )
    for variant_id, revenue in env.cr.fetchall():
        stats.setdefault(variant_id, empty_stats())["revenue"] = revenue
    for figures in stats.values():
        sent = figures["sent"]
        figures["delivered_rate"] = _rate(figures["delivered"], sent)
        figures["read_rate"] = _rate(figures["read"], sent)
        figures["click_rate"] = _rate(figures["clicked"], sent)
    return stats


def empty_stats():
    """The figures of a variant without messages."""
    return dict.fromkeys(
        (
            "recipients",
            "sent",
            "delivered",
            "read",
            "clicked",
            "cost",
            "revenue",
            "delivered_rate",
            "read_rate",
            "click_rate",
        ),
        0,
    )


def _rate(part, whole):
    return 100.0 * part / whole if whole else 0.0


# criterion -> the figure of variant_stats it compares
CRITERION_FIGURE = {"read": "read_rate", "click": "click_rate", "revenue": "revenue"}


def pick_winner(campaign):
    """The campaign's variant with the best figure by its criterion (ties:
    the first variant)."""
    campaign.ensure_one()
    variants = campaign.ab_variant_ids.sorted()
    stats = variant_stats(campaign)
    figure = CRITERION_FIGURE[campaign.ab_winner_criterion]
    best = variants[:1]
    best_value = None
    for variant in variants:
        value = stats.get(variant.id, {}).get(figure, 0.0) or 0.0
        if best_value is None or value > best_value:
            best, best_value = variant, value
    return best
