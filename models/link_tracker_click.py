from odoo import fields, models


class LinkTrackerClick(models.Model):
    """A click on a tracked link of a message (``/r/<code>/m/<id>``)."""

    _inherit = "link.tracker.click"

    messaging_message_id = fields.Many2one(
        "messaging.message",
        "Multichannel message",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        # a marketer without Messaging rights reads clicks whole
        groups="multichannel_messaging.group_messaging_user",
    )
