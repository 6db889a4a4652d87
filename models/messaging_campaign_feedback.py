from odoo import api, fields, models


class MessagingCampaign(models.Model):
    """Ratings in the campaign report: the Zalo ratings (``user_feedback``)
    that answer one of the campaign's messages (messaging_event_feedback.py)."""

    _inherit = "messaging.campaign"

    count_feedback = fields.Integer(
        "Zalo ratings",
        compute="_compute_feedback",
        help="Zalo ratings given in answer to the campaign's messages.",
    )
    feedback_rate_avg = fields.Float(
        "Average rating",
        compute="_compute_feedback",
        digits=(3, 1),
        help="Average of the ratings (1 to 5) given to the campaign's messages.",
    )

    @api.depends("message_ids_sent.state")
    def _compute_feedback(self):
        ratings = {}
        ids = self._origin.ids
        if ids:
            # sudo: the report counts every rating, whoever reads the events
            groups = (
                self.env["messaging.event"]
                .sudo()
                ._read_group(
                    [
                        ("event_name", "=", "user_feedback"),
                        ("message_id.campaign_id", "in", ids),
                        ("feedback_rate", ">", 0),
                    ],
                    ["message_id"],
                    ["feedback_rate:sum", "__count"],
                )
            )
            for message, rate_sum, count in groups:
                total = ratings.setdefault(message.campaign_id.id, [0, 0])
                total[0] += rate_sum
                total[1] += count
        for campaign in self:
            rate_sum, count = ratings.get(campaign._origin.id, (0, 0))
            campaign.count_feedback = count
            campaign.feedback_rate_avg = rate_sum / count if count else 0.0
