"""Queue benchmark driver: our messaging queue next to Odoo's own SMS pipeline.

Run through ``bash bench/run.sh`` (fresh database, modules installed, Odoo's
Python). It loads the registry of that database in this process and prints,
in one run:

1. enqueue: campaigns over 100,000 and 1,000,000 partners: the Activate
   click (``action_confirm()`` + ``action_activate()``, committed), then the
   enqueue cron (``messaging.campaign._cron_enqueue()``) until every
   recipient is a ``messaging.message`` row: rows/s and the growth of this
   process's peak memory; Odoo's mass SMS composer next to it
   (``--enqueue-odoo``);
2. dispatch: ``messaging.message._process_queue()`` in one worker against a
   zero-latency eSMS loopback peer (in a child process, and in a thread);
3. Odoo's SMS: ``sms.composer`` (mass mode) and ``sms.sms._process_queue()``
   against a loopback IAP peer, 500 numbers per request (Odoo's default
   ``sms.session.batch.size``) and 1 per request; ratios and the time to hand
   a whole campaign over to the provider;
4. rate accuracy: a channel limited to R messages/s, a peer answering after
   100 ms, several dispatcher processes (``--role worker``) at once;
5. lost answers (``bench_faults.py``): with a share of answers lost after
   the peer processed the request, how many messages were resent, held as
   "outcome unknown" or lost, ours and Odoo's SMS queue;
6. receipts (``bench_receipts.py``): N delivery and N seen Zalo receipts
   stored as the webhook stores them, processed by the event cron one by one
   and set-wise, receipts/s per cron worker;
7. grouped recipients (``bench_grouped.py``): a campaign of one text on a
   SpeedSMS channel at its 60 requests a minute, up to 100 recipients per
   request;
8. sending against a provider's latency (``--latencies``, 0/50/100 ms): one
   worker's msg/s, ours (requests in flight) next to Odoo's ``sms.sms``
   queue at one message per request.

This directory has no ``__init__.py``: Odoo never imports it.
"""

import argparse
import bisect
import contextlib
import gc
import inspect
import json
import math
import os
import re
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_faults  # noqa: E402
import bench_grouped  # noqa: E402
import bench_peers  # noqa: E402
import bench_receipts  # noqa: E402

BODY = "Chào {{ object.name }}, đơn hàng của bạn đã được xác nhận. Cảm ơn bạn!"
REF_PREFIX = "BENCH-"
MOBILE_PREFIXES = ["090", "091", "093", "094", "096", "097", "098"]
NAME_PREFIX = "Bench "


def log(text):
    sys.stderr.write("[bench] %s\n" % text)
    sys.stderr.flush()


def out(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------
# Odoo
# ----------------------------------------------------------------------
def load_registry(args):
    os.environ["TZ"] = "UTC"
    time.tzset()
    # pylint: disable=import-outside-toplevel
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(
        ["-c", args.config, "-d", args.database, "--log-level", args.log_level],
        setup_logging=True,
    )
    return Registry(args.database)


@contextlib.contextmanager
def environment(registry):
    """A superuser environment on a new cursor, committed on success."""
    from odoo import SUPERUSER_ID, api  # pylint: disable=import-outside-toplevel

    with registry.cursor() as cr:
        yield api.Environment(cr, SUPERUSER_ID, {})


def commit(env):
    env.flush_all()
    env.cr.commit()  # pylint: disable=invalid-commit


def scalar(env, query, *params):
    from odoo.tools import SQL  # pylint: disable=import-outside-toplevel

    env.cr.execute(SQL(query, *params))
    return env.cr.fetchone()[0]


def states(env, model_table, column, value):
    from odoo.tools import SQL  # pylint: disable=import-outside-toplevel

    env.cr.execute(
        SQL(
            "SELECT state, count(*) FROM %s WHERE %s = %s GROUP BY state",
            SQL.identifier(model_table),
            SQL.identifier(column),
            value,
        )
    )
    return dict(env.cr.fetchall())


def maxrss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mib():
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024.0 / 1024.0


# ----------------------------------------------------------------------
# Fixture
# ----------------------------------------------------------------------
def cleanup_previous(env):
    """Leftovers of an earlier run on the same database (MESSAGING_BENCH_KEEP_DB)."""
    from odoo.tools import SQL  # pylint: disable=import-outside-toplevel

    like = NAME_PREFIX + "%"
    env.cr.execute(
        SQL(
            "DELETE FROM messaging_message WHERE channel_id IN "
            "(SELECT id FROM messaging_channel WHERE name->>'en_US' LIKE %s)",
            like,
        )
    )
    env.cr.execute(
        SQL(
            "UPDATE messaging_campaign SET state = 'done', active = FALSE "
            "WHERE name LIKE %s",
            like,
        )
    )
    env.cr.execute(
        SQL(
            "UPDATE messaging_channel SET active = FALSE WHERE name->>'en_US' LIKE %s",
            like,
        )
    )
    env.cr.execute(SQL("DELETE FROM sms_sms"))
    commit(env)


def ensure_partners(env, count):
    """``count`` partners with valid Vietnamese mobiles, refs BENCH-0000001...
    (7 digits: a million partners sort in order)

    One partner is created through the ORM; the others are copies of its row
    made by one INSERT ... SELECT (every column, computed ones included).
    """
    from odoo.tools import SQL  # pylint: disable=import-outside-toplevel

    existing = scalar(
        env, "SELECT count(*) FROM res_partner WHERE ref LIKE %s", REF_PREFIX + "%"
    )
    if existing >= count:
        return existing
    vietnam = env.ref("base.vn")
    template = env["res.partner"].create(
        {
            "name": "Bench template customer",
            "ref": "BENCHTPL",
            "country_id": vietnam.id,
            "mobile": "0901234567",
        }
    )
    env.flush_all()
    env.cr.execute(
        SQL(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'res_partner' AND table_schema = current_schema() "
            "ORDER BY ordinal_position"
        )
    )
    columns = [row[0] for row in env.cr.fetchall() if row[0] != "id"]
    name = SQL("'Bench customer ' || lpad(i::text, 7, '0')")
    mobile = SQL(
        "(%s::varchar[])[mod(i, %s) + 1] || lpad(i::text, 7, '0')",
        MOBILE_PREFIXES,
        len(MOBILE_PREFIXES),
    )
    overrides = {
        "name": name,
        "complete_name": name,
        "ref": SQL("%s || lpad(i::text, 7, '0')", REF_PREFIX),
        "mobile": mobile,
        "phone_sanitized": SQL("'+84' || substr(%s, 2)", mobile),
        "commercial_partner_id": SQL("NULL"),
        "create_date": SQL("now() AT TIME ZONE 'UTC'"),
        "write_date": SQL("now() AT TIME ZONE 'UTC'"),
    }
    started = time.perf_counter()
    env.cr.execute(
        SQL(
            "INSERT INTO res_partner (%s) SELECT %s FROM res_partner t "
            "CROSS JOIN generate_series(%s, %s) AS i WHERE t.id = %s",
            SQL(", ").join(SQL.identifier(c) for c in columns),
            SQL(", ").join(
                overrides.get(c, SQL("t.%s", SQL.identifier(c))) for c in columns
            ),
            existing + 1,
            count,
            template.id,
        )
    )
    env.cr.execute(
        SQL(
            "UPDATE res_partner SET commercial_partner_id = id "
            "WHERE ref LIKE %s AND commercial_partner_id IS NULL",
            REF_PREFIX + "%",
        )
    )
    commit(env)
    env.invalidate_all()
    log(
        "fixture: %d partners inserted in %.1f s"
        % (count - existing, time.perf_counter() - started)
    )
    return count


def first_partners_domain(count):
    return [
        ("ref", ">=", REF_PREFIX + "0000001"),
        ("ref", "<=", "%s%07d" % (REF_PREFIX, count)),
    ]


def first_partner_ids(env, count):
    return env["res.partner"].search(first_partners_domain(count), order="ref").ids


def make_channel(env, name, ctype, **vals):
    values = {
        "name": NAME_PREFIX + name,
        "channel_type": ctype,
        "rate_per_second": 0.0,
        "min_interval_seconds": 0.0,
        "daily_cap": 0,
        "test_mode": False,
    }
    values.update(vals)
    return env["messaging.channel"].create(values)


def make_esms_channel(env, name, url, **vals):
    return make_channel(
        env,
        name,
        "esms",
        esms_url=url,
        esms_api_key=bench_peers.BenchEsmsPeer.api_key,
        esms_secret_key=bench_peers.BenchEsmsPeer.secret_key,
        esms_brandname=bench_peers.BenchEsmsPeer.brandname,
        esms_sms_type="2",
        **vals,
    )


def make_campaign(env, name, channel, domain, category="transactional", body=BODY):
    from odoo import Command  # pylint: disable=import-outside-toplevel

    template = env["messaging.template"].create(
        {
            "name": NAME_PREFIX + name,
            "channel_type": channel.channel_type,
            "model": "res.partner",
            "category": category,
            "body": body,
        }
    )
    segment = env["messaging.segment"].create(
        {"name": NAME_PREFIX + name, "domain": repr(domain)}
    )
    return env["messaging.campaign"].create(
        {
            "name": NAME_PREFIX + name,
            "segment_ids": [Command.set(segment.ids)],
            "channel_id": channel.id,
            "template_id": template.id,
        }
    )


def enqueue_campaign(env, name, channel, count):
    campaign = make_campaign(env, name, channel, first_partners_domain(count))
    campaign.action_confirm()
    campaign.action_activate()
    commit(env)
    return campaign


# ----------------------------------------------------------------------
# 1. Enqueue
# ----------------------------------------------------------------------
# one number in this many of the enqueue campaign is in phone.blacklist (a
# marketing campaign: those are refused with their reason, one by one)
BLACKLIST_EVERY = 200


def bench_enqueue(registry, args, results):
    """Activation click, then the enqueue cron until every recipient is
    queued, for each campaign size; Odoo's mass SMS composer next to it."""
    sizes = [args.recipients] + ([args.enqueue_large] if args.enqueue_large else [])
    results["enqueue"] = [bench_enqueue_one(registry, args, n) for n in sizes if n]
    results["enqueue_floor"] = bench_insert_floor(registry, args.recipients)
    if args.enqueue_odoo:
        log("enqueue: Odoo's mass SMS composer over %d partners" % args.enqueue_odoo)
        gc.collect()
        maxrss_before = maxrss_mib()
        odoo = odoo_compose(registry, args.enqueue_odoo, BODY)
        odoo["maxrss_delta_mib"] = maxrss_mib() - maxrss_before
        with environment(registry) as env:
            env.cr.execute("DELETE FROM sms_sms")
            commit(env)
        results["enqueue_odoo"] = odoo


def bench_insert_floor(registry, n):
    """PostgreSQL's own cost of ``n`` queued rows: one INSERT ... SELECT of
    the same partners into messaging_message (its indexes and foreign keys),
    no Python, rolled back. What a set-wise enqueue can approach."""
    from odoo.tools import SQL  # pylint: disable=import-outside-toplevel

    with environment(registry) as env:
        channel = make_channel(env, "sandbox (floor %d)" % n, "sandbox")
        commit(env)
        started = time.perf_counter()
        env.cr.execute(
            SQL(
                """
                INSERT INTO messaging_message (channel_id, channel_type,
                       company_id, user_id, category, scheduled_at, attempt_count,
                       create_uid, write_uid, create_date, write_date, partner_id,
                       res_model, res_id, route, recipient, state, tracking_id)
                SELECT %(channel)s, 'sandbox', %(company)s, %(uid)s, 'marketing',
                       now() AT TIME ZONE 'UTC', 0, %(uid)s, %(uid)s,
                       now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', p.id,
                       'res.partner', p.id, 'sandbox', substr(p.phone_sanitized, 2),
                       'queued', replace(gen_random_uuid()::text, '-', '')
                  FROM res_partner p
                 WHERE p.ref >= %(first)s AND p.ref <= %(last)s
                """,
                channel=channel.id,
                company=env.company.id,
                uid=env.uid,
                first=REF_PREFIX + "0000001",
                last="%s%07d" % (REF_PREFIX, n),
            )
        )
        rows = env.cr.rowcount
        elapsed = time.perf_counter() - started
        env.cr.rollback()
    log("enqueue: SQL floor %d rows in %.2f s" % (rows, elapsed))
    return {"rows": rows, "seconds": elapsed}


def _blacklist_bench_numbers(env, n, add):
    from odoo.tools import SQL  # pylint: disable=import-outside-toplevel

    if not add:
        env.cr.execute(SQL("DELETE FROM phone_blacklist WHERE number LIKE '+84%%'"))
        return 0
    env.cr.execute(
        SQL(
            """
            INSERT INTO phone_blacklist (number, active, create_date, write_date)
            SELECT phone_sanitized, TRUE, now() AT TIME ZONE 'UTC',
                   now() AT TIME ZONE 'UTC'
              FROM res_partner
             WHERE ref >= %s AND ref <= %s
               AND mod(substr(ref, %s)::int, %s) = 0
            ON CONFLICT (number) DO NOTHING
            """,
            REF_PREFIX + "0000001",
            "%s%07d" % (REF_PREFIX, n),
            len(REF_PREFIX) + 1,
            BLACKLIST_EVERY,
        )
    )
    return env.cr.rowcount


def bench_enqueue_one(registry, args, n):
    from odoo.tools import SQL  # pylint: disable=import-outside-toplevel

    with environment(registry) as env:
        channel = make_channel(env, "sandbox (enqueue %d)" % n, "sandbox")
        campaign = make_campaign(
            env,
            "enqueue %d" % n,
            channel,
            first_partners_domain(n),
            category="marketing",
        )
        blacklisted = _blacklist_bench_numbers(env, n, True)
        commit(env)
        campaign_id = campaign.id
    gc.collect()
    maxrss_before, rss_before = maxrss_mib(), rss_mib()
    log("enqueue: campaign over %d partners: the Activate click" % n)
    with environment(registry) as env:
        campaign = env["messaging.campaign"].browse(campaign_id)
        started = time.perf_counter()
        campaign.action_confirm()
        campaign.action_activate()
        commit(env)
        click = time.perf_counter() - started
        rows_after_click = scalar(
            env,
            "SELECT count(*) FROM messaging_message WHERE campaign_id = %s",
            campaign_id,
        )
    log(
        "enqueue: click %.2f s (%d rows); running the enqueue cron"
        % (click, rows_after_click)
    )
    started = time.perf_counter()
    first_chunk = None
    runs = 0
    while True:
        with environment(registry) as env:
            env["messaging.campaign"]._cron_enqueue(
                max_chunks=1 if first_chunk is None else None
            )
            runs += 1
            if first_chunk is None:
                first_chunk = time.perf_counter() - started
            left = scalar(
                env,
                "SELECT count(*) FROM messaging_campaign"
                " WHERE id = %s AND enqueue_state = 'enqueuing'",
                campaign_id,
            )
        if not left:
            break
    elapsed = time.perf_counter() - started
    maxrss_after, rss_after = maxrss_mib(), rss_mib()
    with environment(registry) as env:
        by_state = states(env, "messaging_message", "campaign_id", campaign_id)
        env.cr.execute(
            SQL(
                "SELECT count(*), count(DISTINCT partner_id) FROM messaging_message"
                " WHERE campaign_id = %s AND fallback_parent_id IS NULL",
                campaign_id,
            )
        )
        rows, distinct = env.cr.fetchone()
        # not dispatched: removed so that the next figures claim their own rows
        env.cr.execute(
            SQL("DELETE FROM messaging_message WHERE campaign_id = %s", campaign_id)
        )
        env.cr.execute(
            SQL(
                "UPDATE messaging_campaign SET state = 'done' WHERE id = %s",
                campaign_id,
            )
        )
        _blacklist_bench_numbers(env, n, False)
        commit(env)
    result = {
        "recipients": n,
        "rows": rows,
        "distinct_partners": distinct,
        "blacklisted": blacklisted,
        "states": by_state,
        "click_seconds": click,
        "rows_after_click": rows_after_click,
        "first_chunk_seconds": first_chunk,
        "cron_runs": runs,
        "seconds": elapsed,
        "rate": rows / elapsed if elapsed else 0.0,
        "maxrss_delta_mib": maxrss_after - maxrss_before,
        "rss_delta_mib": rss_after - rss_before,
        "maxrss_mib": maxrss_after,
    }
    log(
        "enqueue: %d rows %s in %.2f s = %.0f rows/s, ru_maxrss +%.0f MiB"
        % (rows, by_state, elapsed, result["rate"], result["maxrss_delta_mib"])
    )
    return result


# ----------------------------------------------------------------------
# 2. Dispatch
# ----------------------------------------------------------------------
def bench_dispatch(registry, url, count, label, time_cap=0):
    with environment(registry) as env:
        channel = make_esms_channel(env, "eSMS loopback (%s)" % label, url)
        campaign = enqueue_campaign(env, "dispatch %s" % label, channel, count)
        campaign_id = campaign.id
        queued = states(env, "messaging_message", "campaign_id", campaign_id)
    bench_peers.peer_reset(url)
    log(
        "dispatch (%s): %s, one _process_queue(%s) call"
        % (label, queued, "time_limit=%g" % time_cap if time_cap else "")
    )
    kwargs = {"time_limit": time_cap} if time_cap else {}
    with environment(registry) as env:
        started = time.perf_counter()
        handled = env["messaging.message"]._process_queue(**kwargs)
        elapsed = time.perf_counter() - started
    with environment(registry) as env:
        by_state = states(env, "messaging_message", "campaign_id", campaign_id)
        if by_state.get("queued"):
            # stopped by the time cap: the rest must not reach later figures
            from odoo.tools import SQL  # pylint: disable=import-outside-toplevel

            env.cr.execute(
                SQL(
                    "DELETE FROM messaging_message "
                    "WHERE campaign_id = %s AND state = 'queued'",
                    campaign_id,
                )
            )
            commit(env)
    stats = bench_peers.peer_stats(url)
    sent = by_state.get("sent", 0)
    result = {
        "messages": count,
        "handled": handled,
        "states": by_state,
        "peer_requests": len(stats["arrivals"]),
        "seconds": elapsed,
        "rate": sent / elapsed if elapsed else 0.0,
    }
    log(
        "dispatch (%s): %s, peer got %d requests, %.2f s = %.0f msg/s"
        % (label, by_state, result["peer_requests"], elapsed, result["rate"])
    )
    return result


# ----------------------------------------------------------------------
# 3. Odoo's own SMS
# ----------------------------------------------------------------------
def odoo_sms_configure(registry, url):
    with environment(registry) as env:
        env["ir.config_parameter"].sudo().set_param("sms.endpoint", url)
        account = env["iap.account"].get("sms")
        if not account.account_token:
            account.account_token = "bench-token"
        commit(env)


def odoo_compose(registry, partner_count, body):
    """Odoo's mass SMS composer over the first partners; rows/s.

    The composer keeps its record ids as a Python literal in ``res_ids`` and
    Odoo's ``literal_eval`` refuses more than 100 KiB (about 14,000 ids)
    unless ``ODOO_LIMIT_LITEVAL_BUFFER`` is raised: the driver raises it.
    """
    with environment(registry) as env:
        ids = first_partner_ids(env, partner_count)
        commit(env)
    needed = len(repr(ids)) + 1024
    if needed > int(os.environ.get("ODOO_LIMIT_LITEVAL_BUFFER") or 102400):
        os.environ["ODOO_LIMIT_LITEVAL_BUFFER"] = str(needed)
    with environment(registry) as env:
        started = time.perf_counter()
        composer = env["sms.composer"].create(
            {
                "composition_mode": "mass",
                "res_model": "res.partner",
                "res_ids": repr(ids),
                "body": body,
                "mass_force_send": False,
            }
        )
        composer.action_send_sms()
        commit(env)
        elapsed = time.perf_counter() - started
    with environment(registry) as env:
        outgoing = scalar(
            env,
            "SELECT count(*) FROM sms_sms WHERE state = 'outgoing' AND NOT to_delete",
        )
    log(
        "odoo composer: %d partners -> %d outgoing sms.sms in %.2f s = %.0f rows/s"
        % (len(ids), outgoing, elapsed, len(ids) / elapsed)
    )
    return {"partners": len(ids), "outgoing": outgoing, "seconds": elapsed}


def odoo_dispatch(registry, url, batch_size, time_cap=0, chunk=0):
    """``sms.sms._process_queue(ids=chunk)`` until done or ``time_cap`` s.

    Odoo's cron calls ``_process_queue()`` (at most 10,000 rows); the ids are
    given in chunks only so that a slow run can stop at the same time cap as
    ours. Each chunk still goes through Odoo's search, batching by
    ``sms.session.batch.size`` and commit per batch.
    """
    with environment(registry) as env:
        env["ir.config_parameter"].sudo().set_param(
            "sms.session.batch.size", str(batch_size)
        )
        commit(env)
        # newest first, like the search in _process_queue (sms.sms _order is
        # "id DESC", limit 10,000): each chunk is inside what it would pick
        env.cr.execute(
            "SELECT id FROM sms_sms WHERE state = 'outgoing' AND NOT to_delete "
            "ORDER BY id DESC"
        )
        ids = [row[0] for row in env.cr.fetchall()]
    todo = len(ids)
    chunk = chunk or (10000 if batch_size >= 100 else 1000)
    bench_peers.peer_reset(url)
    log(
        "odoo sms queue: %d outgoing, batch size %d, chunks of %d ids%s"
        % (todo, batch_size, chunk, ", time cap %g s" % time_cap if time_cap else "")
    )
    elapsed, calls = 0.0, 0
    for start in range(0, todo, chunk):
        if time_cap and elapsed > time_cap:
            break
        with environment(registry) as env:
            started = time.perf_counter()
            env["sms.sms"]._process_queue(ids=ids[start : start + chunk])
            elapsed += time.perf_counter() - started
            calls += 1
    with environment(registry) as env:
        env.cr.execute("SELECT state, count(*) FROM sms_sms GROUP BY state")
        by_state = dict(env.cr.fetchall())
        env.cr.execute("DELETE FROM sms_sms")
        commit(env)
    stats = bench_peers.peer_stats(url)
    rate = stats["items"] / elapsed if elapsed else 0.0
    log(
        "odoo sms queue (batch %d): %s, %d requests, %d numbers in %.2f s "
        "(%d _process_queue calls) = %.0f msg/s"
        % (
            batch_size,
            by_state,
            len(stats["arrivals"]),
            stats["items"],
            elapsed,
            calls,
            rate,
        )
    )
    return {
        "batch_size": batch_size,
        "messages": todo,
        "states": by_state,
        "requests": len(stats["arrivals"]),
        "numbers": stats["items"],
        "seconds": elapsed,
        "calls": calls,
        "rate": rate,
    }


def odoo_cron_facts(registry):
    """(cron interval in seconds, rows per _process_queue run) from the code."""
    # pylint: disable=import-outside-toplevel
    from odoo.addons.sms.models.sms_sms import SmsSms

    match = re.search(r"limit=(\d+)", inspect.getsource(SmsSms._process_queue))
    limit = int(match.group(1)) if match else 10000
    unit = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
    with environment(registry) as env:
        cron = env.ref("sms.ir_cron_sms_scheduler_action")
        interval = cron.interval_number * unit.get(cron.interval_type, 2592000)
    return interval, limit


def bench_odoo(registry, args, results):
    body = BODY
    with bench_peers.PeerProcess("iap") as peer:
        odoo_sms_configure(registry, peer.url)
        res = {"compose": [], "dispatch": []}
        for batch_size in (500, 1):
            res["compose"].append(odoo_compose(registry, args.dispatch, body))
            res["dispatch"].append(
                odoo_dispatch(registry, peer.url, batch_size, args.time_cap)
            )
    if args.odoo_create and args.odoo_create != args.dispatch:
        full = odoo_compose(registry, args.odoo_create, body)
        res["compose"].append(full)
        with environment(registry) as env:
            env.cr.execute("DELETE FROM sms_sms")
            commit(env)
    res["cron_interval"], res["cron_limit"] = odoo_cron_facts(registry)
    results["odoo"] = res


# ----------------------------------------------------------------------
# 6. Sending against a provider's latency
# ----------------------------------------------------------------------
def bench_latency(registry, args, results, skip):
    """msg/s of one worker against peers answering after 0, 50, 100 ms:
    ours (the channel's default requests in flight) and Odoo's sms.sms queue
    at ``sms.session.batch.size`` = 1 (one request per message, in turn)."""
    figures = []
    for latency in _latencies(args):
        label = "%g ms latency" % (latency * 1000)
        with bench_peers.PeerProcess("esms", delay=latency) as peer:
            ours = bench_dispatch(
                registry, peer.url, args.latency_messages, label, args.latency_cap
            )
        odoo = None
        if "latency_odoo" not in skip:
            with bench_peers.PeerProcess("iap", delay=latency) as peer:
                odoo_sms_configure(registry, peer.url)
                odoo_compose(registry, _odoo_latency_messages(args, latency), BODY)
                odoo = odoo_dispatch(
                    registry, peer.url, 1, args.latency_cap, chunk=LATENCY_ODOO_CHUNK
                )
        figures.append({"latency": latency, "ours": ours, "odoo": odoo})
    results["latency"] = figures


LATENCY_ODOO_CHUNK = 50


def _latencies(args):
    return [float(v) / 1000 for v in args.latencies.split(",") if v.strip()]


def _odoo_latency_messages(args, latency):
    """Enough of Odoo's one-at-a-time sends to last a few seconds, not
    minutes: 300 at 100 ms take ~30 s."""
    if not latency:
        return args.latency_messages
    return min(args.latency_messages, max(50, int(30 / latency)))


# ----------------------------------------------------------------------
# 4. Rate accuracy
# ----------------------------------------------------------------------
def run_worker(args):
    """--role worker: dispatch until the channel has nothing left to send."""
    registry = load_registry(args)
    deadline = time.time() + args.deadline
    import psycopg2  # pylint: disable=import-outside-toplevel

    sent, calls, errors = 0, 0, []
    kwargs = {"batch_size": args.batch_size} if args.batch_size else {}
    while time.time() < deadline:
        done = 0
        try:
            with environment(registry) as env:
                calls += 1
                done = env["messaging.message"]._process_queue(**kwargs)
                sent += done
        except psycopg2.errors.SerializationFailure as exc:
            # what Odoo's cron runner would do: log, roll back, run again
            errors.append(type(exc).__name__)
            log("worker %d: %s, running again" % (os.getpid(), exc.pgerror))
        with environment(registry) as env:
            left = scalar(
                env,
                "SELECT count(*) FROM messaging_message "
                "WHERE channel_id = %s AND state IN ('queued', 'sending')",
                args.channel_id,
            )
        if not left:
            break
        if not done:
            time.sleep(0.05)
    out(
        json.dumps(
            {"handled": sent, "calls": calls, "errors": errors, "pid": os.getpid()}
        )
    )


def sliding_max(times, window=1.0):
    """Most timestamps in any half-open window [t, t + window)."""
    best = 0
    for i, start in enumerate(times):
        best = max(best, bisect.bisect_left(times, start + window) - i)
    return best


def bench_rate(registry, args, claim):
    """Rate run; ``claim`` is the batch_size given to the workers'
    ``_process_queue`` (0: the model's default)."""
    n, rate, workers = args.rate_messages, args.rate, args.workers
    with bench_peers.PeerProcess("esms", delay=args.latency) as peer:
        with environment(registry) as env:
            channel = make_esms_channel(
                env,
                "eSMS %g/s, %d ms" % (rate, args.latency * 1000),
                peer.url,
                rate_per_second=rate,
            )
            campaign = enqueue_campaign(
                env, "rate %g/s, claim %s" % (rate, claim or "default"), channel, n
            )
            channel_id, campaign_id = channel.id, campaign.id
        bench_peers.peer_reset(peer.url)
        deadline = n / rate * 2 + 30
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--config",
            args.config,
            "--database",
            args.database,
            "--log-level",
            args.log_level,
            "--role",
            "worker",
            "--channel-id",
            str(channel_id),
            "--deadline",
            str(deadline),
        ]
        if claim:
            command += ["--batch-size", str(claim)]
        log(
            "rate: %d messages, channel limited to %g/s, peer latency %d ms, "
            "%d worker processes, claim batch %s"
            % (n, rate, args.latency * 1000, workers, claim or "default")
        )
        started = time.time()
        procs = []
        for index in range(workers):
            # pylint: disable=consider-using-with
            errlog = open(
                os.path.join(args.log_dir, "worker-%d.log" % index),
                "w",
                encoding="utf-8",
            )
            procs.append(
                (
                    subprocess.Popen(
                        command, stdout=subprocess.PIPE, stderr=errlog, text=True
                    ),
                    errlog,
                )
            )
        handled = []
        for proc, errlog in procs:
            try:
                stdout, _err = proc.communicate(timeout=deadline + 120)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, _err = proc.communicate()
            errlog.close()
            try:
                handled.append(json.loads(stdout.strip().splitlines()[-1]))
            except (ValueError, IndexError):
                with open(errlog.name, encoding="utf-8") as text:
                    lines = [x.strip() for x in text if x.strip()]
                handled.append(
                    {
                        "handled": None,
                        "crash": "exit %s: %s"
                        % (proc.returncode, lines[-1] if lines else "no output"),
                    }
                )
        wall = time.time() - started
        stats = bench_peers.peer_stats(peer.url)
    with environment(registry) as env:
        by_state = states(env, "messaging_message", "campaign_id", campaign_id)
    arrivals = sorted(stats["arrivals"])
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    achieved = (len(arrivals) - 1) / span if span else 0.0
    n_gaps = max(len(arrivals) - 1, 0)
    result = {
        "claim": claim,
        "messages": n,
        "configured": rate,
        "latency": args.latency,
        "workers": workers,
        "worker_handled": [w.get("handled") for w in handled],
        "worker_errors": sum(len(w.get("errors") or []) for w in handled),
        "worker_crashes": [w["crash"] for w in handled if w.get("crash")],
        "worker_logs": args.log_dir,
        "states": by_state,
        "requests": len(arrivals),
        "span": span,
        "wall": wall,
        "achieved": achieved,
        "max_window": sliding_max(arrivals),
        "min_gap_ms": 1000.0
        * min((arrivals[i + 1] - arrivals[i] for i in range(n_gaps)), default=0.0),
        "arrivals": [round(t - arrivals[0], 4) for t in arrivals],
        "error_pct": 100.0 * (achieved - rate) / rate,
    }
    log(
        "rate: %d requests over %.2f s = %.2f/s (configured %g/s), max %d in any "
        "1 s window, smallest gap %.1f ms, workers handled %s, states %s, "
        "wall %.1f s"
        % (
            len(arrivals),
            span,
            achieved,
            rate,
            result["max_window"],
            result["min_gap_ms"],
            result["worker_handled"],
            by_state,
            wall,
        )
    )
    return result


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------
def verdict(ok):
    return "PASS" if ok else "MISS"


def fmt_duration(seconds):
    if seconds >= 3600:
        return "%.1f h" % (seconds / 3600)
    if seconds >= 120:
        return "%.1f min" % (seconds / 60)
    return "%.1f s" % seconds


def _n(value):
    return f"{value:,.0f}"


def _report_enqueue(row, runs, odoo=None, floor=None):
    for enq in runs:
        size = _n(enq["recipients"])
        row(
            "1 Activate click, %s recipients" % size,
            "%.2f s (%d rows queued in the click)"
            % (enq["click_seconds"], enq["rows_after_click"]),
            "< 3 s",
            verdict(enq["click_seconds"] < 3),
        )
        row(
            "  enqueue cron, %s recipients" % size,
            "%d rows in %.1f s = %s rows/s (first chunk after %.2f s, %d runs)"
            % (
                enq["rows"],
                enq["seconds"],
                _n(enq["rate"]),
                enq["first_chunk_seconds"],
                enq["cron_runs"],
            ),
            ">= 10,000/s",
            verdict(
                enq["rate"] >= 10000
                and enq["rows"] == enq["recipients"] == enq["distinct_partners"]
            ),
        )
        row(
            "  memory of the enqueue, %s" % size,
            "ru_maxrss +%.0f MiB (process peak %.0f MiB)"
            % (enq["maxrss_delta_mib"], enq["maxrss_mib"]),
            "<= 200 MiB",
            verdict(enq["maxrss_delta_mib"] <= 200),
        )
        row(
            "  rows by state, %s" % size,
            "%s (%d numbers blacklisted)" % (enq["states"], enq["blacklisted"]),
        )
    if floor:
        row(
            "  SQL floor: one INSERT ... SELECT, %s rows" % _n(floor["rows"]),
            "%.1f s = %s rows/s (no Python; its indexes and foreign keys)"
            % (floor["seconds"], _n(floor["rows"] / floor["seconds"])),
        )
    if odoo:
        row(
            "  Odoo mass SMS composer, %s partners" % _n(odoo["partners"]),
            "%d sms.sms in %.1f s = %s rows/s, ru_maxrss +%.0f MiB"
            % (
                odoo["outgoing"],
                odoo["seconds"],
                _n(odoo["partners"] / odoo["seconds"]),
                odoo["maxrss_delta_mib"],
            ),
        )


def _report_dispatch(row, ours, thread):
    sent = ours["states"].get("sent", 0)
    row(
        "2 Dispatch, 1 worker, eSMS peer in a process",
        "%s%s in %.1f s = %s msg/s"
        % (
            _n(sent),
            "" if sent >= ours["messages"] else " of %s" % _n(ours["messages"]),
            ours["seconds"],
            _n(ours["rate"]),
        ),
        ">= 1,000/s",
        verdict(ours["rate"] >= 1000),
    )
    if set(ours["states"]) - {"sent", "queued"}:
        row(
            "  rows by state (of %s queued)" % _n(ours["messages"]), str(ours["states"])
        )
    if thread:
        row(
            "  same, peer in a thread (shares the GIL)",
            "%s in %.1f s = %s msg/s"
            % (
                _n(thread["states"].get("sent", 0)),
                thread["seconds"],
                _n(thread["rate"]),
            ),
        )


def _report_odoo(row, args, results):
    odoo, ours = results["odoo"], results.get("dispatch")
    enq = (results.get("enqueue") or [None])[0]
    for index, comp in enumerate(odoo["compose"]):
        row(
            "%s Odoo mass SMS composer, %s partners"
            % ("3" if index == 0 else " ", _n(comp["partners"])),
            "%.1f s = %s rows/s"
            % (comp["seconds"], _n(comp["partners"] / comp["seconds"])),
        )
    by_batch = {d["batch_size"]: d for d in odoo["dispatch"]}
    for batch_size, disp in sorted(by_batch.items(), reverse=True):
        row(
            "  Odoo sms.sms queue, %d number%s/request"
            % (batch_size, "" if batch_size == 1 else "s"),
            "%s%s in %.1f s = %s msg/s"
            % (
                _n(disp["numbers"]),
                ""
                if disp["numbers"] >= disp["messages"]
                else " of %s (time cap)" % _n(disp["messages"]),
                disp["seconds"],
                _n(disp["rate"]),
            ),
        )
    if ours:
        for batch_size, disp in sorted(by_batch.items()):
            ratio = ours["rate"] / disp["rate"] if disp["rate"] else float("inf")
            if batch_size == 1:
                row(
                    "  ours / Odoo, both 1 message per request",
                    "%.2fx" % ratio,
                    ">= 3x",
                    verdict(ratio >= 3),
                )
            else:
                row(
                    "  ours / Odoo at %d numbers per request" % batch_size,
                    "%.2fx" % ratio,
                    "(info)",
                )
    n = args.recipients
    interval, limit = odoo["cron_interval"], odoo["cron_limit"]
    runs = math.ceil(n / limit)
    best = by_batch.get(500) or odoo["dispatch"][0]
    odoo_min = (runs - 1) * interval + (n / best["rate"] if best["rate"] else 0.0)
    if ours and ours["rate"]:
        enqueue_s = enq["seconds"] * n / enq["rows"] if enq and enq["rows"] else 0.0
        ours_s = enqueue_s + n / ours["rate"]
        row(
            "  hand-over of %s: ours, 1 worker" % _n(n),
            "%s (enqueue %s + send %s)"
            % (
                fmt_duration(ours_s),
                fmt_duration(enqueue_s),
                fmt_duration(n / ours["rate"]),
            ),
        )
        row(
            "  hand-over of %s: Odoo's SMS cron" % _n(n),
            "%s - %s (%d runs of <= %s, every %s)"
            % (
                fmt_duration(odoo_min),
                fmt_duration(runs * interval),
                runs,
                _n(limit),
                fmt_duration(interval),
            ),
        )
        ratio = odoo_min / ours_s
        row(
            "  hand-over Odoo (best case) / ours",
            "%.0fx" % ratio,
            ">= 3x",
            verdict(ratio >= 3),
        )


def _report_rate(row, rate, first):
    row(
        "%s Rate %g/s, %d ms latency, %d workers, claim %s"
        % (
            "4" if first else " ",
            rate["configured"],
            rate["latency"] * 1000,
            rate["workers"],
            rate["claim"] or "default",
        ),
        "%.2f/s (%+.1f%%) over %d requests"
        % (rate["achieved"], rate["error_pct"], rate["requests"]),
        "within 5%",
        verdict(abs(rate["error_pct"]) <= 5.0),
    )
    row(
        "  most requests at the peer in any 1 s window",
        "%d" % rate["max_window"],
        "<= %g" % rate["configured"],
        verdict(rate["max_window"] <= rate["configured"]),
    )
    row(
        "  per worker / rows by state",
        "%s / %s" % (rate["worker_handled"], rate["states"]),
    )
    if rate["worker_errors"]:
        row(
            "  worker runs rolled back (serialization)",
            "%d, retried" % rate["worker_errors"],
        )
    for crash in sorted(set(rate["worker_crashes"])):
        row("  worker crashed (logs: %s)" % rate["worker_logs"], crash[:100])


def _report_latency(row, figure, first):
    ours, odoo = figure["ours"], figure["odoo"]
    latency_ms = figure["latency"] * 1000
    sent = ours["states"].get("sent", 0)
    goal = ">= 400/s" if latency_ms == 100 else ""
    row(
        "%s Send, 1 worker, %g ms provider latency"
        % ("8" if first else " ", latency_ms),
        "ours %s in %.1f s = %s msg/s%s"
        % (
            _n(sent),
            ours["seconds"],
            _n(ours["rate"]),
            ""
            if odoo is None
            else "; Odoo sms.sms 1/request: %s in %.1f s = %s msg/s (%.0fx)"
            % (
                _n(odoo["numbers"]),
                odoo["seconds"],
                _n(odoo["rate"]),
                ours["rate"] / odoo["rate"] if odoo["rate"] else float("inf"),
            ),
        ),
        goal,
        verdict(ours["rate"] >= 400) if goal else "",
    )


def print_report(args, results):
    rows = []

    def row(label, value, goal="", result=""):
        rows.append((label, value, goal, result))

    if results.get("enqueue"):
        _report_enqueue(
            row,
            results["enqueue"],
            results.get("enqueue_odoo"),
            results.get("enqueue_floor"),
        )
    if results.get("dispatch"):
        _report_dispatch(row, results["dispatch"], results.get("dispatch_thread"))
    if results.get("odoo"):
        _report_odoo(row, args, results)
    for index, rate in enumerate(results.get("rate") or []):
        _report_rate(row, rate, index == 0)
    if results.get("faults"):
        bench_faults.report(row, results["faults"])
    if results.get("receipts"):
        bench_receipts.report(row, results["receipts"])
    if results.get("grouped"):
        bench_grouped.report(row, results["grouped"])
    for index, figure in enumerate(results.get("latency") or []):
        _report_latency(row, figure, index == 0)
    if not rows:
        return
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    line = "-" * (sum(width) + 12)
    fmt = "%%-%ds  %%-%ds  %%-%ds  %%s" % tuple(width)
    out()
    out(
        "multichannel_messaging queue benchmark - database %s, %d CPU(s), "
        "load average %.1f at start, %.1f at end"
        % (
            args.database,
            os.cpu_count() or 0,
            results.get("load_start", 0.0),
            os.getloadavg()[0],
        )
    )
    out(line)
    out((fmt % ("Figure", "Measured", "Goal", "Result")).rstrip())
    out(line)
    for values in rows:
        out((fmt % values).rstrip())
    out(line)


# ----------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Queue benchmark: multichannel_messaging vs Odoo's SMS.",
    )
    parser.add_argument("--config", required=True, help="odoo.conf")
    parser.add_argument("--database", required=True)
    parser.add_argument("--log-dir", default="/tmp")
    parser.add_argument("--log-level", default="warn")
    parser.add_argument(
        "--recipients",
        type=int,
        default=100000,
        help="campaign size for the enqueue figure (default 100000)",
    )
    parser.add_argument(
        "--enqueue-large",
        type=int,
        default=1000000,
        help="second campaign size for the enqueue figure (default 1000000; 0: skip)",
    )
    parser.add_argument(
        "--enqueue-odoo",
        type=int,
        default=0,
        help="partners for Odoo's mass SMS composer next to the enqueue "
        "figure, e.g. 100000 (about 150 s on 2 idle CPUs; default 0: skip)",
    )
    parser.add_argument(
        "--dispatch",
        type=int,
        default=20000,
        help="messages dispatched by ours and by Odoo's SMS (default 20000)",
    )
    parser.add_argument(
        "--thread-dispatch",
        type=int,
        default=5000,
        help="messages dispatched with the peer in a thread (0: skip)",
    )
    parser.add_argument(
        "--time-cap",
        type=float,
        default=90.0,
        help="time cap (s) of each dispatch figure, ours (time_limit of "
        "_process_queue) and Odoo's (checked between chunks of ids): a slow "
        "queue sends fewer than --dispatch messages (default 90, a third of it "
        "for the thread-peer run; 0: none)",
    )
    parser.add_argument(
        "--odoo-create",
        type=int,
        default=0,
        help="partners for one more Odoo composer run, e.g. 100000: about "
        "150 s more on 2 idle CPUs, far more on a busy machine (default 0: skip)",
    )
    parser.add_argument(
        "--rate", type=float, default=20.0, help="configured messages/s (20)"
    )
    parser.add_argument(
        "--rate-messages", type=int, default=300, help="messages in the rate run"
    )
    parser.add_argument(
        "--latency", type=float, default=0.1, help="peer latency (s) in the rate run"
    )
    parser.add_argument(
        "--workers", type=int, default=4, help="dispatcher processes in the rate run"
    )
    parser.add_argument(
        "--rate-claims",
        default="0,10",
        help="one rate run per value: batch_size given to the workers' "
        "_process_queue, 0 = the model's default (default: 0,10)",
    )
    parser.add_argument(
        "--latencies",
        default="0,50,100",
        help="provider latencies (ms) of the sending figure: one worker, ours "
        "and Odoo's sms.sms queue at 1 message per request (default 0,50,100)",
    )
    parser.add_argument(
        "--latency-messages",
        type=int,
        default=5000,
        help="messages per latency in the sending figure (default 5000; "
        "Odoo's queue gets fewer at a latency: ~30 s of its sends)",
    )
    parser.add_argument(
        "--latency-cap",
        type=float,
        default=40.0,
        help="time cap (s) of each run of the sending figure (default 40)",
    )
    parser.add_argument("--batch-size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--faults",
        type=float,
        default=0.02,
        help="share of requests whose answer the peer loses after processing "
        "them, for the lost-answers figure (default 0.02; 0: skip it)",
    )
    parser.add_argument(
        "--fault-messages",
        type=int,
        default=1000,
        help="messages per queue in the lost-answers figure (default 1000)",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to skip: "
        "enqueue,dispatch,odoo,rate,faults,receipts,grouped,latency,latency_odoo "
        "(latency_odoo: Odoo's queue in the latency figure)",
    )
    parser.add_argument(
        "--receipts",
        type=int,
        default=100000,
        help="sent Zalo messages of the receipts figure, each with a delivery "
        "and a seen receipt (default 100000; 0: skip it)",
    )
    parser.add_argument(
        "--receipts-per-event-cap",
        type=float,
        default=30.0,
        help="seconds of the one-by-one run of the receipts figure, over the "
        "first events (default 30; 0: skip the one-by-one run)",
    )
    parser.add_argument(
        "--receipts-batch",
        type=int,
        default=0,
        help="events per transaction of the event cron in the receipts figure "
        "(default 0: the cron's own default)",
    )
    parser.add_argument(
        "--grouped-messages",
        type=int,
        default=1000,
        help="messages of one text in the SpeedSMS grouped-recipients figure "
        "(default 1000; 0: skip it)",
    )
    # internal: the rate figure's dispatcher processes
    parser.add_argument(
        "--role", default="main", choices=["main", "worker"], help=argparse.SUPPRESS
    )
    parser.add_argument("--channel-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=600.0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.role == "worker":
        return run_worker(args)
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    started = time.time()
    registry = load_registry(args)
    results = {"load_start": os.getloadavg()[0]}
    need = max(
        [0]
        + [
            count
            for part, count in (
                ("latency", args.latency_messages),
                ("enqueue", args.recipients),
                ("enqueue", args.enqueue_large),
                ("dispatch", args.dispatch),
                ("odoo", args.odoo_create),
                ("rate", args.rate_messages),
                ("faults", args.fault_messages),
                ("grouped", args.grouped_messages),
            )
            if part not in skip
        ]
    )
    with environment(registry) as env:
        cleanup_previous(env)
        ensure_partners(env, need)
    if "enqueue" not in skip:
        bench_enqueue(registry, args, results)
    if "dispatch" not in skip:
        with bench_peers.PeerProcess("esms") as peer:
            results["dispatch"] = bench_dispatch(
                registry, peer.url, args.dispatch, "peer process", args.time_cap
            )
        if args.thread_dispatch:
            peer = bench_peers.BenchEsmsPeer().start()
            try:
                results["dispatch_thread"] = bench_dispatch(
                    registry,
                    peer.url,
                    args.thread_dispatch,
                    "peer thread",
                    args.time_cap / 3,
                )
            finally:
                peer.stop()
    if "odoo" not in skip:
        bench_odoo(registry, args, results)
    if "rate" not in skip:
        results["rate"] = [
            bench_rate(registry, args, int(claim))
            for claim in args.rate_claims.split(",")
            if claim.strip()
        ]
    if "faults" not in skip and args.faults > 0:
        bench_faults.bench_faults(sys.modules[__name__], registry, args, results)
    if "receipts" not in skip and args.receipts > 0:
        bench_receipts.bench_receipts(sys.modules[__name__], registry, args, results)
    if "grouped" not in skip and args.grouped_messages > 0:
        bench_grouped.bench_grouped(sys.modules[__name__], registry, args, results)
    if "latency" not in skip:
        bench_latency(registry, args, results, skip)
    with open(
        os.path.join(args.log_dir, "results.json"), "w", encoding="utf-8"
    ) as handle:
        json.dump(results, handle, indent=1, default=str)
    print_report(args, results)
    out("total run time of the driver: %s" % fmt_duration(time.time() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
