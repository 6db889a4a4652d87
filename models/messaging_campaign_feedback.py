from odoo import api, fields, models
from odoo.tools import SQL


class MessagingCampaign(models.Model):
    """Ratings and surveys in the campaign report: the Odoo ratings
    (``rating.rating``) made from the Zalo ratings (``user_feedback``) that
    answer one of the campaign's messages (messaging_event_feedback.py), and
    the survey answers its messages carried (messaging_message_survey.py)."""

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
    count_survey_sent = fields.Integer(
        "Surveys sent",
        compute="_compute_survey_counts",
        help="Recipients whose message carried their own survey link.",
    )
    count_survey_done = fields.Integer(
        "Surveys answered",
        compute="_compute_survey_counts",
        help="Recipients who completed the survey of their message.",
    )

    @api.depends("message_ids_sent.state")
    def _compute_feedback(self):
        ratings = {}
        ids = self._origin.ids
        if ids:
            self.env["rating.rating"].flush_model(
                ["messaging_message_id", "rating", "consumed"]
            )
            self.env["messaging.message"].flush_model(["campaign_id"])
            # every rating counts, whoever reads the report
            self.env.cr.execute(
                SQL(
                    """
                    SELECT m.campaign_id, count(*), sum(r.rating)
                      FROM rating_rating r
                      JOIN messaging_message m ON m.id = r.messaging_message_id
                     WHERE m.campaign_id = ANY(%s) AND r.consumed AND r.rating > 0
                     GROUP BY m.campaign_id
                    """,
                    ids,
                )
            )
            ratings = {row[0]: (row[2], row[1]) for row in self.env.cr.fetchall()}
        for campaign in self:
            rate_sum, count = ratings.get(campaign._origin.id, (0, 0))
            campaign.count_feedback = count
            campaign.feedback_rate_avg = rate_sum / count if count else 0.0

    @api.depends("message_ids_sent.state")
    def _compute_survey_counts(self):
        counts = {}
        ids = self._origin.ids
        if ids:
            self.env["messaging.message"].flush_model(
                ["campaign_id", "survey_user_input_id", "state"]
            )
            self.env["survey.user_input"].flush_model(["state"])
            # a fallback message carries its parent's answer: counted once
            self.env.cr.execute(
                SQL(
                    """
                    SELECT m.campaign_id, count(DISTINCT a.id),
                           count(DISTINCT a.id) FILTER (WHERE a.state = 'done')
                      FROM messaging_message m
                      JOIN survey_user_input a ON a.id = m.survey_user_input_id
                     WHERE m.campaign_id = ANY(%s)
                       AND m.state NOT IN ('queued', 'failed', 'cancelled',
                                           'skipped')
                     GROUP BY m.campaign_id
                    """,
                    ids,
                )
            )
            counts = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for campaign in self:
            sent, done = counts.get(campaign._origin.id, (0, 0))
            campaign.count_survey_sent = sent
            campaign.count_survey_done = done
