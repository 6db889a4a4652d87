"""What the OA sends outside Odoo (oa_send_* echoes), ratings
(user_feedback), products asked about, and the events kept only as stored
with their reason."""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..providers.zalo_events import parse_event
from . import test_webhook_common as wh
from .common import MessagingCase
from .peers import start_zalo_peer
from .test_conversation import ConversationMixin


def oa_text(text, msg_id=None, user_id=wh.USER_ID, ts=None, name="oa_send_text"):
    """An OA message to a user, as Zalo echoes it (sender = the OA)."""
    return {
        "app_id": wh.APP_ID,
        "sender": {"id": wh.OA_ID, "admin_id": "7788990011223344556"},
        "recipient": {"id": user_id},
        "user_id_by_app": "552177279717587730",
        "event_name": name,
        "message": {"text": text, "msg_id": msg_id or wh.next_msg_id()},
        "timestamp": ts or wh.now_ms(),
    }


def rating(msg_id, rate=4, note="Giao nhanh", feedbacks=("Nhân viên vui vẻ",)):
    message = {
        "rating_type": "csat",
        "option": "five_emotions",
        "note": note,
        "rate": rate,
        "submit_time": wh.now_ms(),
        "feedbacks": list(feedbacks),
        "tracking_id": "1956",
    }
    if msg_id:
        message["msg_id"] = msg_id
    return {
        "event_name": "user_feedback",
        "message": message,
        "app_id": wh.APP_ID,
        "oa_id": wh.OA_ID,
        "timestamp": wh.now_ms(),
    }


@tagged("post_install", "-at_install")
class TestZaloOaEcho(ConversationMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_conversations()

    def _event(self, payload, state="done"):
        event = wh.store_and_process(self.zalo, payload)
        self.assertEqual(event.state, state, event.error_message)
        return event

    def _conversation(self, user_id=wh.USER_ID):
        return self.Conversation.search(
            [("messaging_identity_id.external_id", "=", user_id)]
        )

    def _comments(self, conversation):
        return conversation.message_ids.filtered(lambda m: m.message_type == "comment")

    def _start(self):
        """A customer wrote; an agent answered from Odoo and it was sent."""
        peer = start_zalo_peer(self, self.zalo)
        self.Identity.create(
            {
                "channel_id": self.zalo.id,
                "external_id": wh.USER_ID,
                "partner_id": self.partner_a.id,
            }
        )
        self._event(wh.user_text("Shop còn hàng không?"))
        conversation = self._conversation()
        conversation.with_user(self.agent_1).sudo().message_post(
            body="Dạ còn ạ", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.Message._process_queue()
        sent = self.Message.search([("conversation_id", "=", conversation.id)])
        self.assertEqual(sent.state, "sent")
        self.assertTrue(sent.provider_message_id)
        return conversation, sent, peer

    # -- echoes of what Odoo sent: linked, never posted twice -----------------
    def test_echo_of_own_send_is_not_duplicated(self):
        conversation, sent, _peer = self._start()
        before = self._comments(conversation)
        event = self._event(oa_text("Dạ còn ạ", msg_id=sent.provider_message_id))
        self.assertEqual(self._comments(conversation), before)
        self.assertEqual(event.message_id, sent)
        self.assertFalse(event.discuss_message_id)
        self.assertIn("Echo", event.error_message)
        # its replay (Zalo retries) is stored once
        raw = wh.encode(oa_text("Dạ còn ạ", msg_id=sent.provider_message_id))
        self.assertEqual(
            self.Event._store(self.zalo, event.event_key, "oa_send_text", raw.decode()),
            self.Event,
        )

    def test_echo_with_another_id_matched_by_its_text(self):
        conversation, sent, _peer = self._start()
        before = self._comments(conversation)
        event = self._event(oa_text("Dạ còn ạ", msg_id="8877665544332211009"))
        self.assertEqual(self._comments(conversation), before)
        self.assertEqual(event.message_id, sent)
        # a second message with that text is not the same send
        other = self._event(oa_text("Dạ còn ạ", msg_id="8877665544332211010"))
        self.assertNotEqual(other.message_id, sent)
        self.assertTrue(other.discuss_message_id)

    def test_echo_waits_while_the_send_is_in_flight(self):
        conversation, sent, _peer = self._start()
        sent.write({"state": "sending", "provider_message_id": False})
        event = self._event(oa_text("Dạ còn ạ"), state="received")
        self.assertFalse(event.discuss_message_id)
        sent.write({"state": "sent", "provider_message_id": "5566778899001122334"})
        event.write({"processed_at": False})
        event._process()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.message_id, sent)
        self.assertFalse(event.discuss_message_id)

    # -- a staff member answers from Zalo's own apps ---------------------------
    def test_reply_typed_in_zalo_app_shows_as_the_oa(self):
        conversation, _sent, peer = self._start()
        requests = len(peer.requests_for("/v3.0/oa/message/cs"))
        queued = self.Message.search_count([])
        event = self._event(oa_text("Mai shop giao nhé anh"))
        posted = event.discuss_message_id
        self.assertEqual(posted.model, "discuss.channel")
        self.assertEqual(posted.res_id, conversation.id)
        self.assertIn("Mai shop giao", posted.body)
        self.assertEqual(posted.author_id, self.zalo.company_id.partner_id)
        self.assertNotEqual(posted.author_id, self.partner_a)
        # not sent to Zalo again, no consultation window opened by it
        self.assertEqual(self.Message.search_count([]), queued)
        self.Message._process_queue()
        self.assertEqual(len(peer.requests_for("/v3.0/oa/message/cs")), requests)
        self.assertEqual(event.partner_id, self.partner_a)
        # processed again (a Manager's retry): still once
        event.action_retry()
        self.assertEqual(event.state, "done")
        self.assertEqual(
            len(
                self._comments(conversation).filtered(
                    lambda m: "Mai shop giao" in m.body
                )
            ),
            1,
        )

    def test_oa_message_to_unknown_user_opens_the_conversation(self):
        user = "6677889900112233445"
        event = self._event(oa_text("Chào bạn", user_id=user, name="oa_send_text"))
        conversation = self._conversation(user)
        self.assertEqual(len(conversation), 1)
        self.assertTrue(conversation.messaging_guest_id)
        self.assertEqual(event.discuss_message_id.res_id, conversation.id)
        identity = conversation.messaging_identity_id
        self.assertFalse(identity.last_interaction_at, "the OA wrote, not the user")

    def test_oa_image_and_file_shown_not_raw(self):
        payload = oa_text("Ảnh mẫu", name="oa_send_image")
        payload["message"]["attachments"] = [
            {
                "type": "image",
                "payload": {
                    "url": "https://photo.example.vn/a.jpg",
                    "thumbnail": "https://photo.example.vn/t.jpg",
                },
            },
            {
                "type": "file",
                "payload": {"url": "ftp://x/y.pdf", "name": "bao-gia.pdf"},
            },
        ]
        body = self._event(payload).discuss_message_id.body
        self.assertIn('src="https://photo.example.vn/t.jpg"', body)
        self.assertIn("bao-gia.pdf", body)
        self.assertNotIn("ftp://", body)
        self.assertNotIn("payload", body)

    # -- ratings ---------------------------------------------------------------
    def _campaign_message(self, msg_id):
        campaign = self.env["messaging.campaign"].create(
            {
                "name": "Khảo sát hài lòng",
                "channel_id": self.sandbox.id,
                "template_id": self.template.id,
            }
        )
        message = self.Message.with_context(messaging_skip_prepare=True).create(
            {
                "partner_id": self.partner_b.id,
                "channel_id": self.zalo.id,
                "campaign_id": campaign.id,
                "route": "uid",
                "recipient": "2468458835296117922",
                "body": "Mời anh đánh giá",
                "res_model": "res.partner",
                "res_id": self.partner_b.id,
            }
        )
        message.write(
            {
                "state": "sent",
                "provider_message_id": msg_id,
                "sent_at": fields.Datetime.now() - timedelta(hours=1),
            }
        )
        return campaign, message

    def test_rating_kept_on_contact_and_counted_in_campaign(self):
        campaign, message = self._campaign_message("7e4c33cfc20b05575c18")
        event = self._event(rating("7e4c33cfc20b05575c18", rate=5))
        self.assertEqual(event.message_id, message)
        self.assertEqual(event.partner_id, self.partner_b)
        self.assertEqual(event.feedback_rate, 5)
        self.assertEqual(event.feedback_note, "Giao nhanh")
        self.assertEqual(event.feedback_items, "Nhân viên vui vẻ")
        line = self.partner_b.message_ids.filtered(
            lambda m: (m.messaging_line or {}).get("key") == "zalo_feedback"
        )
        self.assertEqual(len(line), 1)
        self.assertIn("5/5", line.body)
        self.assertIn("Giao nhanh", line.body)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.count_feedback, 1)
        self.assertEqual(campaign.feedback_rate_avg, 5.0)
        self._event(rating("7e4c33cfc20b05575c18", rate=2, note="Chậm"))
        campaign.invalidate_recordset()
        self.assertEqual(campaign.count_feedback, 2)
        self.assertEqual(campaign.feedback_rate_avg, 3.5)
        # processed again: the contact's chatter gets no second line
        event.action_retry()
        self.assertEqual(
            len(
                self.partner_b.message_ids.filtered(
                    lambda m: (m.messaging_line or {}).get("key") == "zalo_feedback"
                )
            ),
            2,
        )

    def test_rating_of_unknown_message_waits_then_keeps_the_rating(self):
        event = self._event(rating("1122334455667788990"), state="received")
        self.assertEqual(event.feedback_rate, 4)
        self.assertFalse(event.message_id)
        event.write({"received_at": fields.Datetime.now() - timedelta(hours=2)})
        event.write({"processed_at": False})
        event._process()
        self.assertEqual(event.state, "ignored")
        self.assertEqual(event.feedback_rate, 4, "the rating stays on the event")

    def test_rating_without_msg_id_ignored(self):
        payload = rating(None)
        payload["message"].pop("tracking_id")
        event = self._event(payload, state="ignored")
        self.assertIn("msg_id", event.error_message)

    def test_rate_out_of_range_is_not_a_rate(self):
        _campaign, message = self._campaign_message("2233445566778899001")
        event = self._event(rating("2233445566778899001", rate=9))
        self.assertEqual(event.message_id, message)
        self.assertEqual(event.feedback_rate, 0)

    # -- a product asked about -------------------------------------------------
    def test_asking_product_shown_in_conversation(self):
        payload = wh.user_text("Áo thun trắng")
        payload["event_name"] = "user_asking_product"
        payload["product"] = {
            "title": "Áo thun trắng",
            "url": "https://shop.example.vn/ao-thun",
            "thumbnail": "https://shop.example.vn/ao.jpg",
            "description": "Còn size M không?",
        }
        event = self._event(payload)
        body = self._comments(self._conversation())[:1].body
        self.assertIn('href="https://shop.example.vn/ao-thun"', body)
        self.assertIn('src="https://shop.example.vn/ao.jpg"', body)
        self.assertEqual(parse_event(payload).event_key(b"")[:4], "msg:")
        self.assertTrue(event.identity_id.last_interaction_at)

    # -- stored only, with the reason ------------------------------------------
    def test_ignored_events_say_why(self):
        cases = {
            "add_user_to_tag": "tags",
            "user_reacted_message": "Reactions",
            "oa_reacted_message": "Reactions",
            "anonymous_send_text": "Anonymous",
            "oa_send_anonymous_text": "Anonymous",
            "user_send_group_text": "group chats",
            "oa_send_group_text": "group chats",
            "user_click_chatnow": "chat button",
            "something_new": "not handled",
        }
        for name, reason in cases.items():
            with self.subTest(event=name):
                payload = dict(wh.user_text("x"), event_name=name)
                event = self._event(payload, state="ignored")
                self.assertIn(reason, event.error_message)
        self.assertFalse(self._conversation(), "none of them opened a conversation")
