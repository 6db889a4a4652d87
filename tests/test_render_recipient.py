"""Customers read amounts and dates in their own language, and dates in the
shop's time zone, whatever the sender's language and time zone
(engine/rendering.py, THE renderer)."""

from datetime import datetime

from odoo.tests import tagged

from odoo.addons.multichannel_messaging.engine import rendering

from .common import MessagingCase


@tagged("post_install", "-at_install")
class TestRenderForRecipient(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("vi_VN")
        cls.vnd = cls.env.ref("base.VND")
        cls.vnd.active = True
        # the shop is in Vietnam: 18:30 UTC on the 2nd is 01:30 on the 3rd
        cls.company.partner_id.tz = "Asia/Ho_Chi_Minh"
        cls.partner_a.lang = "vi_VN"
        cls.partner_b.lang = "en_US"
        pricelist = cls.env["product.pricelist"].create(
            {"name": "VND", "currency_id": cls.vnd.id, "company_id": cls.company.id}
        )
        product = cls.env["product.product"].create(
            {"name": "Set quà Tết", "list_price": 1144250, "taxes_id": False}
        )
        cls.orders = cls.env["sale.order"]
        for partner in (cls.partner_a, cls.partner_b):
            cls.orders |= cls.env["sale.order"].create(
                {
                    "partner_id": partner.id,
                    "pricelist_id": pricelist.id,
                    "date_order": datetime(2026, 12, 2, 18, 30),
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "price_unit": 1144250,
                                "tax_id": False,
                            },
                        )
                    ],
                }
            )
        cls.order_template = cls.env["messaging.template"].create(
            {
                "name": "Order total",
                "channel_type": "sandbox",
                "model": "sale.order",
                "category": "transactional",
                "body": "{{ format_amount(object.amount_total, object.currency_id) }}"
                " on {{ format_date(object.date_order) }}",
            }
        )

    def _bodies(self, lang, tz):
        template = self.order_template.with_context(lang=lang, tz=tz)
        rendered = rendering.render(template, self.orders.ids)
        return [rendered[order.id]["body"] for order in self.orders]

    def test_each_recipient_reads_its_own_format(self):
        expected = ["1.144.250\xa0₫ on 03/12/2026", "1,144,250\xa0₫ on 12/03/2026"]
        # whoever sends, from wherever: the same two messages
        for lang, tz in (("en_US", "UTC"), ("vi_VN", "Europe/Paris"), (False, False)):
            self.assertEqual(self._bodies(lang, tz), expected, (lang, tz))

    def test_queued_message_rendered_for_its_recipient(self):
        order = self.orders[0]
        message = self._queue(
            self.partner_a,
            template=self.order_template,
            res_model="sale.order",
            res_id=order.id,
        )
        self.assertEqual(message.body, "1.144.250\xa0₫ on 03/12/2026")

    def test_recipient_without_language_reads_the_senders(self):
        self.partner_b.lang = False
        self.assertEqual(
            self._bodies("vi_VN", "UTC")[1], "1.144.250\xa0₫ on 03/12/2026"
        )
