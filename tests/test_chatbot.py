"""Odoo's chatbot scripts on Zalo: webhook events drive the script, its
questions reach Zalo as buttons, Odoo's branching moves it, and a person
takes over as soon as the customer asks."""

import pytz
from freezegun import freeze_time

from odoo.tests import HttpCase, JsonRpcException, tagged

from . import test_webhook_common as wh
from .common import MessagingCase
from .peers import start_zalo_peer
from .test_conversation import USER_2, USER_3, ConversationMixin

GREETING = "Chào bạn! Shop có thể giúp gì?\n\nBạn cần gì?"
# Wednesday 02/12/2026 10:00 and Saturday 05/12/2026 10:00 in Hanoi (UTC+7)
WEDNESDAY_10H = "2026-12-02 03:00:00"
SATURDAY_10H = "2026-12-05 03:00:00"


class ChatbotMixin(ConversationMixin):
    @classmethod
    def _setup_chatbot(cls):
        cls._setup_conversations()
        cls.team.resource_calendar_id = cls.env.ref("resource.resource_calendar_std")
        Script = cls.env["chatbot.script"]
        Step = cls.env["chatbot.script.step"]
        cls.script = Script.create({"title": "Shop bot"})

        def step(script, step_type, message, answers=(), only_if=None):
            return Step.create(
                {
                    "chatbot_script_id": script.id,
                    "step_type": step_type,
                    "message": message,
                    "answer_ids": [(0, 0, {"name": name}) for name in answers],
                    "triggering_answer_ids": [(6, 0, only_if.ids)] if only_if else [],
                }
            )

        cls.step_hello = step(cls.script, "text", "Chào bạn! Shop có thể giúp gì?")
        cls.question = step(
            cls.script,
            "question_selection",
            "Bạn cần gì?",
            ("Xem đơn hàng", "Gặp nhân viên", "Bảng giá"),
        )
        orders, person, prices = cls.question.answer_ids
        cls.step_orders = step(
            cls.script, "order_status", "Đơn hàng gần đây:", only_if=orders
        )
        cls.step_forward = step(
            cls.script,
            "forward_operator",
            "Mình chuyển bạn cho nhân viên nhé.",
            only_if=person,
        )
        cls.step_prices = step(
            cls.script, "text", "Bảng giá: https://example.vn/gia", only_if=prices
        )
        cls.step_email = step(
            cls.script, "question_email", "Email của bạn là gì?", only_if=prices
        )
        cls.step_lead = step(
            cls.script, "create_lead", "Cảm ơn, shop sẽ liên hệ!", only_if=prices
        )
        cls.zalo.chatbot_script_id = cls.script

    def _tap(self, text, user_id=wh.USER_ID, **kw):
        # a tap on an oa.query.show button: a user_send_text with its payload
        return wh.store_and_process(self.zalo, wh.user_text(text, user_id, **kw))

    def _conversation(self, user_id=wh.USER_ID):
        return self.env["discuss.channel"].search(
            [
                ("messaging_identity_id.external_id", "=", user_id),
                ("messaging_channel_id", "=", self.zalo.id),
            ]
        )

    def _bot_texts(self, conversation):
        return (
            self.env["messaging.message"]
            .search([("conversation_id", "=", conversation.id)], order="id")
            .mapped("body")
        )

    def _link(self, partner, user_id=wh.USER_ID):
        return self.env["messaging.identity"].create(
            {
                "channel_id": self.zalo.id,
                "external_id": user_id,
                "partner_id": partner.id if partner else False,
            }
        )


@tagged("post_install", "-at_install")
class TestChatbot(ChatbotMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_chatbot()
        product = cls.env["product.product"].create(
            {"name": "Áo thun", "list_price": 250000}
        )
        cls.order = cls.env["sale.order"].create(
            {
                "partner_id": cls.partner_a.id,
                "order_line": [
                    (0, 0, {"product_id": product.id, "price_unit": 250000})
                ],
            }
        )
        cls.order.action_confirm()

    def test_greeting_starts_the_script_with_one_button_per_answer(self):
        peer = start_zalo_peer(self, self.zalo)
        self._link(self.partner_a)
        self._tap("Xin chào shop")
        conversation = self._conversation()
        self.assertEqual(conversation.messaging_state, "bot")
        self.assertEqual(conversation.chatbot_current_step_id, self.question)
        # the greeting's text and the question: one message, in order
        self.assertEqual(self._bot_texts(conversation), [GREETING])
        self.Message._process_queue()
        question = peer.requests_for("/v3.0/oa/message/cs")[-1].body["message"]
        self.assertEqual(question["text"], GREETING)
        self.assertEqual(
            question["attachment"],
            {
                "type": "template",
                "payload": {
                    "buttons": [
                        {"title": name, "type": "oa.query.show", "payload": name}
                        for name in ("Xem đơn hàng", "Gặp nhân viên", "Bảng giá")
                    ]
                },
            },
        )
        # the exchange is Odoo's: chatbot messages on the conversation
        self.assertEqual(conversation.chatbot_message_ids.script_step_id, self.question)
        self.assertEqual(
            conversation.chatbot_message_ids.mail_message_id.author_id,
            self.script.operator_partner_id,
        )
        self.assertFalse(self._agents_of(conversation))

    def _agents_of(self, conversation):
        return conversation.channel_member_ids.partner_id.user_ids.filtered(
            lambda u: not u.share
        )

    def test_taps_follow_odoos_branching(self):
        # branch "Gặp nhân viên": forward_operator, our team's agent
        self._link(self.partner_a)
        self._tap("Chào")
        self._tap("Gặp nhân viên")
        conversation = self._conversation()
        self.assertEqual(conversation.messaging_state, "assigned")
        self.assertEqual(conversation.messaging_agent_id, self.agent_1)
        self.assertFalse(conversation.chatbot_current_step_id)
        self.assertEqual(
            self._bot_texts(conversation)[-1], "Mình chuyển bạn cho nhân viên nhé."
        )
        # the agent sees the whole exchange in the conversation
        bodies = " ".join(conversation.message_ids.mapped("body"))
        for text in ("Chào bạn!", "Bạn cần gì?", "Gặp nhân viên", "Mình chuyển"):
            self.assertIn(text, bodies)
        # branch "Bảng giá" for another customer: its texts, then the email
        # question (an invalid answer asks again), then a lead
        self._link(self.partner_b, USER_2)
        self._tap("Hello", USER_2)
        self._tap("Bảng giá", USER_2)
        other = self._conversation(USER_2)
        self.assertEqual(other.chatbot_current_step_id, self.step_email)
        self.assertEqual(
            self._bot_texts(other)[-1],
            "Bảng giá: https://example.vn/gia\n\nEmail của bạn là gì?",
        )
        self._tap("binh at example", USER_2)
        self.assertEqual(other.chatbot_current_step_id, self.step_email)
        self.assertIn("does not look like a valid email", self._bot_texts(other)[-1])
        self._tap("Binh@Example.vn", USER_2)
        self.assertEqual(self.partner_b.email, "binh@example.vn")
        self.assertEqual(self._bot_texts(other)[-1], "Cảm ơn, shop sẽ liên hệ!")
        lead = self.env["crm.lead"].search([("partner_id", "=", self.partner_b.id)])
        self.assertEqual(len(lead), 1)
        self.assertIn("Bảng giá", lead.description)
        self.assertIn("binh@example.vn", lead.description)
        self.assertFalse(other.chatbot_current_step_id)
        # the script ended: the next message goes to a person, silently
        self._tap("Cảm ơn shop", USER_2)
        self.assertEqual(other.messaging_state, "assigned")
        # done, then a new greeting: the script starts again
        other.with_user(self.agent_1).action_messaging_done()
        self._tap("Chào lại", USER_2)
        self.assertEqual(other.chatbot_current_step_id, self.question)
        self.assertEqual(other.messaging_state, "bot")

    def test_typed_answer_without_accents_and_order_status(self):
        self._link(self.partner_a)
        self._tap("Chào")
        self._tap("xem don hang!")
        conversation = self._conversation()
        answer = self._bot_texts(conversation)[-1]
        self.assertIn("Đơn hàng gần đây:", answer)
        self.assertIn(self.order.name, answer)
        ordered = pytz.utc.localize(self.order.date_order).astimezone(
            pytz.timezone("Asia/Ho_Chi_Minh")
        )
        self.assertIn(ordered.strftime("%d/%m/%Y"), answer)
        self.assertIn("Sales Order", answer)
        self.assertFalse(conversation.chatbot_current_step_id)
        # a contact without orders: a clear answer too
        self._link(self.partner_b, USER_2)
        self._tap("Chào", USER_2)
        self._tap("Xem đơn hàng", USER_2)
        self.assertIn(
            "You have no order with us yet.",
            self._bot_texts(self._conversation(USER_2))[-1],
        )

    def test_more_than_five_answers_is_a_numbered_list(self):
        script = self.env["chatbot.script"].create({"title": "Catalogue"})
        names = ("Áo", "Quần", "Giày", "Mũ", "Túi", "Khác")
        question = self.env["chatbot.script.step"].create(
            {
                "chatbot_script_id": script.id,
                "step_type": "question_selection",
                "message": "Bạn tìm gì?",
                "answer_ids": [(0, 0, {"name": name}) for name in names],
            }
        )
        self.env["chatbot.script.step"].create(
            {
                "chatbot_script_id": script.id,
                "step_type": "text",
                "message": "Giày mới về!",
                "triggering_answer_ids": [(6, 0, question.answer_ids[2].ids)],
            }
        )
        self.zalo.chatbot_script_id = script
        self._link(self.partner_a)
        self._tap("Chào")
        conversation = self._conversation()
        asked = self.env["messaging.message"].search(
            [("conversation_id", "=", conversation.id)]
        )
        self.assertEqual(
            asked.body, "Bạn tìm gì?\n1. Áo\n2. Quần\n3. Giày\n4. Mũ\n5. Túi\n6. Khác"
        )
        self.assertFalse(asked.zalo_interactive)
        # an unmatched answer: the question once more
        self._tap("7")
        self.assertEqual(len(self._bot_texts(conversation)), 2)
        self.assertEqual(conversation.chatbot_current_step_id, question)
        self._tap("3")
        self.assertEqual(self._bot_texts(conversation)[-1], "Giày mới về!")

    def test_unmatched_twice_hands_over(self):
        self._link(self.partner_a)
        self._tap("Chào")
        self._tap("Shop ở đâu?")
        conversation = self._conversation()
        self.assertEqual(self._bot_texts(conversation)[-1], "Bạn cần gì?")
        self._tap("Địa chỉ shop?")
        self.assertEqual(conversation.messaging_agent_id, self.agent_1)
        self.assertEqual(self._bot_texts(conversation)[-1], "Chờ chút nhé!")
        self.assertFalse(conversation.chatbot_current_step_id)

    def test_handoff_words_inside_and_outside_working_hours(self):
        self._link(self.partner_a)
        self._link(self.partner_b, USER_2)
        with freeze_time(WEDNESDAY_10H):
            self._tap("Chào")
            self._tap("Cho mình gap nhan vien")
            conversation = self._conversation()
            self.assertEqual(conversation.messaging_agent_id, self.agent_1)
            self.assertFalse(conversation.chatbot_current_step_id)
            self.assertEqual(
                self._bot_texts(conversation)[-1],
                "Agent Một will answer you in a few minutes.",
            )
        with freeze_time(SATURDAY_10H):
            self._tap("Chào", USER_2)
            self._tap("AGENT please", USER_2)
            other = self._conversation(USER_2)
            self.assertEqual(other.messaging_state, "assigned")
            self.assertEqual(
                self._bot_texts(other)[-1],
                "We are closed now: our CSKH team will answer you from "
                "07/12/2026 08:00.",
            )

    def test_who_and_when_in_vietnamese(self):
        self.env["res.lang"]._activate_lang("vi_VN")
        self.partner_a.lang = "vi_VN"
        self._link(self.partner_a)
        with freeze_time(SATURDAY_10H):
            self._tap("Chào")
            self._tap("cho mình gặp người thật")
            conversation = self._conversation()
            self.assertEqual(
                self._bot_texts(conversation)[-1],
                "Hiện shop đã nghỉ: nhóm CSKH sẽ trả lời bạn từ 07/12/2026 08:00.",
            )

    def test_handoff_words_are_whole_words(self):
        self._link(self.partner_a)
        self._tap("Chào")
        self._tap("nhanvien agentic")
        conversation = self._conversation()
        # not a request for a person: an unmatched answer, asked again
        self.assertEqual(conversation.chatbot_current_step_id, self.question)
        self.assertEqual(self._bot_texts(conversation)[-1], "Bạn cần gì?")

    def test_runs_only_outside_working_hours_when_asked(self):
        self.zalo.chatbot_when = "outside_hours"
        self._link(self.partner_a)
        self._link(self.partner_b, USER_2)
        with freeze_time(WEDNESDAY_10H):
            self._tap("Chào")
        conversation = self._conversation()
        self.assertFalse(conversation.chatbot_current_step_id)
        self.assertEqual(conversation.messaging_state, "assigned")
        with freeze_time(SATURDAY_10H):
            self._tap("Chào", USER_2)
        self.assertEqual(
            self._conversation(USER_2).chatbot_current_step_id, self.question
        )

    def test_unknown_user_shares_the_phone_then_gets_the_orders(self):
        peer = start_zalo_peer(self, self.zalo)
        self._tap("Chào")
        self._tap("Xem đơn hàng")
        conversation = self._conversation()
        self.assertEqual(conversation.chatbot_current_step_id, self.step_orders)
        # no contact, no language: the bot speaks Vietnamese
        self.assertEqual(conversation._messaging_chatbot_lang(), "vi_VN")
        self.Message._process_queue()
        # the request alone (no text): its element says what it asks
        (request,) = [
            r.body["message"]
            for r in peer.requests_for("/v3.0/oa/message/cs")
            if "text" not in r.body["message"]
        ]
        payload = request["attachment"]["payload"]
        self.assertEqual(payload["template_type"], "request_user_info")
        self.assertEqual(payload["elements"][0]["title"], self.zalo.name)
        self.assertTrue(payload["elements"][0]["image_url"].startswith("http"))
        # one tap shares the number: the Zalo user is the contact with it
        wh.store_and_process(self.zalo, wh.submit_info("84912345678", name="An"))
        self.assertEqual(conversation.messaging_partner_id, self.partner_a)
        self.assertIn(self.order.name, self._bot_texts(conversation)[-1])
        self.assertFalse(conversation.chatbot_current_step_id)

    def test_typed_phone_never_opens_someone_elses_orders(self):
        # a stranger types partner_a's number on the order status step
        self._tap("Chào")
        self._tap("Xem đơn hàng")
        conversation = self._conversation()
        self._tap("0912 345 678")
        self.assertFalse(conversation.messaging_partner_id)
        self.assertEqual(conversation.chatbot_current_step_id, self.step_orders)
        bodies = " ".join(self._bot_texts(conversation))
        self.assertNotIn(self.order.name, bodies)
        # asked again for Zalo's one-tap share (two requests in all)
        requests = (
            self.env["messaging.message"]
            .search([("conversation_id", "=", conversation.id)])
            .filtered(lambda m: (m.zalo_interactive or {}).get("request_info"))
        )
        self.assertEqual(len(requests), 2)

    def test_typed_phone_answers_a_phone_question(self):
        script = self.env["chatbot.script"].create({"title": "Phone"})
        Step = self.env["chatbot.script.step"]
        ask = Step.create(
            {
                "chatbot_script_id": script.id,
                "step_type": "question_phone",
                "message": "Số điện thoại của bạn?",
            }
        )
        Step.create(
            {"chatbot_script_id": script.id, "step_type": "text", "message": "Cảm ơn!"}
        )
        self.zalo.chatbot_script_id = script
        self._tap("Chào", USER_3)
        conversation = self._conversation(USER_3)
        self.assertEqual(conversation.chatbot_current_step_id, ask)
        queued = self.env["messaging.message"].search(
            [("conversation_id", "=", conversation.id)]
        )
        self.assertEqual(
            queued.zalo_interactive["request_info"]["subtitle"],
            "Số điện thoại của bạn?",
        )
        # partner_b's number, typed: it answers the question, on a new
        # contact (anyone can type anyone's number: never linked to theirs)
        self._tap("0987 654 321", USER_3)
        self.assertTrue(conversation.messaging_partner_id)
        self.assertNotEqual(conversation.messaging_partner_id, self.partner_b)
        self.assertEqual(conversation.messaging_partner_id.mobile, "+84987654321")
        self.assertEqual(self._bot_texts(conversation)[-1], "Cảm ơn!")
        # a new number: a new contact with it
        self._tap("Chào", USER_2)
        self._tap("0903 111 222", USER_2)
        partner = self._conversation(USER_2).messaging_partner_id
        self.assertEqual(partner.mobile, "+84903111222")

    def test_nothing_sent_outside_the_window(self):
        self._link(self.partner_a)
        self._tap("Chào", ts=wh.now_ms(-3 * 86400))
        conversation = self._conversation()
        self.assertFalse(self._bot_texts(conversation))
        self.assertFalse(conversation.chatbot_current_step_id)
        self.assertEqual(conversation.messaging_state, "assigned")

    def test_agent_reply_stops_the_bot(self):
        self._link(self.partner_a)
        self._tap("Chào")
        conversation = self._conversation()
        conversation.with_user(self.agent_2).sudo().message_post(
            body="Dạ em nghe ạ", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.assertFalse(conversation.chatbot_current_step_id)
        self.assertEqual(conversation.messaging_agent_id, self.agent_2)
        self._tap("Xem đơn hàng")
        self.assertEqual(self._bot_texts(conversation)[-1], "Dạ em nghe ạ")

    def test_replayed_event_is_answered_once(self):
        self._link(self.partner_a)
        event = self._tap("Chào")
        conversation = self._conversation()
        self.assertEqual(len(self._bot_texts(conversation)), 1)
        conversation._messaging_route_inbound(event, "Chào")
        self.assertEqual(len(self._bot_texts(conversation)), 1)
        tap = self._tap("Bảng giá")
        self.assertEqual(len(self._bot_texts(conversation)), 2)
        conversation._messaging_route_inbound(tap, "Bảng giá")
        self.assertEqual(len(self._bot_texts(conversation)), 2)
        self.assertEqual(conversation.chatbot_current_step_id, self.step_email)

    def test_demo_feed_runs_the_script(self):
        # the demo's feed: a user_send_text stored and processed as the
        # webhook does
        feed = self.env["messaging.campaign"]._demo_inbound_text
        identity = self._link(None, USER_3)
        # (a minute apart: the feed keys an event by its user and time)
        conversation = feed(identity, "Chào", 2)[1]
        self.assertEqual(conversation.chatbot_current_step_id, self.question)
        feed(identity, "Bảng giá", 1)
        self.assertEqual(conversation.chatbot_current_step_id, self.step_email)

    def test_default_handoff_words(self):
        oa = self.env["messaging.channel"].create(
            wh.zalo_channel_values(name="OA mới", zalo_oa_id="777")
        )
        self.assertEqual(
            oa.handoff_keywords,
            "gap nhan vien, nhan vien, tu van vien, nguoi that, agent",
        )


@tagged("post_install", "-at_install")
class TestChatbotHttp(ChatbotMixin, HttpCase):
    """Through the real webhook route, and the OA's rules over RPC."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls._setup_chatbot()
        cls.zalo.webhook_token = "chatbot-test-token"

    def _webhook(self, payload):
        wh.post_to_webhook(self, "chatbot-test-token", payload)

    def test_greeting_and_tap_through_the_webhook(self):
        peer = start_zalo_peer(self, self.zalo)
        self._webhook(wh.user_text("Xin chào"))
        conversation = self._conversation()
        self.env["messaging.message"]._process_queue()
        question = peer.requests_for("/v3.0/oa/message/cs")[-1].body["message"]
        self.assertEqual(
            [
                button["title"]
                for button in question["attachment"]["payload"]["buttons"]
            ],
            ["Xem đơn hàng", "Gặp nhân viên", "Bảng giá"],
        )
        self._webhook(wh.user_text("Gặp nhân viên"))
        self.assertEqual(conversation.messaging_agent_id, self.agent_1)
        self.assertFalse(conversation.chatbot_current_step_id)

    def test_order_status_and_gap_nhan_vien_through_the_webhook(self):
        """The issue's path on the real route: a known customer taps "Xem
        đơn hàng" and gets their order's reference; another types "gap nhan
        vien" in the middle of the script and the team's agent has it."""
        peer = start_zalo_peer(self, self.zalo)
        customer, other_customer = self.env["res.partner"].create(
            [{"name": "Trần Thị Mai"}, {"name": "Phạm Văn Bình"}]
        )
        product = self.env["product.product"].create(
            {"name": "Cà phê", "list_price": 120000}
        )
        order = self.env["sale.order"].create(
            {
                "partner_id": customer.id,
                "order_line": [(0, 0, {"product_id": product.id})],
            }
        )
        order.action_confirm()
        self._link(customer)
        self._webhook(wh.user_text("Xin chào"))
        self._webhook(wh.user_text("Xem đơn hàng"))
        self.env["messaging.message"]._process_queue()
        # the two messages may leave in either order (parallel sends)
        sent = [
            r.body["message"].get("text", "")
            for r in peer.requests_for("/v3.0/oa/message/cs")
        ]
        self.assertEqual(len(sent), 2, sent)
        self.assertTrue(any(order.name in text for text in sent), sent)
        self.assertFalse(self._conversation().chatbot_current_step_id)
        # mid-script: the question is waiting, the words hand over
        self._link(other_customer, USER_2)
        self._webhook(wh.user_text("Chào shop", USER_2))
        other = self._conversation(USER_2)
        self.assertEqual(other.chatbot_current_step_id, self.question)
        self._webhook(wh.user_text("gap nhan vien", USER_2))
        self.assertEqual(other.messaging_state, "assigned")
        self.assertEqual(other.messaging_agent_id, self.agent_1)
        self.assertFalse(other.chatbot_current_step_id)
        self.assertIn(self.agent_1.partner_id, other.channel_member_ids.partner_id)

    def test_only_oa_admins_set_the_script(self):
        self.authenticate("agent1", "agent1")
        with self.assertRaises(JsonRpcException) as caught:
            self.make_jsonrpc_request(
                "/web/dataset/call_kw/messaging.channel/write",
                {
                    "model": "messaging.channel",
                    "method": "write",
                    "args": [self.zalo.ids, {"chatbot_script_id": False}],
                    "kwargs": {},
                },
            )
        self.assertIn("AccessError", str(caught.exception))
        self.assertEqual(self.zalo.chatbot_script_id, self.script)
