"""Activation returns at once; a cron queues the recipients chunk by chunk.

The chunk size is forced small with the ``messaging_enqueue_chunk_size``
context key, so a handful of contacts behaves as a large audience does.
"""

from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.multichannel_messaging.engine import campaign_enqueue, routing

from .test_wizard_common import SalesMessagingCase

CHUNK = {"messaging_enqueue_chunk_size": 2}


@tagged("post_install", "-at_install")
class TestCampaignEnqueue(SalesMessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        cls.audience = Partner.browse()
        for index in range(7):
            cls.audience |= Partner.create(
                {
                    "name": "Khách %s" % index,
                    "mobile": "0912 000 %03d" % index,
                    "country_id": cls.vn.id,
                }
            )
        cls.Campaign = cls.env["messaging.campaign"].with_context(**CHUNK)
        cls.enqueue_cron = cls.env.ref(
            "multichannel_messaging.ir_cron_messaging_campaign_enqueue"
        )

    def _campaign(self, partners=None, **vals):
        segment = self._segment(partners or self.audience)
        campaign = self.Campaign.create(
            dict(
                {
                    "name": "Enqueue test",
                    "segment_ids": [(6, 0, segment.ids)],
                    "channel_id": self.sandbox.id,
                    "template_id": self.template.id,
                },
                **vals,
            )
        )
        campaign.action_confirm()
        return campaign

    def _partners_queued(self, campaign):
        """{partner id: number of first-step messages} of the campaign."""
        counts = self.env["messaging.message"]._read_group(
            [("campaign_id", "=", campaign.id), ("fallback_parent_id", "=", False)],
            ["partner_id"],
            ["__count"],
        )
        return {partner.id: count for partner, count in counts}

    def _run_cron(self, **kw):
        return self.Campaign._cron_enqueue(**kw)

    # -- activation ---------------------------------------------------------

    def test_activation_of_a_large_campaign_queues_nothing_in_the_click(self):
        campaign = self._campaign()
        triggers_before = self.env["ir.cron.trigger"].search_count(
            [("cron_id", "=", self.enqueue_cron.id)]
        )
        campaign.action_activate()
        self.assertEqual(campaign.state, "running")
        self.assertEqual(campaign.enqueue_state, "enqueuing")
        self.assertEqual(campaign.enqueue_total, 7)
        self.assertEqual(campaign.enqueue_done, 0)
        self.assertFalse(campaign.message_ids_sent)
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count(
                [("cron_id", "=", self.enqueue_cron.id)]
            ),
            triggers_before + 1,
        )
        # the form shows the audience, not a live estimate recomputed on it
        self.assertEqual(campaign.recipient_count, 7)

    def test_small_campaign_is_queued_in_the_click(self):
        campaign = self._campaign(self.audience[:2])
        campaign.action_activate()
        self.assertEqual(campaign.enqueue_state, "done")
        self.assertEqual(campaign.enqueue_done, 2)
        self.assertEqual(len(campaign.message_ids_sent), 2)
        self.assertEqual(campaign.reachable_count, 2)

    def test_cron_queues_in_chunks_with_progress(self):
        campaign = self._campaign()
        campaign.action_activate()
        progress = self.env["ir.cron.progress"].create(
            {"cron_id": self.enqueue_cron.id}
        )
        cron_env = self.Campaign.with_context(ir_cron_progress_id=progress.id)
        self.assertEqual(cron_env._cron_enqueue(max_chunks=1), 2)
        self.assertEqual(
            set(self._partners_queued(campaign)), set(self.audience[:2].ids)
        )
        self.assertEqual(campaign.enqueue_done, 2)
        self.assertEqual(
            campaign_enqueue.progress_of(campaign).cursor, self.audience[1].id
        )
        self.assertAlmostEqual(campaign.enqueue_progress, 100.0 * 2 / 7)
        self.assertEqual((progress.done, progress.remaining), (2, 5))
        self.assertEqual(cron_env._cron_enqueue(max_chunks=2), 4)
        self.assertEqual((progress.done, progress.remaining), (4, 1))
        self.assertEqual(cron_env._cron_enqueue(), 1)
        self.assertEqual((progress.done, progress.remaining), (1, 0))
        self.assertEqual(campaign.enqueue_state, "done")
        self.assertEqual(campaign.enqueue_progress, 100.0)
        self.assertEqual(
            self._partners_queued(campaign), dict.fromkeys(self.audience.ids, 1)
        )
        # the figures of the queued campaign, once all is queued
        self.assertEqual(campaign.estimate_data["recipients"], 7)
        self.assertEqual(campaign.reachable_count, 7)

    def test_the_scheduled_action_queues_the_rest(self):
        campaign = self._campaign()
        campaign.action_activate()
        self._run_cron(max_chunks=1)
        self.enqueue_cron.method_direct_trigger()
        self.assertEqual(campaign.enqueue_state, "done")
        self.assertEqual(
            self._partners_queued(campaign), dict.fromkeys(self.audience.ids, 1)
        )

    def test_first_chunk_is_sent_before_the_last_is_queued(self):
        campaign = self._campaign()
        campaign.action_activate()
        self._run_cron(max_chunks=1)
        self.Message._process_queue()
        sent = campaign.message_ids_sent.filtered(
            lambda m: m.state in ("sent", "delivered", "read")
        )
        self.assertEqual(sent.partner_id, self.audience[:2])
        # nothing left to send, but recipients left to queue: not done
        self.assertEqual(campaign.state, "running")
        self._run_cron()
        self.Message._process_queue()
        self.assertEqual(campaign.state, "done")
        self.assertEqual(campaign.count_sent, 7)

    def test_no_duplicate_across_chunks_and_reruns(self):
        campaign = self._campaign()
        campaign.action_activate()
        self._run_cron(max_chunks=1)
        # a crash in the middle of the next chunk: its transaction is lost
        with (
            patch.object(
                campaign_enqueue, "spread_schedule", side_effect=RuntimeError("crash")
            ),
            self.assertRaises(RuntimeError),
            self.env.cr.savepoint(),
        ):
            campaign._enqueue_step(auto_commit=False)
        self.env.invalidate_all()
        self.assertEqual(
            set(self._partners_queued(campaign)), set(self.audience[:2].ids)
        )
        self._run_cron()  # the cron runs again
        self._run_cron()
        self.assertEqual(
            self._partners_queued(campaign), dict.fromkeys(self.audience.ids, 1)
        )
        self.assertEqual(len(campaign.message_ids_sent), 7)
        self.assertEqual(campaign.enqueue_done, 7)

    def test_cancel_during_enqueue_cancels_and_stops(self):
        campaign = self._campaign()
        campaign.action_activate()
        self._run_cron(max_chunks=1)
        campaign.action_cancel()
        self.assertEqual(campaign.state, "cancelled")
        self.assertEqual(campaign.enqueue_state, "stopped")
        self.assertEqual(set(campaign.message_ids_sent.mapped("state")), {"cancelled"})
        self.assertEqual(self._run_cron(), 0)
        self.assertEqual(len(campaign.message_ids_sent), 2)
        self.assertEqual(campaign_enqueue.remaining(self.env), 0)

    def test_chunk_committed_during_a_cancel_is_cancelled_by_the_cron(self):
        campaign = self._campaign()
        campaign.action_activate()
        self._run_cron(max_chunks=1)
        campaign.action_cancel()
        # rows of a chunk committed while the cancel waited for its lock:
        # the cancel's snapshot did not see them
        late = self._queue(self.audience[5], campaign_id=campaign.id)
        self.assertEqual(late.state, "queued")
        self._run_cron()
        self.assertEqual(late.state, "cancelled")
        self.assertEqual(set(campaign.message_ids_sent.mapped("state")), {"cancelled"})

    def test_cancelling_many_queued_returns_at_once_the_cron_cancels_them(self):
        """More queued messages than a chunk: the click cancels none of them
        (no work proportional to the campaign), none is sent meanwhile, the
        campaign can't go back to draft with them queued; the cron cancels
        them all."""
        campaign = self._campaign()
        campaign.action_activate()
        self._run_cron()
        messages = campaign.message_ids_sent
        self.assertEqual(len(messages), 7)
        campaign.action_cancel()
        self.assertEqual(campaign.state, "cancelled")
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        self.assertEqual(self.Message._process_queue(), 0)
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        with self.assertRaisesRegex(UserError, "still cancelling"):
            campaign.action_draft()
        self._run_cron()
        self.assertEqual(set(messages.mapped("state")), {"cancelled"})
        self.assertEqual(set(messages.mapped("failure_type")), {"cancelled"})
        campaign.action_draft()
        self.assertEqual(campaign.state, "draft")

    def test_resuming_a_large_paced_campaign_paces_it_in_the_cron(self):
        """A campaign with its own spacing, more queued than a chunk: the
        resume click moves no message; the claim leaves them until the cron
        has paced them again from the resume, then they go at that pace."""
        campaign = self._campaign(min_interval_seconds=60)
        campaign.action_activate()
        self._run_cron()
        messages = campaign.message_ids_sent
        self.assertEqual(len(messages), 7)
        campaign.action_pause()
        messages.write({"scheduled_at": fields.Datetime.now() - timedelta(hours=1)})
        before = {m.id: m.scheduled_at for m in messages}
        campaign.action_resume()
        self.assertEqual(campaign.state, "running")
        self.assertTrue(campaign.resume_pending)
        self.assertEqual({m.id: m.scheduled_at for m in messages}, before)
        # all due, none claimed while the pace is pending
        self.assertEqual(self.Message._process_queue(), 0)
        self._run_cron()
        self.assertFalse(campaign.resume_pending)
        paced = messages.sorted("scheduled_at")
        start = paced[0].scheduled_at
        self.assertGreater(start, before[paced[0].id])
        gaps = [(m.scheduled_at - start).total_seconds() for m in paced]
        self.assertEqual(gaps, [0, 60, 120, 180, 240, 300, 360])
        self.assertEqual(self.Message._process_queue(), 1)
        self.assertNotEqual(paced[0].state, "queued")
        self.assertEqual(set(paced[1:].mapped("state")), {"queued"})

    def test_pause_stops_enqueue_and_resume_continues_it(self):
        campaign = self._campaign()
        campaign.action_activate()
        self._run_cron(max_chunks=1)
        campaign.action_pause()
        self.assertEqual(self._run_cron(), 0)
        self.assertEqual(len(campaign.message_ids_sent), 2)
        triggers = self.env["ir.cron.trigger"].search_count(
            [("cron_id", "=", self.enqueue_cron.id)]
        )
        campaign.action_resume()
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count(
                [("cron_id", "=", self.enqueue_cron.id)]
            ),
            triggers + 1,
        )
        self.assertEqual(self._run_cron(), 5)
        self.assertEqual(
            self._partners_queued(campaign), dict.fromkeys(self.audience.ids, 1)
        )

    def test_throttles_apply_to_every_chunk(self):
        """No re-send window, spacing from the send date: the same for the
        rows of every chunk as for one activation."""
        manual = self._queue(self.audience[4])
        self.Message._process_queue()
        self.assertEqual(manual.state, "delivered")
        campaign = self._campaign(min_interval_seconds=60, resend_window_minutes=60)
        campaign.action_activate()
        self._run_cron()
        messages = campaign.message_ids_sent
        skipped = messages.filtered(lambda m: m.state == "skipped")
        self.assertEqual(skipped.partner_id, self.audience[4])
        self.assertEqual(skipped.failure_type, "duplicate")
        queued = (messages - skipped).sorted("scheduled_at")
        self.assertEqual(queued.partner_id, self.audience - self.audience[4])
        start = queued[0].scheduled_at
        gaps = [(m.scheduled_at - start).total_seconds() for m in queued]
        self.assertEqual(gaps, [0, 60, 120, 180, 240, 300])

    def test_bulk_send_wizard_of_many_records_queues_in_background(self):
        partners = self.audience
        wizard = (
            self.env["messaging.bulk.send"]
            .with_context(active_model="res.partner", active_ids=partners.ids, **CHUNK)
            .create({"channel_id": self.sandbox.id, "template_id": self.template.id})
        )
        action = wizard.action_send()
        campaign = self.env["messaging.campaign"].browse(action["res_id"])
        self.assertEqual(campaign.state, "running")
        self.assertEqual(campaign.enqueue_state, "enqueuing")
        self.assertFalse(campaign.message_ids_sent)
        self._run_cron(max_chunks=1)
        self.assertEqual(len(campaign.message_ids_sent), 2)
        self._run_cron()
        self.assertEqual(
            self._partners_queued(campaign), dict.fromkeys(partners.ids, 1)
        )

    def test_orders_of_one_customer_in_several_chunks_message_it_once(self):
        a, b = self.audience[:2]
        orders = (
            self._order(a)
            | self._order(b)
            | self._order(a)
            | self._order(b)
            | self._order(a)
        )
        wizard = (
            self.env["messaging.bulk.send"]
            .with_context(active_model="sale.order", active_ids=orders.ids, **CHUNK)
            .create(
                {"channel_id": self.sandbox.id, "template_id": self.template_order.id}
            )
        )
        campaign = self.env["messaging.campaign"].browse(wizard.action_send()["res_id"])
        self.assertEqual(campaign.enqueue_state, "enqueuing")
        self._run_cron()
        self.assertEqual(campaign.enqueue_done, 5)
        messages = campaign.message_ids_sent
        self.assertEqual(self._partners_queued(campaign), {a.id: 1, b.id: 1})
        # each customer about its first order, as when queued at once
        self.assertEqual(
            {m.partner_id.id: m.res_id for m in messages},
            {a.id: orders[0].id, b.id: orders[1].id},
        )


@tagged("post_install", "-at_install")
class TestEnqueueResolution(SalesMessagingCase):
    """The set-wise resolution queues exactly what ``routing.resolve_recipient``
    queues: same routes, addresses, refusals, failure types and texts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Partner = cls.env["res.partner"]
        vn = cls.vn.id
        cls.partner_blacklisted_phone = Partner.create(
            {"name": "Số Chặn", "mobile": "0913 222 333", "country_id": vn}
        )
        cls.env["phone.blacklist"].sudo()._add(["+84913222333"])
        cls.partner_blacklisted_email = Partner.create(
            {"name": "Thư Chặn", "email": "Chan <chan@example.vn>"}
        )
        cls.env["mail.blacklist"].sudo()._add("chan@example.vn")
        cls.partner_invalid_vn = Partner.create(
            {"name": "Sai VN", "mobile": "12345", "country_id": vn}
        )
        # Odoo's phone_sanitized takes the valid phone, we refuse the mobile
        cls.partner_invalid_mobile_valid_phone = Partner.create(
            {
                "name": "Di Động Sai",
                "mobile": "123",
                "phone": "0987 111 333",
                "country_id": vn,
            }
        )
        cls.partner_two_numbers = Partner.create(
            {
                "name": "Hai Số",
                "mobile": "0912 000 111",
                "phone": "024 3826 1234",
                "country_id": vn,
            }
        )
        cls.partner_phone_only = Partner.create(
            {"name": "Cố Định", "phone": "0987 222 333", "country_id": vn}
        )
        cls.partner_phone_and_email = Partner.create(
            {
                "name": "Có Cả Hai",
                "mobile": "0988 444 555",
                "email": "Ca Hai <CAHAI@Example.vn>",
                "country_id": vn,
            }
        )
        cls.partner_blank_mobile = Partner.create(
            {"name": "Trắng", "mobile": "   ", "email": "trang@example.vn"}
        )
        cls.partner_zalo_opt_out = Partner.create(
            {"name": "Zalo Từ Chối", "mobile": "0911 555 666", "country_id": vn}
        )
        cls.sms = cls.env["messaging.channel"].create(
            dict(cls.NO_THROTTLE, name="SMS enqueue", channel_type="esms")
        )
        cls.email = cls.env["messaging.channel"].create(
            dict(cls.NO_THROTTLE, name="E-mail enqueue", channel_type="email")
        )
        cls.zalo = cls.env["messaging.channel"].create(
            dict(cls.NO_THROTTLE, name="Zalo enqueue", channel_type="zalo")
        )
        cls.env["messaging.identity"].create(
            {
                "channel_id": cls.zalo.id,
                "external_id": "1234567890123456789",
                "partner_id": cls.partner_zalo_opt_out.id,
                "opt_out": True,
            }
        )
        cls.env["messaging.identity"].create(
            {
                "channel_id": cls.zalo.id,
                "external_id": "1234567890123456000",
                "partner_id": cls.partner_a.id,
            }
        )
        Template = cls.env["messaging.template"]
        zbs = {
            "channel_type": "zalo",
            "zalo_template_id": "231677",
            "param_ids": [(0, 0, {"name": "name", "expression": "{{ object.name }}"})],
        }
        cls.steps = [
            (cls.sandbox, cls.template),
            (
                cls.sms,
                Template.create(
                    {"name": "SMS", "channel_type": "esms", "body": "Chào"}
                ),
            ),
            (
                cls.email,
                Template.create(
                    {
                        "name": "Mail",
                        "channel_type": "email",
                        "subject": "S",
                        "body": "B",
                    }
                ),
            ),
            (
                cls.zalo,
                Template.create(dict(zbs, name="ZBS phone", zalo_route="phone")),
            ),
            (cls.zalo, Template.create(dict(zbs, name="ZBS uid", zalo_route="uid"))),
            (cls.zalo, Template.create(dict(zbs, name="ZBS auto", zalo_route="auto"))),
        ]
        cls.partners = Partner.search(
            [
                (
                    "id",
                    "in",
                    [
                        cls.partner_a.id,
                        cls.partner_b.id,
                        cls.partner_c.id,
                        cls.partner_email_only.id,
                        cls.partner_nothing.id,
                        cls.partner_bad_phone.id,
                        cls.partner_opted_out.id,
                        cls.partner_blacklisted_phone.id,
                        cls.partner_blacklisted_email.id,
                        cls.partner_invalid_vn.id,
                        cls.partner_invalid_mobile_valid_phone.id,
                        cls.partner_two_numbers.id,
                        cls.partner_phone_only.id,
                        cls.partner_phone_and_email.id,
                        cls.partner_blank_mobile.id,
                        cls.partner_zalo_opt_out.id,
                    ],
                )
            ],
            order="id",
        )

    def _expected(self, channel, template, partner, category):
        route, address, failure, text = routing.resolve_recipient(
            channel, template, partner, category
        )
        return (
            route or None,
            address or None,
            "skipped" if failure else "queued",
            failure or None,
            text or None,
        )

    def test_set_wise_resolution_is_resolve_recipient(self):
        self.assertEqual(len(self.partners), 16)
        for channel, template in self.steps:
            for category in ("marketing", "transactional"):
                with self.subTest(template=template.name, category=category):
                    ids = self.Message._bulk_enqueue(
                        channel,
                        template,
                        [(p, "res.partner", p.id) for p in self.partners],
                        category=category,
                    )
                    messages = self.Message.browse(ids)
                    self.assertEqual(messages.partner_id, self.partners)
                    for message in messages:
                        self.assertEqual(
                            (
                                message.route or None,
                                message.recipient or None,
                                message.state,
                                message.failure_type or None,
                                message.error_message or None,
                            ),
                            self._expected(
                                channel, template, message.partner_id, category
                            ),
                            message.partner_id.name,
                        )

    def test_set_wise_answers_only_what_it_is_sure_of(self):
        """What the query answers is what ``routing.resolve_recipient`` answers, and
        it does answer the plain cases (else the test above proves nothing)."""
        plain = {
            self.sms: self.partner_a
            | self.partner_b
            | self.partner_phone_only
            | self.partner_phone_and_email,
            self.email: self.partner_email_only | self.partner_phone_and_email,
            self.sandbox: self.partner_a | self.partner_email_only,
        }
        for channel, template in self.steps:
            for category in ("marketing", "transactional"):
                resolved = routing.resolve_recipients_sql(
                    channel, template, self.partners.ids, category
                )
                for partner_id, answer in resolved.items():
                    partner = self.env["res.partner"].browse(partner_id)
                    self.assertEqual(
                        answer,
                        routing.resolve_recipient(channel, template, partner, category),
                    )
                self.assertLessEqual(
                    set(plain.get(channel, self.partners.browse()).ids), set(resolved)
                )
                never = (
                    self.partner_c  # no country: Odoo may format it otherwise
                    | self.partner_invalid_mobile_valid_phone
                    | self.partner_two_numbers
                    | self.partner_blank_mobile
                )
                if channel != self.email:  # an e-mail needs no number
                    self.assertFalse(set(never.ids) & set(resolved))
                if category == "marketing":
                    refused = (
                        self.partner_blacklisted_phone
                        | self.partner_blacklisted_email
                        | self.partner_opted_out
                    )
                    self.assertFalse(set(refused.ids) & set(resolved))
        self.assertFalse(
            routing.resolve_recipients_sql(
                self.zalo, self.steps[4][1], self.partners.ids, "marketing"
            ),
            "Zalo by user id is resolved one by one",
        )

    def test_campaign_refusals_and_fallbacks_as_before(self):
        """A chunked campaign with a fallback chain: the refusals and the
        fallbacks they create, as ``routing.resolve_recipient`` decides them."""
        segment = self._segment(self.partners)
        campaign = (
            self.env["messaging.campaign"]
            .with_context(**CHUNK)
            .create(
                {
                    "name": "Refusals",
                    "segment_ids": [(6, 0, segment.ids)],
                    "channel_id": self.sms.id,
                    "template_id": self.steps[1][1].id,
                    "fallback_ids": [
                        (
                            0,
                            0,
                            {
                                "channel_id": self.email.id,
                                "template_id": self.steps[2][1].id,
                            },
                        )
                    ],
                }
            )
        )
        campaign.action_confirm()
        campaign.action_activate()
        self.assertFalse(campaign.message_ids_sent)
        campaign._cron_enqueue()
        first = campaign.message_ids_sent.filtered(lambda m: not m.fallback_parent_id)
        self.assertEqual(first.partner_id, self.partners)
        category = self.steps[1][1].category
        fallback_types = self.Message._get_fallback_failure_types()
        for message in first:
            expected = self._expected(
                self.sms, self.steps[1][1], message.partner_id, category
            )
            self.assertEqual(
                (
                    message.route or None,
                    message.recipient or None,
                    message.state,
                    message.failure_type or None,
                    message.error_message or None,
                ),
                expected,
            )
            self.assertEqual(
                bool(message.fallback_child_ids),
                expected[3] in fallback_types,
                message.partner_id.name,
            )
            if message.fallback_child_ids:
                self.assertEqual(message.fallback_child_ids.channel_id, self.email)
