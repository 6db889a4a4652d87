from odoo import fields, models


class MessagingCampaign(models.Model):
    """A send to records picked in a list (the bulk-send wizard) is kept as
    a campaign for its queue and report, marked so: its messages are logged
    in each record's chatter like single sends, and the Campaigns menu
    hides it by default."""

    _inherit = "messaging.campaign"

    from_list = fields.Boolean(
        "Sent from a list",
        readonly=True,
        copy=False,
        help="Created by Send from a list (contacts or orders picked by hand), "
        "not planned as a campaign.",
    )
