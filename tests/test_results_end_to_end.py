"""Issue #18's whole path in one campaign, as a shop lives it: a sandbox
campaign with a link and a coupon program; each message carries its own
tracked link and its own coupon code; a click through Odoo's real HTTP route
counts once on that message; the recipient's confirmed order, using the
coupon, shows in the campaign's revenue and redemptions at once."""

import re

from odoo import Command
from odoo.tests import HttpCase, tagged

from .test_coupons import coupon_program
from .test_wizard_common import SalesMessagingCase

SHOP_URL = "https://shop.example.vn/uu-dai"
TRACKED = re.compile(r"https?://\S+?/r/(\w+)/m/(\d+)")


@tagged("post_install", "-at_install")
class TestCampaignResultsEndToEnd(HttpCase, SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.program = coupon_program(cls.env, "Giảm 10%")
        cls.template_offer = cls.env["messaging.template"].create(
            {
                "name": "Ưu đãi",
                "channel_type": "sandbox",
                "category": "marketing",
                "body": "Chào {{ object.name }}, mã [coupon_code]: %s" % SHOP_URL,
            }
        )
        cls.segment = cls.env["messaging.segment"].create(
            {
                "name": "An + Bình",
                "domain": str([("id", "in", (cls.partner_a | cls.partner_b).ids)]),
            }
        )

    def test_link_click_coupon_order_revenue(self):
        campaign = self.env["messaging.campaign"].create(
            {
                "name": "Ưu đãi cuối năm",
                "segment_ids": [Command.set(self.segment.ids)],
                "channel_id": self.sandbox.id,
                "template_id": self.template_offer.id,
                "loyalty_program_id": self.program.id,
            }
        )
        campaign.action_confirm()
        campaign.action_activate()
        self.Message._process_queue()
        messages = campaign.message_ids_sent
        self.assertEqual(len(messages), 2)
        self.assertEqual(set(messages.mapped("state")), {"delivered"})
        # each message: its own coupon and its own short link (one tracker)
        self.assertEqual(len(set(messages.coupon_id.mapped("code"))), 2)
        links = {}
        for message in messages:
            self.assertEqual(message.coupon_id.partner_id, message.partner_id)
            self.assertIn(message.coupon_id.code, message.body)
            found = TRACKED.findall(message.body)
            self.assertEqual(len(found), 1, message.body)
            code, message_id = found[0]
            self.assertEqual(int(message_id), message.id)
            links[message] = code
        self.assertEqual(len(set(links.values())), 1, "one tracker for the URL")
        # a click through Odoo's HTTP server counts once, on that message
        message_a = messages.filtered(lambda m: m.partner_id == self.partner_a)
        response = self.url_open(
            "/r/%s/m/%s" % (links[message_a], message_a.id), allow_redirects=False
        )
        self.assertEqual(response.status_code, 301)
        self.assertTrue(response.headers["Location"].startswith(SHOP_URL))
        self.env.invalidate_all()
        self.assertEqual(message_a.click_count, 1)
        self.assertEqual((messages - message_a).click_count, 0)
        # the recipient orders with their coupon: revenue and redemption
        order = self._order(self.partner_a, confirm=False)
        status = order._try_apply_code(message_a.coupon_id.code)
        self.assertNotIn("error", status, status)
        for card, rewards in status.items():
            order._apply_program_reward(rewards[:1], card)
        order.action_confirm()
        campaign.invalidate_recordset()
        self.assertEqual(campaign.order_count, 1)
        self.assertAlmostEqual(
            campaign.revenue_amount,
            order.amount_untaxed / (order.currency_rate or 1.0),
            places=2,
        )
        self.assertGreater(campaign.revenue_amount, 0)
        self.assertEqual(campaign.coupon_redeemed_count, 1)
        sale = self.env["messaging.campaign.sale"].search(
            [("campaign_id", "=", campaign.id)]
        )
        self.assertEqual(
            (sale.order_id, sale.message_id, sale.attribution),
            (order, message_a, "click"),
        )
