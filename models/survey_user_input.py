from odoo import fields, models


class SurveyUserInput(models.Model):
    """An answer made for a message's recipient (messaging_message_survey.py):
    once completed, a line in the contact's chatter."""

    _inherit = "survey.user_input"

    # for Messaging users only: Odoo's survey pages and reports read the
    # answer whole, as whoever runs them
    messaging_message_id = fields.Many2one(
        "messaging.message",
        "Sent in message",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        copy=False,
        groups="multichannel_messaging.group_messaging_user",
    )

    def _mark_done(self):
        res = super()._mark_done()
        self._messaging_post_done()
        return res

    def _messaging_post_done(self):
        MailMessage = self.env["mail.message"].sudo()
        for answer in self.sudo().filtered(
            lambda a: a.messaging_message_id and a.partner_id and not a.test_entry
        ):
            MailMessage._messaging_post(
                answer.partner_id,
                "survey_done",
                {
                    "survey": answer.survey_id.title,
                    "id": answer.messaging_message_id.id,
                },
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
