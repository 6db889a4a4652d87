from odoo import models
from odoo.tools.sql import create_index


class MessagingEvent(models.Model):
    _inherit = "messaging.event"

    def init(self):
        result = super().init()
        # a channel's last event in one index probe (the channel form shows
        # it: messaging_channel_setup.py), however many events it has
        create_index(
            self.env.cr,
            "messaging_event_channel_id_id_index",
            self._table,
            ["channel_id", "id"],
        )
        return result
