from odoo import fields, models


class MessagingCampaignEnqueue(models.Model):
    """Where the background enqueue of a campaign stands.

    A row of its own: the chunks the cron commits move this cursor, never the
    campaign's row, so that pausing or cancelling from the form while a chunk
    is being queued waits for it (the chunk holds a share lock on the
    campaign) instead of failing on a concurrent update of the same row.
    """

    _name = "messaging.campaign.enqueue"
    _description = "Campaign enqueue progress"

    campaign_id = fields.Many2one(
        "messaging.campaign", required=True, index=True, ondelete="cascade"
    )
    cursor = fields.Integer(
        help="The last contact id queued (customer groups) or the number of "
        "source records done."
    )
    done = fields.Integer("Recipients processed")
    spread_start = fields.Datetime(
        help="Send time of the first message spread by the campaign's pace."
    )
    spread_rank = fields.Integer(help="Messages spread so far.")
    # A/B test: recipients split so far and those put into the test (the
    # split of the next chunk goes on from them, see engine/ab_testing.py)
    ab_seen = fields.Integer("Recipients split")
    ab_tested = fields.Integer("Recipients tested")

    _sql_constraints = [
        (
            "campaign_unique",
            "UNIQUE(campaign_id)",
            "A campaign has one enqueue progress.",
        ),
    ]
