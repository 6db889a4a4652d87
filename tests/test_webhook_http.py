"""Real HTTP calls to the test server: signed, forged, stale, replayed,
malformed, oversized calls and unknown channels."""

import json
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from ..controllers import fast_path
from . import test_webhook_common as wh


@tagged("post_install", "-at_install")
class TestWebhookHttp(HttpCase):
    """The calls are served by the WSGI fast path (controllers/fast_path.py);
    TestWebhookHttpRoute runs the same tests through the ordinary route."""

    fast_path_enabled = True

    def setUp(self):
        super().setUp()
        patcher = patch.object(fast_path, "ENABLED", self.fast_path_enabled)
        patcher.start()
        self.addCleanup(patcher.stop)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.channel, cls.esms, cls.speedsms = wh.make_webhook_channels(
            cls.env, "webhook"
        )
        cls.partner = cls.env["res.partner"].create(
            {
                "name": "Nguyễn Thị Webhook",
                "mobile": "0912 345 678",
                "country_id": cls.env.ref("base.vn").id,
            }
        )
        cls.Event = cls.env["messaging.event"]
        cls.Identity = cls.env["messaging.identity"]

    # -- helpers ----------------------------------------------------------
    def _url(self, channel, token=None):
        return "/messaging/webhook/%s/%s" % (
            channel.channel_type,
            token or channel.webhook_token,
        )

    def _post_zalo(self, payload, signature=None, headers=None, raw=None, token=None):
        raw = raw if raw is not None else wh.encode(payload)
        all_headers = {"Content-Type": "application/json"}
        if signature is not False:
            all_headers["X-ZEvent-Signature"] = signature or wh.sign(
                raw, payload["timestamp"]
            )
        all_headers.update(headers or {})
        response = self.opener.post(
            self.base_url() + self._url(self.channel, token),
            data=raw,
            headers=all_headers,
            timeout=10,
        )
        self._process_stored()
        return response

    def _process_stored(self):
        """What the cron, triggered by the call, does right after it."""
        self.Event._cron_process_pending()

    def _events(self, channel=None):
        return self.Event.search([("channel_id", "=", (channel or self.channel).id)])

    def _identity(self, user_id=wh.USER_ID):
        return self.Identity.search(
            [("channel_id", "=", self.channel.id), ("external_id", "=", user_id)]
        )

    def _sent_message(self, pid=None, **vals):
        values = {
            "partner_id": self.partner.id,
            "channel_id": self.channel.id,
            "route": "phone",
            "recipient": "84912345678",
            "body": "ZNS",
        }
        values.update(vals)
        message = (
            self.env["messaging.message"]
            .with_context(messaging_skip_prepare=True)
            .create(values)
        )
        message.write({"state": "sent", "provider_message_id": pid})
        return message

    # -- store first, process in the cron's batch --------------------------
    def test_call_stores_then_cron_processes(self):
        cron = self.env.ref("multichannel_messaging.ir_cron_messaging_process_events")
        Trigger = self.env["ir.cron.trigger"].sudo()
        triggers = Trigger.search_count([("cron_id", "=", cron.id)])
        with patch.object(self, "_process_stored"):
            response = self._post_zalo(wh.follow())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"error": 0, "message": "Success"})
        event = self._events()
        self.assertEqual(event.state, "received", "the call only stores")
        self.assertFalse(self._identity())
        self.assertEqual(
            Trigger.search_count([("cron_id", "=", cron.id)]),
            triggers + 1,
            "the processing cron is triggered with the event",
        )
        self.assertEqual(self.Event._cron_process_pending(), 1)
        self.assertEqual(event.state, "done")
        self.assertTrue(self._identity().is_follower)
        self.assertEqual(self.Event._cron_process_pending(), 0)

    def test_replay_before_processing_stores_nothing_more(self):
        cron = self.env.ref("multichannel_messaging.ir_cron_messaging_process_events")
        Trigger = self.env["ir.cron.trigger"].sudo()
        payload = wh.follow()
        with patch.object(self, "_process_stored"):
            self._post_zalo(payload)
            triggers = Trigger.search_count([("cron_id", "=", cron.id)])
            response = self._post_zalo(payload)
        self.assertIn("Duplicate", response.json()["message"])
        self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), triggers)
        self.assertEqual(self.Event._cron_process_pending(), 1)
        self.assertEqual(self._events().state, "done")

    def test_served_by_the_expected_path(self):
        with wh.fast_path_answers() as answers:
            response = self._post_zalo(wh.follow())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(answers), 1)
        self.assertEqual(answers[0] is not None, self.fast_path_enabled)
        self.assertEqual(self._events().state, "done")

    def test_chunked_body_goes_through_the_route(self):
        payload = wh.follow()
        raw = wh.encode(payload)
        response = self.opener.post(
            self.base_url() + self._url(self.channel),
            data=iter([raw[:10], raw[10:]]),  # no Content-Length: chunked
            headers={"X-ZEvent-Signature": wh.sign(raw, payload["timestamp"])},
            timeout=10,
        )
        self.assertEqual(response.status_code, 200)
        self.Event._cron_process_pending()
        self.assertTrue(self._identity().is_follower)

    # -- good calls -------------------------------------------------------
    def test_follow_creates_identity(self):
        response = self._post_zalo(wh.follow())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["error"], 0)
        identity = self._identity()
        self.assertTrue(identity.is_follower)
        self.assertTrue(identity.followed_at)
        event = self._events()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.identity_id, identity)
        self.assertEqual(event.signature_variant, "app_id")

    def test_unfollow_after_follow(self):
        self._post_zalo(wh.follow())
        self._post_zalo(wh.follow(event="unfollow"))
        self.assertFalse(self._identity().is_follower)
        self.assertEqual(len(self._events()), 2)

    def test_user_message_lands_in_partner_chatter(self):
        self.Identity.create(
            {
                "channel_id": self.channel.id,
                "external_id": wh.USER_ID,
                "partner_id": self.partner.id,
            }
        )
        payload = wh.user_text("Cho tôi hỏi giá áo size M")
        response = self._post_zalo(payload)
        self.assertEqual(response.status_code, 200)
        last = self.partner.message_ids[:1]
        self.assertIn("Cho tôi hỏi giá áo size M", last.body)
        self.assertEqual(last.author_id, self.partner)
        identity = self._identity()
        self.assertTrue(identity.last_interaction_at)
        self.assertEqual(identity.window_state, "free")
        self.assertEqual(
            self._events().event_key, "msg:" + payload["message"]["msg_id"]
        )

    def test_user_message_from_unknown_user_keeps_text(self):
        self._post_zalo(wh.user_text("Xin chào shop", user_id="99887766554433"))
        identity = self._identity("99887766554433")
        self.assertTrue(identity)
        self.assertFalse(identity.partner_id)
        event = self._events()
        self.assertEqual(event.text, "Xin chào shop")
        self.assertEqual(event.identity_id, identity)

    def test_zns_receipt_marks_delivered(self):
        message = self._sent_message(pid="zns-pid-1")
        response = self._post_zalo(
            wh.zns_received(msg_id="zns-pid-1"), headers={"X-ZEvent-Server": "ZNS"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(message.state, "delivered")
        self.assertTrue(message.delivered_at)
        self.assertEqual(self._events().message_id, message)

    def test_zns_receipt_by_tracking_id(self):
        message = self._sent_message(pid="zns-other")
        self._post_zalo(
            wh.zns_received(tracking_id=message.tracking_id),
            headers={"X-ZEvent-Server": "ZNS"},
        )
        self.assertEqual(message.state, "delivered")

    def test_seen_receipt_marks_read(self):
        message = self._sent_message(pid="oa-pid-7")
        payload = {
            "app_id": wh.APP_ID,
            "sender": {"id": wh.USER_ID},
            "recipient": {"id": wh.OA_ID},
            "event_name": "user_seen_message",
            "message": {"msg_ids": ["oa-pid-7"]},
            "timestamp": wh.now_ms(),
        }
        self._post_zalo(payload)
        self.assertEqual(message.state, "read")

    def test_mac_without_prefix_accepted(self):
        payload = wh.follow()
        raw = wh.encode(payload)
        signature = wh.sign(raw, payload["timestamp"])[len("mac=") :]
        self.assertEqual(self._post_zalo(payload, signature=signature).status_code, 200)

    def test_oa_id_variant_accepted_when_any(self):
        payload = wh.follow()
        raw = wh.encode(payload)
        signature = wh.sign(raw, payload["timestamp"], prefix=wh.OA_ID)
        self.assertEqual(self._post_zalo(payload, signature=signature).status_code, 200)
        self.assertEqual(self._events().signature_variant, "oa_id")

    def test_strict_variant_refuses_other_variants(self):
        self.channel.zalo_signature_variant = "app_id"
        payload = wh.follow()
        raw = wh.encode(payload)
        signature = wh.sign(raw, payload["timestamp"], secret=wh.APP_SECRET)
        self.assertEqual(self._post_zalo(payload, signature=signature).status_code, 401)
        self.assertFalse(self._events())

    def test_unknown_event_stored_and_ignored(self):
        payload = dict(wh.follow(), event_name="user_reacted_message")
        response = self._post_zalo(payload)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self._events().state, "ignored")

    def test_processing_error_is_stored_and_answered_200(self):
        response = self._post_zalo(wh.submit_info("not a phone"))
        self.assertEqual(response.status_code, 200)
        event = self._events()
        self.assertEqual(event.state, "error")
        self.assertTrue(event.error_message)

    def test_archived_channel_still_takes_receipts(self):
        message = self._sent_message(pid="zns-archived")
        self.channel.active = False
        self._post_zalo(wh.zns_received(msg_id="zns-archived"))
        self.assertEqual(message.state, "delivered")

    # -- replays ----------------------------------------------------------
    def test_replay_is_processed_once(self):
        self.Identity.create(
            {
                "channel_id": self.channel.id,
                "external_id": wh.USER_ID,
                "partner_id": self.partner.id,
            }
        )
        payload = wh.user_text("Một lần thôi")
        before = len(self.partner.message_ids)
        first = self._post_zalo(payload)
        second = self._post_zalo(payload)
        self.assertEqual(first.status_code, 200)
        self.assertEqual(second.status_code, 200)
        self.assertIn("Duplicate", second.json()["message"])
        self.assertEqual(len(self._events()), 1)
        self.assertEqual(len(self.partner.message_ids), before + 1)

    def test_retry_with_num_retry_header_is_a_replay(self):
        payload = wh.follow()
        self._post_zalo(payload)
        response = self._post_zalo(payload, headers={"num_retry": "1"})
        self.assertIn("Duplicate", response.json()["message"])
        self.assertEqual(len(self._events()), 1)

    def test_receipt_replay_keeps_first_delivery_time(self):
        message = self._sent_message(pid="zns-replay")
        payload = wh.zns_received(msg_id="zns-replay")
        self._post_zalo(payload)
        delivered_at = message.delivered_at
        self._post_zalo(payload)
        self.assertEqual(message.delivered_at, delivered_at)
        self.assertEqual(len(self._events()), 1)

    # -- refused calls: nothing stored -------------------------------------
    def test_forged_signature_refused_nothing_stored(self):
        payload = wh.follow()
        raw = wh.encode(payload)
        forged = wh.sign(raw, payload["timestamp"], secret="guessed-secret")
        response = self._post_zalo(payload, signature=forged)
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self._events())
        self.assertFalse(self._identity())

    def test_tampered_body_refused(self):
        payload = wh.follow()
        signature = wh.sign(wh.encode(payload), payload["timestamp"])
        tampered = dict(payload, follower={"id": "11111111111"})
        response = self._post_zalo(tampered, signature=signature)
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self._events())

    def test_missing_signature_refused(self):
        response = self._post_zalo(wh.follow(), signature=False)
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self._events())

    def test_stale_timestamp_refused(self):
        payload = wh.follow(ts=wh.now_ms(-2 * 86400))
        response = self._post_zalo(payload)
        self.assertEqual(response.status_code, 400)
        self.assertIn("Stale", response.json()["message"])
        self.assertFalse(self._events())

    def test_future_timestamp_refused(self):
        response = self._post_zalo(wh.follow(ts=wh.now_ms(3600)))
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self._events())

    def test_max_age_is_configurable(self):
        self.channel.webhook_max_age_seconds = 60
        response = self._post_zalo(wh.follow(ts=wh.now_ms(-120)))
        self.assertEqual(response.status_code, 400)
        self.channel.webhook_max_age_seconds = 0
        response = self._post_zalo(wh.follow(ts=wh.now_ms(-120)))
        self.assertEqual(response.status_code, 200)

    def test_malformed_json_refused(self):
        raw = b'{"event_name": "follow", "timestamp": '
        response = self._post_zalo({"timestamp": "1"}, raw=raw, signature="mac=00")
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self._events())

    def test_missing_timestamp_refused(self):
        raw = wh.encode({"event_name": "follow"})
        response = self._post_zalo({"timestamp": "1"}, raw=raw, signature="mac=00")
        self.assertEqual(response.status_code, 400)

    def test_oversized_body_refused(self):
        payload = wh.user_text("x" * (70 * 1024))
        response = self._post_zalo(payload)
        self.assertEqual(response.status_code, 413)
        self.assertFalse(self._events())

    def test_unknown_token_refused(self):
        response = self._post_zalo(wh.follow(), token="x" * 32)
        self.assertEqual(response.status_code, 404)
        self.assertFalse(
            self.Event.search([]).filtered(lambda e: e.channel_id == self.channel)
        )

    def test_token_of_other_channel_type_refused(self):
        payload = wh.follow()
        raw = wh.encode(payload)
        response = self.opener.post(
            self.base_url() + "/messaging/webhook/zalo/" + self.esms.webhook_token,
            data=raw,
            headers={"X-ZEvent-Signature": wh.sign(raw, payload["timestamp"])},
            timeout=10,
        )
        self.assertEqual(response.status_code, 404)

    def test_unknown_channel_type_refused(self):
        response = self.url_open(
            "/messaging/webhook/viber/" + self.channel.webhook_token
        )
        self.assertEqual(response.status_code, 404)

    def test_regenerated_token_invalidates_old_url(self):
        old = self.channel.webhook_token
        self.channel.action_regenerate_webhook_token()
        self.assertEqual(self._post_zalo(wh.follow(), token=old).status_code, 404)
        self.assertEqual(self._post_zalo(wh.follow()).status_code, 200)

    # -- opt-out -----------------------------------------------------------
    def test_opt_out_keyword_confirms_once(self):
        self.Identity.create(
            {
                "channel_id": self.channel.id,
                "external_id": wh.USER_ID,
                "partner_id": self.partner.id,
            }
        )
        self._post_zalo(wh.user_text("Hủy"))
        self.assertIn(self.channel, self.partner.messaging_opt_out_channel_ids)
        replies = self.env["messaging.message"].search(
            [("channel_id", "=", self.channel.id), ("route", "=", "consultation")]
        )
        self.assertEqual(len(replies), 1)
        self.assertEqual(replies.recipient, wh.USER_ID)
        self.assertEqual(replies.category, "transactional")
        self.assertEqual(replies.state, "queued")
        self.assertEqual(replies.body, self.channel.opt_out_confirmation)
        self._post_zalo(wh.user_text("HUY!"))
        replies = self.env["messaging.message"].search(
            [("channel_id", "=", self.channel.id), ("route", "=", "consultation")]
        )
        self.assertEqual(len(replies), 1, "the confirmation is sent once")

    def test_ordinary_text_does_not_opt_out(self):
        self.Identity.create(
            {
                "channel_id": self.channel.id,
                "external_id": wh.USER_ID,
                "partner_id": self.partner.id,
            }
        )
        self._post_zalo(wh.user_text("Huỷ đơn hàng giúp tôi"))
        self.assertNotIn(self.channel, self.partner.messaging_opt_out_channel_ids)

    # -- SMS delivery reports ---------------------------------------------
    def _esms_get(self, **params):
        response = self.url_open(
            self._url(self.esms)
            + "?"
            + "&".join("%s=%s" % item for item in params.items())
        )
        self._process_stored()
        return response

    def test_esms_callback_delivered_and_replay(self):
        message = self._sent_message(channel_id=self.esms.id, pid="esms-smsid-1")
        params = {
            "SMSID": "esms-smsid-1",
            "SendFailed": "0",
            "SendStatus": "5",
            "SendSuccess": "1",
            "TotalPrice": "850.0000",
            "TotalReceiver": "1",
            "TotalSent": "1",
            "RequestId": message.tracking_id,
            "TypeId": "2",
            "telcoid": "1",
            "phonenumber": "0912345678",
        }
        response = self._esms_get(**params)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(message.state, "delivered")
        delivered_at = message.delivered_at
        self.assertIn("Duplicate", self._esms_get(**params).json()["message"])
        self.assertEqual(len(self._events(self.esms)), 1)
        self.assertEqual(message.delivered_at, delivered_at)

    def test_reports_are_stored_without_a_read_only_try(self):
        """Odoo 18 starts auth="none" routes on a read-only cursor and, on a
        write, logs the failed query and runs the call again: the webhook
        routes are read/write from the start."""
        message = self._sent_message(channel_id=self.esms.id, pid="esms-smsid-ro")
        with (
            self.assertNoLogs("odoo.http", "WARNING"),
            self.assertNoLogs("odoo.sql_db", "ERROR"),
        ):
            self._esms_get(SMSID="esms-smsid-ro", SendStatus="5", SendSuccess="1")
            self._speedsms_post(
                {
                    "type": "report",
                    "tranId": "ro-1",
                    "phone": "84912345678",
                    "status": 0,
                }
            )
        self.assertEqual(message.state, "delivered")
        self.assertEqual(len(self._events(self.speedsms)), 1)

    def test_esms_callback_failed(self):
        message = self._sent_message(channel_id=self.esms.id, pid="esms-smsid-2")
        self._esms_get(
            SMSID="esms-smsid-2", SendStatus="5", SendSuccess="0", SendFailed="1"
        )
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.failure_type, "unreachable")

    def test_esms_callback_unknown_token(self):
        response = self.url_open("/messaging/webhook/esms/" + "y" * 32 + "?SMSID=1")
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self._events(self.esms))

    def test_esms_callback_without_smsid(self):
        response = self._esms_get(SendStatus="5")
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self._events(self.esms))

    def _speedsms_post(self, payload, raw=None):
        response = self.opener.post(
            self.base_url() + self._url(self.speedsms),
            data=raw if raw is not None else json.dumps(payload),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        self._process_stored()
        return response

    def test_speedsms_report_delivered_and_replay(self):
        message = self._sent_message(channel_id=self.speedsms.id, pid="123456")
        payload = {
            "type": "report",
            "tranId": 123456,
            "phone": "84912345678",
            "status": 0,
        }
        self.assertEqual(self._speedsms_post(payload).status_code, 200)
        self.assertEqual(message.state, "delivered")
        self.assertIn("Duplicate", self._speedsms_post(payload).json()["message"])
        self.assertEqual(len(self._events(self.speedsms)), 1)

    def test_speedsms_report_failed(self):
        message = self._sent_message(channel_id=self.speedsms.id, pid="654321")
        payload = {
            "type": "report",
            "tranId": 654321,
            "phone": "84912345678",
            "status": 64,
        }
        self._speedsms_post(payload)
        self.assertEqual(message.state, "failed")

    def test_speedsms_malformed_and_oversized(self):
        self.assertEqual(self._speedsms_post(None, raw="{not json").status_code, 400)
        big = json.dumps({"type": "report", "pad": "x" * (70 * 1024)})
        self.assertEqual(self._speedsms_post(None, raw=big).status_code, 413)
        self.assertFalse(self._events(self.speedsms))

    # -- domain verification ------------------------------------------------
    def test_zalo_verifier_file(self):
        self.channel.zalo_verifier_code = "SeEEB8ES51jdZCu"
        response = self.url_open("/zalo_verifierSeEEB8ES51jdZCu.html")
        self.assertEqual(response.status_code, 200)
        self.assertIn("text/html", response.headers["Content-Type"])
        self.assertIn(
            'name="zalo-platform-site-verification" content="SeEEB8ES51jdZCu"',
            response.text,
        )
        self.assertEqual(self.url_open("/zalo_verifierNOPE.html").status_code, 404)


@tagged("post_install", "-at_install")
class TestWebhookHttpRoute(TestWebhookHttp):
    """The same calls through Odoo's stack and the controller route (what
    serves them when the fast path passes: registry not loaded yet, unknown
    body length, several databases)."""

    # Odoo's runner runs only the test methods a class defines itself
    # (pytest-odoo runs the inherited ones too): run them under both
    allow_inherited_tests_method = True
    fast_path_enabled = False
