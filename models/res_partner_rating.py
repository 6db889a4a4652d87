from odoo import fields, models


class ResPartner(models.Model):
    """The ratings a contact gave (Odoo's ``rating.rating``, on any
    document), for the customer groups built from reviews."""

    _inherit = "res.partner"

    # for Messaging users only: a contact is read whole by employees and
    # portal users who have no business with it
    messaging_rating_ids = fields.One2many(
        "rating.rating",
        "partner_id",
        "Ratings by the contact",
        groups="multichannel_messaging.group_messaging_user",
    )
