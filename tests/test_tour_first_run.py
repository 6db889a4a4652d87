"""The first run of the demo shop in a real headless Chromium, as its admin
in Vietnamese: the finished campaign's report, a Zalo conversation in
Discuss, a contact's messages, and a marketing message sent from the
contact at 22:00 in Vietnam, which the queue holds until 08:00 (the server's
clock is frozen; the browser shows times in its own zone)."""

from datetime import datetime

from freezegun import freeze_time

from odoo.tests import HttpCase, tagged

CAMPAIGN_ACTION = "/odoo/action-multichannel_messaging.messaging_campaign_action"
MESSAGE_ACTION = "/odoo/action-multichannel_messaging.messaging_message_action"
DEMO = "multichannel_messaging."


@tagged("post_install", "-at_install")
class TestTourFirstRun(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")
        cls.admin.lang = "vi_VN"
        # as scripts/run.sh leaves the demo database: the admin in the shop
        cls.admin.company_id = cls.env.ref(DEMO + "demo_company_vn")
        cls.campaign = cls.env.ref(DEMO + "demo_campaign_tet_notice")
        # a Hà Nội customer: received the campaign, has orders
        cls.customer = cls.env.ref(DEMO + "demo_customer_02")
        cls.welcome = cls.env.ref(DEMO + "demo_template_sandbox_welcome")

    # 22:00 in Vietnam: inside the demo sandbox's marketing quiet hours
    @freeze_time("2026-12-04 15:00:00")
    def test_first_run_as_the_shops_admin(self):
        company = self.admin.company_id
        self.assertEqual(company.currency_id, self.env.ref("base.VND"))
        self.assertEqual(company.partner_id.tz, "Asia/Ho_Chi_Minh")
        self.assertEqual(self.campaign.company_id, company)

        self.start_tour(
            f"{CAMPAIGN_ACTION}/{self.campaign.id}",
            "messaging_first_run_report_tour",
            login="admin",
            timeout=180,
        )
        self.start_tour(
            "/odoo/discuss", "messaging_first_run_discuss_tour", login="admin"
        )
        self.start_tour(
            f"/odoo/res.partner/{self.customer.id}",
            "messaging_first_run_contact_tour",
            login="admin",
            timeout=180,
        )
        Message = self.env["messaging.message"]
        message = Message.search(
            [
                ("partner_id", "=", self.customer.id),
                ("template_id", "=", self.welcome.id),
            ]
        )
        self.assertEqual(len(message), 1)
        self.assertEqual(message.category, "marketing")
        self.assertEqual(message.state, "queued")

        # what the queue cron does at 22:00 in Vietnam
        Message._process_queue()
        self.env.invalidate_all()
        self.assertEqual(message.state, "queued")
        # 08:00 in Vietnam the next morning
        self.assertEqual(message.scheduled_at, datetime(2026, 12, 5, 1, 0))
        self.assertEqual(message.attempt_count, 0)
        self.assertEqual(message.wait_code, "quiet_hours")
        self.assertIn(
            "08:00", message.with_user(self.env.ref("base.user_admin")).wait_reason
        )
        self.start_tour(
            f"{MESSAGE_ACTION}/{message.id}",
            "messaging_first_run_wait_tour",
            login="admin",
        )
