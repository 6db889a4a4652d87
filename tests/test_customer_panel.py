"""The agent sees the customer: the panel's data beside a Zalo conversation
(``discuss.channel.messaging_customer_panel``), and several products sent
as one Zalo list message from the reply wizard, against the loopback peer."""

import base64
from datetime import datetime, timedelta

from odoo import fields
from odoo.exceptions import AccessError, RedirectWarning, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import format_amount

from . import test_webhook_common as wh
from .common import MessagingCase
from .test_conversation_media import PNG, UPLOAD_IMAGE, ConversationHelpers

OTHER_USER_ID = "1357913579135791357"


class PanelMixin(ConversationHelpers):
    """A Vietnamese customer of a Zalo OA, their VND prices and products."""

    @classmethod
    def _setup_panel(cls):
        cls._setup_conversations()
        cls.env["res.lang"]._activate_lang("vi_VN")
        cls.vnd = cls.env.ref("base.VND")
        cls.vnd.active = True
        Product = cls.env["product.product"]
        cls.products = Product.create(
            [
                {
                    "name": "Sản phẩm %s" % index,
                    "list_price": 10.0 * index,
                    "sale_ok": True,
                    "taxes_id": [(5, 0, 0)],
                    # the third one has no image: its element goes without
                    "image_1920": base64.b64encode(PNG) if index != 3 else False,
                }
                for index in range(1, 7)
            ]
        )
        cls.pricelist = cls.env["product.pricelist"].create(
            {
                "name": "Giá VND",
                "currency_id": cls.vnd.id,
                "item_ids": [
                    (
                        0,
                        0,
                        {
                            "applied_on": "0_product_variant",
                            "product_id": product.id,
                            "compute_price": "fixed",
                            "fixed_price": 1144250 * index,
                        },
                    )
                    for index, product in enumerate(cls.products, start=1)
                ],
            }
        )
        cls.partner_a.write(
            {"lang": "vi_VN", "property_product_pricelist": cls.pricelist.id}
        )

    def _open(self, partner=None, user_id=wh.USER_ID):
        self._identity(partner, user_id=user_id)
        self._event(wh.user_text("Cho mình xem mẫu áo", user_id=user_id))
        return self._conversation(user_id=user_id)


@tagged("post_install", "-at_install")
class TestProductList(PanelMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_panel()

    def _wizard(self, conversation, products):
        return (
            self.env["messaging.conversation.reply"]
            .with_user(self.agent_1)
            .create(
                {
                    "conversation_id": conversation.id,
                    "product_ids": [(6, 0, products.ids)],
                }
            )
        )

    def test_three_products_go_as_one_list_message(self):
        peer = self._zalo_peer()
        conversation = self._open(self.partner_a)
        products = self.products[:3]
        self._wizard(conversation, products).action_send()
        queued = self._queued(conversation)
        self.assertEqual(len(queued), 1)
        elements = queued.zalo_card["elements"]
        self.assertEqual(
            [e["title"] for e in elements], ["Sản phẩm 1", "Sản phẩm 2", "Sản phẩm 3"]
        )
        self.assertEqual(
            [e["subtitle"] for e in elements],
            ["1.144.250 ₫", "2.288.500 ₫", "3.432.750 ₫"],
        )
        # shown to the agents as one message with the two images
        shown = queued.discuss_message_id
        self.assertEqual(len(shown.attachment_ids), 2)
        for name in ("Sản phẩm 1", "Sản phẩm 2", "Sản phẩm 3", "2.288.500 ₫"):
            self.assertIn(name, shown.body)
        self.assertEqual(shown.author_id, self.agent_1.partner_id)
        self.assertEqual(conversation.messaging_agent_id, self.agent_1)
        self.Message._process_queue()
        self.assertEqual(queued.state, "sent", queued.error_message)
        # two uploads, then ONE consultation message with three elements
        self.assertEqual(len(peer.requests_for(UPLOAD_IMAGE)), 2)
        sent = peer.sent[-1]
        payload = sent["attachment"]["payload"]
        self.assertEqual(payload["template_type"], "list")
        self.assertEqual(len(payload["elements"]), 3)
        self.assertEqual(
            [e["title"] for e in payload["elements"]],
            ["Sản phẩm 1", "Sản phẩm 2", "Sản phẩm 3"],
        )
        self.assertEqual(payload["elements"][1]["subtitle"], "2.288.500 ₫")
        uploaded = sorted(peer.uploads)
        urls = [e.get("image_url") for e in payload["elements"]]
        self.assertEqual(
            sorted(url.rsplit("/", 1)[1].split(".")[0] for url in urls[:2]), uploaded
        )
        self.assertIsNone(urls[2])
        self.assertFalse(sent["text"])

    def test_more_than_five_products_refused(self):
        conversation = self._open(self.partner_a)
        count = len(conversation.message_ids)
        with self.assertRaisesRegex(UserError, "at most 5 products"):
            self._wizard(conversation, self.products).action_send()
        self.assertFalse(self._queued(conversation))
        self.assertEqual(len(conversation.message_ids), count)
        # five go
        self._wizard(conversation, self.products[:5]).action_send()
        self.assertEqual(len(self._queued(conversation).zalo_card["elements"]), 5)

    def test_closed_window_refuses_the_list(self):
        conversation = self._open(self.partner_a)
        conversation.messaging_identity_id.last_interaction_at = (
            fields.Datetime.now() - timedelta(days=8)
        )
        with self.assertRaisesRegex((UserError, RedirectWarning), "7 days"):
            self._wizard(conversation, self.products[:2]).action_send()
        self.assertFalse(self._queued(conversation))


@tagged("post_install", "-at_install")
class TestCustomerPanel(PanelMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_panel()
        cls.zalo.company_id.partner_id.tz = "Asia/Ho_Chi_Minh"
        cls.agent_1.lang = "vi_VN"
        tag = cls.env["res.partner.category"].create({"name": "Khách VIP"})
        cls.partner_a.write(
            {"category_id": [(6, 0, tag.ids)], "email": "an@example.vn"}
        )
        segment = cls.env["messaging.segment"].create(
            {"name": "Panel", "domain": "[('id', '=', %d)]" % cls.partner_a.id}
        )
        cls.campaign = cls.env["messaging.campaign"].create(
            {
                "name": "Tết 2026",
                "channel_id": cls.sandbox.id,
                "template_id": cls.template.id,
                "segment_ids": [(6, 0, segment.ids)],
            }
        )

    def _order(self, state="sale", when=None, quantity=1):
        return self.env["sale.order"].create(
            {
                "partner_id": self.partner_a.id,
                "pricelist_id": self.pricelist.id,
                "state": state,
                "date_order": when or datetime(2026, 3, 5, 18, 30),
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": self.products[0].id,
                            "product_uom_qty": quantity,
                        },
                    )
                ],
            }
        )

    def _panel(self, conversation, user=None):
        # as an RPC call does: the user's language in the context
        user = user or self.agent_1
        return (
            conversation.with_user(user)
            .with_context(lang=user.lang)
            .messaging_customer_panel()
        )

    def test_panel_content_and_formats(self):
        conversation = self._open(self.partner_a)
        older = self._order(when=datetime(2026, 1, 2, 3, 0))
        # 18:30 UTC on 5 March is 6 March in Vietnam
        last = self._order(quantity=2)
        self._order(state="cancel")
        quotation = self._order(state="draft", when=datetime(2026, 4, 1, 2, 0))
        self.Message.sudo().with_context(messaging_skip_prepare=True).create(
            {
                "channel_id": self.sandbox.id,
                "route": "sandbox",
                "partner_id": self.partner_a.id,
                "campaign_id": self.campaign.id,
                "recipient": "84912345678",
                "body": "Chúc mừng năm mới",
            }
        )
        data = self._panel(conversation)
        self.assertEqual(data["conversation_id"], conversation.id)
        self.assertEqual(data["partner"]["name"], "Nguyễn Văn An")
        self.assertEqual(data["partner"]["phone"], "0912 345 678")
        self.assertEqual(data["partner"]["tags"], ["Khách VIP"])
        states = dict(
            self.env["sale.order"]
            .with_context(lang="vi_VN")
            ._fields["state"]
            ._description_selection(self.env(context={"lang": "vi_VN"}))
        )
        self.assertEqual(
            data["orders"],
            [
                {
                    "id": last.id,
                    "name": last.name,
                    "date": "06/03/2026",
                    "amount": "2.288.500 ₫",
                    "state": states["sale"],
                },
                {
                    "id": older.id,
                    "name": older.name,
                    "date": "02/01/2026",
                    "amount": "1.144.250 ₫",
                    "state": states["sale"],
                },
            ],
        )
        self.assertEqual(data["order_count"], 2)
        self.assertEqual([q["id"] for q in data["quotations"]], quotation.ids)
        self.assertEqual(data["quotations"][0]["date"], "01/04/2026")
        self.assertEqual(data["quotation_count"], 1)
        # confirmed orders only, in the company's currency
        company = self.zalo.company_id
        total = self.vnd._convert(
            3432750.0, company.currency_id, company, fields.Date.today()
        )
        expected = format_amount(
            self.env(context={"lang": "vi_VN"}), total, company.currency_id, "vi_VN"
        )
        self.assertEqual(data["total_bought"], expected.replace("\xa0", " "))
        [campaign_message] = data["campaign_messages"]
        self.assertEqual(campaign_message["campaign"], "Tết 2026")
        self.assertEqual(campaign_message["channel"], self.sandbox.name)
        self.assertRegex(campaign_message["date"], r"^\d\d/\d\d/\d{4}$")
        consent = {row["key"]: row for row in data["consent"]}
        self.assertEqual(consent["phone"]["level"], "success")
        self.assertEqual(consent["window"]["level"], "success")
        # consent follows Odoo's blacklists and our opt-outs
        self.env["phone.blacklist"].sudo().add("+84912345678")
        conversation.messaging_identity_id.opt_out = True
        self.partner_a.invalidate_recordset()
        consent = {row["key"]: row for row in self._panel(conversation)["consent"]}
        self.assertEqual(consent["phone"]["level"], "danger")
        self.assertEqual(consent["oa"]["level"], "danger")
        self.assertEqual(consent["email"]["level"], "success")

    def test_no_linked_contact(self):
        conversation = self._open(user_id=OTHER_USER_ID)
        self.assertFalse(conversation.messaging_partner_id)
        data = self._panel(conversation)
        self.assertFalse(data["partner"])
        self.assertEqual(data["conversation_id"], conversation.id)

    def test_roles(self):
        conversation = self._open(self.partner_a)
        portal = new_test_user(
            self.env, login="panel_portal", groups="base.group_portal"
        )
        employee = self._conv_user("panel_employee", "base.group_user")
        for user in (portal, employee):
            with self.assertRaises(AccessError):
                self._panel(conversation, user)
        # an agent of another team does not see the conversation
        with self.assertRaises(AccessError):
            self._panel(conversation, self.agent_other)
        # an agent of another company, even in the team, is refused
        other_company = self.env["res.company"].create({"name": "Công ty khác"})
        stranger = self._conv_user(
            "panel_stranger",
            "base.group_user,multichannel_messaging.group_messaging_user",
            company=other_company,
        )
        self.team.sudo().user_ids = [(4, stranger.id)]
        with self.assertRaises(AccessError):
            self._panel(conversation, stranger)
        # the manager of the OA's company sees it
        self.assertEqual(
            self._panel(conversation, self.manager)["partner"]["id"],
            self.partner_a.id,
        )
        # only Zalo conversations
        chat = self.env["discuss.channel"].create({"name": "Nội bộ"})
        with self.assertRaises(UserError):
            chat.messaging_customer_panel()

    def _queries(self, conversation):
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        data = self._panel(conversation)
        return self.env.cr.sql_log_count - before, data

    def test_query_count_does_not_grow_with_the_history(self):
        conversation = self._open(self.partner_a)
        for _index in range(6):
            self._order()
            self._order(state="draft")
        self._queries(conversation)  # caches warm
        few, data = self._queries(conversation)
        self.assertEqual(data["order_count"], 6)
        self.env["sale.order"].create(
            [
                {
                    "partner_id": self.partner_a.id,
                    "pricelist_id": self.pricelist.id,
                    "state": "sale",
                    "order_line": [(0, 0, {"product_id": self.products[1].id})],
                }
                for _index in range(44)
            ]
        )
        many, data = self._queries(conversation)
        self.assertEqual(data["order_count"], 50)
        self.assertEqual(len(data["orders"]), 5)
        self.assertEqual(many, few)
        self.assertLess(many, 40)
