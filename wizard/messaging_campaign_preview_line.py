from odoo import api, fields, models


class MessagingCampaignPreviewLine(models.TransientModel):
    _name = "messaging.campaign.preview.line"
    _description = "Campaign Recipient Preview Line"
    _order = "excluded desc, id"

    preview_id = fields.Many2one(
        "messaging.campaign.preview", required=True, ondelete="cascade", index=True
    )
    partner_id = fields.Many2one("res.partner", "Contact", readonly=True)
    document = fields.Char(readonly=True, help="The source record (e.g. an order).")
    excluded = fields.Boolean(readonly=True)
    failure_type = fields.Selection(
        selection="_get_failure_types", string="Reason", readonly=True
    )
    reason = fields.Char("Details", readonly=True)
    channel_id = fields.Many2one("messaging.channel", readonly=True)
    route = fields.Selection(selection="_get_routes", readonly=True)
    address = fields.Char(readonly=True)
    currency_id = fields.Many2one(related="preview_id.currency_id")
    cost = fields.Monetary("Estimated cost", readonly=True)

    @api.model
    def _get_failure_types(self):
        """The queue's failure types, labelled in the reader's language."""
        return self._message_selection("failure_type")

    @api.model
    def _get_routes(self):
        return self._message_selection("route")

    @api.model
    def _message_selection(self, fname):
        field = self.env["messaging.message"]._fields[fname]
        return field._description_selection(self.env)
