import json
from datetime import timedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from ..engine import routing

PREVIEW_COUNT = 3


class MessagingBulkSend(models.TransientModel):
    """Send to many contacts or sale orders picked in a list: creates a
    campaign that keeps the source records, then activates it (send now) or
    leaves it waiting for activation at its send date (schedule)."""

    _name = "messaging.bulk.send"
    _inherit = ["messaging.send.mixin"]
    _description = "Send Messages in Bulk"

    res_ids = fields.Char("Document ids", help="JSON list of record ids.")
    record_count = fields.Integer("Records", compute="_compute_record_count")
    name = fields.Char(
        "Campaign name",
        compute="_compute_name",
        store=True,
        readonly=False,
        precompute=True,
        required=True,
    )
    fallback_ids = fields.One2many(
        "messaging.bulk.send.fallback", "wizard_id", "Fallback chain"
    )
    send_mode = fields.Selection(
        [("now", "Send now"), ("schedule", "Schedule")],
        default="now",
        required=True,
    )
    scheduled_at = fields.Datetime("Send at")
    preview_html = fields.Html(
        "First messages", compute="_compute_preview_html", sanitize=False
    )
    estimate_html = fields.Html(
        "Recipients and cost", compute="_compute_estimate", sanitize=False
    )
    recipient_count = fields.Integer("Customers", compute="_compute_estimate")
    send_start_text = fields.Char("When it is sent", compute="_compute_estimate")
    excluded_count = fields.Integer("Excluded", compute="_compute_estimate")

    @api.model
    def default_get(self, fields_list):
        result = super().default_get(fields_list)
        context = self.env.context
        if not result.get("res_ids") and context.get("active_ids"):
            result["res_ids"] = json.dumps(list(context["active_ids"]))
        return result

    @api.depends("res_model", "res_ids")
    def _compute_record_count(self):
        for wizard in self:
            wizard.record_count = len(wizard._get_res_ids())

    @api.depends("res_model", "res_ids")
    def _compute_name(self):
        for wizard in self:
            if wizard.name:
                wizard.name = wizard.name
                continue
            model = self.env["ir.model"]._get(wizard.res_model or "res.partner")
            wizard.name = _("%(model)s: %(count)s records, %(date)s") % {
                "model": model.name,
                "count": len(wizard._get_res_ids()),
                "date": fields.Date.to_string(fields.Date.context_today(self)),
            }

    @api.depends("channel_id", "template_id", "res_model", "res_ids")
    def _compute_preview_html(self):
        for wizard in self:
            records = wizard._get_records()
            if not records or not wizard.channel_id:
                wizard.preview_html = False
                continue
            previews = wizard._render_previews(
                wizard.channel_id, wizard.template_id, records[:PREVIEW_COUNT]
            )
            wizard.preview_html = wizard._render_preview_html(
                previews, more=max(len(records) - PREVIEW_COUNT, 0)
            )

    @api.depends(
        "channel_id",
        "template_id",
        "res_model",
        "res_ids",
        "fallback_ids",
        "fallback_ids.channel_id",
        "fallback_ids.template_id",
        "send_mode",
        "scheduled_at",
    )
    @api.depends_context("lang", "tz")
    def _compute_estimate(self):
        for wizard in self:
            campaign = self.env["messaging.campaign"].new(
                wizard._prepare_campaign_values()
            )
            estimate = campaign._get_estimate()
            wizard.recipient_count = estimate["recipients"]
            wizard.excluded_count = sum(estimate["excluded"].values())
            wizard.estimate_html = campaign._render_estimate_html(estimate)
            wizard.send_start_text = campaign._get_send_start_text(estimate)

    def _get_res_ids(self):
        self.ensure_one()
        try:
            ids = json.loads(self.res_ids or "[]")
        except ValueError as exc:
            raise UserError(_("The selected records could not be read.")) from exc
        return [int(res_id) for res_id in ids]

    def _get_records(self):
        self.ensure_one()
        if not self.res_model or self.res_model not in self.env:
            return None
        return self.env[self.res_model].browse(self._get_res_ids()).exists()

    def _prepare_campaign_values(self):
        self.ensure_one()
        return {
            "name": self.name or _("Bulk send"),
            "from_list": True,
            "res_model": self.res_model,
            "source_res_ids": self._get_res_ids(),
            "channel_id": self.channel_id.id,
            "template_id": self.template_id.id,
            "scheduled_at": self.scheduled_at
            if self.send_mode == "schedule"
            else False,
            "fallback_ids": [
                Command.create(
                    {
                        "sequence": step.sequence,
                        "channel_id": step.channel_id.id,
                        "template_id": step.template_id.id,
                    }
                )
                for step in self.fallback_ids
            ],
        }

    def _check_before_send(self):
        self.ensure_one()
        records = self._get_records()
        if not records:
            raise UserError(_("Select the records to send to first."))
        self._check_can_send(records)
        self._check_channel_template(self.channel_id, self.template_id)
        if not self.template_id:
            raise UserError(_("Pick a template."))
        self._check_template_for(self.template_id, self.res_model)
        for step in self.fallback_ids:
            self._check_channel_template(step.channel_id, step.template_id)
            self._check_template_for(step.template_id, self.res_model)
        routing.check_fallback_channels(
            [self.channel_id]
            + [step.channel_id for step in self.fallback_ids.sorted()],
            UserError,
        )
        if self.send_mode == "schedule":
            if not self.scheduled_at:
                raise UserError(_("Pick the date and time to send at."))
            if self.scheduled_at < fields.Datetime.now() - timedelta(minutes=1):
                raise UserError(_("The send date is in the past."))
        if not any(record._messaging_get_partner() for record in records):
            raise UserError(
                _("None of the selected records has a customer to send to.")
            )

    def _check_can_send(self, records):
        """What the user cannot read, they cannot send to: the records, their
        customers, the channels and templates of every step."""
        self.ensure_one()
        records.check_access("read")
        partners = self.env["res.partner"].union(
            *(record._messaging_get_partner() for record in records)
        )
        partners.check_access("read")
        steps = self.fallback_ids
        (self.channel_id | steps.channel_id).check_access("read")
        (self.template_id | steps.template_id).check_access("read")

    def action_send(self):
        """Create the campaign; activate it (send now) or leave it waiting
        for activation at its send date (schedule). Opens the campaign."""
        self.ensure_one()
        self._check_before_send()
        Campaign = self.env["messaging.campaign"]
        if not Campaign.has_access("create"):
            # a Messaging User sends to records, customers, channels and
            # templates they can read (checked above) through a campaign they
            # could not create themselves: only this wizard makes one for
            # them, of their own company, with them as its responsible
            Campaign = Campaign.sudo().with_company(self.channel_id.company_id)
        campaign = Campaign.create(self._prepare_campaign_values())
        campaign.action_confirm()
        if self.send_mode == "now":
            campaign.action_activate()
        return {
            "type": "ir.actions.act_window",
            "res_model": "messaging.campaign",
            "res_id": campaign.id,
            "view_mode": "form",
            "target": "current",
        }
