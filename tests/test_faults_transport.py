"""A lost answer never becomes a second message (issue 22, "Faults").

The loopback peers lose answers on a schedule (``LoopbackPeer.set_faults``):
they process a request and then drop the connection, stall past the read
timeout or answer garbage (the customer got the message), or answer 5xx /
reset before processing it (the customer got nothing), or refuse
connections. For every adapter the queue must then: send nobody a message
twice, lose nothing (every message ends sent, failed with a reason, or
"outcome unknown"), leave nothing in ``sending``, and count the unknown
outcomes on the campaign and the channel.
"""

import collections
from datetime import timedelta

import urllib3

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.multichannel_messaging.engine import claim
from odoo.addons.multichannel_messaging.providers import (
    ACCEPTED,
    AWAIT_RECEIPT,
    HOLD,
    RESEND,
    RETRY,
    UNKNOWN,
    OutboundMessage,
    get_adapter,
    transport,
)
from odoo.addons.multichannel_messaging.providers import base as providers_base
from odoo.addons.multichannel_messaging.providers.transport import (
    _Exchange,
    classify_transport_error,
    get_session,
)
from odoo.addons.multichannel_messaging.providers.zalo_events import zalo_time

from . import test_webhook_common as wh
from .common import MessagingCase, PeerAdapterCase, PeerChannelsMixin
from .peers import EsmsPeer, SpeedSmsPeer, ZaloPeer

SPEED_PATH = "/index.php/sms/send"
# an answer is read within 1 s even on a busy machine (0.3 s was not always);
# the peers stall 3 s: far past it, whatever the load
READ_TIMEOUT = 1.0
STALL_SECONDS = 3.0
# one request per kind, in this order, then "ok" (retries included)
SCHEDULE = ["ok", "drop", "http_500", "stall", "garbage", "http_502", "reset", "ok"]
# the messages (in dispatch order) whose answer the schedule loses
LOST = (1, 3, 4, 6)
# ... and those the peer processed nonetheless ("reset" is before processing)
RECEIVED_UNANSWERED = (1, 3, 4)


def _sms(tracking_id="mm-fault-1"):
    return OutboundMessage(tracking_id=tracking_id, phone="84912345678", text="Ma 1")


@tagged("post_install", "-at_install")
class TestTransportClassification(PeerAdapterCase):
    """Every transport failure is *not sent* or *outcome unknown*, in one
    place (providers/transport.py) for every adapter."""

    PEER = SpeedSmsPeer
    PROVIDER = "speedsms"
    TIMEOUTS = {"timeout_connect": 1, "timeout_read": READ_TIMEOUT}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer.stall_seconds = STALL_SECONDS  # read when a request stalls

    def test_each_fault_kind(self):
        self.peer.set_faults(SCHEDULE)
        adapter = self.adapter()
        results = [adapter.send(_sms("t%d" % i)) for i in range(len(SCHEDULE))]
        self.assertEqual(self.peer.faults_seen, SCHEDULE)
        self.assertEqual(
            [(r.status, r.reason) for r in results],
            [
                (ACCEPTED, None),
                (UNKNOWN, "connection_lost"),
                (RETRY, "http_5xx"),
                (UNKNOWN, "read_timeout"),
                (UNKNOWN, "bad_response"),
                (RETRY, "http_5xx"),
                # closed before the peer read it, but we cannot tell
                (UNKNOWN, "connection_lost"),
                (ACCEPTED, None),
            ],
        )
        # processed: ok, drop, stall, garbage, ok
        self.assertEqual(len(self.peer.sent), 5)

    def test_refused_connection_is_not_sent(self):
        self.assertEqual(self.adapter().send(_sms()).status, ACCEPTED)
        with self.peer.refusing():
            self.session.close()
            result = self.adapter().send(_sms())
        self.assertEqual((result.status, result.reason), (RETRY, "connection"))
        self.assertEqual(len(self.peer.sent), 1)
        # listening again, same port
        self.assertEqual(self.adapter().send(_sms()).status, ACCEPTED)

    def test_gateway_timeout_is_unknown(self):
        self.peer.queue_response(SPEED_PATH, "<html>504</html>", status=504)
        result = self.adapter().send(_sms())
        self.assertEqual((result.status, result.reason), (UNKNOWN, "gateway_timeout"))

    def test_answer_without_code_is_unknown(self):
        self.peer.queue_response(SPEED_PATH, {"status": "queued"})
        result = self.adapter().send(_sms())
        self.assertEqual((result.status, result.reason), (UNKNOWN, "bad_response"))

    def test_connection_closed_by_the_server_while_idle_is_reopened(self):
        """A keep-alive connection the server closed (idle timeout) before
        we wrote anything is dropped from the pool and a new one is opened:
        the message is sent, not taken for a lost answer."""
        adapter = self.adapter()
        self.assertEqual(adapter.send(_sms("a")).status, ACCEPTED)
        opened = self.peer.connections_opened
        [pool] = self.session._pools.values()
        [conn] = [c for c in pool.pool.queue if c is not None]
        self.assertEqual(self.peer.close_connections(), 1)
        # the server's FIN has arrived on our side (no sleep: a wait on it)
        self.assertTrue(urllib3.util.wait_for_read(conn.sock, timeout=5))
        result = adapter.send(_sms("b"))
        self.assertEqual(result.status, ACCEPTED, result)
        self.assertEqual(self.peer.connections_opened, opened + 1)
        self.assertEqual(len(self.peer.sent), 2)

    def test_connection_idle_too_long_is_reopened_before_writing(self):
        """Where the server might close an idle connection while our request
        is on its way, we do not write on it: past KEEPALIVE_IDLE_SECONDS a
        new connection is opened first."""
        adapter = self.adapter()
        adapter.send(_sms("a"))
        opened = self.peer.connections_opened
        adapter.send(_sms("b"))
        self.assertEqual(self.peer.connections_opened, opened)  # kept alive
        [pool] = self.session._pools.values()
        [conn] = [c for c in pool.pool.queue if c is not None]
        conn._last_request_at -= transport.KEEPALIVE_IDLE_SECONDS + 1
        self.assertEqual(adapter.send(_sms("c")).status, ACCEPTED)
        self.assertEqual(self.peer.connections_opened, opened + 1)

    def test_classification_table(self):
        errors = urllib3.exceptions
        written = _Exchange()
        written.started = written.tracked = written.written = True
        unwritten = _Exchange()
        unwritten.started = unwritten.tracked = True
        untracked = _Exchange()
        untracked.started = True
        reset = errors.ProtocolError("Connection aborted.", ConnectionResetError(104))
        cases = [
            # DNS failure (urllib3 1.x; 2.x's NameResolutionError subclasses it)
            (errors.NewConnectionError(None, "Name or service not known"), written),
            (errors.ConnectTimeoutError(None, "timed out"), written),
            (errors.SSLError("handshake failure"), unwritten),
            (errors.ProxyError("Cannot connect to proxy.", OSError()), unwritten),
            (reset, unwritten),  # reset or broken pipe while writing
        ]
        for exc, exchange in cases:
            error = classify_transport_error(exc, exchange)
            self.assertFalse(error.outcome_unknown, (exc, error.reason))
        cases = [
            (errors.ReadTimeoutError(None, "/", "Read timed out."), written),
            (reset, written),
            (errors.ProtocolError("Connection aborted.", OSError()), written),
            (errors.SSLError("bad record mac"), written),
            # a SOCKS proxy's connections are not ours: nothing is known
            (reset, untracked),
            (reset, None),
        ]
        for exc, exchange in cases:
            error = classify_transport_error(exc, exchange)
            self.assertTrue(error.outcome_unknown, (exc, error.reason))

    def test_unknown_policy_of_every_adapter(self):
        template = dict(kind="template", template_ref="1", tracking_id="x")
        cases = [
            ("esms", _sms(), RESEND),
            ("speedsms", _sms(), HOLD),
            ("zalo", OutboundMessage(phone="84912345678", **template), AWAIT_RECEIPT),
            (
                "zalo",
                OutboundMessage(zalo_user_id="1", route="uid", **template),
                HOLD,
            ),
            ("zalo", OutboundMessage("x", zalo_user_id="1", text="Chào"), HOLD),
            ("sandbox", _sms(), AWAIT_RECEIPT),
        ]
        self.assertEqual(providers_base.BaseAdapter.unknown_policy(_sms()), HOLD)
        for provider, msg, policy in cases:
            adapter_class = type(get_adapter(provider, {}))
            self.assertEqual(adapter_class.unknown_policy(msg), policy, provider)
        self.assertEqual(type(get_adapter("esms", {})).idempotency_seconds, 86400)

    def test_esms_resend_with_the_same_request_id_is_deduplicated(self):
        with EsmsPeer() as peer:
            config = peer.esms_config(timeout_connect=1, timeout_read=READ_TIMEOUT)
            adapter = get_adapter("esms", config, session=self.session)
            peer.set_faults(["drop"])
            msg = OutboundMessage(
                tracking_id="mm-esms-1", phone="84912345678", text="Ma 1"
            )
            self.assertEqual(adapter.send(msg).status, UNKNOWN)
            again = adapter.send(msg)
        self.assertEqual((again.status, again.reason), (ACCEPTED, "duplicate_request"))
        self.assertEqual([s["RequestId"] for s in peer.sent], ["mm-esms-1"])


@tagged("post_install", "-at_install")
class TestFaultsQueue(PeerChannelsMixin, MessagingCase):
    """The queue under the fault schedule, for every adapter."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zalo_peer = ZaloPeer()
        cls.esms_peer = EsmsPeer()
        cls.speedsms_peer = SpeedSmsPeer()
        common = dict(
            max_attempts=4,
            timeout_connect=1,
            timeout_read=READ_TIMEOUT,
            # one request at a time: the schedule's n-th fault hits the n-th
            # message (a group in flight: test_queue_inflight)
            max_in_flight=1,
        )
        for peer in (cls.zalo_peer, cls.esms_peer, cls.speedsms_peer):
            peer.stall_seconds = STALL_SECONDS
        cls._start_peers(cls.zalo_peer, cls.esms_peer, cls.speedsms_peer)
        cls.zalo = cls._peer_channel(
            cls.zalo_peer.zalo_config(),
            name="Zalo (faults)",
            channel_type="zalo",
            **common,
        )
        cls.esms = cls._peer_channel(
            cls.esms_peer.esms_config(),
            name="eSMS (faults)",
            channel_type="esms",
            **common,
        )
        cls.speedsms = cls._peer_channel(
            cls.speedsms_peer.speedsms_config(),
            name="SpeedSMS (faults)",
            channel_type="speedsms",
            speedsms_sms_type="2",
            **common,
        )
        Template = cls.env["messaging.template"]
        cls.zbs_phone, cls.zbs_uid = (
            cls._peer_zbs_template(cls.zalo_peer, "ZBS %s" % route, zalo_route=route)
            for route in ("phone", "uid")
        )
        cls.cs = Template.create(
            {
                "name": "CS",
                "channel_type": "zalo",
                "category": "transactional",
                "body": "Cảm ơn {{ object.name }}!",
            }
        )
        cls.sms = {
            channel: Template.create(
                {
                    "name": "SMS %s" % channel.name,
                    "channel_type": channel.channel_type,
                    "category": "transactional",
                    "body": "Ma xac nhan cua {{ object.name }}",
                }
            )
            for channel in (cls.esms, cls.speedsms)
        }
        cls.customers = cls.env["res.partner"].create(
            [
                {
                    "name": "Khách %02d" % i,
                    "mobile": "0912 3400%02d" % i,
                    "country_id": cls.vn.id,
                }
                for i in range(len(SCHEDULE))
            ]
        )
        cls.env["messaging.identity"].create(
            [
                {
                    "partner_id": partner.id,
                    "channel_id": cls.zalo.id,
                    "external_id": "41845571365712978%02d" % i,
                    "last_interaction_at": fields.Datetime.now() - timedelta(hours=1),
                }
                for i, partner in enumerate(cls.customers)
            ]
        )

    def setUp(self):
        super().setUp()
        self._reset_peers(self.zalo_peer, self.esms_peer, self.speedsms_peer)
        # no keep-alive connection of an earlier test (or a stalled one)
        get_session().close()

    # -- helpers -------------------------------------------------------
    def _campaign(self, channel, template):
        campaign = self.env["messaging.campaign"].create(
            {
                "name": "Faults %s" % template.name,
                "channel_id": channel.id,
                "template_id": template.id,
                "state": "running",
            }
        )
        messages = self.Message.browse()
        for partner in self.customers:
            messages |= self._queue(
                partner, channel=channel, template=template, campaign_id=campaign.id
            )
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        return campaign, messages.sorted("id")

    def _settle(self, messages, rounds=10):
        """Run the queue until nothing is queued: retries are made due at
        once instead of after their backoff."""
        for _round in range(rounds):
            self.Message._process_queue()
            waiting = messages.filtered(lambda m: m.state == "queued")
            if not waiting:
                return
            waiting.write({"scheduled_at": fields.Datetime.now() - timedelta(1)})
        self.fail("messages still queued: %s" % waiting.mapped("error_message"))

    def _received(self, peer, message):
        """How many times the peer processed (the customer got) ``message``."""
        if isinstance(peer, EsmsPeer):
            return [s["RequestId"] for s in peer.sent].count(message.tracking_id)
        if isinstance(peer, SpeedSmsPeer):
            return [s["to"][0] for s in peer.sent].count(message.recipient)
        return [s["recipient"] for s in peer.sent].count(message.recipient)

    def assertFaultOutcome(self, peer, campaign, messages, unknown):
        """No recipient twice, nothing lost, nothing sending, unknown counted."""
        channel = campaign.channel_id
        received = [self._received(peer, m) for m in messages]
        self.assertLessEqual(max(received), 1, "a recipient got a message twice")
        for message, count in zip(messages, received, strict=True):
            state = message.state
            self.assertIn(state, ("sent", "failed", "unknown"), message.error_message)
            self.assertFalse(message.claim_until)
            if state == "sent":
                self.assertEqual(count, 1, "sent but never received")
            elif state == "failed":
                self.assertEqual(count, 0)
                self.assertTrue(message.failure_type and message.error_message)
            else:
                self.assertEqual(message.failure_type, "no_answer")
                self.assertTrue(message.error_message and message.unknown_since)
        self.assertEqual(
            [i for i, m in enumerate(messages) if m.state == "unknown"], list(unknown)
        )
        campaign.invalidate_recordset()
        channel.invalidate_recordset()
        self.assertEqual(campaign.count_unknown, len(unknown))
        self.assertEqual(channel.unknown_count, len(unknown))
        return received

    # -- every adapter -------------------------------------------------
    def test_speedsms_lost_answers_are_held(self):
        campaign, messages = self._campaign(self.speedsms, self.sms[self.speedsms])
        self.speedsms_peer.set_faults(SCHEDULE)
        self._settle(messages)
        self.assertEqual(self.speedsms_peer.faults_seen[:8], SCHEDULE)
        received = self.assertFaultOutcome(self.speedsms_peer, campaign, messages, LOST)
        self.assertEqual([received[i] for i in LOST], [1, 1, 1, 0])
        held = messages.filtered(lambda m: m.state == "unknown")
        self.assertFalse(any(held.mapped("outcome_wait_until")))
        self.assertIn("held for a Manager", held[0].error_message)
        # the 5xx answers were retried and sent once
        self.assertEqual(messages[2].attempt_count, 2)
        self.assertEqual(messages[5].state, "sent")
        # nothing more happens to them by itself
        self.Message._process_queue()
        self.assertEqual(len(self.speedsms_peer.sent), 7)

    def test_esms_lost_answers_are_resent_with_the_same_request_id(self):
        campaign, messages = self._campaign(self.esms, self.sms[self.esms])
        self.esms_peer.set_faults(SCHEDULE)
        self._settle(messages)
        self.assertFaultOutcome(self.esms_peer, campaign, messages, ())
        self.assertEqual(set(messages.mapped("state")), {"sent"})
        request_ids = collections.Counter(
            r.body["RequestId"] for r in self.esms_peer.requests_for(EsmsPeer.send_path)
        )
        for index in LOST + (2, 5):
            self.assertEqual(request_ids[messages[index].tracking_id], 2, index)
            self.assertEqual(messages[index].attempt_count, 2)
        for index in RECEIVED_UNANSWERED:
            self.assertTrue(messages[index].unknown_since)
            self.assertFalse(messages[index].provider_message_id)  # eSMS: 124

    def test_esms_lost_answer_past_the_idempotency_window_is_held(self):
        campaign, messages = self._campaign(self.esms, self.sms[self.esms])
        first = messages[0]
        first.unknown_since = fields.Datetime.now() - timedelta(hours=23, minutes=30)
        self.esms_peer.set_faults(["drop"])
        self.Message._process_queue()
        self.assertEqual((first.state, first.failure_type), ("unknown", "no_answer"))
        self.assertEqual(len(self.esms_peer.requests_for(EsmsPeer.send_path)), 8)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.count_unknown, 1)

    def test_zbs_by_phone_lost_answers_wait_for_their_receipt(self):
        campaign, messages = self._campaign(self.zalo, self.zbs_phone)
        self.assertEqual(set(messages.mapped("route")), {"phone"})
        self.zalo_peer.set_faults(SCHEDULE)
        self._settle(messages)
        self.assertFaultOutcome(self.zalo_peer, campaign, messages, LOST)
        waiting = messages.filtered(lambda m: m.state == "unknown")
        self.assertTrue(all(waiting.mapped("outcome_wait_until")))
        self.assertIn("delivery receipt", waiting[0].error_message)
        # Zalo's receipt names the first by its tracking id: delivered
        delivered = messages[1]
        self._zns_receipt(delivered.tracking_id)
        self.assertEqual(delivered.state, "delivered")
        self.assertFalse(delivered.failure_type or delivered.outcome_wait_until)
        self.assertTrue(delivered.sent_at)
        # no receipt for the others in time: held for a Manager
        rest = waiting - delivered
        rest.outcome_wait_until = fields.Datetime.now() - timedelta(seconds=1)
        self.Message._process_queue()
        self.assertEqual(set(rest.mapped("state")), {"unknown"})
        self.assertFalse(any(rest.mapped("outcome_wait_until")))
        self.assertIn("held for a Manager", rest[0].error_message)
        self.assertEqual(len(self.zalo_peer.sent), 7)
        campaign.invalidate_recordset()
        self.assertEqual(campaign.count_unknown, 3)

    def _zns_receipt(self, tracking_id):
        payload = wh.zns_received(tracking_id=tracking_id)
        raw = wh.encode(payload)
        event = self.env["messaging.event"]._store(
            self.zalo,
            wh.sign(raw, payload["timestamp"]),
            payload["event_name"],
            raw.decode(),
            event_at=zalo_time(payload["timestamp"]),
        )
        event._process()
        self.assertEqual(event.state, "done", event.error_message)

    def test_zbs_by_user_id_lost_answers_are_held(self):
        campaign, messages = self._campaign(self.zalo, self.zbs_uid)
        self.assertEqual(set(messages.mapped("route")), {"uid"})
        self.zalo_peer.set_faults(SCHEDULE)
        self._settle(messages)
        self.assertFaultOutcome(self.zalo_peer, campaign, messages, LOST)
        self.assertFalse(any(messages.mapped("outcome_wait_until")))

    def test_consultation_lost_answers_are_held(self):
        campaign, messages = self._campaign(self.zalo, self.cs)
        self.assertEqual(set(messages.mapped("route")), {"consultation"})
        self.zalo_peer.set_faults(SCHEDULE)
        self._settle(messages)
        self.assertFaultOutcome(self.zalo_peer, campaign, messages, LOST)
        self.assertFalse(any(messages.mapped("outcome_wait_until")))

    def test_refused_connections_are_retried(self):
        campaign, messages = self._campaign(self.speedsms, self.sms[self.speedsms])
        with self.speedsms_peer.refusing():
            self.Message._process_queue()
        self.assertEqual(set(messages.mapped("state")), {"queued"})
        self.assertEqual(set(messages.mapped("attempt_count")), {1})
        self._settle(messages)
        self.assertFaultOutcome(self.speedsms_peer, campaign, messages, ())
        self.assertEqual(set(messages.mapped("state")), {"sent"})

    # -- crash path: the same rule --------------------------------------
    def test_crash_recovery_follows_the_same_rule(self):
        rows = {
            "esms": self._queue(
                self.customers[0], channel=self.esms, template=self.sms[self.esms]
            ),
            "speedsms": self._queue(
                self.customers[1],
                channel=self.speedsms,
                template=self.sms[self.speedsms],
            ),
            "zbs_phone": self._queue(
                self.customers[2], channel=self.zalo, template=self.zbs_phone
            ),
        }
        for message in rows.values():
            message.write({"state": "sending", "attempt_count": 1})
            message.claim_until = fields.Datetime.now() - timedelta(seconds=5)
        claim.recover_stale_sending(self.env)
        self.assertEqual(rows["esms"].state, "queued")
        self.assertTrue(rows["esms"].unknown_since)
        for key in ("speedsms", "zbs_phone"):
            self.assertEqual(
                (rows[key].state, rows[key].failure_type), ("unknown", "crash")
            )
        self.assertFalse(rows["speedsms"].outcome_wait_until)
        self.assertTrue(rows["zbs_phone"].outcome_wait_until)

    # -- a Manager decides ---------------------------------------------
    def _held(self, **vals):
        self.speedsms_peer.set_faults(["drop"])
        message = self._queue(
            self.customers[0],
            channel=self.speedsms,
            template=self.sms[self.speedsms],
            **vals,
        )
        self.Message._process_queue()
        self.assertEqual(message.state, "unknown")
        return message

    def test_manager_resends_an_unknown_message(self):
        message = self._held()
        user = self._make_user(
            "fault_user", "multichannel_messaging.group_messaging_user"
        )
        with self.assertRaises(AccessError):
            message.with_user(user).action_resend_unknown()
        manager = self._make_user(
            "fault_manager", "multichannel_messaging.group_messaging_manager"
        )
        message.with_user(manager).action_resend_unknown()
        self.assertEqual(message.state, "queued")
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        # the Manager's decision: the peer has it twice, with the same tracking id
        self.assertEqual(len(self.speedsms_peer.sent), 2)
        with self.assertRaises(UserError):
            message.with_user(manager).action_resend_unknown()  # not unknown

    def test_manager_falls_back_on_purpose(self):
        chain = [[self.sandbox.id, self.template_tx.id]]
        message = self._held(fallback_chain=chain)
        user = self._make_user(
            "fault_user", "multichannel_messaging.group_messaging_user"
        )
        with self.assertRaises(AccessError):
            message.with_user(user).action_fallback_now()
        self.assertFalse(message.fallback_child_ids)
        manager = self._make_user(
            "fault_manager", "multichannel_messaging.group_messaging_manager"
        )
        message.with_user(manager).action_fallback_now()
        child = message.fallback_child_ids
        self.assertEqual(child.channel_id, self.sandbox)
        self.Message._process_queue()
        self.assertIn(child.state, ("sent", "delivered"))
        self.assertEqual(message.state, "unknown")  # still unknown, no resend
        self.assertEqual(len(self.speedsms_peer.sent), 1)

    def test_fall_back_without_a_step_says_so(self):
        message = self._held()
        with self.assertRaises(UserError):
            message.action_fallback_now()

    def test_retry_of_an_unknown_message_is_for_managers(self):
        message = self._held()
        user = self._make_user(
            "fault_user", "multichannel_messaging.group_messaging_user"
        )
        with self.assertRaises(AccessError):
            message.with_user(user).action_retry()
        self.assertEqual(message.state, "unknown")

    def test_unknown_outcome_counts_for_the_no_resend_window(self):
        """A marketing message whose outcome is unknown may have been
        received: the no-re-send window holds the next one back."""
        self.sandbox.resend_window_minutes = 60
        first = self._queue(self.partner_a)
        first.write({"state": "unknown", "unknown_since": fields.Datetime.now()})
        second = self._queue(self.partner_a)
        self.Message._process_queue()
        self.assertEqual((second.state, second.failure_type), ("skipped", "duplicate"))
