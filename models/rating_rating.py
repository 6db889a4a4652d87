from odoo import fields, models


class RatingRating(models.Model):
    """A Zalo rating (``user_feedback``) is an Odoo rating on the rated
    message's document; this links it to that message (the campaign report
    counts a campaign's ratings through it)."""

    _inherit = "rating.rating"

    # for Messaging users only: whoever reads ratings without Messaging
    # rights (a salesperson, a portal user through Odoo's rating pages)
    # reads them whole without meeting the queue's messages
    messaging_message_id = fields.Many2one(
        "messaging.message",
        "Rated Zalo message",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        groups="multichannel_messaging.group_messaging_user",
    )
