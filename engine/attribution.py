"""Which confirmed orders a campaign brought in (``messaging.campaign.sale``).

A campaign's results are recomputed by passes: a pass walks the company's
confirmed orders placed in the campaign's window (from its first message
sent to ``attribution_days`` after its last one), a chunk of order ids at a
time, each chunk in one transaction that replaces the rows of its id range
(so an order cancelled or moved out of the window since the last pass drops
out, and a pass cut by a crash starts again where it stopped). An order
counts once per campaign:

1. ``utm``: it carries the campaign's UTM campaign (Odoo puts it on orders
   placed from a tracked link), whoever placed it; attached to the
   customer's message when they got one before the order, in its window;
2. ``click``: its customer clicked a link of a message of the campaign that
   reached them, sent at most ``attribution_days`` before the order;
3. ``read``: likewise, its customer read that message.

Amounts are untaxed, in the company's currency, converted at the order's
rate (``sale.order.currency_rate``) as Odoo's sales analysis does.

Passes run in the results cron (``messaging.campaign._cron_compute_results``
-> :func:`cron_compute`), time-boxed, committed chunk by chunk, re-triggered
while work remains: for campaigns still sending or whose window is open
(plus :data:`MARGIN_DAYS`), and for those whose results a Manager asked to
refresh. Plain functions on campaign records or an environment.
"""

import time
from datetime import timedelta

from odoo import fields
from odoo.tools import SQL

from . import campaign_enqueue, transaction

# orders looked at per transaction
CHUNK_SIZE = 2000
# seconds one run of the results cron works before it re-triggers itself
TIME_LIMIT = 30
# days after a campaign's window closes during which it is still refreshed
# (orders confirmed late, cancellations)
MARGIN_DAYS = 2
# a campaign with an open window is recomputed at most this often
REFRESH_EVERY = timedelta(minutes=50)
# message states of a message that reached its recipient
REACHED_STATES = ("sent", "delivered", "read")
# campaign states whose messages may have gone out
SENT_STATES = ("running", "paused", "done", "cancelled")


def chunk_size(env):
    return env.context.get("messaging_results_chunk_size") or CHUNK_SIZE


def retrigger_cron(env):
    campaign_enqueue.trigger_cron(
        env, "multichannel_messaging.ir_cron_messaging_campaign_results"
    )


def due_campaigns(env, now=None):
    """Campaigns whose results are to be computed (again) now: a pass under
    way, a refresh asked for, or a window still open (and not computed in
    the last :data:`REFRESH_EVERY`)."""
    now = now or fields.Datetime.now()
    return env["messaging.campaign"].search(
        [
            ("state", "in", SENT_STATES),
            "|",
            "|",
            ("results_pass_running", "=", True),
            ("results_requested", "=", True),
            "&",
            "|",
            ("results_refreshed_at", "=", False),
            ("results_refreshed_at", "<", now - REFRESH_EVERY),
            "|",
            "|",
            ("state", "in", ("running", "paused")),
            ("results_window_end", "=", False),
            ("results_window_end", ">=", now - timedelta(days=MARGIN_DAYS)),
        ],
        order="id",
    )


def cron_compute(env, time_limit=TIME_LIMIT, max_chunks=None):
    """Run the due campaigns' passes, one committed chunk at a time, for
    ``time_limit`` seconds (or ``max_chunks`` chunks); re-triggers itself
    while work remains. Returns the number of chunks done."""
    auto_commit = env["messaging.message"]._auto_commit()
    deadline = time.monotonic() + time_limit if time_limit else None
    chunks = 0
    campaign_ids = due_campaigns(env).ids
    Campaign = env["messaging.campaign"]
    for campaign_id in campaign_ids:
        campaign = Campaign.browse(campaign_id)
        finished = False
        while not finished:
            if (deadline is not None and time.monotonic() >= deadline) or (
                max_chunks is not None and chunks >= max_chunks
            ):
                retrigger_cron(env)
                return chunks
            finished = step(campaign)
            chunks += 1
            if auto_commit:
                # the chunk's rows and the cursor past them, for good
                transaction.commit(env, read_committed=False)
            # flat memory: nothing of the chunk stays in the cache
            env.flush_all()
            env.invalidate_all()
    return chunks


def compute_all(campaigns):
    """Whole passes for ``campaigns`` in this transaction (tests, small
    campaigns)."""
    for campaign in campaigns:
        start_pass(campaign)
        while not step(campaign):
            pass


def start_pass(campaign):
    """Start a pass: the campaign's window from its messages that reached
    their recipients, the cursor before the first order."""
    env = campaign.env
    env.flush_all()
    env.cr.execute(
        "SELECT min(sent_at), max(sent_at) FROM messaging_message"
        " WHERE campaign_id = %s AND sent_at IS NOT NULL AND state IN %s",
        [campaign.id, REACHED_STATES],
    )
    first, last = env.cr.fetchone()
    end = last and last + timedelta(days=campaign.attribution_days)
    campaign.sudo().write(
        {
            "results_pass_running": True,
            "results_cursor": 0,
            "results_window_start": first,
            "results_window_end": end,
        }
    )


def step(campaign):
    """One chunk of the campaign's pass (started first when none is under
    way). Returns whether the pass is finished."""
    campaign = campaign.sudo()
    if not campaign.results_pass_running:
        start_pass(campaign)
    env = campaign.env
    env.flush_all()
    cursor = campaign.results_cursor
    order_ids = []
    if campaign.results_window_start:
        env.cr.execute(
            """
            SELECT id FROM sale_order
             WHERE company_id = %s AND state = 'sale'
               AND date_order >= %s AND date_order < %s AND id > %s
             ORDER BY id LIMIT %s
            """,
            [
                campaign.company_id.id,
                campaign.results_window_start,
                campaign.results_window_end,
                cursor,
                chunk_size(env),
            ],
        )
        order_ids = [row[0] for row in env.cr.fetchall()]
    if not order_ids:
        _delete_rows(campaign, cursor, None)
        campaign.write(
            {
                "results_pass_running": False,
                "results_requested": False,
                "results_refreshed_at": fields.Datetime.now(),
            }
        )
        return True
    _delete_rows(campaign, cursor, order_ids[-1])
    _insert_rows(campaign, order_ids)
    campaign.results_cursor = order_ids[-1]
    return False


def _delete_rows(campaign, after, until):
    """Drop the campaign's rows of orders with ``after < id <= until``
    (``until`` None: no upper bound)."""
    env = campaign.env
    env.cr.execute(
        SQL(
            "DELETE FROM messaging_campaign_sale WHERE campaign_id = %s"
            " AND order_id > %s %s",
            campaign.id,
            after,
            SQL("AND order_id <= %s", until) if until is not None else SQL(),
        )
    )
    env["messaging.campaign.sale"].invalidate_model()


def _insert_rows(campaign, order_ids):
    """The attributed orders among ``order_ids``, one statement; then the
    fallback step of the messages they are attributed to."""
    env = campaign.env
    env.cr.execute(
        SQL(
            """
            INSERT INTO messaging_campaign_sale
                   (campaign_id, company_id, message_id, order_id, partner_id,
                    channel_id, step, attribution, date_order, amount,
                    create_uid, write_uid, create_date, write_date)
            SELECT %(campaign)s, so.company_id, m.id, so.id, so.partner_id,
                   m.channel_id, 0,
                   CASE WHEN so.campaign_id = %(utm)s THEN 'utm'
                        WHEN m.click_count > 0 THEN 'click'
                        ELSE 'read' END,
                   so.date_order,
                   COALESCE(so.amount_untaxed, 0)
                     / CASE COALESCE(so.currency_rate, 0)
                       WHEN 0 THEN 1.0 ELSE so.currency_rate END,
                   %(uid)s, %(uid)s,
                   (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC')
              FROM sale_order so
              LEFT JOIN LATERAL (
                    SELECT msg.id, msg.channel_id, msg.click_count, msg.state
                      FROM messaging_message msg
                     WHERE msg.campaign_id = %(campaign)s
                       AND msg.partner_id = so.partner_id
                       AND msg.state IN %(reached)s
                       AND msg.sent_at <= so.date_order
                       AND so.date_order
                           < msg.sent_at + %(days)s * INTERVAL '1 day'
                     ORDER BY COALESCE(msg.click_count, 0) > 0 DESC,
                              msg.state = 'read' DESC,
                              msg.sent_at DESC, msg.id DESC
                     LIMIT 1
                   ) m ON TRUE
             WHERE so.id = ANY(%(orders)s)
               AND (so.campaign_id = %(utm)s
                    OR m.click_count > 0 OR m.state = 'read')
            """,
            campaign=campaign.id,
            utm=campaign.utm_campaign_id.id or 0,
            uid=env.uid,
            reached=REACHED_STATES,
            days=campaign.attribution_days,
            orders=order_ids,
        )
    )
    if env.cr.rowcount:
        _set_steps(campaign, order_ids)


def _set_steps(campaign, order_ids):
    """``step`` of the rows of ``order_ids``: how many fallback parents
    their message has (0: the campaign's primary channel)."""
    campaign.env.cr.execute(
        """
        WITH RECURSIVE chain(row_id, parent_id, depth) AS (
            SELECT s.id, m.fallback_parent_id, 0
              FROM messaging_campaign_sale s
              JOIN messaging_message m ON m.id = s.message_id
             WHERE s.campaign_id = %(campaign)s AND s.order_id = ANY(%(orders)s)
            UNION ALL
            SELECT c.row_id, m.fallback_parent_id, c.depth + 1
              FROM chain c
              JOIN messaging_message m ON m.id = c.parent_id
             WHERE c.depth < 50
        )
        UPDATE messaging_campaign_sale s
           SET step = d.depth
          FROM (SELECT row_id, max(depth) AS depth FROM chain GROUP BY row_id) d
         WHERE s.id = d.row_id AND d.depth > 0
        """,
        {"campaign": campaign.id, "orders": order_ids},
    )


def attribute_orders(orders):
    """Count ``orders`` (just confirmed) in the results of the campaigns that
    brought them, at once: those whose UTM campaign they carry, and those
    whose message reached their customer before them, within the campaign's
    window. The work is per order (one indexed query to find the
    campaigns), never per recipient; the results cron's passes agree."""
    orders = orders.filtered(lambda o: o.state == "sale")
    if not orders:
        return
    env = orders.env
    env.flush_all()
    env.cr.execute(
        """
        SELECT c.id, so.id
          FROM sale_order so
          JOIN messaging_campaign c
            ON c.company_id = so.company_id AND c.state IN %(states)s
         WHERE so.id = ANY(%(orders)s)
           AND (c.utm_campaign_id = so.campaign_id
                OR EXISTS (
                    SELECT 1 FROM messaging_message m
                     WHERE m.campaign_id = c.id
                       AND m.partner_id = so.partner_id
                       AND m.state IN %(reached)s
                       AND m.sent_at <= so.date_order
                       AND so.date_order
                           < m.sent_at + c.attribution_days * INTERVAL '1 day'))
        """,
        {"states": SENT_STATES, "reached": REACHED_STATES, "orders": orders.ids},
    )
    by_campaign = {}
    for campaign_id, order_id in env.cr.fetchall():
        by_campaign.setdefault(campaign_id, []).append(order_id)
    Campaign = env["messaging.campaign"].sudo()
    for campaign_id, order_ids in by_campaign.items():
        campaign = Campaign.browse(campaign_id)
        forget_orders(campaign, order_ids)
        _insert_rows(campaign, order_ids)


def forget_orders(campaigns, order_ids):
    """Drop the rows of ``order_ids`` (cancelled, or counted again) from
    ``campaigns``' results (all campaigns when empty)."""
    env = campaigns.env
    env.cr.execute(
        SQL(
            "DELETE FROM messaging_campaign_sale WHERE order_id = ANY(%s) %s",
            list(order_ids),
            SQL("AND campaign_id = ANY(%s)", campaigns.ids) if campaigns else SQL(),
        )
    )
    env["messaging.campaign.sale"].invalidate_model()
