from odoo import models

from ..engine import emails


class MailMail(models.Model):
    """The outcome of an e-mail of the queue, read back where Odoo reports
    it: after each send of a mail.mail (``engine/emails.py``)."""

    _inherit = "mail.mail"

    def _postprocess_sent_message(
        self, success_pids, failure_reason=False, failure_type=None
    ):
        emails.apply_mail_outcome(self, failure_type, failure_reason)
        return super()._postprocess_sent_message(
            success_pids, failure_reason=failure_reason, failure_type=failure_type
        )
