"""One coupon per recipient: Odoo loyalty cards made with the messages,
shown in them, counted when used on a confirmed order, archived when never
sent."""

from datetime import date, timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.multichannel_messaging.engine import campaign_enqueue, coupons

from .common import make_user
from .test_wizard_common import SalesMessagingCase

MODULE = "multichannel_messaging"


def coupon_program(env, name, **vals):
    """A coupons program of the current company: 10 % off the order, one
    point per card (what a shop's "Generate coupons" gives)."""
    return env["loyalty.program"].create(
        dict(
            {
                "name": name,
                "program_type": "coupons",
                "trigger": "with_code",
                "applies_on": "current",
                "company_id": env.company.id,
                "rule_ids": [Command.create({})],
                "reward_ids": [
                    Command.create(
                        {
                            "reward_type": "discount",
                            "discount": 10,
                            "discount_mode": "percent",
                            "discount_applicability": "order",
                            "required_points": 1,
                        }
                    )
                ],
            },
            **vals,
        )
    )


@tagged("post_install", "-at_install")
class TestCoupons(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_email_and_zalo("Coupon mail")
        cls.env["res.lang"]._activate_lang("vi_VN")
        (cls.partner_a | cls.partner_b).lang = "vi_VN"
        cls.partner_email_only.lang = "en_US"
        cls.program = cls._program("Giảm 10% cho khách quen")
        cls.template_coupon = cls.env["messaging.template"].create(
            {
                "name": "Mã giảm giá",
                "channel_type": "sandbox",
                "category": "marketing",
                "body": "Chào {{ object.name }}, mã của bạn: [coupon_code], "
                "hạn dùng [coupon_expiry].",
                "param_ids": [
                    Command.create({"name": "voucher", "expression": "[coupon_code]"})
                ],
            }
        )
        cls.template_email.body = "Mã [coupon_code] đến [coupon_expiry]"
        cls.manager = make_user(
            cls.env,
            "mm_coupon_manager",
            f"{MODULE}.group_messaging_manager",
        )

    @classmethod
    def _program(cls, name, **vals):
        return coupon_program(cls.env, name, **vals)

    def _campaign(self, partners, **vals):
        campaign = self.env["messaging.campaign"].create(
            dict(
                {
                    "name": "Tri ân khách hàng",
                    "segment_ids": [Command.set(self._segment(partners).ids)],
                    "channel_id": self.sandbox.id,
                    "template_id": self.template_coupon.id,
                    "loyalty_program_id": self.program.id,
                    "coupon_validity_days": 10,
                },
                **vals,
            )
        )
        campaign.action_confirm()
        return campaign

    def _fallback(self, channel, template):
        return [Command.create({"channel_id": channel.id, "template_id": template.id})]

    def _first_messages(self, campaign):
        return self.Message.search(
            [("campaign_id", "=", campaign.id), ("fallback_parent_id", "=", False)],
            order="partner_id",
        )

    def _use_code(self, partner, code):
        """An order of ``partner`` applying ``code`` as sale_loyalty does it
        (the shop's "Promotion" button); returns it, confirmed."""
        order = self._order(partner, confirm=False)
        status = order._try_apply_code(code)
        self.assertNotIn("error", status, status)
        for card, rewards in status.items():
            result = order._apply_program_reward(rewards[:1], card)
            self.assertNotIn("error", result, result)
        order.action_confirm()
        return order

    # ------------------------------------------------------------------

    def test_each_recipient_gets_own_coupon_shown_in_the_message(self):
        partners = self.partner_a | self.partner_b | self.partner_c
        campaign = self._campaign(partners)
        campaign.action_activate()
        messages = self._first_messages(campaign)
        self.assertEqual(len(messages), 3)
        cards = messages.coupon_id
        self.assertEqual(len(cards), 3)
        self.assertEqual(len(set(cards.mapped("code"))), 3)
        expiry = fields.Date.context_today(campaign) + timedelta(days=10)
        for message in messages:
            card = message.coupon_id
            self.assertEqual(card.partner_id, message.partner_id)
            self.assertEqual(card.program_id, self.program)
            self.assertEqual(card.points, 1)
            self.assertEqual(card.expiration_date, expiry)
            self.assertTrue(card.code.startswith("044"))
            # as the "Generate coupons" wizard: an "issued" line
            self.assertEqual(card.history_ids.issued, 1)
        self.Message._process_queue()
        message_a = messages.filtered(lambda m: m.partner_id == self.partner_a)
        code = message_a.coupon_id.code
        self.assertEqual(message_a.state, "delivered")
        self.assertEqual(
            message_a.body,
            "Chào Nguyễn Văn An, mã của bạn: %s, hạn dùng %s."
            % (code, expiry.strftime("%d/%m/%Y")),
        )
        self.assertEqual(message_a.template_data, {"voucher": code})
        # no e-mail of the program's own "at creation" communication
        self.assertFalse(
            self.env["mail.mail"].search([("model", "=", "loyalty.card")], limit=1)
        )
        self.assertEqual(campaign.coupon_issued_count, 3)
        self.assertEqual(campaign.coupon_redeemed_count, 0)

    def test_expiry_follows_the_program_end_and_the_language(self):
        end = fields.Date.context_today(self.program) + timedelta(days=3)
        self.program.date_to = end
        campaign = self._campaign(self.partner_email_only, coupon_validity_days=30)
        campaign.action_activate()
        card = self._first_messages(campaign).coupon_id
        self.assertEqual(card.expiration_date, end)
        self.assertEqual(coupons.format_expiry(card, "vi_VN"), end.strftime("%d/%m/%Y"))
        self.assertEqual(coupons.format_expiry(card, "en_US"), end.strftime("%m/%d/%Y"))

    def test_fallback_shares_the_coupon_and_unreachable_get_none(self):
        # e-mail first: the contact without an e-mail goes by the sandbox
        campaign = self._campaign(
            self.partner_a | self.partner_nothing,
            channel_id=self.email.id,
            template_id=self.template_email.id,
            fallback_ids=self._fallback(self.sandbox, self.template_coupon),
        )
        campaign.action_activate()
        first = self._first_messages(campaign)
        parent = first.filtered(lambda m: m.partner_id == self.partner_a)
        self.assertEqual(parent.state, "skipped")
        child = parent.fallback_child_ids
        self.assertEqual(child.channel_id, self.sandbox)
        self.assertTrue(parent.coupon_id)
        self.assertEqual(child.coupon_id, parent.coupon_id)
        self.assertTrue(parent.coupon_id.active)
        self.assertIn(parent.coupon_id.code, child.body)
        # nobody can reach this one: its coupon, made for the fallback step,
        # is archived when that step is refused too
        nothing = first.filtered(lambda m: m.partner_id == self.partner_nothing)
        self.assertEqual(nothing.fallback_child_ids.state, "skipped")
        self.assertEqual(nothing.fallback_child_ids.coupon_id, nothing.coupon_id)
        self.assertFalse(nothing.coupon_id.active)
        self.assertEqual(campaign.coupon_issued_count, 1)

    def test_fallback_made_at_send_time_shares_the_coupon(self):
        self.sandbox.sandbox_fail_ratio = 1.0  # every send: unreachable
        campaign = self._campaign(
            self.partner_a,
            fallback_ids=self._fallback(self.sandbox_b, self.template_coupon),
        )
        campaign.action_activate()
        parent = self._first_messages(campaign)
        card = parent.coupon_id
        self.Message._process_queue()
        self.assertEqual(parent.state, "failed")
        child = parent.fallback_child_ids
        self.assertEqual(child.coupon_id, card)
        self.assertIn(card.code, child.body)
        self.assertTrue(card.active)

    def test_coupon_used_on_a_confirmed_order_counts_as_redeemed(self):
        campaign = self._campaign(self.partner_a | self.partner_b)
        campaign.action_activate()
        self.Message._process_queue()
        messages = self._first_messages(campaign)
        card = messages.filtered(lambda m: m.partner_id == self.partner_a).coupon_id
        order = self._use_code(self.partner_a, card.code)
        discount = order.order_line.filtered("coupon_id")
        self.assertEqual(discount.coupon_id, card)
        self.assertEqual(order.state, "sale")
        campaign.invalidate_recordset()
        self.assertEqual(campaign.coupon_issued_count, 2)
        self.assertEqual(campaign.coupon_redeemed_count, 1)
        self.assertAlmostEqual(campaign.coupon_redeemed_rate, 50.0)
        # in the company's currency (the order is in VND)
        self.assertAlmostEqual(
            campaign.coupon_discount_amount,
            -discount.price_subtotal / order.currency_rate,
            places=2,
        )
        self.assertGreater(campaign.coupon_discount_amount, 0)
        # used once: the card is spent
        second = self._order(self.partner_a, confirm=False)
        self.assertIn("error", second._try_apply_code(card.code))

    def test_cancelled_campaign_coupons_are_refused(self):
        later = fields.Datetime.now() + timedelta(days=1)
        campaign = self._campaign(self.partner_a | self.partner_b, scheduled_at=later)
        campaign.action_activate()
        cards = self._first_messages(campaign).coupon_id
        self.assertEqual(len(cards), 2)
        campaign.action_cancel()
        self.assertEqual(
            set(self._first_messages(campaign).mapped("state")), {"cancelled"}
        )
        self.assertFalse(any(cards.with_context(active_test=False).mapped("active")))
        order = self._order(self.partner_a, confirm=False)
        status = order._try_apply_code(cards[0].code)
        self.assertTrue(status.get("not_found"), status)
        self.assertEqual(campaign.coupon_issued_count, 0)

    def test_cancelled_leftovers_of_a_large_campaign_release_coupons(self):
        """Cancelled by the enqueue cron (too many to cancel in the click)."""
        partners = self.partner_a | self.partner_b | self.partner_c
        later = fields.Datetime.now() + timedelta(days=1)
        campaign = self._campaign(partners, scheduled_at=later)
        campaign.action_activate()
        cards = self._first_messages(campaign).coupon_id
        campaign.with_context(messaging_enqueue_chunk_size=1).action_cancel()
        self.assertTrue(all(cards.mapped("active")))  # left to the cron
        campaign_enqueue.cancel_leftovers(self.env)
        self.assertFalse(any(cards.with_context(active_test=False).mapped("active")))

    def test_message_cancelled_or_failed_then_retried(self):
        later = fields.Datetime.now() + timedelta(days=1)
        campaign = self._campaign(self.partner_a, scheduled_at=later)
        campaign.action_activate()
        message = self._first_messages(campaign)
        card = message.coupon_id
        message.with_user(self.manager).action_cancel()
        self.assertEqual(message.state, "cancelled")
        self.assertFalse(card.with_context(active_test=False).active)
        # deleted before it was sent: archived too
        campaign = self._campaign(self.partner_c, scheduled_at=later)
        campaign.action_activate()
        deleted = self._first_messages(campaign)
        deleted_card = deleted.coupon_id
        deleted.with_user(self.manager).unlink()
        self.assertFalse(deleted_card.with_context(active_test=False).active)
        # failed with nothing after it: archived; retried: valid again
        self.sandbox.sandbox_fail_ratio = 1.0
        campaign = self._campaign(self.partner_b)
        campaign.action_activate()
        message = self._first_messages(campaign)
        card = message.coupon_id
        self.Message._process_queue()
        self.assertEqual(message.state, "failed")
        self.assertFalse(card.with_context(active_test=False).active)
        self.sandbox.sandbox_fail_ratio = 0.0
        message.with_user(self.manager).action_retry()
        self.assertEqual(message.state, "queued")
        self.assertTrue(card.active)
        self.assertIn(card.code, message.body)

    def test_bulk_coupons_in_few_queries(self):
        Partner = self.env["res.partner"]

        def queued(count):
            partners = Partner.create(
                [
                    {"name": "Khách %s" % i, "mobile": "0912 100 %03d" % i}
                    for i in range(count)
                ]
            )
            campaign = self._campaign(partners, loyalty_program_id=False)
            campaign.action_activate()
            campaign.loyalty_program_id = self.program
            ids = self._first_messages(campaign).ids
            self.env.flush_all()
            return campaign, ids

        counts = []
        for size in (10, 200):
            campaign, ids = queued(size)
            before = self.env.cr.sql_log_count
            coupons.issue_for_campaign(campaign, ids)
            counts.append(self.env.cr.sql_log_count - before)
            codes = self.Message.browse(ids).coupon_id.mapped("code")
            self.assertEqual(len(set(codes)), size)
        # the same few statements for 10 or 200 (the first call also reads
        # the program)
        self.assertLessEqual(counts[1], counts[0])
        self.assertLessEqual(counts[0], 12)

    def test_automation_message_gets_its_coupon(self):
        template = self.env["messaging.template"].create(
            {
                "name": "Cảm ơn",
                "channel_type": "sandbox",
                "model": "sale.order",
                "category": "transactional",
                "body": "Cảm ơn bạn! Mã cho đơn sau: [coupon_code]",
            }
        )
        action = self.env["ir.actions.server"].create(
            {
                "name": "Coupon after order",
                "model_id": self.env["ir.model"]._get_id("sale.order"),
                "state": "messaging",
                "messaging_template_id": template.id,
                "messaging_channel_id": self.sandbox.id,
                "messaging_loyalty_program_id": self.program.id,
                "messaging_coupon_validity_days": 7,
            }
        )
        order = self._order(self.partner_a)
        action.with_context(
            active_model="sale.order", active_ids=order.ids, active_id=order.id
        ).run()
        message = self.Message.search(
            [("res_model", "=", "sale.order"), ("res_id", "=", order.id)]
        )
        self.assertEqual(len(message), 1)
        card = message.coupon_id
        self.assertEqual(card.partner_id, self.partner_a)
        self.assertEqual(
            card.expiration_date, fields.Date.context_today(card) + timedelta(days=7)
        )
        self.assertEqual(message.body, "Cảm ơn bạn! Mã cho đơn sau: %s" % card.code)
        # an order without a reachable customer: its coupon is archived
        order_b = self._order(self.partner_nothing)
        action.with_context(
            active_model="sale.order", active_ids=order_b.ids, active_id=order_b.id
        ).run()
        refused = self.Message.search(
            [("res_model", "=", "sale.order"), ("res_id", "=", order_b.id)]
        )
        self.assertEqual(refused.state, "skipped")
        self.assertFalse(refused.coupon_id.with_context(active_test=False).active)

    def test_one_off_message_without_program_leaves_placeholders_empty(self):
        message = self._queue(self.partner_a, template=self.template_coupon)
        self.assertFalse(message.coupon_id)
        self.assertEqual(message.body, "Chào Nguyễn Văn An, mã của bạn: , hạn dùng .")
        # the required voucher parameter is empty: not sent as is
        self.assertEqual(message.template_data, {"voucher": ""})

    def test_users_cannot_set_coupons(self):
        card = self.env["loyalty.card"].browse(
            coupons.create_cards(self.env, self.program, 5, [self.partner_a.id])
        )
        user = make_user(self.env, "mm_coupon_user", f"{MODULE}.group_messaging_user")
        Message = self.Message.with_user(user)
        values = {
            "partner_id": self.partner_a.id,
            "channel_id": self.sandbox.id,
            "template_id": self.template_coupon.id,
        }
        with self.assertRaises(AccessError):
            Message.create(dict(values, coupon_id=card.id))
        # the automation's context key is the queue's own
        message = Message.with_context(messaging_coupon_id=card.id).create(values)
        self.assertFalse(message.coupon_id)
        with self.assertRaises(AccessError):
            message.write({"coupon_id": card.id})
        campaign = self._campaign(self.partner_a, loyalty_program_id=False)
        for login, groups in (
            ("mm_coupon_portal", "base.group_portal"),
            ("mm_coupon_sales", "base.group_user,sales_team.group_sale_salesman"),
        ):
            other = make_user(self.env, login, groups)
            with self.assertRaises(AccessError):
                campaign.with_user(other).write({"loyalty_program_id": self.program.id})
            with self.assertRaises(AccessError):
                message.with_user(other).write({"coupon_id": card.id})
        with self.assertRaises(AccessError):
            campaign.with_user(user).write({"loyalty_program_id": self.program.id})
        # a Messaging Manager picks the program (and can search them)
        Program = self.env["loyalty.program"].with_user(self.manager)
        self.assertIn(self.program, Program.search([]))
        campaign.with_user(self.manager).write({"loyalty_program_id": self.program.id})
        self.assertEqual(campaign.loyalty_program_id, self.program)

    def test_programs_that_cannot_give_a_code_are_refused(self):
        campaign = self._campaign(self.partner_a, loyalty_program_id=False)
        other_company = self.env["res.company"].create({"name": "Chi nhánh Huế"})
        foreign = self._program("Khác công ty", company_id=other_company.id)
        with self.assertRaisesRegex(ValidationError, "belongs to Chi nhánh Huế"):
            campaign.loyalty_program_id = foreign
        loyalty = self.env["loyalty.program"].create(
            {"name": "Tích điểm", "program_type": "loyalty"}
        )
        with self.assertRaisesRegex(ValidationError, "cannot be used with a code"):
            campaign.loyalty_program_id = loyalty
        automatic = self.env["loyalty.program"].create(
            {"name": "Tự động", "program_type": "promotion", "trigger": "auto"}
        )
        with self.assertRaisesRegex(ValidationError, "cannot be used with a code"):
            campaign.loyalty_program_id = automatic
        with self.assertRaisesRegex(ValidationError, "cannot be used with a code"):
            self.env["ir.actions.server"].create(
                {
                    "name": "Coupon",
                    "model_id": self.env["ir.model"]._get_id("sale.order"),
                    "state": "messaging",
                    "messaging_template_id": self.template_order.id,
                    "messaging_loyalty_program_id": loyalty.id,
                }
            )
        ended = self._program(
            "Đã kết thúc", date_to=fields.Date.today() - timedelta(days=1)
        )
        campaign.loyalty_program_id = ended
        with self.assertRaisesRegex(UserError, "archived or has ended"):
            campaign.action_draft()
            campaign.action_confirm()
        with_code = self.env["loyalty.program"].create(
            {"name": "Nhập mã", "program_type": "promotion", "trigger": "with_code"}
        )
        campaign.loyalty_program_id = with_code
        self.assertEqual(campaign.loyalty_program_id, with_code)
        self.assertEqual(coupons.expiration_date(with_code, 0), None)
        self.assertEqual(
            coupons.expiration_date(with_code, 2, today=date(2026, 12, 30)),
            date(2027, 1, 1),
        )
