from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from ..engine import claim
from ..providers.sandbox import sandbox_outcome
from .common import MessagingCase


@tagged("post_install", "-at_install")
class TestSandboxFlow(MessagingCase):
    def test_queued_to_delivered(self):
        message = self._queue(self.partner_a)
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.recipient, "84912345678")
        self.assertEqual(message.body, "Xin chào Nguyễn Văn An!")
        self.assertEqual(message.res_model, "res.partner")
        self.assertEqual(message.res_id, self.partner_a.id)
        self.Message._process_queue()
        self.assertEqual(message.state, "delivered")
        self.assertEqual(message.attempt_count, 1)
        self.assertTrue(message.provider_message_id.startswith("sandbox-"))
        self.assertTrue(message.sent_at)
        self.assertTrue(message.delivered_at)
        self.assertFalse(message.read_at)

    def test_read_share(self):
        message = self._queue(self.partner_a, channel=self.sandbox_b)
        self.Message._process_queue()
        self.assertEqual(message.state, "read")
        self.assertTrue(message.read_at)
        self.assertTrue(message.delivered_at)

    def test_failed_share_keeps_realistic_code(self):
        self.sandbox.sandbox_fail_ratio = 1.0
        message = self._queue(self.partner_a)
        self.Message._process_queue()
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.failure_type, "unreachable")
        self.assertIn(message.error_code, ("-118", "-139", "-114", "-141"))
        self.assertTrue(message.error_message)

    def test_ratio_is_a_share(self):
        self.sandbox.write({"sandbox_fail_ratio": 0.3, "sandbox_read_ratio": 0.5})
        partners = self.env["res.partner"].create(
            [{"name": f"Khách {i}", "mobile": f"0912 000 {i:03d}"} for i in range(200)]
        )
        # the sandbox draws each outcome from the tracking id: the test
        # chooses the ids, so it knows every outcome in advance (random
        # ones made this test a lottery)
        tracking_ids = ["share-test-%03d" % index for index in range(200)]
        messages = self.Message.create(
            [
                {
                    "partner_id": p.id,
                    "channel_id": self.sandbox.id,
                    "template_id": self.template.id,
                    "tracking_id": tracking_id,
                }
                for p, tracking_id in zip(partners, tracking_ids, strict=True)
            ]
        )
        self.assertEqual(messages.mapped("tracking_id"), tracking_ids)
        self.Message._process_queue()
        self.assertEqual(
            messages.mapped("state"),
            [sandbox_outcome(t, 0.3, 0.5) for t in tracking_ids],
        )
        failed = len(messages.filtered(lambda m: m.state == "failed"))
        read = len(messages.filtered(lambda m: m.state == "read"))
        self.assertEqual(len(messages.filtered(lambda m: m.state == "queued")), 0)
        # The shares, as if the hash were a fair coin: failed ~ Binomial(200,
        # 0.3), read ~ Binomial(200, 0.7 * 0.5). Exact binomial tails (sum of
        # C(n,k) p^k (1-p)^(n-k) outside the bounds): P(failed outside
        # [29, 94]) = 2.5e-7 and P(read outside [38, 105]) = 3.5e-7, so even
        # with random ids both hold in all but 6 runs in ten million.
        # (These ids give 55 failed and 69 read.)
        self.assertTrue(29 <= failed <= 94, failed)
        self.assertTrue(38 <= read <= 105, read)

    def test_future_message_waits(self):
        message = self._queue(
            self.partner_a,
            scheduled_at=fields.Datetime.now() + timedelta(hours=1),
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.attempt_count, 0)

    def test_no_address_is_skipped_with_reason(self):
        message = self._queue(self.partner_nothing)
        self.assertEqual(message.state, "skipped")
        self.assertEqual(message.failure_type, "no_address")
        self.assertIn(self.partner_nothing.name, message.error_message)
        self.Message._process_queue()
        self.assertEqual(message.attempt_count, 0)

    def test_sandbox_uses_email_when_no_phone(self):
        message = self._queue(self.partner_email_only)
        self.assertEqual(message.recipient, "dung@example.vn")

    def test_opted_out_marketing_skipped_transactional_sent(self):
        self.partner_a.messaging_opt_out = True
        marketing = self._queue(self.partner_a)
        transactional = self._queue(self.partner_a, template=self.template_tx)
        self.assertEqual(marketing.state, "skipped")
        self.assertEqual(marketing.failure_type, "opt_out")
        self.Message._process_queue()
        self.assertEqual(transactional.state, "delivered")

    def test_opt_out_per_channel(self):
        # an opt-out on one channel by phone writes the number to Odoo's
        # phone blacklist: every channel by phone skips it (one truth)
        self.partner_a.messaging_opt_out_channel_ids = self.sandbox
        self.assertTrue(self.partner_a.messaging_phone_blacklisted)
        self.assertEqual(self._queue(self.partner_a).state, "skipped")
        other = self._queue(self.partner_a, channel=self.sandbox_b)
        self.assertEqual(other.state, "skipped")
        self.assertIn(self.sandbox_b, self.partner_a.messaging_opt_out_channel_ids)
        self.assertEqual(
            self._queue(self.partner_a, template=self.template_tx).state, "queued"
        )

    def test_unreachable_falls_back_at_once(self):
        self.sandbox.sandbox_fail_ratio = 1.0
        message = self._queue(
            self.partner_a,
            fallback_chain=[[self.sandbox_b.id, self.template.id]],
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "failed")
        child = message.fallback_child_ids
        self.assertEqual(len(child), 1)
        self.assertEqual(child.fallback_parent_id, message)
        self.assertEqual(child.channel_id, self.sandbox_b)
        self.assertEqual(child.state, "read")

    def test_no_address_falls_back_to_next_step(self):
        email = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="Mail", channel_type="email")
        )
        email_template = self.env["messaging.template"].create(
            {
                "name": "Mail",
                "channel_type": "email",
                "subject": "Chào {{ object.name }}",
                "body": "Nội dung",
            }
        )
        zalo = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="Zalo", channel_type="zalo")
        )
        zalo_cs = self.env["messaging.template"].create(
            {"name": "CS", "channel_type": "zalo", "body": "Chào bạn"}
        )
        message = self._queue(
            self.partner_email_only,
            channel=zalo,
            template=zalo_cs,
            fallback_chain=[[email.id, email_template.id]],
        )
        self.assertEqual(message.state, "skipped")
        child = message.fallback_child_ids
        self.assertEqual(child.channel_id, email)
        self.assertEqual(child.subject, "Chào Phạm Minh Dũng")
        self.Message._process_queue()
        self.assertEqual(child.state, "sent")
        self.assertEqual(child.mail_mail_id.email_to, "dung@example.vn")

    def test_template_of_other_channel_type_refused(self):
        email_template = self.env["messaging.template"].create(
            {"name": "Mail", "channel_type": "email", "body": "x"}
        )
        with self.assertRaisesRegex(ValidationError, "Mail"):
            self._queue(self.partner_a, template=email_template)

    def test_template_of_other_model_refused(self):
        order_template = self.env["messaging.template"].create(
            {
                "name": "Order",
                "channel_type": "sandbox",
                "model": "sale.order",
                "body": "{{ object.name }}",
            }
        )
        with self.assertRaisesRegex(UserError, "sale.order"):
            self._queue(self.partner_a, template=order_template)

    def test_stale_sending_becomes_unknown_not_resent(self):
        message = self._queue(self.partner_a)
        message.write(
            {
                "state": "sending",
                "attempt_count": 1,
                "claim_until": fields.Datetime.now() - timedelta(minutes=5),
            }
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "unknown")
        self.assertEqual(message.failure_type, "crash")
        self.assertEqual(message.attempt_count, 1)

    def test_claimed_row_not_claimed_twice(self):
        message = self._queue(self.partner_a)
        first = claim.claim_batch(self.env)
        self.assertIn(message, first)
        self.assertNotIn(message, claim.claim_batch(self.env))

    def test_cancel_and_retry(self):
        message = self._queue(self.partner_a)
        message.action_cancel()
        self.assertEqual(message.state, "cancelled")
        self.Message._process_queue()
        self.assertEqual(message.state, "cancelled")
        failed = self._queue(self.partner_b)
        failed._set_failed("provider", "boom", code="-1")
        failed.action_retry()
        self.assertEqual(failed.state, "queued")
        self.Message._process_queue()
        self.assertEqual(failed.state, "delivered")

    def test_sending_message_cannot_be_deleted(self):
        message = self._queue(self.partner_a)
        message.write({"state": "sending"})
        with self.assertRaises(UserError):
            message.unlink()

    def test_one_off_message_logged_in_chatter(self):
        message = self._queue(self.partner_a)
        self.Message._process_queue()
        self.assertEqual(message.state, "delivered")
        posted = self.partner_a.message_ids.filtered(
            lambda m: "84912345678" in (m.body or "")
        )
        self.assertTrue(posted)
        self.assertIn("Xin chào Nguyễn Văn An!", posted[0].body)

    def test_inactive_channel_holds_queue(self):
        message = self._queue(self.partner_a)
        self.sandbox.active = False
        self.Message._process_queue()
        self.assertEqual(message.state, "queued")
