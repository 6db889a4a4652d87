"""A Zalo conversation's messages written by the OA outside Odoo: a staff
member's answer from Zalo's own apps (``oa_send_*`` webhook events) is
posted as the OA's message (the company of the OA is its author), not
queued again to Zalo."""

from odoo import api, models

from ..providers.zalo_html import inbound_body
from .discuss_channel import INTERNAL_POST


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    @api.model
    def _messaging_on_oa_echo(self, event, identity, zalo_event):
        """Post what the OA sent this Zalo user from Zalo's apps (the event
        record and its parsed ``zalo_event``) in their conversation; return
        the posted message."""
        conversation = self._messaging_conversation_for(identity)
        conversation._messaging_sync_customer()
        oa = identity.channel_id
        message = (
            conversation.sudo()
            .with_context(**{INTERNAL_POST: True})
            .message_post(
                body=inbound_body(zalo_event, zalo_event.summary),
                author_id=(oa.company_id or self.env.company).partner_id.id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        )
        conversation._messaging_pin_for_agents()
        return message
