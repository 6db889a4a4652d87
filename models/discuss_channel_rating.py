from odoo import models


class DiscussChannel(models.Model):
    """Closing a Zalo conversation asks the customer for a rating (the OA's
    ``rating_template_id``): a ZBS template by Zalo user id, once per
    exchange, while the user's last message is less than 7 days old."""

    _inherit = "discuss.channel"

    def action_messaging_done(self):
        res = super().action_messaging_done()
        for channel in self:
            channel.sudo()._messaging_send_rating_request()
        return res

    def _messaging_send_rating_request(self):
        self.ensure_one()
        template = self.messaging_channel_id.rating_template_id
        identity = self.messaging_identity_id
        partner = self.messaging_partner_id
        if not (template and identity and partner):
            return self.env["messaging.message"]
        if identity._get_window()[0] == "closed":
            return self.env["messaging.message"]
        Message = self.env["messaging.message"].sudo()
        asked = [
            ("conversation_id", "=", self.id),
            ("template_id", "=", template.id),
        ]
        if self.messaging_last_inbound_at:
            asked.append(("create_date", ">=", self.messaging_last_inbound_at))
        if Message.search_count(asked, limit=1):
            return Message  # already asked since the customer last wrote
        message = Message.create(
            {
                "partner_id": partner.id,
                "channel_id": self.messaging_channel_id.id,
                "template_id": template.id,
                "res_model": "res.partner",
                "res_id": partner.id,
                "route": "uid",
                "recipient": identity.external_id,
                "category": "transactional",
                "conversation_id": self.id,
            }
        )
        self._messaging_notify("rating_request", template=template.name)
        message._retrigger_cron()
        return message
