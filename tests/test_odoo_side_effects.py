"""Installing the addon changes nothing for those who don't use it.

Users without any Messaging group (an employee, a salesperson, a portal user
and the public user) read contacts, orders and Discuss channels whole, as an
RPC client, an export or a report does (``read()`` of every field), open the
forms, and work as before: what the addon adds to Odoo's models is hidden
from them or computed safely, and its hooks run for them too.
"""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from . import test_webhook_common as wh
from .common import MessagingCase, make_user

MODULE = "multichannel_messaging"
MESSAGING_USER = "multichannel_messaging.group_messaging_user"


@tagged("post_install", "-at_install")
class TestOdooSideEffects(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.employee = make_user(
            env, "mm_plain_employee", "base.group_user,base.group_partner_manager"
        )
        cls.salesman = make_user(
            env, "mm_plain_salesman", "sales_team.group_sale_salesman"
        )
        cls.portal = make_user(env, "mm_plain_portal", "base.group_portal")
        cls.public = env.ref("base.public_user")
        cls.agent = make_user(
            env,
            "mm_side_agent",
            f"sales_team.group_sale_manager,{MODULE}.group_messaging_manager",
        )
        cls.zalo = env["messaging.channel"].create(wh.zalo_channel_values())
        cls.customer = cls.portal.partner_id
        cls.customer.write(
            {
                "mobile": "0912 000 111",
                "country_id": cls.vn.id,
                "user_id": cls.salesman.id,
                "messaging_opt_out_channel_ids": [(6, 0, cls.sandbox.ids)],
            }
        )
        cls.identity = env["messaging.identity"].create(
            {
                "partner_id": cls.customer.id,
                "channel_id": cls.zalo.id,
                "external_id": "8401234567890123456",
                "last_interaction_at": "2026-12-01 08:00:00",
            }
        )
        product = env["product.product"].create(
            {"name": "Áo dài", "list_price": 500000}
        )
        cls.order = env["sale.order"].create(
            {
                "partner_id": cls.customer.id,
                "user_id": cls.salesman.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": product.id,
                            "product_uom_qty": 1,
                            "price_unit": 500000,
                        },
                    )
                ],
            }
        )
        cls.order.message_subscribe(partner_ids=cls.customer.ids)  # quotation sent
        # messages about both, so that counts and links have something to count
        cls.order_template = env["messaging.template"].create(
            {
                "name": "Đơn hàng",
                "channel_type": "sandbox",
                "category": "transactional",
                "model": "sale.order",
                "body": "Đơn {{ object.name }} đã nhận.",
            }
        )
        cls._queue_message(cls.customer, cls.template_tx)
        cls._queue_message(cls.order, cls.order_template)
        # a Zalo conversation: the customer (a portal user) and a former agent
        # (the employee, whose Messaging rights were removed) are members
        cls.conversation = env["discuss.channel"]._messaging_conversation_for(
            cls.identity
        )
        cls.conversation._messaging_sync_customer()
        cls.conversation._add_members(
            partners=cls.employee.partner_id, post_joined_message=False
        )
        # a Zalo user not linked to a contact yet: a guest in the conversation,
        # as the public user with that guest is (Discuss's anonymous visitor)
        unknown = env["messaging.identity"].create(
            {"channel_id": cls.zalo.id, "external_id": "8409999999999999999"}
        )
        cls.guest_conversation = env["discuss.channel"]._messaging_conversation_for(
            unknown
        )
        cls.guest_conversation._messaging_sync_customer()
        cls.guest = cls.guest_conversation.messaging_guest_id
        # a Discuss group chat of everyone
        cls.group_chat = env["discuss.channel"].create(
            {"name": "Văn phòng", "channel_type": "group"}
        )
        cls.group_chat._add_members(
            partners=(cls.employee | cls.salesman | cls.portal).partner_id,
            guests=cls.guest,
            post_joined_message=False,
        )
        cls.users = cls.employee | cls.salesman | cls.portal | cls.public

    @classmethod
    def _queue_message(cls, record, template):
        return cls.env["messaging.message"].create(
            {
                "partner_id": record._messaging_get_partner().id,
                "channel_id": cls.sandbox.id,
                "template_id": template.id,
                "res_model": record._name,
                "res_id": record.id,
            }
        )

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------

    def _readable(self, records, user):
        """``records`` as ``user``, restricted to those they may read (the
        public user as the guest of the Zalo conversation)."""
        records = records.with_user(user)
        if user == self.public:
            records = records.with_context(guest=self.guest)
        if not records.browse().has_access("read"):
            return records.browse()
        return records._filtered_access("read")

    def _read_all(self, records, user):
        """read() of every field as ``user``; the records read.

        Odoo's own modules add fields that some users cannot read (account's
        invoices on a contact, for an employee without Invoicing): those fail
        without this addon too and are left out, each checked alone; every
        other field, ours included, is read in one read() as a client does.
        """
        records = self._readable(records, user)
        if not records:
            return records
        names = records.check_field_access_rights("read", None)
        odoo_denied = self._odoo_denied(records, names)
        try:
            values = records.read([n for n in names if n not in odoo_denied])
        except AccessError as exc:
            self.fail(f"{user.login} cannot read {records} whole: {exc}")
        self.assertEqual(len(values), len(records))
        return records

    def _odoo_denied(self, records, names):
        """The fields of other modules that ``records``' user cannot read."""
        ours = set(self._added_fields().mapped("name"))
        denied = set()
        for name in names:
            if name in ours:
                continue
            try:
                records.read([name])
            except AccessError:
                denied.add(name)
            records.invalidate_recordset()
        return denied

    def _added_fields(self):
        """Every field this addon adds to a model it does not define."""
        data = self.env["ir.model.data"].search(
            [("module", "=", MODULE), ("model", "=", "ir.model.fields")]
        )
        fields = (
            self.env["ir.model.fields"]
            .browse(data.mapped("res_id"))
            .filtered(lambda f: not f.model.startswith("messaging."))
        )
        for field in fields:
            self.assertIn(MODULE, field.modules)
        return fields

    def _records_of(self, model):
        return {
            "res.partner": self.customer,
            "sale.order": self.order,
            "discuss.channel": self.conversation
            | self.guest_conversation
            | self.group_chat,
        }.get(model)

    # ------------------------------------------------------------------
    # read() of every field
    # ------------------------------------------------------------------

    def test_users_have_no_messaging_group(self):
        for user in self.users:
            self.assertFalse(user.has_group(MESSAGING_USER), user.login)
        self.assertTrue(self.salesman.has_group("sales_team.group_sale_salesman"))
        self.assertFalse(self.salesman.has_group("sales_team.group_sale_manager"))

    def test_read_contact_whole(self):
        read_by = [u for u in self.users if self._read_all(self.customer, u)]
        # employees and the portal user (their own contact) read it
        self.assertIn(self.employee, read_by)
        self.assertIn(self.salesman, read_by)
        self.assertIn(self.portal, read_by)

    def test_read_order_whole(self):
        read_by = [u for u in self.users if self._read_all(self.order, u)]
        self.assertIn(self.salesman, read_by)
        self.assertIn(self.portal, read_by)  # the customer's own order
        # as sale's own TestAccessRights does: read() with no field list
        self.order.with_user(self.salesman).read()
        self.customer.with_user(self.salesman).read()

    def test_read_ratings_and_survey_answers_whole(self):
        """A Zalo rating on the order and a survey answer sent in a message
        read whole by those who read them in Odoo without Messaging rights;
        the links to the queue's messages hidden from them."""
        message = self.env["messaging.message"].search(
            [("res_model", "=", "sale.order"), ("res_id", "=", self.order.id)]
        )
        rating = self.env["rating.rating"].create(
            {
                "res_model_id": self.env["ir.model"]._get_id("sale.order"),
                "res_id": self.order.id,
                "partner_id": self.customer.id,
                "rating": 5,
                "feedback": "Rất tốt",
                "consumed": True,
                "messaging_message_id": message.id,
            }
        )
        values = rating.with_user(self.salesman).read()[0]
        self.assertNotIn("messaging_message_id", values)
        self.assertEqual(values["rating"], 5)
        self.assertEqual(
            self.order.with_user(self.salesman).read(["customer_rating_count"])[0][
                "customer_rating_count"
            ],
            1,
        )
        survey = self.env["survey.survey"].create({"title": "Góp ý"})
        answer = self.env["survey.user_input"].create(
            {
                "survey_id": survey.id,
                "partner_id": self.customer.id,
                "messaging_message_id": message.id,
            }
        )
        surveyor = make_user(
            self.env,
            "mm_plain_surveyor",
            "base.group_user,survey.group_survey_manager",
        )
        values = answer.with_user(surveyor).read()[0]
        self.assertNotIn("messaging_message_id", values)
        self.assertEqual(values["partner_id"][0], self.customer.id)
        self.assertEqual(
            self.env["rating.rating"]
            .with_user(self.agent)
            .browse(rating.id)
            .messaging_message_id,
            message,
        )

    def test_read_discuss_channels_whole(self):
        for user in self.users:
            self.assertTrue(self._read_all(self.group_chat, user), user.login)
        self.assertTrue(self._read_all(self.conversation, self.employee))
        self.assertTrue(self._read_all(self.conversation, self.portal))
        self.assertTrue(self._read_all(self.guest_conversation, self.public))

    def test_messaging_fields_hidden_without_group(self):
        hidden = {
            "res.partner": [
                "messaging_message_count",
                "messaging_identity_ids",
                "messaging_opt_out_channel_ids",
                "messaging_rating_ids",
            ],
            "sale.order": ["messaging_message_count"],
        }
        for model, names in hidden.items():
            record = self._records_of(model).with_user(self.salesman)
            values = record.read()[0]
            for name in names:
                self.assertNotIn(name, values, f"{model}.{name}")
            # and the agent sees them
            values = self._records_of(model).with_user(self.agent).read(names)[0]
            # the contact counts both messages to the customer, the order its own
            self.assertEqual(
                values["messaging_message_count"], 2 if model == "res.partner" else 1
            )
        values = self.customer.with_user(self.agent).read()[0]
        self.assertEqual(values["messaging_identity_ids"], self.identity.ids)

    def test_click_fields_hidden_without_group(self):
        """A click on a message's tracked link and the contact's clicks: an
        employee reads the click whole (Odoo lets every employee read
        clicks) without the message it counts for; a Messaging user sees
        both."""
        message = self.env["messaging.message"].search(
            [("partner_id", "=", self.customer.id)], limit=1
        )
        tracker = self.env["link.tracker"].create(
            {"url": "https://shop.example.vn/ao-dai", "title": "Áo dài"}
        )
        click = self.env["link.tracker.click"].create(
            {"link_id": tracker.id, "messaging_message_id": message.id}
        )
        for user in (self.employee, self.salesman):
            self.assertTrue(self._read_all(click, user), user.login)
            values = click.with_user(user).read()[0]
            self.assertNotIn("messaging_message_id", values)
            self.assertTrue(self._read_all(self.customer, user), user.login)
            readable = self.customer.with_user(user).check_field_access_rights(
                "read", None
            )
            self.assertNotIn("messaging_click_count", readable)
        values = click.with_user(self.agent).read(["messaging_message_id"])[0]
        self.assertEqual(values["messaging_message_id"][0], message.id)
        self.assertEqual(self.customer.with_user(self.agent).messaging_click_count, 0)

    def test_every_added_field_reads_for_every_user(self):
        """Generic: any field the addon adds to an Odoo model, now or later,
        is either hidden from a user without Messaging or readable by them."""
        fields = self._added_fields()
        models = set(fields.mapped("model"))
        self.assertTrue({"res.partner", "sale.order", "discuss.channel"} <= models)
        checked = set()
        for field in fields:
            Model = self.env[field.model]
            field_def = Model._fields[field.name]
            records = self._records_of(field.model) or Model.search([], limit=3)
            for user in self.users:
                readable = self._readable(records, user)
                if not readable:
                    continue
                if not field_def.is_accessible(readable.env):
                    self.assertTrue(field_def.groups, field.name)
                    continue
                try:
                    readable.read([field.name])
                except AccessError as exc:
                    self.fail(
                        f"{user.login} cannot read {field.model}.{field.name}: {exc}"
                    )
                checked.add((field.model, field.name))
        # each field on the three models we build records for was read by someone
        for field in fields.filtered(lambda f: self._records_of(f.model)):
            field_def = self.env[field.model]._fields[field.name]
            if not field_def.groups:
                self.assertIn((field.model, field.name), checked)

    # ------------------------------------------------------------------
    # forms
    # ------------------------------------------------------------------

    def _load_form(self, record, user):
        """get_views then web_read of the form's fields, as the web client."""
        Model = record.with_user(user)
        views = Model.get_views([(False, "form")])
        arch = views["views"]["form"]["arch"]
        names = list(views["models"][record._name]["fields"])
        denied = self._odoo_denied(Model, names)
        spec = {}
        for name in names:
            if name in denied:
                continue
            field = Model._fields[name]
            if field.type == "many2one":
                spec[name] = {"fields": {"display_name": {}}}
            else:
                spec[name] = {}
        try:
            Model.web_read(spec)
        except AccessError as exc:
            self.fail(f"{user.login} cannot open {record}: {exc}")
        return arch

    def test_forms_load_without_messaging_parts(self):
        for record in (self.customer, self.order):
            for user in self.users:
                if not self._readable(record, user):
                    continue
                arch = self._load_form(record, user)
                self.assertNotIn("messaging", arch, f"{record} as {user.login}")
        arch = self._load_form(self.customer, self.agent)
        self.assertIn("messaging_message_count", arch)
        self.assertIn("action_messaging_open_conversation", arch)
        arch = self._load_form(self.order, self.agent)
        self.assertIn("messaging_message_count", arch)

    def test_bulk_send_actions_hidden_without_group(self):
        for model in ("res.partner", "sale.order"):
            for user in (self.employee, self.salesman):
                bindings = self.env["ir.actions.actions"].with_user(user)
                actions = bindings.get_bindings(model).get("action", [])
                names = [a.get("res_model") for a in actions]
                self.assertNotIn("messaging.bulk.send", names, user.login)

    # ------------------------------------------------------------------
    # Odoo's flows, as users without Messaging
    # ------------------------------------------------------------------

    def test_salesman_confirms_order_with_the_automation(self):
        """The shipped "order confirmed" rule queues the message even when
        the salesperson who confirms has no Messaging rights."""
        rule = self.env.ref(f"{MODULE}.base_automation_sale_order_confirmed")
        rule.active = True
        order = self.order.with_user(self.salesman)
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        messages = self.env["messaging.message"].search(
            [("res_model", "=", "sale.order"), ("res_id", "=", self.order.id)]
        )
        action = self.env.ref(f"{MODULE}.ir_actions_server_sale_order_confirmed")
        queued = messages.filtered(
            lambda m: m.template_id in action._messaging_get_templates()
        )
        self.assertEqual(len(queued), 1, messages.mapped("template_id.name"))
        # the salesperson still reads the order whole afterwards
        self.assertTrue(self._read_all(self.order, self.salesman))

    def test_salesman_confirms_order_with_a_coupon_and_reads_it_whole(self):
        """The "order confirmed" rule with a coupon program: the message gets
        its coupon though the salesperson has no Messaging rights, and the
        salesperson reads the card (and its program) whole."""
        program = self.env["loyalty.program"].create(
            {"name": "Phiếu cảm ơn", "program_type": "coupons"}
        )
        self.env.ref(f"{MODULE}.base_automation_sale_order_confirmed").active = True
        action = self.env.ref(f"{MODULE}.ir_actions_server_sale_order_confirmed")
        action.messaging_loyalty_program_id = program
        self.order.with_user(self.salesman).action_confirm()
        message = self.env["messaging.message"].search(
            [
                ("res_model", "=", "sale.order"),
                ("res_id", "=", self.order.id),
                ("template_id", "in", action._messaging_get_templates().ids),
            ]
        )
        card = message.coupon_id
        self.assertEqual(card.partner_id, self.customer)
        values = card.with_user(self.salesman).read()[0]
        self.assertEqual(values["code"], card.code)
        self.assertTrue(program.with_user(self.salesman).read())
        with self.assertRaises(AccessError):
            card.with_user(self.portal).read(["code"])

    def test_salesman_cancels_and_posts_on_order(self):
        order = self.order.with_user(self.salesman)
        order.message_post(body="Khách hỏi giao hàng", message_type="comment")
        order._action_cancel()
        self.assertEqual(order.state, "cancel")

    def test_employee_creates_edits_and_copies_contacts(self):
        Partner = self.env["res.partner"].with_user(self.employee)
        partner = Partner.create({"name": "Khách mới", "mobile": "0912 999 888"})
        partner.write({"phone": "028 3822 1234", "messaging_opt_out": True})
        copy = self.customer.with_user(self.employee).copy()
        self.assertTrue(copy.exists())
        # consent is Odoo's blacklists, kept by number and e-mail: the copy
        # has the customer's number, so the same channels skip it (nothing
        # of ours was copied: the field is computed from the lists)
        self.assertEqual(
            copy.sudo().messaging_opt_out_channel_ids,
            self.customer.sudo().messaging_opt_out_channel_ids,
        )
        self.assertTrue(partner.sudo().messaging_opt_out)
        partner.message_post(body="Ghi chú", message_type="comment")
        self.assertTrue(self._read_all(partner, self.salesman))

    def test_members_post_in_discuss_channels(self):
        for user in (self.employee, self.salesman):
            message = self.group_chat.with_user(user).message_post(
                body="Xin chào", message_type="comment"
            )
            self.assertTrue(message)
        self.group_chat.with_user(self.employee)._channel_basic_info()
        self.conversation.with_user(self.employee)._channel_basic_info()
        self.conversation.with_user(self.portal)._channel_basic_info()
