from odoo import api, fields, models

# Odoo's SMS medium (SMS marketing's): found, or made under its xml id so
# that installing SMS marketing later finds it instead of making an "SMS [2]"
SMS_MEDIUM_XMLID = "mass_mailing_sms.utm_medium_sms"
# the UTM medium of the other channel types
MEDIUM_XMLIDS = {
    "zalo": "multichannel_messaging.utm_medium_zalo",
    "email": "utm.utm_medium_email",
    "sandbox": "multichannel_messaging.utm_medium_sandbox",
}
SMS_CHANNEL_TYPES = ("esms", "speedsms")


class MessagingChannel(models.Model):
    """The UTM medium and source the tracked links of a channel's messages
    carry (with their campaign's), so an order placed from a click tells
    where it came from, as Odoo's e-mail and SMS marketing do."""

    _inherit = "messaging.channel"

    utm_medium_id = fields.Many2one(
        "utm.medium",
        "UTM medium",
        ondelete="set null",
        help="Carried by the tracked links of this channel's messages "
        "(utm_medium). Empty: the medium of the channel's type (Zalo, SMS, "
        "Email).",
    )
    utm_source_id = fields.Many2one(
        "utm.source",
        "UTM source",
        ondelete="set null",
        help="Carried by the tracked links of this channel's messages "
        "(utm_source); made from the channel's name when it is created.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        channels = super().create(vals_list)
        channels._ensure_utm()
        return channels

    def _ensure_utm(self):
        """Give each channel its type's medium and a source named after it
        (sudo: a Messaging Manager need not manage UTM records)."""
        for channel in self:
            if not channel.utm_medium_id:
                channel.utm_medium_id = channel._get_utm_medium()
        todo = self.filtered(lambda c: not c.utm_source_id)
        if not todo:
            return
        sources = (
            self.env["utm.source"]
            .sudo()
            .create([{"name": channel.name} for channel in todo])
        )
        for channel, source in zip(todo, sources, strict=True):
            channel.utm_source_id = source

    def _get_utm_medium(self):
        """The channel's medium, else its type's."""
        self.ensure_one()
        if self.utm_medium_id:
            return self.utm_medium_id
        if self.channel_type in SMS_CHANNEL_TYPES:
            return self._get_sms_utm_medium()
        xmlid = MEDIUM_XMLIDS.get(self.channel_type)
        medium = xmlid and self.env.ref(xmlid, raise_if_not_found=False)
        return medium.sudo() if medium else self.env["utm.medium"]

    @api.model
    def _get_sms_utm_medium(self):
        medium = self.env.ref(SMS_MEDIUM_XMLID, raise_if_not_found=False)
        if medium:
            return medium.sudo()
        medium = (
            self.env["utm.mixin"].sudo()._find_or_create_record("utm.medium", "SMS")
        )
        module, name = SMS_MEDIUM_XMLID.split(".")
        self.env["ir.model.data"].sudo().create(
            {
                "module": module,
                "name": name,
                "model": "utm.medium",
                "res_id": medium.id,
                "noupdate": True,
            }
        )
        return medium
