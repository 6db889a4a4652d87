from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..models.messaging_segment import BUILDERS
from .common import MessagingCase


@tagged("post_install", "-at_install")
class TestDemoData(MessagingCase):
    def test_demo_channels(self):
        sandbox = self.env.ref("multichannel_messaging.demo_channel_sandbox")
        sms = self.env.ref("multichannel_messaging.demo_channel_sandbox_sms")
        self.assertTrue(sandbox.active and sandbox.is_configured)
        self.assertTrue(sms.active and sms.is_configured)
        Channel = self.env["messaging.channel"].with_context(active_test=False)
        types = set(Channel.search([]).mapped("channel_type"))
        self.assertTrue({"zalo", "esms", "speedsms", "email", "sandbox"} <= types)
        # the real providers are shown, active, and marked not configured
        for xmlid in (
            "demo_channel_zalo",
            "demo_channel_esms",
            "demo_channel_speedsms",
        ):
            channel = self.env.ref(f"multichannel_messaging.{xmlid}")
            self.assertTrue(channel.active, xmlid)
            self.assertFalse(channel.is_configured, xmlid)
        zalo = self.env.ref("multichannel_messaging.demo_channel_zalo")
        self.assertFalse(zalo.zalo_app_secret)
        self.assertFalse(zalo.zalo_access_token)

    def test_demo_shop_is_vietnamese(self):
        shop = self.env.ref("multichannel_messaging.demo_company_vn")
        self.assertEqual(shop.currency_id, self.env.ref("base.VND"))
        self.assertEqual(shop.country_id, self.env.ref("base.vn"))
        self.assertEqual(shop.partner_id.tz, "Asia/Ho_Chi_Minh")
        for xmlid in ("base.user_admin", "base.user_demo"):
            user = self.env.ref(xmlid)
            self.assertIn(shop, user.company_ids, xmlid)
            self.assertEqual(user.tz, "Asia/Ho_Chi_Minh", xmlid)
        # the admin's default company stays Odoo's (its own tests expect it);
        # scripts/run.sh moves the admin of the demo database to the shop
        self.assertEqual(self.env.ref("base.user_demo").company_id, shop)
        orders = self.env["sale.order"].search([("company_id", "=", shop.id)])
        self.assertEqual(orders.currency_id, self.env.ref("base.VND"))
        self.assertFalse(orders.order_line.tax_id, "no US tax on the shop's orders")
        channels = self.env["messaging.channel"].search([("company_id", "=", shop.id)])
        self.assertEqual(len(channels), 5)

    def test_demo_orders_spread_over_months(self):
        shop = self.env.ref("multichannel_messaging.demo_company_vn")
        orders = self.env["sale.order"].search([("company_id", "=", shop.id)])
        self.assertGreaterEqual(len(orders.filtered(lambda o: o.state == "cancel")), 2)
        oldest = min(orders.filtered(lambda o: o.state == "sale").mapped("date_order"))
        self.assertLess(oldest, fields.Datetime.now() - timedelta(days=90))

    def test_every_customer_group_builder_matches_someone(self):
        Segment = self.env["messaging.segment"]
        shipped = Segment.browse(
            self.env["ir.model.data"]
            .search(
                [
                    ("module", "=", "multichannel_messaging"),
                    ("model", "=", "messaging.segment"),
                ]
            )
            .mapped("res_id")
        )
        for builder, _label in BUILDERS:
            groups = shipped.filtered(lambda s, b=builder: s.builder == b)
            self.assertTrue(groups, builder)
            for group in groups:
                self.assertGreater(group.partner_count, 0, group.name)

    def test_demo_history_finished_campaign(self):
        campaign = self.env.ref("multichannel_messaging.demo_campaign_tet_notice")
        self.assertEqual(campaign.state, "done")
        self.assertEqual(campaign.count_queued, 0)
        self.assertGreater(campaign.count_delivered, 0)
        self.assertGreater(campaign.count_read, 0)
        # the sandbox refuses the same customers on every install (tracking
        # ids drawn from their names), the SMS sandbox takes them all over
        self.assertGreater(campaign.count_failed, 0)
        self.assertEqual(campaign.count_fallback, campaign.count_failed)
        # three answered in their chatter (Zalo users writing to the OA
        # after the campaign count too)
        self.assertGreaterEqual(campaign.count_replied, 3)
        # priced at the channels' rates beforehand; the sandboxes charge nothing
        self.assertGreater(campaign.estimated_cost, 0)
        self.assertEqual(campaign.actual_cost, 0)
        messages = campaign.message_ids_sent
        failed = messages.filtered(lambda m: m.state == "failed")
        self.assertEqual(
            failed.fallback_child_ids.channel_id,
            self.env.ref("multichannel_messaging.demo_channel_sandbox_sms"),
        )
        self.assertEqual(set(failed.fallback_child_ids.mapped("state")), {"delivered"})
        self.assertIn("SMS (sandbox)", campaign.report_html)

    def test_demo_history_in_chatters_and_discuss(self):
        order = self.env.ref("multichannel_messaging.demo_sale_order_1")
        # logged in the order's chatter
        self.assertTrue(
            any("398.000" in body for body in order.message_ids.mapped("body"))
        )
        sent = self.env["messaging.message"].search(
            [("res_model", "=", "sale.order"), ("res_id", "=", order.id)]
        )
        self.assertEqual(sent.state, "delivered")
        # the customer reads it in Vietnamese: dong with dots, dd/mm/yyyy
        self.assertIn("398.000\xa0₫", sent.body)
        self.assertRegex(sent.body, r"ngày \d{2}/\d{2}/\d{4}")
        zalo = self.env.ref("multichannel_messaging.demo_channel_zalo")
        conversations = self.env["discuss.channel"].search(
            [("messaging_channel_id", "=", zalo.id)]
        )
        self.assertEqual(len(conversations), 5)
        # two through the OA's chatbot: one got their orders from the bot,
        # the other asked for a person
        self.assertEqual(
            sorted(conversations.mapped("messaging_state")),
            ["assigned", "assigned", "assigned", "bot", "done"],
        )
        chatbot = conversations.filtered(lambda c: c.messaging_state == "bot")
        bot_messages = self.env["messaging.message"].search(
            [("conversation_id", "=", chatbot.id)], order="id"
        )
        self.assertEqual(bot_messages.mapped("state"), ["sent", "sent"])
        self.assertTrue(bot_messages[0].zalo_interactive["buttons"])
        customer = self.env.ref("multichannel_messaging.demo_customer_04")
        order = self.env["sale.order"].search(
            [("partner_id", "=", customer.id), ("state", "=", "sale")]
        )
        self.assertEqual(chatbot.messaging_partner_id, customer)
        self.assertIn(order.name, bot_messages[1].body)
        self.assertFalse(
            self.env["messaging.message"].search_count(
                [("conversation_id", "in", conversations.ids), ("state", "=", "queued")]
            )
        )
        self.assertEqual(
            conversations.messaging_agent_id,
            self.env.ref("base.user_admin") | self.env.ref("base.user_demo"),
        )

    def test_fifty_vietnamese_customers_with_valid_mobiles(self):
        partners = self.env["res.partner"].search(
            [("id", "in", self._demo_customer_ids())]
        )
        self.assertGreaterEqual(len(partners), 50)
        numbers = {p._messaging_phone() for p in partners}
        self.assertEqual(len(numbers), len(partners))
        for number in numbers:
            self.assertRegex(number, r"^84[35789]\d{8}$")

    def _demo_customer_ids(self):
        return (
            self.env["ir.model.data"]
            .search(
                [
                    ("module", "=", "multichannel_messaging"),
                    ("model", "=", "res.partner"),
                    ("name", "=like", "demo_customer_%"),
                ]
            )
            .mapped("res_id")
        )

    def test_demo_campaign_waits_and_runs(self):
        campaign = self.env.ref("multichannel_messaging.demo_campaign_welcome")
        self.assertEqual(campaign.state, "waiting")
        self.assertGreater(campaign.recipient_count, 5)
        campaign.channel_id.write(self.NO_THROTTLE)
        # its sandbox refuses a fifth of the messages: none refused here
        campaign.channel_id.sandbox_fail_ratio = 0
        campaign.action_activate()
        self.env["messaging.message"]._process_queue()
        self.assertEqual(campaign.state, "done")
        self.assertEqual(
            campaign.count_sent + campaign.count_failed + campaign.count_skipped,
            campaign.count_total,
        )
        self.assertEqual(campaign.count_failed, 0)
        self.assertEqual(
            campaign.count_sent, campaign.count_total - campaign.count_skipped
        )

    def test_demo_orders_in_vnd_and_segments(self):
        order = self.env.ref("multichannel_messaging.demo_sale_order_1")
        self.assertEqual(order.currency_id, self.env.ref("base.VND"))
        self.assertEqual(order.state, "sale")
        for xmlid in ("demo_segment_vip", "demo_segment_loyal", "demo_segment_hanoi"):
            segment = self.env.ref(f"multichannel_messaging.{xmlid}")
            self.assertGreater(segment.partner_count, 0, xmlid)


@tagged("post_install", "-at_install")
class TestSmartButtons(MessagingCase):
    def test_partner_messages_button(self):
        self._queue(self.partner_a)
        self._queue(self.partner_a, template=self.template_tx)
        self.assertEqual(self.partner_a.messaging_message_count, 2)
        self.assertEqual(self.partner_b.messaging_message_count, 0)
        action = self.partner_a.action_view_messaging_messages()
        found = self.env["messaging.message"].search(action["domain"])
        self.assertEqual(len(found), 2)

    def test_sale_order_messages_button_and_render(self):
        order = self.env["sale.order"].create({"partner_id": self.partner_a.id})
        template = self.env["messaging.template"].create(
            {
                "name": "Order",
                "channel_type": "sandbox",
                "model": "sale.order",
                "category": "transactional",
                "body": "Đơn {{ object.name }} của {{ object.partner_id.name }}",
            }
        )
        message = self._queue(
            self.partner_a,
            template=template,
            res_model="sale.order",
            res_id=order.id,
        )
        self.assertEqual(message.body, f"Đơn {order.name} của Nguyễn Văn An")
        self.assertEqual(order.messaging_message_count, 1)
        action = order.action_view_messaging_messages()
        self.assertEqual(
            self.env["messaging.message"].search(action["domain"]), message
        )
        self.env["messaging.message"]._process_queue()
        self.assertIn(order.name, order.message_ids[0].body)

    def test_sale_order_partner_hook(self):
        order = self.env["sale.order"].create({"partner_id": self.partner_b.id})
        self.assertEqual(order._messaging_get_partner(), self.partner_b)
        self.assertEqual(self.partner_b._messaging_get_partner(), self.partner_b)
