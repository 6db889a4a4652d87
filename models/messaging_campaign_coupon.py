from odoo import api, fields, models

from ..engine import coupons


class MessagingCampaign(models.Model):
    """One coupon per recipient: each message of the campaign gets its own
    card of an Odoo loyalty program; the report counts those used on
    confirmed orders."""

    _inherit = "messaging.campaign"

    loyalty_program_id = fields.Many2one(
        "loyalty.program",
        string="Coupon program",
        ondelete="restrict",
        domain="[('program_type', 'in', ('coupons', 'promotion')), "
        "('company_id', 'in', (company_id, False))]",
        tracking=True,
        help="Each recipient gets their own coupon of this program (a Coupons "
        "program, or a Promotions program used with a code): write "
        "[coupon_code] and [coupon_expiry] in the template to show it.",
    )
    coupon_validity_days = fields.Integer(
        "Coupon validity (days)",
        default=30,
        help="Each coupon expires this many days after its message is queued, "
        "never after the program's end date (0: the program's end date only).",
    )
    coupon_issued_count = fields.Integer(
        "Coupons issued", compute="_compute_coupon_figures"
    )
    coupon_redeemed_count = fields.Integer(
        "Coupons redeemed",
        compute="_compute_coupon_figures",
        help="Coupons of this campaign used on a confirmed sale order.",
    )
    coupon_redeemed_rate = fields.Float("Redeemed %", compute="_compute_coupon_figures")
    coupon_discount_amount = fields.Monetary(
        "Discount given",
        compute="_compute_coupon_figures",
        help="Discount of the reward lines of these coupons on confirmed "
        "orders, in the company's currency.",
    )

    _sql_constraints = [
        (
            "coupon_validity_positive",
            "CHECK(coupon_validity_days >= 0)",
            "Coupon validity cannot be negative.",
        ),
    ]

    @api.constrains("loyalty_program_id", "company_id")
    def _check_loyalty_program(self):
        for campaign in self:
            coupons.check_program(
                campaign.loyalty_program_id,
                campaign.company_id,
                self.env._("Campaign %s", campaign.name),
            )

    def _check_ready(self):
        result = super()._check_ready()
        for campaign in self:
            coupons.check_program_open(
                campaign.loyalty_program_id,
                self.env._("Campaign %s", campaign.name),
            )
        return result

    @api.depends("loyalty_program_id", "state")
    def _compute_coupon_figures(self):
        figures = coupons.campaign_figures(self.env, self._origin.ids)
        for campaign in self:
            issued, redeemed, discount = figures.get(campaign._origin.id, (0, 0, 0.0))
            campaign.coupon_issued_count = issued
            campaign.coupon_redeemed_count = redeemed
            campaign.coupon_redeemed_rate = 100.0 * redeemed / issued if issued else 0.0
            campaign.coupon_discount_amount = discount
