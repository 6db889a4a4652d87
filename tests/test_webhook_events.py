"""Event processing without HTTP: handlers, keywords, signatures, cron."""

import json
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..controllers.main import find_channel
from ..engine.inbound import CRON_XMLID, RETRY_DELAYS
from ..providers.sms_text import normalize_keyword
from ..providers.zalo_events import zalo_time
from ..providers.zalo_signature import check_zalo_signature
from . import test_webhook_common as wh
from .common import MessagingCase
from .peers import start_zalo_peer


@tagged("post_install", "-at_install")
class TestWebhookEvents(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zalo = cls.env["messaging.channel"].create(wh.zalo_channel_values())
        cls.Event = cls.env["messaging.event"]
        cls.Identity = cls.env["messaging.identity"]

    def _event(self, payload, key=None, channel=None):
        raw = wh.encode(payload)
        event = self.Event._store(
            channel or self.zalo,
            key or wh.sign(raw, payload.get("timestamp", "")),
            payload.get("event_name") or payload.get("type"),
            raw.decode(),
            event_at=zalo_time(payload.get("timestamp")),
        )
        event._process()
        return event

    def _identity(self, partner=None, user_id=wh.USER_ID):
        return self.Identity.create(
            {
                "channel_id": self.zalo.id,
                "external_id": user_id,
                "partner_id": partner.id if partner else False,
            }
        )

    # -- keywords and signatures -----------------------------------------
    def test_normalize_keyword(self):
        self.assertEqual(normalize_keyword("  Hủy!! "), "HUY")
        self.assertEqual(normalize_keyword("HUỶ"), "HUY")
        self.assertEqual(normalize_keyword("Từ   chối."), "TU CHOI")
        self.assertEqual(normalize_keyword("Dừng"), "DUNG")
        self.assertEqual(normalize_keyword("đăng ký"), "DANG KY")

    def test_opt_out_keywords_configurable(self):
        self.assertTrue(self.zalo._is_opt_out_text("stop"))
        self.assertTrue(self.zalo._is_opt_out_text("Từ chối"))
        self.assertFalse(self.zalo._is_opt_out_text("huy don hang"))
        self.zalo.opt_out_keywords = "NGỪNG NHẬN"
        self.assertTrue(self.zalo._is_opt_out_text("ngung nhan"))
        self.assertFalse(self.zalo._is_opt_out_text("STOP"))

    def _signature_terms(self):
        """The channel as the webhook route reads it (by its token)."""
        self.env.flush_all()
        return find_channel(self.env.cr, "zalo", self.zalo.webhook_token)

    def test_signature_variants(self):
        raw, ts = b'{"a":1}', "1700000000000"
        for prefix, secret, variant in (
            (wh.APP_ID, wh.OA_SECRET, "app_id"),
            (wh.OA_ID, wh.OA_SECRET, "oa_id"),
            (wh.APP_ID, wh.APP_SECRET, "app_secret"),
        ):
            header = wh.sign(raw, ts, prefix=prefix, secret=secret)
            self.assertEqual(
                check_zalo_signature(self._signature_terms(), raw, ts, header), variant
            )
        self.assertFalse(
            check_zalo_signature(self._signature_terms(), raw, ts, "mac=" + "0" * 64)
        )
        self.assertFalse(check_zalo_signature(self._signature_terms(), raw, ts, ""))

    def test_signature_needs_a_secret(self):
        self.zalo.write({"zalo_oa_secret_key": False, "zalo_app_secret": False})
        raw, ts = b"{}", "1"
        self.assertFalse(
            check_zalo_signature(
                self._signature_terms(), raw, ts, wh.sign(raw, ts, secret="")
            )
        )

    def test_zalo_time(self):
        self.assertEqual(
            zalo_time("1700000000000"),
            fields.Datetime.to_datetime("2023-11-14 22:13:20"),
        )
        self.assertIsNone(zalo_time("abc"))

    # -- storage -----------------------------------------------------------
    def test_store_once_per_key(self):
        first = self.Event._store(self.zalo, "k1", "follow", "{}")
        second = self.Event._store(self.zalo, "k1", "follow", "{}")
        self.assertTrue(first)
        self.assertFalse(second)
        other = self.Event._store(self.sandbox, "k1", "follow", "{}")
        self.assertTrue(other, "keys are unique per channel")

    # -- follow / messages ---------------------------------------------------
    def test_unfollow_unknown_user_ignored(self):
        event = self._event(wh.follow(event="unfollow"))
        self.assertEqual(event.state, "ignored")
        self.assertFalse(self.Identity.search([("channel_id", "=", self.zalo.id)]))

    def test_follow_keeps_existing_partner(self):
        identity = self._identity(self.partner_a)
        self._event(wh.follow())
        self.assertTrue(identity.is_follower)
        self.assertEqual(identity.partner_id, self.partner_a)

    def test_older_event_does_not_move_interaction_back(self):
        identity = self._identity(self.partner_a)
        self._event(wh.user_text("mới", ts=wh.now_ms()))
        latest = identity.last_interaction_at
        self._event(wh.user_text("cũ", ts=wh.now_ms(-3600)))
        self.assertEqual(identity.last_interaction_at, latest)

    def test_image_message_text(self):
        payload = wh.user_text("")
        payload["event_name"] = "user_send_image"
        payload["message"]["attachments"] = [
            {"type": "image", "payload": {"url": "https://img.example/a.jpg"}}
        ]
        event = self._event(payload)
        self.assertEqual(event.text, "[image] https://img.example/a.jpg")

    def test_partnerless_opt_out_applied_when_linked(self):
        self._event(wh.user_text("STOP"))
        identity = self.Identity.search([("channel_id", "=", self.zalo.id)])
        replies = self.Message.search([("channel_id", "=", self.zalo.id)])
        self.assertEqual(len(replies), 1)
        self.assertFalse(replies.partner_id)
        self._event(wh.user_text("stop"))
        self.assertEqual(
            len(self.Message.search([("channel_id", "=", self.zalo.id)])), 1
        )
        self._event(wh.submit_info("0912345678"))
        self.assertEqual(identity.partner_id, self.partner_a)
        self.assertIn(self.zalo, self.partner_a.messaging_opt_out_channel_ids)

    def test_no_confirmation_when_text_empty(self):
        self.zalo.opt_out_confirmation = False
        self._identity(self.partner_b)
        self._event(wh.user_text("HUY"))
        self.assertIn(self.zalo, self.partner_b.messaging_opt_out_channel_ids)
        self.assertFalse(self.Message.search([("channel_id", "=", self.zalo.id)]))

    def test_opt_out_blocks_marketing_by_that_number(self):
        # the keyword writes the number to Odoo's phone blacklist: every
        # channel by phone skips it, e-mail still goes
        self.partner_a.email = "an@example.vn"
        self._identity(self.partner_a)
        self._event(wh.user_text("Từ chối"))
        self.assertTrue(self.partner_a._messaging_is_opted_out(self.zalo))
        self.assertTrue(self.partner_a._messaging_is_opted_out(self.sandbox))
        email = self.env["messaging.channel"].create(
            {"name": "E-mail", "channel_type": "email"}
        )
        self.assertFalse(self.partner_a._messaging_is_opted_out(email))

    def test_confirmation_is_sent_through_the_queue(self):
        peer = start_zalo_peer(self, self.zalo)
        self._identity(self.partner_a)
        self._event(wh.user_text("HUY"))
        reply = self.Message.search([("channel_id", "=", self.zalo.id)])
        self.Message._process_queue()
        self.assertEqual(reply.state, "sent")
        self.assertEqual(
            peer.requests_for("/v3.0/oa/message/cs")[-1].body["message"]["text"],
            self.zalo.opt_out_confirmation,
        )

    # -- user_submit_info ------------------------------------------------------
    def test_submit_info_links_existing_partner(self):
        event = self._event(wh.submit_info("84987654321"))
        identity = self.Identity.search([("channel_id", "=", self.zalo.id)])
        self.assertEqual(identity.partner_id, self.partner_b)
        self.assertEqual(event.partner_id, self.partner_b)

    def test_submit_info_creates_partner(self):
        self._event(wh.submit_info("0971 222 333", name="Đỗ Văn Mới"))
        identity = self.Identity.search([("channel_id", "=", self.zalo.id)])
        self.assertEqual(identity.partner_id.name, "Đỗ Văn Mới")
        self.assertEqual(identity.partner_id._messaging_phone(), "84971222333")

    # -- receipts --------------------------------------------------------------
    def _sent(self, pid):
        message = self.Message.with_context(messaging_skip_prepare=True).create(
            {
                "channel_id": self.zalo.id,
                "partner_id": self.partner_a.id,
                "route": "phone",
                "recipient": "84912345678",
                "body": "x",
            }
        )
        message.write({"state": "sent", "provider_message_id": pid})
        return message

    def test_receipt_before_send_result_is_retried_by_cron(self):
        event = self._event(wh.zns_received(msg_id="late-pid"))
        self.assertEqual(event.state, "received")
        message = self._sent("late-pid")
        self.assertEqual(self.Event._cron_process_pending(), 0, "tried 30 s apart")
        event.received_at = fields.Datetime.now() - timedelta(minutes=2)
        event.processed_at = fields.Datetime.now() - timedelta(minutes=1)
        self.Event._cron_process_pending()
        self.assertEqual(event.state, "done")
        self.assertEqual(message.state, "delivered")

    def test_unmatched_receipt_expires(self):
        event = self._event(wh.zns_received(msg_id="never"))
        event.received_at = fields.Datetime.now() - timedelta(hours=2)
        event.processed_at = fields.Datetime.now() - timedelta(minutes=1)
        self.Event._cron_process_pending()
        self.assertEqual(event.state, "ignored")

    def test_seen_does_not_undo_failed(self):
        message = self._sent("pid-failed")
        message.write({"state": "failed"})
        payload = wh.zns_received(msg_id="pid-failed")
        payload["event_name"] = "user_seen_message"
        self._event(payload)
        self.assertEqual(message.state, "failed")

    # -- template status and quota ------------------------------------------
    def test_template_rejected_schedules_activity(self):
        owner = self._make_user(
            "tpl_owner", "multichannel_messaging.group_messaging_manager"
        )
        template = (
            self.env["messaging.template"]
            .with_user(owner)
            .create(
                {
                    "name": "Xác nhận đơn",
                    "channel_type": "zalo",
                    "zalo_template_id": "31239",
                    "category": "transactional",
                }
            )
        )
        payload = {
            "app_id": wh.APP_ID,
            "oa_id": wh.OA_ID,
            "event_name": "change_template_status",
            "template_id": "31239",
            "status": {"prev_status": "PENDING_REVIEW", "new_status": "REJECT"},
            "reason": "Mẫu tin có dấu hiệu spam",
            "timestamp": wh.now_ms(),
        }
        event = self._event(payload)
        self.assertEqual(event.state, "done")
        template = template.sudo()
        self.assertEqual(template.zalo_status, "REJECT")
        self.assertEqual(template.activity_ids.user_id, owner)
        self.assertIn("spam", template.activity_ids.note)

    def test_template_enabled_no_activity(self):
        template = self.env["messaging.template"].create(
            {"name": "T", "channel_type": "zalo", "zalo_template_id": "777"}
        )
        self._event(
            {
                "event_name": "change_template_status",
                "template_id": "777",
                "status": {"prev_status": "PENDING_REVIEW", "new_status": "ENABLE"},
                "timestamp": wh.now_ms(),
            }
        )
        self.assertEqual(template.zalo_status, "ENABLE")
        self.assertFalse(template.activity_ids)

    def test_unknown_template_ignored(self):
        event = self._event(
            {
                "event_name": "change_template_status",
                "template_id": "404404",
                "status": {"new_status": "DISABLE"},
                "timestamp": wh.now_ms(),
            }
        )
        self.assertEqual(event.state, "ignored")

    def test_daily_quota_event(self):
        self._event(
            {
                "event_name": "change_oa_daily_quota",
                "oaId": wh.OA_ID,
                "quota": {"prev_value": 1000, "new_value": 2000},
                "timestamp": wh.now_ms(),
            }
        )
        self.assertEqual(self.zalo.quota_daily, 2000)

    # -- SMS reports -------------------------------------------------------
    def test_esms_rejected_and_intermediate(self):
        esms = self.env["messaging.channel"].create(
            {"name": "eSMS", "channel_type": "esms", "rate_per_second": 0}
        )
        message = self.Message.with_context(messaging_skip_prepare=True).create(
            {
                "channel_id": esms.id,
                "route": "sms",
                "recipient": "84912345678",
                "body": "x",
            }
        )
        message.write({"state": "sent", "provider_message_id": "S1"})

        def report(**params):
            event = self.Event._store(
                esms, json.dumps(params), "delivery_report", json.dumps(params)
            )
            event._process()
            return event

        self.assertEqual(report(SMSID="S1", SendStatus="7").state, "done")
        self.assertEqual(message.state, "sent")
        report(SMSID="S1", SendStatus="4")
        self.assertEqual(message.state, "failed")

    def test_speedsms_incoming_ignored(self):
        speedsms = self.env["messaging.channel"].create(
            {"name": "SpeedSMS", "channel_type": "speedsms", "rate_per_second": 0}
        )
        event = self._event(
            {"type": "incoming", "phone": "84912345678", "content": "hi"},
            key="in-1",
            channel=speedsms,
        )
        self.assertEqual(event.state, "ignored")

    # -- the processing cron's batch -------------------------------------
    def _stored(self, payload):
        raw = wh.encode(payload)
        return self.Event._store(
            self.zalo,
            wh.sign(raw, payload["timestamp"]),
            payload["event_name"],
            raw.decode(),
            event_at=zalo_time(payload["timestamp"]),
        )

    def test_batch_processes_stored_events_in_order(self):
        cron = self.env.ref("multichannel_messaging.ir_cron_messaging_process_events")
        triggers = (
            self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)])
        )
        follow = self._stored(wh.follow(user_id="5550001"))
        text = self._stored(wh.user_text("Xin chào", user_id="5550001"))
        self.assertEqual((follow | text).mapped("state"), ["received", "received"])
        self.assertEqual(
            self.env["ir.cron.trigger"]
            .sudo()
            .search_count([("cron_id", "=", cron.id)]),
            triggers + 2,
        )
        self.assertEqual(self.Event._cron_process_pending(batch_size=1), 2)
        self.assertEqual((follow | text).mapped("state"), ["done", "done"])
        identity = self._identity_of("5550001")
        self.assertTrue(identity.is_follower)
        self.assertEqual(text.identity_id, identity)
        self.assertEqual(text.text, "Xin chào")

    def _identity_of(self, user_id):
        return self.Identity.search(
            [("channel_id", "=", self.zalo.id), ("external_id", "=", user_id)]
        )

    def test_failing_event_does_not_block_others(self):
        first = self._stored(wh.follow(user_id="5550002"))
        broken = self._stored(wh.submit_info("not a phone", user_id="5550002"))
        last = self._stored(wh.follow(user_id="5550003"))
        self.assertEqual(self.Event._cron_process_pending(batch_size=2), 3)
        self.assertEqual(first.state, "done")
        self.assertEqual(broken.state, "error")
        self.assertTrue(broken.error_message)
        self.assertEqual(last.state, "done")
        self.assertTrue(self._identity_of("5550003").is_follower)

    def test_replay_is_stored_and_processed_once(self):
        payload = wh.user_text("Một lần", user_id="5550004")
        self.assertTrue(self._stored(payload))
        self.assertFalse(self._stored(payload), "a replay is not stored")
        self.assertEqual(self.Event._cron_process_pending(), 1)
        self.assertFalse(self._stored(payload), "nor once processed")
        self.assertEqual(self.Event._cron_process_pending(), 0)
        events = self.Event.search(
            [("channel_id", "=", self.zalo.id), ("sender_ref", "=", "5550004")]
        )
        self.assertEqual(events.mapped("state"), ["done"])

    def test_reprocess_error_event(self):
        event = self._event(wh.submit_info("abc"))
        self.assertEqual(event.state, "error")
        payload = wh.submit_info("0912345678")
        event.payload = json.dumps(payload)
        event.action_process()
        self.assertEqual(event.state, "done")

    # -- failures: retried with backoff, then failed; a Manager retries -----
    def _patch_follow(self, handler):
        return patch.object(type(self.Event), "_process_zalo_follow", handler)

    def _make_due(self, event):
        """As if the next try's time had come."""
        now = fields.Datetime.now()
        event.write(
            {
                "next_try_at": now - timedelta(seconds=1),
                "processed_at": now - timedelta(minutes=1),
            }
        )

    def test_unexpected_error_retried_with_backoff_then_failed(self):
        event = self._stored(wh.follow(user_id="5550010"))
        cron = self.env.ref(CRON_XMLID)
        Trigger = self.env["ir.cron.trigger"].sudo()

        def boom(event, data):
            raise RuntimeError("provider down")

        with self._patch_follow(boom):
            for attempt, delay in enumerate(RETRY_DELAYS, start=1):
                self.assertEqual(self.Event._cron_process_pending(), 1)
                self.assertEqual(event.state, "received")
                self.assertEqual(event.attempt_count, attempt)
                self.assertIn("RuntimeError: provider down", event.error_message)
                self.assertAlmostEqual(
                    event.next_try_at,
                    fields.Datetime.now() + delay,
                    delta=timedelta(seconds=5),
                )
                self.assertTrue(
                    Trigger.search_count(
                        [("cron_id", "=", cron.id), ("call_at", "=", event.next_try_at)]
                    ),
                    "the cron is triggered for the next try",
                )
                self.assertEqual(
                    self.Event._cron_process_pending(), 0, "not before its next try"
                )
                self._make_due(event)
            self.assertEqual(self.Event._cron_process_pending(), 1)
        self.assertEqual(event.state, "error", "failed after the last try")
        self.assertEqual(event.attempt_count, len(RETRY_DELAYS) + 1)
        self.assertFalse(event.next_try_at)
        self.assertIn("provider down", event.error_message)
        self.assertEqual(self.Event._cron_process_pending(), 0, "never tried again")
        self.assertFalse(self._identity_of("5550010"))

    def test_error_the_payload_explains_fails_at_once(self):
        event = self._stored(wh.submit_info("not a phone", user_id="5550011"))
        self.Event._cron_process_pending()
        self.assertEqual(event.state, "error")
        self.assertEqual(event.attempt_count, 1)
        self.assertFalse(event.next_try_at)

    def test_stored_payload_not_json_fails_with_its_error(self):
        for payload in ("not json", "[1, 2]"):
            event = self.Event._store(self.zalo, payload, "follow", payload)
            event._process()
            self.assertEqual(event.state, "error")
            self.assertIn("JSON", event.error_message)

    def test_failure_at_flush_is_kept_and_the_batch_goes_on(self):
        """A value PostgreSQL refuses, written by one event's processing,
        fails in that event's savepoint only."""
        first = self._stored(wh.follow(user_id="5550012"))
        broken = self._stored(dict(wh.follow(user_id="5550013"), source="nul"))
        last = self._stored(wh.follow(user_id="5550014"))
        process_follow = type(self.Event)._process_zalo_follow

        def nul_text(event, data):
            if data.get("source") == "nul":
                event.text = "a\x00b"  # refused when flushed
                return "done", None
            return process_follow(event, data)

        with self._patch_follow(nul_text):
            self.assertEqual(self.Event._cron_process_pending(batch_size=3), 3)
        self.assertEqual((first | last).mapped("state"), ["done", "done"])
        self.assertEqual(broken.state, "received")
        self.assertEqual(broken.attempt_count, 1)
        self.assertIn("NUL", broken.error_message)
        self.assertFalse(broken.text)
        self.assertTrue(self._identity_of("5550014").is_follower)

    def test_action_retry_is_for_managers(self):
        event = self._stored(wh.submit_info("abc", user_id="5550015"))
        self.Event._cron_process_pending()
        self.assertEqual(event.state, "error")
        user = self._make_user(
            "event_user", "multichannel_messaging.group_messaging_user"
        )
        with self.assertRaises(AccessError):
            event.with_user(user).action_retry()
        self.assertEqual(event.state, "error")
        manager = self._make_user(
            "event_manager", "multichannel_messaging.group_messaging_manager"
        )
        event.payload = json.dumps(wh.submit_info("0912345678", user_id="5550015"))
        event.with_user(manager).action_retry()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.attempt_count, 0)
        self.assertFalse(event.error_message)
        self.assertTrue(self._identity_of("5550015").partner_id)

    def test_action_retry_leaves_processed_events_alone(self):
        event = self._stored(wh.follow(user_id="5550016"))
        self.Event._cron_process_pending()
        processed_at = event.processed_at
        event.with_user(
            self._make_user(
                "event_manager2", "multichannel_messaging.group_messaging_manager"
            )
        ).action_retry()
        self.assertEqual(event.state, "done")
        self.assertEqual(event.processed_at, processed_at)
