"""A campaign's estimate and report as plain data, and their words.

The estimate a campaign keeps at activation (``estimate_data``) is data only:
counts, costs, failure codes, channel ids and ETA figures. It is worded when
it is read, in the reader's language (:func:`eta_text`,
:func:`excluded_labels`, :func:`estimate_lines`), so a manager reading in
Vietnamese and a marketer reading in English each see their own words.

Plain functions on a campaign record or an environment: no fields, no models.
"""

import math
from datetime import timedelta

from odoo import fields

from . import throttle, waits

# message states counted by the campaign's report
COUNTED_STATES = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "read",
    "failed",
    "cancelled",
    "skipped",
    "unknown",
)
# why a recipient gets nothing, as shown before activation
EXCLUSION_REASONS = ("opt_out", "no_address", "invalid_address", "duplicate")
# above this many recipients, the live estimate is computed on an even sample
PREVIEW_SAMPLE_SIZE = 2000

NO_ETA = {"days": 0, "seconds": 0.0, "cap": 0}


# ----------------------------------------------------------------------
# ETA: figures (kept) and words (at reading)
# ----------------------------------------------------------------------


def channel_eta(campaign, count, channel):
    """The ETA figures to hand ``count`` messages over on ``channel`` (an
    empty recordset or None: the campaign's own limits only), with the
    campaign's spacing and daily cap on top of the channel's:
    {"days", "seconds", "cap"}, ``cap`` set when the daily cap is what
    spreads the messages over several days. On a channel, also when
    sending starts and ends ({"start", "end", "code"}, see
    :func:`channel_window`): quiet hours, a quota pause and a daily cap
    already reached delay it."""
    if not count:
        return dict(NO_ETA)
    interval = campaign.min_interval_seconds or 0.0
    caps = [campaign.daily_cap] if campaign.daily_cap else []
    if channel:
        interval = max(interval, throttle.slot_interval(channel))
        if channel.daily_cap:
            caps.append(channel.daily_cap)
    seconds = count * interval
    eta = {"days": max(math.ceil(seconds / 86400.0), 1), "seconds": seconds, "cap": 0}
    if caps:
        cap = min(caps)
        days = max(math.ceil(count / cap), 1)
        if days > 1:
            seconds = max(seconds, (days - 1) * 86400.0)
            eta = {"days": days, "seconds": seconds, "cap": cap}
    if channel:
        eta.update(channel_window(campaign, count, channel, interval, caps))
        span = waits.from_string(eta["end"]) - waits.from_string(eta["start"])
        eta["days"] = max(eta["days"], math.ceil(span.total_seconds() / 86400.0))
    return eta


def channel_window(campaign, count, channel, interval, caps):
    """When ``count`` messages of the campaign start and end on
    ``channel``, as data: {"start", "end" (UTC strings), "code" (the wait
    code that delays the start, or False)}."""
    now = fields.Datetime.now()
    category = campaign.template_id.category or "marketing"
    begin = max(campaign.scheduled_at or now, now)
    start, code = waits.next_start(channel, category, begin)
    cap = min(caps) if caps else 0
    end = waits.finish_at(channel, category, start, count, interval, cap)
    if not code and begin > now + waits.START_SLACK:
        code = "scheduled"
    return {
        "start": waits.to_string(start),
        "end": waits.to_string(end),
        "code": code or False,
    }


def overall_eta(campaign, reachable, lines):
    """The longest of the channels' ETAs and the campaign's own limits."""
    Channel = campaign.env["messaging.channel"]
    candidates = [
        channel_eta(campaign, line["count"], Channel.browse(line["channel_id"]))
        for line in lines
    ]
    candidates.append(channel_eta(campaign, reachable, None))
    return max(
        candidates,
        key=lambda eta: (eta.get("end") or "", eta["days"], eta["seconds"]),
    )


def eta_of(item):
    """The ETA figures of an estimate or of one of its lines."""
    if "eta" in item:
        return item["eta"]
    # kept before the ETA was kept as figures: its days and its words
    return dict(NO_ETA, days=item.get("eta_days", 0), text=item.get("eta_text", ""))


def eta_text(env, eta):
    """The ETA figures in words, in the language of ``env``: when sending
    starts if a rule (quiet hours, a quota, a daily cap) or the send date
    delays it, and when it ends if that is later than its duration says."""
    if "text" in eta:  # see eta_of
        return eta["text"]
    if not eta.get("days"):
        return ""
    duration = duration_text(env, eta)
    start, end = waits.from_string(eta.get("start")), waits.from_string(eta.get("end"))
    if not start:
        return duration
    if eta.get("code"):
        return env._(
            "starts %(start)s (%(reason)s), done by about %(end)s",
            start=waits.format_when(env, start),
            reason=waits.reason_label(env, eta["code"]),
            end=waits.format_when(env, end),
        )
    if end - start > timedelta(seconds=(eta.get("seconds") or 0.0) + 60):
        return env._(
            "%(duration)s, done by about %(end)s",
            duration=duration,
            end=waits.format_when(env, end),
        )
    return duration


def duration_text(env, eta):
    """How long sending takes, in words (see :func:`eta_text`)."""
    if eta.get("cap"):
        return env._(
            "%(days)s days (daily cap %(cap)s)", days=eta["days"], cap=eta["cap"]
        )
    seconds = eta.get("seconds") or 0.0
    if seconds >= 3600:
        return env._(
            "about %(h)s h %(m)s min",
            h=int(seconds // 3600),
            m=int(seconds % 3600 // 60),
        )
    if seconds >= 60:
        return env._("about %s min", int(seconds // 60))
    return env._("under a minute")


# ----------------------------------------------------------------------
# Estimate: outcomes -> data; data -> words
# ----------------------------------------------------------------------


def summarize_estimate(campaign, outcomes, recipients, sampled=False):
    """A JSON-ready estimate (data only, no words) from (channel or None,
    failure type or None, cost, count) outcomes; counts are scaled up when
    ``sampled``."""
    seen = sum(count for _c, _f, _cost, count in outcomes)
    factor = recipients / seen if sampled and seen else 1.0
    excluded = dict.fromkeys(EXCLUSION_REASONS, 0)
    channels = {}
    for channel, failure, cost, count in outcomes:
        if failure:
            excluded[failure] = excluded.get(failure, 0) + count
            continue
        line = channels.setdefault(channel, {"count": 0, "cost": 0.0})
        line["count"] += count
        line["cost"] += cost
    lines = []
    for channel, line in sorted(channels.items(), key=lambda item: item[0].id):
        count = round(line["count"] * factor)
        lines.append(
            {
                "channel_id": channel.id,
                "count": count,
                "cost": line["cost"] * factor,
                "eta": channel_eta(campaign, count, channel),
            }
        )
    reachable = sum(line["count"] for line in lines)
    return {
        "recipients": recipients,
        "reachable": reachable,
        "sampled": bool(sampled),
        "excluded": {key: round(value * factor) for key, value in excluded.items()},
        "channels": lines,
        "cost": sum(line["cost"] for line in lines),
        "eta": overall_eta(campaign, reachable, lines),
    }


def excluded_labels(env):
    """{failure code: label} of the exclusions, in the language of ``env``."""
    types = dict(
        env["messaging.message"]._fields["failure_type"]._description_selection(env)
    )
    return {
        "opt_out": env._("Opted out"),
        "no_address": env._("No address"),
        "invalid_address": env._("Invalid address"),
        "duplicate": env._("Messaged recently"),
        **{key: label for key, label in types.items() if key not in EXCLUSION_REASONS},
    }


def estimate_lines(env, estimate):
    """The estimate's lines as the reader sees them: channel names, ETA
    words and exclusion labels in the language of ``env``."""
    Channel = env["messaging.channel"]
    lines = []
    for line in estimate.get("channels", []):
        channel = Channel.browse(line["channel_id"]).exists()
        lines.append(
            {
                "name": channel.display_name if channel else line.get("name", ""),
                "count": line["count"],
                "cost": line["cost"],
                "eta_text": eta_text(env, eta_of(line)),
            }
        )
    labels = excluded_labels(env)
    excluded = [
        (labels.get(key, key), count)
        for key, count in estimate["excluded"].items()
        if count
    ]
    return lines, excluded


# ----------------------------------------------------------------------
# Report: message counts per channel
# ----------------------------------------------------------------------


def channel_counts(campaigns):
    """{campaign: {channel: {"states": {state: count}, "cost", "fallback",
    "replied", "clicked"}}} of the campaigns' messages (``clicked``: messages
    with at least one click on their tracked links)."""
    Message = campaigns.env["messaging.message"]
    ids = campaigns._origin.ids
    result = {}
    for campaign, channel, state, count, cost in Message._read_group(
        [("campaign_id", "in", ids)],
        ["campaign_id", "channel_id", "state"],
        ["__count", "cost:sum"],
    ):
        line = result.setdefault(campaign, {}).setdefault(
            channel,
            {"states": {}, "cost": 0.0, "fallback": 0, "replied": 0, "clicked": 0},
        )
        line["states"][state] = count
        line["cost"] += cost
    for campaign, channel, count in Message._read_group(
        [("campaign_id", "in", ids), ("fallback_parent_id", "!=", False)],
        ["campaign_id", "channel_id"],
        ["__count"],
    ):
        result[campaign][channel]["fallback"] = count
    for campaign, channel, count in Message._read_group(
        [("campaign_id", "in", ids), ("click_count", ">", 0)],
        ["campaign_id", "channel_id"],
        ["__count"],
    ):
        result[campaign][channel]["clicked"] = count
    return result


def replied_partners(campaigns):
    """{(campaign id, channel id): {partner ids}} of recipients who wrote
    back after their message was sent (Zalo interaction on the same channel,
    or a message of theirs in the contact's or the document's chatter)."""
    ids = campaigns._origin.ids
    if not ids:
        return {}
    env = campaigns.env
    env.flush_all()
    env.cr.execute(
        """
        SELECT DISTINCT m.campaign_id, m.channel_id, m.partner_id
          FROM messaging_message m
         WHERE m.campaign_id IN %(ids)s
           AND m.sent_at IS NOT NULL
           AND m.partner_id IS NOT NULL
           AND (EXISTS (SELECT 1 FROM messaging_identity i
                         WHERE i.partner_id = m.partner_id
                           AND i.channel_id = m.channel_id
                           AND i.last_interaction_at > m.sent_at)
                OR EXISTS (SELECT 1 FROM mail_message mm
                            WHERE mm.author_id = m.partner_id
                              AND mm.message_type IN ('comment', 'email')
                              AND mm.date > m.sent_at
                              AND ((mm.model = m.res_model
                                    AND mm.res_id = m.res_id)
                                   OR (mm.model = 'res.partner'
                                       AND mm.res_id = m.partner_id))))
        """,
        {"ids": tuple(ids)},
    )
    result = {}
    for campaign_id, channel_id, partner_id in env.cr.fetchall():
        result.setdefault((campaign_id, channel_id), set()).add(partner_id)
    return result


def _rate(part, whole):
    return 100.0 * part / whole if whole else 0.0


def totals(lines):
    """The campaign's counters from its per-channel lines (see
    :func:`channel_counts`)."""
    counts = dict.fromkeys(COUNTED_STATES, 0)
    for line in lines.values():
        for state, count in line["states"].items():
            counts[state] += count
    total = sum(counts.values())
    queued = counts["queued"] + counts["sending"]
    reached = counts["sent"] + counts["delivered"] + counts["read"]
    delivered = counts["delivered"] + counts["read"]
    clicked = sum(line.get("clicked", 0) for line in lines.values())
    return {
        "count_total": total,
        "count_queued": queued,
        "count_sent": reached,
        "count_delivered": delivered,
        "count_read": counts["read"],
        "count_failed": counts["failed"] + counts["unknown"],
        "count_unknown": counts["unknown"],
        "count_skipped": counts["skipped"] + counts["cancelled"],
        "count_fallback": sum(line["fallback"] for line in lines.values()),
        "actual_cost": sum(line["cost"] for line in lines.values()),
        "progress": _rate(total - queued, total),
        "delivered_rate": _rate(delivered, reached),
        "read_rate": _rate(counts["read"], reached),
        "count_clicked": clicked,
        # of the messages sent, as the read rate
        "clicked_rate": _rate(clicked, reached),
    }


def report_rows(lines, estimate):
    """One row per channel of the report: counts, rates, actual cost and the
    cost estimated at activation (``estimate``: the kept estimate data)."""
    estimated = {
        line["channel_id"]: line["cost"]
        for line in (estimate or {}).get("channels", [])
    }
    rows = []
    for channel, line in sorted(lines.items(), key=lambda item: item[0].id):
        states = line["states"]
        reached = sum(states.get(s, 0) for s in ("sent", "delivered", "read"))
        delivered = states.get("delivered", 0) + states.get("read", 0)
        rows.append(
            {
                "channel": channel,
                "total": sum(states.values()),
                "queued": states.get("queued", 0) + states.get("sending", 0),
                "sent": reached,
                "delivered": delivered,
                "delivered_rate": _rate(delivered, reached),
                "read": states.get("read", 0),
                "read_rate": _rate(states.get("read", 0), reached),
                "clicked": line.get("clicked", 0),
                "clicked_rate": _rate(line.get("clicked", 0), reached),
                "failed": states.get("failed", 0) + states.get("unknown", 0),
                "skipped": states.get("skipped", 0) + states.get("cancelled", 0),
                "fallback": line["fallback"],
                "replied": line["replied"],
                "cost": line["cost"],
                "estimated": estimated.get(channel.id, 0.0),
            }
        )
    return rows


# ----------------------------------------------------------------------
# Revenue: attributed orders per channel and per fallback step
# ----------------------------------------------------------------------


def roi(revenue, cost):
    """(revenue - cost) / cost, or None when nothing was spent."""
    if not cost:
        return None
    return (revenue - cost) / cost


def roi_text(ratio):
    """A ROI ratio as the report shows it: a percentage, or a dash when it
    is undefined (nothing spent)."""
    if ratio is None:
        return "—"
    return "%+.0f %%" % (100.0 * ratio)


def revenue_by(campaigns, groupby, domain=()):
    """{campaign id: {id or value of ``groupby``: {"count", "amount"}}} of
    the orders attributed to the campaigns (``groupby``: "channel_id" or
    "step"; no channel: False), restricted by ``domain``."""
    Sale = campaigns.env["messaging.campaign.sale"].sudo()
    result = {}
    for campaign, key, count, amount in Sale._read_group(
        [("campaign_id", "in", campaigns._origin.ids), *domain],
        ["campaign_id", groupby],
        ["__count", "amount:sum"],
    ):
        key = key.id if hasattr(key, "_name") else key
        result.setdefault(campaign.id, {})[key] = {"count": count, "amount": amount}
    return result


def revenue_channel_rows(env, revenue, lines):
    """One row per channel of the revenue table: orders, revenue, the
    channel's actual cost and ROI (``revenue``: see :func:`revenue_by` on
    "channel_id"; ``lines``: the campaign's :func:`channel_counts`). Orders
    carrying the campaign's UTM without a message of the customer come
    last, without a channel."""
    Channel = env["messaging.channel"].sudo()
    costs = {channel.id: line["cost"] for channel, line in lines.items()}
    rows = []
    for channel_id in sorted({key for key in revenue if key} | set(costs)):
        figures = revenue.get(channel_id, {})
        cost = costs.get(channel_id, 0.0)
        amount = figures.get("amount", 0.0)
        rows.append(
            {
                "name": Channel.browse(channel_id).display_name,
                "count": figures.get("count", 0),
                "amount": amount,
                "cost": cost,
                "roi_text": roi_text(roi(amount, cost)),
            }
        )
    if False in revenue:
        rows.append(
            {
                "name": env._("Shared link (UTM), no message"),
                "count": revenue[False]["count"],
                "amount": revenue[False]["amount"],
                "cost": 0.0,
                "roi_text": "",
            }
        )
    return rows


def revenue_step_rows(env, revenue):
    """One row per fallback step of the revenue table (0: the primary
    channel), see :func:`revenue_by` on "step"."""
    rows = []
    for step in sorted(revenue):
        figures = revenue[step]
        rows.append(
            {
                "name": env._("Primary channel")
                if not step
                else env._("Fallback %(step)s", step=step),
                "count": figures["count"],
                "amount": figures["amount"],
            }
        )
    return rows
