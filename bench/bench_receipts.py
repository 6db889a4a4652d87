"""Receipts figure of the queue benchmark (``bench_queue.py``, part 6).

A Zalo campaign of N sent messages (100,000 by default) brings back N
delivery receipts (``user_received_message``: ``msg_id``, ``tracking_id``,
``delivery_time``) and N "seen" ones (``user_seen_message``:
``message.msg_ids``). The messages and the 2 N events are written straight
in SQL, the events with the columns, keys and payloads the webhook stores
(``store_event``, ``ZaloEvent.event_key``); a seen receipt follows its delivery
receipt ``LAG`` events later, so the runs mix both kinds. Then the event
cron (``messaging.event._cron_process_pending``, committing each batch as in
production) runs in this one process:

* one by one (the per-event path, forced with the context key
  ``messaging_receipts_one_by_one``) for ``--receipts-per-event-cap``
  seconds over the first events;
* set-wise (the default) over the rest.

Each prints receipts/s per cron worker; the final states are checked (every
message read, every event done).
"""

import json
import time

LAG = 500  # events between a message's delivery receipt and its "seen"
OA_ID = "1234567890123456789"
APP_ID = "3608465248940903967"
T0 = 1764720000000  # epoch ms of the first receipt


def _payloads(index):
    """The delivery and seen payloads of message ``index`` (as Zalo sends)."""
    pid = "9%018d" % index
    received = {
        "sender": {"id": OA_ID},
        "recipient": {"id": "849%08d" % index},
        "event_name": "user_received_message",
        "message": {
            "msg_id": pid,
            "tracking_id": "bench-rcpt-%d" % index,
            "delivery_time": str(T0 + index),
        },
        "app_id": APP_ID,
        "timestamp": str(T0 + index),
    }
    seen = {
        "app_id": APP_ID,
        "sender": {"id": "7%018d" % index},
        "recipient": {"id": OA_ID},
        "event_name": "user_seen_message",
        "message": {"msg_ids": [pid]},
        "timestamp": str(T0 + index + 5000),
    }
    return pid, received, seen


def setup(bq, env, n):
    """A Zalo channel, N sent messages and 2 N stored receipt events."""
    # pylint: disable=import-outside-toplevel
    from psycopg2.extras import execute_values

    from odoo.addons.multichannel_messaging.providers.zalo_events import (
        parse_event,
        zalo_time,
    )

    bq.log("receipts: %d sent messages and %d receipt events (SQL)" % (n, 2 * n))
    channel = bq.make_channel(
        env,
        "zalo (receipts)",
        "zalo",
        zalo_app_id=APP_ID,
        zalo_oa_id=OA_ID,
        zalo_oa_secret_key="bench-oa-secret",
    )
    bq.commit(env)
    cr, uid = env.cr, env.uid
    company = channel.company_id.id
    sent_at = zalo_time(str(T0 - 60000))
    execute_values(
        cr,
        """
        INSERT INTO messaging_message
               (channel_id, company_id, channel_type, state, route, category,
                recipient, body, provider_message_id, tracking_id, sent_at,
                scheduled_at, attempt_count, create_uid, write_uid,
                create_date, write_date)
        VALUES %s
        """,
        (
            (
                channel.id,
                company,
                "zalo",
                "sent",
                "phone",
                "transactional",
                "849%08d" % i,
                "x",
                "9%018d" % i,
                "bench-rcpt-%d" % i,
                sent_at,
                sent_at,
                1,
                uid,
                uid,
                sent_at,
                sent_at,
            )
            for i in range(n)
        ),
        page_size=2000,
    )
    order = []
    for i in range(n + LAG):
        if i < n:
            order.append((i, 0))
        if i >= LAG:
            order.append((i - LAG, 1))
    now = zalo_time(str(T0 + n + 10000))
    rows = []
    for i, kind in order:
        _pid, received, seen = _payloads(i)
        data = seen if kind else received
        raw = json.dumps(data, separators=(",", ":"))
        name = data["event_name"]
        rows.append(
            (
                channel.id,
                company,
                parse_event(data).event_key(raw.encode()),
                name,
                raw,
                "{}",
                now,
                "received",
                zalo_time(data["timestamp"]),
                "app_id",
                data["sender"]["id"] if kind else data["recipient"]["id"],
                uid,
                uid,
                now,
                now,
            )
        )
    execute_values(
        cr,
        """
        INSERT INTO messaging_event
               (channel_id, company_id, event_key, event_name, payload, headers,
                received_at, state, event_at, signature_variant, sender_ref,
                create_uid, write_uid, create_date, write_date)
        VALUES %s
        """,
        rows,
        page_size=2000,
    )
    cr.execute("ANALYZE messaging_message")
    cr.execute("ANALYZE messaging_event")
    bq.commit(env)
    return channel.id


def _run(bq, registry, label, time_limit, one_by_one, batch_size=0):
    with bq.environment(registry) as env:
        Event = env["messaging.event"].with_context(
            messaging_receipts_one_by_one=one_by_one
        )
        bq.log("receipts: processing %s (time limit %s s)" % (label, time_limit))
        started = time.monotonic()
        kwargs = {"batch_size": batch_size} if batch_size else {}
        done = Event._cron_process_pending(time_limit=time_limit, **kwargs)
        elapsed = time.monotonic() - started
        bq.commit(env)
    rate = done / elapsed if elapsed else 0.0
    bq.log("receipts: %s: %d events in %.1f s, %.0f/s" % (label, done, elapsed, rate))
    return {"events": done, "seconds": elapsed, "rate": rate}


def bench_receipts(bq, registry, args, results):
    n = args.receipts
    with bq.environment(registry) as env:
        env.cr.execute(
            "DELETE FROM messaging_event WHERE channel_id IN (SELECT id FROM"
            " messaging_channel WHERE name->>'en_US' LIKE %s)",
            [bq.NAME_PREFIX + "%"],
        )
        bq.commit(env)
        channel_id = setup(bq, env, n)
    res = {"messages": n}
    if args.receipts_per_event_cap > 0:
        res["per_event"] = _run(
            bq,
            registry,
            "one by one",
            args.receipts_per_event_cap,
            True,
            batch_size=args.receipts_batch,
        )
    res["batch_size"] = args.receipts_batch
    res["set_wise"] = _run(
        bq, registry, "set-wise", 0, False, batch_size=args.receipts_batch
    )
    with bq.environment(registry) as env:
        res["message_states"] = bq.states(
            env, "messaging_message", "channel_id", channel_id
        )
        res["event_states"] = bq.states(
            env, "messaging_event", "channel_id", channel_id
        )
    results["receipts"] = res


def report(row, res):
    goal = 2000.0
    per_event = res.get("per_event")
    if per_event:
        row(
            "6 receipts one by one (%d events)" % per_event["events"],
            "%.0f receipts/s per cron worker" % per_event["rate"],
        )
    wise = res["set_wise"]
    row(
        "  receipts set-wise (%d events)" % wise["events"],
        "%.0f receipts/s per cron worker (%.1f s)" % (wise["rate"], wise["seconds"]),
        ">= %.0f/s" % goal,
        "PASS" if wise["rate"] >= goal else "MISS",
    )
    if per_event and per_event["rate"]:
        row("  set-wise / one by one", "x %.1f" % (wise["rate"] / per_event["rate"]))
    messages, events = res["message_states"], res["event_states"]
    correct = messages == {"read": res["messages"]} and set(events) == {"done"}
    row(
        "  final states (%d messages)" % res["messages"],
        "messages %s, events %s"
        % (
            ", ".join("%s %d" % kv for kv in sorted(messages.items())),
            ", ".join("%s %d" % kv for kv in sorted(events.items())),
        ),
        "all read, all done",
        "PASS" if correct else "MISS",
    )
