"""Zalo token health: a failed refresh (Zalo answers OAuth errors with HTTP
200) or a refresh token near the end of its 3 months raises one activity
for the channel's administrators and a banner; a refresh clears them; an
answer without a token pair never replaces the stored pair."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.messaging_channel_token import TOKEN_ACTIVITY_TYPE
from ..models.models import ADMIN_GROUP, MANAGER_GROUP
from ..providers import ProviderError, get_adapter
from .common import MessagingCase, PeerChannelsMixin
from .peers import ZaloPeer

OAUTH = "/v4/oa/access_token"
ERROR_ANSWER = {
    "error_name": "Invalid refresh token",
    "error_reason": "Refresh token is invalid or has been used",
    "error_description": "Invalid refresh token",
    "error": -14014,
}


@tagged("post_install", "-at_install")
class TestChannelTokenHealth(PeerChannelsMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zalo_peer = ZaloPeer()
        cls._start_peers(cls.zalo_peer)
        cls.admin = cls._make_user("health_admin", ADMIN_GROUP)
        cls.manager = cls._make_user("health_manager", MANAGER_GROUP)
        cls.zalo = cls._peer_channel(
            cls.zalo_peer.zalo_config(), name="Zalo OA", channel_type="zalo"
        )

    def setUp(self):
        super().setUp()
        self._reset_peers(self.zalo_peer)
        self.pair = (self.zalo.zalo_access_token, self.zalo.zalo_refresh_token)

    def _activities(self, channel=None):
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", "messaging.channel"),
                ("res_id", "=", (channel or self.zalo).id),
                ("activity_type_id", "=", self.env.ref(TOKEN_ACTIVITY_TYPE).id),
            ]
        )

    def _cron_with_due_token(self):
        self.zalo.zalo_token_expires_at = fields.Datetime.now() + timedelta(minutes=5)
        self.env["messaging.channel"]._cron_refresh_tokens()

    def _stored_pair(self):
        self.zalo.invalidate_recordset()
        return (self.zalo.zalo_access_token, self.zalo.zalo_refresh_token)

    # -- failure -----------------------------------------------------------

    @mute_logger("odoo.addons.multichannel_messaging.models.messaging_channel_zalo")
    def test_error_answer_keeps_tokens_one_activity_and_banner(self):
        self.zalo_peer.queue_response(OAUTH, ERROR_ANSWER)
        self.zalo_peer.queue_response(OAUTH, ERROR_ANSWER)
        self._cron_with_due_token()
        self._cron_with_due_token()  # the next hour fails again
        self.assertEqual(len(self.zalo_peer.requests_for(OAUTH)), 2)
        self.assertEqual(self._stored_pair(), self.pair)
        activity = self._activities()
        self.assertEqual(len(activity), 1, "one activity, not one per cron run")
        self.assertTrue(activity.user_id.has_group(ADMIN_GROUP))
        self.assertIn("-14014", activity.note)
        self.assertEqual(self.zalo.zalo_token_health, "failed")
        self.assertEqual(self.zalo.zalo_token_error_code, "-14014")
        self.assertEqual(self.zalo.zalo_token_error_detail, "Invalid refresh token")
        self.assertIn("-14014", self.zalo.zalo_token_health_message)
        self.assertIn("could not be refreshed", self.zalo.zalo_token_health_message)

    def test_answers_without_a_token_pair_never_overwrite(self):
        for answer in (
            {"error": 0, "message": "Success"},
            {"access_token": "AT-new", "expires_in": "90000"},
            {"refresh_token": "RT-new", "expires_in": "90000"},
            {"access_token": "AT-new", "refresh_token": "", "expires_in": "1"},
            {
                "error": -14002,
                "message": "x",
                "access_token": "AT",
                "refresh_token": "R",
            },
        ):
            self.zalo_peer.queue_response(OAUTH, answer)
            with self.assertRaises(ProviderError, msg=answer):
                get_adapter("zalo", self.zalo_peer.zalo_config()).refresh_token()
        self.zalo_peer.queue_response(OAUTH, {"access_token": "AT-only"})
        with (
            mute_logger(
                "odoo.addons.multichannel_messaging.models.messaging_channel_zalo"
            ),
            self.assertRaisesRegex(UserError, "refused to refresh"),
        ):
            self.zalo.action_refresh_token()
        self.assertEqual(self._stored_pair(), self.pair)

    @mute_logger("odoo.addons.multichannel_messaging.models.messaging_channel_zalo")
    def test_refresh_success_clears_failure_and_activity(self):
        self.zalo_peer.queue_response(OAUTH, ERROR_ANSWER)
        self._cron_with_due_token()
        self.assertEqual(len(self._activities()), 1)
        self.zalo.zalo_refresh_token_at = fields.Datetime.now() - timedelta(days=30)
        self.zalo.action_refresh_token()
        self.assertEqual(self._stored_pair()[0], self.zalo_peer.access_token)
        self.assertFalse(self._activities())
        self.assertEqual(self.zalo.zalo_token_health, "ok")
        self.assertFalse(self.zalo.zalo_token_health_message)
        self.assertFalse(self.zalo.zalo_token_failed_at)
        self.assertFalse(self.zalo.zalo_token_error_code)
        # a new refresh token: a new 3 months
        self.assertGreater(
            self.zalo.zalo_refresh_token_at,
            fields.Datetime.now() - timedelta(minutes=5),
        )

    def test_refresh_failure_in_the_queue_raises_the_activity(self):
        """The dispatcher's refresh (token refused while sending) is recorded
        too, though the failure does not reach a cron."""
        self.zalo_peer.queue_response(OAUTH, ERROR_ANSWER)
        with (
            mute_logger(
                "odoo.addons.multichannel_messaging.models.messaging_channel_zalo"
            ),
            self.assertRaises(ProviderError),
        ):
            self.zalo._refresh_zalo_token(force=True)
        # assertRaises rolled its savepoint back: run it outside one
        self.zalo_peer.queue_response(OAUTH, ERROR_ANSWER)
        try:
            self.zalo._refresh_zalo_token(force=True)
        except ProviderError as exc:
            self.assertEqual(exc.code, "-14014")
        else:
            self.fail("the refresh should fail")
        self.assertEqual(len(self._activities()), 1)
        self.assertEqual(self.zalo.zalo_token_health, "failed")

    # -- expiry --------------------------------------------------------------

    def test_expiring_refresh_token_warns_once(self):
        now = fields.Datetime.now()
        self.zalo.zalo_refresh_token_at = now - timedelta(days=70)
        self.assertEqual(self.zalo.zalo_token_health, "ok")
        self.env["messaging.channel"]._cron_check_token_health()
        self.assertFalse(self._activities())

        self.zalo.zalo_refresh_token_at = now - timedelta(days=80)
        self.assertEqual(self.zalo.zalo_token_health, "expiring")
        end = self.zalo._local_now(now + timedelta(days=10)).strftime("%d/%m/%Y")
        self.assertIn(end, self.zalo.zalo_token_health_message)
        Channel = self.env["messaging.channel"]
        self.assertIn(self.zalo, Channel._cron_check_token_health())
        Channel._cron_check_token_health()
        activity = self._activities()
        self.assertEqual(len(activity), 1)
        self.assertIn("expires on", activity.note)

        self.zalo.zalo_refresh_token_at = now - timedelta(days=91)
        self.assertEqual(self.zalo.zalo_token_health, "expired")

    def test_pasted_refresh_token_starts_a_new_period(self):
        self.zalo.zalo_refresh_token_at = fields.Datetime.now() - timedelta(days=85)
        self.env["messaging.channel"]._cron_check_token_health()
        self.assertEqual(len(self._activities()), 1)
        self.zalo.zalo_refresh_token = "RT-pasted"
        self.assertEqual(self.zalo.zalo_token_health, "ok")
        self.assertFalse(self._activities())
        self.assertGreater(
            self.zalo.zalo_refresh_token_at,
            fields.Datetime.now() - timedelta(minutes=5),
        )

    def test_not_connected_and_other_types(self):
        channel = self.env["messaging.channel"].create(
            {"name": "New OA", "channel_type": "zalo"}
        )
        self.assertEqual(channel.zalo_token_health, "missing")
        self.assertIn("Not connected", channel.zalo_token_health_message)
        self.assertEqual(self.sandbox.zalo_token_health, "ok")

    def test_banner_in_vietnamese(self):
        self.env["res.lang"]._activate_lang("vi_VN")
        self.zalo.zalo_refresh_token_at = fields.Datetime.now() - timedelta(days=80)
        text = self.zalo.with_context(lang="vi_VN").zalo_token_health_message
        self.assertIn("3 tháng", text)

    # -- security ------------------------------------------------------------

    def test_non_admins_cannot_read_secrets_nor_refresh(self):
        channel = self.zalo.with_user(self.manager)
        self.assertEqual(channel.zalo_token_health, "ok")  # the banner shows
        for fname in (
            "zalo_refresh_token",
            "zalo_app_secret",
            "zalo_refresh_token_at",
            "webhook_url",
        ):
            with self.assertRaises(AccessError, msg=fname):
                channel.read([fname])
        for method in ("action_refresh_token", "action_test_connection"):
            with self.assertRaises(AccessError, msg=method):
                getattr(channel, method)()
        with self.assertRaises(AccessError):
            channel.write({"setup_webhook_saved": True})
        self.assertEqual(self.zalo_peer.requests, [])
