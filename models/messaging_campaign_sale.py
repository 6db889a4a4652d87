from odoo import fields, models


class MessagingCampaignSale(models.Model):
    """One confirmed order attributed to one campaign message: the order of a
    recipient within the campaign's attribution window after the message
    (UTM-tagged orders first, then orders of recipients who clicked or read).
    Written by the results computation only (sudo); read by the report."""

    _name = "messaging.campaign.sale"
    _description = "Messaging Campaign Attributed Order"
    _order = "date_order desc, id desc"

    campaign_id = fields.Many2one(
        "messaging.campaign", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True)
    message_id = fields.Many2one(
        "messaging.message",
        index="btree_not_null",
        ondelete="set null",
        help="The campaign's message the order is attributed to.",
    )
    order_id = fields.Many2one(
        "sale.order", required=True, index=True, ondelete="cascade"
    )
    partner_id = fields.Many2one("res.partner", string="Customer", index=True)
    channel_id = fields.Many2one("messaging.channel")
    step = fields.Integer(
        help="0: the campaign's primary channel; 1, 2…: the fallback step "
        "that reached the customer."
    )
    attribution = fields.Selection(
        [("utm", "UTM campaign"), ("click", "Clicked a link"), ("read", "Read")],
        required=True,
        help="Why the order counts for the campaign: placed with the "
        "campaign's UTM, or by a recipient who clicked or read its message.",
    )
    date_order = fields.Datetime("Order date")
    currency_id = fields.Many2one(
        "res.currency", related="company_id.currency_id", string="Currency"
    )
    amount = fields.Monetary(
        "Revenue",
        currency_field="currency_id",
        help="The order's total in the company's currency.",
    )
