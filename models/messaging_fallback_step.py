from odoo import fields, models


class MessagingFallbackStep(models.AbstractModel):
    """One step of a fallback chain: a channel and a template of its type
    (campaign lines, and the bulk-send wizard's lines that become them)."""

    _name = "messaging.fallback.step"
    _description = "Fallback Step"
    _order = "sequence, id"

    sequence = fields.Integer(default=10)
    channel_id = fields.Many2one("messaging.channel", required=True)
    channel_type = fields.Selection(related="channel_id.channel_type")
    template_id = fields.Many2one(
        "messaging.template",
        required=True,
        domain="[('channel_type', '=', channel_type)]",
    )
