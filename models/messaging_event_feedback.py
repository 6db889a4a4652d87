"""Ratings (``user_feedback``): a user's answer to a ZBS rating template.

The call names the rated message by its Zalo msg_id only (no user id): the
rating is kept on the event (rate, note, chosen feedback lines), linked to
the message we sent, and written in the chatter of its contact (and of its
document when that has one). The campaign report counts them
(messaging_campaign_feedback.py). Until the rated message's send result is
stored the event waits, like a receipt."""

from odoo import _, fields, models

STARS = "★"


class MessagingEvent(models.Model):
    _inherit = "messaging.event"

    feedback_rate = fields.Integer(
        "Rating", readonly=True, help="1 to 5, as the Zalo user rated."
    )
    feedback_note = fields.Text("Rating note", readonly=True)
    feedback_items = fields.Text(
        "Rating feedback", readonly=True, help="The feedback lines the user chose."
    )

    def _process_zalo_feedback(self, data):
        event = self._zalo_event(data)
        feedback = event.feedback
        self.write(
            {
                "feedback_rate": feedback.rate or 0,
                "feedback_note": feedback.note or False,
                "feedback_items": "\n".join(feedback.feedbacks) or False,
            }
        )
        domain = self._message_domain(
            list(event.receipt_msg_ids), list(event.tracking_ids)
        )
        if domain is None:
            return "ignored", _("Rating without msg_id.")
        rated = self.env["messaging.message"].sudo().search(domain, limit=1)
        if not rated:
            return "received", _("No matching message yet.")
        posted_before = self.message_id == rated  # processed again
        self.write({"message_id": rated.id, "partner_id": rated.partner_id.id})
        if not posted_before:
            self._post_feedback(rated, feedback)
        return "done", None

    def _post_feedback(self, rated, feedback):
        """A line with the rating in the chatter of the rated message's
        contact and of its document."""
        text = "\n".join(filter(None, [feedback.note, *feedback.feedbacks]))
        params = {
            "id": rated.id,
            "rate": feedback.rate or "?",
            "stars": STARS * (feedback.rate or 0),
            "text": text,
        }
        records = [rated.partner_id]
        if rated.res_model and rated.res_model in self.env and rated.res_id:
            document = self.env[rated.res_model].browse(rated.res_id).exists()
            if hasattr(document, "message_post") and document != rated.partner_id:
                records.append(document)
        MailMessage = self.env["mail.message"].sudo()
        for record in filter(None, records):
            MailMessage._messaging_post(
                record.sudo(),
                "zalo_feedback",
                params,
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
