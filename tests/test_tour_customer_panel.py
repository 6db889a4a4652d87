"""The customer panel in a real headless Chromium: Discuss opens it beside
a Zalo conversation with the customer's phone and order, and its "Send a
product" button opens the reply wizard."""

from odoo.tests import HttpCase, tagged

from ..providers.zalo_events import zalo_time
from . import test_webhook_common as wh
from .common import admin_company_env

ORDER_NAME = "SO-TOUR-0001"


@tagged("post_install", "-at_install")
class TestTourCustomerPanel(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = admin_company_env(cls.env)
        zalo = env["messaging.channel"].create(
            wh.zalo_channel_values(webhook_token="tour-panel-token")
        )
        admin = env.ref("base.user_admin")
        env["messaging.team"].create(
            {
                "name": "Tour panel team",
                "channel_ids": [(6, 0, zalo.ids)],
                "user_ids": [(6, 0, admin.ids)],
                "available_only": False,
            }
        )
        partner = env["res.partner"].create(
            {
                "name": "Tour Khách Panel",
                "mobile": "0912 444 555",
                "country_id": env.ref("base.vn").id,
            }
        )
        env["messaging.identity"].create(
            {"channel_id": zalo.id, "external_id": wh.USER_ID, "partner_id": partner.id}
        )
        product = env["product.product"].create({"name": "Áo tour", "list_price": 10})
        env["sale.order"].create(
            {
                "name": ORDER_NAME,
                "partner_id": partner.id,
                "state": "sale",
                "order_line": [(0, 0, {"product_id": product.id})],
            }
        )
        payload = wh.user_text("Xin chào shop")
        event = env["messaging.event"]._store(
            zalo,
            "tour-panel-message",
            "user_send_text",
            wh.encode(payload).decode(),
            event_at=zalo_time(payload["timestamp"]),
        )
        event._process()

    def test_customer_panel(self):
        self.start_tour("/odoo/discuss", "messaging_customer_panel_tour", login="admin")
