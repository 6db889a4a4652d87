from odoo import models
from odoo.tools.sql import create_index


class MessagingMessage(models.Model):
    """The index the revenue attribution looks up a campaign's messages to
    a customer with (see engine/attribution.py): order by order, at a
    million messages per campaign."""

    _inherit = "messaging.message"

    def init(self):
        res = super().init()
        create_index(
            self.env.cr,
            "messaging_message_campaign_partner_sent_index",
            self._table,
            ["campaign_id", "partner_id"],
            where="campaign_id IS NOT NULL AND sent_at IS NOT NULL",
        )
        return res
