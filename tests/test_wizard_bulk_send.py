import json
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged
from odoo.tools import format_amount

from .test_wizard_common import SalesMessagingCase


@tagged("post_install", "-at_install")
class TestBulkSend(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Wizard = cls.env["messaging.bulk.send"]
        cls.sandbox.cost_per_message = 300

    def _wizard(self, records, **vals):
        return self.Wizard.with_context(
            active_model=records._name, active_ids=records.ids
        ).create(dict({"channel_id": self.sandbox.id}, **vals))

    def test_contacts_send_now(self):
        partners = self.partner_a | self.partner_b | self.partner_nothing
        wizard = self._wizard(partners, template_id=self.template.id)
        self.assertEqual(wizard.res_model, "res.partner")
        self.assertEqual(wizard.record_count, 3)
        self.assertEqual(wizard.recipient_count, 3)
        self.assertEqual(wizard.excluded_count, 1)
        # preview of the first rendered messages
        self.assertIn("Xin chào Nguyễn Văn An!", wizard.preview_html)
        self.assertIn("Xin chào Trần Thị Bình!", wizard.preview_html)
        self.assertIn("has no address", wizard.preview_html)
        self.assertIn("Excluded", wizard.estimate_html)
        action = wizard.action_send()
        campaign = self.env["messaging.campaign"].browse(action["res_id"])
        self.assertEqual(action["res_model"], "messaging.campaign")
        self.assertEqual(campaign.state, "running")
        self.assertEqual(campaign.res_model, "res.partner")
        self.assertEqual(sorted(campaign.source_res_ids), sorted(partners.ids))
        messages = campaign.message_ids_sent
        self.assertEqual(len(messages), 3)
        self.assertEqual(
            messages.filtered(lambda m: m.state == "skipped").partner_id,
            self.partner_nothing,
        )
        self.Message._process_queue()
        self.assertEqual(campaign.state, "done")
        self.assertEqual(campaign.count_delivered, 2)
        self.assertEqual(campaign.estimated_cost, 600)  # 2 reachable x 300 VND

    def test_sale_orders_one_message_per_customer(self):
        first = self._order(self.partner_a)
        second = self._order(self.partner_a, self.product_coffee)
        other = self._order(self.partner_b, qty=3)
        orders = first | second | other
        wizard = self._wizard(orders)
        self.assertEqual(wizard.template_id.model, "sale.order")  # picked by model
        wizard.template_id = self.template_order
        self.assertEqual(wizard.record_count, 3)
        self.assertEqual(wizard.recipient_count, 2)
        self.assertIn(first.name, wizard.preview_html)
        other_amount = format_amount(self.env, other.amount_total, self.vnd)
        self.assertIn(other_amount, wizard.preview_html)
        action = wizard.action_send()
        campaign = self.env["messaging.campaign"].browse(action["res_id"])
        self.assertEqual(campaign.res_model, "sale.order")
        self.assertEqual(sorted(campaign.source_res_ids), sorted(orders.ids))
        sources = campaign.action_view_sources()
        self.assertEqual(
            self.env[sources["res_model"]].search(sources["domain"]), orders
        )
        messages = campaign.message_ids_sent
        self.assertEqual(len(messages), 2)
        by_partner = {m.partner_id: m for m in messages}
        self.assertEqual(by_partner[self.partner_a].res_id, first.id)
        self.assertEqual(by_partner[self.partner_b].res_model, "sale.order")
        self.Message._process_queue()
        self.assertIn(other.name, by_partner[self.partner_b].body)
        self.assertIn(other_amount, by_partner[self.partner_b].body)

    def test_schedule_leaves_campaign_waiting(self):
        when = fields.Datetime.now() + timedelta(days=1)
        wizard = self._wizard(
            self.partner_a | self.partner_b,
            template_id=self.template.id,
            send_mode="schedule",
            scheduled_at=when,
        )
        action = wizard.action_send()
        campaign = self.env["messaging.campaign"].browse(action["res_id"])
        self.assertEqual(campaign.state, "waiting")
        self.assertEqual(campaign.scheduled_at, when)
        self.assertFalse(campaign.message_ids_sent)
        campaign.action_activate()
        self.Message._process_queue()
        self.assertEqual(campaign.count_queued, 2)  # not before the send date

    def test_fallback_chain_kept_on_the_campaign(self):
        wizard = self._wizard(
            self.partner_a | self.partner_b,
            template_id=self.template.id,
            fallback_ids=[
                Command.create(
                    {"channel_id": self.sandbox_b.id, "template_id": self.template.id}
                )
            ],
        )
        action = wizard.action_send()
        campaign = self.env["messaging.campaign"].browse(action["res_id"])
        self.assertEqual(campaign.fallback_ids.channel_id, self.sandbox_b)
        self.assertEqual(
            campaign.message_ids_sent[0].fallback_chain,
            [[self.sandbox_b.id, self.template.id]],
        )

    def test_schedule_in_the_past_refused(self):
        wizard = self._wizard(
            self.partner_a,
            template_id=self.template.id,
            send_mode="schedule",
            scheduled_at=fields.Datetime.now() - timedelta(hours=1),
        )
        with self.assertRaisesRegex(UserError, "in the past"):
            wizard.action_send()
        self.assertFalse(
            self.env["messaging.campaign"].search([("name", "=", wizard.name)])
        )

    def test_template_of_another_model_refused(self):
        order = self._order(self.partner_a)
        wizard = self._wizard(order, template_id=self.template.id)
        with self.assertRaisesRegex(UserError, "renders on res.partner"):
            wizard.action_send()

    def test_fallback_template_of_another_model_refused(self):
        order = self._order(self.partner_a)
        wizard = self._wizard(
            order,
            template_id=self.template_order.id,
            fallback_ids=[
                Command.create(
                    {"channel_id": self.sandbox_b.id, "template_id": self.template.id}
                )
            ],
        )
        with self.assertRaisesRegex(UserError, "renders on res.partner"):
            wizard.action_send()

    def test_no_record_refused(self):
        wizard = self.Wizard.create(
            {
                "res_model": "res.partner",
                "res_ids": json.dumps([]),
                "channel_id": self.sandbox.id,
                "template_id": self.template.id,
            }
        )
        with self.assertRaisesRegex(UserError, "Select the records"):
            wizard.action_send()

    def test_no_channel_refused(self):
        wizard = self._wizard(self.partner_a, template_id=self.template.id)
        wizard.channel_id = False
        with self.assertRaisesRegex(UserError, "Pick a channel"):
            wizard.action_send()

    def test_salesperson_bulk_sends_to_own_orders(self):
        user = self._make_user(
            "bulk_sales",
            "base.group_user,sales_team.group_sale_salesman,"
            "multichannel_messaging.group_messaging_user",
        )
        order = self._order(self.partner_a)
        order.user_id = user
        wizard = (
            self.Wizard.with_user(user)
            .with_context(active_model="sale.order", active_ids=order.ids)
            .create(
                {"channel_id": self.sandbox.id, "template_id": self.template_order.id}
            )
        )
        action = wizard.action_send()
        campaign = self.env["messaging.campaign"].browse(action["res_id"])
        self.assertEqual(campaign.user_id, user)
        self.assertEqual(campaign.state, "running")
        message = campaign.message_ids_sent
        self.assertEqual(message.with_user(user).user_id, user)

    def test_salesperson_cannot_send_to_orders_of_others(self):
        user = self._make_user(
            "bulk_sales_own",
            "base.group_user,sales_team.group_sale_salesman,"
            "multichannel_messaging.group_messaging_user",
        )
        order = self._order(self.partner_a)
        order.user_id = self.env.ref("base.user_admin")
        wizard = self.Wizard.with_user(user).create(
            {
                "res_model": "sale.order",
                "res_ids": json.dumps(order.ids),
                "channel_id": self.sandbox.id,
                "template_id": self.template_order.id,
            }
        )
        with self.assertRaises(AccessError):
            wizard.action_send()
        self.assertFalse(
            self.env["messaging.campaign"].search([("name", "=", wizard.name)])
        )

    def test_form_preview_follows_template(self):
        with Form(
            self.Wizard.with_context(
                active_model="res.partner",
                active_ids=(self.partner_a | self.partner_b).ids,
            )
        ) as form:
            form.channel_id = self.sandbox
            form.template_id = self.template_tx
            self.assertIn("Đơn hàng của Nguyễn Văn An", form.preview_html)
            form.template_id = self.template
            self.assertIn("Xin chào Nguyễn Văn An!", form.preview_html)
