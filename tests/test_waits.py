"""Every wait has a reason and an end: a queued message says why it waits
and until when, in the reader's language and time zone; the composer, the
bulk send and the campaign say when sending really starts before the click."""

from datetime import datetime

import pytz
from freezegun import freeze_time

from odoo.exceptions import AccessError
from odoo.tests import tagged

from odoo.addons.mail.tools.discuss import Store

from ..engine import results, throttle, waits
from ..providers import QUOTA, RETRY, SendResult
from .test_wizard_common import SalesMessagingCase

VN = pytz.timezone("Asia/Ho_Chi_Minh")


def vn_to_utc(*args):
    return VN.localize(datetime(*args)).astimezone(pytz.utc).replace(tzinfo=None)


NIGHT = vn_to_utc(2026, 11, 23, 22, 30)
MORNING = vn_to_utc(2026, 11, 24, 8, 0)
DAY = vn_to_utc(2026, 11, 23, 10, 0)


@tagged("post_install", "-at_install")
class TestWaits(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox.write(
            {"quiet_hours_start": 21.0, "quiet_hours_end": 8.0, "cost_per_message": 300}
        )
        cls.env = cls.env(context=dict(cls.env.context, tz="Asia/Ho_Chi_Minh"))
        cls.Message = cls.env["messaging.message"]

    def _vi(self, record):
        """``record`` read by a Vietnamese reader in Vietnam."""
        self.env["res.lang"]._activate_lang("vi_VN")
        self.env["ir.module.module"]._load_module_terms(
            ["multichannel_messaging"], ["vi_VN"]
        )
        return record.with_context(lang="vi_VN", tz="Asia/Ho_Chi_Minh")

    def _composer(self, record, **vals):
        return (
            self.env["messaging.composer"]
            .with_context(active_model=record._name, active_id=record.id)
            .create(dict({"channel_id": self.sandbox.id}, **vals))
        )

    def _messages_of(self, record):
        return self.Message.search(
            [("res_model", "=", record._name), ("res_id", "=", record.id)]
        )

    # -- messages --------------------------------------------------------------

    def test_composer_marketing_at_night_waits_for_quiet_hours(self):
        with freeze_time(NIGHT):
            composer = self._composer(self.partner_a, template_id=self.template.id)
            # said before the click: category, start time and cost
            self.assertEqual(
                composer.send_start_text,
                "Marketing message: will be sent at 08:00 (quiet hours). "
                "1 message, %s." % self._vnd(300),
            )
            self.assertTrue(composer.is_held)  # "Queue for Later", not "Send Now"
            notice = composer.action_send()["params"]["message"]
            self.assertIn("will be sent at 08:00 (quiet hours)", notice)
            message = self._messages_of(self.partner_a)
            self.assertFalse(message.wait_reason)  # not looked at by the queue yet
            self.Message._process_queue()
            self.assertEqual(message.state, "queued")
            self.assertEqual(message.wait_code, "quiet_hours")
            self.assertEqual(message.scheduled_at, MORNING)
            self.assertEqual(message.wait_reason, "Quiet hours until 08:00")
            self.assertEqual(
                self._vi(message).wait_reason,
                "Trong khung giờ không gửi, sẽ gửi lúc 08:00",
            )
            # in the Waiting filter
            self.assertIn(message, self.Message.search([("is_waiting", "=", True)]))
            self.assertNotIn(message, self.Message.search([("is_waiting", "=", False)]))
        with freeze_time(vn_to_utc(2026, 11, 24, 8, 1)):
            self.Message._process_queue()
            self.assertEqual(message.state, "delivered")
            self.assertFalse(message.wait_code)
            self.assertFalse(message.wait_reason)

    def test_held_message_is_said_in_the_chatter(self):
        with freeze_time(NIGHT):
            self._composer(self.partner_a, template_id=self.template.id).action_send()
            message = self._messages_of(self.partner_a)
            self.Message._process_queue()
            line = self.partner_a.message_ids.filtered(
                lambda m: (m.messaging_line or {}).get("key") == "held"
            )
            self.assertEqual(len(line), 1)

            def shown_to(lang):
                store = Store(line.with_context(lang=lang, tz="Asia/Ho_Chi_Minh"))
                [data] = store.get_result()["mail.message"]
                return str(data["body"])

            self.assertIn(
                "Test sandbox message to %s waits: Quiet hours until 08:00"
                % message.recipient,
                shown_to("en_US"),
            )
            self._vi(message)  # the Vietnamese terms loaded
            self.assertIn(
                "Trong khung giờ không gửi, sẽ gửi lúc 08:00", shown_to("vi_VN")
            )
            # held again by the next run: said once
            message.scheduled_at = NIGHT
            self.Message._process_queue()
            self.assertEqual(
                len(
                    self.partner_a.message_ids.filtered(
                        lambda m: (m.messaging_line or {}).get("key") == "held"
                    )
                ),
                1,
            )

    def test_transactional_at_night_goes_at_once(self):
        order = self._order(self.partner_a)
        with freeze_time(NIGHT):
            composer = self._composer(order, template_id=self.template_order.id)
            self.assertEqual(composer.category, "transactional")
            self.assertFalse(composer.is_held)
            self.assertTrue(
                composer.send_start_text.startswith(
                    "Transactional message: will be sent now."
                )
            )
            composer.action_send()
            message = self._messages_of(order)
            self.Message._process_queue()
            self.assertEqual(message.state, "delivered")
            self.assertFalse(message.wait_code)
            self.assertFalse(message.wait_reason)

    def test_manager_is_told_a_transactional_send_would_go_now(self):
        with freeze_time(NIGHT):
            composer = self._composer(self.partner_a, template_id=self.template_tx.id)
            composer.body = "Chào anh An, hàng về rồi ạ."  # free text: marketing
            self.assertEqual(composer.category, "marketing")
            self.assertIn(
                "As a transactional message it would go at once.",
                composer.send_start_text,
            )
            composer.category = "transactional"
            self.assertTrue(
                composer.send_start_text.startswith(
                    "Transactional message: will be sent now."
                )
            )

    def test_user_is_not_offered_transactional_for_marketing(self):
        user = self._make_user(
            "waits_user", "multichannel_messaging.group_messaging_user"
        )
        with freeze_time(NIGHT):
            composer = (
                self.env["messaging.composer"]
                .with_user(user)
                .with_context(active_model="res.partner", active_id=self.partner_a.id)
                .create(
                    {"channel_id": self.sandbox.id, "template_id": self.template.id}
                )
            )
            self.assertIn("(quiet hours)", composer.send_start_text)
            self.assertNotIn("transactional", composer.send_start_text)

    def test_daily_cap_wait_shows_its_reason(self):
        self.sandbox.daily_cap = 1
        with freeze_time(DAY):
            first = self._queue(self.partner_a, template=self.template_tx)
            second = self._queue(self.partner_b, template=self.template_tx)
            self.Message._process_queue()
            self.assertEqual(first.state, "delivered")
            self.assertEqual(second.state, "queued")
            self.assertEqual(second.wait_code, "daily_cap")
            self.assertEqual(second.scheduled_at, vn_to_utc(2026, 11, 24, 0, 0))
            self.assertEqual(second.wait_reason, "Daily cap reached, continues 00:00")
            # the composer says so before the next click
            composer = self._composer(self.partner_c, template_id=self.template_tx.id)
            self.assertTrue(
                composer.send_start_text.startswith(
                    "Transactional message: will be sent at 00:00 (daily cap reached)."
                )
            )

    def test_quota_wait_shows_its_reason(self):
        with freeze_time(DAY):
            throttle.note_quota(self.sandbox, 20000, 0)
            message = self._queue(self.partner_a, template=self.template_tx)
            self.Message._process_queue()
            # a paused channel's messages are not even claimed: the reason
            # comes from the channel
            self.assertEqual(message.state, "queued")
            self.assertEqual(message.wait_reason, "Provider quota used up until 00:00")
            self.assertEqual(
                self._vi(message).wait_reason, "Hết hạn mức của nhà cung cấp đến 00:00"
            )

    def test_quota_answer_and_retry_keep_their_codes(self):
        with freeze_time(DAY):
            quota = self._queue(self.partner_a, template=self.template_tx)
            retry = self._queue(self.partner_b, template=self.template_tx)
            results.apply_result(quota, SendResult(status=QUOTA, retry_after=600))
            self.assertEqual(quota.wait_code, "quota")
            self.sandbox.paused_until = False
            retry.attempt_count = 1
            results.apply_result(
                retry, SendResult(status=RETRY, code="-32", message="Rate limited")
            )
            self.assertEqual(retry.wait_code, "retry")
            # the error in plain words (Zalo's table for the sandbox's
            # codes), then what the provider said
            self.assertEqual(
                retry.wait_reason,
                "Retry at 10:01 after a temporary error: Application or OA "
                "reached the API call limit per minute. The provider said: "
                "Rate limited",
            )

    def test_recipient_cap_wait_code(self):
        self.sandbox.recipient_daily_cap = 1
        other = self.template.copy()
        with freeze_time(DAY):
            self._queue(self.partner_a)
            self.Message._process_queue()
            second = self._queue(self.partner_a, template=other)
            self.Message._process_queue()
            self.assertEqual(second.wait_code, "recipient_cap")
            self.assertEqual(
                second.wait_reason, "Per-recipient daily limit, continues 08:00"
            )

    def test_wait_code_is_the_queues(self):
        message = self._queue(self.partner_a)
        user = self._make_user(
            "waits_writer", "multichannel_messaging.group_messaging_manager"
        )
        with self.assertRaises(AccessError):
            message.with_user(user).write({"wait_code": False})

    def test_times_in_the_readers_formats(self):
        with freeze_time(NIGHT):
            later = vn_to_utc(2026, 11, 25, 8, 0)
            vi_env = self._vi(self.Message).env
            self.assertEqual(waits.format_when(vi_env, later), "25/11/2026 08:00")
            self.assertEqual(waits.format_when(self.env, MORNING), "08:00")
            en = self.env(context=dict(self.env.context, lang="en_US"))
            self.assertEqual(waits.format_when(en, later), "11/25/2026 08:00")

    # -- campaigns ----------------------------------------------------------------

    def _campaign(self, partners, **vals):
        segment = self.env["messaging.segment"].create(
            {"name": "Waits", "domain": str([("id", "in", partners.ids)])}
        )
        return self.env["messaging.campaign"].create(
            dict(
                {
                    "name": "Night campaign",
                    "segment_ids": [(6, 0, segment.ids)],
                    "channel_id": self.sandbox.id,
                    "template_id": self.template.id,
                },
                **vals,
            )
        )

    def test_campaign_eta_includes_quiet_hours(self):
        partners = self.partner_a | self.partner_b | self.partner_c
        with freeze_time(NIGHT):
            campaign = self._campaign(partners)
            self.assertEqual(
                campaign.eta_text, "starts 08:00 (quiet hours), done by about 08:00"
            )
            self.assertNotIn("under a minute", campaign.estimate_html)
            self.assertEqual(
                campaign.send_start_text,
                "Marketing message: will be sent at 08:00 (quiet hours). "
                "3 messages, %s, done by about 08:00." % self._vnd(900),
            )
            self.assertIn("08:00", self._vi(campaign).send_start_text)
            self.assertIn("khung giờ không gửi", self._vi(campaign).eta_text)
            # the bulk send says the same before its click
            wizard = (
                self.env["messaging.bulk.send"]
                .with_context(active_model="res.partner", active_ids=partners.ids)
                .create(
                    {"channel_id": self.sandbox.id, "template_id": self.template.id}
                )
            )
            self.assertTrue(
                wizard.send_start_text.startswith(
                    "Marketing message: will be sent at 08:00 (quiet hours)."
                )
            )
        with freeze_time(DAY):
            campaign.invalidate_recordset()
            self.assertEqual(campaign.eta_text, "under a minute")
            transactional = self._campaign(partners, template_id=self.template_tx.id)
        with freeze_time(NIGHT):
            transactional.invalidate_recordset()
            self.assertEqual(transactional.eta_text, "under a minute")

    def test_campaign_spacing_stops_for_the_night(self):
        self.sandbox.min_interval_seconds = 3600
        start = vn_to_utc(2026, 11, 24, 8, 0)
        # 13 hours a day outside quiet hours: 13 messages, then 2 the next day
        self.assertEqual(
            waits.finish_at(self.sandbox, "marketing", start, 15, 3600, 0),
            vn_to_utc(2026, 11, 25, 10, 0),
        )
        self.assertEqual(
            waits.finish_at(self.sandbox, "transactional", start, 15, 3600, 0),
            vn_to_utc(2026, 11, 24, 23, 0),
        )
        # a daily cap of 5 spreads 12 over three mornings
        self.assertEqual(
            waits.finish_at(self.sandbox, "marketing", start, 12, 0, 5),
            vn_to_utc(2026, 11, 26, 8, 0),
        )

    def test_campaign_daily_spread_shows_daily_cap(self):
        partners = self.partner_a | self.partner_b
        with freeze_time(DAY):
            campaign = self._campaign(partners, daily_cap=1)
            campaign.action_confirm()
            campaign.action_activate()
            messages = campaign.message_ids_sent.sorted("scheduled_at")
            self.assertEqual(messages.mapped("wait_code"), [False, "daily_cap"])
            # a day later exactly: the date is said too
            self.assertEqual(
                messages[1].wait_reason, "Daily cap reached, continues 11/24/2026 10:00"
            )
            self.assertEqual(
                campaign.wait_summary,
                "1 waiting: Daily cap reached, continues 11/24/2026 10:00",
            )

    def _vnd(self, amount):
        from odoo.tools import format_amount

        return format_amount(self.env, amount, self.sandbox.currency_id)
