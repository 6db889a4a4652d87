"""Whether a channel has what its provider needs to send: a channel shipped
(or created) without credentials stays visible and active, marked "Not
configured", and the queue never calls its provider until it is (the
dispatcher fails its messages at once, which hands them to the fallback)."""

from odoo import api, fields, models

# credential fields each provider needs (any one of a tuple is enough)
REQUIRED_CREDENTIALS = {
    "zalo": [("zalo_access_token", "zalo_refresh_token")],
    "esms": [("esms_api_key",), ("esms_secret_key",)],
    "speedsms": [("speedsms_access_token",)],
}


class MessagingChannel(models.Model):
    _inherit = "messaging.channel"

    is_configured = fields.Boolean(
        "Configured",
        compute="_compute_is_configured",
        store=True,
        compute_sudo=True,
        help="The credentials its provider needs are filled in. The queue does "
        "not send on a channel that is not configured: its messages fail at "
        "once and go to the next fallback step.",
    )

    @api.depends(
        "channel_type",
        "zalo_access_token",
        "zalo_refresh_token",
        "esms_api_key",
        "esms_secret_key",
        "speedsms_access_token",
    )
    def _compute_is_configured(self):
        for channel in self:
            required = REQUIRED_CREDENTIALS.get(channel.channel_type, [])
            channel.is_configured = all(
                any(channel[fname] for fname in names) for names in required
            )

    def _get_not_configured_text(self):
        """Why a message cannot go out on this channel (reader's language)."""
        self.ensure_one()
        return self.env._(
            "Channel %(channel)s is not configured: an administrator must fill "
            "in its credentials before it can send.",
            channel=self.name,
        )
