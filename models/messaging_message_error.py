from odoo import _, api, fields, models

from ..engine.terms import translate_term
from ..providers import error_hint


class MessagingMessage(models.Model):
    _inherit = "messaging.message"

    error_message_display = fields.Text(
        "Error",
        compute="_compute_error_message_display",
        help="The stored error in the reader's language: a provider's error "
        "code is kept as sent and its text is translated when read.",
    )

    @api.depends("error_code", "error_message", "channel_type")
    @api.depends_context("lang")
    def _compute_error_message_display(self):
        for message in self:
            message.error_message_display = message._render_error()

    def _render_error(self):
        """As Odoo's ``sms_api``: the provider's code picks the text shown;
        the provider's own words, when it gave some, follow it."""
        self.ensure_one()
        text = self.error_message or ""
        hint = error_hint(self.channel_type, self.error_code)
        if not hint:
            return translate_term(self.env, text) or False
        error = translate_term(self.env, hint)
        if not text or text == hint:
            return error
        return _("%(error)s The provider said: %(detail)s", error=error, detail=text)
