"""Receipts of the outbound queue: delivered and read.

One rule per receipt (:func:`delivered_changes`, :func:`read_changes`):
states only move forward, a read implies delivered, and a receipt settles
an unknown outcome (the message did reach its recipient). Both paths apply
the same rules: the ORM one (a message or a few, ``_set_delivered`` and
``_set_read`` of ``messaging.message``) and the bulk one (thousands of
receipts from the provider's webhooks, :func:`set_receipts_many`, one
statement to read the rows and one to write those that change). Also the
sandbox's own receipts, made up by the queue after a delay.
"""

from odoo import fields
from odoo.tools import SQL

from ..providers.sandbox import sandbox_final_state

# what a delivery or seen receipt may change on a message
RECEIPT_COLUMNS = (
    "state",
    "sent_at",
    "delivered_at",
    "read_at",
    "failure_type",
    "error_message",
    "outcome_wait_until",
)


def delivered_changes(row, when):
    """What a delivery receipt at ``when`` changes on a message whose
    receipt columns are ``row`` (a mapping): the new values, empty when
    nothing changes."""
    state = row["state"]
    if state not in ("sent", "sending", "unknown"):
        return {}
    changes = {"state": "delivered", "delivered_at": when}
    if state == "unknown":
        # a receipt settles an unknown outcome: it did reach the recipient
        changes.update(
            sent_at=when, failure_type=None, error_message=None, outcome_wait_until=None
        )
    return changes


def read_changes(row, when):
    """What a seen receipt at ``when`` changes (see delivered_changes)."""
    if row["state"] not in ("sent", "delivered", "unknown"):
        return {}
    return {
        "state": "read",
        "read_at": when,
        "delivered_at": row["delivered_at"] or when,
    }


def fold_delivered(row, when):
    """A delivery receipt on one message's receipt columns (a dict, changed
    in place): True when it changed."""
    changes = delivered_changes(row, when)
    row.update(changes)
    return bool(changes)


def fold_read(row, when):
    """A seen receipt on one message's receipt columns: True when it
    changed."""
    changes = read_changes(row, when)
    row.update(changes)
    return bool(changes)


def set_delivered(messages, when=None):
    """A delivery receipt for ``messages`` (``_set_delivered``)."""
    _write_changes(messages, delivered_changes, when or fields.Datetime.now())


def set_read(messages, when=None):
    """A seen receipt for ``messages`` (``_set_read``)."""
    _write_changes(messages, read_changes, when or fields.Datetime.now())


def _write_changes(messages, rule, when):
    """Apply ``rule`` to each of ``messages`` with the ORM: one write per
    set of identical changes."""
    groups = {}
    for message in messages:
        changes = rule({fname: message[fname] for fname in RECEIPT_COLUMNS}, when)
        if changes:
            groups.setdefault(tuple(sorted(changes.items())), []).append(message.id)
    for changes, ids in groups.items():
        messages.browse(ids).write(dict(changes))


def set_receipts_many(env, receipts):
    """Delivery and seen receipts for many messages in one UPDATE.

    ``receipts`` lists ``(message_ids, seen, when)`` in the order the
    receipts are applied: the final rows are those the calls
    ``set_read(browse(message_ids), when)`` (``seen``) or
    ``set_delivered(...)`` one after the other would leave, with one
    statement to read the rows and one to write those that change.
    """
    ids = sorted({mid for message_ids, _seen, _when in receipts for mid in message_ids})
    if not ids:
        return
    env.flush_all()
    env.cr.execute(
        SQL(
            "SELECT id, %s FROM messaging_message WHERE id = ANY(%s)",
            SQL(", ").join(map(SQL.identifier, RECEIPT_COLUMNS)),
            ids,
        )
    )
    rows = {
        row[0]: dict(zip(RECEIPT_COLUMNS, row[1:], strict=True))
        for row in env.cr.fetchall()
    }
    changed = set()
    for message_ids, seen, when in receipts:
        apply = fold_read if seen else fold_delivered
        for mid in message_ids:
            if mid in rows and apply(rows[mid], when):
                changed.add(mid)
    if changed:
        write_receipt_rows(env, {mid: rows[mid] for mid in changed})


def write_receipt_rows(env, rows):
    """One UPDATE of the receipt columns of ``rows`` ({id: values})."""
    ids = list(rows)
    columns = [SQL("%s::int[]", ids)]
    for fname in RECEIPT_COLUMNS:
        cast = "timestamp" if fname.endswith(("_at", "_until")) else "varchar"
        if fname == "error_message":
            cast = "text"
        columns.append(SQL("%s::%s[]", [rows[mid][fname] for mid in ids], SQL(cast)))
    now = fields.Datetime.now()
    env.cr.execute(
        SQL(
            """
            UPDATE messaging_message m
               SET %(assign)s, write_date = %(now)s, write_uid = %(uid)s
              FROM unnest(%(columns)s) AS v(id, %(names)s)
             WHERE m.id = v.id
            """,
            assign=SQL(", ").join(
                SQL("%s = v.%s", SQL.identifier(f), SQL.identifier(f))
                for f in RECEIPT_COLUMNS
            ),
            now=now,
            uid=env.uid,
            columns=SQL(", ").join(columns),
            names=SQL(", ").join(map(SQL.identifier, RECEIPT_COLUMNS)),
        )
    )
    messages = env["messaging.message"].browse(ids)
    fnames = list(RECEIPT_COLUMNS) + ["write_date", "write_uid"]
    messages.invalidate_recordset(fnames)
    # computed fields that depend on these (campaign counters) follow
    messages.modified(fnames)


def process_receipts(env):
    """Sandbox receipts: delivered, then read for a configurable share."""
    due = env["messaging.message"].search(
        [
            ("channel_type", "=", "sandbox"),
            ("state", "=", "sent"),
            ("receipt_due_at", "<=", fields.Datetime.now()),
        ]
    )
    for message in due:
        final = sandbox_final_state(
            message.tracking_id, message.channel_id.sandbox_read_ratio
        )
        message._set_delivered()
        if final == "read":
            message._set_read()
        message.receipt_due_at = False
