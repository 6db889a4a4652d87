"""Messages are written by the queue: what a user may and may not do to one,
replayed as the user would by RPC (``with_user`` on create, write, actions)."""

from odoo.exceptions import AccessError
from odoo.tests import Form, tagged

from .test_wizard_common import SalesMessagingCase

USER = "base.group_user,multichannel_messaging.group_messaging_user"
MANAGER = "base.group_user,multichannel_messaging.group_messaging_manager"
NUMBER_A = "+84912345678"  # partner_a's mobile, as phone.blacklist stores it


@tagged("post_install", "-at_install")
class TestMessageProtection(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls._make_user("prot_user", USER)
        cls.manager = cls._make_user("prot_manager", MANAGER)
        cls.company_b = cls.env["res.company"].create({"name": "Công ty B"})

    def _create_as(self, user, **vals):
        values = {
            "partner_id": self.partner_a.id,
            "channel_id": self.sandbox.id,
            "template_id": self.template.id,
        }
        values.update(vals)
        return self.Message.with_user(user).create(values)

    def _messages_of_a(self):
        return self.Message.search([("partner_id", "=", self.partner_a.id)])

    # -- write ---------------------------------------------------------------
    def test_user_cannot_rewrite_a_queued_message(self):
        message = self._create_as(self.user, template_id=self.template_tx.id)
        self.assertEqual(message.state, "queued")
        for user in (self.user, self.manager):
            for vals in (
                {"recipient": "84999999999"},
                {"body": "Khuyến mãi 50%!"},
                {"state": "sent"},
                {"route": "email"},
                {"template_data": {"code": "x"}},
                {"provider_message_id": "forged"},
                {"cost": 0.0},
                {"attempt_count": 0},
                {"sent_at": "2026-01-01 00:00:00"},
                {"partner_id": self.partner_b.id},
            ):
                with self.assertRaisesRegex(AccessError, "written by the queue"):
                    message.with_user(user).write(vals)
        self.assertEqual(message.recipient, "84912345678")
        self.assertEqual(message.state, "queued")

    def test_skipped_for_opt_out_is_not_requeued_by_hand(self):
        self.env["phone.blacklist"]._add([NUMBER_A])
        message = self._create_as(self.user)
        self.assertEqual(message.state, "skipped")
        self.assertEqual(message.failure_type, "opt_out")
        with self.assertRaises(AccessError):
            message.with_user(self.user).write({"state": "queued"})
        # Retry runs every check again: still blacklisted, still skipped
        message.with_user(self.user).action_retry()
        self.assertEqual(message.state, "skipped")
        self.assertEqual(message.failure_type, "opt_out")
        self.assertIn("phone.blacklist", message.error_message)
        # once off Odoo's list, the same retry queues it
        self.env["phone.blacklist"]._remove([NUMBER_A])
        message.with_user(self.user).action_retry()
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.recipient, "84912345678")

    def test_retry_and_cancel_are_the_users_way(self):
        message = self._create_as(self.user)
        message.with_user(self.user).action_cancel()
        self.assertEqual(message.state, "cancelled")
        failed = self._create_as(self.user)
        failed._set_failed("provider", "Refused")
        failed.with_user(self.user).action_retry()
        self.assertEqual(failed.state, "queued")
        self.assertEqual(failed.attempt_count, 0)
        self.assertFalse(failed.error_message)

    def test_user_cannot_retry_or_cancel_messages_of_others(self):
        self.partner_b.user_id = self.manager
        theirs = self._create_as(self.manager, partner_id=self.partner_b.id)
        with self.assertRaises(AccessError):
            theirs.with_user(self.user).action_cancel()
        self.assertEqual(theirs.state, "queued")

    # -- create ----------------------------------------------------------------
    def test_create_with_preset_address_is_refused(self):
        self.partner_a.messaging_opt_out = True
        with self.assertRaisesRegex(AccessError, "set by the queue"):
            self._create_as(
                self.user, route="sandbox", recipient="84912345678", body="Sale!"
            )
        self.assertFalse(self._messages_of_a())

    def test_create_with_preset_state_or_results_is_refused(self):
        for vals in (
            {"state": "sent"},
            {"provider_message_id": "forged"},
            {"template_data": {"code": "x"}},
            {"tracking_id": "mine"},
            {"user_id": self.manager.id},
        ):
            with self.assertRaises(AccessError):
                self._create_as(self.user, **vals)
        self.assertFalse(self._messages_of_a())

    def test_fallback_steps_must_be_readable(self):
        channel_b = self.env["messaging.channel"].create(
            dict(
                self.NO_THROTTLE,
                name="Sandbox B",
                channel_type="sandbox",
                company_id=self.company_b.id,
            )
        )
        with self.assertRaises(AccessError):
            self._create_as(
                self.user, fallback_chain=[[channel_b.id, self.template.id]]
            )
        mine = self._create_as(
            self.user, fallback_chain=[[self.sandbox_b.id, self.template.id]]
        )
        self.assertEqual(mine.state, "queued")

    def test_server_action_run_by_a_user_queues_with_its_fallbacks(self):
        """A contextual server action run from the Action menu runs as the
        user: its messages, fallbacks and refusals are still recorded."""
        salesman = self._make_user(
            "prot_sales_a", USER + ",sales_team.group_sale_salesman"
        )
        order = self._order(self.partner_a)
        order.user_id = salesman
        broken = self.template_order.copy({"body": "{{ object.no_such_field.name }}"})
        # the fallback goes to another sandbox of the order's company (the
        # channel that failed is never tried twice)
        fallback_channel = self.sandbox.copy(
            {
                "name": "Sandbox (fallback)",
                "company_id": order.company_id.id,
                "sequence": self.sandbox.sequence - 1,
            }
        )
        fallback_channel.flush_recordset()
        self.env["messaging.channel"].search(
            [
                ("channel_type", "=", "sandbox"),
                ("company_id", "=", order.company_id.id),
                ("id", "not in", (self.sandbox | fallback_channel).ids),
            ]
        ).active = False
        action = self.env["ir.actions.server"].create(
            {
                "name": "Send from the Action menu",
                "model_id": self.env["ir.model"]._get_id("sale.order"),
                "state": "messaging",
                "messaging_template_id": broken.id,
                "messaging_channel_id": self.sandbox.id,
                "messaging_fallback_template_ids": [(6, 0, self.template_order.ids)],
            }
        )
        action.with_user(salesman).with_context(
            active_model="sale.order", active_ids=order.ids, active_id=order.id
        ).run()
        failed, fallback = self.Message.search(
            [("res_model", "=", "sale.order"), ("res_id", "=", order.id)], order="id"
        )
        self.assertEqual(failed.state, "failed")
        self.assertEqual(failed.failure_type, "invalid_params")
        self.assertEqual(fallback.state, "queued")
        self.assertEqual(fallback.fallback_parent_id, failed)
        self.assertEqual(fallback.user_id, salesman)
        self.assertEqual(fallback.channel_id, fallback_channel)

    def test_user_context_does_not_skip_the_checks(self):
        self.env["phone.blacklist"]._add([NUMBER_A])
        message = (
            self.Message.with_user(self.user)
            .with_context(messaging_skip_prepare=True)
            .create(
                {
                    "partner_id": self.partner_a.id,
                    "channel_id": self.sandbox.id,
                    "template_id": self.template.id,
                }
            )
        )
        self.assertEqual(message.state, "skipped")
        self.assertEqual(message.failure_type, "opt_out")
        self.assertFalse(message.recipient)

    def test_preset_address_of_the_queue_is_checked_for_consent(self):
        self.env["phone.blacklist"]._add([NUMBER_A])
        message = self.Message.create(
            {
                "partner_id": self.partner_a.id,
                "channel_id": self.sandbox.id,
                "route": "sandbox",
                "recipient": "84912345678",
                "body": "Khuyến mãi",
                "category": "marketing",
            }
        )
        self.assertEqual(message.state, "skipped")
        self.assertEqual(message.failure_type, "opt_out")

    def test_user_cannot_send_to_a_contact_they_cannot_read(self):
        hidden = self.env["res.partner"].create(
            {
                "name": "Khách công ty B",
                "mobile": "0987 000 111",
                "company_id": self.company_b.id,
            }
        )
        with self.assertRaises(AccessError):
            self._create_as(self.user, partner_id=hidden.id)
        self.assertFalse(self.Message.search([("partner_id", "=", hidden.id)]))

    # -- category: free text is not a loophole --------------------------------
    def test_free_text_to_a_contact_is_marketing(self):
        message = self._create_as(self.user, template_id=False, body="Giảm giá!")
        self.assertEqual(message.category, "marketing")
        with self.assertRaisesRegex(AccessError, "Only a Messaging Manager"):
            self._create_as(
                self.user, template_id=False, body="Giảm giá!", category="transactional"
            )
        # a template's own text keeps its category
        tx = self._create_as(self.user, template_id=self.template_tx.id)
        self.assertEqual(tx.category, "transactional")
        # a Manager decides
        managed = self._create_as(
            self.manager, template_id=False, body="Hẹn giao", category="transactional"
        )
        self.assertEqual(managed.category, "transactional")

    def test_free_text_in_the_message_form_is_marketing(self):
        """The Messages form as a User: free text to a contact shows and
        saves as marketing (the form's value is the one create() asks for,
        never a refusal of the user's own default)."""
        form = Form(self.Message.with_user(self.user))
        form.partner_id = self.partner_a
        form.channel_id = self.sandbox
        form.body = "Giảm giá!"
        self.assertEqual(form.category, "marketing")
        message = form.save()
        self.assertEqual(message.category, "marketing")
        self.assertEqual(message.state, "queued")

    def test_free_text_to_several_contacts_is_marketing(self):
        salesman = self._make_user(
            "prot_sales_m", USER + ",sales_team.group_sale_salesman"
        )
        orders = self._order(self.partner_a) | self._order(self.partner_b)
        orders.user_id = salesman
        messages = self.Message.with_user(salesman).create(
            [
                {
                    "partner_id": order.partner_id.id,
                    "channel_id": self.sandbox.id,
                    "res_model": "sale.order",
                    "res_id": order.id,
                    "body": "Đơn hàng của bạn",
                }
                for order in orders
            ]
        )
        self.assertEqual(set(messages.mapped("category")), {"marketing"})

    def test_free_text_about_one_order_may_be_transactional(self):
        salesman = self._make_user(
            "prot_sales", USER + ",sales_team.group_sale_salesman"
        )
        order = self._order(self.partner_a)
        order.user_id = salesman
        message = self._create_as(
            salesman,
            template_id=False,
            res_model="sale.order",
            res_id=order.id,
            body="Đơn của bạn đang giao.",
        )
        self.assertEqual(message.category, "transactional")
        self.assertEqual(message.state, "queued")

    # -- composer: the category shown, a Manager's to change -------------------
    def _composer_as(self, user, record, **vals):
        return (
            self.env["messaging.composer"]
            .with_user(user)
            .with_context(active_model=record._name, active_id=record.id)
            .create(dict({"channel_id": self.sandbox.id}, **vals))
        )

    def test_composer_category_follows_free_text(self):
        composer = self._composer_as(
            self.user, self.partner_a, template_id=self.template_tx.id
        )
        self.assertEqual(composer.category, "transactional")
        self.assertFalse(composer.can_edit_category)
        composer.body = "Khuyến mãi cuối tuần: giảm 50%!"
        self.assertEqual(composer.category, "marketing")
        # a user's value is not trusted: the message goes as marketing
        composer.category = "transactional"
        composer.action_send()
        message = self._messages_of_a()
        self.assertEqual(message.category, "marketing")
        self.assertEqual(message.body, "Khuyến mãi cuối tuần: giảm 50%!")
        view = self.env["messaging.composer"].get_view(view_type="form")["arch"]
        self.assertIn('name="category"', view)

    def test_composer_manager_may_send_free_text_as_transactional(self):
        composer = self._composer_as(
            self.manager, self.partner_a, template_id=False, body="Hẹn giao hàng 9h"
        )
        self.assertTrue(composer.can_edit_category)
        self.assertEqual(composer.category, "marketing")
        composer.category = "transactional"
        composer.action_send()
        self.assertEqual(self._messages_of_a().category, "transactional")

    def test_composer_text_about_an_order_is_transactional(self):
        salesman = self._make_user(
            "prot_sales_c", USER + ",sales_team.group_sale_salesman"
        )
        order = self._order(self.partner_a)
        order.user_id = salesman
        composer = self._composer_as(
            salesman, order, template_id=self.template_order.id
        )
        composer.body = "Đơn %s sẽ giao chiều nay." % order.name
        self.assertEqual(composer.category, "transactional")
        composer.action_send()
        self.assertEqual(self._messages_of_a().category, "transactional")

    # -- bulk send: the user's rights, through a controlled campaign ----------
    def _bulk_as(self, user, records, **vals):
        return (
            self.env["messaging.bulk.send"]
            .with_user(user)
            .create(
                dict(
                    {
                        "res_model": records._name,
                        "res_ids": str(records.ids),
                        "channel_id": self.sandbox.id,
                        "template_id": self.template.id,
                    },
                    **vals,
                )
            )
        )

    def test_bulk_send_user_campaign_of_their_company(self):
        wizard = self._bulk_as(self.user, self.partner_a | self.partner_b)
        action = wizard.action_send()
        campaign = self.env["messaging.campaign"].browse(action["res_id"])
        self.assertEqual(campaign.user_id, self.user)
        self.assertEqual(campaign.company_id, self.sandbox.company_id)
        self.assertEqual(campaign.state, "running")
        self.assertEqual(len(campaign.message_ids_sent), 2)
        # the user reads it, and still cannot manage campaigns by hand
        self.assertEqual(campaign.with_user(self.user).name, wizard.name)
        with self.assertRaises(AccessError):
            campaign.with_user(self.user).write({"name": "x"})

    def test_bulk_send_refuses_contacts_the_user_cannot_read(self):
        hidden = self.env["res.partner"].create(
            {
                "name": "Khách công ty B",
                "mobile": "0987 000 222",
                "company_id": self.company_b.id,
            }
        )
        wizard = self._bulk_as(self.user, self.partner_a | hidden)
        with self.assertRaises(AccessError):
            wizard.action_send()
        self.assertFalse(self.Message.search([("partner_id", "=", hidden.id)]))

    def test_bulk_send_refuses_a_channel_of_another_company(self):
        channel_b = self.env["messaging.channel"].create(
            dict(
                self.NO_THROTTLE,
                name="Sandbox B",
                channel_type="sandbox",
                company_id=self.company_b.id,
            )
        )
        wizard = self._bulk_as(self.user, self.partner_a)
        wizard.sudo().channel_id = channel_b
        with self.assertRaises(AccessError):
            wizard.action_send()
        self.assertFalse(self.Message.search([("channel_id", "=", channel_b.id)]))
