from datetime import timedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .test_wizard_common import SalesMessagingCase


@tagged("post_install", "-at_install")
class TestSegmentRating(SalesMessagingCase):
    """Customer groups from Odoo's ratings (``rating.rating``)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Segment = cls.env["messaging.segment"]
        cls.now = fields.Datetime.now()
        cls.order = cls._order(cls.partner_c)
        # a: 5 stars on an order, this week; b: 2 stars, this week;
        # c: 5 stars on a contact, 60 days ago; e-mail only: asked, not rated
        cls._rate(cls.partner_a, cls.order, 5)
        cls._rate(cls.partner_b, cls.order, 2)
        cls._rate(cls.partner_c, cls.partner_b, 5, days_ago=60)
        cls._rate(cls.partner_email_only, cls.order, 5, consumed=False)

    @classmethod
    def _rate(cls, partner, record, stars, days_ago=1, consumed=True):
        rating = cls.env["rating.rating"].create(
            {
                "res_model_id": cls.env["ir.model"]._get_id(record._name),
                "res_id": record.id,
                "partner_id": partner.id,
                "rating": stars,
                "consumed": consumed,
            }
        )
        rating.flush_recordset()
        cls.env.cr.execute(
            "UPDATE rating_rating SET create_date = %s WHERE id = %s",
            [cls.now - timedelta(days=days_ago), rating.id],
        )
        rating.invalidate_recordset()
        return rating

    def _build(self, **vals):
        return self.Segment.create(
            dict({"name": "Reviews", "builder": "rating"}, **vals)
        )

    def _found(self, segment):
        # only this test's contacts: the demo data has ratings too
        test_partners = (
            self.partner_a | self.partner_b | self.partner_c | self.partner_email_only
        )
        return segment._get_partners() & test_partners

    def test_five_star_raters_in_the_period(self):
        segment = self._build(builder_period_days=30)
        self.assertIn("messaging_rating_ids", segment.domain)
        self.assertEqual(self._found(segment), self.partner_a)
        # any time: the older rating counts too; never a rating not given
        segment.builder_period_days = 0
        self.assertEqual(self._found(segment), self.partner_a | self.partner_c)
        # a fixed period
        segment.write(
            {
                "builder_date_from": (self.now - timedelta(days=90)).date(),
                "builder_date_to": (self.now - timedelta(days=30)).date(),
            }
        )
        self.assertEqual(self._found(segment), self.partner_c)

    def test_low_ratings_and_star_range(self):
        segment = self._build(builder_rating_min=1, builder_rating_max=2)
        self.assertEqual(self._found(segment), self.partner_b)
        segment.builder_rating_max = 5
        self.assertEqual(
            self._found(segment), self.partner_a | self.partner_b | self.partner_c
        )

    def test_ratings_of_one_kind_of_document(self):
        orders = self._build(
            builder_rating_model_id=self.env["ir.model"]._get_id("sale.order")
        )
        self.assertEqual(self._found(orders), self.partner_a)
        contacts = self._build(
            builder_rating_model_id=self.env["ir.model"]._get_id("res.partner")
        )
        self.assertEqual(self._found(contacts), self.partner_c)

    def test_stars_checked(self):
        with self.assertRaisesRegex(ValidationError, "stars go from 1 to 5"):
            self._build(builder_rating_min=0)
        with self.assertRaisesRegex(ValidationError, "lowest first"):
            self._build(builder_rating_min=5, builder_rating_max=4)
        with self.assertRaisesRegex(ValidationError, "stars go from 1 to 5"):
            self._build(builder_rating_max=6)

    def test_conditions_in_words(self):
        segment = self._build(builder_period_days=30)
        self.assertEqual(
            segment.conditions_text,
            "Contacts who rated us 5 stars in the last 30 days.",
        )
        segment.write(
            {
                "builder_rating_min": 4,
                "builder_rating_model_id": self.env["ir.model"]._get_id("sale.order"),
            }
        )
        self.assertIn("4 to 5 stars", segment.conditions_text)
        self.assertIn("Sales Order", segment.conditions_text)
        self.env["res.lang"]._activate_lang("vi_VN")
        text = segment.with_context(lang="vi_VN").conditions_text
        self.assertIn("4 đến 5 sao", text)
        self.assertIn("30 ngày", text)

    def test_domain_stays_a_subquery(self):
        """At a million contacts the group is one query on the ratings, not a
        list of ids."""
        segment = self._build(builder_period_days=30)
        query = self.env["res.partner"]._where_calc(segment._get_partner_domain())
        sql = query.select().code
        self.assertIn("rating_rating", sql)
        self.assertNotIn(str(self.partner_a.id) + ",", segment.domain)
