from odoo import fields, models


class MessagingBulkSendFallback(models.TransientModel):
    _name = "messaging.bulk.send.fallback"
    _inherit = ["messaging.fallback.step"]
    _description = "Bulk Send Fallback Step"

    wizard_id = fields.Many2one(
        "messaging.bulk.send", required=True, ondelete="cascade", index=True
    )
