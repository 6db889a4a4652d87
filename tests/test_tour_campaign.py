"""A campaign created, activated and reported on from the UI, in a real
headless Chromium (``HttpCase.start_tour``; scripts/test.sh installs Debian's
chromium when no Chrome is found).

The sending queue runs in a cron, not in the browser: the first tour builds
and activates the campaign, the test runs the queue, the second tour opens
the campaign again and reads the report's numbers.
"""

from odoo.tests import HttpCase, tagged

from .common import MessagingCase, admin_company_env

ACTION = "/odoo/action-multichannel_messaging.messaging_campaign_action"
# names the tours look up (static/tests/tours/messaging_campaign_tour.js)
CAMPAIGN = "Tour campaign Tết"
SEGMENT = "Tour customers"
CHANNEL = "Tour sandbox main"
FALLBACK_CHANNEL = "Tour sandbox fallback"
TEMPLATE = "Tour greeting"


@tagged("post_install", "-at_install")
class TestTourCampaign(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = admin_company_env(cls.env)
        sandbox = dict(
            MessagingCase.NO_THROTTLE,
            channel_type="sandbox",
            sandbox_fail_ratio=0.0,
            sandbox_read_ratio=0.0,
        )
        Channel = env["messaging.channel"]
        cls.channel = Channel.create(dict(sandbox, name=CHANNEL))
        cls.fallback_channel = Channel.create(dict(sandbox, name=FALLBACK_CHANNEL))
        cls.template = env["messaging.template"].create(
            {
                "name": TEMPLATE,
                "channel_type": "sandbox",
                "category": "marketing",
                "body": "Xin chào {{ object.name }}",
            }
        )
        vn = env.ref("base.vn")
        customers = [
            ("Tour Khách An", "0912 111 001"),
            ("Tour Khách Bình", "0987 111 002"),
            ("Tour Khách Cường", "0903 111 003"),
        ]
        cls.partners = env["res.partner"].create(
            [
                {"name": name, "mobile": mobile, "country_id": vn.id}
                for name, mobile in customers
            ]
        )
        cls.segment = env["messaging.segment"].create(
            {"name": SEGMENT, "domain": repr([("id", "in", cls.partners.ids)])}
        )

    def test_campaign_from_the_ui(self):
        self.start_tour(ACTION, "messaging_campaign_tour", login="admin", timeout=180)

        Campaign = self.env["messaging.campaign"]
        campaign = Campaign.search([("name", "=", CAMPAIGN)])
        self.assertEqual(len(campaign), 1)
        self.assertEqual(campaign.state, "running")
        self.assertEqual(campaign.segment_ids, self.segment)
        self.assertEqual(campaign.channel_id, self.channel)
        self.assertEqual(campaign.template_id, self.template)
        self.assertEqual(campaign.routing, "fixed")
        self.assertEqual(len(campaign.fallback_ids), 1)
        self.assertEqual(campaign.fallback_ids.channel_id, self.fallback_channel)
        self.assertEqual(campaign.fallback_ids.template_id, self.template)
        messages = campaign.message_ids_sent
        self.assertEqual(len(messages), 3)
        self.assertEqual(set(messages.mapped("state")), {"queued"})

        # what the queue cron does
        self.env["messaging.message"]._process_queue()
        self.env.invalidate_all()

        self.assertEqual(campaign.state, "done")
        messages = campaign.message_ids_sent
        self.assertEqual(len(messages), 3)
        self.assertEqual(messages.partner_id, self.partners)
        self.assertEqual(set(messages.mapped("state")), {"delivered"})
        self.assertEqual(messages.channel_id, self.channel)
        self.assertEqual(
            sorted(messages.mapped("body")),
            sorted(f"Xin chào {name}" for name in self.partners.mapped("name")),
        )
        self.assertEqual(
            (campaign.count_total, campaign.count_sent, campaign.count_delivered),
            (3, 3, 3),
        )
        self.assertEqual(
            (
                campaign.count_queued,
                campaign.count_read,
                campaign.count_failed,
                campaign.count_skipped,
                campaign.count_fallback,
            ),
            (0, 0, 0, 0, 0),
        )

        self.start_tour(
            f"{ACTION}/{campaign.id}",
            "messaging_campaign_report_tour",
            login="admin",
            timeout=180,
        )
