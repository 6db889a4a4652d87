"""The queue talking to loopback peers that speak each provider's protocol."""

from datetime import datetime, timedelta
from unittest.mock import patch

import pytz

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.multichannel_messaging.engine import claim, dispatch

from .common import MessagingCase, PeerChannelsMixin
from .peers import EsmsPeer, SpeedSmsPeer, ZaloPeer


@tagged("post_install", "-at_install")
class TestDispatchProviders(PeerChannelsMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zalo_peer = ZaloPeer()
        cls.esms_peer = EsmsPeer()
        cls.speedsms_peer = SpeedSmsPeer()
        cls._start_peers(cls.zalo_peer, cls.esms_peer, cls.speedsms_peer)
        cls.zalo = cls._peer_channel(
            cls.zalo_peer.zalo_config(),
            name="Zalo OA",
            channel_type="zalo",
            cost_per_message=300,
            cost_zalo_uid=200,
            max_attempts=3,
        )
        cls.esms = cls._peer_channel(
            cls.esms_peer.esms_config(),
            name="eSMS",
            channel_type="esms",
            cost_per_segment=750,
        )
        cls.speedsms = cls._peer_channel(
            cls.speedsms_peer.speedsms_config(),
            speedsms_sms_type="2",
            name="SpeedSMS",
            channel_type="speedsms",
        )
        cls.zbs = cls._peer_zbs_template(cls.zalo_peer, "ZBS", limits=True)
        cls.sms_template = cls.env["messaging.template"].create(
            {
                "name": "SMS",
                "channel_type": "esms",
                "category": "transactional",
                "body": "Xin chào {{ object.name }}",
            }
        )
        cls.speed_template = cls.env["messaging.template"].create(
            {
                "name": "SMS2",
                "channel_type": "speedsms",
                "category": "transactional",
                "body": "Chao {{ object.name }}",
            }
        )
        cls.cs_template = cls.env["messaging.template"].create(
            {
                "name": "CS",
                "channel_type": "zalo",
                "category": "transactional",
                "body": "Cảm ơn {{ object.name }} đã nhắn tin!",
            }
        )

    def setUp(self):
        super().setUp()
        self._reset_peers(self.zalo_peer, self.esms_peer, self.speedsms_peer)

    def _zbs(self, partner=None, **vals):
        return self._queue(
            partner or self.partner_a, channel=self.zalo, template=self.zbs, **vals
        )

    # -- Zalo ----------------------------------------------------------

    def test_zbs_by_phone_request_and_state(self):
        message = self._zbs()
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        [request] = self.zalo_peer.requests_for("/message/template")
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.headers["access_token"], self.zalo_peer.access_token)
        self.assertEqual(request.body["phone"], "84912345678")
        self.assertEqual(request.body["template_id"], self.zbs.zalo_template_id)
        self.assertEqual(request.body["tracking_id"], message.tracking_id)
        self.assertLessEqual(len(message.tracking_id), 48)
        self.assertEqual(
            set(request.body["template_data"]), set(self.zbs.param_ids.mapped("name"))
        )
        self.assertNotIn("mode", request.body)
        self.assertEqual(message.provider_message_id, self.zalo_peer.sent[0]["msg_id"])
        self.assertEqual(message.cost, 300)
        self.assertEqual(self.zalo.quota_remaining, self.zalo_peer.remaining_quota)
        self.assertEqual(self.zalo.quota_daily, self.zalo_peer.daily_quota)

    def test_zbs_development_mode(self):
        self.zalo.test_mode = True
        self._zbs()
        self.Message._process_queue()
        [request] = self.zalo_peer.requests_for("/message/template")
        self.assertEqual(request.body["mode"], "development")

    def test_zbs_by_user_id_when_identity_known(self):
        self.zbs.zalo_route = "auto"
        self.env["messaging.identity"].create(
            {
                "partner_id": self.partner_a.id,
                "channel_id": self.zalo.id,
                "external_id": "4184557136571297813",
            }
        )
        message = self._zbs()
        self.assertEqual(message.route, "uid")
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        [request] = self.zalo_peer.requests_for("/v3.0/oa/message/template")
        self.assertEqual(request.body["user_id"], "4184557136571297813")
        self.assertEqual(message.cost, 200)

    def test_consultation_text_to_user_id(self):
        self.env["messaging.identity"].create(
            {
                "partner_id": self.partner_b.id,
                "channel_id": self.zalo.id,
                "external_id": "5921836402847560291",
                "last_interaction_at": fields.Datetime.now() - timedelta(hours=3),
            }
        )
        message = self._queue(
            self.partner_b, channel=self.zalo, template=self.cs_template
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        [request] = self.zalo_peer.requests_for("/v3.0/oa/message/cs")
        self.assertEqual(request.body["recipient"]["user_id"], "5921836402847560291")
        self.assertEqual(
            request.body["message"]["text"], "Cảm ơn Trần Thị Bình đã nhắn tin!"
        )

    def test_consultation_without_identity_is_skipped(self):
        message = self._queue(
            self.partner_b, channel=self.zalo, template=self.cs_template
        )
        self.assertEqual(message.state, "skipped")
        self.assertEqual(message.failure_type, "no_address")

    def test_expired_token_refreshes_once_and_retries(self):
        old_refresh = self.zalo_peer.refresh_token
        self.zalo_peer.expire_token()
        message = self._zbs()
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        self.assertEqual(self.zalo_peer.refresh_count, 1)
        self.assertEqual(self.zalo.zalo_access_token, self.zalo_peer.access_token)
        self.assertEqual(self.zalo.zalo_refresh_token, self.zalo_peer.refresh_token)
        self.assertNotEqual(self.zalo.zalo_refresh_token, old_refresh)
        self.assertGreater(
            self.zalo.zalo_token_expires_at, fields.Datetime.now() + timedelta(hours=24)
        )
        requests = self.zalo_peer.requests_for("/message/template")
        self.assertEqual(len(requests), 2)
        [oauth] = self.zalo_peer.requests_for("/v4/oa/access_token")
        self.assertEqual(oauth.headers["secret_key"], self.zalo_peer.app_secret)
        self.assertEqual(oauth.body["refresh_token"], old_refresh)

    def test_refresh_refused_fails_with_token_code(self):
        self.zalo_peer.expire_token()
        self.zalo.zalo_refresh_token = "already-used"
        message = self._zbs()
        self.Message._process_queue()
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.failure_type, "auth")
        self.assertEqual(message.error_code, "-124")
        self.assertEqual(len(self.zalo_peer.requests_for("/message/template")), 1)

    def test_unreachable_code_kept_and_falls_back_to_sms(self):
        self.zalo_peer.queue_response(
            "/message/template",
            {"error": -118, "message": "Zalo account not existed"},
        )
        message = self._zbs(fallback_chain=[[self.esms.id, self.sms_template.id]])
        self.Message._process_queue()
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "-118")
        self.assertEqual(message.error_message, "Zalo account not existed")
        self.assertEqual(message.failure_type, "unreachable")
        child = message.fallback_child_ids
        self.assertEqual(child.channel_id, self.esms)
        self.assertEqual(child.state, "sent")
        self.assertEqual(len(self.esms_peer.sent), 1)

    def test_night_ban_reschedules_to_morning(self):
        self.zalo_peer.queue_response(
            "/message/template",
            {"error": -133, "message": "Can not send ZNS at night"},
        )
        message = self._zbs()
        self.Message._process_queue()
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.error_code, "-133")
        local = pytz.utc.localize(message.scheduled_at).astimezone(
            pytz.timezone("Asia/Ho_Chi_Minh")
        )
        self.assertEqual((local.hour, local.minute), (6, 0))
        self.assertGreater(message.scheduled_at, datetime.now())

    def test_daily_quota_pauses_channel(self):
        # one request at a time: the first message meets the quota
        self.zalo.max_in_flight = 1
        self.zalo_peer.queue_response(
            "/message/template", {"error": -144, "message": "OA exceeded daily quota"}
        )
        message = self._zbs()
        other = self._zbs(self.partner_b)
        self.Message._process_queue()
        self.assertEqual(message.state, "queued")
        self.assertEqual(other.state, "queued")
        self.assertTrue(self.zalo._is_paused())
        self.assertEqual(len(self.zalo_peer.requests_for("/message/template")), 1)

    def test_rate_limit_retries_later(self):
        self.zalo_peer.queue_response(
            "/message/template", {"error": -32, "message": "Exceed rate limit"}
        )
        message = self._zbs()
        self.Message._process_queue()
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.attempt_count, 1)
        self.assertGreater(message.scheduled_at, fields.Datetime.now())

    def test_server_error_retries_then_fails(self):
        message = self._zbs()
        for attempt in range(3):
            self.zalo_peer.queue_response("/message/template", {}, status=500)
            message.scheduled_at = fields.Datetime.now() - timedelta(seconds=1)
            self.Message._process_queue()
            self.assertEqual(message.attempt_count, attempt + 1)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.failure_type, "retries")

    def test_dropped_connection_is_not_resent(self):
        """The answer was lost after the request left: never resent blindly.
        A ZBS by phone waits for its receipt (it names our tracking id)."""
        self.zalo_peer.queue_response("/message/template", None, drop=True)
        message = self._zbs()
        self.Message._process_queue()
        self.assertEqual(
            (message.state, message.failure_type), ("unknown", "no_answer")
        )
        self.assertEqual(message.attempt_count, 1)
        self.assertTrue(message.outcome_wait_until)
        self.Message._process_queue()
        self.assertEqual(len(self.zalo_peer.requests_for("/message/template")), 1)

    def test_template_rejected_is_permanent(self):
        self.zalo_peer.queue_response(
            "/message/template", {"error": -131, "message": "Template not approved"}
        )
        message = self._zbs()
        self.Message._process_queue()
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.failure_type, "provider")
        self.assertEqual(message.error_code, "-131")

    def test_test_connection_refresh_and_sync_buttons(self):
        action = self.zalo.action_test_connection()
        self.assertIn(self.zalo_peer.oa_name, action["params"]["message"])
        self.zalo.action_refresh_token()
        self.assertEqual(self.zalo.zalo_access_token, self.zalo_peer.access_token)
        self.zalo_peer.templates["999001"] = ZaloPeer.make_template(
            "999001",
            "Giao hàng",
            list_params=[
                {
                    "name": "order_code",
                    "require": True,
                    "type": "STRING",
                    "maxLength": 30,
                    "minLength": 0,
                    "acceptNull": False,
                }
            ],
        )
        self.zalo.action_sync_templates()
        synced = self.env["messaging.template"].search(
            [("zalo_template_id", "=", "999001")]
        )
        self.assertEqual(synced.name, "Giao hàng")
        self.assertEqual(synced.zalo_status, "ENABLE")
        self.assertEqual(synced.param_ids.mapped("name"), ["order_code"])
        self.assertEqual(synced.param_ids.max_length, 30)
        count = self.env["messaging.template"].search_count(
            [("channel_type", "=", "zalo")]
        )
        self.zalo.action_sync_templates()
        self.assertEqual(
            self.env["messaging.template"].search_count(
                [("channel_type", "=", "zalo")]
            ),
            count,
        )

    def test_buttons_report_clear_errors(self):
        self.zalo.zalo_access_token = "wrong"
        with self.assertRaisesRegex(UserError, "Zalo OA"):
            self.zalo.action_test_connection()
        self.zalo.zalo_refresh_token = "wrong"
        with self.assertRaisesRegex(UserError, "refused to refresh"):
            self.zalo.action_refresh_token()
        self.esms.esms_secret_key = "wrong"
        with self.assertRaisesRegex(UserError, "eSMS"):
            self.esms.action_test_connection()

    def test_cron_refreshes_tokens_expiring_soon(self):
        self.zalo.zalo_token_expires_at = fields.Datetime.now() + timedelta(minutes=30)
        self.env["messaging.channel"]._cron_refresh_tokens()
        self.assertEqual(self.zalo_peer.refresh_count, 1)
        self.assertEqual(self.zalo.zalo_access_token, self.zalo_peer.access_token)

    # -- SMS -------------------------------------------------------------

    def test_esms_request_and_cost(self):
        message = self._queue(
            self.partner_a, channel=self.esms, template=self.sms_template
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        [request] = self.esms_peer.requests_for(EsmsPeer.send_path)
        body = request.body
        self.assertEqual(body["ApiKey"], EsmsPeer.api_key)
        self.assertEqual(body["Brandname"], EsmsPeer.brandname)
        self.assertEqual(body["Phone"], "0912345678")
        self.assertEqual(body["RequestId"], message.tracking_id)
        self.assertEqual(body["Content"], "Xin chào Nguyễn Văn An")
        self.assertEqual(str(body["IsUnicode"]), "1")
        self.assertEqual(message.provider_message_id, self.esms_peer.sent[0]["SMSID"])
        self.assertEqual(message.cost, 750)

    def test_esms_group_keeps_each_answer(self):
        """A group's answers are written together: each row gets its own
        provider id, cost and cleared error, and its note on the contact."""
        partners = self.partner_a | self.partner_b | self.partner_c
        messages = self.Message.browse()
        for partner in partners:
            messages |= self._queue(
                partner, channel=self.esms, template=self.sms_template
            )
        messages[0].write({"error_code": "500", "error_message": "HTTP 500"})
        notes_before = self.env["mail.message"].search_count(
            [("model", "=", "res.partner"), ("res_id", "in", partners.ids)]
        )
        self.assertEqual(self.Message._process_queue(), 3)
        sms_ids = {sent["RequestId"]: sent["SMSID"] for sent in self.esms_peer.sent}
        self.assertEqual(len(set(sms_ids.values())), 3)
        for message in messages:
            self.assertEqual(message.state, "sent")
            self.assertEqual(message.provider_message_id, sms_ids[message.tracking_id])
            self.assertEqual(message.cost, 750)
            self.assertEqual(message.attempt_count, 1)
            self.assertTrue(message.sent_at)
            self.assertFalse(message.claim_until)
            self.assertFalse(message.error_code or message.error_message)
        self.assertEqual(
            self.env["mail.message"].search_count(
                [("model", "=", "res.partner"), ("res_id", "in", partners.ids)]
            ),
            notes_before + 3,
        )

    def test_slow_group_gives_the_rest_back(self):
        """A group stops calling its provider after GROUP_SECONDS: the rest
        goes back to the queue, never sent, its attempt not counted."""
        messages = self.Message.browse()
        for partner in (self.partner_a, self.partner_b, self.partner_c):
            messages |= self._queue(
                partner, channel=self.esms, template=self.sms_template
            )
        batch = claim.claim_batch(self.env)
        self.assertEqual(batch, messages)
        with patch.object(dispatch, "GROUP_SECONDS", 0.0):
            self.assertEqual(dispatch.dispatch(batch, auto_commit=False), 1)
        self.assertEqual(len(self.esms_peer.sent), 1)
        sent = messages.filtered(lambda m: m.state == "sent")
        self.assertEqual(len(sent), 1)
        self.assertEqual(self.esms_peer.sent[0]["RequestId"], sent.tracking_id)
        rest = messages - sent
        self.assertEqual(set(rest.mapped("state")), {"queued"})
        self.assertEqual(set(rest.mapped("attempt_count")), {0})
        self.assertFalse(any(rest.mapped("claim_until")))
        # sent on the next run
        self.assertEqual(self.Message._process_queue(), 2)
        self.assertEqual(set(messages.mapped("state")), {"sent"})

    def test_esms_strip_accents(self):
        self.esms.strip_accents = True
        self._queue(self.partner_a, channel=self.esms, template=self.sms_template)
        self.Message._process_queue()
        [request] = self.esms_peer.requests_for(EsmsPeer.send_path)
        self.assertEqual(request.body["Content"], "Xin chao Nguyen Van An")
        self.assertEqual(str(request.body["IsUnicode"]), "0")

    def test_speedsms_request(self):
        message = self._queue(
            self.partner_b, channel=self.speedsms, template=self.speed_template
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        [request] = self.speedsms_peer.requests_for("/index.php/sms/send")
        self.assertTrue(request.headers["authorization"].startswith("Basic "))
        self.assertEqual(request.body["to"], ["84987654321"])
        self.assertEqual(request.body["content"], "Chao Trần Thị Bình")
        self.assertEqual(int(request.body["sms_type"]), 2)
        self.assertEqual(message.provider_message_id, str(self.speedsms_peer.tran_id))

    def test_speedsms_balance_error_pauses(self):
        self.speedsms_peer.balance = 0
        message = self._queue(
            self.partner_b, channel=self.speedsms, template=self.speed_template
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.error_code, "300")
        self.assertTrue(self.speedsms._is_paused())

    # -- E-mail ----------------------------------------------------------

    def test_email_through_mail_mail(self):
        channel = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="Mail", channel_type="email")
        )
        template = self.env["messaging.template"].create(
            {
                "name": "Mail",
                "channel_type": "email",
                "subject": "Ưu đãi cho {{ object.name }}",
                "body": "Xin chào {{ object.name }}",
            }
        )
        message = self._queue(
            self.partner_email_only, channel=channel, template=template
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        mail = message.mail_mail_id
        self.assertEqual(mail.subject, "Ưu đãi cho Phạm Minh Dũng")
        self.assertIn("Xin chào Phạm Minh Dũng", mail.body_html)
        self.assertEqual(mail.email_to, "dung@example.vn")

    def test_quota_down_to_zero_pauses_until_midnight(self):
        # one request at a time: the answer to the first pauses the second
        self.zalo.max_in_flight = 1
        self.zalo_peer.remaining_quota = 1
        first = self._zbs()
        second = self._zbs(self.partner_b)
        self.Message._process_queue()
        self.assertEqual(first.state, "sent")
        self.assertEqual(self.zalo.quota_remaining, 0)
        self.assertTrue(self.zalo._is_paused())
        local = pytz.utc.localize(self.zalo.paused_until).astimezone(
            pytz.timezone("Asia/Ho_Chi_Minh")
        )
        self.assertEqual((local.hour, local.minute), (0, 0))
        self.assertEqual(second.state, "queued")
        self.assertEqual(second.attempt_count, 0)
        self.assertEqual(len(self.zalo_peer.requests_for("/message/template")), 1)

    def test_esms_asks_for_delivery_callback(self):
        self._queue(self.partner_a, channel=self.esms, template=self.sms_template)
        self.Message._process_queue()
        [request] = self.esms_peer.requests_for(EsmsPeer.send_path)
        self.assertEqual(request.body["CallbackUrl"], self.esms.webhook_url)
        self.assertIn("/messaging/webhook/esms/", request.body["CallbackUrl"])
