from odoo import fields, models


class MessagingMessage(models.Model):
    """Clicks on the message's tracked links (Odoo's ``link_tracker``)."""

    _inherit = "messaging.message"

    click_count = fields.Integer(
        "Clicks",
        readonly=True,
        copy=False,
        default=0,
        help="Clicks on the tracked links of this message.",
    )
