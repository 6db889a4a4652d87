"""Zalo conversations in Discuss: inbox per user, replies in the window,
assignment, automatic answers with hand-over, receipts and access."""

import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, RedirectWarning, UserError, ValidationError
from odoo.tests import HttpCase, JsonRpcException, tagged

from ..providers.zalo_events import zalo_time
from . import test_webhook_common as wh
from .common import MessagingCase, make_user
from .peers import start_zalo_peer

USER_2 = "3333444455556666777"
USER_3 = "4444555566667777888"
USER_4 = "5555666677778888999"


class ConversationMixin:
    @classmethod
    def _conv_user(cls, login, groups, **kw):
        return make_user(cls.env, login, groups, **kw)

    @classmethod
    def _setup_conversations(cls):
        Channel = cls.env["messaging.channel"]
        cls.zalo = Channel.create(
            wh.zalo_channel_values(handoff_message="Chờ chút nhé!")
        )
        cls.zalo_other = Channel.create(
            wh.zalo_channel_values(name="Zalo OA khác", zalo_oa_id="999")
        )
        user_groups = "base.group_user,multichannel_messaging.group_messaging_user"
        cls.agent_1 = cls._conv_user("agent1", user_groups, name="Agent Một")
        cls.agent_2 = cls._conv_user("agent2", user_groups, name="Agent Hai")
        cls.agent_3 = cls._conv_user("agent3", user_groups, name="Agent Ba")
        cls.agent_other = cls._conv_user("agentx", user_groups, name="Agent Khác")
        cls.manager = cls._conv_user(
            "convmanager",
            "base.group_user,multichannel_messaging.group_messaging_manager",
        )
        Team = cls.env["messaging.team"]
        cls.team = Team.create(
            {
                "name": "CSKH",
                "channel_ids": [(6, 0, cls.zalo.ids)],
                "user_ids": [(6, 0, (cls.agent_1 | cls.agent_2 | cls.agent_3).ids)],
                "available_only": False,
            }
        )
        cls.team_other = Team.create(
            {
                "name": "Bán hàng",
                "channel_ids": [(6, 0, cls.zalo_other.ids)],
                "user_ids": [(6, 0, cls.agent_other.ids)],
                "available_only": False,
            }
        )
        cls.Conversation = cls.env["discuss.channel"]
        cls.Event = cls.env["messaging.event"]
        cls.Identity = cls.env["messaging.identity"]


@tagged("post_install", "-at_install")
class TestConversation(ConversationMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_conversations()
        cls.price_template = cls.env["messaging.template"].create(
            {
                "name": "Bảng giá",
                "channel_type": "zalo",
                "category": "transactional",
                "body": "Chào {{ object.name }}, bảng giá: https://example.vn/gia",
            }
        )

    def _event(self, payload, channel=None):
        raw = wh.encode(payload)
        event = self.Event._store(
            channel or self.zalo,
            wh.sign(raw, payload.get("timestamp", "")),
            payload.get("event_name"),
            raw.decode(),
            event_at=zalo_time(payload.get("timestamp")),
        )
        event._process()
        self.assertEqual(event.state, "done", event.error_message)
        return event

    def _identity(self, partner=None, user_id=wh.USER_ID, channel=None, **vals):
        return self.Identity.create(
            dict(
                {
                    "channel_id": (channel or self.zalo).id,
                    "external_id": user_id,
                    "partner_id": partner.id if partner else False,
                },
                **vals,
            )
        )

    def _conversation(self, user_id=wh.USER_ID, channel=None):
        return self.Conversation.search(
            [
                ("messaging_identity_id.external_id", "=", user_id),
                ("messaging_channel_id", "=", (channel or self.zalo).id),
            ]
        )

    def _agents_of(self, conversation):
        return conversation.channel_member_ids.partner_id.user_ids.filtered(
            lambda u: not u.share
        )

    def _queued(self, conversation):
        return self.Message.search(
            [("conversation_id", "=", conversation.id)], order="id"
        )

    def _add_rule(self, keywords="giá, bảng giá"):
        return self.env["messaging.auto.reply"].create(
            {
                "name": "Giá",
                "channel_id": self.zalo.id,
                "keywords": keywords,
                "template_id": self.price_template.id,
            }
        )

    # -- a Zalo user writes ---------------------------------------------------
    def test_user_writes_conversation_for_team_agent(self):
        self._identity(self.partner_a)
        self._event(wh.user_text("Xin chào shop"))
        conversation = self._conversation()
        self.assertEqual(len(conversation), 1)
        self.assertEqual(conversation.channel_type, "zalo")
        self.assertEqual(conversation.messaging_team_id, self.team)
        self.assertEqual(conversation.messaging_state, "assigned")
        self.assertEqual(conversation.messaging_agent_id, self.agent_1)
        self.assertEqual(self._agents_of(conversation), self.agent_1)
        self.assertIn(self.partner_a, conversation.channel_member_ids.partner_id)
        # no technical member (OdooBot / the webhook's user)
        self.assertNotIn(
            self.env.ref("base.partner_root"),
            conversation.channel_member_ids.partner_id,
        )
        inbound = conversation.message_ids.filtered(
            lambda m: m.message_type == "comment"
        )
        self.assertEqual(len(inbound), 1)
        self.assertEqual(inbound.author_id, self.partner_a)
        self.assertIn("Xin chào shop", inbound.body)
        # the second message goes to the same conversation and agent
        self._event(wh.user_text("Còn hàng không?"))
        self.assertEqual(self._conversation(), conversation)
        self.assertEqual(
            len(
                conversation.message_ids.filtered(lambda m: m.message_type == "comment")
            ),
            2,
        )
        self.assertEqual(self._agents_of(conversation), self.agent_1)
        # the agent has it pinned with 2 unread messages
        member = conversation.channel_member_ids.filtered(
            lambda m: m.partner_id == self.agent_1.partner_id
        )
        self.assertTrue(member.is_pinned)
        self.assertEqual(member.message_unread_counter, 2)
        # the header says how long the free window lasts
        info = conversation.with_user(self.agent_1)._channel_basic_info()
        self.assertRegex(info["description"], r"^Free for 4[78] h more")
        self.assertIn("Agent Một", info["description"])

    def test_unknown_user_is_a_guest_until_linked(self):
        self._event(wh.user_text("Shop ơi"))
        conversation = self._conversation()
        guest = conversation.messaging_guest_id
        self.assertTrue(guest)
        self.assertFalse(conversation.messaging_partner_id)
        inbound = conversation.message_ids.filtered(
            lambda m: m.message_type == "comment"
        )
        self.assertEqual(inbound.author_guest_id, guest)
        self.assertFalse(inbound.author_id)
        self.assertIn(guest, conversation.channel_member_ids.guest_id)
        # the user shares their phone: the contact replaces the guest
        self._event(wh.submit_info("84987654321"))
        self._event(wh.user_text("Số mình đây"))
        self.assertEqual(conversation.messaging_partner_id, self.partner_b)
        self.assertIn(self.partner_b, conversation.channel_member_ids.partner_id)
        self.assertNotIn(guest, conversation.channel_member_ids.guest_id)
        self.assertIn(self.partner_b.name, conversation.name)

    def test_media_messages_show_as_they_came(self):
        self._identity(self.partner_a)
        image = wh.user_text("")
        image["event_name"] = "user_send_image"
        image["message"] = {
            "msg_id": wh.next_msg_id(),
            "text": "ảnh sản phẩm",
            "attachments": [
                {
                    "type": "image",
                    "payload": {
                        "url": "https://photo.zdn.vn/a.jpg",
                        "thumbnail": "https://photo.zdn.vn/a_t.jpg",
                    },
                },
                {"type": "image", "payload": {"url": "javascript:alert(1)"}},
            ],
        }
        self._event(image)
        location = wh.user_text("")
        location["event_name"] = "user_send_location"
        location["message"] = {
            "msg_id": wh.next_msg_id(),
            "attachments": [
                {
                    "type": "location",
                    "payload": {
                        "coordinates": {"latitude": "10.7769", "longitude": "106.7009"}
                    },
                }
            ],
        }
        self._event(location)
        bodies = (
            self._conversation()
            .message_ids.filtered(lambda m: m.message_type == "comment")
            .mapped("body")
        )
        joined = " ".join(bodies)
        self.assertIn("https://photo.zdn.vn/a_t.jpg", joined)
        self.assertIn("ảnh sản phẩm", joined)
        self.assertNotIn("javascript", joined)
        self.assertIn("https://www.google.com/maps?q=10.7769,106.7009", joined)

    def test_opt_out_text_is_shown_but_not_routed(self):
        self._identity(self.partner_a)
        self._event(wh.user_text("HUY"))
        conversation = self._conversation()
        self.assertIn("HUY", conversation.message_ids[:1].body)
        self.assertFalse(conversation.messaging_state)
        self.assertFalse(self._agents_of(conversation))

    # -- assignment -----------------------------------------------------------
    def test_round_robin_among_agents(self):
        users = [wh.USER_ID, USER_2, USER_3, USER_4]
        for user_id in users:
            self._event(wh.user_text("Chào", user_id=user_id))
        agents = [self._conversation(u).messaging_agent_id for u in users]
        self.assertEqual(
            agents, [self.agent_1, self.agent_2, self.agent_3, self.agent_1]
        )
        self.assertEqual(self.team.last_user_id, self.agent_1)

    def test_round_robin_skips_offline_agents(self):
        self.team.available_only = True
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        # nobody online: the team's shared queue
        self.assertEqual(conversation.messaging_state, "queue")
        self.assertEqual(self._agents_of(conversation), self.team.user_ids)
        now = fields.Datetime.now()
        self.env["bus.presence"].create(
            {
                "user_id": self.agent_2.id,
                "status": "online",
                "last_poll": now,
                "last_presence": now,
            }
        )
        self.agent_2.invalidate_recordset(["im_status"])
        self._event(wh.user_text("Chào", user_id=USER_2))
        self.assertEqual(self._conversation(USER_2).messaging_agent_id, self.agent_2)

    def test_shared_queue_then_take(self):
        self.team.assignment = "shared"
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        self.assertEqual(conversation.messaging_state, "queue")
        self.assertFalse(conversation.messaging_agent_id)
        self.assertEqual(self._agents_of(conversation), self.team.user_ids)
        conversation.with_user(self.agent_3).action_messaging_take()
        self.assertEqual(conversation.messaging_agent_id, self.agent_3)
        self.assertEqual(conversation.messaging_state, "assigned")
        self.assertEqual(self._agents_of(conversation), self.agent_3)

    def test_mark_done_then_reopen(self):
        self._identity(self.partner_a)
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        conversation.with_user(self.agent_1).action_messaging_done()
        self.assertEqual(conversation.messaging_state, "done")
        member = conversation.channel_member_ids.filtered(
            lambda m: m.partner_id == self.agent_1.partner_id
        )
        self.assertFalse(member.is_pinned)
        self._event(wh.user_text("Mình hỏi thêm"))
        self.assertEqual(conversation.messaging_state, "assigned")
        self.assertEqual(conversation.messaging_agent_id, self.agent_2)
        self.assertTrue(
            conversation.channel_member_ids.filtered(
                lambda m: m.partner_id == self.agent_2.partner_id
            ).is_pinned
        )

    # -- agent replies and the window -----------------------------------------
    def _zalo_peer(self):
        return start_zalo_peer(self, self.zalo)

    def _reply(self, conversation, text, user=None, **context):
        # as /mail/message/post does: sudo, with the agent as env.user
        return (
            conversation.with_user(user or self.agent_1)
            .with_context(**context)
            .sudo()
            .message_post(
                body=text, message_type="comment", subtype_xmlid="mail.mt_comment"
            )
        )

    def test_agent_reply_in_48h_reaches_zalo_as_consultation(self):
        peer = self._zalo_peer()
        self._identity(self.partner_a)
        self._event(wh.user_text("Shop còn size M không?"))
        conversation = self._conversation()
        posted = self._reply(conversation, "Dạ còn ạ, anh lấy mấy cái?")
        queued = self._queued(conversation)
        self.assertEqual(len(queued), 1)
        self.assertEqual(queued.route, "consultation")
        self.assertEqual(queued.recipient, wh.USER_ID)
        self.assertEqual(queued.discuss_message_id, posted)
        self.assertEqual(queued.state, "queued")
        self.Message._process_queue()
        self.assertEqual(queued.state, "sent")
        request = peer.requests_for("/v3.0/oa/message/cs")[-1]
        self.assertEqual(request.body["recipient"]["user_id"], wh.USER_ID)
        self.assertEqual(request.body["message"]["text"], "Dạ còn ạ, anh lấy mấy cái?")
        self.assertEqual(queued.cost, 0)
        # mirrored on the contact
        self.assertIn("Dạ còn ạ", self.partner_a.message_ids[:1].body)
        # Zalo's receipts move the customer's member: ✓✓ then seen
        customer = conversation.channel_member_ids.filtered(
            lambda m: m.partner_id == self.partner_a
        )
        received = {
            "app_id": wh.APP_ID,
            "sender": {"id": wh.OA_ID},
            "recipient": {"id": wh.USER_ID},
            "event_name": "user_received_message",
            "message": {
                "msg_ids": [queued.provider_message_id],
                "delivery_time": wh.now_ms(),
            },
            "timestamp": wh.now_ms(),
        }
        self._event(received)
        self.assertEqual(queued.state, "delivered")
        self.assertEqual(customer.fetched_message_id, posted)
        self.assertFalse(customer.seen_message_id == posted)
        seen = dict(received, event_name="user_seen_message", timestamp=wh.now_ms(1))
        seen["message"] = {"msg_ids": [queued.provider_message_id]}
        self._event(seen)
        self.assertEqual(queued.state, "read")
        self.assertEqual(customer.seen_message_id, posted)
        self.assertIn("zalo", conversation._types_allowing_seen_infos())

    def test_failed_reply_is_reported_in_the_conversation(self):
        peer = self._zalo_peer()
        self._identity(self.partner_a)
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        peer.queue_response(
            "/v3.0/oa/message/cs",
            {"error": -213, "message": "User has not followed OA or interacted"},
        )
        self._reply(conversation, "Dạ em chào anh")
        self.Message._process_queue()
        self.assertEqual(self._queued(conversation).state, "failed")
        notice = conversation.message_ids.filtered(
            lambda m: m.message_type == "notification" and "Not delivered" in m.body
        )
        self.assertTrue(notice)
        self.assertIn("-213", notice[:1].body)

    def test_paid_window_needs_confirmation(self):
        identity = self._identity(self.partner_a)
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        identity.last_interaction_at = fields.Datetime.now() - timedelta(days=3)
        count = len(conversation.message_ids)
        with self.assertRaises(RedirectWarning) as caught:
            self._reply(conversation, "Dạ shop gửi anh ưu đãi")
        self.assertIn("paid", str(caught.exception.args[0]))
        self.assertEqual(len(conversation.message_ids), count)
        self.assertFalse(self._queued(conversation))
        # the confirmation wizard (what the dialog's button opens)
        action_context = caught.exception.args[3]
        wizard = (
            self.env["messaging.conversation.reply"]
            .with_user(self.agent_1)
            .with_context(**action_context)
            .create({})
        )
        self.assertEqual(wizard.window_state, "paid")
        self.assertEqual(wizard.body, "Dạ shop gửi anh ưu đãi")
        wizard.action_send()
        queued = self._queued(conversation)
        self.assertEqual(len(queued), 1)
        self.assertEqual(queued.body, "Dạ shop gửi anh ưu đãi")
        self.assertEqual(queued.cost, self.zalo.cost_zalo_consultation)

    def test_closed_window_refuses_free_text_and_offers_templates(self):
        identity = self._identity(self.partner_a)
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        zbs = self.env["messaging.template"].create(
            {
                "name": "Xác nhận đơn (ZBS)",
                "channel_type": "zalo",
                "zalo_template_id": "312345",
                "zalo_status": "ENABLE",
            }
        )
        identity.last_interaction_at = fields.Datetime.now() - timedelta(days=8)
        count = len(conversation.message_ids)
        with self.assertRaises(RedirectWarning) as caught:
            self._reply(conversation, "Anh ơi")
        self.assertIn("7 days", caught.exception.args[0])
        self.assertIn(zbs.name, caught.exception.args[0])
        self.assertEqual(caught.exception.args[3]["default_res_id"], self.partner_a.id)
        self.assertEqual(caught.exception.args[3]["default_template_id"], zbs.id)
        self.assertEqual(len(conversation.message_ids), count)
        self.assertFalse(self._queued(conversation))
        # even with a "confirmation", Zalo would refuse: so do we
        with self.assertRaises(RedirectWarning):
            self._reply(conversation, "Anh ơi", messaging_paid_confirmed=True)

    def test_closed_window_unknown_user_plain_error(self):
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        conversation.messaging_identity_id.last_interaction_at = (
            fields.Datetime.now() - timedelta(days=9)
        )
        with self.assertRaisesRegex(UserError, "not linked to a contact"):
            self._reply(conversation, "Anh ơi")

    def test_sent_reply_cannot_be_edited(self):
        self._identity(self.partner_a)
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        posted = self._reply(conversation, "Dạ em chào anh")
        with self.assertRaisesRegex(UserError, "already went to the customer"):
            conversation.with_user(self.agent_1)._message_update_content(
                posted, body="Sửa lại"
            )
        self.assertIn("Dạ em chào anh", posted.body)

    def test_reply_checks(self):
        self._identity(self.partner_a)
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        with self.assertRaisesRegex(UserError, "2,000 characters"):
            self._reply(conversation, "x" * 2001)
        attachment = (
            self.env["ir.attachment"]
            .with_user(self.agent_1)
            .create({"name": "a.txt", "raw": b"a"})
        )
        with self.assertRaisesRegex(UserError, "cannot be sent on Zalo"):
            conversation.with_user(self.agent_1).sudo().message_post(
                body="xem file",
                message_type="comment",
                attachment_ids=attachment.ids,
            )
        self.assertFalse(self._queued(conversation))

    def test_reply_from_the_contact(self):
        self._identity(self.partner_a)
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        wizard = (
            self.env["messaging.conversation.reply"]
            .with_user(self.agent_1)
            .with_context(active_model="res.partner", active_id=self.partner_a.id)
            .create({"body": "Dạ em nghe"})
        )
        self.assertEqual(wizard.conversation_id, conversation)
        wizard.action_send()
        self.assertEqual(self._queued(conversation).body, "Dạ em nghe")
        # a contact who never wrote: a clear message
        with self.assertRaisesRegex(UserError, "has not written"):
            self.env["messaging.conversation.reply"].with_user(
                self.agent_1
            ).with_context(
                active_model="res.partner", active_id=self.partner_c.id
            ).create({"body": "x"})

    def test_reply_from_the_shared_queue_takes_it(self):
        self.team.assignment = "shared"
        self._identity(self.partner_a)
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        self._reply(conversation, "Em nghe ạ", user=self.agent_2)
        self.assertEqual(conversation.messaging_agent_id, self.agent_2)
        self.assertEqual(self._agents_of(conversation), self.agent_2)

    # -- automatic answers ----------------------------------------------------
    def test_keyword_answers_once_then_hands_off(self):
        self._add_rule()
        self._identity(self.partner_a)
        event = self._event(wh.user_text("Giá áo này bao nhiêu?"))
        conversation = self._conversation()
        answers = self._queued(conversation)
        self.assertEqual(len(answers), 1)
        self.assertEqual(answers.inbound_event_id, event)
        self.assertEqual(answers.route, "consultation")
        self.assertIn("Chào Nguyễn Văn An", answers.body)
        self.assertEqual(conversation.messaging_state, "bot")
        self.assertFalse(self._agents_of(conversation))
        self.assertIn("bảng giá", answers.discuss_message_id.body)
        # the same inbound message again (a replay processed by hand): no 2nd answer
        text = json.loads(event.payload)["message"]["text"]
        conversation._messaging_route_inbound(event, text)
        event._process()
        self.assertEqual(len(self._queued(conversation)), 1)
        # an unmatched message after the automatic answer: to a person, who is named
        self._event(wh.user_text("Có màu xanh không?"))
        queued = self._queued(conversation)
        self.assertEqual(len(queued), 2)
        self.assertEqual(queued[1].body, "Chờ chút nhé!")
        self.assertEqual(conversation.messaging_state, "assigned")
        self.assertEqual(self._agents_of(conversation), self.agent_1)
        # with a person now: keywords no longer answer automatically
        self._event(wh.user_text("giá ship?"))
        self.assertEqual(len(self._queued(conversation)), 2)

    def test_handoff_keyword(self):
        self._add_rule()
        self._identity(self.partner_a)
        self._event(wh.user_text("Cho mình GẶP NHÂN VIÊN với"))
        conversation = self._conversation()
        self.assertEqual(self._queued(conversation).mapped("body"), ["Chờ chút nhé!"])
        self.assertEqual(conversation.messaging_agent_id, self.agent_1)

    def test_first_unmatched_message_goes_to_a_person_silently(self):
        self._add_rule()
        self._identity(self.partner_a)
        self._event(wh.user_text("Đơn của mình giao chưa?"))
        conversation = self._conversation()
        self.assertFalse(self._queued(conversation))
        self.assertEqual(conversation.messaging_agent_id, self.agent_1)

    def test_no_automatic_answer_outside_the_window(self):
        self._add_rule()
        self._identity(self.partner_a)
        # an inbound message processed 3 days late (Zalo retried it)
        self._event(wh.user_text("giá?", ts=wh.now_ms(-3 * 86400)))
        conversation = self._conversation()
        self.assertFalse(self._queued(conversation))
        self.assertEqual(conversation.messaging_state, "assigned")

    def test_unknown_user_gets_an_answer_too(self):
        self._add_rule()
        self._event(wh.user_text("bảng giá"))
        answer = self._queued(self._conversation())
        self.assertEqual(len(answer), 1)
        self.assertFalse(answer.partner_id)
        self.assertIn("bảng giá: https://example.vn/gia", answer.body)

    def test_keyword_matching(self):
        rule = self._add_rule("giá, giờ mở cửa")
        self.assertTrue(rule._matches("GIA?"))
        self.assertTrue(rule._matches("Shop giờ mở cửa mấy giờ"))
        self.assertFalse(rule._matches("giày"))  # 'GIAY' is not the word 'GIA'
        with self.assertRaisesRegex(ValidationError, "at least one keyword"):
            rule.keywords = " , "
            rule.flush_recordset()

    # -- access ---------------------------------------------------------------
    def test_agent_of_another_team_does_not_see_it(self):
        self._identity(self.partner_a)
        self._event(wh.user_text("Chào"))
        conversation = self._conversation()
        # the assigned agent and a team-mate (from the list) see it
        conversation.with_user(self.agent_1).check_access("read")
        conversation.with_user(self.agent_2).check_access("read")
        # a manager sees every conversation
        conversation.with_user(self.manager).check_access("read")
        # an agent of another team does not
        with self.assertRaises(AccessError):
            conversation.with_user(self.agent_other).check_access("read")
        self.assertFalse(
            self.Conversation.with_user(self.agent_other).search(
                [("channel_type", "=", "zalo")]
            )
        )
        # their own team's conversation is visible to them, not to agent_1
        self._identity(self.partner_b, user_id=USER_2, channel=self.zalo_other)
        self._event(wh.user_text("Chào", user_id=USER_2), channel=self.zalo_other)
        other = self._conversation(USER_2, channel=self.zalo_other)
        self.assertEqual(other.messaging_agent_id, self.agent_other)
        other.with_user(self.agent_other).check_access("read")
        with self.assertRaises(AccessError):
            other.with_user(self.agent_1).check_access("read")


@tagged("post_install", "-at_install")
class TestConversationHttp(ConversationMixin, HttpCase):
    """Through the real routes: the webhook, then Discuss's own post route
    (with a canned response, as the composer sends it)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls._setup_conversations()
        cls.zalo.webhook_token = "conversation-test-token"
        cls.partner = cls.env["res.partner"].create(
            {
                "name": "Khách Discuss",
                "mobile": "0912 000 111",
                "country_id": cls.env.ref("base.vn").id,
            }
        )
        cls.Identity.create(
            {
                "channel_id": cls.zalo.id,
                "external_id": wh.USER_ID,
                "partner_id": cls.partner.id,
            }
        )

    def test_webhook_to_discuss_to_queue(self):
        wh.post_to_webhook(
            self, "conversation-test-token", wh.user_text("Shop ơi tư vấn giúp mình")
        )
        conversation = self.Conversation.search(
            [("messaging_channel_id", "=", self.zalo.id)]
        )
        self.assertEqual(conversation.messaging_agent_id, self.agent_1)
        inbound = conversation.message_ids.filtered(
            lambda m: m.message_type == "comment"
        )
        self.assertIn("tư vấn", inbound.body)
        # the agent answers from Discuss with a canned response
        canned = self.env["mail.canned.response"].create(
            {"source": "chao", "substitution": "Dạ shop chào anh/chị ạ!"}
        )
        self.authenticate("agent1", "agent1")
        result = self.make_jsonrpc_request(
            "/mail/message/post",
            {
                "thread_model": "discuss.channel",
                "thread_id": conversation.id,
                "post_data": {
                    "body": canned.substitution,
                    "message_type": "comment",
                    "subtype_xmlid": "mail.mt_comment",
                },
                "canned_response_ids": [canned.id],
            },
        )
        self.assertTrue(result)
        queued = self.env["messaging.message"].search(
            [("conversation_id", "=", conversation.id)]
        )
        self.assertEqual(len(queued), 1)
        self.assertEqual(queued.route, "consultation")
        self.assertEqual(queued.recipient, wh.USER_ID)
        self.assertEqual(queued.body, "Dạ shop chào anh/chị ạ!")
        self.assertEqual(queued.state, "queued")
        self.assertTrue(canned.last_used)
        # an agent of another team cannot post there
        self.authenticate("agentx", "agentx")
        with self.assertRaises(JsonRpcException) as caught:
            self.make_jsonrpc_request(
                "/mail/message/post",
                {
                    "thread_model": "discuss.channel",
                    "thread_id": conversation.id,
                    "post_data": {"body": "x", "message_type": "comment"},
                },
            )
        self.assertIn("NotFound", str(caught.exception))
        self.assertEqual(
            self.env["messaging.message"].search_count(
                [("conversation_id", "=", conversation.id)]
            ),
            1,
        )
