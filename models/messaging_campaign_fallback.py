from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class MessagingCampaignFallback(models.Model):
    _name = "messaging.campaign.fallback"
    _inherit = ["messaging.fallback.step"]
    _description = "Campaign Fallback Step"

    campaign_id = fields.Many2one(
        "messaging.campaign", required=True, ondelete="cascade", index=True
    )

    @api.constrains("channel_id", "template_id")
    def _check_template_channel(self):
        for step in self:
            if step.template_id.channel_type != step.channel_id.channel_type:
                raise ValidationError(
                    _(
                        "Fallback step: template %(template)s is for another channel "
                        "type than %(channel)s."
                    )
                    % {
                        "template": step.template_id.name,
                        "channel": step.channel_id.name,
                    }
                )
