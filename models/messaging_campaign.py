import math
import time
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from ..engine import rendering
from ..engine import routing as router  # the campaign has a field "routing"
from .models import MANAGER_GROUP, USER_GROUP

COUNTED_STATES = [
    "queued",
    "sending",
    "sent",
    "delivered",
    "read",
    "failed",
    "cancelled",
    "skipped",
    "unknown",
]
# why a recipient gets nothing, as shown before activation
EXCLUSION_REASONS = ("opt_out", "no_address", "invalid_address", "duplicate")
# above this many recipients, the live estimate is computed on an even sample
PREVIEW_SAMPLE_SIZE = 2000
# rows of the recipient preview (excluded recipients first)
PREVIEW_LINE_LIMIT = 2000
# recipients queued per transaction by the enqueue cron; a campaign with at
# most this many recipients is queued inline when it is activated
ENQUEUE_CHUNK_SIZE = 5000
# seconds one run of the enqueue cron works before it re-triggers itself
ENQUEUE_TIME_LIMIT = 30


class MessagingCampaign(models.Model):
    _name = "messaging.campaign"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Messaging Campaign"
    _order = "id desc"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    user_id = fields.Many2one(
        "res.users", "Responsible", default=lambda self: self.env.user, tracking=True
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("waiting", "Waiting for activation"),
            ("running", "Running"),
            ("paused", "Paused"),
            ("done", "Done"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )
    segment_ids = fields.Many2many("messaging.segment", string="Customer groups")
    extra_domain = fields.Char(
        "Extra conditions",
        default="[]",
        help="Further conditions on the contacts of the customer groups.",
    )
    res_model = fields.Char(
        "Source model",
        default="res.partner",
        help="Model of the source records (contacts or sale orders).",
    )
    source_res_ids = fields.Json(
        help="Source records picked by hand (bulk send from a list)."
    )
    source_count = fields.Integer("Source records", compute="_compute_source_count")
    channel_id = fields.Many2one("messaging.channel", tracking=True)
    channel_type = fields.Selection(related="channel_id.channel_type")
    template_id = fields.Many2one(
        "messaging.template",
        domain="[('channel_type', '=', channel_type), ('model', '=', res_model)]",
        tracking=True,
    )
    routing = fields.Selection(
        [
            ("fixed", "Channel, then the fallback chain"),
            ("auto", "Automatic: cheapest route per customer"),
        ],
        default="fixed",
        required=True,
        help="Automatic: each customer gets the cheapest of the campaign's "
        "channels they can be reached on (free Zalo consultation, paid "
        "consultation, ZBS by user id or phone, SMS, then e-mail); the others "
        "become their fallback chain.",
    )
    fallback_ids = fields.One2many(
        "messaging.campaign.fallback", "campaign_id", "Fallback chain", copy=True
    )
    scheduled_at = fields.Datetime(
        "Send at",
        tracking=True,
        help="Leave empty to start as soon as the campaign is activated.",
    )
    # throttle overrides (on top of the channels' own limits)
    min_interval_seconds = fields.Float(
        "Seconds between messages",
        help="This campaign's messages are scheduled at least this far apart "
        "(0 = only the channel's spacing applies).",
    )
    daily_cap = fields.Integer(
        "Messages per day",
        help="At most this many of this campaign's messages per 24 hours from "
        "the start: the rest is scheduled on the following days (0 = only the "
        "channel's daily cap applies).",
    )
    resend_window_minutes = fields.Integer(
        "No re-send window (minutes)",
        help="Contacts who already received one of this campaign's templates "
        "within this many minutes are skipped when the campaign is activated "
        "(0 = only the channel's window applies, to marketing messages).",
    )
    message_ids_sent = fields.One2many(
        "messaging.message", "campaign_id", string="Campaign messages"
    )
    # estimate: live before activation, the figures at activation afterwards
    estimate_data = fields.Json(readonly=True, copy=False)
    recipient_count = fields.Integer(compute="_compute_estimate")
    reachable_count = fields.Integer("Will receive", compute="_compute_estimate")
    excluded_count = fields.Integer("Excluded", compute="_compute_estimate")
    excluded_opt_out_count = fields.Integer("Opted out", compute="_compute_estimate")
    excluded_no_address_count = fields.Integer(
        "No address", compute="_compute_estimate"
    )
    excluded_invalid_address_count = fields.Integer(
        "Invalid address", compute="_compute_estimate"
    )
    excluded_duplicate_count = fields.Integer(
        "Messaged recently", compute="_compute_estimate"
    )
    estimate_sampled = fields.Boolean(compute="_compute_estimate")
    estimated_cost = fields.Monetary(compute="_compute_estimate")
    eta_days = fields.Integer(
        "Days to send",
        compute="_compute_estimate",
        help="Implied by the channels' and the campaign's daily caps and spacing.",
    )
    eta_text = fields.Char("Estimated duration", compute="_compute_estimate")
    estimate_html = fields.Html(
        "Estimate per channel", compute="_compute_estimate", sanitize=False
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    # live counters
    count_total = fields.Integer("Message count", compute="_compute_counters")
    count_queued = fields.Integer("Queued", compute="_compute_counters")
    count_sent = fields.Integer("Sent", compute="_compute_counters")
    count_delivered = fields.Integer("Delivered", compute="_compute_counters")
    count_read = fields.Integer("Read", compute="_compute_counters")
    count_failed = fields.Integer("Failed", compute="_compute_counters")
    count_unknown = fields.Integer(
        "Outcome unknown",
        compute="_compute_counters",
        help="Included in Failed: no answer came back, the recipient may have "
        "received it; waiting for a receipt or a Manager's decision.",
    )
    count_skipped = fields.Integer("Skipped", compute="_compute_counters")
    count_fallback = fields.Integer("Fell back", compute="_compute_counters")
    count_replied = fields.Integer(
        "Replied",
        compute="_compute_replied",
        help="Recipients who wrote back after their message was sent: a Zalo "
        "interaction with the OA (per the contact's Zalo identity), or a "
        "message of theirs in the chatter of the contact or of the document "
        "(e-mail replies, inbound Zalo messages).",
    )
    actual_cost = fields.Monetary(compute="_compute_counters")
    progress = fields.Float(compute="_compute_counters")
    delivered_rate = fields.Float("Delivered %", compute="_compute_counters")
    read_rate = fields.Float("Read %", compute="_compute_counters")
    replied_rate = fields.Float("Replied %", compute="_compute_replied")
    report_html = fields.Html(
        "Report per channel", compute="_compute_report_html", sanitize=False
    )
    # background enqueue (activation returns at once, a cron queues the
    # recipients chunk by chunk)
    enqueue_state = fields.Selection(
        [
            ("enqueuing", "Queuing recipients"),
            ("done", "All recipients queued"),
            ("stopped", "Stopped"),
        ],
        readonly=True,
        copy=False,
    )
    enqueue_total = fields.Integer("Recipients to queue", readonly=True, copy=False)
    enqueue_done = fields.Integer(
        "Recipients queued", compute="_compute_enqueue_progress", compute_sudo=True
    )
    enqueue_progress = fields.Float(
        compute="_compute_enqueue_progress", compute_sudo=True
    )
    enqueue_user_id = fields.Many2one(
        "res.users",
        readonly=True,
        copy=False,
        help="Who activated the campaign: recipients are searched as this user.",
    )
    enqueue_started_at = fields.Datetime(readonly=True, copy=False)

    _sql_constraints = [
        (
            "throttle_overrides_positive",
            "CHECK(min_interval_seconds >= 0 AND daily_cap >= 0 "
            "AND resend_window_minutes >= 0)",
            "Throttle overrides cannot be negative.",
        ),
    ]

    @api.constrains("extra_domain")
    def _check_extra_domain(self):
        for campaign in self:
            campaign._get_extra_domain()

    @api.constrains("channel_id", "template_id")
    def _check_template(self):
        for campaign in self:
            router.check_template_channel(campaign.template_id, campaign.channel_id)

    @api.depends("source_res_ids")
    def _compute_source_count(self):
        for campaign in self:
            campaign.source_count = len(campaign.source_res_ids or [])

    @api.depends(
        "state",
        "estimate_data",
        "segment_ids",
        "segment_ids.domain",
        "extra_domain",
        "res_model",
        "source_res_ids",
        "channel_id",
        "template_id",
        "routing",
        "fallback_ids",
        "fallback_ids.channel_id",
        "fallback_ids.template_id",
        "min_interval_seconds",
        "daily_cap",
        "resend_window_minutes",
    )
    def _compute_estimate(self):
        for campaign in self:
            estimate = campaign._get_estimate()
            excluded = estimate["excluded"]
            campaign.recipient_count = estimate["recipients"]
            campaign.reachable_count = estimate["reachable"]
            campaign.excluded_count = sum(excluded.values())
            campaign.excluded_opt_out_count = excluded.get("opt_out", 0)
            campaign.excluded_no_address_count = excluded.get("no_address", 0)
            campaign.excluded_invalid_address_count = excluded.get("invalid_address", 0)
            campaign.excluded_duplicate_count = excluded.get("duplicate", 0)
            campaign.estimate_sampled = estimate["sampled"]
            campaign.estimated_cost = estimate["cost"]
            campaign.eta_days = estimate["eta_days"]
            campaign.eta_text = estimate["eta_text"]
            campaign.estimate_html = campaign._render_estimate_html(estimate)

    @api.depends("message_ids_sent.state", "message_ids_sent.cost")
    def _compute_counters(self):
        channels = self._get_channel_counts()
        for campaign in self:
            lines = channels.get(campaign._origin, {})
            counts = dict.fromkeys(COUNTED_STATES, 0)
            for line in lines.values():
                for state, count in line["states"].items():
                    counts[state] += count
            total = sum(counts.values())
            reached = counts["sent"] + counts["delivered"] + counts["read"]
            campaign.count_total = total
            campaign.count_queued = counts["queued"] + counts["sending"]
            campaign.count_sent = reached
            campaign.count_delivered = counts["delivered"] + counts["read"]
            campaign.count_read = counts["read"]
            campaign.count_failed = counts["failed"] + counts["unknown"]
            campaign.count_unknown = counts["unknown"]
            campaign.count_skipped = counts["skipped"] + counts["cancelled"]
            campaign.count_fallback = sum(line["fallback"] for line in lines.values())
            campaign.actual_cost = sum(line["cost"] for line in lines.values())
            campaign.progress = (
                100.0 * (total - campaign.count_queued) / total if total else 0.0
            )
            campaign.delivered_rate = (
                100.0 * campaign.count_delivered / reached if reached else 0.0
            )
            campaign.read_rate = (
                100.0 * campaign.count_read / reached if reached else 0.0
            )

    @api.depends("message_ids_sent.state", "message_ids_sent.sent_at")
    def _compute_replied(self):
        replied = self._get_replied()
        for campaign in self:
            partners = set()
            for (campaign_id, _channel_id), partner_ids in replied.items():
                if campaign_id == campaign._origin.id:
                    partners |= partner_ids
            campaign.count_replied = len(partners)
            campaign.replied_rate = (
                100.0 * len(partners) / campaign.count_sent
                if campaign.count_sent
                else 0.0
            )

    @api.depends("message_ids_sent.state", "message_ids_sent.cost", "estimate_data")
    def _compute_report_html(self):
        channels = self._get_channel_counts()
        replied = self._get_replied()
        for campaign in self:
            lines = channels.get(campaign._origin, {})
            for channel, line in lines.items():
                key = (campaign._origin.id, channel.id)
                line["replied"] = len(replied.get(key, ()))
            campaign.report_html = campaign._render_report_html(lines)

    @api.depends("enqueue_state", "enqueue_total")
    def _compute_enqueue_progress(self):
        progress = {
            row.campaign_id: row
            for row in self.env["messaging.campaign.enqueue"].search(
                [("campaign_id", "in", self._origin.ids)]
            )
        }
        for campaign in self:
            row = progress.get(campaign._origin)
            campaign.enqueue_done = row.done if row else 0
            total = campaign.enqueue_total
            campaign.enqueue_progress = (
                min(100.0, 100.0 * campaign.enqueue_done / total) if total else 0.0
            )

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        return [
            dict(vals, name=self.env._("%s (copy)", campaign.name))
            for campaign, vals in zip(self, vals_list, strict=True)
        ]

    # ------------------------------------------------------------------
    # Recipients
    # ------------------------------------------------------------------

    def _get_extra_domain(self):
        self.ensure_one()
        try:
            domain = safe_eval(
                self.extra_domain or "[]",
                self.env["messaging.segment"]._get_eval_context(),
            )
            self.env["res.partner"]._where_calc(domain)
            return domain
        except Exception as exc:
            raise ValidationError(
                _("The extra conditions of campaign %(name)s are not valid: %(error)s")
                % {"name": self.name, "error": exc}
            ) from exc

    def _get_recipients(self):
        """[(partner, res_model, res_id)] de-duplicated by partner."""
        self.ensure_one()
        if self.source_res_ids:
            records = self.env[self.res_model].browse(self.source_res_ids).exists()
            result, seen = [], set()
            for record in records:
                partner = record._messaging_get_partner()
                if partner and partner.id not in seen:
                    seen.add(partner.id)
                    result.append((partner, record._name, record.id))
            return result
        if not self.segment_ids:
            return []
        partners = self.env["res.partner"].search(
            self._get_recipient_domain(), order="id"
        )
        return [(p, "res.partner", p.id) for p in partners]

    def _get_recipient_domain(self):
        """The contacts of the customer groups (and the extra conditions)."""
        self.ensure_one()
        domain = expression.OR(
            [segment._get_partner_domain() for segment in self.segment_ids]
        )
        extra = self._get_extra_domain()
        if extra:
            domain = expression.AND([domain, extra])
        return domain

    def _has_recipients(self):
        """Whether the campaign has a recipient, without loading them all."""
        self.ensure_one()
        if self.source_res_ids:
            Model = self.env[self.res_model]
            for start in range(0, len(self.source_res_ids), 1000):
                records = Model.browse(self.source_res_ids[start : start + 1000])
                if any(r._messaging_get_partner() for r in records.exists()):
                    return True
            return False
        if not self.segment_ids:
            return False
        return bool(
            self.env["res.partner"].search(self._get_recipient_domain(), limit=1)
        )

    def _count_recipients(self):
        """Recipients to queue (source records picked by hand: the records,
        several of which may share a customer)."""
        self.ensure_one()
        if self.source_res_ids:
            return len(self.source_res_ids)
        if not self.segment_ids:
            return 0
        return self.env["res.partner"].search_count(self._get_recipient_domain())

    def _get_recipient_chunk(self, cursor, limit):
        """(recipients, next cursor, processed, finished): the next ``limit``
        recipients after ``cursor`` as [(partner, res_model, res_id)], in the
        order of ``_get_recipients`` (contacts by id: keyset pagination;
        source records by position), none already queued by this campaign."""
        self.ensure_one()
        if not self.source_res_ids:
            if not self.segment_ids:
                return [], cursor, 0, True
            partners = self.env["res.partner"].search(
                expression.AND([self._get_recipient_domain(), [("id", ">", cursor)]]),
                order="id",
                limit=limit,
            )
            recipients = [(p, "res.partner", p.id) for p in partners]
            next_cursor = partners[-1].id if partners else cursor
            return recipients, next_cursor, len(partners), len(partners) < limit
        res_ids = self.source_res_ids[cursor : cursor + limit]
        records = self.env[self.res_model].browse(res_ids).exists()
        recipients, seen = [], set()
        for record in records:
            partner = record._messaging_get_partner()
            if partner and partner.id not in seen:
                seen.add(partner.id)
                recipients.append((partner, record._name, record.id))
        if seen and cursor:  # a customer of an earlier chunk is not queued twice
            self.env.flush_all()
            self.env.cr.execute(
                "SELECT DISTINCT partner_id FROM messaging_message"
                " WHERE campaign_id = %s AND partner_id = ANY(%s)"
                " AND fallback_parent_id IS NULL AND create_date >= %s",
                [self.id, list(seen), self.enqueue_started_at],
            )
            queued = {row[0] for row in self.env.cr.fetchall()}
            recipients = [r for r in recipients if r[0].id not in queued]
        next_cursor = cursor + len(res_ids)
        finished = next_cursor >= len(self.source_res_ids)
        return recipients, next_cursor, len(res_ids), finished

    def _get_recent_partner_ids(self, partner_ids):
        """Contacts who got one of this campaign's templates within the
        campaign's no re-send window (from another campaign or by hand)."""
        self.ensure_one()
        if not self.resend_window_minutes or not partner_ids:
            return set()
        since = fields.Datetime.now() - timedelta(minutes=self.resend_window_minutes)
        templates = [
            template.id for _channel, template in self._get_steps() if template
        ]
        if not templates:
            return set()
        domain = [
            ("partner_id", "in", list(partner_ids)),
            ("template_id", "in", templates),
            ("state", "in", ("sending", "sent", "delivered", "read")),
            ("sent_at", ">=", since),
        ]
        if self._origin.id:
            domain.append(("campaign_id", "!=", self._origin.id))
        groups = (
            self.env["messaging.message"].sudo()._read_group(domain, ["partner_id"])
        )
        return {partner.id for (partner,) in groups}

    def _get_recent_reason(self):
        return (
            _(
                "Already received one of this campaign's templates within the last "
                "%s minutes."
            )
            % self.resend_window_minutes
        )

    def _simulate_recipients(self, recipients):
        """Where each recipient would go, without queuing anything.

        Follows the queue's own rules (the router, ``engine/routing.py``:
        opt-outs, no or invalid address; the fallback chain or the automatic
        routing; the campaign's no re-send window). Returns one dict per
        recipient with partner, res_model, res_id, channel, template, route,
        address, failure (a failure type or None), reason and cost.
        """
        self.ensure_one()
        steps = self._get_steps()
        category = self.template_id.category or "marketing"
        fixed = self.routing == "fixed"
        recent = self._get_recent_partner_ids({r[0].id for r in recipients})
        results = []
        for partner, res_model, res_id in recipients:
            result = {
                "partner": partner,
                "res_model": res_model,
                "res_id": res_id,
                "channel": self.env["messaging.channel"],
                "template": self.env["messaging.template"],
                "route": False,
                "address": False,
                "failure": None,
                "reason": False,
                "cost": 0.0,
            }
            results.append(result)
            if partner.id in recent:
                result.update(failure="duplicate", reason=self._get_recent_reason())
                continue
            options, failures = router.rank_routes(steps, partner, category, fixed)
            if not options:
                # fixed: the chain's last refusal; automatic: queued on the
                # primary step and refused there
                failure, text = failures[-1 if fixed else 0]
                result.update(failure=failure, reason=text)
                continue
            best = options[0]
            result.update(
                channel=best.channel,
                template=best.template,
                route=best.route,
                address=best.address,
                cost=best.rank[1],
            )
        return results

    def _get_estimate(self):
        """Recipients, exclusions, cost and ETA: the figures kept at
        activation once activated, else computed now."""
        self.ensure_one()
        if self.state not in ("draft", "waiting") and self.estimate_data:
            return self.estimate_data
        if self.enqueue_state == "enqueuing":
            # the figures come when all recipients are queued (not recomputed
            # on a large audience at each reading meanwhile)
            return self._summarize_estimate([], self.enqueue_total)
        try:
            return self._get_live_estimate()
        except (UserError, ValidationError):
            return self._summarize_estimate([], 0)

    def _get_live_estimate(self):
        self.ensure_one()
        recipients = self._get_recipients()
        total = len(recipients)
        if not self.channel_id:
            return self._summarize_estimate([], total)
        sample = recipients
        if total > PREVIEW_SAMPLE_SIZE:
            step = total / PREVIEW_SAMPLE_SIZE
            sample = [recipients[int(i * step)] for i in range(PREVIEW_SAMPLE_SIZE)]
        outcomes = [
            (r["channel"], r["failure"], r["cost"], 1)
            for r in self._simulate_recipients(sample)
        ]
        return self._summarize_estimate(
            outcomes, total, sampled=sample is not recipients
        )

    def _get_enqueued_estimate(self):
        """The estimate from the rows just queued: for each recipient, the
        last step of its chain queued so far (sent to, or why not)."""
        self.ensure_one()
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT m.channel_id, m.template_id, m.route, m.state, m.failure_type,
                   count(*),
                   CASE WHEN m.route = 'consultation' AND m.state = 'queued'
                        THEN array_agg(m.partner_id) END
              FROM messaging_message m
             WHERE m.campaign_id = %s
               AND NOT EXISTS (SELECT 1 FROM messaging_message c
                                WHERE c.fallback_parent_id = m.id)
             GROUP BY 1, 2, 3, 4, 5
            """,
            [self.id],
        )
        outcomes = []
        for row in self.env.cr.fetchall():
            channel_id, template_id, route, state, failure, count, partner_ids = row
            channel = self.env["messaging.channel"].browse(channel_id)
            template = self.env["messaging.template"].browse(template_id)
            if state != "queued":
                outcomes.append((None, failure or state, 0.0, count))
            elif route == "consultation":  # the price depends on each window
                for partner in self.env["res.partner"].browse(partner_ids):
                    cost = router.route_cost(channel, template, route, partner)
                    outcomes.append((channel, None, cost, 1))
            else:
                cost = router.route_cost(channel, template, route)
                outcomes.append((channel, None, cost * count, count))
        self.env.cr.execute(
            "SELECT count(*) FROM messaging_message"
            " WHERE campaign_id = %s AND fallback_parent_id IS NULL",
            [self.id],
        )
        return self._summarize_estimate(outcomes, self.env.cr.fetchone()[0])

    def _summarize_estimate(self, outcomes, recipients, sampled=False):
        """A JSON-ready estimate from (channel or None, failure type or None,
        cost, count) outcomes; counts are scaled up when ``sampled``."""
        self.ensure_one()
        seen = sum(count for _c, _f, _cost, count in outcomes)
        factor = recipients / seen if sampled and seen else 1.0
        excluded = dict.fromkeys(EXCLUSION_REASONS, 0)
        channels = {}
        for channel, failure, cost, count in outcomes:
            if failure:
                excluded[failure] = excluded.get(failure, 0) + count
                continue
            line = channels.setdefault(channel, {"count": 0, "cost": 0.0})
            line["count"] += count
            line["cost"] += cost
        excluded = {key: round(value * factor) for key, value in excluded.items()}
        lines = []
        for channel, line in sorted(channels.items(), key=lambda item: item[0].id):
            count = round(line["count"] * factor)
            days, text, _seconds = self._get_eta_parts(count, channel)
            lines.append(
                {
                    "channel_id": channel.id,
                    "name": channel.display_name,
                    "count": count,
                    "cost": line["cost"] * factor,
                    "eta_days": days,
                    "eta_text": text,
                }
            )
        reachable = sum(line["count"] for line in lines)
        days, text = self._get_overall_eta(reachable, lines)
        return {
            "recipients": recipients,
            "reachable": reachable,
            "sampled": bool(sampled),
            "excluded": excluded,
            "channels": lines,
            "cost": sum(line["cost"] for line in lines),
            "eta_days": days,
            "eta_text": text,
        }

    def _get_overall_eta(self, reachable, lines):
        """The longest of the channels' ETAs and the campaign's own limits."""
        self.ensure_one()
        Channel = self.env["messaging.channel"]
        candidates = [
            self._get_eta_parts(line["count"], Channel.browse(line["channel_id"]))
            for line in lines
        ]
        candidates.append(self._get_eta_parts(reachable, None))
        days, text, _seconds = max(candidates, key=lambda c: (c[0], c[2]))
        return days, text

    def _get_excluded_labels(self):
        types = dict(
            self.env["messaging.message"]
            ._fields["failure_type"]
            ._description_selection(self.env)
        )
        return {
            "opt_out": _("Opted out"),
            "no_address": _("No address"),
            "invalid_address": _("Invalid address"),
            "duplicate": _("Messaged recently"),
            **{
                key: label
                for key, label in types.items()
                if key not in EXCLUSION_REASONS
            },
        }

    def _render_estimate_html(self, estimate):
        self.ensure_one()
        if not estimate["recipients"]:
            return False
        labels = self._get_excluded_labels()
        return self.env["ir.qweb"]._render(
            "multichannel_messaging.messaging_campaign_estimate_table",
            {
                "estimate": estimate,
                "currency": self.currency_id or self.env.company.currency_id,
                "excluded": [
                    (labels.get(key, key), count)
                    for key, count in estimate["excluded"].items()
                    if count
                ],
            },
        )

    # ------------------------------------------------------------------
    # Report
    # ------------------------------------------------------------------

    def _get_channel_counts(self):
        """{campaign: {channel: {"states": {state: count}, "cost", "fallback"}}}"""
        Message = self.env["messaging.message"]
        ids = self._origin.ids
        result = {}
        for campaign, channel, state, count, cost in Message._read_group(
            [("campaign_id", "in", ids)],
            ["campaign_id", "channel_id", "state"],
            ["__count", "cost:sum"],
        ):
            line = result.setdefault(campaign, {}).setdefault(
                channel, {"states": {}, "cost": 0.0, "fallback": 0, "replied": 0}
            )
            line["states"][state] = count
            line["cost"] += cost
        for campaign, channel, count in Message._read_group(
            [("campaign_id", "in", ids), ("fallback_parent_id", "!=", False)],
            ["campaign_id", "channel_id"],
            ["__count"],
        ):
            result[campaign][channel]["fallback"] = count
        return result

    def _get_replied(self):
        """{(campaign id, channel id): {partner ids}} of recipients who wrote
        back after their message was sent (Zalo interaction on the same
        channel, or a message of theirs in the contact's or the document's
        chatter)."""
        ids = self._origin.ids
        if not ids:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT DISTINCT m.campaign_id, m.channel_id, m.partner_id
              FROM messaging_message m
             WHERE m.campaign_id IN %(ids)s
               AND m.sent_at IS NOT NULL
               AND m.partner_id IS NOT NULL
               AND (EXISTS (SELECT 1 FROM messaging_identity i
                             WHERE i.partner_id = m.partner_id
                               AND i.channel_id = m.channel_id
                               AND i.last_interaction_at > m.sent_at)
                    OR EXISTS (SELECT 1 FROM mail_message mm
                                WHERE mm.author_id = m.partner_id
                                  AND mm.message_type IN ('comment', 'email')
                                  AND mm.date > m.sent_at
                                  AND ((mm.model = m.res_model
                                        AND mm.res_id = m.res_id)
                                       OR (mm.model = 'res.partner'
                                           AND mm.res_id = m.partner_id))))
            """,
            {"ids": tuple(ids)},
        )
        result = {}
        for campaign_id, channel_id, partner_id in self.env.cr.fetchall():
            result.setdefault((campaign_id, channel_id), set()).add(partner_id)
        return result

    def _render_report_html(self, channels):
        self.ensure_one()
        if not channels:
            return False
        estimates = {
            line["channel_id"]: line["cost"]
            for line in (self.estimate_data or {}).get("channels", [])
        }
        rows = []
        for channel, line in sorted(channels.items(), key=lambda item: item[0].id):
            states = line["states"]
            reached = sum(states.get(s, 0) for s in ("sent", "delivered", "read"))
            delivered = states.get("delivered", 0) + states.get("read", 0)
            rows.append(
                {
                    "name": channel.display_name,
                    "total": sum(states.values()),
                    "queued": states.get("queued", 0) + states.get("sending", 0),
                    "sent": reached,
                    "delivered": delivered,
                    "delivered_rate": 100.0 * delivered / reached if reached else 0.0,
                    "read": states.get("read", 0),
                    "read_rate": (
                        100.0 * states.get("read", 0) / reached if reached else 0.0
                    ),
                    "failed": states.get("failed", 0) + states.get("unknown", 0),
                    "skipped": states.get("skipped", 0) + states.get("cancelled", 0),
                    "fallback": line["fallback"],
                    "replied": line["replied"],
                    "cost": line["cost"],
                    "estimated": estimates.get(channel.id, 0.0),
                }
            )
        return self.env["ir.qweb"]._render(
            "multichannel_messaging.messaging_campaign_report_table",
            {
                "rows": rows,
                "currency": self.currency_id or self.env.company.currency_id,
            },
        )

    # ------------------------------------------------------------------
    # Workflow
    # ------------------------------------------------------------------

    def _check_ready(self):
        for campaign in self:
            if not campaign.channel_id:
                raise UserError(
                    _("Campaign %s has no channel: pick one before saving it.")
                    % campaign.name
                )
            if not campaign.template_id:
                raise UserError(
                    _("Campaign %s has no template: pick one.") % campaign.name
                )
            for _channel, template in campaign._get_steps():
                campaign._check_step_template(template)
            if not campaign._has_recipients():
                raise UserError(
                    _(
                        "Campaign %s has no recipient: add a customer group (or "
                        "pick records that have a customer)."
                    )
                    % campaign.name
                )
            if (
                campaign.scheduled_at
                and campaign.state == "draft"
                and campaign.scheduled_at < fields.Datetime.now() - timedelta(minutes=1)
            ):
                raise UserError(
                    _("The send date of campaign %s is in the past.") % campaign.name
                )

    def _check_step_template(self, template):
        """The template renders on the campaign's records and declares a
        value for each of its required parameters."""
        self.ensure_one()
        rendering.check_template_for(template, self.res_model)

    def action_confirm(self):
        """Draft -> waiting for activation."""
        self._check_messaging_group(MANAGER_GROUP)
        for campaign in self:
            if campaign.state != "draft":
                raise UserError(_("Only draft campaigns can be saved for activation."))
        self._check_ready()
        self.write({"state": "waiting"})
        return True

    def action_activate(self):
        """Waiting -> running: the recipients become queued messages.

        The click only starts it: a cron queues the recipients chunk by chunk
        (``_cron_enqueue``), so a campaign of any size activates at once. A
        campaign that fits in one chunk is queued inline.
        """
        self._check_messaging_group(MANAGER_GROUP)
        for campaign in self:
            if campaign.state != "waiting":
                raise UserError(
                    _("Campaign %s must be waiting for activation.") % campaign.name
                )
        self._check_ready()
        background = self.browse()
        for campaign in self:
            now = fields.Datetime.now()
            campaign.write(
                {
                    "state": "running",
                    "enqueue_state": "enqueuing",
                    "enqueue_total": campaign._count_recipients(),
                    "enqueue_user_id": self.env.uid,
                    "enqueue_started_at": now,
                }
            )
            Progress = self.env["messaging.campaign.enqueue"].sudo()
            Progress.search([("campaign_id", "=", campaign.id)]).unlink()
            Progress.create(
                {
                    "campaign_id": campaign.id,
                    "spread_start": max(campaign.scheduled_at or now, now),
                }
            )
            if campaign.enqueue_total <= self._get_enqueue_chunk_size():
                campaign._enqueue_all()
            else:
                background |= campaign
        if background:
            self._retrigger_enqueue_cron()
        self.env["messaging.message"]._retrigger_cron()
        return True

    def action_pause(self):
        """Sending stops; so does the queuing of recipients, until resumed."""
        self._check_messaging_group(MANAGER_GROUP)
        running = self.filtered(lambda c: c.state == "running")
        running._lock_enqueue()
        running.write({"state": "paused"})

    def action_resume(self):
        self._check_messaging_group(MANAGER_GROUP)
        paused = self.filtered(lambda c: c.state == "paused")
        paused._lock_enqueue()
        paused.write({"state": "running"})
        now = fields.Datetime.now()
        for campaign in paused:
            # what piled up during the pause keeps the campaign's pace; the
            # recipients still to queue follow it
            ranked = campaign._spread_schedule(start=now)
            # no chunk runs while paused: this row is not being moved
            campaign._get_enqueue_progress().write(
                {"spread_start": now, "spread_rank": ranked or 0}
            )
        if paused.filtered(lambda c: c.enqueue_state == "enqueuing"):
            self._retrigger_enqueue_cron()
        if paused:
            self.env["messaging.message"]._retrigger_cron()

    def action_cancel(self):
        """Cancel: what is queued is cancelled and the queuing stops."""
        self._check_messaging_group(MANAGER_GROUP)
        for campaign in self:
            if campaign.state == "done":
                raise UserError(_("A finished campaign cannot be cancelled."))
        # waits for a chunk being queued: no chunk starts after this one
        self._lock_enqueue()
        enqueuing = self.filtered(lambda c: c.enqueue_state == "enqueuing")
        enqueuing.write({"enqueue_state": "stopped"})
        self.env["messaging.message"].search(
            [("campaign_id", "in", self.ids), ("state", "=", "queued")]
        ).action_cancel()
        self.write({"state": "cancelled"})
        if enqueuing:
            # the chunk waited for was committed after this transaction began
            # (its rows are not seen here): the cron cancels them
            self._retrigger_enqueue_cron()

    def action_draft(self):
        self._check_messaging_group(MANAGER_GROUP)
        self.filtered(lambda c: c.state in ("waiting", "cancelled")).write(
            {"state": "draft"}
        )

    def action_view_messages(self):
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_message_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"search_default_group_state": 1}
        return action

    def action_view_report(self):
        """The campaign's messages as a pivot (channel x state) and a graph."""
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_message_action_report"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["display_name"] = _("Report: %s") % self.name
        return action

    def action_preview_recipients(self):
        """Recipients and excluded contacts with the reason, before activation."""
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        if not self.channel_id:
            raise UserError(_("Pick the campaign's channel first."))
        preview = self.env["messaging.campaign.preview"]._create_for(self)
        return {
            "type": "ir.actions.act_window",
            "name": _("Recipients of %s") % self.name,
            "res_model": "messaging.campaign.preview",
            "res_id": preview.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_view_sources(self):
        """The records picked by hand for this campaign (e.g. sale orders)."""
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Source records"),
            "res_model": self.res_model,
            "view_mode": "list,form",
            "domain": [("id", "in", self.source_res_ids or [])],
        }

    def _get_fallback_chain(self):
        self.ensure_one()
        return [[s.channel_id.id, s.template_id.id] for s in self.fallback_ids]

    # ------------------------------------------------------------------
    # Enqueue: recipients -> queued messages, chunk by chunk
    # ------------------------------------------------------------------

    @api.model
    def _get_enqueue_chunk_size(self):
        return self.env.context.get("messaging_enqueue_chunk_size") or (
            ENQUEUE_CHUNK_SIZE
        )

    @api.model
    def _get_enqueue_cron(self):
        return self.env.ref(
            "multichannel_messaging.ir_cron_messaging_campaign_enqueue",
            raise_if_not_found=False,
        )

    @api.model
    def _retrigger_enqueue_cron(self):
        cron = self._get_enqueue_cron()
        if cron:
            cron.sudo()._trigger()

    def _get_enqueue_progress(self):
        self.ensure_one()
        return (
            self.env["messaging.campaign.enqueue"]
            .sudo()
            .search([("campaign_id", "=", self.id)], limit=1)
        )

    def _lock_enqueue(self):
        """Wait for a chunk being queued by the cron to be committed."""
        if not self.ids:
            return
        self.flush_recordset()
        self.env.cr.execute(
            "SELECT id FROM messaging_campaign WHERE id IN %s FOR NO KEY UPDATE",
            [tuple(self.ids)],
        )

    def _enqueue_all(self):
        """Queue every recipient left, in this transaction (small campaigns,
        tests)."""
        for campaign in self:
            while campaign.enqueue_state == "enqueuing":
                campaign._enqueue_chunk(self._get_enqueue_chunk_size())

    @api.model
    def _cron_enqueue(self, time_limit=ENQUEUE_TIME_LIMIT, max_chunks=None):
        """Queue the recipients of the running campaigns, one committed chunk
        at a time, for ``time_limit`` seconds (or ``max_chunks`` chunks);
        re-triggers itself while recipients remain. Returns the number of
        recipients queued."""
        Message = self.env["messaging.message"]
        auto_commit = Message._auto_commit()
        deadline = time.monotonic() + time_limit if time_limit else None
        done = chunks = 0
        self._cancel_stopped_leftovers()
        dispatch_triggered = False
        campaign_ids = self.search(
            [("state", "=", "running"), ("enqueue_state", "=", "enqueuing")],
            order="id",
        ).ids
        for campaign in self.browse(campaign_ids):
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
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                # flat memory: nothing of the chunk stays in the cache
                self.env.flush_all()
                self.env.invalidate_all()
                if finished:
                    break
        remaining = self._get_enqueue_remaining()
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if remaining:
            self._retrigger_enqueue_cron()
        return done

    @api.model
    def _cancel_stopped_leftovers(self):
        """Cancel what the last chunk of a campaign cancelled while queuing
        left queued (committed while the cancel waited for it)."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT m.id FROM messaging_message m
              JOIN messaging_campaign c ON c.id = m.campaign_id
             WHERE c.state = 'cancelled' AND c.enqueue_state = 'stopped'
               AND m.state = 'queued'
            """
        )
        leftovers = self.env["messaging.message"].browse(
            row[0] for row in self.env.cr.fetchall()
        )
        leftovers.sudo().write(
            {"state": "cancelled", "failure_type": "cancelled", "claim_until": False}
        )

    @api.model
    def _get_enqueue_remaining(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT COALESCE(SUM(GREATEST(c.enqueue_total - e.done, 1)), 0)"
            " FROM messaging_campaign c"
            " JOIN messaging_campaign_enqueue e ON e.campaign_id = c.id"
            " WHERE c.state = 'running' AND c.enqueue_state = 'enqueuing'"
        )
        return self.env.cr.fetchone()[0]

    def _enqueue_step(self, auto_commit):
        """One chunk of this campaign in its own transaction: (processed,
        finished), or None when it is not queuing (paused, cancelled,
        finished) or another worker is queuing it."""
        self.ensure_one()
        if auto_commit:
            # READ COMMITTED: the lock sees a pause or cancel committed since
            self.env["messaging.message"]._begin_read_committed()
        self.env.flush_all()
        # one enqueuer per campaign: its progress row, locked
        self.env.cr.execute(
            "SELECT id FROM messaging_campaign_enqueue WHERE campaign_id = %s"
            " FOR NO KEY UPDATE SKIP LOCKED",
            [self.id],
        )
        if not self.env.cr.fetchone():
            return None
        # the campaign share-locked, not updated: a pause or cancel waits for
        # this chunk, then finds the campaign's row unchanged
        self.env.cr.execute(
            "SELECT id FROM messaging_campaign WHERE id = %s AND state = 'running'"
            " AND enqueue_state = 'enqueuing' FOR SHARE SKIP LOCKED",
            [self.id],
        )
        if not self.env.cr.fetchone():
            return None
        if auto_commit:
            # the chunk's rows and its cursor are committed together: a commit
            # lost in a crash is queued again, never twice. And it is durable
            # before any of its rows is sent (a dispatcher's commit, later in
            # the WAL, is synchronous): no need to wait for the disk here
            self.env.cr.execute("SET LOCAL synchronous_commit TO off")
        self.env.invalidate_all()
        return self._enqueue_chunk(self._get_enqueue_chunk_size())

    def _enqueue_chunk(self, limit):
        """Queue the next ``limit`` recipients after the stored cursor, and
        move the cursor in the same transaction (a chunk is queued whole or
        not at all, never twice). Returns (recipients processed, finished).
        """
        self.ensure_one()
        user = self.enqueue_user_id or self.env.user
        campaign = self.with_user(user).with_company(self.company_id)
        progress = self._get_enqueue_progress()
        recipients, cursor, processed, finished = campaign._get_recipient_chunk(
            progress.cursor, limit
        )
        ranked = 0
        if recipients:
            ids = campaign._enqueue_recipients(recipients)
            ids = self._with_fallback_children(ids)
            self._hold_until_start(ids)
            self._skip_recently_messaged(ids)
            ranked = self._spread_schedule(
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
            self.write(
                {
                    "enqueue_state": "done",
                    "estimate_data": self._get_enqueued_estimate(),
                }
            )
        return processed, finished

    def _enqueue(self):
        """Queue every recipient at once (one queued message per distinct
        recipient); the campaign's enqueue does it chunk by chunk."""
        self.ensure_one()
        return self._enqueue_recipients(self._get_recipients())

    def _enqueue_recipients(self, recipients):
        """One queued message per recipient of ``recipients``."""
        self.ensure_one()
        Message = self.env["messaging.message"]
        common = {
            "campaign_id": self.id,
            "company_id": self.company_id.id,
            "user_id": self.user_id.id,
            "scheduled_at": self.scheduled_at or fields.Datetime.now(),
        }
        if self.routing != "auto":
            return Message._bulk_enqueue(
                self.channel_id,
                self.template_id,
                recipients,
                fallback_chain=self._get_fallback_chain(),
                **common,
            )
        ids = []
        for (channel, template), group in self._route_recipients(recipients).items():
            ids += Message._bulk_enqueue(channel, template, group, **common)
        return ids

    def _with_fallback_children(self, ids):
        """``ids`` and the fallback messages created for them while queuing."""
        if not ids:
            return []
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id FROM messaging_message WHERE fallback_parent_id = ANY(%s)",
            [ids],
        )
        return ids + [row[0] for row in self.env.cr.fetchall()]

    def _skip_recently_messaged(self, message_ids=None):
        """The campaign's no re-send window, applied when it is activated
        (to ``message_ids`` only: the chunk just queued)."""
        self.ensure_one()
        if not self.resend_window_minutes:
            return
        domain = [("campaign_id", "=", self.id), ("state", "=", "queued")]
        if message_ids is not None:
            domain.append(("id", "in", message_ids))
        queued = self.env["messaging.message"].search(domain)
        recent = self._get_recent_partner_ids(set(queued.partner_id.ids))
        queued.filtered(lambda m: m.partner_id.id in recent)._set_failed(
            "duplicate", self._get_recent_reason(), state="skipped"
        )

    def _hold_until_start(self, message_ids=None):
        """Fallback messages created while queuing (the primary channel
        refused the address at once) wait for the campaign's send date too
        (``message_ids`` only: the chunk just queued)."""
        self.ensure_one()
        if not self.scheduled_at or self.scheduled_at <= fields.Datetime.now():
            return
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE messaging_message SET scheduled_at = %(start)s
                 WHERE campaign_id = %(id)s AND state = 'queued'
                   AND scheduled_at < %(start)s AND %(only)s
                """,
                start=self.scheduled_at,
                id=self.id,
                only=self._only_ids_sql(message_ids),
            )
        )
        self.env["messaging.message"].invalidate_model(["scheduled_at"])

    @api.model
    def _only_ids_sql(self, message_ids):
        if message_ids is None:
            return SQL("TRUE")
        return SQL("id = ANY(%s)", list(message_ids))

    def _spread_schedule(self, start=None, message_ids=None, rank_offset=0):
        """The campaign's own spacing and daily cap: its queued messages (not
        yet tried) get send times ``min_interval_seconds`` apart and at most
        ``daily_cap`` per 24 hours from ``start``. The channels' own throttles
        still apply on top when the messages are sent.

        ``message_ids`` (a chunk just queued) are ranked after the
        ``rank_offset`` messages spread before them. Returns how many
        messages were spread (None: the campaign has no spacing nor cap).
        """
        self.ensure_one()
        interval = self.min_interval_seconds or 0.0
        cap = self.daily_cap or 0
        if not interval and not cap:
            return None
        now = fields.Datetime.now()
        start = start or max(self.scheduled_at or now, now)
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE messaging_message m
                   SET scheduled_at = %(start)s + make_interval(secs => r.delay)
                  FROM (SELECT n.id,
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
                id=self.id,
                offset=rank_offset,
                only=self._only_ids_sql(message_ids),
            )
        )
        ranked = self.env.cr.rowcount
        self.env["messaging.message"].invalidate_model(["scheduled_at"])
        return ranked

    def _get_steps(self):
        self.ensure_one()
        steps = [(self.channel_id, self.template_id)]
        steps += [(s.channel_id, s.template_id) for s in self.fallback_ids]
        return steps

    def _route_recipients(self, recipients=None):
        """{(channel, template): [(partner, model, id, chain)]}, cheapest first
        (``recipients``: a chunk of them, else all): the router's ranking."""
        steps = self._get_steps()
        category = self.template_id.category
        groups = {}
        if recipients is None:
            recipients = self._get_recipients()
        for partner, res_model, res_id in recipients:
            options, _failures = router.rank_routes(steps, partner, category)
            routes = [(option.channel, option.template) for option in options]
            # none: queued on the primary step, refused there with a reason
            channel, template = routes[0] if routes else steps[0]
            chain = [[c.id, t.id] for c, t in routes[1:]]
            groups.setdefault((channel, template), []).append(
                (partner, res_model, res_id, chain)
            )
        return groups

    @api.model
    def _check_campaigns_done(self):
        # a campaign whose recipients are still being queued is not done
        running = self.search(
            [("state", "=", "running"), ("enqueue_state", "!=", "enqueuing")]
        )
        for campaign in running:
            pending = self.env["messaging.message"].search_count(
                [
                    ("campaign_id", "=", campaign.id),
                    ("state", "in", ("queued", "sending")),
                ],
                limit=1,
            )
            if not pending and campaign._lock_if_running():
                campaign.state = "done"

    def _lock_if_running(self):
        """Lock this campaign if it is still running, else False.

        Several dispatchers may finish a campaign at the same moment: the
        first one closes it, the others find it closed (READ COMMITTED checks
        the state again on the latest version) or locked, and skip it.
        """
        self.ensure_one()
        self.flush_recordset(["state"])
        self.env.cr.execute(
            "SELECT id FROM messaging_campaign WHERE id = %s AND state = 'running'"
            " AND enqueue_state IS DISTINCT FROM 'enqueuing'"
            " FOR NO KEY UPDATE SKIP LOCKED",
            [self.id],
        )
        return bool(self.env.cr.fetchone())

    def _get_eta_parts(self, count, channel):
        """(days, human text, seconds) to hand ``count`` messages over on
        ``channel`` (None: the campaign's own limits only), with the
        campaign's spacing and daily cap on top of the channel's."""
        self.ensure_one()
        if not count:
            return 0, "", 0.0
        interval = self.min_interval_seconds or 0.0
        caps = [self.daily_cap] if self.daily_cap else []
        if channel:
            interval = max(interval, channel._slot_interval())
            if channel.daily_cap:
                caps.append(channel.daily_cap)
        seconds = count * interval
        if caps:
            cap = min(caps)
            days = max(math.ceil(count / cap), 1)
            if days > 1:
                text = _("%(days)s days (daily cap %(cap)s)") % {
                    "days": days,
                    "cap": cap,
                }
                return days, text, max(seconds, (days - 1) * 86400.0)
        days = max(math.ceil(seconds / 86400.0), 1)
        if seconds >= 3600:
            text = _("about %(h)s h %(m)s min") % {
                "h": int(seconds // 3600),
                "m": int(seconds % 3600 // 60),
            }
        elif seconds >= 60:
            text = _("about %s min") % int(seconds // 60)
        else:
            text = _("under a minute")
        return days, text, seconds

    def _get_eta(self, count, channel=None):
        """(days, human text) to hand ``count`` messages to the provider."""
        self.ensure_one()
        channel = channel or self.channel_id
        if not channel or not count:
            return 0, ""
        days, text, _seconds = self._get_eta_parts(count, channel)
        return days, text
