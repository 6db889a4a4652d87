from odoo import api, models
from odoo.tools import html2plaintext

from ..engine import emails


class MailThread(models.AbstractModel):
    """Bounces of the queue's e-mails, found by Odoo's bounce route like
    mass mailing's traces: the message fails and falls back."""

    _inherit = "mail.thread"

    @api.model
    def _routing_handle_bounce(self, email_message, message_dict):
        result = super()._routing_handle_bounce(email_message, message_dict)
        emails.apply_bounces(
            self.env,
            message_dict.get("bounced_msg_ids") or [],
            html2plaintext(message_dict.get("body") or "").strip(),
        )
        return result
