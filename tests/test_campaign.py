from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import MessagingCase


@tagged("post_install", "-at_install")
class TestCampaign(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tag = cls.env["res.partner.category"].create({"name": "VIP test"})
        cls.partner_a.category_id = tag
        cls.partner_b.category_id = tag
        cls.seg_vip = cls.env["messaging.segment"].create(
            {"name": "VIP", "domain": str([("category_id", "in", tag.ids)])}
        )
        cls.seg_an = cls.env["messaging.segment"].create(
            {
                "name": "An + Cường + no address",
                "domain": str(
                    [
                        (
                            "id",
                            "in",
                            [
                                cls.partner_a.id,
                                cls.partner_c.id,
                                cls.partner_nothing.id,
                            ],
                        )
                    ]
                ),
            }
        )

    def _campaign(self, **vals):
        return self.env["messaging.campaign"].create(
            dict(
                {
                    "name": "Test",
                    "segment_ids": [(6, 0, (self.seg_vip | self.seg_an).ids)],
                    "channel_id": self.sandbox.id,
                    "template_id": self.template.id,
                },
                **vals,
            )
        )

    def test_segment_count_and_invalid_domain(self):
        self.assertEqual(self.seg_vip.partner_count, 2)
        with self.assertRaisesRegex(ValidationError, "not valid"):
            self.env["messaging.segment"].create(
                {"name": "bad", "domain": "[('no_such_field', '=', 1)]"}
            )

    def test_overlapping_groups_one_message_per_customer(self):
        campaign = self._campaign()
        self.assertEqual(campaign.recipient_count, 4)
        campaign.action_confirm()
        self.assertEqual(campaign.state, "waiting")
        self.assertFalse(campaign.message_ids_sent)
        campaign.action_activate()
        self.assertEqual(campaign.state, "running")
        messages = campaign.message_ids_sent
        self.assertEqual(len(messages), 4)
        self.assertEqual(len(messages.partner_id), 4)
        self.Message._process_queue()
        self.assertEqual(campaign.state, "done")
        self.assertEqual(campaign.count_total, 4)
        self.assertEqual(campaign.count_sent, 3)
        self.assertEqual(campaign.count_delivered, 3)
        self.assertEqual(campaign.count_skipped, 1)
        self.assertEqual(campaign.count_queued, 0)
        self.assertEqual(campaign.progress, 100.0)
        self.assertEqual(campaign.delivered_rate, 100.0)

    def test_extra_domain_filters(self):
        campaign = self._campaign(extra_domain=str([("id", "!=", self.partner_a.id)]))
        self.assertEqual(campaign.recipient_count, 3)

    def test_activate_requires_waiting(self):
        campaign = self._campaign()
        with self.assertRaisesRegex(UserError, "waiting"):
            campaign.action_activate()

    def test_campaign_without_channel_refused(self):
        campaign = self._campaign(channel_id=False)
        with self.assertRaisesRegex(UserError, "no channel"):
            campaign.action_confirm()

    def test_campaign_without_recipient_refused(self):
        campaign = self._campaign(segment_ids=[(5, 0, 0)])
        with self.assertRaisesRegex(UserError, "no recipient"):
            campaign.action_confirm()

    def test_schedule_in_past_refused(self):
        campaign = self._campaign(
            scheduled_at=fields.Datetime.now() - timedelta(days=1)
        )
        with self.assertRaisesRegex(UserError, "past"):
            campaign.action_confirm()

    def test_template_of_other_channel_refused(self):
        email_template = self.env["messaging.template"].create(
            {"name": "Mail", "channel_type": "email", "body": "x"}
        )
        with self.assertRaises(ValidationError):
            self._campaign(template_id=email_template.id)

    def test_scheduled_campaign_waits(self):
        campaign = self._campaign(
            scheduled_at=fields.Datetime.now() + timedelta(hours=2)
        )
        campaign.action_confirm()
        campaign.action_activate()
        self.Message._process_queue()
        self.assertEqual(campaign.count_queued, 3)
        self.assertEqual(campaign.state, "running")

    def test_pause_holds_and_resume_sends(self):
        campaign = self._campaign()
        campaign.action_confirm()
        campaign.action_activate()
        campaign.action_pause()
        self.assertEqual(campaign.state, "paused")
        self.Message._process_queue()
        self.assertEqual(campaign.count_queued, 3)
        campaign.action_resume()
        self.Message._process_queue()
        self.assertEqual(campaign.count_queued, 0)
        self.assertEqual(campaign.state, "done")

    def test_cancel_cancels_queued(self):
        campaign = self._campaign()
        campaign.action_confirm()
        campaign.action_activate()
        campaign.action_cancel()
        self.assertEqual(campaign.state, "cancelled")
        self.assertFalse(
            campaign.message_ids_sent.filtered(lambda m: m.state == "queued")
        )

    def test_fallback_chain_counts(self):
        self.sandbox.sandbox_fail_ratio = 1.0
        campaign = self._campaign()
        self.env["messaging.campaign.fallback"].create(
            {
                "campaign_id": campaign.id,
                "channel_id": self.sandbox_b.id,
                "template_id": self.template.id,
            }
        )
        campaign.action_confirm()
        campaign.action_activate()
        self.Message._process_queue()
        self.assertEqual(campaign.count_fallback, 4)
        self.assertEqual(campaign.count_read, 3)
        self.assertEqual(campaign.state, "done")

    def test_copy_is_draft(self):
        campaign = self._campaign()
        campaign.action_confirm()
        copy = campaign.copy()
        self.assertEqual(copy.state, "draft")
        self.assertIn("(copy)", copy.name)
