"""Automation Rules with the "Send message (multi-channel)" server action."""

from datetime import datetime

import pytz
from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import MessagingCase

MODULE = "multichannel_messaging"
VN = pytz.timezone("Asia/Ho_Chi_Minh")


@tagged("post_install", "-at_install")
class TestAutomation(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the shipped rules pick the first active channel of each type: only
        # the test channels are active here, whatever else the database holds
        cls.env["messaging.channel"].search(
            [("id", "not in", (cls.sandbox | cls.sandbox_b).ids)]
        ).active = False
        cls.sandbox.sequence = 0
        cls.vnd = cls.env.ref("base.VND")
        cls.vnd.active = True
        cls.pricelist = cls.env["product.pricelist"].create(
            {"name": "VND test", "currency_id": cls.vnd.id}
        )
        cls.product = cls.env["product.product"].create(
            {
                "name": "Áo thun test",
                "list_price": 199000,
                "type": "consu",
                "taxes_id": [Command.clear()],
            }
        )
        cls.rule_confirmed = cls.env.ref(
            f"{MODULE}.base_automation_sale_order_confirmed"
        )
        cls.rule_delivered = cls.env.ref(
            f"{MODULE}.base_automation_sale_order_delivered"
        )
        cls.rule_cancelled = cls.env.ref(
            f"{MODULE}.base_automation_sale_order_cancelled"
        )
        cls.tpl_confirmed = cls.env.ref(
            f"{MODULE}.messaging_template_order_confirmed_sandbox"
        )
        cls.tpl_shipped = cls.env.ref(
            f"{MODULE}.messaging_template_order_shipped_sandbox"
        )
        cls.tpl_cancelled = cls.env.ref(
            f"{MODULE}.messaging_template_order_cancelled_sandbox"
        )

    def _order(self, partner=None, qty=2):
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.partner_a).id,
                "pricelist_id": self.pricelist.id,
                "date_order": datetime(2026, 3, 14, 20, 30),  # 15/03 03:30 in VN
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": qty,
                            "price_unit": 199000,
                        }
                    )
                ],
            }
        )

    def _messages(self, record):
        return self.Message.search(
            [("res_model", "=", record._name), ("res_id", "=", record.id)],
            order="id",
        )

    def _action(self, template, **vals):
        return self.env["ir.actions.server"].create(
            dict(
                {
                    "name": "Send test message",
                    "model_id": self.env["ir.model"]._get_id("sale.order"),
                    "state": "messaging",
                    "messaging_template_id": template.id,
                },
                **vals,
            )
        )

    def _run(self, action, records):
        return action.with_context(
            active_model=records._name, active_ids=records.ids, active_id=records[:1].id
        ).run()

    def _sale_template(self, channel_type="sandbox", **vals):
        return self.env["messaging.template"].create(
            dict(
                {
                    "name": "Đơn hàng %s" % channel_type,
                    "channel_type": channel_type,
                    "model": "sale.order",
                    "category": "transactional",
                    "subject": "Đơn hàng {{ object.name }}",
                    "body": "Đơn hàng {{ object.name }} đã xác nhận.",
                },
                **vals,
            )
        )

    # -- shipped data ----------------------------------------------------------

    def test_shipped_rules_inactive_and_templates_transactional(self):
        rules = self.rule_confirmed | self.rule_delivered | self.rule_cancelled
        self.assertFalse(any(rules.mapped("active")))
        for rule in rules:
            self.assertEqual(rule.action_server_ids.state, "messaging")
        self.assertEqual(self.rule_confirmed.filter_domain, "[('state', '=', 'sale')]")
        self.assertEqual(
            self.rule_cancelled.filter_domain, "[('state', '=', 'cancel')]"
        )
        action = self.rule_confirmed.action_server_ids
        templates = action._messaging_get_templates()
        self.assertEqual(
            set(templates.mapped("channel_type")),
            {"zalo", "esms", "speedsms", "email", "sandbox"},
        )
        self.assertEqual(set(templates.mapped("category")), {"transactional"})
        zalo = action.messaging_template_id
        self.assertFalse(zalo.active, "ZBS templates wait for their Zalo id")
        self.assertEqual(
            zalo.param_ids.mapped("name"),
            ["customer_name", "order_code", "order_date", "price"],
        )

    def test_shipped_zalo_and_sms_content(self):
        order = self._order()  # a quotation keeps its date (confirming resets it)
        zalo = self.env.ref(f"{MODULE}.messaging_template_order_confirmed_zalo")
        params = zalo._render_params([order.id])[order.id]
        self.assertEqual(
            params,
            {
                "customer_name": "Nguyễn Văn An",
                "order_code": order.name,
                "order_date": "15/03/2026",
                "price": "398000",
            },
        )
        self.assertEqual(zalo._check_params(params), [])
        sms = self.env.ref(f"{MODULE}.messaging_template_order_confirmed_esms")
        body = sms._render_body([order.id])[order.id]
        self.assertIn("tri gia 398.000 VND", body)
        self.assertIn("ngay 15/03/2026", body)

    # -- the rules ---------------------------------------------------------------

    def test_confirm_queues_one_message_with_order_details(self):
        self.rule_confirmed.active = True
        order = self._order()
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        message = self._messages(order)
        self.assertEqual(len(message), 1)
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.partner_id, self.partner_a)
        self.assertEqual(message.channel_id, self.sandbox)
        self.assertEqual(message.template_id, self.tpl_confirmed)
        self.assertEqual(message.category, "transactional")
        self.assertEqual(message.recipient, "84912345678")
        self.assertEqual(order.amount_total, 398000)
        self.assertIn(order.name, message.body)
        self.assertIn(order.currency_id.format(order.amount_total), message.body)
        self.assertIn("398,000\N{NO-BREAK SPACE}₫", message.body)
        confirmed_on = pytz.utc.localize(order.date_order).astimezone(VN)
        self.assertIn(confirmed_on.strftime("%d/%m/%Y"), message.body)
        self.Message._process_queue()
        self.assertEqual(message.state, "delivered")
        notes = order.message_ids.filtered(lambda m: "84912345678" in (m.body or ""))
        self.assertEqual(len(notes), 1, "the sent message is in the order's chatter")
        self.assertIn(order.name, notes.body)

    def test_cancel_queues_the_cancellation_template(self):
        (self.rule_confirmed | self.rule_cancelled).active = True
        order = self._order()
        order.action_confirm()
        order.with_context(disable_cancel_warning=True).action_cancel()
        self.assertEqual(order.state, "cancel")
        messages = self._messages(order)
        self.assertEqual(messages.template_id, self.tpl_confirmed | self.tpl_cancelled)
        cancelled = messages.filtered(lambda m: m.template_id == self.tpl_cancelled)
        self.assertIn("đã được hủy", cancelled.body)
        self.assertIn(order.name, cancelled.body)

    def test_rule_firing_twice_queues_one(self):
        self.rule_confirmed.active = True
        order = self._order()
        order.action_confirm()
        order.with_context(disable_cancel_warning=True).action_cancel()
        order.action_draft()
        order.action_confirm()  # confirmed a second time: the rule fires again
        action = self.rule_confirmed.action_server_ids
        self._run(action, order)  # and once more by hand
        self.assertEqual(len(self._messages(order)), 1)

    def test_failed_attempt_does_not_block_a_new_one(self):
        action = self.rule_confirmed.action_server_ids
        order = self._order()
        self._run(action, order)
        first = self._messages(order)
        first.action_cancel()
        self._run(action, order)
        self.assertEqual(len(self._messages(order)), 2)

    def test_delivered_rule_on_order_lines_sends_once_per_order(self):
        self.rule_delivered.active = True
        order = self._order()
        order.order_line = [
            Command.create(
                {"product_id": self.product.id, "product_uom_qty": 1, "price_unit": 1}
            )
        ]
        order.action_confirm()
        self.assertFalse(self._messages(order))
        line_1, line_2 = order.order_line
        order.write({"order_line": [Command.update(line_1.id, {"qty_delivered": 1})]})
        message = self._messages(order)
        self.assertEqual(len(message), 1)
        self.assertEqual(message.res_model, "sale.order")
        self.assertEqual(message.template_id, self.tpl_shipped)
        self.assertIn("đang được giao", message.body)
        line_1.qty_delivered = 2
        line_2.qty_delivered = 1
        self.assertEqual(len(self._messages(order)), 1)
        self.assertFalse(self._messages(line_1))

    def test_no_reachable_address_gives_a_clear_refusal_and_order_confirmed(self):
        self.rule_confirmed.active = True
        order = self._order(partner=self.partner_nothing)
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        message = self._messages(order)
        self.assertEqual(len(message), 1)
        self.assertEqual(message.state, "skipped")
        self.assertEqual(message.failure_type, "no_address")
        self.assertIn(self.partner_nothing.name, message.error_message)
        self.assertIn(self.sandbox.name, message.error_message)

    def test_broken_template_fails_visibly_falls_back_and_never_blocks(self):
        broken = self._sale_template(body="{{ object.no_such_field.name }}")
        email_channel = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="E-mail test", channel_type="email")
        )
        email_tpl = self._sale_template("email")
        self.rule_confirmed.action_server_ids.write(
            {
                "messaging_template_id": broken.id,
                "messaging_channel_id": self.sandbox.id,
                "messaging_fallback_template_ids": [Command.set(email_tpl.ids)],
            }
        )
        self.rule_confirmed.active = True
        partner = self.partner_a
        partner.email = "an@example.vn"
        order = self._order(partner=partner)
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        failed, fallback = self._messages(order)
        self.assertEqual(failed.state, "failed")
        self.assertEqual(failed.failure_type, "invalid_params")
        self.assertIn(broken.name, failed.error_message)
        self.assertEqual(fallback.channel_id, email_channel)
        self.assertEqual(fallback.state, "queued")
        self.assertEqual(fallback.fallback_parent_id, failed)
        self.assertEqual(fallback.recipient, "an@example.vn")

    def test_no_channel_notes_it_on_the_order(self):
        template = self._sale_template("speedsms")
        action = self._action(template)
        order = self._order()
        order.action_confirm()
        self._run(action, order)
        self.assertFalse(self._messages(order))
        self.assertIn(
            "no active messaging channel",
            order.message_ids[0].body,
        )

    def test_transactional_not_held_by_quiet_hours_or_caps(self):
        self.sandbox.write(
            {
                "quiet_hours_start": 21.0,
                "quiet_hours_end": 8.0,
                "recipient_daily_cap": 1,
                "resend_window_minutes": 1440,
            }
        )
        self.rule_confirmed.active = True
        night = VN.localize(datetime(2026, 11, 23, 23, 0)).astimezone(pytz.utc)
        with freeze_time(night.replace(tzinfo=None)):
            order = self._order()
            order.action_confirm()
            marketing = self._queue(self.partner_a)
            self.Message._process_queue()
            self.assertEqual(self._messages(order).state, "delivered")
            self.assertEqual(marketing.state, "queued")  # held until 8:00
        day = VN.localize(datetime(2026, 11, 24, 10, 0)).astimezone(pytz.utc)
        with freeze_time(day.replace(tzinfo=None)):
            self.Message._process_queue()
            self.assertEqual(marketing.state, "delivered")  # today's marketing cap
            second = self._order()
            second.action_confirm()
            self.Message._process_queue()
            self.assertEqual(self._messages(second).state, "delivered")

    # -- channel resolution and routing -----------------------------------------

    def test_real_channel_preferred_over_sandbox(self):
        email_channel = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="E-mail test", channel_type="email")
        )
        action = self.rule_confirmed.action_server_ids
        order = self._order()
        steps = action._messaging_get_steps(order)
        self.assertEqual(
            steps,
            [
                (
                    email_channel,
                    self.env.ref(f"{MODULE}.messaging_template_order_confirmed_email"),
                )
            ],
        )
        email_channel.active = False
        self.assertEqual(
            action._messaging_get_steps(order), [(self.sandbox, self.tpl_confirmed)]
        )

    def test_automatic_routing_cheapest_reachable_first(self):
        email_channel = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="E-mail test", channel_type="email")
        )
        sms_channel = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="eSMS test", channel_type="esms")
        )
        email_tpl = self._sale_template("email")
        sms_tpl = self._sale_template("esms")
        action = self._action(
            email_tpl,
            messaging_routing="auto",
            messaging_channel_id=email_channel.id,
            messaging_fallback_template_ids=[Command.set(sms_tpl.ids)],
        )
        self.partner_a.email = "an@example.vn"
        by_phone = self._order(partner=self.partner_a)
        by_email = self._order(partner=self.partner_email_only)
        self._run(action, by_phone | by_email)
        first = self._messages(by_phone)
        self.assertEqual(first.channel_id, sms_channel)  # SMS ranks before e-mail
        self.assertEqual(first.recipient, "84912345678")
        self.assertEqual(first.fallback_chain, [[email_channel.id, email_tpl.id]])
        second = self._messages(by_email)
        self.assertEqual(second.channel_id, email_channel)
        self.assertEqual(second.recipient, "dung@example.vn")
        self.assertFalse(second.fallback_chain)

    def test_template_must_render_on_the_action_model(self):
        with self.assertRaises(ValidationError):
            self._action(self.template)  # renders on res.partner
        with self.assertRaises(ValidationError):
            self._action(
                self._sale_template("sandbox"),
                messaging_channel_id=self.env["messaging.channel"]
                .create({"name": "mail", "channel_type": "email"})
                .id,
            )

    def test_action_name_in_automation(self):
        action = self.rule_cancelled.action_server_ids
        self.assertEqual(
            action.name, "Send message: Order cancelled (Zalo ZBS) (+4 fallbacks)"
        )
        action.write(
            {
                "messaging_template_id": self.tpl_cancelled.id,
                "messaging_fallback_template_ids": [Command.clear()],
            }
        )
        self.assertEqual(action.name, "Send message: Order cancelled (Sandbox)")
