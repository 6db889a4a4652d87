from odoo import api, fields, models


class MessagingMessage(models.Model):
    """The A/B test variant a campaign message was sent with."""

    _inherit = "messaging.message"

    ab_variant_id = fields.Many2one(
        "messaging.campaign.variant",
        string="A/B variant",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The variant of the campaign's A/B test this message belongs to "
        "(its fallback messages keep it). Empty for the rest of the audience, "
        "sent with the winner after the decision.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        # a fallback keeps its parent's variant
        parent_ids = {
            vals["fallback_parent_id"]
            for vals in vals_list
            if vals.get("fallback_parent_id") and "ab_variant_id" not in vals
        }
        if parent_ids:
            parents = self.sudo().browse(parent_ids)
            variant_of = {parent.id: parent.ab_variant_id.id for parent in parents}
            for vals in vals_list:
                parent_id = vals.get("fallback_parent_id")
                if parent_id in variant_of and "ab_variant_id" not in vals:
                    vals["ab_variant_id"] = variant_of[parent_id]
        return super().create(vals_list)
