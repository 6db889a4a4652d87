from odoo import api, fields, models

# the UTM medium of each channel type: Odoo's where it has one
MEDIUM_XMLIDS = {
    "zalo": ("multichannel_messaging.utm_medium_zalo",),
    "esms": (
        "mass_mailing_sms.utm_medium_sms",
        "multichannel_messaging.utm_medium_sms",
    ),
    "speedsms": (
        "mass_mailing_sms.utm_medium_sms",
        "multichannel_messaging.utm_medium_sms",
    ),
    "email": ("utm.utm_medium_email",),
    "sandbox": ("multichannel_messaging.utm_medium_sandbox",),
}


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
        for xmlid in MEDIUM_XMLIDS.get(self.channel_type, ()):
            medium = self.env.ref(xmlid, raise_if_not_found=False)
            if medium:
                return medium.sudo()
        return self.env["utm.medium"]
