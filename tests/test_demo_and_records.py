from odoo.tests import tagged

from .common import MessagingCase


@tagged("post_install", "-at_install")
class TestDemoData(MessagingCase):
    def test_demo_channels(self):
        sandbox = self.env.ref("multichannel_messaging.demo_channel_sandbox")
        self.assertTrue(sandbox.active)
        Channel = self.env["messaging.channel"].with_context(active_test=False)
        types = set(Channel.search([]).mapped("channel_type"))
        self.assertTrue({"zalo", "esms", "speedsms", "email", "sandbox"} <= types)
        zalo = self.env.ref("multichannel_messaging.demo_channel_zalo")
        self.assertFalse(zalo.active)
        self.assertFalse(zalo.zalo_app_secret)
        self.assertFalse(zalo.zalo_access_token)

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
        campaign.action_activate()
        self.env["messaging.message"]._process_queue()
        self.assertEqual(campaign.state, "done")
        self.assertEqual(
            campaign.count_sent + campaign.count_failed + campaign.count_skipped,
            campaign.count_total,
        )
        # the demo sandbox refuses 10% of messages, drawn from random tracking
        # ids: none sent means all n refused, 0.1 ** n (n is about 20 demo
        # customers: 1e-20; at most 1e-6 for the 6 the test asks at least)
        self.assertGreater(campaign.count_sent, 0)

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
