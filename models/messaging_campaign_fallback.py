from odoo import api, fields, models

from ..engine import routing


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
            routing.check_template_channel(step.template_id, step.channel_id)

    @api.constrains("channel_id", "campaign_id")
    def _check_channel_repeated(self):
        self.campaign_id._check_fallback_channels()
