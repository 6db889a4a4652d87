"""What the OA sent a Zalo user (``oa_send_*`` events): a staff member's
answer typed in Zalo's own apps (the OA manager, the Zalo app) is posted in
the Discuss conversation as the OA's message; the echo of a message sent
from Odoo (matched by its Zalo msg_id, or by its text while its id is not
known yet) is linked to it and posted nowhere, so nothing shows twice."""

from datetime import timedelta

from odoo import _, fields, models

# an echo of a message sent from Odoo without its msg_id (the same text to
# the same user) arrives within this time of the send
ECHO_WINDOW = timedelta(minutes=10)
IN_FLIGHT_STATES = ("sending", "unknown")  # the request left, no id stored yet
SENT_STATES = ("sent", "delivered", "read")


class MessagingEvent(models.Model):
    _inherit = "messaging.event"

    discuss_message_id = fields.Many2one(
        "mail.message",
        "Posted message",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="The message this event posted in the Zalo conversation.",
    )

    def _process_zalo_oa_message(self, data):
        event = self._zalo_event(data)
        if not event.user_id:
            return "ignored", _("The OA message names no Zalo user.")
        if self.discuss_message_id:
            return "done", None  # posted when it was processed before
        own, in_flight = self._own_send_of(event)
        if own:
            self.write({"message_id": own.id, "partner_id": own.partner_id.id})
            return "done", _("Echo of a message sent from Odoo.")
        if in_flight:
            # its send result (and Zalo msg_id) is being stored: try again
            return "received", _("A message from Odoo to this user is being sent.")
        identity = self._get_identity(event.user_id)
        self._link(identity)
        self.text = event.summary
        posted = (
            self.env["discuss.channel"]
            .sudo()
            ._messaging_on_oa_echo(self, identity, event)
        )
        self.discuss_message_id = posted
        return "done", None

    def _own_send_of(self, event):
        """(the message sent from Odoo this event echoes, or an empty
        recordset; whether one with its text is in flight to this user)."""
        Message = self.env["messaging.message"].sudo()
        domain = [("channel_id", "=", self.channel_id.id)]
        if event.msg_id:
            own = Message.search(
                domain + [("provider_message_id", "=", event.msg_id)], limit=1
            )
            if own:
                return own, False
        if not event.text:
            return Message, False
        same = domain + [("recipient", "=", event.user_id), ("body", "=", event.text)]
        in_flight = Message.search_count(
            same + [("state", "in", IN_FLIGHT_STATES)], limit=1
        )
        when = self._event_time()
        candidates = Message.search(
            same
            + [
                ("state", "in", SENT_STATES),
                ("sent_at", ">=", when - ECHO_WINDOW),
                ("sent_at", "<=", when + ECHO_WINDOW),
            ],
            order="sent_at desc, id desc",
        )
        claimed = set(
            self.search(
                [
                    ("channel_id", "=", self.channel_id.id),
                    ("message_id", "in", candidates.ids),
                    ("event_name", "=like", "oa_send_%"),
                    ("id", "!=", self.id),
                ]
            ).message_id.ids
        )
        own = candidates.filtered(lambda message: message.id not in claimed)[:1]
        return own, bool(in_flight) and not own
