"""The chatbot's "AI answer" step against a loopback chat-completions peer:
grounded answers (Odoo's prices), hand-over on the model's marker, on an
invented figure and on every endpoint error, draft mode, the bounded data
sent, and the key that no log, message or non-administrator ever sees."""

import time

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import BaseCase, tagged
from odoo.tools import format_amount

from ..engine.ai import GroundingError, Value, amounts_in, counts_in, ground
from ..models.discuss_channel_ai import _AI_SPENT
from ..providers.zalo_events import zalo_time
from . import test_webhook_common as wh
from .common import MessagingCase, make_user
from .peers import ChatCompletionsPeer, openai_error, start_zalo_peer
from .test_conversation import ConversationMixin

ADDON_LOGGER = "odoo.addons.multichannel_messaging"


@tagged("post_install", "-at_install")
class TestAiGroundingRule(BaseCase):
    """The rule of ``engine/ai.py`` on its own (no database)."""

    VALUES = {
        ("price", 7): Value("1.144.250 ₫", 1144250),
        ("stock", 7): Value("còn 4", 4),
        ("amount", 9): Value("2.288.500 ₫", 2288500),
    }

    def test_placeholders_become_odoo_values(self):
        self.assertEqual(
            ground(
                "Áo {{price:7}}, {{ stock : 7 }} cái; đơn {{amount:9}}", self.VALUES
            ),
            "Áo 1.144.250 ₫, còn 4 cái; đơn 2.288.500 ₫",
        )

    def test_figures_of_the_model_are_refused(self):
        for answer in (
            "Áo giá 990.000đ",  # an amount of its own
            "Áo 1.144.250 ₫",  # the right number, but not through a placeholder
            "Chỉ 500k",
            "1,2 triệu thôi",
            "$20",
            "giá: 1144250",
            "Còn 9 cái",  # a stock of its own
            "Giá {{price:8}}",  # a product that was not in the data
        ):
            with self.subTest(answer=answer), self.assertRaises(GroundingError):
                ground(answer, self.VALUES)

    def test_other_numbers_pass(self):
        text = "Đơn S00045 ngày 03/12/2026, giao trong 2 ngày, gọi 0912 345 678."
        self.assertEqual(ground(text, self.VALUES), text)
        self.assertEqual(
            amounts_in("1.250.000 ₫, 1,5 triệu, 500k, 5 km"), [1250000, 1500000, 500000]
        )
        self.assertEqual(counts_in("còn 3, 5 cái"), [5, 3])


@tagged("post_install", "-at_install")
class TestAiAnswer(ConversationMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_conversations()
        env = cls.env
        env["res.lang"]._activate_lang("vi_VN")
        cls.vnd = env.ref("base.VND")
        cls.vnd.active = True
        cls.categ = env["product.category"].create({"name": "Áo (AI)"})
        cls.other_categ = env["product.category"].create({"name": "Khác (AI)"})
        cls.shirt = env["product.product"].create(
            {"name": "Áo thun basic", "list_price": 99.0, "categ_id": cls.categ.id}
        )
        cls.outside = env["product.product"].create(
            {"name": "Nồi cơm điện", "list_price": 50.0, "categ_id": cls.other_categ.id}
        )
        cls.pricelist = env["product.pricelist"].create(
            {
                "name": "Giá VND (AI)",
                "currency_id": cls.vnd.id,
                "item_ids": [
                    (
                        0,
                        0,
                        {
                            "applied_on": "0_product_variant",
                            "product_id": cls.shirt.id,
                            "compute_price": "fixed",
                            "fixed_price": 1144250,
                        },
                    )
                ],
            }
        )
        cls.partner_a.write(
            {"lang": "vi_VN", "property_product_pricelist": cls.pricelist.id}
        )
        cls.order = env["sale.order"].create(
            {
                "partner_id": cls.partner_a.id,
                "pricelist_id": cls.pricelist.id,
                "order_line": [
                    (0, 0, {"product_id": cls.shirt.id, "product_uom_qty": 2})
                ],
            }
        )
        cls.other_order = env["sale.order"].create(
            {
                "partner_id": cls.partner_b.id,
                "order_line": [(0, 0, {"product_id": cls.shirt.id})],
            }
        )
        cls.peer = ChatCompletionsPeer().start()
        cls.addClassCleanup(cls.peer.stop)
        cls.zalo.write(
            {
                "ai_base_url": cls.peer.base_url,
                "ai_api_key": cls.peer.api_key,
                "ai_model": "gpt-4o-mini",
                # roomy: a loaded machine must not turn an answer into a
                # timeout (the timeout cases set their own)
                "ai_timeout": 5,
            }
        )
        script = env["chatbot.script"].create(
            {
                "title": "Shop bot (AI)",
                "operator_partner_id": env.ref("base.partner_root").id,
            }
        )
        cls.step = env["chatbot.script.step"].create(
            {
                "chatbot_script_id": script.id,
                "step_type": "ai_answer",
                "message": "Bạn cần hỏi gì ạ?",
                "ai_product_categ_id": cls.categ.id,
                "ai_faq": "Giờ mở cửa: 8h-21h mỗi ngày.",
            }
        )
        cls.messaging_admin = make_user(
            env,
            "ai_messaging_admin",
            "base.group_user,multichannel_messaging.group_messaging_admin",
        )
        cls.portal = make_user(env, "ai_portal", "base.group_portal")

    def setUp(self):
        super().setUp()
        self.peer.reset()
        # the AI time of this transaction (the test cursor is never committed)
        _AI_SPENT.pop(self.env.cr, None)

    # -- helpers ------------------------------------------------------------
    def _open(
        self, user_id=wh.USER_ID, partner=None, text="Áo thun basic giá bao nhiêu?"
    ):
        """A conversation on the AI step and the customer's inbound event."""
        partner = self.partner_a if partner is None else partner
        identity = self.Identity.create(
            {
                "channel_id": self.zalo.id,
                "external_id": user_id,
                "partner_id": partner.id if partner else False,
                "last_interaction_at": fields.Datetime.now(),
            }
        )
        conversation = self.Conversation._messaging_conversation_for(identity)
        conversation._messaging_sync_customer()
        conversation.write(
            {"messaging_state": "bot", "chatbot_current_step_id": self.step.id}
        )
        payload = wh.user_text(text, user_id=user_id)
        raw = wh.encode(payload)
        event = self.Event._store(
            self.zalo,
            wh.sign(raw, payload["timestamp"]),
            payload["event_name"],
            raw.decode(),
            event_at=zalo_time(payload["timestamp"]),
        )
        return conversation, event

    def _answer(self, conversation, event, text="Áo thun basic giá bao nhiêu?"):
        return conversation._messaging_chatbot_ai_answer(self.step, text, event)

    def _queued_bodies(self, conversation):
        return self.Message.search(
            [("conversation_id", "=", conversation.id)], order="id"
        ).mapped("body")

    def _assert_handed_over(self, conversation):
        self.assertEqual(self._queued_bodies(conversation), ["Chờ chút nhé!"])
        self.assertEqual(conversation.messaging_state, "assigned")
        # the team's next agent (round robin)
        self.assertIn(conversation.messaging_agent_id, self.team.user_ids)

    # -- answers --------------------------------------------------------------
    def test_script_reaches_the_ai_step_through_inbound_events(self):
        """The whole path: the OA's script opens on its AI step, a free
        question is answered with Odoo's price, "gap nhan vien" hands over."""
        self.zalo.chatbot_script_id = self.step.chatbot_script_id
        self.Identity.create(
            {
                "channel_id": self.zalo.id,
                "external_id": wh.USER_ID,
                "partner_id": self.partner_a.id,
            }
        )
        wh.store_and_process(self.zalo, wh.user_text("Chào shop"))
        conversation = self.Conversation.search(
            [("messaging_identity_id.external_id", "=", wh.USER_ID)]
        )
        self.assertEqual(conversation.chatbot_current_step_id, self.step)
        self.assertEqual(self._queued_bodies(conversation), ["Bạn cần hỏi gì ạ?"])
        self.peer.answers.append(
            "Dạ, Áo thun basic giá {{price:%s}} ạ." % self.shirt.id
        )
        wh.store_and_process(self.zalo, wh.user_text("Áo thun basic giá bao nhiêu?"))
        self.assertEqual(
            self._queued_bodies(conversation)[-1],
            "Dạ, Áo thun basic giá 1.144.250 ₫ ạ.",
        )
        # still on the AI step: the next question goes to the model too,
        # until the customer asks for a person
        self.assertEqual(conversation.chatbot_current_step_id, self.step)
        self.assertEqual(len(self.peer.requests), 1)
        wh.store_and_process(self.zalo, wh.user_text("cho minh gap nhan vien"))
        self.assertEqual(len(self.peer.requests), 1)
        self.assertEqual(conversation.messaging_state, "assigned")
        self.assertFalse(conversation.chatbot_current_step_id)

    def test_grounded_answer_is_sent_with_odoo_price(self):
        zalo_peer = start_zalo_peer(self, self.zalo)
        conversation, event = self._open()
        self.peer.answers.append(
            "Dạ, Áo thun basic giá {{price:%(id)s}}, hiện {{stock:%(id)s}} ạ."
            % {"id": self.shirt.id}
        )
        self.assertTrue(self._answer(conversation, event))
        # no stock app here: "available", in the customer's language
        stock = conversation.with_context(lang="vi_VN")._messaging_ai_stock(self.shirt)
        self.assertIsNone(stock.number)
        expected = "Dạ, Áo thun basic giá 1.144.250 ₫, hiện %s ạ." % stock.text
        self.assertEqual(self._queued_bodies(conversation), [expected])
        self.assertEqual(conversation.messaging_state, "bot")
        self.assertFalse(conversation.messaging_agent_id)
        queued = self.Message.search([("conversation_id", "=", conversation.id)])
        self.assertEqual(queued.inbound_event_id, event)
        # what the model was asked
        (request,) = self.peer.requests_for(ChatCompletionsPeer.COMPLETIONS)
        self.assertEqual(
            request.headers["authorization"], "Bearer %s" % self.peer.api_key
        )
        self.assertEqual(request.body["model"], "gpt-4o-mini")
        self.assertEqual(request.body["temperature"], 0)
        system, data, question = request.body["messages"]
        self.assertEqual(
            [system["role"], data["role"], question["role"]],
            ["system", "system", "user"],
        )
        self.assertIn("[[HANDOFF]]", system["content"])
        self.assertIn("Tiếng Việt", system["content"])  # the customer's language
        self.assertIn("{{price:%s}}" % self.shirt.id, data["content"])
        self.assertIn("Giờ mở cửa", data["content"])
        self.assertEqual(question["content"], "Áo thun basic giá bao nhiêu?")
        # the same inbound event again: no second answer, no second call
        self.assertFalse(self._answer(conversation, event))
        self.assertEqual(
            len(self.peer.requests_for(ChatCompletionsPeer.COMPLETIONS)), 1
        )
        # the answer reaches Zalo as a consultation message
        self.Message._process_queue()
        sent = zalo_peer.requests_for("/v3.0/oa/message/cs")[-1]
        self.assertEqual(sent.body["message"]["text"], expected)

    def test_order_amount_comes_from_odoo(self):
        conversation, event = self._open()
        self.peer.answers.append(
            "Đơn %s của anh tổng {{amount:%s}}." % (self.order.name, self.order.id)
        )
        self.assertTrue(
            self._answer(conversation, event, "Đơn của mình bao nhiêu tiền?")
        )
        amount = format_amount(
            self.env, self.order.amount_total, self.order.currency_id, "vi_VN"
        ).replace("\xa0", " ")
        self.assertTrue(amount.endswith(" ₫"))
        self.assertEqual(
            self._queued_bodies(conversation),
            ["Đơn %s của anh tổng %s." % (self.order.name, amount)],
        )

    def test_invented_figures_hand_over(self):
        answers = [
            "Áo thun basic giá 990.000đ ạ.",
            "Áo thun basic giá {{price:%s}} ạ." % self.outside.id,  # not given
            "Áo thun basic còn 12 cái ạ.",
        ]
        for index, answer in enumerate(answers):
            with self.subTest(answer=answer):
                conversation, event = self._open(user_id="77700000000000000%s" % index)
                self.peer.answers.append(answer)
                with self.assertLogs(ADDON_LOGGER, "DEBUG") as logs:
                    answered = self._answer(conversation, event)
                output = "\n".join(logs.output)
                self.assertEqual(
                    len(self.peer.requests_for(ChatCompletionsPeer.COMPLETIONS)),
                    index + 1,
                    output,
                )
                self.assertFalse(answered, output)
                self._assert_handed_over(conversation)
                self.assertIn("refused", output)

    def test_cannot_answer_marker_hands_over(self):
        conversation, event = self._open()
        self.peer.answers.append("[[HANDOFF]]")
        self.assertFalse(self._answer(conversation, event, "Shop có bán xe máy không?"))
        self._assert_handed_over(conversation)

    def test_not_configured_or_closed_window_hands_over_without_a_call(self):
        self.zalo.ai_model = False
        conversation, event = self._open()
        self.assertFalse(self._answer(conversation, event))
        self._assert_handed_over(conversation)
        self.zalo.ai_model = "gpt-4o-mini"
        conversation, event = self._open(user_id="7770000000000000099")
        conversation.messaging_identity_id.last_interaction_at = "2020-01-01 00:00:00"
        self.assertFalse(self._answer(conversation, event))
        self.assertEqual(self._queued_bodies(conversation), [])  # nothing outside it
        self.assertIn(conversation.messaging_agent_id, self.team.user_ids)
        self.assertEqual(self.peer.request_count, 0)

    def test_transaction_time_for_ai_is_bounded(self):
        conversation, event = self._open()
        self.peer.answers.append("[[HANDOFF]]")
        self.assertFalse(self._answer(conversation, event))
        self.assertEqual(self.peer.request_count, 1)
        # a slow answer uses the time left, the next question goes to a person
        _AI_SPENT[self.env.cr] = 27.0
        self.peer.queue_response(ChatCompletionsPeer.COMPLETIONS, delay=6)
        conversation, event = self._open(user_id="7770000000000000055")
        self.zalo.ai_timeout = 15
        started = time.monotonic()
        self.assertFalse(self._answer(conversation, event))
        # 3 s left: not the OA's 15 s, nor the peer's 6 s
        self.assertLess(time.monotonic() - started, 5.5)
        self._assert_handed_over(conversation)
        self.assertGreaterEqual(_AI_SPENT[self.env.cr], 29.9)
        conversation, event = self._open(user_id="7770000000000000056")
        with self.assertLogs(ADDON_LOGGER, "DEBUG") as logs:
            self.assertFalse(self._answer(conversation, event))
        self.assertIn("no time left", "\n".join(logs.output))
        self._assert_handed_over(conversation)
        self.assertEqual(self.peer.request_count, 2)
        self.peer.wait_idle()

    def test_endpoint_errors_hand_over_and_never_show_the_key(self):
        wrong_key = "sk-WRONG-secret-99aa77"
        completions = ChatCompletionsPeer.COMPLETIONS
        cases = [
            ("auth", lambda: self.zalo.write({"ai_api_key": wrong_key})),
            ("not_found", lambda: self.zalo.write({"ai_model": "gpt-9"})),
            (
                "rate",
                lambda: self.peer.queue_response(
                    completions,
                    openai_error(
                        "Rate limit reached for gpt-4o-mini on requests per min "
                        "(RPM): Limit 3, Used 3. Key %s" % self.peer.api_key,
                        "requests",
                        "rate_limit_exceeded",
                    ),
                    status=429,
                    headers={"Retry-After": "20"},
                ),
            ),
            (
                "server",
                lambda: self.peer.queue_response(
                    completions,
                    openai_error(
                        "The server had an error while processing your request.",
                        "server_error",
                    ),
                    status=500,
                ),
            ),
            (
                "bad_response",
                lambda: self.peer.queue_response(completions, b"<html>upstream</html>"),
            ),
            (
                "bad_response",
                lambda: self.peer.queue_response(
                    completions,
                    {"id": "chatcmpl-1", "object": "chat.completion", "choices": []},
                ),
            ),
            (
                "timeout",
                lambda: (
                    self.zalo.write({"ai_timeout": 1}),
                    self.peer.queue_response(completions, delay=2.5),
                ),
            ),
        ]
        for index, (reason, prepare) in enumerate(cases):
            with self.subTest(reason=reason, case=index):
                self.zalo.write(
                    {"ai_api_key": self.peer.api_key, "ai_model": "gpt-4o-mini"}
                )
                prepare()
                conversation, event = self._open(user_id="88800000000000000%s" % index)
                with self.assertLogs(ADDON_LOGGER, "DEBUG") as logs:
                    self.assertFalse(self._answer(conversation, event))
                self._assert_handed_over(conversation)
                output = "\n".join(logs.output)
                self.assertIn(": %s (" % reason, output)
                texts = [output]
                texts += conversation.message_ids.mapped("body")
                texts += [str(m.messaging_line) for m in conversation.message_ids]
                queued = self.Message.search(
                    [("conversation_id", "=", conversation.id)]
                )
                texts += queued.mapped("error_message") + queued.mapped("body")
                texts.append(str(event.read()))
                for text in texts:
                    self.assertNotIn(self.peer.api_key, text or "")
                    self.assertNotIn(wrong_key, text or "")
                    self.assertNotIn("sk-", text or "")
        self.peer.wait_idle()

    def test_draft_mode_shows_the_answer_to_agents_only(self):
        self.zalo.ai_mode = "draft"
        conversation, event = self._open()
        self.peer.answers.append("Dạ, giá {{price:%s}} ạ." % self.shirt.id)
        self.assertFalse(self._answer(conversation, event))
        # not sent to Zalo: only the hand-over message is queued
        self._assert_handed_over(conversation)
        draft = conversation.message_ids.filtered(
            lambda m: (m.messaging_line or {}).get("key") == "ai_draft"
        )
        self.assertEqual(len(draft), 1)
        self.assertEqual(draft.message_type, "notification")
        self.assertEqual(
            draft.messaging_line["params"]["text"], "Dạ, giá 1.144.250 ₫ ạ."
        )
        self.assertFalse(self.Message.search([("discuss_message_id", "=", draft.id)]))
        # the agent sees it in the conversation
        agent = conversation.messaging_agent_id
        seen = conversation.with_user(agent).message_ids
        self.assertIn(draft, seen)
        self.assertIn("1.144.250 ₫", draft.with_user(agent).body)

    def test_request_carries_only_bounded_data(self):
        Product = self.env["product.product"]
        Product.create(
            [
                {
                    "name": "Áo sơmi %02d" % n,
                    "list_price": 10.0 + n,
                    "categ_id": self.categ.id,
                }
                for n in range(60)
            ]
        )
        Order = self.env["sale.order"]
        for _n in range(6):
            Order.create(
                {
                    "partner_id": self.partner_a.id,
                    "order_line": [(0, 0, {"product_id": self.shirt.id})],
                }
            )
        conversation, event = self._open()
        self.peer.answers.append("[[HANDOFF]]")
        question = "Áo thun basic " + "x" * 3000
        self._answer(conversation, event, question)
        (request,) = self.peer.requests_for(ChatCompletionsPeer.COMPLETIONS)
        data = request.body["messages"][1]["content"]
        product_lines = [line for line in data.splitlines() if "{{price:" in line]
        order_lines = [line for line in data.splitlines() if "{{amount:" in line]
        self.assertEqual(len(product_lines), 50)
        # the product the question names comes first, the other category never
        self.assertIn("Áo thun basic", product_lines[0])
        self.assertNotIn("Nồi cơm điện", data)
        self.assertEqual(len(order_lines), 5)
        self.assertNotIn(self.other_order.name, data)
        self.assertEqual(len(request.body["messages"][2]["content"]), 1000)
        self.assertLess(len(request.raw), 20000)
        # a question that names more products than the bound: still 50
        conversation, event = self._open(user_id="7770000000000000077")
        self._answer(conversation, event, "Shop có áo sơmi nào?")
        data = self.peer.requests[-1].body["messages"][1]["content"]
        lines = [line for line in data.splitlines() if "{{price:" in line]
        self.assertEqual(len(lines), 50)
        self.assertTrue(all("sơmi" in line for line in lines))
        with self.assertRaises(ValidationError):
            self.step.ai_faq = "x" * 4001
        with self.assertRaises(ValidationError):
            self.step.ai_product_domain = "[('no_such_field', '=', 1)]"

    def test_unknown_customer_gets_products_but_no_orders(self):
        conversation, event = self._open(partner=False)
        self.peer.answers.append("Giá {{price:%s}}." % self.shirt.id)
        self.assertTrue(self._answer(conversation, event))
        data = self.peer.requests[-1].body["messages"][1]["content"]
        self.assertIn("unknown customer", data)
        self.assertNotIn(self.order.name, data)
        # the list price, in the company's currency and language
        price = conversation._messaging_product_price(
            self.shirt, self.env["res.partner"], conversation._messaging_ai_lang()
        )
        self.assertEqual(self._queued_bodies(conversation), ["Giá %s." % price])

    # -- the key and the test button ---------------------------------------------
    def test_key_readable_and_writable_by_administrators_only(self):
        manager = self.manager
        user = self.agent_1
        for reader in (manager, user):
            channel = self.zalo.with_user(reader)
            with self.subTest(user=reader.login):
                values = channel.read()[0]
                self.assertNotIn("ai_api_key", values)
                self.assertEqual(values["ai_base_url"], self.peer.base_url)
                with self.assertRaises(AccessError):
                    channel.read(["ai_api_key"])
                with self.assertRaises(AccessError):
                    channel.search_read([("id", "=", self.zalo.id)], ["ai_api_key"])
                with self.assertRaises(UserError):  # AccessError is one
                    channel.export_data(["ai_api_key"])
                with self.assertRaises(AccessError):
                    channel.write({"ai_api_key": "sk-mine"})
                with self.assertRaises(AccessError):
                    channel.action_ai_test_connection()
        with self.assertRaises(AccessError):
            self.zalo.with_user(self.portal).read(["ai_base_url"])
        admin_channel = self.zalo.with_user(self.messaging_admin)
        self.assertEqual(
            admin_channel.read(["ai_api_key"])[0]["ai_api_key"], self.peer.api_key
        )
        admin_channel.write({"ai_api_key": "sk-new"})
        self.assertEqual(self.zalo.ai_api_key, "sk-new")
        copy = self.zalo.copy()
        self.assertFalse(copy.ai_api_key)

    def test_test_connection(self):
        channel = self.zalo.with_user(self.messaging_admin)
        action = channel.action_ai_test_connection()
        self.assertIn("gpt-4o-mini", action["params"]["message"])
        self.zalo.ai_api_key = "sk-WRONG-for-test"
        with self.assertRaises(UserError) as error:
            channel.action_ai_test_connection()
        self.assertIn("401", str(error.exception))
        self.assertNotIn("sk-", str(error.exception))
        self.zalo.ai_base_url = False
        with self.assertRaisesRegex(UserError, "AI endpoint"):
            channel.action_ai_test_connection()
