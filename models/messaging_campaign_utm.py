from odoo import api, fields, models


class MessagingCampaign(models.Model):
    """Each campaign has its Odoo marketing campaign (``utm.campaign``): the
    tracked links of its messages carry it, so orders placed from a click get
    it, as Odoo's own e-mail and SMS marketing do."""

    _inherit = "messaging.campaign"

    utm_campaign_id = fields.Many2one(
        "utm.campaign",
        string="UTM campaign",
        copy=False,
        ondelete="set null",
        index="btree_not_null",
        help="Odoo's marketing campaign of this campaign: tracked links carry "
        "it, and orders placed from them are counted in the campaign's revenue.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        campaigns = super().create(vals_list)
        campaigns._ensure_utm_campaign()
        return campaigns

    def _ensure_utm_campaign(self):
        """Give each campaign without one its own ``utm.campaign``, named
        after it (sudo: a Messaging Manager need not manage UTM records)."""
        todo = self.filtered(lambda c: not c.utm_campaign_id)
        if not todo:
            return
        utms = (
            self.env["utm.campaign"]
            .sudo()
            .create(
                [
                    {"title": campaign.name, "is_auto_campaign": True}
                    for campaign in todo
                ]
            )
        )
        for campaign, utm in zip(todo, utms, strict=True):
            campaign.utm_campaign_id = utm
