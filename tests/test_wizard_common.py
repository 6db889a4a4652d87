"""Fixtures shared by the segment, wizard and report tests (no test here)."""

from odoo import Command

from .common import MessagingCase


class SalesMessagingCase(MessagingCase):
    """MessagingCase plus products, VND orders and channels with prices."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.vnd = cls.env.ref("base.VND")
        cls.vnd.active = True
        cls.pricelist_vnd = cls.env["product.pricelist"].create(
            {"name": "VND test", "currency_id": cls.vnd.id}
        )
        Product = cls.env["product.product"]
        cls.product_tshirt = Product.create(
            {"name": "Áo thun test", "list_price": 199000, "type": "consu"}
        )
        cls.product_coffee = Product.create(
            {"name": "Cà phê test", "list_price": 185000, "type": "consu"}
        )
        cls.template_order = cls.env["messaging.template"].create(
            {
                "name": "Xác nhận đơn",
                "channel_type": "sandbox",
                "model": "sale.order",
                "category": "transactional",
                "body": "Đơn {{ object.name }} trị giá "
                "{{ format_amount(object.amount_total, object.currency_id) }} "
                "ngày {{ format_date(object.date_order, date_format='dd/MM/yyyy') }}.",
            }
        )
        cls.partner_bad_phone = cls.env["res.partner"].create(
            {"name": "Số Sai", "mobile": "12345"}
        )
        cls.partner_opted_out = cls.env["res.partner"].create(
            {
                "name": "Không Nhận",
                "mobile": "0913 111 222",
                "messaging_opt_out": True,
            }
        )

    @classmethod
    def _order(cls, partner, product=None, qty=1, confirm=True, date=None):
        product = product or cls.product_tshirt
        order = cls.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "pricelist_id": cls.pricelist_vnd.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_qty": qty,
                            "price_unit": product.list_price,
                        }
                    )
                ],
            }
        )
        if confirm:
            order.action_confirm()
        if date:
            order.date_order = date
        return order

    @classmethod
    def _segment(cls, partners, name="Test group"):
        return cls.env["messaging.segment"].create(
            {"name": name, "domain": str([("id", "in", partners.ids)])}
        )
