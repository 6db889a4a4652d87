from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import rendering, routing
from ..engine.rendering import ZBS_ROUTES

NO_BODY = ("subject", "template_data")


class MessagingSendMixin(models.AbstractModel):
    """What the composer and the bulk-send wizard share: checks made before
    anything is queued, and the rendered preview of the first messages."""

    _name = "messaging.send.mixin"
    _description = "Messaging Send Helpers"

    res_model = fields.Char("Document model", required=True)
    channel_id = fields.Many2one(
        "messaging.channel",
        default=lambda self: self._default_channel(),
        domain="[('company_id', 'in', allowed_company_ids)]",
    )
    channel_type = fields.Selection(related="channel_id.channel_type")
    template_id = fields.Many2one(
        "messaging.template",
        compute="_compute_template_id",
        store=True,
        readonly=False,
        precompute=True,
        domain="[('channel_type', '=', channel_type), ('model', '=', res_model)]",
    )

    @api.model
    def default_get(self, fields_list):
        result = super().default_get(fields_list)
        result["res_model"] = result.get("res_model") or self.env.context.get(
            "active_model"
        )
        return result

    @api.model
    def _default_channel(self):
        return self.env["messaging.channel"].search(
            [("company_id", "in", self.env.companies.ids)], limit=1
        )

    @api.depends("channel_id", "res_model")
    def _compute_template_id(self):
        for wizard in self:
            wizard.template_id = self._matching_template(
                wizard.template_id, wizard.channel_id, wizard.res_model
            )

    @api.model
    def _matching_template(self, template, channel, res_model):
        """Keep ``template`` if it suits the channel and the records, else the
        first template that does (none without a channel or a model)."""
        if routing.fits_channel(template, channel) and template.model == res_model:
            return template
        if not channel or not res_model:
            return self.env["messaging.template"]
        return self.env["messaging.template"].search(
            [("channel_type", "=", channel.channel_type), ("model", "=", res_model)],
            limit=1,
        )

    @api.model
    def _check_template_for(self, template, res_model):
        """Refuse a template of another model or with a parameter lacking a
        value expression (clear errors before anything is queued)."""
        rendering.check_template_for(template, res_model)

    @api.model
    def _check_channel_template(self, channel, template):
        if not channel:
            raise UserError(_("Pick a channel to send on."))
        routing.check_template_channel(template, channel, UserError)

    @api.model
    def _render_previews(
        self, channel, template, records, partner=None, body=None, category=None
    ):
        """One dict per record: the recipient, the address the queue would
        use (or why it would refuse it), the rendered content and the errors
        found in it. ``partner``, ``body`` and ``category`` override the
        record's customer, the template's text and category (composer)."""
        category = category or template.category or "transactional"
        content, render_error = {}, None
        if template and template.model == records._name:
            # a text given by the composer replaces the template's
            parts = rendering.PARTS if body is None else NO_BODY
            try:
                content = rendering.render(template, records.ids, parts)
            except UserError as exc:  # shown in the preview, refused on send
                render_error = str(exc)
        previews = []
        for record in records:
            values = content.get(record.id) or {}
            customer = (
                partner if partner is not None else record._messaging_get_partner()
            )
            preview = {
                "record": record.display_name,
                "partner": customer.display_name if customer else False,
                "route": False,
                "address": False,
                "refusal": False,
                "subject": values.get("subject") or False,
                "body": body if body is not None else values.get("body") or False,
                "params": list((values.get("template_data") or {}).items()),
                "errors": [render_error] if render_error else [],
            }
            previews.append(preview)
            if not customer:
                preview["refusal"] = _("No customer to send to.")
                continue
            route, address, failure, text = routing.resolve_recipient(
                channel, template, customer, category
            )
            preview.update(route=route, address=address, refusal=text or False)
            if not failure and route in ZBS_ROUTES and template.param_ids:
                params = values.get("template_data") or {}
                preview["errors"] += template._check_params(params)
        return previews

    @api.model
    def _render_preview_html(self, previews, more=0):
        if not previews:
            return False
        return self.env["ir.qweb"]._render(
            "multichannel_messaging.messaging_send_preview",
            {"previews": previews, "more": more},
        )
