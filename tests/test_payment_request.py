"""Pay without leaving the chat: ``sale.order.action_messaging_payment_request``
against the loopback Zalo and eSMS peers (ZBS payment template, VietQR in
the consultation window, SMS with the portal link), the errors that say what
to fill in, the portal link opened over HTTP, and one confirmation once paid."""

from urllib.parse import urlsplit

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from ..engine import payments
from .common import MessagingCase, PeerChannelsMixin, make_user
from .test_webhook_common import USER_ID

UPLOAD_IMAGE = "/v2.0/oa/upload/image"
CS = "/v3.0/oa/message/cs"
UID_TEMPLATE = "/v3.0/oa/message/template"
PAYMENT_TEMPLATE_ID = "200003"
USER_GROUPS = (
    "base.group_user,sales_team.group_sale_salesman_all_leads,"
    "multichannel_messaging.group_messaging_user"
)


@tagged("post_install", "-at_install")
class TestPaymentRequest(PeerChannelsMixin, MessagingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._start_provider_peers()
        cls.env["res.lang"]._activate_lang("vi_VN")
        cls.vnd = cls.env.ref("base.VND")
        cls.vnd.active = True
        # the sandboxes of MessagingCase would stand in for SMS: not here
        (cls.sandbox | cls.sandbox_b).active = False
        cls.zalo = cls._peer_channel(
            cls.zalo_peer.zalo_config(), name="Zalo OA Sen Việt", channel_type="zalo"
        )
        cls.esms = cls._peer_channel(
            cls.esms_peer.esms_config(), name="eSMS Sen Việt", channel_type="esms"
        )
        cls.company.partner_id.write({"city": "Hà Nội", "country_id": cls.vn.id})
        cls.vcb = cls.env["res.bank"].create({"name": "Vietcombank", "bic": "970436"})
        cls.bank = cls.env["res.partner.bank"].create(
            {
                "acc_number": "0071000123456",
                "partner_id": cls.company.partner_id.id,
                "bank_id": cls.vcb.id,
            }
        )
        cls.pricelist = cls.env["product.pricelist"].create(
            {"name": "Giá VND", "currency_id": cls.vnd.id}
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Áo dài lụa", "list_price": 1500000, "type": "service"}
        )
        cls.partner_a.lang = "vi_VN"
        cls.user = make_user(cls.env, "payer", USER_GROUPS, company=cls.company)
        cls.salesman = make_user(
            cls.env,
            "salesnomsg",
            "base.group_user,sales_team.group_sale_salesman_all_leads",
            company=cls.company,
        )
        cls.portal_user = make_user(cls.env, "portalpay", "base.group_portal")
        cls.env["ir.config_parameter"].set_param(
            "web.base.url", "http://shop.example.vn"
        )

    def setUp(self):
        super().setUp()
        self._reset_peers(self.zalo_peer, self.esms_peer)

    # -- helpers --------------------------------------------------------------

    def _order(self, partner=None, price=1500000, confirm=True):
        order = self.env["sale.order"].create(
            {
                "partner_id": (partner or self.partner_a).id,
                "pricelist_id": self.pricelist.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": 1,
                            "price_unit": price,
                            "tax_id": [(6, 0, [])],
                        },
                    )
                ],
            }
        )
        if confirm:
            order.action_confirm()
        return order

    def _identity(self, partner=None):
        return self.env["messaging.identity"].create(
            {
                "channel_id": self.zalo.id,
                "external_id": USER_ID,
                "partner_id": (partner or self.partner_a).id,
                "last_interaction_at": fields.Datetime.now(),
            }
        )

    def _request(self, orders, user=None):
        (orders.with_user(user or self.user)).action_messaging_payment_request()
        return self.Message.search(
            [
                ("res_model", "=", "sale.order"),
                ("res_id", "in", orders.ids),
                ("payment_kind", "=", "request"),
            ],
            order="id",
        )

    def _payment_template(self, **vals):
        params = [
            {
                "name": "customer_name",
                "kind": "1",
                "expr": "{{ object.partner_id.name }}",
            },
            {"name": "amount", "kind": "14", "expr": "{{ object.amount_total }}"},
            {"name": "bank_note", "kind": "15", "expr": "{{ object.name }}"},
        ]
        self.zalo_peer.templates[PAYMENT_TEMPLATE_ID] = self.zalo_peer.make_template(
            PAYMENT_TEMPLATE_ID,
            "Payment request",
            list_params=[
                {
                    "name": p["name"],
                    "require": True,
                    "type": "STRING",
                    "maxLength": 90,
                    "minLength": 0,
                    "acceptNull": False,
                }
                for p in params
            ],
        )
        values = {
            "name": "Yêu cầu thanh toán",
            "channel_type": "zalo",
            "category": "transactional",
            "model": "sale.order",
            "zalo_template_id": PAYMENT_TEMPLATE_ID,
            "zalo_route": "uid",
            "zbs_template_type": "3",
            "zalo_channel_id": self.zalo.id,
            "zbs_bank_account_id": self.bank.id,
            "param_ids": [
                (
                    0,
                    0,
                    {
                        "name": p["name"],
                        "expression": p["expr"],
                        "zalo_param_kind": p["kind"],
                    },
                )
                for p in params
            ],
        }
        values.update(vals)
        template = self.env["messaging.template"].create(values)
        # approved by Zalo (status is read from Zalo, not written by hand)
        template.sudo().zalo_status = "ENABLE"
        return template

    # -- route b: VietQR in the conversation ----------------------------------

    def test_vietqr_in_the_window_with_a_payable_link(self):
        self._identity()
        order = self._order()
        messages = self._request(order)
        self.assertEqual(len(messages), 1)
        message = messages
        self.assertEqual(message.route, "consultation")
        self.assertEqual(message.channel_id, self.zalo)
        self.assertEqual(message.recipient, USER_ID)
        self.assertEqual(message.attachment_id.mimetype, "image/png")
        # the customer's language and money
        self.assertIn("yêu cầu thanh toán cho đơn hàng %s" % order.name, message.body)
        self.assertIn("1.500.000 ₫", message.body)
        url = payments.portal_url(order)
        self.assertIn(url, message.body)
        self.assertIn("access_token=%s" % order.access_token, url)
        # the QR: the order's amount, its reference as the transfer note
        payload = payments.vietqr_payload(self.bank, order, 1500000.0)
        self.assertIn("54071500000", payload)
        self.assertIn("08%02d%s" % (len(order.name), order.name), payload)
        self.assertIn("970436", payload)
        # queued only: nothing reached Zalo during the click
        self.assertEqual(self.zalo_peer.requests, [])
        self.Message._process_queue()
        self.assertEqual(message.state, "sent", message.error_message)
        self.assertEqual([r.path for r in self.zalo_peer.requests], [UPLOAD_IMAGE, CS])
        sent = self.zalo_peer.sent[-1]
        self.assertIn(url, sent["text"])
        self.assertEqual(
            sent["attachment"]["payload"]["elements"][0]["media_type"], "image"
        )
        # the order's chatter shows the request
        self.assertTrue(
            any(url in (m.body or "") for m in order.message_ids),
            order.message_ids.mapped("body"),
        )
        # the link opens the order for the customer, without logging in
        parts = urlsplit(url)
        response = self.url_open("%s?%s" % (parts.path, parts.query))
        self.assertEqual(response.status_code, 200)
        self.assertIn(order.name, response.text)
        self.assertIn("1,500,000", response.text)
        wrong = self.url_open("%s?access_token=wrong" % parts.path)
        self.assertNotIn(order.name, wrong.text)

    def test_vietqr_shown_in_the_open_conversation(self):
        identity = self._identity()
        conversation = self.env["discuss.channel"]._messaging_conversation_for(identity)
        conversation._messaging_sync_customer()
        order = self._order()
        message = self._request(order)
        self.assertEqual(message.conversation_id, conversation)
        shown = message.discuss_message_id
        self.assertEqual(shown.attachment_ids, message.attachment_id)
        self.assertIn(order.name, shown.body)

    # -- route a: the ZBS payment template -----------------------------------

    def test_zbs_payment_template_carries_the_amount(self):
        self._identity()
        self._payment_template()
        order = self._order()
        message = self._request(order)
        self.assertEqual(message.route, "uid")
        self.assertEqual(message.template_data["amount"], "1500000")
        self.assertEqual(message.template_data["bank_note"], order.name)
        self.assertEqual(message.template_data["customer_name"], self.partner_a.name)
        self.Message._process_queue()
        self.assertEqual(message.state, "sent", message.error_message)
        (request,) = self.zalo_peer.requests_for(UID_TEMPLATE)
        self.assertEqual(request.body["template_id"], PAYMENT_TEMPLATE_ID)
        self.assertEqual(request.body["user_id"], USER_ID)
        self.assertEqual(request.body["template_data"]["amount"], "1500000")

    def test_zbs_needs_the_amount_range_the_bank_and_approval(self):
        self._identity()
        template = self._payment_template()
        # below 2,000 VND: Zalo refuses it, the VietQR goes instead
        self.assertEqual(self._request(self._order(price=1000)).route, "consultation")
        # above 500,000,000 VND likewise
        self.assertEqual(
            self._request(self._order(price=600000000)).route, "consultation"
        )
        # approved for another account than the company's: not used
        other = self.env["res.partner.bank"].create(
            {"acc_number": "999", "partner_id": self.partner_b.id}
        )
        template.zbs_bank_account_id = other
        self.assertEqual(self._request(self._order()).route, "consultation")
        template.zbs_bank_account_id = self.bank
        template.sudo().zalo_status = "PENDING_REVIEW"
        self.assertEqual(self._request(self._order()).route, "consultation")
        template.sudo().zalo_status = "ENABLE"
        self.assertEqual(self._request(self._order()).route, "uid")

    # -- route c: SMS ----------------------------------------------------------

    def test_sms_with_the_portal_link_outside_zalo(self):
        # a Zalo user whose window closed long ago: not by Zalo
        identity = self._identity()
        identity.last_interaction_at = fields.Datetime.subtract(
            fields.Datetime.now(), days=8
        )
        order = self._order()
        message = self._request(order)
        self.assertEqual(message.channel_id, self.esms)
        self.assertEqual(message.route, "sms")
        self.assertEqual(message.recipient, "84912345678")
        url = payments.portal_url(order)
        self.assertIn(url, message.body)
        self.Message._process_queue()
        self.assertEqual(message.state, "sent", message.error_message)
        self.assertIn(url, self.esms_peer.sent[-1]["Content"])
        self.assertFalse(self.zalo_peer.requests)

    def test_no_route_and_missing_bank_data_say_what_to_fill_in(self):
        order = self._order(partner=self.partner_email_only)
        with self.assertRaisesRegex(UserError, "cannot be reached for a payment"):
            self._request(order)
        self._identity()
        order = self._order()
        company = self.company.name
        self.bank.bank_id = False
        with self.assertRaisesRegex(UserError, "has no bank: pick its Bank"):
            self._request(order)
        self.bank.bank_id = self.vcb
        self.vcb.bic = False
        with self.assertRaisesRegex(UserError, "Vietcombank has no Bank Identifier"):
            self._request(order)
        self.vcb.bic = "970436"
        self.company.partner_id.city = False
        with self.assertRaisesRegex(UserError, "Fill in the City on the address of"):
            self._request(order)
        self.company.partner_id.bank_ids.unlink()
        with self.assertRaisesRegex(
            UserError, "Company %s has no bank account for a VietQR code" % company
        ):
            self._request(order)
        self.assertFalse(
            self.Message.search(
                [("res_model", "=", "sale.order"), ("res_id", "=", order.id)]
            )
        )

    # -- many orders, rights --------------------------------------------------

    def test_many_orders_from_the_list_are_queued(self):
        self._identity()
        orders = self._order() | self._order()
        action = self.env.ref(
            "multichannel_messaging.sale_order_action_messaging_payment_request"
        )
        action.with_user(self.user).with_context(
            active_model="sale.order", active_ids=orders.ids
        ).run()
        messages = self.Message.search(
            [("res_model", "=", "sale.order"), ("res_id", "in", orders.ids)]
        )
        self.assertEqual(sorted(messages.mapped("res_id")), sorted(orders.ids))
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        self.assertEqual(self.zalo_peer.requests, [])

    def test_rpc_refusals(self):
        order = self._order()
        for user in (self.salesman, self.portal_user):
            with self.assertRaises(AccessError):
                order.with_user(user).action_messaging_payment_request()
        self.assertFalse(
            self.Message.search(
                [("res_model", "=", "sale.order"), ("res_id", "=", order.id)]
            )
        )

    # -- paid: one confirmation -----------------------------------------------

    def _confirmations(self, order):
        return self.Message.search(
            [
                ("res_model", "=", "sale.order"),
                ("res_id", "=", order.id),
                ("payment_kind", "=", "confirmation"),
            ]
        )

    def test_paid_invoice_then_transaction_confirm_once(self):
        self._identity()
        order = self._order()
        request = self._request(order)
        self.assertFalse(self._confirmations(order))
        invoice = order._create_invoices()
        invoice.action_post()
        self.assertFalse(self._confirmations(order))
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({})._create_payments()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        confirmation = self._confirmations(order)
        self.assertEqual(len(confirmation), 1)
        self.assertEqual(confirmation.channel_id, request.channel_id)
        self.assertEqual(confirmation.route, "consultation")
        self.assertIn("chúng tôi đã nhận được thanh toán", confirmation.body)
        self.assertIn(order.name, confirmation.body)
        # a payment transaction of the same order: no second confirmation
        self._transaction(order)._set_done()
        order._messaging_payment_confirm()
        self.assertEqual(len(self._confirmations(order)), 1)
        self.Message._process_queue()
        self.assertEqual(confirmation.state, "sent", confirmation.error_message)
        self.assertIn(order.name, self.zalo_peer.sent[-1]["text"])

    def test_done_transaction_confirms_by_sms(self):
        order = self._order()
        request = self._request(order)
        self.assertEqual(request.route, "sms")
        self._transaction(order)._set_done()
        confirmation = self._confirmations(order)
        self.assertEqual(len(confirmation), 1)
        self.assertEqual(confirmation.channel_id, self.esms)
        # an order nobody asked to pay: nothing is sent
        other = self._order()
        self._transaction(other)._set_done()
        self.assertFalse(self._confirmations(other))

    def _transaction(self, order):
        provider = self.env["payment.provider"].create(
            {"name": "Loopback", "code": "none", "state": "test"}
        )
        return self.env["payment.transaction"].create(
            {
                "provider_id": provider.id,
                "payment_method_id": self.env.ref("payment.payment_method_unknown").id,
                "amount": order.amount_total,
                "currency_id": order.currency_id.id,
                "partner_id": order.partner_id.id,
                "reference": "TX-%s" % order.name,
                "sale_order_ids": [(6, 0, order.ids)],
            }
        )
