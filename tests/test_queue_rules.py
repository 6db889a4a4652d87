"""Throttles, marketing rules, fallbacks and routing of the queue, one by one."""

import time
from datetime import datetime, timedelta
from unittest.mock import patch

import pytz
from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from ..engine import campaign_stats, claim, dispatch, routing, throttle, transaction
from .common import MessagingCase

VN = pytz.timezone("Asia/Ho_Chi_Minh")


def vn_to_utc(*args):
    return VN.localize(datetime(*args)).astimezone(pytz.utc).replace(tzinfo=None)


@tagged("post_install", "-at_install")
class TestQueueRules(MessagingCase):
    def _local(self, utc_naive):
        return pytz.utc.localize(utc_naive).astimezone(VN)

    # -- throttles ----------------------------------------------------------

    # the throttle's clock is frozen (and moved by hand): on a busy machine,
    # wall time passing between two bookings shortened the waits measured
    @freeze_time(vn_to_utc(2026, 11, 23, 10, 0))
    def test_rate_books_consecutive_slots(self):
        self.sandbox.rate_per_second = 2
        wait, retry = throttle.reserve_slot(self.sandbox, max_wait=5)
        self.assertEqual((wait, retry), (0.0, None))
        wait, retry = throttle.reserve_slot(self.sandbox, max_wait=5)
        self.assertIsNone(retry)
        self.assertAlmostEqual(wait, 0.5, delta=0.05)
        wait, retry = throttle.reserve_slot(self.sandbox, max_wait=5)
        self.assertAlmostEqual(wait, 1.0, delta=0.05)

    @freeze_time(vn_to_utc(2026, 11, 23, 10, 0), as_kwarg="frozen")
    def test_late_wake_up_books_a_new_slot(self, frozen):
        """A worker that oversleeps its slot (busy machine) does not send on
        it: it books the next one, so sends never bunch up at the provider."""
        self.sandbox.rate_per_second = 20
        late = [0.05]  # the first wake-up is 50 ms late, the next on time

        def sleep(seconds):
            frozen.tick(seconds + (late.pop() if late else 0.0))

        throttle.reserve_slot(self.sandbox, max_wait=5)  # the next slot is 51.5 ms away
        with patch.object(throttle, "_sleep", sleep):
            retry_at = throttle.wait_for_slot(self.sandbox, max_wait=5)
        self.assertIsNone(retry_at)
        # the missed slot and the one used: two bookings after the first
        self.assertEqual(self.sandbox.throttle_day_count, 3)

    @freeze_time(vn_to_utc(2026, 11, 23, 10, 0), as_kwarg="frozen")
    def test_always_late_defers_the_message(self, frozen):
        self.sandbox.rate_per_second = 20
        throttle.reserve_slot(self.sandbox, max_wait=5)
        with patch.object(
            throttle, "_sleep", lambda seconds: frozen.tick(seconds + 0.02)
        ):
            retry_at = throttle.wait_for_slot(self.sandbox, max_wait=5)
        self.assertTrue(retry_at)
        self.assertEqual(
            self.sandbox.throttle_day_count, 1 + throttle.LATE_SLOT_ATTEMPTS
        )

    def test_quota_notes_are_kept_per_database(self):
        """A worker writes a channel's quota figures at most every few
        seconds, counted per database: one process may serve several
        databases, where the same channel id is another channel."""
        key = (self.env.registry.db_name, self.sandbox.id)
        other = ("another_database", self.sandbox.id)
        throttle._QUOTA_WRITES.pop(key, None)
        # the same channel id in another database was written a moment ago
        throttle._QUOTA_WRITES[other] = time.monotonic()
        self.addCleanup(throttle._QUOTA_WRITES.pop, other, None)
        self.addCleanup(throttle._QUOTA_WRITES.pop, key, None)
        written = []

        def update_quota(channel, daily=None, remaining=None):
            written.append((channel, remaining))

        with (
            patch.object(transaction, "auto_commit", return_value=True),
            patch.object(throttle, "update_quota", update_quota),
        ):
            throttle.note_quota(self.sandbox, 1000, 500)
            # ours was written a moment ago: this one waits
            throttle.note_quota(self.sandbox, 1000, 499)
        self.assertEqual(written, [(self.sandbox, 500)])
        self.assertIn(key, throttle._QUOTA_WRITES)

    @freeze_time(vn_to_utc(2026, 11, 23, 10, 0))
    def test_slot_too_far_is_deferred_not_booked(self):
        self.sandbox.min_interval_seconds = 5
        throttle.reserve_slot(self.sandbox, max_wait=0)
        before = self.sandbox.throttle_next_ts
        wait, retry = throttle.reserve_slot(self.sandbox, max_wait=0)
        self.assertIsNone(wait)
        self.assertGreater(retry, fields.Datetime.now() + timedelta(seconds=3))
        self.assertEqual(self.sandbox.throttle_next_ts, before)

    @freeze_time(vn_to_utc(2026, 11, 23, 10, 0))
    def test_spacing_of_five_seconds(self):
        self.sandbox.min_interval_seconds = 5
        self.sandbox.rate_per_second = 10
        throttle.reserve_slot(self.sandbox, max_wait=10)
        wait, _retry = throttle.reserve_slot(self.sandbox, max_wait=10)
        self.assertAlmostEqual(wait, 5.0, delta=0.05)

    # frozen: "tomorrow" read after the booking is the booking's tomorrow,
    # even at midnight in Ho Chi Minh City
    @freeze_time(vn_to_utc(2026, 11, 23, 23, 59, 59))
    def test_daily_cap_defers_to_next_local_midnight(self):
        self.sandbox.daily_cap = 2
        throttle.reserve_slot(self.sandbox, max_wait=0)
        throttle.reserve_slot(self.sandbox, max_wait=0)
        self.assertEqual(self.sandbox.throttle_day_count, 2)
        wait, retry = throttle.reserve_slot(self.sandbox, max_wait=0)
        self.assertIsNone(wait)
        local = self._local(retry)
        self.assertEqual((local.hour, local.minute), (0, 0))
        self.assertEqual(local.date(), (datetime.now(VN) + timedelta(days=1)).date())

    @freeze_time(vn_to_utc(2026, 11, 23, 10, 0))
    def test_daily_cap_holds_the_queue(self):
        self.sandbox.daily_cap = 2
        messages = self.Message.browse(
            [
                self._queue(p).id
                for p in (self.partner_a, self.partner_b, self.partner_c)
            ]
        )
        self.Message._process_queue()
        self.assertEqual(messages.mapped("state").count("delivered"), 2)
        held = messages.filtered(lambda m: m.state == "queued")
        self.assertEqual(len(held), 1)
        self.assertEqual(held.attempt_count, 0)
        self.assertEqual(self._local(held.scheduled_at).hour, 0)

    def test_campaign_eta_over_days(self):
        self.sandbox.daily_cap = 300
        partners = self.env["res.partner"].create(
            [{"name": f"K{i}", "mobile": f"0912 {i:06d}"} for i in range(1500)]
        )
        segment = self.env["messaging.segment"].create(
            {"name": "1500", "domain": str([("id", "in", partners.ids)])}
        )
        campaign = self.env["messaging.campaign"].create(
            {
                "name": "Big",
                "segment_ids": [(6, 0, segment.ids)],
                "channel_id": self.sandbox.id,
                "template_id": self.template.id,
            }
        )
        self.assertEqual(campaign.recipient_count, 1500)
        self.assertEqual(campaign.eta_days, 5)
        self.assertIn("5 days", campaign.eta_text)

    def test_eta_from_spacing(self):
        self.sandbox.min_interval_seconds = 5
        campaign = self.env["messaging.campaign"].create(
            {"name": "x", "channel_id": self.sandbox.id}
        )
        eta = campaign_stats.channel_eta(campaign, 720, self.sandbox)
        self.assertEqual(eta["days"], 1)
        self.assertEqual(campaign_stats.eta_text(self.env, eta), "about 1 h 0 min")

    # -- marketing rules --------------------------------------------------------

    def test_quiet_hours_hold_marketing_until_morning(self):
        self.sandbox.write({"quiet_hours_start": 21.0, "quiet_hours_end": 8.0})
        with freeze_time(vn_to_utc(2026, 11, 23, 22, 30)):
            marketing = self._queue(self.partner_a)
            transactional = self._queue(self.partner_b, template=self.template_tx)
            self.Message._process_queue()
            self.assertEqual(marketing.state, "queued")
            self.assertEqual(marketing.scheduled_at, vn_to_utc(2026, 11, 24, 8, 0))
            self.assertEqual(transactional.state, "delivered")

    def test_quiet_hours_not_applied_in_the_day(self):
        self.sandbox.write({"quiet_hours_start": 21.0, "quiet_hours_end": 8.0})
        with freeze_time(vn_to_utc(2026, 11, 23, 10, 0)):
            message = self._queue(self.partner_a)
            self.Message._process_queue()
            self.assertEqual(message.state, "delivered")

    def test_resend_window_skips_duplicate(self):
        self.sandbox.resend_window_minutes = 1440
        first = self._queue(self.partner_a)
        self.Message._process_queue()
        second = self._queue(self.partner_a)
        self.Message._process_queue()
        self.assertEqual(first.state, "delivered")
        self.assertEqual(second.state, "skipped")
        self.assertEqual(second.failure_type, "duplicate")

    def test_resend_window_ignores_transactional(self):
        self.sandbox.resend_window_minutes = 1440
        first = self._queue(self.partner_a, template=self.template_tx)
        self.Message._process_queue()
        second = self._queue(self.partner_a, template=self.template_tx)
        self.Message._process_queue()
        self.assertEqual((first.state, second.state), ("delivered", "delivered"))

    def test_recipient_daily_cap_for_marketing(self):
        self.sandbox.write(
            {"recipient_daily_cap": 1, "quiet_hours_start": 21, "quiet_hours_end": 8}
        )
        other_template = self.template.copy()
        with freeze_time(vn_to_utc(2026, 11, 23, 10, 0)):
            first = self._queue(self.partner_a)
            self.Message._process_queue()
            second = self._queue(self.partner_a, template=other_template)
            self.Message._process_queue()
        self.assertEqual(first.state, "delivered")
        self.assertEqual(second.state, "queued")
        self.assertEqual(second.scheduled_at, vn_to_utc(2026, 11, 24, 8, 0))

    # -- errors, fallback, recovery ----------------------------------------------

    def test_no_receipt_within_timeout_falls_back(self):
        self.sandbox.write(
            {"sandbox_receipt_delay": 3600, "delivery_timeout_minutes": 10}
        )
        message = self._queue(
            self.partner_a, fallback_chain=[[self.sandbox_b.id, self.template.id]]
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        self.assertFalse(message.fallback_child_ids)
        message.sent_at = fields.Datetime.now() - timedelta(minutes=11)
        self.Message._process_queue()
        child = message.fallback_child_ids
        self.assertEqual(child.channel_id, self.sandbox_b)
        self.assertEqual(child.state, "read")
        self.assertIn("No delivery receipt", message.error_message)
        self.Message._process_queue()
        self.assertEqual(len(message.fallback_child_ids), 1)

    def test_receipt_in_time_means_no_fallback(self):
        self.sandbox.write({"sandbox_receipt_delay": 0, "delivery_timeout_minutes": 10})
        message = self._queue(
            self.partner_a, fallback_chain=[[self.sandbox_b.id, self.template.id]]
        )
        self.Message._process_queue()
        message.sent_at = fields.Datetime.now() - timedelta(minutes=30)
        self.Message._process_queue()
        self.assertEqual(message.state, "delivered")
        self.assertFalse(message.fallback_child_ids)

    def _stale(self, message):
        message.write(
            {
                "state": "sending",
                "attempt_count": 1,
                "claim_until": fields.Datetime.now() - timedelta(seconds=1),
            }
        )

    def test_stale_esms_same_day_is_requeued(self):
        esms = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="eSMS", channel_type="esms")
        )
        template = self.env["messaging.template"].create(
            {"name": "s", "channel_type": "esms", "body": "x"}
        )
        message = self._queue(self.partner_a, channel=esms, template=template)
        self._stale(message)
        claim.recover_stale_sending(self.env)
        self.assertEqual(message.state, "queued")

    def test_stale_zalo_is_unknown(self):
        zalo = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="Zalo", channel_type="zalo")
        )
        template = self.env["messaging.template"].create(
            {"name": "z", "channel_type": "zalo", "zalo_template_id": "1"}
        )
        message = self._queue(self.partner_a, channel=zalo, template=template)
        self._stale(message)
        claim.recover_stale_sending(self.env)
        self.assertEqual(message.state, "unknown")

    def test_lost_lease_is_not_sent(self):
        message = self._queue(self.partner_a)
        mine = claim.claim_batch(self.env)
        self.assertEqual(mine, message)
        # lease expired and taken by another worker
        message.claim_token = "another-worker"
        self.assertFalse(claim.mark_sending(mine))
        self.assertFalse(claim.mark_sending(message))
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.attempt_count, 0)

    def test_claim_of_a_throttled_channel_is_capped_by_its_rate(self):
        """One claim takes what the channel's rate lets out in two seconds
        (at least one row): other workers share the rest."""
        partners = (self.partner_a, self.partner_b, self.partner_c)
        for _index in range(3):
            for partner in partners:
                self._queue(partner, template=self.template_tx)
        self.sandbox.rate_per_second = 2.5
        first = claim.claim_batch(self.env)
        self.assertEqual(len(first), 5)
        # the oldest rows first; the next claim gets the next ones
        second = claim.claim_batch(self.env)
        self.assertEqual(len(second), 4)
        self.assertFalse(first & second)
        self.assertLess(max(first.ids), min(second.ids))

    def test_claim_cap_by_spacing_and_without_throttle(self):
        for partner in (self.partner_a, self.partner_b, self.partner_c):
            self._queue(partner, template=self.template_tx)
            self._queue(partner, channel=self.sandbox_b, template=self.template_tx)
        # 5 s between messages: one row per claim (never none)
        self.sandbox.min_interval_seconds = 5
        self.sandbox.rate_per_second = 100
        batch = claim.claim_batch(self.env)
        # sandbox_b has no throttle: all three of its rows, up to the limit
        self.assertEqual(
            sorted(m.channel_id.name for m in batch),
            sorted([self.sandbox.name] + [self.sandbox_b.name] * 3),
        )
        self.assertEqual(len(claim.claim_batch(self.env, limit=1)), 1)

    def test_time_limit_gives_batch_back(self):
        for partner in (self.partner_a, self.partner_b):
            self._queue(partner)
        batch = claim.claim_batch(self.env)
        self.assertEqual(len(batch), 2)
        done = dispatch.dispatch(batch, auto_commit=False, deadline=0)
        self.assertEqual(done, 0)
        self.assertEqual(set(batch.mapped("state")), {"queued"})
        self.assertFalse(any(batch.mapped("claim_until")))
        self.assertEqual(len(claim.claim_batch(self.env)), 2)

    # -- routing -------------------------------------------------------------------

    def _zalo_setup(self, price_phone, price_uid, last_interaction=None):
        zalo = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="Zalo", channel_type="zalo")
        )
        template = self.env["messaging.template"].create(
            {
                "name": "z",
                "channel_type": "zalo",
                "zalo_template_id": "1",
                "zalo_route": "auto",
                "price_phone": price_phone,
                "price_uid": price_uid,
            }
        )
        self.env["messaging.identity"].create(
            {
                "partner_id": self.partner_a.id,
                "channel_id": zalo.id,
                "external_id": "123456789012345678",
                "last_interaction_at": last_interaction,
            }
        )
        return zalo, template

    def test_auto_route_takes_cheaper_uid(self):
        zalo, template = self._zalo_setup(300, 200)
        route = routing.get_route_and_address(zalo, template, self.partner_a)
        self.assertEqual(route, ("uid", "123456789012345678"))

    def test_auto_route_takes_cheaper_phone(self):
        zalo, template = self._zalo_setup(300, 400)
        route = routing.get_route_and_address(zalo, template, self.partner_a)
        self.assertEqual(route, ("phone", "84912345678"))

    def test_auto_route_without_identity_uses_phone(self):
        zalo, template = self._zalo_setup(300, 200)
        route = routing.get_route_and_address(zalo, template, self.partner_b)
        self.assertEqual(route, ("phone", "84987654321"))

    def test_consultation_window(self):
        zalo, _template = self._zalo_setup(
            300, 200, last_interaction=fields.Datetime.now() - timedelta(hours=30)
        )
        identity = self.partner_a._messaging_identity(zalo)
        self.assertEqual(identity.window_state, "free")
        identity.last_interaction_at = fields.Datetime.now() - timedelta(days=3)
        self.assertEqual(identity._get_window()[0], "paid")
        route = routing.get_route_and_address(zalo, False, self.partner_a)
        self.assertEqual(route, ("consultation", "123456789012345678"))
        identity.last_interaction_at = fields.Datetime.now() - timedelta(days=8)
        self.assertEqual(identity._get_window()[0], "closed")
        route = routing.get_route_and_address(zalo, False, self.partner_a)
        self.assertEqual(route, ("consultation", False))

    def test_automatic_routing_cheapest_first(self):
        zalo, zbs = self._zalo_setup(300, 200)
        zalo.cost_zalo_consultation = 50
        sms = self.env["messaging.channel"].create(
            dict(
                self.NO_THROTTLE, name="SMS", channel_type="esms", cost_per_segment=750
            )
        )
        sms_template = self.env["messaging.template"].create(
            {"name": "s", "channel_type": "esms", "body": "Chao ban"}
        )
        email = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="Mail", channel_type="email")
        )
        mail_template = self.env["messaging.template"].create(
            {"name": "m", "channel_type": "email", "body": "Chào bạn"}
        )
        segment = self.env["messaging.segment"].create(
            {
                "name": "3",
                "domain": str(
                    [
                        (
                            "id",
                            "in",
                            (
                                self.partner_a
                                | self.partner_b
                                | self.partner_email_only
                            ).ids,
                        )
                    ]
                ),
            }
        )
        campaign = self.env["messaging.campaign"].create(
            {
                "name": "Auto",
                "routing": "auto",
                "segment_ids": [(6, 0, segment.ids)],
                "channel_id": email.id,
                "template_id": mail_template.id,
                "fallback_ids": [
                    (0, 0, {"channel_id": sms.id, "template_id": sms_template.id}),
                    (0, 0, {"channel_id": zalo.id, "template_id": zbs.id}),
                ],
            }
        )
        mail_template.category = "marketing"
        campaign.action_confirm()
        campaign.action_activate()
        by_partner = {m.partner_id: m for m in campaign.message_ids_sent}
        # A has a Zalo user id: ZBS by uid (200) first, then SMS, no e-mail
        self.assertEqual(by_partner[self.partner_a].route, "uid")
        self.assertEqual(
            by_partner[self.partner_a].fallback_chain,
            [[sms.id, sms_template.id]],
        )
        # B has a phone only: ZBS by phone, then SMS
        self.assertEqual(by_partner[self.partner_b].route, "phone")
        self.assertEqual(
            by_partner[self.partner_b].fallback_chain, [[sms.id, sms_template.id]]
        )
        # the e-mail-only contact gets the e-mail
        self.assertEqual(by_partner[self.partner_email_only].channel_id, email)
        self.assertFalse(by_partner[self.partner_email_only].fallback_chain)
