"""One router, one price, one channel/template check (engine/routing.py)."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.multichannel_messaging.engine import rendering, routing

from .common import PeerChannelsMixin
from .peers import EsmsPeer, ZaloPeer
from .test_wizard_common import SalesMessagingCase

# priced where the two old price functions disagreed (see TestOnePrice)
ZALO_PRICED = {
    "name": "Zalo priced",
    "channel_type": "zalo",
    "cost_per_message": 300,
    "cost_zalo_uid": 0,
    "cost_zalo_consultation": 150,
}
ESMS_PRICED = {"name": "eSMS priced", "channel_type": "esms", "cost_per_segment": 750}


@tagged("post_install", "-at_install")
class TestOnePrice(PeerChannelsMixin, SalesMessagingCase):
    """The estimate shown before activation, the estimate kept when the
    recipients are queued and the cost stored on each sent message come
    from one price. The channels below are priced where the two old price
    functions disagreed: a ZBS template by user id without any user-id price
    was estimated at the channel's price per message but stored as free; a
    consultation message was estimated by its window (free, or the paid
    price) but stored at the price per message."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zalo_peer = ZaloPeer()
        cls.esms_peer = EsmsPeer()
        cls._start_peers(cls.zalo_peer, cls.esms_peer)
        cls.zalo = cls._peer_channel(cls.zalo_peer.zalo_config(), **ZALO_PRICED)
        cls.esms = cls._peer_channel(cls.esms_peer.esms_config(), **ESMS_PRICED)
        peer_template = next(iter(cls.zalo_peer.templates.values()))
        Template = cls.env["messaging.template"]
        cls.zbs_uid = Template.create(
            {
                "name": "ZBS by user id, no price",
                "channel_type": "zalo",
                "zalo_template_id": str(peer_template["templateId"]),
                "zalo_route": "uid",
                "param_ids": [
                    (
                        0,
                        0,
                        {
                            "name": p["name"],
                            "expression": "{{ object.name }}",
                            "max_length": p["maxLength"],
                            "required": p["require"],
                        },
                    )
                    for p in peer_template["listParams"]
                ],
            }
        )
        cls.cs_template = Template.create(
            {
                "name": "Consultation",
                "channel_type": "zalo",
                "body": "Chào {{ object.name }}",
            }
        )
        cls.sms_template = Template.create(
            {"name": "SMS", "channel_type": "esms", "body": "Chao {{ object.name }}"}
        )
        now = fields.Datetime.now()
        cls.partner_d = cls.env["res.partner"].create(
            {"name": "Đặng Dũng", "mobile": "0913 456 789", "country_id": cls.vn.id}
        )
        for partner, external_id, last in (
            (cls.partner_a, "1234567890123456001", now - timedelta(hours=1)),
            (cls.partner_b, "1234567890123456002", now - timedelta(days=3)),
        ):
            cls.env["messaging.identity"].create(
                {
                    "channel_id": cls.zalo.id,
                    "partner_id": partner.id,
                    "external_id": external_id,
                    "last_interaction_at": last,
                }
            )

    def setUp(self):
        super().setUp()
        for peer in (self.zalo_peer, self.esms_peer):
            peer.reset()
        self.zalo.write(
            {
                "zalo_access_token": self.zalo_peer.access_token,
                "zalo_refresh_token": self.zalo_peer.refresh_token,
            }
        )

    def _campaign(self, partners, template, **vals):
        segment = self._segment(partners)
        return self.env["messaging.campaign"].create(
            dict(
                {
                    "name": "One price",
                    "segment_ids": [(6, 0, segment.ids)],
                    "channel_id": self.zalo.id,
                    "template_id": template.id,
                },
                **vals,
            )
        )

    def _send(self, campaign):
        """Activate, queue and send ``campaign``; returns the estimate kept
        when its recipients were queued and its sent messages."""
        campaign.action_confirm()
        campaign.action_activate()
        campaign._cron_enqueue()
        kept = campaign.estimate_data["cost"]
        self.Message._process_queue()
        sent = self.Message.search(
            [("campaign_id", "=", campaign.id), ("state", "=", "sent")]
        )
        return kept, sent

    def test_estimate_is_what_the_sent_messages_cost(self):
        campaign = self._campaign(
            self.partner_a | self.partner_b | self.partner_d,
            self.zbs_uid,
            fallback_ids=[
                (
                    0,
                    0,
                    {"channel_id": self.esms.id, "template_id": self.sms_template.id},
                )
            ],
        )
        # a and b by user id at the price per message, d (no Zalo user) by SMS
        self.assertEqual(campaign.estimated_cost, 300 + 300 + 750)
        estimate = campaign.estimated_cost
        kept, sent = self._send(campaign)
        self.assertEqual(len(sent), 3)
        self.assertEqual(sorted(sent.mapped("route")), ["sms", "uid", "uid"])
        self.assertEqual(kept, estimate)
        self.assertEqual(sum(sent.mapped("cost")), estimate)
        for message in sent:
            self.assertEqual(message.cost, routing.message_cost(message))

    def test_consultation_estimate_is_what_it_costs(self):
        campaign = self._campaign(self.partner_a | self.partner_b, self.cs_template)
        # a in the free 48 h window, b in the paid one
        self.assertEqual(campaign.estimated_cost, 0 + 150)
        estimate = campaign.estimated_cost
        kept, sent = self._send(campaign)
        self.assertEqual(sent.mapped("route"), ["consultation"] * 2)
        self.assertEqual(kept, estimate)
        self.assertEqual(sum(sent.mapped("cost")), estimate)

    def test_automatic_routing_ranks_by_the_same_price(self):
        """Automatic routing takes the cheapest route by that price: the
        estimate's channel for each contact is the one it is queued on."""
        campaign = self._campaign(
            self.partner_a | self.partner_b | self.partner_d,
            self.cs_template,
            routing="auto",
            fallback_ids=[
                (
                    0,
                    0,
                    {"channel_id": self.esms.id, "template_id": self.sms_template.id},
                )
            ],
        )
        simulated = {
            r["partner"]: (r["channel"], r["route"], r["cost"])
            for r in campaign._simulate_recipients(campaign._get_recipients())
        }
        self.assertEqual(
            simulated,
            {
                self.partner_a: (self.zalo, "consultation", 0.0),
                self.partner_b: (self.zalo, "consultation", 150),
                self.partner_d: (self.esms, "sms", 750),
            },
        )
        estimate = campaign.estimated_cost
        kept, sent = self._send(campaign)
        self.assertEqual(
            {m.partner_id: (m.channel_id, m.route, m.cost) for m in sent}, simulated
        )
        self.assertEqual(kept, estimate)

    def test_auto_zbs_route_compares_the_router_prices(self):
        """A ZBS template routed automatically compares the prices the
        estimate uses: an unset price by phone is the channel's."""
        template = self.zbs_uid.copy({"zalo_route": "auto", "price_uid": 200})
        self.assertEqual(routing.route_cost(self.zalo, template, "phone"), 300)
        route, _address = routing.get_route_and_address(
            self.zalo, template, self.partner_a
        )
        self.assertEqual(route, "uid")
        template.price_phone = 100
        route, address = routing.get_route_and_address(
            self.zalo, template, self.partner_a
        )
        self.assertEqual((route, address), ("phone", "84912345678"))


@tagged("post_install", "-at_install")
class TestOneTemplateCheck(SalesMessagingCase):
    """The five places that pair a template with a channel refuse a template
    of another type with the same message."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sms = cls.env["messaging.channel"].create(
            dict(cls.NO_THROTTLE, name="SMS check", channel_type="esms")
        )
        cls.sms_template = cls.env["messaging.template"].create(
            {"name": "SMS check", "channel_type": "esms", "body": "Chao"}
        )
        # a sandbox template on an SMS channel
        cls.expected = routing.template_channel_error(cls.template, cls.sms)

    def assertRefused(self, error, run):
        with self.assertRaises(error) as caught:
            run()
        self.assertEqual(str(caught.exception), self.expected)

    def test_one_message(self):
        self.assertTrue(self.expected)
        self.assertIn(self.template.name, self.expected)
        self.assertIn(self.sms.name, self.expected)
        self.assertIsNone(routing.template_channel_error(self.sms_template, self.sms))

    def test_message(self):
        self.assertRefused(
            ValidationError,
            lambda: self._queue(
                self.partner_a, channel=self.sms, template=self.template
            ),
        )

    def test_campaign_and_its_fallback(self):
        segment = self._segment(self.partner_a)
        vals = {
            "name": "Check",
            "segment_ids": [(6, 0, segment.ids)],
            "channel_id": self.sms.id,
        }
        Campaign = self.env["messaging.campaign"]
        self.assertRefused(
            ValidationError,
            lambda: Campaign.create(dict(vals, template_id=self.template.id)),
        )
        # (a fallback on another channel than the campaign's)
        campaign = Campaign.create(
            dict(vals, channel_id=self.sandbox.id, template_id=self.template.id)
        )
        self.assertRefused(
            ValidationError,
            lambda: campaign.write(
                {
                    "fallback_ids": [
                        (
                            0,
                            0,
                            {
                                "channel_id": self.sms.id,
                                "template_id": self.template.id,
                            },
                        )
                    ]
                }
            ),
        )

    def test_server_action(self):
        self.assertRefused(
            ValidationError,
            lambda: self.env["ir.actions.server"].create(
                {
                    "name": "Send check",
                    "model_id": self.env["ir.model"]._get_id("res.partner"),
                    "state": "messaging",
                    "messaging_template_id": self.template.id,
                    "messaging_channel_id": self.sms.id,
                }
            ),
        )

    def test_send_wizards(self):
        composer = (
            self.env["messaging.composer"]
            .with_context(active_model="res.partner", active_id=self.partner_a.id)
            .create({"channel_id": self.sandbox.id, "template_id": self.template.id})
        )
        composer.write({"channel_id": self.sms.id, "template_id": self.template.id})
        self.assertEqual(composer.template_id, self.template)
        self.assertRefused(UserError, composer.action_send)
        self.assertFalse(routing.fits_channel(self.template, self.sms))
        self.assertEqual(
            composer._matching_template(self.template, self.sms, "res.partner"),
            self.sms_template,
        )


@tagged("post_install", "-at_install")
class TestOneRenderer(SalesMessagingCase):
    """The preview shows what is sent: both come from ``rendering.render``."""

    def test_preview_is_what_is_queued(self):
        content = rendering.render(self.template, self.partner_a.ids)
        self.assertEqual(
            content, {self.partner_a.id: {"body": "Xin chào Nguyễn Văn An!"}}
        )
        [preview] = self.env["messaging.send.mixin"]._render_previews(
            self.sandbox, self.template, self.partner_a
        )
        self.assertEqual(preview["body"], content[self.partner_a.id]["body"])
        message = self._queue(self.partner_a)
        self.assertEqual(message.body, preview["body"])
        # a campaign's message, rendered when it is claimed
        ids = self.Message._bulk_enqueue(
            self.sandbox,
            self.template,
            [(self.partner_a, "res.partner", self.partner_a.id)],
        )
        lazy = self.Message.browse(ids)
        self.assertFalse(lazy.body)
        rendering.prepare_lazy_content(lazy)
        self.assertEqual(lazy.body, preview["body"])

    def test_template_of_another_model_refused(self):
        order_template = self.template_order
        with self.assertRaisesRegex(UserError, "renders on sale.order"):
            rendering.check_template_model(order_template, "res.partner")
