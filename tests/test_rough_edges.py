"""First-run rough edges: a fallback to the channel already tried is
refused, unreachable numbers are excluded before they are counted,
provider codes come with plain words, sends from a list are logged in each
record's chatter and kept out of the Campaigns menu, customer groups and
models are shown in words."""

from datetime import date

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from odoo.addons.multichannel_messaging.engine import routing

from .test_wizard_common import SalesMessagingCase


@tagged("post_install", "-at_install")
class TestSameChannelFallback(SalesMessagingCase):
    def _campaign(self, **vals):
        segment = self._segment(self.partner_a)
        return self.env["messaging.campaign"].create(
            dict(
                {
                    "name": "Chain",
                    "segment_ids": [Command.set(segment.ids)],
                    "channel_id": self.sandbox.id,
                    "template_id": self.template.id,
                },
                **vals,
            )
        )

    def _step(self, channel):
        return Command.create(
            {"channel_id": channel.id, "template_id": self.template.id}
        )

    def test_campaign_refuses_its_own_channel_as_fallback(self):
        with self.assertRaisesRegex(ValidationError, "already a step of this chain"):
            self._campaign(fallback_ids=[self._step(self.sandbox)])
        campaign = self._campaign(fallback_ids=[self._step(self.sandbox_b)])
        self.assertEqual(campaign.fallback_ids.channel_id, self.sandbox_b)
        # two fallback steps on one channel, or a line moved onto the first
        with self.assertRaisesRegex(ValidationError, "Test sandbox \\(fallback\\)"):
            campaign.write({"fallback_ids": [self._step(self.sandbox_b)]})
        with self.assertRaisesRegex(ValidationError, "already a step"):
            campaign.fallback_ids.channel_id = self.sandbox

    def test_bulk_send_refuses_its_own_channel_as_fallback(self):
        wizard = (
            self.env["messaging.bulk.send"]
            .with_context(active_model="res.partner", active_ids=self.partner_a.ids)
            .create(
                {
                    "channel_id": self.sandbox.id,
                    "template_id": self.template.id,
                    "fallback_ids": [self._step(self.sandbox)],
                }
            )
        )
        with self.assertRaisesRegex(UserError, "already a step of this chain"):
            wizard.action_send()
        self.assertFalse(
            self.env["messaging.campaign"].search([("name", "=", wizard.name)])
        )

    def test_automation_refuses_two_fallbacks_on_one_channel(self):
        other = self.template_order.copy({"name": "Second sandbox order"})
        values = {
            "name": "Chain",
            "model_id": self.env["ir.model"]._get_id("sale.order"),
            "state": "messaging",
            "messaging_template_id": self.template_order.id,
        }
        Action = self.env["ir.actions.server"]
        with self.assertRaisesRegex(ValidationError, "is sent on the same channel"):
            Action.create(
                dict(values, messaging_fallback_template_ids=[Command.set(other.ids)])
            )
        # the primary on a channel picked by hand is accepted; when it is the
        # one the fallback's type finds, that channel is not tried twice
        action = Action.create(
            dict(values, messaging_fallback_template_ids=[Command.set(other.ids)])
            | {"messaging_channel_id": self.sandbox_b.id}
        )
        order = self._order(self.partner_a)
        found = action._messaging_find_channel(other, order.company_id)
        action.messaging_channel_id = found
        steps = action._messaging_get_steps(order)
        self.assertEqual([channel for channel, _t in steps], [found])


@tagged("post_install", "-at_install")
class TestUnreachableNumbers(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        us = cls.env.ref("base.us")
        cls.partner_us = Partner.create(
            {"name": "John Smith", "mobile": "+1 202 555 0123", "country_id": us.id}
        )
        cls.partner_landline = Partner.create(
            {"name": "Văn phòng", "phone": "028 3822 1234", "country_id": cls.vn.id}
        )
        cls.partner_us_email = Partner.create(
            {
                "name": "Jane Smith",
                "mobile": "+1 202 555 0199",
                "country_id": us.id,
                "email": "jane@example.com",
            }
        )
        cls.sms = cls.env["messaging.channel"].create(
            dict(cls.NO_THROTTLE, name="SMS VN", channel_type="esms")
        )
        cls.sms_template = cls.env["messaging.template"].create(
            {
                "name": "SMS",
                "channel_type": "esms",
                "body": "Chao",
                "category": "transactional",
            }
        )

    def test_foreign_and_landline_numbers_refused_with_reason(self):
        for partner in (self.partner_us, self.partner_landline):
            for channel, template in (
                (self.sandbox, self.template_tx),
                (self.sms, self.sms_template),
            ):
                route, address, failure, text = routing.resolve_recipient(
                    channel, template, partner, "transactional"
                )
                self.assertFalse(address)
                self.assertEqual(failure, "invalid_address")
                self.assertIn("not a Vietnamese mobile number", text)
        # a Vietnamese mobile still goes
        self.assertEqual(
            routing.resolve_recipient(
                self.sms, self.sms_template, self.partner_a, "transactional"
            )[1],
            "84912345678",
        )
        # the sandbox takes the e-mail instead of a foreign number
        self.assertEqual(
            routing.resolve_recipient(
                self.sandbox, self.template_tx, self.partner_us_email, "transactional"
            )[1],
            "jane@example.com",
        )

    def test_fast_path_never_answers_a_foreign_number(self):
        partners = self.partner_a | self.partner_us | self.partner_landline
        found = routing.resolve_recipients_sql(
            self.sms, self.sms_template, partners.ids, "transactional"
        )
        self.assertEqual(set(found), {self.partner_a.id})

    def test_estimate_excludes_them_before_counting(self):
        partners = self.partner_a | self.partner_us | self.partner_landline
        campaign = self.env["messaging.campaign"].create(
            {
                "name": "Numbers",
                "segment_ids": [Command.set(self._segment(partners).ids)],
                "channel_id": self.sandbox.id,
                "template_id": self.template.id,
            }
        )
        estimate = campaign._get_estimate()
        self.assertEqual(estimate["recipients"], 3)
        self.assertEqual(estimate["reachable"], 1)
        self.assertEqual(estimate["excluded"].get("invalid_address"), 2)
        campaign.action_confirm()
        campaign.action_activate()
        refused = campaign.message_ids_sent.filtered(lambda m: m.state == "skipped")
        self.assertEqual(refused.partner_id, self.partner_us | self.partner_landline)
        self.assertTrue(all("Vietnamese mobile" in m.error_message for m in refused))


@tagged("post_install", "-at_install")
class TestWordsNotCodes(SalesMessagingCase):
    def test_sandbox_zalo_code_in_plain_words(self):
        message = self._queue(self.partner_a)
        message.sudo().write(
            {"error_code": "-118", "error_message": "Zalo account not existed"}
        )
        display = message.with_context(lang="en_US").error_message_display
        self.assertIn("Zalo account does not exist or inactive.", display)
        self.assertIn("Zalo account not existed", display)

    def test_email_failure_type_in_plain_words(self):
        email = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="E-mail words", channel_type="email")
        )
        template = self.env["messaging.template"].create(
            {"name": "Mail", "channel_type": "email", "body": "Chào"}
        )
        message = self._queue(self.partner_email_only, channel=email, template=template)
        message.sudo().write({"error_code": "mail_bounce", "error_message": "550"})
        display = message.with_context(lang="en_US").error_message_display
        self.assertIn("The e-mail bounced", display)

    def test_models_by_their_description(self):
        user = self._make_user(
            "edges_user", "multichannel_messaging.group_messaging_user"
        )
        Template = self.env["messaging.template"].with_user(user)
        selection = dict(Template.fields_get(["model"])["model"]["selection"])
        self.assertEqual(selection["sale.order"], "Sales Order")
        self.assertEqual(Template.browse(self.template_order.id).model, "sale.order")
        message = self._queue(self.partner_a)
        self.assertEqual(
            message.with_user(user).with_context(lang="en_US").res_model_name,
            "Contact",
        )

    def test_customer_group_in_words(self):
        Segment = self.env["messaging.segment"]
        inactive = Segment.create(
            {"name": "Lapsed", "builder": "inactive", "builder_inactive_days": 90}
        )
        self.assertIn("context_today", inactive.domain)  # the code stays stored
        text = inactive.with_context(lang="en_US").conditions_text
        self.assertEqual(
            text,
            "Customers who ordered before, but placed no confirmed order in "
            "the last 90 days.",
        )
        self.env["res.lang"]._activate_lang("vi_VN")
        bought = Segment.create(
            {
                "name": "Coffee",
                "builder": "product",
                "builder_product_ids": [Command.set(self.product_coffee.ids)],
                "builder_date_from": date(2026, 3, 1),
            }
        )
        self.assertIn(self.product_coffee.name, bought.conditions_text)
        self.assertIn("01/03/2026", bought.with_context(lang="vi_VN").conditions_text)
        custom = Segment.create(
            {"name": "Hà Nội", "domain": "[('city', '=', 'Hà Nội')]"}
        )
        self.assertFalse(custom.conditions_text)  # the domain editor shows it


@tagged("post_install", "-at_install")
class TestSendFromAList(SalesMessagingCase):
    def _send(self, records, template):
        wizard = (
            self.env["messaging.bulk.send"]
            .with_context(active_model=records._name, active_ids=records.ids)
            .create({"channel_id": self.sandbox.id, "template_id": template.id})
        )
        action = wizard.action_send()
        return self.env["messaging.campaign"].browse(action["res_id"])

    def _lines(self, record):
        return record.message_ids.filtered(
            lambda m: m.messaging_line and m.messaging_line["key"] == "sent"
        )

    def test_each_order_logged_in_its_chatter(self):
        orders = self._order(self.partner_a) | self._order(self.partner_b, qty=2)
        campaign = self._send(orders, self.template_order)
        self.assertTrue(campaign.from_list)
        self.Message._process_queue()
        for order in orders:
            line = self._lines(order)
            self.assertEqual(len(line), 1, order.name)
            self.assertIn(order.name, line.body)
        # a planned campaign's messages stay out of the chatters
        planned = self.env["messaging.campaign"].create(
            {
                "name": "Planned",
                "segment_ids": [Command.set(self._segment(self.partner_c).ids)],
                "channel_id": self.sandbox.id,
                "template_id": self.template.id,
            }
        )
        planned.action_confirm()
        planned.action_activate()
        self.Message._process_queue()
        self.assertTrue(
            planned.message_ids_sent.filtered(lambda m: m.state != "queued")
        )
        self.assertFalse(self._lines(self.partner_c))
        self.assertFalse(planned.from_list)

    def test_campaigns_menu_hides_sends_from_a_list(self):
        campaign = self._send(self.partner_a, self.template)
        action = self.env.ref("multichannel_messaging.messaging_campaign_action")
        context = safe_eval(action.context)
        self.assertTrue(context.get("search_default_planned"))
        search = self.env.ref("multichannel_messaging.messaging_campaign_view_search")
        self.assertIn('name="planned"', search.arch)
        Campaign = self.env["messaging.campaign"]
        self.assertNotIn(campaign, Campaign.search([("from_list", "=", False)]))
        self.assertIn(campaign, Campaign.search([("from_list", "=", True)]))
