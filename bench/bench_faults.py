"""Fault-rate figure of the queue benchmark (``bench_queue.py``, part 5).

A share of the requests (``--faults``, 2 % by default) is processed by the
loopback peer - the customer gets the message - and then its answer is lost
(the connection is dropped). Which messages is drawn from a seeded random
generator: the same run gives the same figures. For each queue it counts, per
message:

* resent: the peer processed it twice or more (the customer got it twice);
* held: "outcome unknown", waiting for a person (ours only);
* lost: the peer never processed it and the queue does not plan to send it;
* failed but received: the queue says it failed, the customer got it.

Ours: ``messaging.message._process_queue()`` on SpeedSMS (no idempotency
key: held for a Manager) and on eSMS (resent with the same ``RequestId``,
which eSMS drops), retries made due at once until nothing is queued.
Odoo's: ``sms.sms._process_queue()`` against the loopback IAP peer with one
number per request (as ours: one message per request); Odoo takes any
exception of the IAP call as ``server_error`` and marks every SMS of the
request failed (at its default 500 numbers per request, one lost answer marks
500 received SMS failed), and never retries them.

The peers run in threads of the driver (correctness figures, not speed).
"""

import collections
import itertools
import random

import bench_peers

peers = bench_peers.peers
SEED = 22


def fault_schedule(rate, seed=SEED):
    """An endless deterministic schedule: "drop" with probability ``rate``."""
    rng = random.Random(seed)
    return ("drop" if rng.random() < rate else "ok" for _ in itertools.count())


class _CountingPeer:
    """A peer that never runs out of balance and keeps only, per number, how
    many messages it accepted (flat memory over a long run)."""

    def __init__(self):
        super().__init__(balance=10**15)

    def init_state(self):
        super().init_state()
        self.received = collections.Counter()

    def handle(self, request):
        status, answer = super().handle(request)
        numbers = self.accepted_numbers(request, answer)
        with self._lock:
            if numbers:
                self.received.update(numbers)
                self.sent.clear()
            self.requests.clear()
        return status, answer


class FaultSpeedSmsPeer(_CountingPeer, peers.SpeedSmsPeer):
    @staticmethod
    def accepted_numbers(request, answer):
        if answer.get("status") == "success":
            return request.body.get("to") or []
        return []


class FaultEsmsPeer(_CountingPeer, peers.EsmsPeer):
    @staticmethod
    def accepted_numbers(request, answer):
        if answer.get("CodeResult") == "100":
            return [request.body.get("Phone")]
        return []


class FaultIapPeer(bench_peers.IapSmsPeer):
    send_paths = (bench_peers.IapSmsPeer.send_path,)

    def init_state(self):
        super().init_state()
        self.received = collections.Counter()

    def handle_provider(self, request):
        status, answer = super().handle_provider(request)
        with self._lock:
            for message in (request.body.get("params") or {}).get("messages") or []:
                for number in message.get("numbers") or []:
                    self.received[number.get("uuid")] += 1
            self.requests.clear()
        return status, answer


def _shares(count, resent, held, lost, failed_received):
    return {
        "messages": count,
        "resent": resent,
        "held": held,
        "lost": lost,
        "failed_received": failed_received,
    }


def ours(driver, registry, args, ctype):
    """Our queue on a SpeedSMS or eSMS channel, one campaign of N."""
    peer = (FaultSpeedSmsPeer if ctype == "speedsms" else FaultEsmsPeer)().start()
    try:
        peer.set_faults(fault_schedule(args.faults))
        with driver.environment(registry) as env:
            if ctype == "speedsms":
                channel = driver.make_channel(
                    env,
                    "SpeedSMS faults",
                    "speedsms",
                    speedsms_url=peer.url,
                    speedsms_access_token=peer.access_token,
                    speedsms_sms_type="2",
                    timeout_read=2.0,
                )
            else:
                channel = driver.make_esms_channel(
                    env, "eSMS faults", peer.url, timeout_read=2.0
                )
            campaign = driver.enqueue_campaign(
                env, "faults %s" % ctype, channel, args.fault_messages
            )
            campaign_id = campaign.id
        for _round in range(10):
            with driver.environment(registry) as env:
                env["messaging.message"]._process_queue()
                env.cr.execute(
                    "UPDATE messaging_message SET scheduled_at = now() AT TIME ZONE"
                    " 'UTC' - interval '1 second' WHERE campaign_id = %s"
                    " AND state = 'queued' RETURNING id",
                    [campaign_id],
                )
                waiting = env.cr.rowcount
                driver.commit(env)
            if not waiting:
                break
        with driver.environment(registry) as env:
            env.cr.execute(
                "SELECT recipient, state FROM messaging_message WHERE campaign_id = %s",
                [campaign_id],
            )
            rows = env.cr.fetchall()
    finally:
        peer.stop()
    received = peer.received

    def got(recipient):
        # SpeedSMS gets 84..., eSMS 0... (national)
        return received.get(recipient, 0) + received.get("0" + recipient[2:], 0)

    done = ("sent", "delivered", "read", "failed", "skipped", "cancelled")
    result = _shares(
        len(rows),
        sum(got(r) > 1 for r, _s in rows),
        sum(s == "unknown" for _r, s in rows),
        sum(got(r) == 0 and s in done for r, s in rows),
        sum(got(r) > 0 and s == "failed" for r, s in rows),
    )
    result["states"] = dict(collections.Counter(s for _r, s in rows))
    driver.log("faults, ours on %s: %s" % (ctype, result))
    return result


def odoo(driver, registry, args, batch_size):
    """Odoo's sms.sms queue, ``batch_size`` numbers per IAP request."""
    peer = FaultIapPeer().start()
    try:
        peer.set_faults(fault_schedule(args.faults))
        driver.odoo_sms_configure(registry, peer.url)
        driver.odoo_compose(registry, args.fault_messages, driver.BODY)
        with driver.environment(registry) as env:
            env["ir.config_parameter"].sudo().set_param(
                "sms.session.batch.size", str(batch_size)
            )
            driver.commit(env)
            env.cr.execute(
                "SELECT id FROM sms_sms WHERE state = 'outgoing' AND NOT to_delete"
            )
            ids = [row[0] for row in env.cr.fetchall()]
        with driver.environment(registry) as env:
            env["sms.sms"]._process_queue(ids=ids)
        with driver.environment(registry) as env:
            # the cron would find nothing more to send: errors are final
            env.cr.execute("SELECT uuid, state FROM sms_sms WHERE id = ANY(%s)", [ids])
            rows = env.cr.fetchall()
            env.cr.execute("DELETE FROM sms_sms")
            driver.commit(env)
    finally:
        peer.stop()
    received = peer.received
    result = _shares(
        len(rows),
        sum(received[u] > 1 for u, _s in rows),
        0,
        sum(received[u] == 0 and s != "outgoing" for u, s in rows),
        sum(received[u] > 0 and s == "error" for u, s in rows),
    )
    result["states"] = dict(collections.Counter(s for _u, s in rows))
    result["batch_size"] = batch_size
    driver.log("faults, Odoo sms batch %d: %s" % (batch_size, result))
    return result


def bench_faults(driver, registry, args, results):
    results["faults"] = {
        "rate": args.faults,
        "ours": [ours(driver, registry, args, c) for c in ("speedsms", "esms")],
        "odoo": [odoo(driver, registry, args, 1)],
    }


def report(row, faults):
    def pct(value, total):
        return "%.1f%%" % (100.0 * value / total) if total else "-"

    def measured(res):
        total = res["messages"]
        return "resent %s, held %s, lost %s, failed but received %s" % (
            pct(res["resent"], total),
            pct(res["held"], total),
            pct(res["lost"], total),
            pct(res["failed_received"], total),
        )

    rate = 100.0 * faults["rate"]
    labels = {"speedsms": "SpeedSMS", "esms": "eSMS"}
    for index, (ctype, res) in enumerate(
        zip(("speedsms", "esms"), faults["ours"], strict=False)
    ):
        row(
            "%s %.0f%% answers lost, ours on %s (%d)"
            % ("5" if index == 0 else " ", rate, labels[ctype], res["messages"]),
            measured(res),
            "resent 0, lost 0",
            "PASS" if not (res["resent"] or res["lost"]) else "MISS",
        )
    for res in faults["odoo"]:
        row(
            "  same, Odoo sms.sms, %d number%s/request (%d)"
            % (
                res["batch_size"],
                "" if res["batch_size"] == 1 else "s",
                res["messages"],
            ),
            measured(res),
        )
