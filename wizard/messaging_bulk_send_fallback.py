from odoo import fields, models


class MessagingBulkSendFallback(models.TransientModel):
    _name = "messaging.bulk.send.fallback"
    _description = "Bulk Send Fallback Step"
    _order = "sequence, id"

    wizard_id = fields.Many2one(
        "messaging.bulk.send", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    channel_id = fields.Many2one("messaging.channel", required=True)
    channel_type = fields.Selection(related="channel_id.channel_type")
    template_id = fields.Many2one(
        "messaging.template",
        required=True,
        domain="[('channel_type', '=', channel_type)]",
    )
