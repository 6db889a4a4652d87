"""Enqueue: recipients -> queued ``messaging.message`` rows.

Many at once (campaigns, :func:`bulk_enqueue`): set-wise INSERTs, addresses
resolved by the router (``routing``) in SQL for the plain cases and one by
one for the rest, content rendered later by the dispatcher. One at a time
(:func:`prepare_for_queue`, a message created through the ORM): address,
content and early refusals right away.
"""

import json
import uuid

from odoo import fields
from odoo.tools import SQL

from . import consent, coupons, links, rendering, routing

# what each recipient adds to the common values of a bulk enqueue, in this
# order: both INSERTs below write these columns
RECIPIENT_COLUMNS = (
    "partner_id",
    "res_model",
    "res_id",
    "route",
    "recipient",
    "state",
    "failure_type",
    "error_message",
    "failed_at",
    "tracking_id",
)
# rows per INSERT ... VALUES statement of the one-by-one path
PYTHON_CHUNK = 5000


def bulk_enqueue(env, channel, template, recipients, **common):
    """Queue many messages fast (campaigns): set-wise INSERTs.

    ``recipients`` is a list of (partner, res_model, res_id[, chain]).
    Addresses are resolved and early refusals recorded now: the plain
    cases in SQL (:func:`insert_resolved_sql`), the rest one by one with
    ``routing.resolve_recipient``. Content is rendered by the dispatcher, one
    template pass per claimed batch. Returns the ids.
    """
    now = fields.Datetime.now()
    category = common.get("category") or template.category or "transactional"
    chain = common.get("fallback_chain") or []
    base = {
        "channel_id": channel.id,
        "channel_type": channel.channel_type,
        "company_id": (common.get("company_id") or channel.company_id.id),
        "template_id": template.id,
        "campaign_id": common.get("campaign_id"),
        "user_id": common.get("user_id") or env.uid,
        "category": category,
        "scheduled_at": common.get("scheduled_at") or now,
        "fallback_chain": json.dumps(chain) if chain else None,
        "attempt_count": 0,
        "create_uid": env.uid,
        "write_uid": env.uid,
        "create_date": now,
        "write_date": now,
    }
    env.flush_all()
    ids, done = insert_resolved_sql(env, channel, template, recipients, base)
    rest = [r for r in recipients if not r[0] or r[0].id not in done]
    refused = []
    if rest:
        more, refused = insert_resolved_python(env, channel, template, rest, base)
        ids += more
    Message = env["messaging.message"]
    Message.invalidate_model()
    # the recipients' coupons first: their fallbacks share them
    coupons.issue_for_campaign(Message.campaign_id.browse(base["campaign_id"]), ids)
    Message.browse(refused)._create_fallback()
    return ids


def get_recipient_chain(recipient, base):
    """The fallback chain of ``recipient`` as JSON: its own (automatic
    routing gives each recipient one), else the common one."""
    if len(recipient) > 3:
        return json.dumps(recipient[3]) if recipient[3] else None
    return base["fallback_chain"]


def _columns(base):
    return SQL(", ").join(
        SQL.identifier(column) for column in (*base, *RECIPIENT_COLUMNS)
    )


def insert_resolved_sql(env, channel, template, recipients, base):
    """Queue the recipients ``routing.resolve_recipients_sql`` answers for,
    in one INSERT ... SELECT. Returns (ids, the partner ids queued)."""
    route = routing.get_sql_route(channel, template)
    recipients = [r for r in recipients if r[0]]
    if not route or not recipients:
        return [], set()
    address, free = routing.get_sql_address(route, base["category"])
    common = {key: SQL("%s", value) for key, value in base.items()}
    common["fallback_chain"] = SQL("r.chain")
    own = {
        "partner_id": SQL("p.id"),
        "res_model": SQL("r.res_model"),
        "res_id": SQL("r.res_id"),
        "route": SQL("%s", route),
        "recipient": SQL("a.address"),
        "state": SQL("'queued'"),
        "failure_type": SQL("NULL"),
        "error_message": SQL("NULL"),
        "failed_at": SQL("NULL"),
        "tracking_id": SQL("replace(gen_random_uuid()::text, '-', '')"),
    }
    values = [*common.values(), *(own[column] for column in RECIPIENT_COLUMNS)]
    env.cr.execute(
        SQL(
            """
            INSERT INTO messaging_message (%(columns)s)
            SELECT %(values)s
              FROM unnest(%(partners)s::int[], %(models)s::varchar[],
                          %(res_ids)s::int[], %(chains)s::jsonb[])
                       WITH ORDINALITY AS r(partner_id, res_model, res_id,
                                            chain, position)
              JOIN res_partner p ON p.id = r.partner_id
             CROSS JOIN LATERAL (SELECT %(address)s AS address,
                                        %(free)s AS free) a
             WHERE a.address IS NOT NULL AND a.free
             ORDER BY r.position
            RETURNING id, partner_id
            """,
            columns=_columns(base),
            values=SQL(", ").join(values),
            partners=[r[0].id for r in recipients],
            models=[r[1] for r in recipients],
            res_ids=[r[2] for r in recipients],
            chains=[get_recipient_chain(r, base) for r in recipients],
            address=address,
            free=free,
        )
    )
    rows = env.cr.fetchall()
    return [row[0] for row in rows], {row[1] for row in rows}


def _python_row(channel, template, recipient, base):
    """The VALUES row of one recipient resolved by ``routing``: the common
    values, then :data:`RECIPIENT_COLUMNS`."""
    partner = recipient[0]
    route, address, failure, text = routing.resolve_recipient(
        channel, template, partner, base["category"]
    )
    values = dict(base, fallback_chain=get_recipient_chain(recipient, base))
    return (
        *values.values(),
        partner.id,
        recipient[1],
        recipient[2],
        route or None,
        address or None,
        "skipped" if failure else "queued",
        failure,
        text,
        base["create_date"] if failure else None,
        uuid.uuid4().hex,
    )


def insert_resolved_python(env, channel, template, recipients, base):
    """Queue ``recipients`` resolved one by one: refusals are recorded with
    their reason. Returns the ids, and those of the refusals that fall back
    as the queue does (their fallbacks are for the caller to create)."""
    Message = env["messaging.message"]
    # computed values (display name, blacklist) for these contacts only
    prefetch = tuple(r[0].id for r in recipients if r[0])
    rows = [
        _python_row(channel, template, (r[0].with_prefetch(prefetch), *r[1:]), base)
        for r in recipients
    ]
    env.flush_all()
    columns = ", ".join(f'"{column}"' for column in (*base, *RECIPIENT_COLUMNS))
    query = (
        f"INSERT INTO messaging_message ({columns}) VALUES %s"
        " RETURNING id, state, failure_type"
    )
    ids, refused = [], []
    fallback_types = Message._get_fallback_failure_types()
    for start in range(0, len(rows), PYTHON_CHUNK):
        chunk = rows[start : start + PYTHON_CHUNK]
        # Odoo's Cursor.execute_values: psycopg2's, run on Odoo's cursor
        for row in env.cr.execute_values(query, chunk, fetch=True):
            ids.append(row[0])
            if row[1] == "skipped" and row[2] in fallback_types:
                refused.append(row[0])
    Message.invalidate_model()
    return ids, refused


# ----------------------------------------------------------------------
# One message created through the ORM
# ----------------------------------------------------------------------


def prepare_for_queue(messages):
    """Resolve address and content; refuse early what cannot be sent."""
    for message in messages:
        prepare_one(message)


def prepare_one(message):
    message.ensure_one()
    if message.recipient and message.route:
        # prepared by the queue's own code (a user's presets are refused
        # at create): consent is checked all the same
        route, address = message.route, message.recipient
        failure, text = None, None
        refusal = message.category == "marketing" and consent.get_consent_refusal(
            message.channel_id, message.partner_id, route, address
        )
        if refusal:
            failure, text = "opt_out", refusal
    else:
        route, address, failure, text = routing.resolve_recipient(
            message.channel_id,
            message.template_id,
            message.partner_id,
            message.category,
        )
    if failure:
        message._set_failed(failure, text, state="skipped")
        return
    vals = {"route": route, "recipient": address}
    if message.template_id and not message.body and not message.template_data:
        content = rendering.render_message(message)
        if message.state != "queued":
            return  # refused while rendering (a survey that cannot be answered)
        shortener = links.LinkShortener(message.env)
        vals.update(links.track_values(message, content, shortener, route, address))
    message.sudo().write(vals)
    if message.channel_type == "zalo" and route in rendering.ZBS_ROUTES:
        errors = message.template_id._check_params(message.template_data or {})
        if errors:
            message._set_failed("invalid_params", "\n".join(errors))
