from odoo import api, fields, models
from odoo.tools import SQL


class MessagingMessage(models.Model):
    """Messages of a Zalo conversation show their receipts in Discuss."""

    _inherit = "messaging.message"

    conversation_id = fields.Many2one(
        "discuss.channel", index="btree_not_null", ondelete="set null", readonly=True
    )
    discuss_message_id = fields.Many2one(
        "mail.message",
        "Message in Discuss",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
    )
    attachment_id = fields.Many2one(
        "ir.attachment",
        "File",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="The image or document this consultation message uploads to Zalo.",
    )
    zalo_card = fields.Json(
        "Product card",
        readonly=True,
        help="The product card this message sends: title, subtitle, link.",
    )
    zalo_interactive = fields.Json(
        "Answer buttons",
        readonly=True,
        help="The answer buttons this message shows, or its request for the "
        "user's phone number (a chatbot question).",
    )
    inbound_event_id = fields.Many2one(
        "messaging.event",
        "Answers the event",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="The inbound message this automatic answer replied to.",
    )

    @api.model
    def _queue_consultation(self, identity, text, category="transactional", **extra):
        """Queue free text to this Zalo user as an OA consultation message
        (the window decides its price when it is sent) and wake the queue."""
        message = (
            self.sudo()
            .with_context(messaging_skip_prepare=True)
            .create(
                {
                    "channel_id": identity.channel_id.id,
                    "partner_id": identity.partner_id.id,
                    "route": "consultation",
                    "recipient": identity.external_id,
                    "body": text,
                    "category": category,
                    **extra,
                }
            )
        )
        message._retrigger_cron()
        return message

    def _set_failed(self, failure_type, text, code=None, state="failed"):
        res = super()._set_failed(failure_type, text, code=code, state=state)
        for message in self.filtered("conversation_id"):
            message.conversation_id._messaging_notify(
                "not_delivered",
                error=" ".join(
                    filter(None, [message.error_code, message.error_message])
                )
                or failure_type,
                error_of=message.id,
            )
        return res

    def _set_delivered(self, when=None):
        res = super()._set_delivered(when=when)
        self._conversation_receipt(seen=False)
        return res

    def _set_read(self, when=None):
        res = super()._set_read(when=when)
        self._conversation_receipt(seen=True)
        return res

    @api.model
    def _set_receipts_many(self, receipts):
        res = super()._set_receipts_many(receipts)
        ids = {mid for message_ids, _seen, _when in receipts for mid in message_ids}
        # one light query (not the ORM's read of every column of every row)
        self.env.cr.execute(
            SQL(
                "SELECT id FROM messaging_message WHERE id = ANY(%s)"
                " AND conversation_id IS NOT NULL AND discuss_message_id IS NOT NULL",
                sorted(ids),
            )
        )
        shown = self.browse(row[0] for row in self.env.cr.fetchall())
        for message_ids, seen, _when in receipts if shown else ():
            (self.browse(message_ids) & shown)._conversation_receipt(seen=seen)
        return res

    def _conversation_receipt(self, seen):
        """Zalo's receipts move the customer's member in Discuss: delivered
        is 'fetched' (✓✓), seen is 'seen' (✓✓ coloured)."""
        for message in self.filtered(
            lambda m: m.conversation_id and m.discuss_message_id
        ):
            conversation = message.conversation_id.sudo()
            member = conversation.channel_member_ids.filtered(
                lambda m, c=conversation: (
                    (m.partner_id and m.partner_id == c.messaging_partner_id)
                    or (m.guest_id and m.guest_id == c.messaging_guest_id)
                )
            )[:1]
            if not member:
                continue
            mail_message = message.discuss_message_id
            if seen:
                member._set_last_seen_message(mail_message)
            elif member.fetched_message_id.id < mail_message.id:
                member.fetched_message_id = mail_message
                conversation._bus_send(
                    "discuss.channel.member/fetched",
                    {
                        "channel_id": conversation.id,
                        "id": member.id,
                        "last_message_id": mail_message.id,
                        "partner_id": member.partner_id.id,
                    },
                )
