"""Receipts applied set-wise give what the per-event path gives.

The same mixed batch (Zalo delivery and seen receipts, duplicates, unknown
ids, a receipt before its send result, eSMS and SpeedSMS reports with
failures, other events in between) is processed once one event at a time
(context ``messaging_receipts_one_by_one``) and once set-wise, each on its
own channels; every message's and event's final state must be the same, and
the states expected are also asserted explicitly. Every time a state depends
on comes from the payloads or is written by the test: nothing depends on the
clock.
"""

import json
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..engine import results
from ..engine.inbound import next_batch_size
from ..providers.zalo_events import zalo_time
from . import test_webhook_common as wh
from .common import MessagingCase

T0 = 1764720000000  # 2025-12-03 00:00:00 UTC, in epoch ms as Zalo sends it
MESSAGE_FIELDS = (
    "state",
    "sent_at",
    "delivered_at",
    "read_at",
    "failure_type",
    "error_code",
    "error_message",
    "outcome_wait_until",
)


def ts(seconds):
    return str(T0 + seconds * 1000)


def at(seconds):
    return zalo_time(ts(seconds))


def seen(msg_ids, seconds):
    return {
        "app_id": wh.APP_ID,
        "sender": {"id": wh.USER_ID},
        "recipient": {"id": wh.OA_ID},
        "event_name": "user_seen_message",
        "message": {"msg_ids": msg_ids},
        "timestamp": ts(seconds),
    }


def received(seconds, msg_id=None, tracking_id=None, delivered=None):
    payload = wh.zns_received(msg_id=msg_id, tracking_id=tracking_id, ts=ts(seconds))
    if delivered is not None:  # the delivery time differs from the event's
        payload["message"]["delivery_time"] = ts(delivered)
    return payload


@tagged("post_install", "-at_install")
class TestReceiptsBulk(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["messaging.event"]
        cls.EventClass = type(cls.Event)

    def setUp(self):
        super().setUp()
        # every event of a scenario is received at this time (not the clock)
        self.received_at = fields.Datetime.now() - timedelta(minutes=10)

    # -- a scenario on its own channels ------------------------------------
    def _channels(self, label):
        zalo, esms, speedsms = wh.make_webhook_channels(self.env, label)
        zalo.name = "Zalo (%s)" % label
        return zalo, esms, speedsms

    def _message(self, channel, label, state="sent", pid=None, **values):
        message = self.Message.with_context(messaging_skip_prepare=True).create(
            {
                "channel_id": channel.id,
                "partner_id": self.partner_a.id,
                "route": "sms" if channel.channel_type != "zalo" else "phone",
                "recipient": "84912345678",
                "body": label,
            }
        )
        message.write(
            {
                "state": state,
                "provider_message_id": pid or False,
                "sent_at": at(-3600),
                **values,
            }
        )
        return message

    def _store(self, channel, key, payload, name=None, received_at=None):
        raw = json.dumps(payload)
        timestamp = payload.get("timestamp") if channel.channel_type == "zalo" else None
        event = self.Event._store(
            channel,
            key,
            name or payload.get("event_name") or payload.get("type"),
            raw,
            event_at=zalo_time(timestamp) if timestamp else None,
        )
        event.received_at = received_at or self.received_at
        return event

    def _scenario(self, label):
        """Messages and events of one run: ({label: message}, [(label, event)])."""
        zalo, esms, speedsms = self._channels(label)
        tracked = "trk-%s-4" % label
        messages = {
            "delivered": self._message(zalo, "delivered", pid="P1"),
            "delivered_seen": self._message(zalo, "delivered_seen", pid="P2"),
            "seen_delivered": self._message(zalo, "seen_delivered", pid="P3"),
            "by_tracking": self._message(
                zalo, "by_tracking", pid="P4", tracking_id=tracked
            ),
            "unknown": self._message(
                zalo,
                "unknown",
                state="unknown",
                pid="P5",
                failure_type="no_answer",
                error_message="No answer",
                outcome_wait_until=at(7200),
            ),
            "failed": self._message(
                zalo, "failed", state="failed", pid="P6", failure_type="provider"
            ),
            "read": self._message(
                zalo,
                "read",
                state="read",
                pid="P7",
                delivered_at=at(-60),
                read_at=at(-30),
            ),
            "seen_a": self._message(zalo, "seen_a", pid="P8"),
            "seen_b": self._message(zalo, "seen_b", pid="P9"),
            "sending": self._message(zalo, "sending", state="sending", pid="P11"),
            "seen_unknown": self._message(
                zalo, "seen_unknown", state="unknown", pid="P12", failure_type="crash"
            ),
            "esms_ok": self._message(esms, "esms_ok", pid="S1"),
            "esms_wait": self._message(esms, "esms_wait", pid="S2"),
            "esms_rejected": self._message(esms, "esms_rejected", pid="S3"),
            "esms_undelivered": self._message(esms, "esms_undelivered", pid="S4"),
            "esms_request": self._message(
                esms, "esms_request", tracking_id="req-%s-5" % label
            ),
            "sp_ok": self._message(speedsms, "sp_ok", pid="101"),
            "sp_temp": self._message(speedsms, "sp_temp", pid="102"),
            "sp_failed": self._message(speedsms, "sp_failed", pid="103"),
        }
        expired = fields.Datetime.now() - timedelta(hours=2)
        zalo_events = [
            ("follow", wh.follow(user_id="7770001", ts=ts(1))),
            ("delivered", received(2, msg_id="P1", delivered=1)),
            ("delivered_seen_1", received(3, msg_id="P2")),
            ("text", wh.user_text("Xin chào", user_id="7770001", ts=ts(4))),
            ("delivered_seen_2", seen(["P2"], 5)),
            ("seen_delivered_1", seen(["P3"], 6)),
            ("seen_delivered_2", received(7, msg_id="P3")),
            ("by_tracking", received(8, msg_id="no-such", tracking_id=tracked)),
            ("unknown", received(9, msg_id="P5")),
            ("failed", seen(["P6"], 10)),
            ("read", received(11, msg_id="P7")),
            ("seen_two", seen(["P8", "P9"], 12)),
            ("duplicate", received(13, msg_id="P1", delivered=13)),
            ("unmatched", received(14, msg_id="P-none")),
            ("early", received(15, msg_id="P10")),
            ("no_ids", seen([], 16)),
            ("sending", received(17, msg_id="P11")),
            ("seen_unknown", seen(["P12"], 18)),
            ("seen_twice", seen(["P8"], 19)),
        ]
        events = []
        for key, payload in zalo_events:
            events.append((key, self._store(zalo, key, payload)))
        events.append(
            (
                "expired",
                self._store(
                    zalo, "expired", received(20, msg_id="P-gone"), received_at=expired
                ),
            )
        )
        for key, params in (
            ("esms_ok", {"SMSID": "S1", "SendStatus": "5", "SendSuccess": "1"}),
            ("esms_wait", {"SMSID": "S2", "SendStatus": "7"}),
            ("esms_rejected", {"SMSID": "S3", "SendStatus": "4"}),
            (
                "esms_undelivered",
                {"SMSID": "S4", "SendStatus": "5", "SendFailed": "1"},
            ),
            (
                "esms_request",
                {"RequestId": "req-%s-5" % label, "SendStatus": "5", "SendSuccess": 1},
            ),
            (
                "esms_unmatched",
                {"SMSID": "S-none", "SendStatus": "5", "SendSuccess": 1},
            ),
        ):
            events.append((key, self._store(esms, key, params, "delivery_report")))
        for key, payload in (
            ("sp_ok", {"type": "report", "tranId": "101", "status": 0}),
            ("sp_temp", {"type": "report", "tranId": 102, "status": "3"}),
            ("sp_failed", {"type": "report", "tranId": "103", "status": 64}),
            ("sp_incoming", {"type": "incoming", "phone": "84912345678"}),
        ):
            events.append((key, self._store(speedsms, key, payload)))
        return zalo, messages, events

    def _run(self, label, one_by_one):
        """Process a scenario's batch, then its early receipt once the send
        result is there, then a replay of every receipt: the snapshots after
        each step, and the events that went through the per-event path."""
        zalo, messages, events = self._scenario(label)
        Event = self.Event.with_context(messaging_receipts_one_by_one=one_by_one)
        per_event = []
        process_one = self.EventClass._process_one

        def spy(event):
            per_event.append(event.event_key)
            return process_one(event)

        with patch.object(self.EventClass, "_process_one", spy):
            Event.browse([e.id for _k, e in events])._process()
            first = self._snapshot(messages, events)
            # the send result of the early receipt comes; the cron tries again
            messages["early"] = self._message(zalo, "early", pid="P10")
            early = dict(events)["early"]
            early.processed_at = early.processed_at - timedelta(minutes=1)
            Event.browse(early.ids)._process()
            second = self._snapshot(messages, events)
            # every receipt comes again (a provider's retry, a new key)
            replays = [
                self._store(
                    event.channel_id,
                    "again-" + key,
                    json.loads(event.payload),
                    event.event_name,
                )
                for key, event in events
                if event.event_name not in ("follow", "user_send_text")
            ]
            Event.browse([e.id for e in replays])._process()
            third = self._snapshot(messages, events)
        return first, second, third, per_event

    def _snapshot(self, messages, events):
        self.env.invalidate_all()
        names = {m.id: label for label, m in messages.items()}
        return {
            "messages": {
                label: tuple(m[f] for f in MESSAGE_FIELDS)
                + (len(m.fallback_child_ids),)
                for label, m in messages.items()
            },
            "events": {
                label: (
                    e.state,
                    e.error_message,
                    names.get(e.message_id.id, e.message_id.id or None),
                    e.partner_id.id,
                    bool(e.processed_at),
                    e.next_try_at,
                    e.identity_id.external_id,
                )
                for label, e in events
            },
        }

    # -- the tests ---------------------------------------------------------
    def test_set_wise_equals_per_event(self):
        one = self._run("one by one", True)
        bulk = self._run("set-wise", False)
        for step, (expected, got) in enumerate(zip(one[:3], bulk[:3], strict=True)):
            self.assertEqual(got["messages"], expected["messages"], "step %d" % step)
            self.assertEqual(got["events"], expected["events"], "step %d" % step)
        # only what is not a receipt to apply set-wise went one by one
        self.assertEqual(
            sorted(bulk[3]),
            sorted(
                [
                    "follow",
                    "text",
                    "no_ids",
                    "esms_rejected",
                    "esms_undelivered",
                    "sp_failed",
                    "sp_incoming",
                ]
                + [
                    "again-" + key
                    for key in (
                        "no_ids",
                        "esms_rejected",
                        "esms_undelivered",
                        "sp_failed",
                        "sp_incoming",
                    )
                ]
            ),
        )
        self.assertGreater(len(one[3]), 40, "the switch forces the per-event path")
        self._assert_expected(bulk)

    def _assert_expected(self, run):
        first, second, third, _calls = run
        msgs, events = first["messages"], first["events"]
        state = {label: values[0] for label, values in msgs.items()}
        self.assertEqual(
            state,
            {
                "delivered": "delivered",
                "delivered_seen": "read",
                "seen_delivered": "read",
                "by_tracking": "delivered",
                "unknown": "delivered",
                "failed": "failed",
                "read": "read",
                "seen_a": "read",
                "seen_b": "read",
                "sending": "delivered",
                "seen_unknown": "read",
                "esms_ok": "delivered",
                "esms_wait": "sent",
                "esms_rejected": "failed",
                "esms_undelivered": "failed",
                "esms_request": "delivered",
                "sp_ok": "delivered",
                "sp_temp": "sent",
                "sp_failed": "failed",
            },
        )
        fields_at = {f: i for i, f in enumerate(MESSAGE_FIELDS)}

        def value(label, fname):
            return msgs[label][fields_at[fname]]

        # the delivery time of the payload, not the event's
        self.assertEqual(value("delivered", "delivered_at"), at(1))
        # delivered then seen: both times; seen then delivered: seen implies it
        self.assertEqual(value("delivered_seen", "delivered_at"), at(3))
        self.assertEqual(value("delivered_seen", "read_at"), at(5))
        self.assertEqual(value("seen_delivered", "delivered_at"), at(6))
        self.assertEqual(value("seen_delivered", "read_at"), at(6))
        # an unknown outcome settled by the receipt
        self.assertEqual(value("unknown", "sent_at"), at(9))
        self.assertFalse(value("unknown", "failure_type"))
        self.assertFalse(value("unknown", "error_message"))
        self.assertFalse(value("unknown", "outcome_wait_until"))
        # a read message keeps its times; "seen" twice keeps the first
        self.assertEqual(value("read", "delivered_at"), at(-60))
        self.assertEqual(value("read", "read_at"), at(-30))
        self.assertEqual(value("seen_a", "read_at"), at(12))
        # the duplicate changed nothing
        self.assertEqual(value("delivered", "delivered_at"), at(1))
        self.assertEqual(value("esms_ok", "delivered_at"), self.received_at)
        self.assertEqual(value("esms_rejected", "error_code"), "esms_4")
        self.assertEqual(value("sp_failed", "error_code"), "speedsms_64")
        # events: state, note, matched message
        self.assertEqual(events["delivered"][:3], ("done", False, "delivered"))
        self.assertEqual(events["delivered"][3], self.partner_a.id)
        self.assertEqual(events["seen_two"][2], "seen_b", "the newest message")
        self.assertEqual(events["failed"][:3], ("done", False, "failed"))
        self.assertEqual(events["duplicate"][:3], ("done", False, "delivered"))
        self.assertEqual(
            events["unmatched"][:3], ("received", "No matching message yet.", None)
        )
        self.assertEqual(events["early"][0], "received")
        self.assertEqual(
            events["expired"][:2], ("ignored", "No matching message found.")
        )
        self.assertEqual(events["no_ids"][0], "ignored")
        self.assertEqual(
            events["esms_wait"][:3], ("done", "Intermediate status 7.", "esms_wait")
        )
        self.assertFalse(
            events["esms_wait"][3], "an intermediate status sets no partner"
        )
        self.assertEqual(
            events["sp_temp"][:3], ("done", "Temporary status 3.", "sp_temp")
        )
        self.assertEqual(events["esms_unmatched"][0], "received")
        self.assertEqual(events["sp_incoming"][0], "ignored")
        self.assertEqual(events["text"][6], "7770001", "the user message in between")
        # the early receipt, once its send result is stored
        self.assertEqual(second["events"]["early"][:3], ("done", False, "early"))
        self.assertEqual(second["messages"]["early"][0], "delivered")
        self.assertEqual(second["messages"]["early"][fields_at["delivered_at"]], at(15))
        # a replay of every receipt changes no message
        self.assertEqual(third["messages"], second["messages"])
        self.assertEqual(third["events"], second["events"])

    def test_seen_before_delivered_in_separate_batches(self):
        zalo = self._channels("order")[0]
        message = self._message(zalo, "m", pid="Q1")
        seen_event = self._store(zalo, "s", seen(["Q1"], 30))
        seen_event._process()
        delivered_event = self._store(zalo, "d", received(31, msg_id="Q1"))
        delivered_event._process()
        self.assertEqual(message.state, "read")
        self.assertEqual(message.read_at, at(30))
        self.assertEqual(message.delivered_at, at(30))
        self.assertEqual((seen_event | delivered_event).mapped("state"), ["done"] * 2)

    def test_cron_batches_keep_the_order(self):
        """Through the cron, in batches that cut the run anywhere."""
        zalo = self._channels("cron")[0]
        message = self._message(zalo, "m", pid="R1")
        other = self._message(zalo, "o", pid="R2")
        self._store(zalo, "1", seen(["R1"], 40))
        self._store(zalo, "2", wh.user_text("hi", user_id="7770002", ts=ts(41)))
        self._store(zalo, "3", received(42, msg_id="R1"))
        self._store(zalo, "4", received(43, msg_id="R2"))
        self._store(zalo, "5", seen(["R2"], 44))
        self.Event._cron_process_pending(batch_size=2)
        self.assertEqual((message.state, message.delivered_at), ("read", at(40)))
        self.assertEqual(
            (other.state, other.delivered_at, other.read_at),
            ("read", at(43), at(44)),
        )

    def test_switched_off_by_parameter(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "multichannel_messaging.receipts_in_bulk", "0"
        )
        self.assertFalse(self.Event._receipts_in_bulk())
        self.env["ir.config_parameter"].sudo().set_param(
            "multichannel_messaging.receipts_in_bulk", "1"
        )
        self.assertTrue(self.Event._receipts_in_bulk())
        # an automation rule on messages sees the ORM's writes only
        self.env["base.automation"].create(
            {
                "name": "Watch messages",
                "model_id": self.env["ir.model"]._get_id("messaging.message"),
                "trigger": "on_create_or_write",
            }
        )
        self.assertFalse(self.Event._receipts_in_bulk())

    def test_failure_of_the_set_wise_path_falls_back_per_event(self):
        zalo = self._channels("fails")[0]
        message = self._message(zalo, "m", pid="F1")
        event = self._store(zalo, "f", received(50, msg_id="F1"))
        Message = type(self.Message)
        with patch.object(
            Message, "_set_receipts_many", side_effect=ValueError("boom")
        ):
            event._process()
        self.assertEqual(event.state, "done")
        self.assertEqual(message.state, "delivered")

    def test_delivery_receipt_cancels_the_timeout_fallback(self):
        zalo = self._channels("timeout")[0]
        zalo.delivery_timeout_minutes = 5
        late = self._message(
            zalo, "late", pid="D1", fallback_chain=[[self.sandbox.id, self.template.id]]
        )
        delivered = self._message(
            zalo,
            "on time",
            pid="D2",
            fallback_chain=[[self.sandbox.id, self.template.id]],
        )
        event = self._store(zalo, "d2", received(60, msg_id="D2"))
        event._process()
        self.assertEqual(event.state, "done")
        self.assertEqual(delivered.state, "delivered")
        results.process_delivery_timeouts(self.env)
        self.assertTrue(late.fallback_child_ids, "no receipt: handed over")
        self.assertFalse(delivered.fallback_child_ids, "delivered: nothing to do")

    def test_cron_batches_sized_to_their_time(self):
        self.assertEqual(next_batch_size(100, 0.05), 1000, "at most 1000")
        self.assertEqual(next_batch_size(100, 0.25), 200)
        self.assertEqual(next_batch_size(100, 2.0), 100, "at least 100")
        self.assertEqual(next_batch_size(3, 0.0), 1000)
