"""Ratings (``user_feedback``): a user's answer to a ZBS rating template.

The call names the rated message by its Zalo msg_id only (no user id): the
rating is kept on the event (rate, note, chosen feedback lines), linked to
the message we sent, and becomes an Odoo ``rating.rating`` on the message's
document (the order it was about, else the contact), posted in its chatter
(and in the contact's when the document is another record). The campaign
report counts these ratings (messaging_campaign_feedback.py). Until the rated
message's send result is stored the event waits, like a receipt; the rating
is created once, when the message is found (``rating_id`` marks it done)."""

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
    rating_id = fields.Many2one(
        "rating.rating",
        "Odoo rating",
        readonly=True,
        ondelete="set null",
        help="The rating this answer became, on the rated message's document.",
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
        if self.rating_id or (posted_before and not self.feedback_rate):
            return "done", None  # already applied
        rating = self._create_feedback_rating(rated) if self.feedback_rate else None
        self._post_feedback(rated, feedback, rating)
        return "done", None

    def _get_feedback_document(self, rated):
        """The record the rating is about: the rated message's document
        when it is a record with a chatter, else its contact."""
        if rated.res_model and rated.res_model in self.env and rated.res_id:
            document = self.env[rated.res_model].sudo().browse(rated.res_id).exists()
            if document and hasattr(document, "message_post"):
                return document
        return rated.partner_id.sudo()

    def _prepare_feedback_rating_values(self, rated, document):
        rated_partner = self.env["res.partner"]
        if "user_id" in document._fields and document._fields["user_id"].type == (
            "many2one"
        ):
            rated_partner = document.user_id.partner_id
        company = rated.company_id or self.channel_id.company_id
        return {
            "res_model_id": self.env["ir.model"]._get_id(document._name),
            "res_id": document.id,
            "partner_id": rated.partner_id.id,
            "rated_partner_id": (rated_partner or company.partner_id).id,
            "rating": self.feedback_rate,
            "feedback": "\n".join(
                filter(None, [self.feedback_note, self.feedback_items])
            )
            or False,
            "consumed": True,
            "messaging_message_id": rated.id,
        }

    def _create_feedback_rating(self, rated):
        """The ``rating.rating`` of this answer (once: the event keeps it)."""
        document = self._get_feedback_document(rated)
        if not document:
            return None
        rating = (
            self.env["rating.rating"]
            .sudo()
            .create(self._prepare_feedback_rating_values(rated, document))
        )
        self.rating_id = rating
        return rating

    def _post_feedback(self, rated, feedback, rating=None):
        """A line with the rating in the chatter of the rated document (the
        rating's message, posted by the customer) and of its contact."""
        text = "\n".join(filter(None, [feedback.note, *feedback.feedbacks]))
        params = {
            "id": rated.id,
            "rate": feedback.rate or "?",
            "stars": STARS * (feedback.rate or 0),
            "text": text,
        }
        MailMessage = self.env["mail.message"].sudo()
        document = self._get_feedback_document(rated)
        if document:
            extra = {}
            if rating and rating.partner_id:
                # Odoo links the rating to the message its author posts
                extra = {"rating_id": rating.id, "author_id": rating.partner_id.id}
            MailMessage._messaging_post(
                document,
                "zalo_feedback",
                params,
                message_type="comment",
                subtype_xmlid="mail.mt_note",
                **extra,
            )
        contact = rated.partner_id
        if contact and document != contact:
            MailMessage._messaging_post(
                contact.sudo(),
                "zalo_feedback",
                params,
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
