from odoo import fields, models


class MessagingChannel(models.Model):
    """An e-mail channel's outgoing mail server (Odoo's own)."""

    _inherit = "messaging.channel"

    mail_server_id = fields.Many2one(
        "ir.mail_server",
        "Outgoing mail server",
        help="E-mail channels: the server that sends them. Empty: the one Odoo "
        "picks for the sender's address.",
    )
