"""Ratings and surveys inside the message: a Zalo rating (``user_feedback``,
through the real webhook route) becomes one Odoo ``rating.rating`` on the
rated message's document; a template that carries a survey gives each
recipient their own answer and link; closing a conversation asks for a
rating."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, tagged

from ..engine import rendering
from . import test_webhook_common as wh
from .common import MessagingCase, make_user
from .test_zalo_oa_echo import rating as feedback_payload

MODULE = "multichannel_messaging"


@tagged("post_install", "-at_install")
class TestRatingWebhook(HttpCase):
    """``user_feedback`` posted to ``/messaging/webhook/zalo/<token>``."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.channel, _esms, _speedsms = wh.make_webhook_channels(cls.env, "ratings")
        cls.salesman = make_user(
            cls.env, "mm_rating_salesman", "sales_team.group_sale_salesman"
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Đỗ Thị Đánh Giá",
                "mobile": "0912 555 666",
                "country_id": cls.env.ref("base.vn").id,
            }
        )
        product = cls.env["product.product"].create(
            {"name": "Nón lá", "list_price": 150000}
        )
        cls.order = cls.env["sale.order"].create(
            {
                "partner_id": cls.customer.id,
                "user_id": cls.salesman.id,
                "order_line": [
                    (0, 0, {"product_id": product.id, "product_uom_qty": 1})
                ],
            }
        )
        cls.order.action_confirm()
        cls.Event = cls.env["messaging.event"]
        cls.Rating = cls.env["rating.rating"]

    def _post(self, payload):
        raw = wh.encode(payload)
        response = self.opener.post(
            "%s/messaging/webhook/zalo/%s"
            % (self.base_url(), self.channel.webhook_token),
            data=raw,
            headers={
                "Content-Type": "application/json",
                "X-ZEvent-Signature": wh.sign(raw, payload["timestamp"]),
            },
            timeout=10,
        )
        self.assertEqual(response.status_code, 200)
        self.Event._cron_process_pending()
        return response

    def _rated_message(self, msg_id):
        message = wh.sent_message(
            self.channel,
            msg_id,
            self.customer,
            res_model="sale.order",
            res_id=self.order.id,
        )
        message.write({"sent_at": fields.Datetime.now() - timedelta(hours=1)})
        return message

    def _ratings(self):
        return self.Rating.search(
            [("res_model", "=", "sale.order"), ("res_id", "=", self.order.id)]
        )

    def test_five_stars_become_one_rating_on_the_order(self):
        message = self._rated_message("9a8b7c6d5e4f3a2b1c0d")
        payload = feedback_payload(
            "9a8b7c6d5e4f3a2b1c0d",
            rate=5,
            note="Giao hàng rất nhanh",
            feedbacks=("Nhân viên vui vẻ",),
        )
        self._post(payload)
        rating = self._ratings()
        self.assertEqual(len(rating), 1)
        self.assertEqual(rating.rating, 5)
        self.assertEqual(rating.partner_id, self.customer)
        self.assertEqual(rating.rated_partner_id, self.salesman.partner_id)
        self.assertIn("Giao hàng rất nhanh", rating.feedback)
        self.assertIn("Nhân viên vui vẻ", rating.feedback)
        self.assertTrue(rating.consumed)
        self.assertEqual(rating.messaging_message_id, message)
        # Odoo's rating message in the order's chatter, by the customer
        self.assertEqual(rating.message_id.model, "sale.order")
        self.assertEqual(rating.message_id.res_id, self.order.id)
        self.assertEqual(rating.message_id.author_id, self.customer)
        # and a line in the contact's own chatter
        line = self.customer.message_ids.filtered(
            lambda m: (m.messaging_line or {}).get("key") == "zalo_feedback"
        )
        self.assertEqual(len(line), 1)
        self.order.invalidate_recordset()
        self.assertEqual(self.order.customer_rating_count, 1)
        self.assertEqual(self.order.customer_rating_avg, 5.0)
        # the salesperson without Messaging rights sees it on the order
        values = self.order.with_user(self.salesman).read(
            ["customer_rating_count", "customer_rating_avg"]
        )[0]
        self.assertEqual(values["customer_rating_count"], 1)
        self.assertEqual(self.customer.messaging_rating_count, 1)

        # the same call again (Zalo retries): still one rating
        response = self._post(payload)
        self.assertIn("Duplicate", response.json()["message"])
        self.assertEqual(len(self._ratings()), 1)
        # the event processed again: still one
        event = self.Event.search([("rating_id", "=", rating.id)])
        self.assertEqual(len(event), 1)
        event.action_retry()
        self.Event._cron_process_pending()
        self.assertEqual(event.state, "done")
        self.assertEqual(len(self._ratings()), 1)

    def test_rating_before_the_send_result_is_created_later_once(self):
        payload = feedback_payload("5f4e3d2c1b0a99887766", rate=4, note="Ổn")
        self._post(payload)
        event = self.Event.search(
            [("channel_id", "=", self.channel.id), ("event_name", "=", "user_feedback")]
        )
        self.assertEqual(event.state, "received")
        self.assertFalse(self._ratings())
        # the send result arrives; the event is tried again 30 s later
        message = self._rated_message("5f4e3d2c1b0a99887766")
        for _attempt in range(2):
            event.processed_at = fields.Datetime.now() - timedelta(minutes=1)
            self.Event._cron_process_pending()
        self.assertEqual(event.state, "done")
        rating = self._ratings()
        self.assertEqual(len(rating), 1)
        self.assertEqual(event.rating_id, rating)
        self.assertEqual((rating.rating, rating.feedback), (4, "Ổn\nNhân viên vui vẻ"))
        self.assertEqual(rating.messaging_message_id, message)


@tagged("post_install", "-at_install")
class TestSurveyInMessage(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.survey = cls.env["survey.survey"].create(
            {"title": "Khảo sát hài lòng", "access_mode": "token"}
        )
        cls.question = cls.env["survey.question"].create(
            {
                "title": "Anh/chị có hài lòng không?",
                "survey_id": cls.survey.id,
                "question_type": "text_box",
            }
        )
        cls.survey_template = cls.env["messaging.template"].create(
            {
                "name": "Mời khảo sát",
                "channel_type": "sandbox",
                "category": "transactional",
                "body": "Chào {{ object.name }}, mời góp ý: [survey_url]",
                "survey_id": cls.survey.id,
            }
        )
        cls.campaign = cls.env["messaging.campaign"].create(
            {
                "name": "Khảo sát tháng 12",
                "channel_id": cls.sandbox.id,
                "template_id": cls.survey_template.id,
            }
        )

    def _campaign_messages(self):
        ids = self.Message._bulk_enqueue(
            self.sandbox,
            self.survey_template,
            [
                (partner, "res.partner", partner.id)
                for partner in (self.partner_a, self.partner_b)
            ],
            campaign_id=self.campaign.id,
        )
        messages = self.Message.browse(ids)
        self.assertEqual(len(messages), 2)
        rendering.prepare_lazy_content(messages)
        return messages

    def test_two_recipients_two_survey_links(self):
        messages = self._campaign_messages()
        answers = messages.survey_user_input_id
        self.assertEqual(len(answers), 2, "one answer per recipient")
        self.assertEqual(answers.survey_id, self.survey)
        self.assertEqual(
            messages.mapped("survey_user_input_id.partner_id"),
            messages.partner_id,
        )
        for message in messages:
            answer = message.survey_user_input_id
            self.assertEqual(answer.partner_id, message.partner_id)
            url = answer.get_base_url() + answer.get_start_url()
            self.assertIn(url, message.body)
            self.assertNotIn("[survey_url]", message.body)
            self.assertIn(message.partner_id.name, message.body)
        self.assertNotEqual(messages[0].body, messages[1].body)

        # rendered again (a crash after the answers were made): reused
        self.env.cr.execute(
            "UPDATE messaging_message SET survey_user_input_id = NULL WHERE id IN %s",
            [tuple(messages.ids)],
        )
        messages.invalidate_recordset(["survey_user_input_id"])
        again = messages._get_survey_answers()
        self.assertEqual(set(again.values()), set(answers))
        self.assertEqual(messages.survey_user_input_id, answers)
        self.assertEqual(
            self.env["survey.user_input"].search_count(
                [("survey_id", "=", self.survey.id)]
            ),
            2,
        )

    def test_completed_survey_in_chatter_and_campaign(self):
        messages = self._campaign_messages()
        messages.sudo().write({"state": "sent"})
        self.campaign.invalidate_recordset()
        self.assertEqual(self.campaign.count_survey_sent, 2)
        self.assertEqual(self.campaign.count_survey_done, 0)
        # not sent yet: not counted
        messages[1].sudo().write({"state": "queued"})
        self.campaign.invalidate_recordset()
        self.assertEqual(self.campaign.count_survey_sent, 1)
        messages[1].sudo().write({"state": "delivered"})
        first = messages.filtered(lambda m: m.partner_id == self.partner_a)
        first.survey_user_input_id._mark_done()
        line = self.partner_a.message_ids.filtered(
            lambda m: (m.messaging_line or {}).get("key") == "survey_done"
        )
        self.assertEqual(len(line), 1)
        self.assertIn("Khảo sát hài lòng", line.body)
        self.assertFalse(
            self.partner_b.message_ids.filtered(
                lambda m: (m.messaging_line or {}).get("key") == "survey_done"
            )
        )
        self.campaign.invalidate_recordset()
        self.assertEqual(self.campaign.count_survey_sent, 2)
        self.assertEqual(self.campaign.count_survey_done, 1)

    def test_one_message_and_its_fallback_share_the_answer(self):
        message = self._queue(self.partner_c, template=self.survey_template)
        answer = message.survey_user_input_id
        self.assertTrue(answer)
        self.assertEqual(answer.partner_id, self.partner_c)
        self.assertIn(answer.access_token, message.body)
        child = self._queue(
            self.partner_c,
            channel=self.sandbox_b,
            template=self.survey_template,
            fallback_parent_id=message.id,
        )
        self.assertEqual(child.survey_user_input_id, answer)
        self.assertIn(answer.access_token, child.body)

    def test_closed_survey_fails_the_message_with_odoo_reason(self):
        self.survey.active = False
        message = self._queue(self.partner_a, template=self.survey_template)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.failure_type, "invalid_params")
        self.assertIn("closed/archived", message.error_message)

    def test_template_needs_the_placeholder(self):
        with self.assertRaisesRegex(ValidationError, r"\[survey_url\]"):
            self.template.survey_id = self.survey

    def test_users_cannot_set_the_answer(self):
        answer = self._queue(
            self.partner_a, template=self.survey_template
        ).survey_user_input_id
        other = self._queue(self.partner_b, template=self.template_tx)
        user = make_user(
            self.env,
            "mm_survey_user",
            f"base.group_user,{MODULE}.group_messaging_user",
        )
        employee = make_user(self.env, "mm_survey_employee", "base.group_user")
        for who in (user, employee):
            with self.assertRaises(AccessError):
                other.with_user(who).write({"survey_user_input_id": answer.id})
            with self.assertRaises(AccessError):
                self.Message.with_user(who).create(
                    {
                        "partner_id": self.partner_b.id,
                        "channel_id": self.sandbox.id,
                        "template_id": self.template_tx.id,
                        "survey_user_input_id": answer.id,
                    }
                )
        self.assertFalse(other.survey_user_input_id)


@tagged("post_install", "-at_install")
class TestRatingOnClosing(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zalo = cls.env["messaging.channel"].create(wh.zalo_channel_values())
        cls.agent = make_user(
            cls.env,
            "mm_rating_agent",
            f"base.group_user,{MODULE}.group_messaging_user",
        )
        cls.rating_template = cls.env["messaging.template"].create(
            {
                "name": "Đánh giá dịch vụ",
                "channel_type": "zalo",
                "category": "transactional",
                "zalo_template_id": "401234",
                "zalo_route": "uid",
                "zbs_template_type": "5",
                "param_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "customer_name",
                            "param_type": "STRING",
                            "max_length": 30,
                            "expression": "{{ object.name }}",
                        },
                    )
                ],
            }
        )
        cls.identity = cls.env["messaging.identity"].create(
            {
                "channel_id": cls.zalo.id,
                "external_id": wh.USER_ID,
                "partner_id": cls.partner_a.id,
                "last_interaction_at": fields.Datetime.now() - timedelta(hours=2),
            }
        )
        cls.conversation = cls.env["discuss.channel"]._messaging_conversation_for(
            cls.identity
        )
        cls.conversation._messaging_sync_customer()
        cls.conversation._messaging_set_agent(cls.agent)

    def _requests(self):
        return self.Message.search(
            [
                ("conversation_id", "=", self.conversation.id),
                ("template_id", "=", self.rating_template.id),
            ]
        )

    def test_closing_sends_the_rating_template_once(self):
        self.conversation.with_user(self.agent).action_messaging_done()
        self.assertFalse(self._requests(), "no rating template set on the OA")
        self.zalo.rating_template_id = self.rating_template
        self.conversation.with_user(self.agent).action_messaging_done()
        request = self._requests()
        self.assertEqual(len(request), 1)
        self.assertEqual(request.state, "queued")
        self.assertEqual((request.route, request.recipient), ("uid", wh.USER_ID))
        self.assertEqual(request.template_data, {"customer_name": "Nguyễn Văn An"})
        self.assertEqual(request.partner_id, self.partner_a)
        # closed again without a new message from the customer: not again
        self.conversation.with_user(self.agent).action_messaging_done()
        self.assertEqual(len(self._requests()), 1)

    def test_no_request_once_the_window_closed(self):
        self.zalo.rating_template_id = self.rating_template
        self.identity.last_interaction_at = fields.Datetime.now() - timedelta(days=8)
        self.conversation.with_user(self.agent).action_messaging_done()
        self.assertFalse(self._requests())

    def test_only_a_rating_template_on_contacts(self):
        with self.assertRaisesRegex(ValidationError, "Service rating"):
            self.zalo.rating_template_id = self.template

    def test_shipped_order_rating_rule(self):
        """Shipped inactive; without the stock app it fires when the order
        is fully invoiced, with the Zalo service rating template."""
        rule = self.env.ref(f"{MODULE}.base_automation_sale_order_rating")
        self.assertFalse(rule.active)
        self.assertEqual(rule.trigger_field_ids.name, "invoice_status")
        self.assertIn("'invoiced'", rule.filter_domain)
        template = rule.action_server_ids.messaging_template_id
        self.assertEqual(
            (template.channel_type, template.zbs_template_type, template.model),
            ("zalo", "5", "sale.order"),
        )
        order = self.env["sale.order"].create({"partner_id": self.partner_a.id})
        params = template._render_params(order.ids)[order.id]
        self.assertEqual(params, {"order_code": order.name})
        self.assertEqual(template._check_params(params), [])
