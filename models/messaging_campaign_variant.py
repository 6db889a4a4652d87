from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine import rendering, routing
from .models import MANAGER_GROUP

# variants of an A/B test
MAX_VARIANTS = 3


class MessagingCampaignVariant(models.Model):
    """One variant of a campaign's A/B test: its own channel and template
    (either may be the campaign's). The test share of the recipients is
    spread evenly over the variants; the winner sends the rest."""

    _name = "messaging.campaign.variant"
    _inherit = ["messaging.fallback.step"]
    _description = "Campaign A/B Test Variant"

    name = fields.Char(
        help="How the variant is called in the report (A, B, C when left empty)."
    )
    campaign_id = fields.Many2one(
        "messaging.campaign", required=True, ondelete="cascade", index=True
    )
    is_winner = fields.Boolean("Winner", compute="_compute_is_winner")

    @api.depends("campaign_id.ab_winner_id")
    def _compute_is_winner(self):
        for variant in self:
            variant.is_winner = variant.campaign_id.ab_winner_id == variant

    @api.constrains("channel_id", "template_id", "campaign_id")
    def _check_variant(self):
        for variant in self:
            routing.check_template_channel(variant.template_id, variant.channel_id)
            campaign = variant.campaign_id
            try:
                rendering.check_template_model(variant.template_id, campaign.res_model)
            except UserError as error:
                raise ValidationError(
                    _("Variant %(name)s: %(error)s", name=variant.name, error=error)
                ) from error
            if variant.channel_id in campaign.fallback_ids.channel_id:
                raise ValidationError(
                    _(
                        "Variant %(name)s sends on %(channel)s, a step of the "
                        "campaign's fallback chain: pick another channel for the "
                        "variant or remove it from the chain.",
                        name=variant.name,
                        channel=variant.channel_id.name,
                    )
                )
        self.campaign_id._check_ab_variant_count()

    @api.model_create_multi
    def create(self, vals_list):
        # unnamed variants are called A, B, C in the order they are added
        counts = {}
        for vals in vals_list:
            campaign_id = vals.get("campaign_id")
            if vals.get("name") or not campaign_id:
                continue
            if campaign_id not in counts:
                counts[campaign_id] = self.search_count(
                    [("campaign_id", "=", campaign_id)]
                )
            vals["name"] = chr(ord("A") + min(counts[campaign_id], 25))
            counts[campaign_id] += 1
        variants = super().create(vals_list)
        variants.campaign_id._check_ab_editable()
        return variants

    def write(self, vals):
        self.check_access("write")
        self.campaign_id._check_ab_editable()
        result = super().write(vals)
        self.campaign_id._check_ab_editable()
        return result

    def unlink(self):
        self.check_access("unlink")
        self.campaign_id._check_ab_editable()
        return super().unlink()

    def action_pick_winner(self):
        """A Manager picks this variant as the winner before the decision
        time: the rest of the audience is sent with it."""
        self._check_messaging_group(MANAGER_GROUP)
        self.ensure_one()
        self.campaign_id._ab_decide(self)
        return True
