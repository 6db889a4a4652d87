from odoo import fields, models

from ..models.messaging_message import FAILURE_TYPES


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
    failure_type = fields.Selection(FAILURE_TYPES, "Reason", readonly=True)
    reason = fields.Char("Details", readonly=True)
    channel_id = fields.Many2one("messaging.channel", readonly=True)
    route = fields.Selection(
        selection=lambda self: self.env["messaging.message"]._fields["route"].selection,
        readonly=True,
    )
    address = fields.Char(readonly=True)
    currency_id = fields.Many2one(related="preview_id.currency_id")
    cost = fields.Monetary("Estimated cost", readonly=True)
