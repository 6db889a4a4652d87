from datetime import timedelta

import lxml.html
from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .test_wizard_common import SalesMessagingCase


@tagged("post_install", "-at_install")
class TestCampaignReport(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox.cost_per_message = 300
        Channel = cls.env["messaging.channel"]
        cls.sms = Channel.create(
            dict(
                cls.NO_THROTTLE,
                name="SMS test",
                channel_type="esms",
                cost_per_segment=750,
            )
        )
        cls.email = Channel.create(
            dict(
                cls.NO_THROTTLE,
                name="E-mail test",
                channel_type="email",
                cost_per_message=10,
            )
        )
        Template = cls.env["messaging.template"]
        cls.sms_template = Template.create(
            {
                "name": "SMS promo",
                "channel_type": "esms",
                "category": "marketing",
                "body": "Chao {{ object.name }}, giam 20% cuoi tuan.",
            }
        )
        cls.email_template = Template.create(
            {
                "name": "Mail promo",
                "channel_type": "email",
                "category": "marketing",
                "subject": "Ưu đãi",
                "body": "Xin chào {{ object.name }}",
            }
        )
        cls.everyone = (
            cls.partner_a
            | cls.partner_b
            | cls.partner_email_only
            | cls.partner_nothing
            | cls.partner_bad_phone
            | cls.partner_opted_out
        )

    def _campaign(self, partners=None, **vals):
        segment = self._segment(partners or self.everyone)
        return self.env["messaging.campaign"].create(
            dict(
                {
                    "name": "Report test",
                    "segment_ids": [(6, 0, segment.ids)],
                    "channel_id": self.sandbox.id,
                    "template_id": self.template.id,
                },
                **vals,
            )
        )

    def _run(self, campaign):
        campaign.action_confirm()
        campaign.action_activate()
        return campaign

    # -- before activation -------------------------------------------------

    def test_excluded_shown_with_reason_before_activation(self):
        campaign = self._campaign()
        self.assertEqual(campaign.recipient_count, 6)
        self.assertEqual(campaign.reachable_count, 3)  # a, b, e-mail only
        self.assertEqual(campaign.excluded_count, 3)
        self.assertEqual(campaign.excluded_opt_out_count, 1)
        self.assertEqual(campaign.excluded_no_address_count, 1)
        self.assertEqual(campaign.excluded_invalid_address_count, 1)
        self.assertEqual(campaign.estimated_cost, 900)
        self.assertIn("Opted out", campaign.estimate_html)
        self.assertIn("Test sandbox", campaign.estimate_html)
        self.assertFalse(campaign.message_ids_sent)

    def test_preview_lists_excluded_first_with_reason(self):
        campaign = self._campaign()
        action = campaign.action_preview_recipients()
        preview = self.env[action["res_model"]].browse(action["res_id"])
        self.assertEqual(preview.recipient_count, 6)
        self.assertEqual(preview.excluded_count, 3)
        lines = preview.line_ids
        self.assertEqual(lines[:3].mapped("excluded"), [True] * 3)
        by_partner = {line.partner_id: line for line in lines}
        self.assertEqual(by_partner[self.partner_opted_out].failure_type, "opt_out")
        self.assertIn("opted out", by_partner[self.partner_opted_out].reason)
        self.assertEqual(by_partner[self.partner_nothing].failure_type, "no_address")
        self.assertEqual(
            by_partner[self.partner_bad_phone].failure_type, "invalid_address"
        )
        self.assertEqual(by_partner[self.partner_a].address, "84912345678")
        self.assertEqual(by_partner[self.partner_a].cost, 300)
        self.assertFalse(campaign.message_ids_sent)

    def test_invalid_extra_conditions_refused(self):
        with self.assertRaisesRegex(ValidationError, "not valid"):
            self._campaign(extra_domain="[('no_such_field', '=', 1)]")

    def test_preview_needs_a_channel(self):
        campaign = self._campaign(channel_id=False, template_id=False)
        self.assertEqual(campaign.recipient_count, 6)
        self.assertEqual(campaign.reachable_count, 0)
        with self.assertRaisesRegex(UserError, "channel first"):
            campaign.action_preview_recipients()

    def test_cost_and_reach_per_channel_with_fallback(self):
        campaign = self._campaign(
            channel_id=self.sms.id,
            template_id=self.sms_template.id,
            fallback_ids=[
                (
                    0,
                    0,
                    {
                        "channel_id": self.email.id,
                        "template_id": self.email_template.id,
                    },
                )
            ],
        )
        # SMS for a and b, e-mail for the contact without phone
        self.assertEqual(campaign.reachable_count, 3)
        estimate = campaign._get_estimate()
        lines = {line["channel_id"]: line for line in estimate["channels"]}
        self.assertEqual(lines[self.sms.id]["count"], 2)
        self.assertEqual(lines[self.sms.id]["cost"], 1500)
        self.assertEqual(lines[self.email.id]["count"], 1)
        self.assertEqual(lines[self.email.id]["cost"], 10)
        self.assertEqual(campaign.estimated_cost, 1510)
        self.assertIn("E-mail test", campaign.estimate_html)

    def test_eta_from_campaign_and_channel_caps(self):
        campaign = self._campaign(self.partner_a | self.partner_b | self.partner_c)
        self.assertEqual(campaign.eta_days, 1)
        campaign.daily_cap = 1
        self.assertEqual(campaign.eta_days, 3)
        self.assertIn("3 days", campaign.eta_text)
        campaign.daily_cap = 0
        campaign.min_interval_seconds = 1200
        self.assertEqual(campaign.eta_text, "about 1 h 0 min")
        # the stricter of the channel's and the campaign's limits wins
        self.sandbox.daily_cap = 2
        campaign.invalidate_recordset(["eta_days"])
        self.assertEqual(campaign.eta_days, 2)

    def test_large_campaign_estimate_is_sampled(self):
        partners = self.env["res.partner"].create(
            [{"name": f"K{i}", "mobile": f"0912 {i:06d}"} for i in range(30)]
        )
        campaign = self._campaign(partners)
        with self.patch_sample(10):
            campaign.invalidate_recordset()
            self.assertTrue(campaign.estimate_sampled)
            self.assertEqual(campaign.recipient_count, 30)
            self.assertEqual(campaign.reachable_count, 30)
            self.assertEqual(campaign.estimated_cost, 9000)

    def patch_sample(self, size):
        from unittest.mock import patch

        from odoo.addons.multichannel_messaging.engine import campaign_stats

        return patch.object(campaign_stats, "PREVIEW_SAMPLE_SIZE", size)

    def test_campaign_form_estimate_is_live(self):
        segment = self._segment(self.everyone)
        with Form(self.env["messaging.campaign"]) as form:
            form.name = "Form"
            form.segment_ids.add(segment)
            form.channel_id = self.sandbox
            form.template_id = self.template
            self.assertEqual(form.recipient_count, 6)
            self.assertEqual(form.excluded_count, 3)
            self.assertEqual(form.estimated_cost, 900)
            form.extra_domain = str([("id", "!=", self.partner_a.id)])
            self.assertEqual(form.reachable_count, 2)
            form.daily_cap = 1
            self.assertEqual(form.eta_days, 2)
        campaign = self._run(form.record)
        with Form(campaign) as form:
            form.name = "Renamed while running"
            self.assertEqual(form.count_total, 5)
            self.assertEqual(form.count_queued, 2)
        self.assertEqual(campaign.name, "Renamed while running")

    # -- errors before anything is queued --------------------------------------

    def test_fallback_template_of_another_model_refused(self):
        campaign = self._campaign(
            fallback_ids=[
                (
                    0,
                    0,
                    {
                        "channel_id": self.sandbox_b.id,
                        "template_id": self.template_order.id,
                    },
                )
            ]
        )
        with self.assertRaisesRegex(UserError, "renders on sale.order"):
            campaign.action_confirm()
        self.assertEqual(campaign.state, "draft")

    def test_missing_template_parameter_refused(self):
        zalo = self.env["messaging.channel"].create(
            dict(self.NO_THROTTLE, name="Zalo test", channel_type="zalo")
        )
        zbs = self.env["messaging.template"].create(
            {
                "name": "ZBS promo",
                "channel_type": "zalo",
                "zalo_template_id": "99",
                "param_ids": [(0, 0, {"name": "customer_name", "expression": ""})],
            }
        )
        campaign = self._campaign(channel_id=zalo.id, template_id=zbs.id)
        with self.assertRaisesRegex(UserError, "customer_name have no value"):
            campaign.action_confirm()
        self.assertFalse(campaign.message_ids_sent)

    # -- after activation -------------------------------------------------------

    def test_estimate_kept_at_activation(self):
        campaign = self._run(self._campaign())
        self.assertEqual(campaign.estimate_data["recipients"], 6)
        self.assertEqual(campaign.reachable_count, 3)
        self.assertEqual(campaign.excluded_opt_out_count, 1)
        self.assertEqual(campaign.excluded_no_address_count, 1)
        self.assertEqual(campaign.excluded_invalid_address_count, 1)
        self.assertEqual(campaign.estimated_cost, 900)
        # later changes to the contacts do not rewrite the activated estimate
        self.partner_a.messaging_opt_out = True
        campaign.invalidate_recordset()
        self.assertEqual(campaign.reachable_count, 3)

    def test_live_report_counts_rates_cost_and_replies(self):
        campaign = self._run(
            self._campaign(self.partner_a | self.partner_b | self.partner_c)
        )
        self.Message._process_queue()
        messages = campaign.message_ids_sent
        self.assertEqual(campaign.count_delivered, 3)
        # receipts: one read; providers report the actual cost
        messages[0]._set_read()
        messages.sudo().write({"cost": 250})
        by_partner = {m.partner_id: m for m in messages}
        sent_at = by_partner[self.partner_a].sent_at
        # a Zalo-style interaction after the message counts as a reply...
        self.env["messaging.identity"].create(
            {
                "partner_id": self.partner_a.id,
                "channel_id": self.sandbox.id,
                "external_id": "4184557136571297813",
                "last_interaction_at": sent_at + timedelta(minutes=5),
            }
        )
        # ... and so does the customer's own message in the chatter
        reply = self.partner_b.message_post(
            body="Cảm ơn shop!",
            author_id=self.partner_b.id,
            message_type="comment",
        )
        reply.sudo().date = by_partner[self.partner_b].sent_at + timedelta(minutes=1)
        # a note of the salesperson is not a reply
        note = self.partner_c.message_post(body="Đã gọi điện", message_type="comment")
        note.sudo().date = by_partner[self.partner_c].sent_at + timedelta(minutes=1)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.count_read, 1)
        self.assertEqual(campaign.count_replied, 2)
        self.assertAlmostEqual(campaign.replied_rate, 200 / 3)
        self.assertAlmostEqual(campaign.read_rate, 100 / 3)
        self.assertEqual(campaign.delivered_rate, 100.0)
        self.assertEqual(campaign.actual_cost, 750)
        self.assertEqual(campaign.estimated_cost, 900)
        html = campaign.report_html
        self.assertIn("Test sandbox", html)
        self.assertIn("Replied", html)
        action = campaign.action_view_report()
        self.assertEqual(action["view_mode"].split(",")[0], "pivot")
        self.assertEqual(action["domain"], [("campaign_id", "=", campaign.id)])

    def test_reply_before_the_message_does_not_count(self):
        campaign = self._run(self._campaign(self.partner_a))
        self.Message._process_queue()
        message = campaign.message_ids_sent
        self.env["messaging.identity"].create(
            {
                "partner_id": self.partner_a.id,
                "channel_id": self.sandbox.id,
                "external_id": "4184557136571297813",
                "last_interaction_at": message.sent_at - timedelta(hours=1),
            }
        )
        self.assertEqual(campaign.count_replied, 0)

    def test_report_per_channel_counts_fallbacks(self):
        self.sandbox.sandbox_fail_ratio = 1.0
        campaign = self._run(
            self._campaign(
                self.partner_a | self.partner_b,
                fallback_ids=[
                    (
                        0,
                        0,
                        {
                            "channel_id": self.sandbox_b.id,
                            "template_id": self.template.id,
                        },
                    )
                ],
            )
        )
        self.Message._process_queue()
        self.assertEqual(campaign.count_fallback, 2)
        self.assertEqual(campaign.count_failed, 2)
        self.assertEqual(campaign.count_read, 2)
        self.assertIn("Test sandbox (fallback)", campaign.report_html)

    # -- throttle overrides -----------------------------------------------------

    def test_campaign_spacing_spreads_send_times(self):
        partners = self.partner_a | self.partner_b | self.partner_c
        campaign = self._run(self._campaign(partners, min_interval_seconds=60))
        times = sorted(campaign.message_ids_sent.mapped("scheduled_at"))
        self.assertEqual(times[1] - times[0], timedelta(seconds=60))
        self.assertEqual(times[2] - times[1], timedelta(seconds=60))
        self.Message._process_queue()
        self.assertEqual(campaign.count_delivered, 1)  # the others are not due
        self.assertEqual(campaign.count_queued, 2)

    def test_campaign_daily_cap_spreads_over_days(self):
        partners = self.partner_a | self.partner_b | self.partner_c
        campaign = self._run(self._campaign(partners, daily_cap=2))
        self.assertEqual(campaign.eta_days, 2)
        times = sorted(campaign.message_ids_sent.mapped("scheduled_at"))
        self.assertEqual(times[0], times[1])
        self.assertEqual(times[2] - times[0], timedelta(days=1))
        self.Message._process_queue()
        self.assertEqual(campaign.count_delivered, 2)
        with freeze_time(times[2] + timedelta(seconds=1)):
            self.Message._process_queue()
        self.assertEqual(campaign.count_delivered, 3)
        self.assertEqual(campaign.state, "done")

    def test_scheduled_campaign_spreads_from_its_send_date(self):
        start = fields.Datetime.now() + timedelta(hours=3)
        campaign = self._run(
            self._campaign(
                self.partner_a | self.partner_b,
                scheduled_at=start,
                min_interval_seconds=30,
            )
        )
        times = sorted(campaign.message_ids_sent.mapped("scheduled_at"))
        self.assertEqual(times, [start, start + timedelta(seconds=30)])

    def test_immediate_fallbacks_wait_for_the_send_date(self):
        start = fields.Datetime.now() + timedelta(hours=2)
        campaign = self._run(
            self._campaign(
                self.partner_a | self.partner_email_only,
                channel_id=self.sms.id,
                template_id=self.sms_template.id,
                scheduled_at=start,
                fallback_ids=[
                    (
                        0,
                        0,
                        {
                            "channel_id": self.sandbox_b.id,
                            "template_id": self.template.id,
                        },
                    )
                ],
            )
        )
        queued = campaign.message_ids_sent.filtered(lambda m: m.state == "queued")
        self.assertEqual(len(queued), 2)  # SMS to An, fallback for the other
        self.assertEqual(set(queued.mapped("scheduled_at")), {start})
        self.Message._process_queue()
        self.assertEqual(campaign.count_queued, 2)

    def test_resume_keeps_the_campaign_pace(self):
        partners = self.partner_a | self.partner_b | self.partner_c
        campaign = self._run(self._campaign(partners, min_interval_seconds=60))
        campaign.action_pause()
        later = fields.Datetime.now() + timedelta(days=1)
        with freeze_time(later):
            campaign.action_resume()
            times = sorted(campaign.message_ids_sent.mapped("scheduled_at"))
            self.assertEqual(times[0], later)
            self.assertEqual(times[2] - times[0], timedelta(seconds=120))
            self.Message._process_queue()
        self.assertEqual(campaign.count_delivered, 1)

    def test_resend_window_skips_recently_messaged(self):
        manual = self._queue(self.partner_a)
        self.Message._process_queue()
        self.assertEqual(manual.state, "delivered")
        campaign = self._campaign(
            self.partner_a | self.partner_b, resend_window_minutes=60
        )
        self.assertEqual(campaign.excluded_duplicate_count, 1)
        self.assertEqual(campaign.reachable_count, 1)
        self._run(campaign)
        skipped = campaign.message_ids_sent.filtered(lambda m: m.state == "skipped")
        self.assertEqual(skipped.partner_id, self.partner_a)
        self.assertEqual(skipped.failure_type, "duplicate")
        self.assertIn("60 minutes", skipped.error_message)
        self.assertEqual(campaign.excluded_duplicate_count, 1)
        # outside the window the contact is messaged again
        other = self._campaign(self.partner_a, resend_window_minutes=60)
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)):
            self.assertEqual(other.excluded_duplicate_count, 0)

    @mute_logger("odoo.sql_db")
    def test_negative_overrides_refused(self):
        with self.assertRaises(IntegrityError), self.cr.savepoint():
            self._campaign(daily_cap=-1)

    def test_duplicate_keeps_settings_not_results(self):
        campaign = self._run(
            self._campaign(
                self.partner_a,
                daily_cap=5,
                min_interval_seconds=2,
                resend_window_minutes=30,
            )
        )
        copy = campaign.copy()
        self.assertEqual(copy.state, "draft")
        self.assertEqual(
            (copy.daily_cap, copy.min_interval_seconds, copy.resend_window_minutes),
            (5, 2, 30),
        )
        self.assertFalse(copy.estimate_data)
        self.assertFalse(copy.message_ids_sent)

    # -- kept as data, read in the reader's language ---------------------------

    def _vietnamese_reader(self):
        """A manager who reads in Vietnamese (the addon's vi.po loaded)."""
        self.env["res.lang"]._activate_lang("vi_VN")
        self.env["ir.module.module"]._load_module_terms(
            ["multichannel_messaging"], ["vi_VN"]
        )
        user = self._make_user(
            "campaign_vi_reader",
            "multichannel_messaging.group_messaging_manager",
            lang="vi_VN",
        )
        return self.env(user=user, context=dict(self.env.context, lang="vi_VN"))

    def _report_cells(self, html):
        """The text of each cell of the report table, row by row."""
        rows = lxml.html.fromstring(str(html)).xpath("//tbody/tr")
        return [[" ".join(td.text_content().split()) for td in tr] for tr in rows]

    def test_estimate_kept_as_data_reads_in_the_readers_language(self):
        vi_env = self._vietnamese_reader()
        # activated by an English-speaking marketer
        campaign = self._run(
            self._campaign(min_interval_seconds=1200).with_context(lang="en_US")
        )
        data = campaign.estimate_data
        # the kept estimate holds figures, codes and ids: no words
        eta = data["eta"]
        self.assertEqual(
            {key: eta[key] for key in ("days", "seconds", "cap", "code")},
            {"days": 1, "seconds": 3600.0, "cap": 0, "code": False},
        )
        # when sending starts and ends: UTC figures, worded on read
        self.assertEqual(
            fields.Datetime.to_datetime(eta["end"])
            - fields.Datetime.to_datetime(eta["start"]),
            timedelta(hours=1),
        )
        self.assertEqual(data["excluded"]["opt_out"], 1)
        self.assertEqual(
            [line["channel_id"] for line in data["channels"]], [self.sandbox.id]
        )
        self.assertNotIn("eta_text", data)
        self.assertNotIn("name", data["channels"][0])
        english = campaign.with_context(lang="en_US")
        self.assertEqual(english.eta_text, "about 1 h 0 min")
        self.assertIn("Opted out", english.estimate_html)
        self.assertIn("Estimated duration", english.estimate_html)
        # the Vietnamese manager reads the same estimate in Vietnamese
        vietnamese = campaign.with_env(vi_env)
        self.assertEqual(vietnamese.eta_text, "khoảng 1 giờ 0 phút")
        html = str(vietnamese.estimate_html)
        self.assertIn("khoảng 1 giờ 0 phút", html)
        self.assertIn("Đã từ chối nhận tin", html)  # opted out
        self.assertIn("Thời gian ước tính", html)  # estimated duration
        self.assertIn("Test sandbox", html)
        self.assertNotIn("about 1 h", html)
        self.assertEqual(
            (vietnamese.recipient_count, vietnamese.reachable_count),
            (english.recipient_count, english.reachable_count),
        )
        self.assertEqual(vietnamese.estimated_cost, english.estimated_cost)
        # and the English marketer still reads English
        campaign.invalidate_recordset()
        self.assertEqual(english.eta_text, "about 1 h 0 min")

    def test_eta_over_days_in_the_readers_language(self):
        vi_env = self._vietnamese_reader()
        campaign = self._campaign(
            self.partner_a | self.partner_b | self.partner_c, daily_cap=1
        )
        self.assertEqual(campaign.eta_text, "3 days (daily cap 1)")
        vietnamese = campaign.with_env(vi_env)
        self.assertEqual(vietnamese.eta_days, 3)
        self.assertEqual(vietnamese.eta_text, "3 ngày (tối đa 1 tin mỗi ngày)")

    def test_report_numbers_in_both_languages(self):
        vi_env = self._vietnamese_reader()
        campaign = self._run(
            self._campaign(self.partner_a | self.partner_b | self.partner_c)
        )
        self.Message._process_queue()
        messages = campaign.message_ids_sent
        messages[0]._set_read()
        messages.sudo().write({"cost": 250})
        campaign.invalidate_recordset()
        english = self._report_cells(campaign.report_html)
        # channel, messages, queued, sent, delivered, read, failed, skipped,
        # fell back, replied, clicked (then the estimated and actual costs)
        self.assertEqual(
            [row[:11] for row in english],
            [
                [
                    "Test sandbox",
                    "3",
                    "0",
                    "3",
                    "3 (100 %)",
                    "1 (33 %)",
                    "0",
                    "0",
                    "0",
                    "0",
                    "0 (0 %)",
                ]
            ],
        )
        self.assertIn("900", english[0][11])
        self.assertIn("750", english[0][12])
        vietnamese = campaign.with_env(vi_env)
        html = str(vietnamese.report_html)
        self.assertIn("Đã phản hồi", html)  # replied
        self.assertNotIn(">Replied<", html)
        cells = self._report_cells(html)
        self.assertEqual([row[:11] for row in cells], [row[:11] for row in english])
        self.assertIn("900", cells[0][11])
        self.assertIn("750", cells[0][12])

    def test_estimate_kept_before_figures_still_reads(self):
        """An estimate kept with words (before it was kept as data) reads."""
        campaign = self._run(self._campaign())
        campaign.estimate_data = {
            "recipients": 6,
            "reachable": 3,
            "sampled": False,
            "excluded": {"opt_out": 1, "no_address": 1, "invalid_address": 1},
            "channels": [
                {
                    "channel_id": self.sandbox.id,
                    "name": "Test sandbox",
                    "count": 3,
                    "cost": 900.0,
                    "eta_days": 1,
                    "eta_text": "under a minute",
                }
            ],
            "cost": 900.0,
            "eta_days": 2,
            "eta_text": "2 days (daily cap 2)",
        }
        self.assertEqual(campaign.eta_days, 2)
        self.assertEqual(campaign.eta_text, "2 days (daily cap 2)")
        self.assertEqual(campaign.reachable_count, 3)
        self.assertIn("Test sandbox", campaign.estimate_html)
        self.assertIn("under a minute", campaign.estimate_html)
