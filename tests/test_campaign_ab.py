"""A/B tests: the test share split evenly over the variants, the rest queued
with the winner after the decision (by read rate, click rate or revenue, or
a Manager's pick)."""

from contextlib import suppress
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from odoo.addons.multichannel_messaging.engine import ab_testing, campaign_enqueue

from .test_wizard_common import SalesMessagingCase

CHUNK = {"messaging_enqueue_chunk_size": 7}
AUDIENCE = 40
SHARE = 30  # 12 of 40 recipients tested, 4 per variant


class _RolledBack(Exception):
    pass


@tagged("post_install", "-at_install")
class TestCampaignAB(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.audience = Partner.create(
            [
                {
                    "name": "Khách AB %s" % index,
                    "mobile": "0913 400 %03d" % index,
                    "country_id": cls.vn.id,
                }
                for index in range(AUDIENCE)
            ]
        )
        cls.template_b, cls.template_c = cls.env["messaging.template"].create(
            [
                {
                    "name": name,
                    "channel_type": "sandbox",
                    "category": "marketing",
                    "body": body,
                }
                for name, body in (
                    ("Ưu đãi B", "Giảm 10% cho {{ object.name }}"),
                    ("Quà tặng C", "Quà tặng cho {{ object.name }}"),
                )
            ]
        )
        cls.segment = cls._segment(cls.audience, name="AB audience")
        cls.Campaign = cls.env["messaging.campaign"].with_context(**CHUNK)
        cls.manager = cls._make_user(
            "ab_manager", "multichannel_messaging.group_messaging_manager"
        )
        cls.marketer = cls._make_user(
            "ab_user", "multichannel_messaging.group_messaging_user"
        )

    # -- helpers --------------------------------------------------------------

    def _variants(self):
        return [
            Command.create(
                {"channel_id": self.sandbox.id, "template_id": self.template.id}
            ),
            Command.create(
                {"channel_id": self.sandbox.id, "template_id": self.template_b.id}
            ),
            Command.create(
                {"channel_id": self.sandbox_b.id, "template_id": self.template_c.id}
            ),
        ]

    def _with_second(self, template):
        """Variant commands: A with the campaign's template, B with
        ``template`` on the same sandbox channel."""
        return [
            self._variants()[0],
            Command.create({"channel_id": self.sandbox.id, "template_id": template.id}),
        ]

    def _campaign(self, **vals):
        values = {
            "name": "A/B test",
            "segment_ids": [Command.set(self.segment.ids)],
            "channel_id": self.sandbox.id,
            "template_id": self.template.id,
            "ab_testing_enabled": True,
            "ab_test_share": SHARE,
            "ab_variant_ids": self._variants(),
        }
        values.update(vals)
        campaign = self.Campaign.create(values)
        campaign.action_confirm()
        return campaign

    def _activate_and_queue(self, campaign):
        campaign.action_activate()
        self.Campaign._cron_enqueue(time_limit=None)
        self.assertEqual(campaign.enqueue_state, "done")

    def _first_steps(self, campaign):
        return self.env["messaging.message"].search(
            [("campaign_id", "=", campaign.id), ("fallback_parent_id", "=", False)]
        )

    def _split(self, campaign):
        """{partner id: variant name} of the campaign's first-step messages."""
        return {
            m.partner_id.id: m.ab_variant_id.name for m in self._first_steps(campaign)
        }

    def _set_due(self, campaign):
        campaign.ab_test_started_at = fields.Datetime.now() - timedelta(
            hours=campaign.ab_decision_hours + 1
        )

    def _variant(self, campaign, name):
        return campaign.ab_variant_ids.filtered(lambda v: v.name == name)

    def _results(self, campaign, reads=(), clicks=(), revenue=()):
        """Every test message sent; per variant name, how many read, how many
        clicked, and the revenue attributed to its first message."""
        messages = self._first_steps(campaign)
        messages.sudo().write({"state": "sent", "sent_at": fields.Datetime.now()})
        for name, count in reads:
            by_variant = messages.filtered(lambda m, n=name: m.ab_variant_id.name == n)
            by_variant[:count].sudo().write({"state": "read"})
        for name, count in clicks:
            by_variant = messages.filtered(lambda m, n=name: m.ab_variant_id.name == n)
            by_variant[:count].sudo().write({"click_count": 2})
        for name, amount in revenue:
            message = messages.filtered(lambda m, n=name: m.ab_variant_id.name == n)[0]
            order = self._order(message.partner_id, confirm=False)
            self.env["messaging.campaign.sale"].sudo().create(
                {
                    "campaign_id": campaign.id,
                    "message_id": message.id,
                    "order_id": order.id,
                    "partner_id": message.partner_id.id,
                    "attribution": "read",
                    "amount": amount,
                }
            )

    # -- the split ------------------------------------------------------------

    def test_split_share_even_over_variants_and_rest_not_queued(self):
        campaign = self._campaign()
        campaign.action_activate()
        self.assertEqual(campaign.ab_state, "testing")
        self.assertEqual(campaign.enqueue_state, "enqueuing")  # 40 > chunk of 7
        self.Campaign._cron_enqueue(time_limit=None)
        self.assertEqual(campaign.enqueue_state, "done")
        split = self._split(campaign)
        self.assertEqual(len(split), AUDIENCE * SHARE // 100)
        counts = {}
        for name in split.values():
            counts[name] = counts.get(name, 0) + 1
        self.assertEqual(counts, {"A": 4, "B": 4, "C": 4})
        for message in self._first_steps(campaign):
            self.assertEqual(message.channel_id, message.ab_variant_id.channel_id)
            self.assertEqual(message.template_id, message.ab_variant_id.template_id)
        # nothing else queued, not even as rows, before the decision
        self.assertEqual(
            self.env["messaging.message"].search_count(
                [("campaign_id", "=", campaign.id)]
            ),
            12,
        )
        self.assertEqual(self.Campaign._cron_ab_decide(), 0)  # not due yet
        self.assertEqual(campaign.ab_state, "testing")
        # its test group all sent, the campaign waits for its decision
        self._results(campaign)
        self.Campaign._check_campaigns_done()
        self.assertEqual(campaign.state, "running")
        self.assertIn(
            "Testing: sends the rest with the winner at", campaign.ab_status_text
        )

    def test_split_is_the_same_when_a_chunk_is_queued_again(self):
        campaign = self._campaign()
        campaign.action_activate()
        with suppress(_RolledBack), self.env.cr.savepoint():
            campaign_enqueue.enqueue_chunk(campaign, 20)
            first = self._split(campaign)
            raise _RolledBack
        self.env.invalidate_all()
        self.assertFalse(self._first_steps(campaign))
        self.assertEqual(campaign_enqueue.progress_of(campaign).ab_seen, 0)
        campaign_enqueue.enqueue_chunk(campaign, 20)
        self.assertEqual(len(first), 6)
        self.assertEqual(self._split(campaign), first)
        progress = campaign_enqueue.progress_of(campaign)
        self.assertEqual((progress.ab_seen, progress.ab_tested), (20, 6))

    def test_split_depends_on_the_campaign_not_on_the_ids_order(self):
        one, two = self._campaign(), self._campaign(name="A/B test 2")
        self._activate_and_queue(one)
        self._activate_and_queue(two)
        self.assertEqual(len(self._split(one)), len(self._split(two)))
        self.assertNotEqual(set(self._split(one)), set(self._split(two)))

    # -- the decision ---------------------------------------------------------

    def test_winner_by_each_criterion_sends_the_rest(self):
        # B reads best, C is clicked most, A brings the most revenue
        expected = {"read": "B", "click": "C", "revenue": "A"}
        for criterion, winner_name in expected.items():
            with self.subTest(criterion=criterion):
                campaign = self._campaign(ab_winner_criterion=criterion)
                self._activate_and_queue(campaign)
                test_split = self._split(campaign)
                self._results(
                    campaign,
                    reads=(("A", 1), ("B", 3)),
                    clicks=(("A", 1), ("C", 3)),
                    revenue=(("A", 500000), ("B", 100000)),
                )
                self._set_due(campaign)
                self.assertEqual(self.Campaign._cron_ab_decide(), 1)
                winner = self._variant(campaign, winner_name)
                self.assertEqual(campaign.ab_winner_id, winner)
                self.assertEqual(campaign.ab_state, "decided")
                # a second run decides nothing again
                self.assertEqual(self.Campaign._cron_ab_decide(), 0)
                self.Campaign._cron_enqueue(time_limit=None)
                self.assertEqual(campaign.enqueue_state, "done")
                messages = self._first_steps(campaign)
                self.assertEqual(
                    sorted(messages.partner_id.ids), sorted(self.audience.ids)
                )  # each recipient once: no one gets two variants
                rest = messages.filtered(lambda m: not m.ab_variant_id)
                self.assertEqual(len(rest), AUDIENCE - len(test_split))
                self.assertFalse(set(rest.partner_id.ids) & set(test_split))
                self.assertEqual(set(rest.channel_id), {winner.channel_id})
                self.assertEqual(set(rest.template_id), {winner.template_id})
                self.assertIn(winner_name, campaign.ab_status_text)

    def test_tie_goes_to_the_first_variant(self):
        campaign = self._campaign()
        self._activate_and_queue(campaign)
        self._results(campaign, reads=(("B", 2), ("C", 2)))
        self.assertEqual(ab_testing.pick_winner(campaign), self._variant(campaign, "B"))
        campaign.ab_winner_criterion = "revenue"  # nobody bought: all tied
        self.assertEqual(ab_testing.pick_winner(campaign), self._variant(campaign, "A"))

    def test_variant_report(self):
        campaign = self._campaign()
        self._activate_and_queue(campaign)
        self._results(
            campaign, reads=(("B", 2),), clicks=(("C", 1),), revenue=(("A", 250000),)
        )
        stats = ab_testing.variant_stats(campaign)
        a, b, c = (self._variant(campaign, name) for name in "ABC")
        self.assertEqual(stats[b.id]["read_rate"], 50.0)
        self.assertEqual(stats[c.id]["click_rate"], 25.0)
        self.assertEqual(stats[a.id]["revenue"], 250000)
        self.assertEqual(stats[a.id]["recipients"], 4)
        campaign.invalidate_recordset(["ab_report_html"])
        html = str(campaign.ab_report_html)
        for name in (self.template.name, self.template_b.name, self.template_c.name):
            self.assertIn(name, html)
        self.assertNotIn("Winner", html)
        a.with_user(self.manager).action_pick_winner()
        campaign.invalidate_recordset(["ab_report_html"])
        self.assertIn("Winner", str(campaign.ab_report_html))

    def test_fallback_keeps_the_variant(self):
        campaign = self._campaign()
        self._activate_and_queue(campaign)
        message = self._first_steps(campaign).filtered(
            lambda m: m.ab_variant_id.name == "B"
        )[0]
        message.sudo().fallback_chain = [[self.sandbox_b.id, self.template.id]]
        child = message.sudo()._create_fallback()
        self.assertEqual(child.ab_variant_id, message.ab_variant_id)

    def test_manager_picks_the_winner_before_the_time(self):
        campaign = self._campaign()
        self._activate_and_queue(campaign)
        variant_c = self._variant(campaign, "C")
        with self.assertRaises(AccessError):
            variant_c.with_user(self.marketer).action_pick_winner()
        variant_c.with_user(self.manager).action_pick_winner()
        self.assertEqual(campaign.ab_winner_id, variant_c)
        with self.assertRaises(UserError):
            self._variant(campaign, "A").with_user(self.manager).action_pick_winner()
        self._set_due(campaign)
        self.assertEqual(self.Campaign._cron_ab_decide(), 0)
        self.Campaign._cron_enqueue(time_limit=None)
        messages = self._first_steps(campaign)
        self.assertEqual(len(messages), AUDIENCE)
        rest = messages.filtered(lambda m: not m.ab_variant_id)
        self.assertEqual(set(rest.template_id), {self.template_c})
        self.assertEqual(set(rest.channel_id), {self.sandbox_b})

    def test_small_campaign_queues_the_rest_at_the_decision(self):
        campaign = self._campaign().with_context(messaging_enqueue_chunk_size=100)
        campaign.action_activate()  # fits in one chunk: queued inline
        self.assertEqual(len(self._first_steps(campaign)), 12)
        self._variant(campaign, "B").with_user(self.manager).action_pick_winner()
        self.assertEqual(campaign.enqueue_state, "done")
        self.assertEqual(len(self._first_steps(campaign)), AUDIENCE)

    def test_pick_refused_while_the_test_group_is_queued(self):
        campaign = self._campaign()
        campaign.action_activate()
        with self.assertRaisesRegex(UserError, "still being queued"):
            self._variant(campaign, "A").with_user(self.manager).action_pick_winner()

    # -- pause and cancel -----------------------------------------------------

    def test_cancel_during_the_test_queues_nothing_later(self):
        campaign = self._campaign()
        self._activate_and_queue(campaign)
        campaign.action_cancel()
        self._set_due(campaign)
        self.assertEqual(self.Campaign._cron_ab_decide(), 0)
        self.Campaign._cron_enqueue(time_limit=None)
        self.assertEqual(len(self._first_steps(campaign)), 12)
        self.assertFalse(
            self.env["messaging.message"].search(
                [("campaign_id", "=", campaign.id), ("state", "=", "queued")]
            )
        )
        with self.assertRaises(UserError):
            self._variant(campaign, "A").with_user(self.manager).action_pick_winner()
        self.assertFalse(campaign.ab_winner_id)

    def test_paused_at_the_decision_time_decides_after_resume(self):
        campaign = self._campaign()
        self._activate_and_queue(campaign)
        campaign.action_pause()
        self._set_due(campaign)
        self.assertEqual(self.Campaign._cron_ab_decide(), 0)
        self.assertEqual(campaign.ab_state, "testing")
        campaign.action_resume()
        self.assertEqual(self.Campaign._cron_ab_decide(), 1)
        self.Campaign._cron_enqueue(time_limit=None)
        self.assertEqual(len(self._first_steps(campaign)), AUDIENCE)

    # -- validation -----------------------------------------------------------

    def test_validation_errors(self):
        with self.assertRaisesRegex(ValidationError, "2 or 3 variants"):
            self._campaign(ab_variant_ids=self._variants()[:1])
        with self.assertRaisesRegex(ValidationError, "2 or 3 variants"):
            self._campaign(ab_variant_ids=self._variants() + self._variants()[:1])
        with self.assertRaisesRegex(ValidationError, "between 1 and 99"):
            self._campaign(ab_test_share=100)
        with self.assertRaisesRegex(ValidationError, "between 1 and 99"):
            self._campaign(ab_test_share=0)
        with self.assertRaisesRegex(ValidationError, "Channel, then the fallback"):
            self._campaign(routing="auto")
        with self.assertRaises(ValidationError):  # an order template on contacts
            self._campaign(ab_variant_ids=self._with_second(self.template_order))
        with self.assertRaisesRegex(ValidationError, "fallback chain"):
            self._campaign(
                fallback_ids=[
                    Command.create(
                        {
                            "channel_id": self.sandbox_b.id,
                            "template_id": self.template.id,
                        }
                    )
                ]
            )

    def test_template_must_fit_the_variant_channel(self):
        self._setup_email_and_zalo("AB e-mail")
        with self.assertRaises(ValidationError):
            self._campaign(ab_variant_ids=self._with_second(self.template_email))

    def test_variants_fixed_once_activated(self):
        campaign = self._campaign()
        self._activate_and_queue(campaign)
        with self.assertRaises(UserError):
            campaign.ab_variant_ids[0].template_id = self.template_b
        with self.assertRaises(UserError):
            campaign.ab_test_share = 50
        with self.assertRaises(AccessError):
            campaign.ab_variant_ids[0].with_user(self.marketer).write(
                {"template_id": self.template_b.id}
            )

    def test_estimate_says_test_now_and_rest_after_the_decision(self):
        campaign = self._campaign()
        text = campaign.ab_status_text
        self.assertIn("30% of the recipients (12)", text)
        self.assertIn("3 variants", text)
        self.assertIn("the other 28", text)

    def test_vietnamese_reader(self):
        """Read in Vietnamese: the decision time as dd/mm/yyyy HH:MM in
        Asia/Ho_Chi_Minh, the words from vi.po."""
        self.env["res.lang"]._activate_lang("vi_VN")
        self.env["ir.module.module"]._load_module_terms(
            ["multichannel_messaging"], ["vi_VN"]
        )
        reader = self._make_user(
            "ab_vi_reader",
            "multichannel_messaging.group_messaging_manager",
            lang="vi_VN",
            tz="Asia/Ho_Chi_Minh",
        )
        campaign = self._campaign()
        self._activate_and_queue(campaign)
        campaign.ab_test_started_at = fields.Datetime.to_datetime("2026-12-05 01:00:00")
        self._results(campaign, reads=(("B", 1),))
        seen = campaign.with_user(reader).with_context(
            lang="vi_VN", tz="Asia/Ho_Chi_Minh"
        )
        self.assertTrue(seen.ab_status_text.endswith(" 06/12/2026 08:00."))
        self.assertEqual(
            seen.ab_status_text,
            "Đang thử nghiệm: gửi phần còn lại bằng phương án thắng lúc "
            "06/12/2026 08:00.",
        )
        self.assertIn("Phương án", str(seen.ab_report_html))
        self.assertIn("Đã nhấp", str(seen.ab_report_html))
