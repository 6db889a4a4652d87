from psycopg2 import IntegrityError

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import MessagingCase


@tagged("post_install", "-at_install")
class TestChannel(MessagingCase):
    def test_channel_type_keys(self):
        keys = {
            key
            for key, _label in self.env["messaging.channel"]
            ._fields["channel_type"]
            .selection
        }
        self.assertTrue({"zalo", "esms", "speedsms", "email", "sandbox"} <= keys)

    def test_provider_hosts_default_to_real_https_urls(self):
        channel = self.env["messaging.channel"].create(
            {"name": "Zalo", "channel_type": "zalo"}
        )
        self.assertEqual(channel.zalo_business_url, "https://business.openapi.zalo.me")
        self.assertEqual(channel.zalo_openapi_url, "https://openapi.zalo.me")
        self.assertEqual(channel.zalo_oauth_url, "https://oauth.zaloapp.com")
        self.assertEqual(channel.esms_url, "https://rest.esms.vn")
        self.assertEqual(channel.speedsms_url, "https://api.speedsms.vn")
        for fname, field in channel._fields.items():
            if fname.endswith("_url") and field.type == "char" and field.default:
                self.assertTrue(channel[fname].startswith("https://"), fname)

    def test_throttle_defaults(self):
        channel = self.env["messaging.channel"].create({"name": "x"})
        self.assertEqual(channel.channel_type, "sandbox")
        self.assertEqual(channel.company_id, self.env.company)
        self.assertEqual(channel.resend_window_minutes, 1440)
        self.assertEqual(channel.quiet_hours_start, 21.0)
        self.assertEqual(channel.quiet_hours_end, 8.0)
        self.assertGreater(channel.rate_per_second, 0)

    def test_webhook_url_has_unguessable_token(self):
        base = self.env["ir.config_parameter"].get_param("web.base.url")
        one, two = self.env["messaging.channel"].create(
            [
                {"name": "one", "channel_type": "zalo"},
                {"name": "two", "channel_type": "zalo"},
            ]
        )
        self.assertTrue(one.webhook_url.startswith(base + "/messaging/webhook/zalo/"))
        self.assertNotEqual(one.webhook_url, two.webhook_url)
        token = one.webhook_url.rsplit("/", 1)[1]
        self.assertGreaterEqual(len(token), 32)

    def test_copy_does_not_copy_tokens(self):
        channel = self.env["messaging.channel"].create(
            {
                "name": "Zalo",
                "channel_type": "zalo",
                "zalo_access_token": "AT",
                "zalo_refresh_token": "RT",
            }
        )
        copy = channel.copy()
        self.assertFalse(copy.zalo_access_token)
        self.assertFalse(copy.zalo_refresh_token)
        self.assertNotEqual(copy.webhook_token, channel.webhook_token)

    @mute_logger("odoo.sql_db")
    def test_negative_rate_refused(self):
        with self.assertRaises(IntegrityError):
            self.env["messaging.channel"].create({"name": "x", "rate_per_second": -1})

    @mute_logger("odoo.sql_db")
    def test_sandbox_ratio_above_one_refused(self):
        with self.assertRaises(IntegrityError):
            self.env["messaging.channel"].create(
                {"name": "x", "sandbox_fail_ratio": 1.5}
            )

    @mute_logger("odoo.sql_db")
    def test_quiet_hours_out_of_range_refused(self):
        with self.assertRaises(IntegrityError):
            self.env["messaging.channel"].create({"name": "x", "quiet_hours_end": 25})

    def test_sandbox_test_connection_notifies(self):
        action = self.sandbox.action_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("Sandbox", action["params"]["message"])

    def test_refresh_token_on_sms_channel_is_a_clear_error(self):
        channel = self.env["messaging.channel"].create(
            {"name": "SMS", "channel_type": "esms"}
        )
        with self.assertRaisesRegex(UserError, "Only Zalo"):
            channel.action_refresh_token()
        with self.assertRaisesRegex(UserError, "Only Zalo"):
            channel.action_sync_templates()

    def test_message_count_and_action(self):
        self._queue(self.partner_a)
        self.assertEqual(self.sandbox.message_count, 1)
        action = self.sandbox.action_view_messages()
        self.assertEqual(action["res_model"], "messaging.message")
        self.assertIn(("channel_id", "=", self.sandbox.id), action["domain"])
