from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_amount

from ..engine import campaign_stats, waits


class MessagingCampaign(models.Model):
    """A campaign's estimate (live before activation, kept as data at
    activation) and its report, shown in the reader's language."""

    _inherit = "messaging.campaign"

    # estimate: live before activation, the figures at activation afterwards;
    # kept as data (counts, codes, ids, ETA figures), worded at each reading
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
    send_start_text = fields.Char(
        "When it is sent",
        compute="_compute_estimate",
        help="Said before activation: the category, when sending really starts "
        "(quiet hours, quotas and daily caps included), the count, the cost "
        "and when it should be done, in your time zone.",
    )
    wait_summary = fields.Char(
        "Waiting",
        compute="_compute_wait_summary",
        help="How many queued messages wait, why, and until when (in your time zone).",
    )
    # replies
    count_replied = fields.Integer(
        "Replied",
        compute="_compute_replied",
        help="Recipients who wrote back after their message was sent: a Zalo "
        "interaction with the OA (per the contact's Zalo identity), or a "
        "message of theirs in the chatter of the contact or of the document "
        "(e-mail replies, inbound Zalo messages).",
    )
    replied_rate = fields.Float("Replied %", compute="_compute_replied")
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
    actual_cost = fields.Monetary(compute="_compute_counters")
    progress = fields.Float(compute="_compute_counters")
    delivered_rate = fields.Float("Delivered %", compute="_compute_counters")
    read_rate = fields.Float("Read %", compute="_compute_counters")
    count_clicked = fields.Integer(
        "Clicked",
        compute="_compute_counters",
        help="Messages whose tracked links were clicked at least once.",
    )
    clicked_rate = fields.Float(
        "Clicked %",
        compute="_compute_counters",
        help="Clicked messages out of the messages sent (sent, delivered or read).",
    )
    report_html = fields.Html(
        "Report per channel", compute="_compute_report_html", sanitize=False
    )

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
        "scheduled_at",
        "sms_allow_unsubscribe",
    )
    @api.depends_context("lang", "tz")
    def _compute_estimate(self):
        for campaign in self:
            estimate = campaign._get_estimate()
            excluded = estimate["excluded"]
            eta = campaign_stats.eta_of(estimate)
            campaign.recipient_count = estimate["recipients"]
            campaign.reachable_count = estimate["reachable"]
            campaign.excluded_count = sum(excluded.values())
            campaign.excluded_opt_out_count = excluded.get("opt_out", 0)
            campaign.excluded_no_address_count = excluded.get("no_address", 0)
            campaign.excluded_invalid_address_count = excluded.get("invalid_address", 0)
            campaign.excluded_duplicate_count = excluded.get("duplicate", 0)
            campaign.estimate_sampled = estimate["sampled"]
            campaign.estimated_cost = estimate["cost"]
            campaign.eta_days = eta["days"]
            campaign.eta_text = campaign_stats.eta_text(self.env, eta)
            campaign.estimate_html = campaign._render_estimate_html(estimate)
            campaign.send_start_text = campaign._get_send_start_text(estimate)

    @api.depends(
        "message_ids_sent.state",
        "message_ids_sent.cost",
        "message_ids_sent.click_count",
    )
    def _compute_counters(self):
        channels = campaign_stats.channel_counts(self)
        for campaign in self:
            lines = channels.get(campaign._origin, {})
            campaign.update(campaign_stats.totals(lines))

    @api.depends("message_ids_sent.state", "message_ids_sent.wait_code")
    @api.depends_context("lang", "tz")
    def _compute_wait_summary(self):
        groups = self.env["messaging.message"]._read_group(
            [("campaign_id", "in", self._origin.ids), ("state", "=", "queued")],
            ["campaign_id", "wait_code"],
            ["__count", "scheduled_at:min"],
        )
        now = fields.Datetime.now()
        parts = {}
        for campaign, code, count, until in groups:
            reason = waits.wait_text(self.env, code, until, now=now)
            if reason:
                parts.setdefault(campaign.id, []).append(
                    self.env._(
                        "%(count)s waiting: %(reason)s", count=count, reason=reason
                    )
                )
        for campaign in self:
            campaign.wait_summary = (
                "; ".join(parts.get(campaign._origin.id, [])) or False
            )

    @api.depends("message_ids_sent.state", "message_ids_sent.sent_at")
    def _compute_replied(self):
        replied = campaign_stats.replied_partners(self)
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

    @api.depends(
        "message_ids_sent.state",
        "message_ids_sent.cost",
        "message_ids_sent.click_count",
        "estimate_data",
    )
    @api.depends_context("lang")
    def _compute_report_html(self):
        channels = campaign_stats.channel_counts(self)
        replied = campaign_stats.replied_partners(self)
        for campaign in self:
            lines = channels.get(campaign._origin, {})
            for channel, line in lines.items():
                key = (campaign._origin.id, channel.id)
                line["replied"] = len(replied.get(key, ()))
            campaign.report_html = campaign._render_report_html(lines)

    # ------------------------------------------------------------------
    # Estimate
    # ------------------------------------------------------------------

    def _get_estimate(self):
        """Recipients, exclusions, cost and ETA as data: the figures kept at
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
        size = campaign_stats.PREVIEW_SAMPLE_SIZE
        if total > size:
            step = total / size
            sample = [recipients[int(i * step)] for i in range(size)]
        outcomes = [
            (r["channel"], r["failure"], r["cost"], 1)
            for r in self._simulate_recipients(sample)
        ]
        return self._summarize_estimate(
            outcomes, total, sampled=sample is not recipients
        )

    def _summarize_estimate(self, outcomes, recipients, sampled=False):
        """See :func:`..engine.campaign_stats.summarize_estimate`."""
        self.ensure_one()
        return campaign_stats.summarize_estimate(self, outcomes, recipients, sampled)

    def _get_send_start_text(self, estimate):
        """What activating sends and when, in the reader's words (False
        without recipients)."""
        self.ensure_one()
        if not estimate["reachable"]:
            return False
        eta = campaign_stats.eta_of(estimate)
        start = waits.from_string(eta.get("start")) or fields.Datetime.now()
        category = self.template_id.category or "marketing"
        currency = self.currency_id or self.env.company.currency_id
        end = waits.from_string(eta.get("end"))
        return "%s %s" % (
            waits.start_text(self.env, category, start, eta.get("code")),
            self.env._(
                "%(count)s messages, %(cost)s, done by about %(end)s.",
                count=estimate["reachable"],
                cost=format_amount(self.env, estimate["cost"], currency),
                end=waits.format_when(self.env, end or start),
            ),
        )

    def _render_estimate_html(self, estimate):
        """The estimate table, in the reader's language."""
        self.ensure_one()
        if not estimate["recipients"]:
            return False
        lines, excluded = campaign_stats.estimate_lines(self.env, estimate)
        return self.env["ir.qweb"]._render(
            "multichannel_messaging.messaging_campaign_estimate_table",
            {
                "estimate": estimate,
                "lines": lines,
                "excluded": excluded,
                "eta_text": campaign_stats.eta_text(
                    self.env, campaign_stats.eta_of(estimate)
                ),
                "currency": self.currency_id or self.env.company.currency_id,
            },
        )

    # ------------------------------------------------------------------
    # Report
    # ------------------------------------------------------------------

    def _render_report_html(self, lines):
        """The report table per channel, in the reader's language."""
        self.ensure_one()
        if not lines:
            return False
        return self.env["ir.qweb"]._render(
            "multichannel_messaging.messaging_campaign_report_table",
            {
                "rows": campaign_stats.report_rows(lines, self.estimate_data),
                "currency": self.currency_id or self.env.company.currency_id,
            },
        )
