from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MessagingCase

USER = "multichannel_messaging.group_messaging_user"
MANAGER = "multichannel_messaging.group_messaging_manager"
ADMIN = "multichannel_messaging.group_messaging_admin"


@tagged("post_install", "-at_install")
class TestSecurity(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox.sudo().write({"zalo_app_secret": "S3CRET", "esms_api_key": "KEY"})
        cls.user = cls._make_user("mm_user", f"base.group_user,{USER}")
        cls.other_user = cls._make_user("mm_user2", f"base.group_user,{USER}")
        cls.manager = cls._make_user("mm_manager", f"base.group_user,{MANAGER}")
        cls.admin = cls._make_user("mm_admin", f"base.group_user,{ADMIN}")
        cls.company_b = cls.env["res.company"].create({"name": "Công ty B"})
        cls.user_b = cls._make_user(
            "mm_manager_b", f"base.group_user,{MANAGER}", company=cls.company_b
        )

    def test_credentials_hidden_from_user_and_manager(self):
        for user in (self.user, self.manager):
            channel = self.sandbox.with_user(user)
            self.assertEqual(channel.name, "Test sandbox")
            with self.assertRaises(AccessError):
                channel.read(["zalo_app_secret"])
            with self.assertRaises(AccessError):
                channel.read(["esms_api_key"])
            with self.assertRaises(AccessError):
                channel.read(["webhook_url"])
            self.assertNotIn("zalo_access_token", channel.fields_get())

    def test_credentials_readable_and_writable_by_admin(self):
        channel = self.sandbox.with_user(self.admin)
        self.assertEqual(channel.zalo_app_secret, "S3CRET")
        channel.write({"zalo_refresh_token": "NEW"})
        self.assertEqual(channel.zalo_refresh_token, "NEW")
        self.assertIn("/messaging/webhook/sandbox/", channel.webhook_url)

    def test_manager_cannot_write_credentials(self):
        with self.assertRaises(AccessError):
            self.sandbox.with_user(self.manager).write({"zalo_app_secret": "x"})

    def test_only_admin_creates_channels(self):
        for user in (self.user, self.manager):
            with self.assertRaises(AccessError):
                self.env["messaging.channel"].with_user(user).create({"name": "x"})
        channel = (
            self.env["messaging.channel"].with_user(self.admin).create({"name": "x"})
        )
        self.assertTrue(channel.exists())

    def test_user_cannot_manage_campaigns_templates_segments(self):
        with self.assertRaises(AccessError):
            self.env["messaging.campaign"].with_user(self.user).create(
                {"name": "x", "channel_id": self.sandbox.id}
            )
        with self.assertRaises(AccessError):
            self.template.with_user(self.user).write({"body": "x"})
        with self.assertRaises(AccessError):
            self.env["messaging.segment"].with_user(self.user).create({"name": "x"})

    def test_manager_manages_campaigns(self):
        campaign = (
            self.env["messaging.campaign"]
            .with_user(self.manager)
            .create({"name": "x", "channel_id": self.sandbox.id})
        )
        self.assertEqual(campaign.company_id, self.company)

    def test_user_sends_and_sees_own_messages_only(self):
        self.partner_b.user_id = self.other_user
        self.partner_c.user_id = self.other_user
        mine = (
            self.env["messaging.message"]
            .with_user(self.user)
            .create(
                {
                    "partner_id": self.partner_a.id,
                    "channel_id": self.sandbox.id,
                    "template_id": self.template.id,
                }
            )
        )
        theirs = self._queue(self.partner_b, user_id=self.other_user.id)
        to_my_customer = self._queue(self.partner_c, user_id=self.other_user.id)
        visible = self.env["messaging.message"].with_user(self.user).search([])
        self.assertIn(mine, visible)
        self.assertNotIn(theirs, visible)
        self.assertNotIn(to_my_customer, visible)
        self.partner_c.user_id = self.user
        visible = self.env["messaging.message"].with_user(self.user).search([])
        self.assertIn(to_my_customer, visible)
        with self.assertRaises(AccessError):
            theirs.with_user(self.user).read(["body"])
        with self.assertRaises(AccessError):
            mine.with_user(self.user).unlink()

    def test_manager_sees_all_messages(self):
        self.partner_b.user_id = self.other_user
        theirs = self._queue(self.partner_b, user_id=self.other_user.id)
        self.assertIn(
            theirs, self.env["messaging.message"].with_user(self.manager).search([])
        )

    def test_events_hidden_from_user(self):
        with self.assertRaises(AccessError):
            self.env["messaging.event"].with_user(self.user).search([])

    def test_multi_company_isolation(self):
        channel_b = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="Sandbox B", company_id=self.company_b.id)
        )
        campaign_b = self.env["messaging.campaign"].create(
            {"name": "B", "company_id": self.company_b.id}
        )
        message_b = self._queue(self.partner_a, channel=channel_b)
        self.assertEqual(message_b.company_id, self.company_b)
        Channel = self.env["messaging.channel"]
        self.assertNotIn(channel_b, Channel.with_user(self.manager).search([]))
        self.assertIn(channel_b, Channel.with_user(self.user_b).search([]))
        self.assertNotIn(
            campaign_b,
            self.env["messaging.campaign"].with_user(self.manager).search([]),
        )
        self.assertNotIn(
            message_b, self.env["messaging.message"].with_user(self.manager).search([])
        )
        self.assertIn(
            message_b, self.env["messaging.message"].with_user(self.user_b).search([])
        )
        self.assertNotIn(self.sandbox, Channel.with_user(self.user_b).search([]))
