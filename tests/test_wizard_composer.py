from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import format_amount, format_date

from .test_wizard_common import SalesMessagingCase


@tagged("post_install", "-at_install")
class TestComposer(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Composer = cls.env["messaging.composer"]
        cls.zalo = cls.env["messaging.channel"].create(
            dict(cls.NO_THROTTLE, name="Zalo test", channel_type="zalo")
        )
        cls.zbs = cls.env["messaging.template"].create(
            {
                "name": "ZBS order",
                "channel_type": "zalo",
                "model": "sale.order",
                "category": "transactional",
                "zalo_template_id": "231677",
                "zalo_route": "phone",
                "param_ids": [
                    (0, 0, {"name": "order_code", "expression": "{{ object.name }}"}),
                    (
                        0,
                        0,
                        {
                            "name": "note",
                            "expression": "{{ object.client_order_ref or '' }}",
                        },
                    ),
                ],
            }
        )

    def _composer(self, record, **vals):
        return self.Composer.with_context(
            active_model=record._name, active_id=record.id
        ).create(dict({"channel_id": self.sandbox.id}, **vals))

    def _messages_of(self, record):
        return self.Message.search(
            [("res_model", "=", record._name), ("res_id", "=", record.id)]
        )

    def test_contact_composer_renders_sends_and_logs(self):
        composer = self._composer(self.partner_a, template_id=self.template.id)
        self.assertEqual(composer.partner_id, self.partner_a)
        self.assertEqual(composer.body, "Xin chào Nguyễn Văn An!")
        self.assertIn("84912345678", composer.preview_html)
        self.assertIn("Xin chào Nguyễn Văn An!", composer.preview_html)
        composer.action_send()
        message = self._messages_of(self.partner_a)
        self.assertEqual(len(message), 1)
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.body, "Xin chào Nguyễn Văn An!")
        self.assertEqual(self.partner_a.messaging_message_count, 1)
        self.Message._process_queue()
        self.assertEqual(message.state, "delivered")
        notes = self.partner_a.message_ids.filtered(
            lambda m: "Xin chào Nguyễn Văn An!" in (m.body or "")
        )
        self.assertEqual(len(notes), 1)
        # the smart button lists it with its live state
        action = self.partner_a.action_view_messaging_messages()
        listed = self.Message.search(action["domain"])
        self.assertEqual(listed, message)
        self.assertEqual(listed.state, "delivered")

    def test_edited_text_is_what_is_sent(self):
        composer = self._composer(self.partner_a, template_id=self.template.id)
        composer.body = "Chào anh An, hẹn gặp lại!"
        self.assertIn("hẹn gặp lại", composer.preview_html)
        composer.action_send()
        self.assertEqual(
            self._messages_of(self.partner_a).body, "Chào anh An, hẹn gặp lại!"
        )

    def test_sale_order_composer_renders_order_fields(self):
        order = self._order(self.partner_b, qty=2)
        composer = self._composer(order, template_id=self.template_order.id)
        self.assertEqual(composer.partner_id, self.partner_b)
        self.assertIn(order.name, composer.body)
        amount = format_amount(self.env, order.amount_total, order.currency_id)
        self.assertEqual(order.currency_id, self.vnd)
        self.assertIn(amount, composer.body)
        self.assertIn("₫", composer.body)
        # the order's day in the shop's time zone, whatever the sender's
        shop_tz = order.company_id.partner_id.tz or "Asia/Ho_Chi_Minh"
        shop_env = self.env(context=dict(self.env.context, tz=shop_tz))
        self.assertIn(
            format_date(shop_env, order.date_order, date_format="dd/MM/yyyy"),
            composer.body,
        )
        composer.action_send()
        message = self._messages_of(order)
        self.assertEqual(message.partner_id, self.partner_b)
        self.assertEqual(order.messaging_message_count, 1)
        self.Message._process_queue()
        self.assertEqual(message.state, "delivered")
        self.assertTrue(
            order.message_ids.filtered(lambda m: order.name in (m.body or ""))
        )

    def test_template_list_filtered_by_model(self):
        order = self._order(self.partner_b)
        with Form(
            self.Composer.with_context(active_model="sale.order", active_id=order.id)
        ) as form:
            # a template of the order's model and of the channel's type is picked
            form.channel_id = self.sandbox
            self.assertEqual(form.template_id.model, "sale.order")
            self.assertEqual(form.template_id.channel_type, "sandbox")
            form.channel_id = self.zalo
            self.assertEqual(form.template_id.model, "sale.order")
            self.assertEqual(form.template_id.channel_type, "zalo")
            form.template_id = self.zbs
            self.assertIn("order_code", form.preview_html)

    def test_no_recipient_refused(self):
        order = self._order(self.partner_b)
        composer = self._composer(order, template_id=self.template_order.id)
        composer.partner_id = False
        with self.assertRaisesRegex(UserError, "no customer"):
            composer.action_send()
        self.assertFalse(self._messages_of(order))

    def test_template_of_another_model_refused(self):
        order = self._order(self.partner_b)
        composer = self._composer(order, template_id=self.template.id)
        with self.assertRaisesRegex(UserError, "renders on res.partner"):
            composer.action_send()
        self.assertFalse(self._messages_of(order))

    def test_parameter_without_value_refused(self):
        order = self._order(self.partner_a)
        self.zbs.param_ids.filtered(lambda p: p.name == "note").expression = False
        composer = self._composer(
            order, channel_id=self.zalo.id, template_id=self.zbs.id
        )
        with self.assertRaisesRegex(UserError, "note have no value"):
            composer.action_send()
        self.assertFalse(self._messages_of(order))

    def test_parameter_rendered_empty_refused(self):
        order = self._order(self.partner_a)
        composer = self._composer(
            order, channel_id=self.zalo.id, template_id=self.zbs.id
        )
        self.assertIn("required but empty", composer.preview_html)
        with self.assertRaisesRegex(UserError, "'note' is required but empty"):
            composer.action_send()
        order.client_order_ref = "PO-7"
        composer = self._composer(
            order, channel_id=self.zalo.id, template_id=self.zbs.id
        )
        self.assertIn("PO-7", composer.preview_html)
        composer.action_send()
        message = self._messages_of(order)
        self.assertEqual(
            message.template_data, {"order_code": order.name, "note": "PO-7"}
        )

    def test_unreachable_recipient_refused_with_reason(self):
        composer = self._composer(self.partner_nothing, template_id=self.template.id)
        self.assertIn("has no address", composer.preview_html)
        with self.assertRaisesRegex(UserError, "has no address"):
            composer.action_send()
        opted = self._composer(self.partner_opted_out, template_id=self.template.id)
        with self.assertRaisesRegex(UserError, "opted out"):
            opted.action_send()
        # a transactional template still reaches an opted-out contact
        opted.template_id = self.template_tx
        opted.action_send()
        self.assertEqual(self._messages_of(self.partner_opted_out).state, "queued")

    def test_empty_message_refused(self):
        composer = self._composer(self.partner_a)
        composer.template_id = False
        composer.body = ""
        with self.assertRaisesRegex(UserError, "Write a message"):
            composer.action_send()

    def test_salesperson_can_send(self):
        user = self._make_user(
            "composer_sales",
            "base.group_user,sales_team.group_sale_salesman,"
            "multichannel_messaging.group_messaging_user",
        )
        composer = (
            self.Composer.with_user(user)
            .with_context(active_model="res.partner", active_id=self.partner_a.id)
            .create({"channel_id": self.sandbox.id, "template_id": self.template.id})
        )
        composer.action_send()
        message = self._messages_of(self.partner_a)
        self.assertEqual(message.user_id, user)
        self.assertEqual(message.with_user(user).state, "queued")

    def test_buttons_and_list_actions(self):
        for model in ("res.partner", "sale.order"):
            arch = self.env[model].get_view(view_type="form")["arch"]
            self.assertIn("Send Message", arch, model)
        for xmlid, model in (
            ("res_partner_action_messaging_bulk_send", "res.partner"),
            ("sale_order_action_messaging_bulk_send", "sale.order"),
        ):
            action = self.env.ref("multichannel_messaging." + xmlid)
            self.assertEqual(action.binding_model_id.model, model)
            self.assertEqual(action.res_model, "messaging.bulk.send")
