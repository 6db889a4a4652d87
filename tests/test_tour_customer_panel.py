"""The customer panel in a real headless Chromium: Discuss opens it beside
a Zalo conversation with the customer's phone and order, and its "Send a
product" button opens the reply wizard."""

from odoo.tests import HttpCase, tagged

from .test_tour_conversation import admin_conversation

ORDER_NAME = "SO-TOUR-0001"


@tagged("post_install", "-at_install")
class TestTourCustomerPanel(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        _zalo, _agent, conversation = admin_conversation(
            cls.env, "tour-panel", "Tour Khách Panel", "0912 444 555"
        )
        env = conversation.env
        product = env["product.product"].create({"name": "Áo tour", "list_price": 10})
        env["sale.order"].create(
            {
                "name": ORDER_NAME,
                "partner_id": conversation.messaging_partner_id.id,
                "state": "sale",
                "order_line": [(0, 0, {"product_id": product.id})],
            }
        )

    def test_customer_panel(self):
        self.start_tour("/odoo/discuss", "messaging_customer_panel_tour", login="admin")
