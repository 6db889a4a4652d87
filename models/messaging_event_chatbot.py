from odoo import models


class MessagingEvent(models.Model):
    """A number shared with Zalo's request (``user_submit_info``) answers
    the chatbot step that asked for it."""

    _inherit = "messaging.event"

    def _process_zalo_submit_info(self, data):
        result = super()._process_zalo_submit_info(data)
        phone = self.env["res.partner"]._messaging_normalize_phone(
            self._zalo_event(data).info.phone
        )
        conversation = (
            self.env["discuss.channel"]
            .sudo()
            ._messaging_conversation_for(self.identity_id, create=False)
        )
        if conversation:
            conversation._messaging_chatbot_on_submit_info(self, phone)
        return result
