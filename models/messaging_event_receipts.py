"""Delivery and seen receipts applied set-wise.

A 100,000-message campaign brings back as many delivery receipts and as many
"seen" ones. One by one (:meth:`messaging.event._process_each`) each costs a
savepoint, a search and a few ORM writes. Here a run of consecutive receipts
of a batch is applied with a few statements: one reads the events, one
matches them to their messages (provider message id or tracking id, within
the event's channel), ``messaging.message._set_receipts_many`` reads and
writes the messages, one UPDATE closes the events. The outcome is the one the
per-event path gives, event after event: same states, timestamps, matched
message and partner, notes, retries of receipts that came before the send
result. Whatever has a rare side effect (an SMS report of a failure, which
hands over to the fallback; a payload that does not read as a receipt) stays
on the per-event path, in its place in the batch.
"""

import json
import logging
from collections import namedtuple

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..engine.inbound import RETRYABLE_ERRORS, UNMATCHED_RETRY
from ..providers import speedsms, zalo_events
from ..providers.payload import as_id, as_signed_int, as_text

_logger = logging.getLogger(__name__)

BULK_PARAM = "multichannel_messaging.receipts_in_bulk"

# What one receipt asks, read from its payload:
# - provider_ids / tracking_ids: the message ids it names, within channel_id;
# - single: only the newest matching message (SMS reports), else all of them;
# - seen: a "seen" receipt (read), else a delivery; at ``when``;
# - note: an intermediate status, kept on the event: the message is matched
#   (the event's "Matched message") and not changed.
# - received_at: when it was stored (unmatched, it is retried for an hour).
Receipt = namedtuple(
    "Receipt",
    "channel_id provider_ids tracking_ids single seen when note received_at",
    defaults=(None,),
)


class MessagingEvent(models.Model):
    _inherit = "messaging.event"

    # ------------------------------------------------------------------
    # Which events go set-wise
    # ------------------------------------------------------------------

    def _split_receipt_runs(self):
        receipts = self._read_receipts() if self._receipts_in_bulk() else {}
        runs = []
        for event in self:
            bulk = event.id in receipts
            if not runs or runs[-1][1] != bulk:
                runs.append(([], bulk))
            runs[-1][0].append(event.id)
        return [
            (
                self.browse(ids),
                {eid: receipts[eid] for eid in ids} if bulk else None,
            )
            for ids, bulk in runs
        ]

    @api.model
    def _receipts_in_bulk(self):
        """Whether receipts are applied set-wise: not when switched off (the
        context key ``messaging_receipts_one_by_one``, the system parameter
        ``multichannel_messaging.receipts_in_bulk`` = 0), nor while an
        automation rule watches messages (it sees the ORM's writes only)."""
        if self.env.context.get("messaging_receipts_one_by_one"):
            return False
        param = self.env["ir.config_parameter"].sudo().get_param(BULK_PARAM, "1")
        if param.strip().lower() in ("0", "false", "no", "off"):
            return False
        return not (
            self.env["base.automation"]
            .sudo()
            .search_count([("model_id.model", "=", "messaging.message")], limit=1)
        )

    def _read_receipts(self):
        """{event id: Receipt} of the events that read as receipts to apply
        set-wise, from one query."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT e.id, e.channel_id, c.channel_type, e.event_name,
                       e.payload, COALESCE(e.event_at, e.received_at),
                       e.received_at
                  FROM messaging_event e
                  JOIN messaging_channel c ON c.id = e.channel_id
                 WHERE e.id = ANY(%s)
                """,
                self.ids,
            )
        )
        receipts = {}
        for row in self.env.cr.fetchall():
            event_id, channel_id, ctype, name, payload, event_time, received_at = row
            try:
                data = json.loads(payload or "{}")
            except ValueError:
                continue  # the per-event path fails it with its reason
            if not isinstance(data, dict):
                continue
            receipt = self._parse_receipt(ctype, name or "", data, event_time)
            if receipt:
                receipts[event_id] = receipt._replace(
                    channel_id=channel_id, received_at=received_at
                )
        return receipts

    @api.model
    def _parse_receipt(self, ctype, name, data, event_time):
        """The Receipt a payload carries, or None for an event left to the
        per-event path. Reads the payload as :meth:`_process_zalo_receipt`,
        :meth:`_process_esms_report` and :meth:`_process_speedsms_report` do."""
        if ctype == "zalo" and name in zalo_events.RECEIPT_EVENTS:
            event = zalo_events.parse_event(data, name=name)
            msg_ids, tracking_ids = event.receipt_msg_ids, event.tracking_ids
            if not (msg_ids or tracking_ids):
                return None  # ignored, with its note
            when = event_time
            if not event.is_seen:
                when = event.delivery_time or event_time
            seen = event.is_seen
            return Receipt(
                None, list(msg_ids), list(tracking_ids), False, seen, when, None
            )
        if ctype == "esms":
            return self._parse_esms_report(data, event_time)
        if ctype == "speedsms":
            return self._parse_speedsms_report(data, event_time)
        return None

    @api.model
    def _parse_esms_report(self, data, event_time):
        provider_id = as_id(data.get("SMSID"))
        tracking_id = as_id(data.get("RequestId"))
        if not (provider_id or tracking_id):
            return None
        status = as_text(data.get("SendStatus"))[:16]
        success = as_signed_int(data.get("SendSuccess"))
        failed = as_signed_int(data.get("SendFailed"))
        if status == "4" or (status == "5" and success <= 0 and failed > 0):
            return None  # a failure: the fallback takes over, per event
        note = None
        if not (status == "5" and success > 0):
            note = _("Intermediate status %s.") % status
        return Receipt(
            None,
            [provider_id] if provider_id else [],
            [tracking_id] if tracking_id else [],
            True,
            False,
            event_time,
            note,
        )

    @api.model
    def _parse_speedsms_report(self, data, event_time):
        if data.get("type") != "report":
            return None
        provider_ids = speedsms.report_ids(data)
        if not provider_ids:
            return None
        status = as_signed_int(data.get("status"), default=-1)
        if status >= 64:
            return None  # a failure: the fallback takes over, per event
        note = None if status == 0 else _("Temporary status %s.") % status
        return Receipt(None, provider_ids, [], True, False, event_time, note)

    # ------------------------------------------------------------------
    # Applying a run
    # ------------------------------------------------------------------

    def _apply_receipts(self, receipts):
        """Apply a run of receipts set-wise, in a savepoint. Returns the
        events left to process one by one: none, or all of the run when the
        set-wise path failed (each then fails or succeeds on its own)."""
        try:
            with self.env.cr.savepoint():
                self._apply_receipts_set_wise(receipts)
        except RETRYABLE_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - the per-event path keeps the error
            _logger.warning(
                "Receipts %s applied set-wise failed: processed one by one",
                self.ids,
                exc_info=True,
            )
            return self
        return self.browse()

    def _apply_receipts_set_wise(self, receipts):
        matches = self._match_receipts(receipts)
        now = fields.Datetime.now()
        expired = now - UNMATCHED_RETRY
        to_apply, rows = [], []
        for event_id in self.ids:
            receipt = receipts[event_id]
            matched = matches.get(event_id)
            if not matched:
                # the send result may not be stored yet: the cron tries again
                if receipt.received_at < expired:
                    rows.append((event_id, "ignored", _("No matching message found.")))
                else:
                    rows.append((event_id, "received", _("No matching message yet.")))
                continue
            newest = max(matched)
            message_ids = [newest] if receipt.single else sorted(matched, reverse=True)
            if receipt.note is None:
                to_apply.append((message_ids, receipt.seen, receipt.when))
                partner = (True, matched[newest])
            else:
                partner = (False, None)
            rows.append((event_id, "done", receipt.note, newest) + partner)
        self.env["messaging.message"].sudo()._set_receipts_many(to_apply)
        self._write_receipt_results(rows, now)

    def _match_receipts(self, receipts):
        """{event id: {message id: partner id}}: the messages each receipt
        names by provider message id or tracking id, within its channel."""
        by_provider, by_tracking = ([], [], []), ([], [], [])
        for event_id, receipt in receipts.items():
            for refs, arrays in (
                (receipt.provider_ids, by_provider),
                (receipt.tracking_ids, by_tracking),
            ):
                for ref in refs:
                    arrays[0].append(event_id)
                    arrays[1].append(receipt.channel_id)
                    arrays[2].append(ref)
        self.env.cr.execute(
            SQL(
                """
                SELECT v.event_id, m.id, m.partner_id
                  FROM unnest(%s::int[], %s::int[], %s::varchar[])
                       AS v(event_id, channel_id, ref)
                  JOIN messaging_message m
                    ON m.provider_message_id = v.ref AND m.channel_id = v.channel_id
                 UNION
                SELECT v.event_id, m.id, m.partner_id
                  FROM unnest(%s::int[], %s::int[], %s::varchar[])
                       AS v(event_id, channel_id, ref)
                  JOIN messaging_message m
                    ON m.tracking_id = v.ref AND m.channel_id = v.channel_id
                """,
                *by_provider,
                *by_tracking,
            )
        )
        matches = {}
        for event_id, message_id, partner_id in self.env.cr.fetchall():
            matches.setdefault(event_id, {})[message_id] = partner_id
        return matches

    def _write_receipt_results(self, rows, now):
        """One UPDATE of the events: what :meth:`_process_and_record` and the
        receipt handlers write. ``rows``: (event id, state, note[, matched
        message id, whether the partner is set, partner id])."""
        rows = [row + (None, False, None)[len(row) - 3 :] for row in rows]
        columns = list(zip(*rows, strict=True))
        self.env.cr.execute(
            SQL(
                """
                UPDATE messaging_event e
                   SET state = v.state, error_message = v.note,
                       processed_at = %(now)s, next_try_at = NULL,
                       message_id = COALESCE(v.message_id, e.message_id),
                       partner_id = CASE WHEN v.set_partner THEN v.partner_id
                                    ELSE e.partner_id END,
                       write_date = %(now)s, write_uid = %(uid)s
                  FROM unnest(%(ids)s::int[], %(states)s::varchar[],
                              %(notes)s::text[], %(messages)s::int[],
                              %(set_partner)s::bool[], %(partners)s::int[])
                       AS v(id, state, note, message_id, set_partner, partner_id)
                 WHERE e.id = v.id
                """,
                now=now,
                uid=self.env.uid,
                ids=list(columns[0]),
                states=list(columns[1]),
                notes=list(columns[2]),
                messages=list(columns[3]),
                set_partner=list(columns[4]),
                partners=list(columns[5]),
            )
        )
        fnames = [
            "state",
            "error_message",
            "processed_at",
            "next_try_at",
            "message_id",
            "partner_id",
            "write_date",
            "write_uid",
        ]
        self.invalidate_recordset(fnames)
        self.modified(fnames)
