from odoo.exceptions import AccessError, UserError, ValidationError
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


@tagged("post_install", "-at_install")
class TestSecretActions(MessagingCase):
    """Holes found by plain RPC: a Messaging User rotated a channel's webhook
    secret and could spend Zalo's single-use refresh token."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls._make_user("sec_user", f"base.group_user,{USER}")
        cls.manager = cls._make_user("sec_manager", f"base.group_user,{MANAGER}")
        cls.admin = cls._make_user("sec_admin", f"base.group_user,{ADMIN}")
        cls.zalo = cls.env["messaging.channel"].create(
            dict(
                cls.NO_THROTTLE,
                name="Zalo OA",
                channel_type="zalo",
                zalo_app_id="1234",
                zalo_app_secret="APP-SECRET",
                zalo_access_token="AT-1",
                zalo_refresh_token="RT-1",
                # no network: a closed local port refuses at once
                zalo_oauth_url="http://127.0.0.1:9",
                zalo_openapi_url="http://127.0.0.1:9",
                zalo_business_url="http://127.0.0.1:9",
            )
        )

    def _secrets(self):
        channel = self.zalo.sudo()
        channel.invalidate_recordset()
        return channel.webhook_token, channel.zalo_refresh_token

    def test_user_cannot_regenerate_webhook_token(self):
        before = self._secrets()
        for user in (self.user, self.manager):
            with self.assertRaisesRegex(AccessError, "Messaging / Administrator"):
                self.zalo.with_user(user).action_regenerate_webhook_token()
        self.assertEqual(self._secrets(), before)
        self.zalo.with_user(self.admin).action_regenerate_webhook_token()
        self.assertNotEqual(self._secrets()[0], before[0])

    def test_user_cannot_refresh_token_nor_sync_templates(self):
        before = self._secrets()
        for method in ("action_refresh_token", "action_sync_templates"):
            for user in (self.user, self.manager):
                with self.assertRaisesRegex(AccessError, method):
                    getattr(self.zalo.with_user(user), method)()
        with self.assertRaises(AccessError):
            self.zalo.with_user(self.user).action_test_connection()
        self.assertEqual(self._secrets(), before)

    def test_admin_passes_the_check(self):
        # the check lets the administrator through: the closed port refuses
        for method in ("action_refresh_token", "action_sync_templates"):
            with self.assertRaises(UserError) as caught:
                getattr(self.zalo.with_user(self.admin), method)()
            self.assertNotIsInstance(caught.exception, AccessError)

    def test_superuser_passes_the_check(self):
        """Crons run as OdooBot (superuser mode) and sudo() calls pass."""
        before = self._secrets()
        self.zalo.with_user(self.user).sudo().action_regenerate_webhook_token()
        self.assertNotEqual(self._secrets()[0], before[0])
        bot = self.zalo.with_user(self.env.ref("base.user_root"))
        self.assertTrue(bot.env.su)
        bot.action_regenerate_webhook_token()

    def test_user_cannot_resume_nor_process_events(self):
        self.zalo.paused_until = "2030-01-01 00:00:00"
        with self.assertRaises(AccessError):
            self.zalo.with_user(self.manager).action_resume()
        self.assertTrue(self.zalo.paused_until)
        event = self.env["messaging.event"].create(
            {"channel_id": self.zalo.id, "event_key": "k1", "state": "error"}
        )
        with self.assertRaises(AccessError):
            event.with_user(self.user).action_process()
        self.assertEqual(event.state, "error")


@tagged("post_install", "-at_install")
class TestSegmentDomainEval(MessagingCase):
    """A customer group's domain is evaluated by the campaign cron as the
    superuser: it gets values (uid, dates), never a record to climb from."""

    SECRET_DOMAIN = (
        "[('name', '=', user.env['ir.config_parameter'].sudo()"
        ".get_param('database.secret'))]"
    )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls._make_user("seg_manager", f"base.group_user,{MANAGER}")

    def test_domain_cannot_reach_the_environment(self):
        Segment = self.env["messaging.segment"].with_user(self.manager)
        with self.assertRaisesRegex(ValidationError, "not valid"):
            Segment.create({"name": "Leak", "domain": self.SECRET_DOMAIN})
        segment = Segment.create({"name": "Mine", "domain": "[]"})
        with self.assertRaisesRegex(ValidationError, "not valid"):
            segment.write({"domain": self.SECRET_DOMAIN})

    def test_campaign_extra_domain_cannot_reach_the_environment(self):
        campaign = self.env["messaging.campaign"].create(
            {"name": "C", "channel_id": self.sandbox.id}
        )
        with self.assertRaisesRegex(ValidationError, "not valid"):
            campaign.with_user(self.manager).write({"extra_domain": self.SECRET_DOMAIN})

    def test_domain_still_uses_uid_and_dates(self):
        segment = (
            self.env["messaging.segment"]
            .with_user(self.manager)
            .create(
                {
                    "name": "Mine",
                    "domain": "[('user_id', '=', uid), ('create_date', '<=', "
                    "(context_today() + relativedelta(days=1)).strftime('%Y-%m-%d'))]",
                }
            )
        )
        self.partner_a.user_id = self.manager
        self.assertEqual(segment._get_partners(), self.partner_a)
