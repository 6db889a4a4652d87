from datetime import datetime, timedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .test_wizard_common import SalesMessagingCase


@tagged("post_install", "-at_install")
class TestSegmentBuilders(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Segment = cls.env["messaging.segment"]
        cls.now = fields.Datetime.now()

    def _build(self, builder, **vals):
        return self.Segment.create(dict({"name": builder, "builder": builder}, **vals))

    def test_bought_product_in_a_period(self):
        self._order(self.partner_a, self.product_tshirt, date=datetime(2026, 1, 10, 3))
        self._order(self.partner_b, self.product_coffee, date=datetime(2026, 1, 12, 3))
        self._order(self.partner_c, self.product_tshirt, confirm=False)
        self._order(
            self.partner_email_only,
            self.product_tshirt,
            date=datetime(2025, 6, 1, 3),
        )
        segment = self._build(
            "product",
            builder_product_ids=[(6, 0, self.product_tshirt.ids)],
            builder_date_from="2026-01-01",
            builder_date_to="2026-01-31",
        )
        self.assertIn("sale_order_ids", segment.domain)
        self.assertIn("'any'", segment.domain)
        self.assertEqual(segment._get_partners(), self.partner_a)
        self.assertEqual(segment.partner_count, 1)
        # without the period, the older order counts too; drafts never do
        segment.write({"builder_date_from": False, "builder_date_to": False})
        self.assertEqual(
            segment._get_partners(), self.partner_a | self.partner_email_only
        )

    def test_same_order_must_match_product_and_period(self):
        """Product and date are conditions on one order, not on any two."""
        self._order(self.partner_a, self.product_tshirt, date=datetime(2025, 6, 1, 3))
        self._order(self.partner_a, self.product_coffee, date=datetime(2026, 1, 10, 3))
        segment = self._build(
            "product",
            builder_product_ids=[(6, 0, self.product_tshirt.ids)],
            builder_date_from="2026-01-01",
        )
        self.assertFalse(segment._get_partners())

    def test_last_n_days_is_relative_to_today(self):
        self._order(self.partner_a, date=self.now - timedelta(days=10))
        self._order(self.partner_b, date=self.now - timedelta(days=60))
        segment = self._build(
            "product",
            builder_product_ids=[(6, 0, self.product_tshirt.ids)],
            builder_period_days=30,
        )
        # stored as an expression, evaluated each time the group is used
        self.assertIn("context_today()", segment.domain)
        self.assertIn("relativedelta(days=30)", segment.domain)
        self.assertEqual(segment._get_partners(), self.partner_a)

    def test_had_an_order_cancelled(self):
        self._order(self.partner_a)
        cancelled = self._order(self.partner_b)
        cancelled._action_cancel()
        segment = self._build("cancelled")
        partners = segment._get_partners()
        self.assertIn(self.partner_b, partners)
        self.assertNotIn(self.partner_a, partners)

    def test_tags_include_sub_tags_as_tiers(self):
        Tag = self.env["res.partner.category"]
        tier = Tag.create({"name": "Tier test"})
        gold = Tag.create({"name": "Gold test", "parent_id": tier.id})
        silver = Tag.create({"name": "Silver test", "parent_id": tier.id})
        self.partner_a.category_id = gold
        self.partner_b.category_id = silver
        whole_tier = self._build("tag", builder_tag_ids=[(6, 0, tier.ids)])
        self.assertEqual(whole_tier._get_partners(), self.partner_a | self.partner_b)
        gold_only = self._build("tag", builder_tag_ids=[(6, 0, gold.ids)])
        self.assertEqual(gold_only._get_partners(), self.partner_a)

    def test_no_order_for_n_days(self):
        self._order(self.partner_a, date=self.now - timedelta(days=200))
        self._order(self.partner_b, date=self.now - timedelta(days=200))
        self._order(self.partner_b, date=self.now - timedelta(days=10))
        segment = self._build("inactive", builder_inactive_days=90)
        partners = segment._get_partners()
        self.assertIn(self.partner_a, partners)
        self.assertNotIn(self.partner_b, partners)  # ordered again recently
        self.assertNotIn(self.partner_c, partners)  # never ordered

    def test_switch_to_custom_keeps_the_built_domain_editable(self):
        segment = self._build("cancelled")
        built = segment.domain
        segment.builder = "custom"
        self.assertEqual(segment.domain, built)
        segment.domain = str([("id", "=", self.partner_a.id)])
        self.assertEqual(segment._get_partners(), self.partner_a)

    def test_plain_domain_segments_still_work(self):
        segment = self._segment(self.partner_a | self.partner_b)
        self.assertEqual(segment.builder, "custom")
        self.assertEqual(segment.partner_count, 2)

    def test_incomplete_builder_refused(self):
        with self.assertRaisesRegex(ValidationError, "pick the products"):
            self._build("product")
        with self.assertRaisesRegex(ValidationError, "at least one tag"):
            self._build("tag")
        with self.assertRaisesRegex(ValidationError, "above 0"):
            self._build("inactive", builder_inactive_days=0)
        with self.assertRaisesRegex(ValidationError, "ends before it starts"):
            self._build(
                "cancelled",
                builder_date_from="2026-02-01",
                builder_date_to="2026-01-01",
            )

    def test_form_count_is_live(self):
        self._order(self.partner_a, self.product_coffee)
        self._order(self.partner_b, self.product_coffee)
        with Form(self.Segment) as form:
            form.name = "Coffee buyers"
            form.builder = "product"
            form.builder_product_ids.add(self.product_coffee)
            self.assertEqual(form.partner_count, 2)
            self.assertIn("sale_order_ids", form.domain)
        segment = form.record
        self.assertEqual(segment._get_partners(), self.partner_a | self.partner_b)

    def test_campaign_reaches_a_built_group(self):
        self._order(self.partner_a, self.product_coffee)
        segment = self._build(
            "product", builder_product_ids=[(6, 0, self.product_coffee.ids)]
        )
        campaign = self.env["messaging.campaign"].create(
            {
                "name": "Coffee",
                "segment_ids": [(6, 0, segment.ids)],
                "channel_id": self.sandbox.id,
                "template_id": self.template.id,
            }
        )
        self.assertEqual(campaign.recipient_count, 1)
        campaign.action_confirm()
        campaign.action_activate()
        self.assertEqual(campaign.message_ids_sent.partner_id, self.partner_a)
