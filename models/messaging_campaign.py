import math
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.safe_eval import safe_eval

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
    channel_id = fields.Many2one("messaging.channel", tracking=True)
    channel_type = fields.Selection(related="channel_id.channel_type")
    template_id = fields.Many2one(
        "messaging.template",
        domain="[('channel_type', '=', channel_type)]",
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
        "Send at", help="Leave empty to start as soon as the campaign is activated."
    )
    message_ids_sent = fields.One2many(
        "messaging.message", "campaign_id", string="Campaign messages"
    )
    recipient_count = fields.Integer(compute="_compute_recipient_count")
    estimated_cost = fields.Monetary(compute="_compute_recipient_count")
    eta_days = fields.Integer(
        "Days to send",
        compute="_compute_recipient_count",
        help="Implied by the channel's daily cap and spacing.",
    )
    eta_text = fields.Char("Estimated duration", compute="_compute_recipient_count")
    currency_id = fields.Many2one(related="company_id.currency_id")
    # live counters
    count_total = fields.Integer("Message count", compute="_compute_counters")
    count_queued = fields.Integer("Queued", compute="_compute_counters")
    count_sent = fields.Integer("Sent", compute="_compute_counters")
    count_delivered = fields.Integer("Delivered", compute="_compute_counters")
    count_read = fields.Integer("Read", compute="_compute_counters")
    count_failed = fields.Integer("Failed", compute="_compute_counters")
    count_skipped = fields.Integer("Skipped", compute="_compute_counters")
    count_fallback = fields.Integer("Fell back", compute="_compute_counters")
    actual_cost = fields.Monetary(compute="_compute_counters")
    progress = fields.Float(compute="_compute_counters")
    delivered_rate = fields.Float("Delivered %", compute="_compute_counters")
    read_rate = fields.Float("Read %", compute="_compute_counters")

    @api.constrains("extra_domain")
    def _check_extra_domain(self):
        for campaign in self:
            campaign._get_extra_domain()

    @api.constrains("channel_id", "template_id")
    def _check_template(self):
        for campaign in self:
            template = campaign.template_id
            if template and campaign.channel_id:
                if template.channel_type != campaign.channel_id.channel_type:
                    raise ValidationError(
                        _(
                            "Template %(template)s cannot be sent on channel "
                            "%(channel)s: pick a template of the same type."
                        )
                        % {
                            "template": template.name,
                            "channel": campaign.channel_id.name,
                        }
                    )

    @api.depends("segment_ids", "extra_domain", "source_res_ids", "channel_id")
    def _compute_recipient_count(self):
        for campaign in self:
            try:
                count = len(campaign._get_recipients())
            except (UserError, ValidationError):
                count = 0
            campaign.recipient_count = count
            campaign.estimated_cost = count * (
                campaign.template_id.price_phone
                or campaign.channel_id.cost_per_message
                or 0.0
            )
            campaign.eta_days, campaign.eta_text = campaign._get_eta(count)

    @api.depends("message_ids_sent.state", "message_ids_sent.cost")
    def _compute_counters(self):
        data = {
            (campaign, state): count
            for campaign, state, count in self.env["messaging.message"]._read_group(
                [("campaign_id", "in", self.ids)],
                ["campaign_id", "state"],
                ["__count"],
            )
        }
        costs = dict(
            self.env["messaging.message"]._read_group(
                [("campaign_id", "in", self.ids)], ["campaign_id"], ["cost:sum"]
            )
        )
        fallbacks = dict(
            self.env["messaging.message"]._read_group(
                [
                    ("campaign_id", "in", self.ids),
                    ("fallback_parent_id", "!=", False),
                ],
                ["campaign_id"],
                ["__count"],
            )
        )
        for campaign in self:
            counts = {s: data.get((campaign, s), 0) for s in COUNTED_STATES}
            total = sum(counts.values())
            reached = counts["sent"] + counts["delivered"] + counts["read"]
            campaign.count_total = total
            campaign.count_queued = counts["queued"] + counts["sending"]
            campaign.count_sent = reached
            campaign.count_delivered = counts["delivered"] + counts["read"]
            campaign.count_read = counts["read"]
            campaign.count_failed = counts["failed"] + counts["unknown"]
            campaign.count_skipped = counts["skipped"] + counts["cancelled"]
            campaign.count_fallback = fallbacks.get(campaign, 0)
            campaign.actual_cost = costs.get(campaign, 0.0)
            campaign.progress = (
                100.0 * (total - campaign.count_queued) / total if total else 0.0
            )
            campaign.delivered_rate = (
                100.0 * campaign.count_delivered / reached if reached else 0.0
            )
            campaign.read_rate = (
                100.0 * campaign.count_read / reached if reached else 0.0
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
            return safe_eval(self.extra_domain or "[]")
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
        partners = self.segment_ids._get_partners()
        extra = self._get_extra_domain()
        if extra:
            partners = partners.filtered_domain(extra)
        return [(p, "res.partner", p.id) for p in partners]

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
            if campaign.template_id.model != campaign.res_model:
                raise UserError(
                    _(
                        "Template %(template)s renders on %(tmodel)s but the "
                        "campaign's recipients are %(model)s."
                    )
                    % {
                        "template": campaign.template_id.name,
                        "tmodel": campaign.template_id.model,
                        "model": campaign.res_model,
                    }
                )
            if not campaign._get_recipients():
                raise UserError(
                    _("Campaign %s has no recipient: add a customer group.")
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

    def action_confirm(self):
        """Draft -> waiting for activation."""
        for campaign in self:
            if campaign.state != "draft":
                raise UserError(_("Only draft campaigns can be saved for activation."))
        self._check_ready()
        self.write({"state": "waiting"})
        return True

    def action_activate(self):
        """Waiting -> running: recipients become queued messages."""
        for campaign in self:
            if campaign.state != "waiting":
                raise UserError(
                    _("Campaign %s must be waiting for activation.") % campaign.name
                )
        self._check_ready()
        for campaign in self:
            campaign.state = "running"
            campaign._enqueue()
        self.env["messaging.message"]._retrigger_cron()
        return True

    def action_pause(self):
        self.filtered(lambda c: c.state == "running").write({"state": "paused"})

    def action_resume(self):
        self.filtered(lambda c: c.state == "paused").write({"state": "running"})

    def action_cancel(self):
        for campaign in self:
            if campaign.state == "done":
                raise UserError(_("A finished campaign cannot be cancelled."))
        self.message_ids_sent.filtered(lambda m: m.state == "queued").action_cancel()
        self.write({"state": "cancelled"})

    def action_draft(self):
        self.filtered(lambda c: c.state in ("waiting", "cancelled")).write(
            {"state": "draft"}
        )

    def action_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_message_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"search_default_group_state": 1}
        return action

    def _get_fallback_chain(self):
        self.ensure_one()
        return [[s.channel_id.id, s.template_id.id] for s in self.fallback_ids]

    def _enqueue(self):
        """One queued message per distinct recipient."""
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
                self._get_recipients(),
                fallback_chain=self._get_fallback_chain(),
                **common,
            )
        ids = []
        for (channel, template), recipients in self._route_recipients().items():
            ids += Message._bulk_enqueue(channel, template, recipients, **common)
        return ids

    def _get_steps(self):
        self.ensure_one()
        steps = [(self.channel_id, self.template_id)]
        steps += [(s.channel_id, s.template_id) for s in self.fallback_ids]
        return steps

    def _route_recipients(self):
        """{(channel, template): [(partner, model, id, chain)]}, cheapest first."""
        Message = self.env["messaging.message"]
        steps = self._get_steps()
        category = self.template_id.category
        groups = {}
        for partner, res_model, res_id in self._get_recipients():
            options = []
            for channel, template in steps:
                route, _addr, failure, _text = Message._resolve_recipient(
                    channel, template, partner, category
                )
                if not failure:
                    rank = Message._route_rank(channel, template, route, partner)
                    options.append((rank, channel, template))
            options.sort(key=lambda option: option[0])
            if not options:  # queued on the primary step, refused with a reason
                options = [(None, *steps[0])]
            _rank, channel, template = options[0]
            chain = [[c.id, t.id] for _r, c, t in options[1:]]
            groups.setdefault((channel, template), []).append(
                (partner, res_model, res_id, chain)
            )
        return groups

    @api.model
    def _check_campaigns_done(self):
        running = self.search([("state", "=", "running")])
        for campaign in running:
            pending = self.env["messaging.message"].search_count(
                [
                    ("campaign_id", "=", campaign.id),
                    ("state", "in", ("queued", "sending")),
                ],
                limit=1,
            )
            if not pending:
                campaign.state = "done"

    def _get_eta(self, count):
        """(days, human text) to hand ``count`` messages to the provider."""
        self.ensure_one()
        channel = self.channel_id
        if not channel or not count:
            return 0, ""
        seconds = count * channel._slot_interval()
        if channel.daily_cap:
            days = max(math.ceil(count / channel.daily_cap), 1)
            if days > 1:
                return days, _("%(days)s days (daily cap %(cap)s)") % {
                    "days": days,
                    "cap": channel.daily_cap,
                }
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
        return days, text
