"""Channel set-up that guides: the checklist ticks, Test Connection's
precise errors, the webhook URL check, the last event, the throttles."""

from datetime import datetime

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from ..models.messaging_channel_setup import url_problem
from .common import MessagingCase, PeerChannelsMixin
from .peers import ZaloPeer, unused_local_url


@tagged("post_install", "-at_install")
class TestChannelSetup(PeerChannelsMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_provider_peers()
        cls.zalo = cls._peer_channel(
            cls.zalo_peer.zalo_config(), name="Zalo OA", channel_type="zalo"
        )
        cls.esms = cls._peer_channel(
            cls.esms_peer.esms_config(), name="eSMS", channel_type="esms"
        )
        cls.speedsms = cls._peer_channel(
            cls.speedsms_peer.speedsms_config(speedsms_sms_type="2"),
            name="SpeedSMS",
            channel_type="speedsms",
        )
        cls.env["ir.config_parameter"].set_param(
            "web.base.url", "https://shop.example.vn"
        )

    def setUp(self):
        super().setUp()
        self._reset_peers(self.zalo_peer, self.esms_peer, self.speedsms_peer)

    def _steps(self, channel):
        return {step["key"]: step["done"] for step in channel._get_setup_steps()}

    # -- Test Connection -------------------------------------------------------

    def test_missing_credentials_are_named(self):
        self.zalo.zalo_access_token = False
        with self.assertRaisesRegex(UserError, "No access token for Zalo OA"):
            self.zalo.action_test_connection()
        self.esms.esms_secret_key = False
        with self.assertRaisesRegex(UserError, "No eSMS API key or secret key"):
            self.esms.action_test_connection()
        self.speedsms.speedsms_access_token = False
        with self.assertRaisesRegex(UserError, "No SpeedSMS access token"):
            self.speedsms.action_test_connection()
        for peer in (self.zalo_peer, self.esms_peer, self.speedsms_peer):
            self.assertEqual(peer.requests, [], "nothing asked without a key")

    def test_refused_credentials(self):
        self.zalo.zalo_access_token = "wrong"
        with self.assertRaisesRegex(
            UserError, r"Zalo OA refused the access token of Zalo OA \(.*-216"
        ):
            self.zalo.action_test_connection()
        self.esms.esms_secret_key = "wrong"
        with self.assertRaisesRegex(
            UserError, r"refused the credentials of eSMS \(eSMS error 101"
        ):
            self.esms.action_test_connection()
        self.speedsms.speedsms_access_token = "wrong"
        with self.assertRaisesRegex(
            UserError, r"refused the credentials of SpeedSMS \(.*401"
        ):
            self.speedsms.action_test_connection()

    def test_unreachable_provider(self):
        self.zalo.zalo_openapi_url = unused_local_url()
        with self.assertRaisesRegex(
            UserError, r"Cannot reach the provider of Zalo OA \(.*Connection error"
        ):
            self.zalo.action_test_connection()
        self.esms.esms_url = unused_local_url()
        with self.assertRaisesRegex(UserError, "Cannot reach the provider of eSMS"):
            self.esms.action_test_connection()

    def test_connection_in_vietnamese(self):
        self.env["res.lang"]._activate_lang("vi_VN")
        self.zalo.zalo_access_token = False
        with self.assertRaisesRegex(UserError, "Chưa có access token"):
            self.zalo.with_context(lang="vi_VN").action_test_connection()

    # -- checklist -------------------------------------------------------------

    def test_zalo_checklist_ticks_in_order(self):
        channel = self.env["messaging.channel"].create(
            {"name": "New OA", "channel_type": "zalo"}
        )
        steps = channel._get_setup_steps()
        self.assertEqual(
            [step["key"] for step in steps],
            [
                "app_id",
                "app_secret",
                "oa_secret",
                "tokens",
                "webhook_public",
                "webhook_saved",
                "first_event",
                "test",
            ],
        )
        done = self._steps(channel)
        self.assertEqual(
            [key for key, value in done.items() if value], ["webhook_public"]
        )
        self.assertFalse(channel.setup_done)
        channel.write(
            {
                "zalo_app_id": ZaloPeer.app_id,
                "zalo_app_secret": ZaloPeer.app_secret,
                "zalo_oa_secret_key": "oa-secret",
            }
        )
        done = self._steps(channel)
        self.assertTrue(done["app_id"] and done["app_secret"] and done["oa_secret"])
        self.assertFalse(done["tokens"])
        self.assertIn("fa-square-o", channel.setup_checklist)
        self.assertIn("App secret key", channel.setup_checklist)

        done = self._steps(self.zalo)
        self.assertTrue(done["tokens"])
        self.assertFalse(done["test"])
        self.zalo.action_test_connection()
        self.assertTrue(self.zalo.connection_tested_at)
        self.assertTrue(self._steps(self.zalo)["test"])
        self.zalo.setup_webhook_saved = True
        self._event(self.zalo, "follow", datetime(2026, 12, 1, 8, 0))
        self.zalo.invalidate_recordset(["webhook_last_event_at"])
        self.assertTrue(all(self._steps(self.zalo).values()))
        self.assertTrue(self.zalo.setup_done)
        # a new access token pasted: the test must pass again
        self.zalo.zalo_access_token = "AT-pasted"
        self.assertFalse(self._steps(self.zalo)["test"])

    def test_sms_checklists(self):
        self.assertEqual(
            list(self._steps(self.esms)),
            ["api_key", "secret_key", "brandname", "webhook_public", "test"],
        )
        self.assertEqual(
            list(self._steps(self.speedsms)),
            ["access_token", "brandname", "webhook_public", "webhook_saved", "test"],
        )
        self.esms.action_test_connection()
        self.assertTrue(all(self._steps(self.esms).values()))
        self.esms.esms_api_key = self.esms_peer.api_key  # written again
        self.assertFalse(self._steps(self.esms)["test"])
        done = self._steps(self.speedsms)
        self.assertFalse(done["brandname"])  # the peer's config has no sender
        self.speedsms.speedsms_sender = "LOOPBACK"
        self.speedsms.action_test_connection()
        self.assertFalse(self._steps(self.speedsms)["webhook_saved"])
        self.speedsms.setup_webhook_saved = True
        self.assertTrue(all(self._steps(self.speedsms).values()))
        self.assertEqual(list(self._steps(self.sandbox)), ["test"])

    # -- webhook URL -----------------------------------------------------------

    def test_url_problem(self):
        cases = {
            "https://shop.example.vn": None,
            "https://203.113.1.10": None,
            "http://shop.example.vn": "scheme",
            "http://localhost:8069": "host",
            "https://127.0.0.1": "host",
            "https://192.168.1.20:8069": "host",
            "https://10.0.0.5": "host",
            "https://[::1]": "host",
            "https://odoo": "host",
            "https://odoo.local": "host",
            "": "missing",
            False: "missing",
        }
        for url, expected in cases.items():
            self.assertEqual(url_problem(url), expected, url)

    def test_webhook_url_warning(self):
        self.assertFalse(self.zalo.webhook_url_warning)
        self.assertTrue(self._steps(self.zalo)["webhook_public"])
        params = self.env["ir.config_parameter"]
        params.set_param("web.base.url", "http://localhost:8069")
        self.zalo.invalidate_recordset()
        self.assertIn("local or private address", self.zalo.webhook_url_warning)
        self.assertIn("http://localhost:8069", self.zalo.webhook_url_warning)
        self.assertFalse(self._steps(self.zalo)["webhook_public"])
        self.assertIn("local or private address", self.zalo.setup_checklist)
        params.set_param("web.base.url", "http://shop.example.vn")
        self.esms.invalidate_recordset()
        self.assertIn("is not HTTPS", self.esms.webhook_url_warning)
        self.assertFalse(self.sandbox.webhook_url_warning)

    # -- last event ------------------------------------------------------------

    def _event(self, channel, name, when):
        return self.env["messaging.event"].create(
            {
                "channel_id": channel.id,
                "event_key": "%s-%s-%s" % (channel.id, name, when.isoformat()),
                "event_name": name,
                "received_at": when,
                "state": "done",
            }
        )

    def test_last_event_in_one_query(self):
        self._event(self.zalo, "follow", datetime(2026, 12, 1, 8, 0))
        self._event(self.zalo, "user_send_text", datetime(2026, 12, 2, 9, 30))
        self._event(self.esms, "esms_delivery", datetime(2026, 12, 3, 10, 0))
        channels = self.zalo | self.esms | self.speedsms
        self.env.flush_all()
        channels.invalidate_recordset()
        with self.assertQueryCount(1):
            values = [
                (c.webhook_last_event_name, c.webhook_last_event_at) for c in channels
            ]
        self.assertEqual(
            values,
            [
                ("user_send_text", datetime(2026, 12, 2, 9, 30)),
                ("esms_delivery", datetime(2026, 12, 3, 10, 0)),
                (False, False),
            ],
        )
        self.assertEqual(self.zalo.webhook_event_count, 2)

    # -- throttles -------------------------------------------------------------

    def test_throttle_defaults_agree_and_are_explained(self):
        channel = self.env["messaging.channel"].create({"name": "New"})
        self.assertEqual(
            (channel.rate_per_second, channel.min_interval_seconds), (10.0, 0.0)
        )
        self.assertIn("every 0.1 s (10.0 per second)", channel.throttle_summary)
        self.assertNotIn("stricter", channel.throttle_summary)
        channel.write({"rate_per_second": 0, "min_interval_seconds": 5})
        self.assertIn("every 5.0 s (0.2 per second)", channel.throttle_summary)
        channel.rate_per_second = 5
        self.assertIn("Use one of the two", channel.throttle_summary)
        channel.write({"rate_per_second": 0, "min_interval_seconds": 0})
        self.assertIn("No limit", channel.throttle_summary)
        demo = self.env.ref(
            "multichannel_messaging.demo_channel_zalo", raise_if_not_found=False
        )
        if demo:
            self.assertNotIn("stricter", demo.throttle_summary)

    def test_contradicting_throttles_warn_in_the_form(self):
        form = Form(self.env["messaging.channel"])
        form.name = "Slow"
        form.rate_per_second = 5
        with self.assertLogs("odoo.tests.form.onchange", "WARNING") as logs:
            form.min_interval_seconds = 5
        self.assertIn("Use one of the two", "\n".join(logs.output))
