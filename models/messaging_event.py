import json
import logging
import time
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.sql import create_index

from ..engine import inbound, transaction
from ..engine.inbound import (
    RETRY_DELAYS,
    RETRY_SPACING,
    RETRYABLE_ERRORS,
    UNMATCHED_RETRY,
)
from ..providers import speedsms
from ..providers.payload import as_id, as_signed_int, as_text

_logger = logging.getLogger(__name__)


class MessagingEvent(models.Model):
    """Every inbound webhook call, stored raw before it is processed."""

    _name = "messaging.event"
    _description = "Messaging Inbound Event"
    _order = "id desc"
    _rec_name = "event_name"

    channel_id = fields.Many2one("messaging.channel", index=True, ondelete="cascade")
    company_id = fields.Many2one(related="channel_id.company_id", store=True)
    event_key = fields.Char(
        required=True,
        index=True,
        help="msg_id or a digest of the body: a replayed event is processed once.",
    )
    event_name = fields.Char()
    payload = fields.Text(help="Raw body as received.")
    headers = fields.Text()
    received_at = fields.Datetime(default=fields.Datetime.now, required=True)
    state = fields.Selection(
        [
            ("received", "Received"),
            ("done", "Processed"),
            ("ignored", "Ignored"),
            ("error", "Failed"),
        ],
        default="received",
        required=True,
        index=True,
        help="Received: waiting to be processed (or tried again: see Next try). "
        "Failed: its processing kept failing; the error says why, a Manager can "
        "retry it.",
    )
    error_message = fields.Text("Error")
    attempt_count = fields.Integer(
        "Failed attempts",
        readonly=True,
        help="Processing tries that raised an error. The event is tried again "
        "after 1, 5 and 15 minutes, then kept as Failed.",
    )
    next_try_at = fields.Datetime(
        "Next try", readonly=True, help="Not processed again before this time."
    )
    event_at = fields.Datetime("Event time", help="Time given by the provider.")
    signature_variant = fields.Char(
        readonly=True, help="Which Zalo signature variant matched."
    )
    sender_ref = fields.Char("External user", index=True, readonly=True)
    identity_id = fields.Many2one(
        "messaging.identity", index="btree_not_null", ondelete="set null"
    )
    partner_id = fields.Many2one(
        "res.partner", index="btree_not_null", ondelete="set null"
    )
    message_id = fields.Many2one(
        "messaging.message",
        "Matched message",
        index="btree_not_null",
        ondelete="set null",
    )
    text = fields.Text("User text", help="What the user wrote (user messages).")
    is_opt_out = fields.Boolean("Opt-out request", readonly=True)
    processed_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        (
            "event_key_unique",
            "UNIQUE(channel_id, event_key)",
            "This event was already received.",
        ),
    ]

    def init(self):
        # the cron's claim walks the events to process in id order: without
        # this index it reads past every processed event first (a campaign's
        # 200,000 receipts made each claim slower than the last)
        create_index(
            self.env.cr,
            "messaging_event_received_id_index",
            self._table,
            ["id"],
            where="state = 'received'",
        )

    # ------------------------------------------------------------------
    # Storage
    # ------------------------------------------------------------------

    @api.model
    def _store(self, channel, event_key, event_name, payload, headers=None, **extra):
        """Insert the raw call once; return the new event, or an empty
        recordset when (channel, event_key) was already received.

        The processing cron is triggered in the same statement (see
        :func:`~..engine.inbound.store_event`) and woken once the
        transaction is committed.
        """
        self.env.flush_all()
        cron = self.env.ref(inbound.CRON_XMLID, raise_if_not_found=False)
        event_id = inbound.store_event(
            self.env.cr,
            {
                "channel_id": channel.id,
                "company_id": channel.company_id.id,
                "event_key": event_key,
                "event_name": event_name,
                "payload": payload,
                "headers": headers,
                **extra,
            },
            cron_id=cron.id if cron else None,
            uid=self.env.uid,
        )
        if event_id and cron:
            registry = self.env.registry
            self.env.cr.postcommit.add(lambda: inbound.wake_cron(registry))
        return self.browse(event_id) if event_id else self.browse()

    # ------------------------------------------------------------------
    # Processing
    # ------------------------------------------------------------------

    def _process(self):
        """Process the events in their order: runs of delivery and seen
        receipts set-wise (:meth:`_apply_receipts`), the other events one
        by one (:meth:`_process_each`). The cron is triggered for the
        earliest next try of an event that failed."""
        next_try = None
        for events, receipts in self._split_receipt_runs():
            if receipts:
                events = events._apply_receipts(receipts)
            retry_at = events._process_each()
            if retry_at and (next_try is None or retry_at < next_try):
                next_try = retry_at
        if next_try:
            self._retrigger(at=next_try)
        return True

    def _split_receipt_runs(self):
        """The events in their order as runs of ``(events, receipts)``:
        ``receipts`` ({event id: receipt}) for a run applied set-wise, None
        for a run processed one by one (see messaging_event_receipts.py)."""
        return [(self, None)] if self else []

    def _process_each(self):
        """Process each event in a savepoint: a failing event does not undo
        the others; it is tried again later, a bounded number of times
        (:meth:`_record_failure`). Returns the earliest next try, or None."""
        next_try = None
        for event in self:
            try:
                with self.env.cr.savepoint():
                    event._process_and_record()
            except RETRYABLE_ERRORS:
                raise
            except Exception as exc:  # noqa: BLE001 - kept on the event
                retry_at = event._record_failure(exc)
                if retry_at and (next_try is None or retry_at < next_try):
                    next_try = retry_at
        return next_try

    def _process_and_record(self):
        state, note = self._process_one()
        now = fields.Datetime.now()
        if state == "received" and self.received_at < now - UNMATCHED_RETRY:
            state, note = "ignored", _("No matching message found.")
        values = {"state": state, "error_message": note or False, "processed_at": now}
        if self.next_try_at:
            values["next_try_at"] = False
        self.write(values)

    def _record_failure(self, exc):
        """Keep the error on the event: to be tried again after the next
        delay of RETRY_DELAYS, or failed for good (an error the payload
        explains, or no try left). Returns when it is tried again, or None."""
        self.ensure_one()
        permanent = isinstance(exc, UserError)
        _logger.warning(
            "Messaging event %s (%s) failed: %s",
            self.id,
            self.event_name,
            exc,
            exc_info=not permanent,
        )
        attempts = self.attempt_count + 1
        now = fields.Datetime.now()
        retry_at = None
        if not permanent and attempts <= len(RETRY_DELAYS):
            retry_at = now + RETRY_DELAYS[attempts - 1]
        text = (str(exc) or exc.__class__.__name__).replace("\x00", "")
        if not permanent:
            text = "%s: %s" % (exc.__class__.__name__, text)
        values = {
            "state": "received" if retry_at else "error",
            "attempt_count": attempts,
            "next_try_at": retry_at or False,
            "error_message": text,
            "processed_at": now,
        }
        try:
            with self.env.cr.savepoint():
                self.write(values)
        except RETRYABLE_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - the row must not stay as it was
            _logger.exception("Messaging event %s: could not keep its error", self.id)
            self.env.cr.execute(
                "UPDATE messaging_event SET state = 'error', attempt_count = %s,"
                " next_try_at = NULL, processed_at = %s,"
                " error_message = %s WHERE id = %s",
                [attempts, now, exc.__class__.__name__, self.id],
            )
            self.invalidate_recordset()
            retry_at = None
        return retry_at

    def _process_one(self):
        """(new state, note)."""
        self.ensure_one()
        try:
            data = json.loads(self.payload or "{}")
        except ValueError as exc:
            raise UserError(_("The stored payload is not JSON.")) from exc
        if not isinstance(data, dict):
            raise UserError(_("The stored payload is not a JSON object."))
        ctype = self.channel_id.channel_type
        if ctype == "zalo":
            handler = self._get_zalo_handler(self.event_name or "")
        elif ctype == "esms":
            handler = self._process_esms_report
        elif ctype == "speedsms":
            handler = self._process_speedsms_report
        else:
            handler = None
        if handler is None:
            return "ignored", _("Event not handled: stored only.")
        return handler(data)

    def _event_time(self):
        return self.event_at or self.received_at

    def action_retry(self):
        """Process again now (Manager): failed events, events waiting for
        their next try, ignored ones; their tries start again from zero."""
        self._check_messaging_group("multichannel_messaging.group_messaging_manager")
        self.check_access("read")
        events = self.sudo().filtered(
            lambda e: e.state in ("received", "error", "ignored")
        )
        events.write({"state": "received", "attempt_count": 0, "next_try_at": False})
        events[: inbound.BATCH_SIZE]._process()
        if events[inbound.BATCH_SIZE :]:
            self._retrigger()  # the cron takes the rest
        return True

    def action_process(self):
        """Process again (from the event form: after fixing the cause)."""
        return self.action_retry()

    @api.model
    def _cron_process_pending(self, time_limit=50, batch_size=None):
        """Process the stored events, oldest first, ``batch_size`` per
        transaction (the cron, triggered by every stored call, calls this).
        Without a ``batch_size``, the first batch takes BATCH_SIZE events
        and the next ones as many as should take BATCH_SECONDS (see
        :func:`~..engine.inbound.next_batch_size`): a campaign's
        receipts, applied set-wise, go in large batches, slower events in
        batches of BATCH_SIZE.

        Each event is processed in its own savepoint (see :meth:`_process`):
        a failing one is tried again after 1, 5 and 15 minutes (the cron is
        triggered for it), then kept as failed, and the others go on. Rows
        are claimed with ``FOR UPDATE SKIP LOCKED``, so a manual run or a
        second cron worker never processes an event twice. Receipts that
        arrived before the send result was stored stay 'received' and are
        tried again every 30 seconds, for an hour. Returns the number of
        events processed.
        """
        auto_commit = self.env["messaging.message"]._auto_commit()
        deadline = time.monotonic() + time_limit if time_limit else None
        started, done = time.monotonic(), 0
        size = batch_size or inbound.BATCH_SIZE
        while True:
            events = self._claim_pending(size)
            if not events:
                break
            batch_started = time.monotonic()
            try:
                events._process()
            except RETRYABLE_ERRORS:
                if not auto_commit:
                    raise
                # a concurrent transaction won: try again in a moment
                self.env.cr.rollback()  # pylint: disable=invalid-commit
                self._retrigger(seconds=2)
                break
            done += len(events)
            if auto_commit:
                transaction.commit(self.env, read_committed=False)
            if not batch_size:
                size = inbound.next_batch_size(
                    len(events), time.monotonic() - batch_started
                )
            if deadline is not None and time.monotonic() > deadline:
                self._retrigger()
                break
        if done:
            elapsed = time.monotonic() - started
            _logger.info(
                "Processed %d inbound events in %.2f s (%.0f events/s)",
                done,
                elapsed,
                done / elapsed if elapsed else 0.0,
            )
        return done

    @api.model
    def _claim_pending(self, limit):
        """Events to process now: never tried, left 'received' (no matching
        message yet) by a try older than 30 seconds, or failed before and
        due for their next try."""
        self.env.flush_all()
        now = fields.Datetime.now()
        self.env.cr.execute(
            """
            SELECT id FROM messaging_event
             WHERE state = 'received'
               AND (processed_at IS NULL OR processed_at < %s)
               AND (next_try_at IS NULL OR next_try_at <= %s)
             ORDER BY id
             LIMIT %s
               FOR UPDATE SKIP LOCKED
            """,
            [now - RETRY_SPACING, now, limit],
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def _retrigger(self, seconds=0, at=None):
        cron = self.env.ref(inbound.CRON_XMLID, raise_if_not_found=False)
        if seconds:
            at = fields.Datetime.now() + timedelta(seconds=seconds)
        if cron:
            cron.sudo()._trigger(at)

    # ------------------------------------------------------------------
    # SMS delivery reports
    # ------------------------------------------------------------------

    def _message_domain(self, provider_ids, tracking_ids):
        """The messages of this event's channel named by one of their
        provider message ids or tracking ids (None when it names none)."""
        domain = [("channel_id", "=", self.channel_id.id)]
        if provider_ids and tracking_ids:
            return domain + [
                "|",
                ("provider_message_id", "in", provider_ids),
                ("tracking_id", "in", tracking_ids),
            ]
        if provider_ids:
            return domain + [("provider_message_id", "in", provider_ids)]
        if tracking_ids:
            return domain + [("tracking_id", "in", tracking_ids)]
        return None

    def _find_sms_message(self, provider_id, tracking_id=None):
        provider_id = str(provider_id or "").strip()
        tracking_id = str(tracking_id or "").strip()
        domain = self._message_domain(
            [provider_id] if provider_id else [], [tracking_id] if tracking_id else []
        )
        if domain is None:
            return self.env["messaging.message"]
        return self.env["messaging.message"].sudo().search(domain, limit=1)

    def _apply_delivery(self, message, outcome, text=None, code=None):
        self.message_id = message
        self.partner_id = message.partner_id
        if outcome == "delivered":
            message._set_delivered(self._event_time())
        elif outcome == "failed" and message.state in ("sending", "sent", "unknown"):
            message._set_failed("unreachable", text, code=code)
        return "done", None

    def _process_esms_report(self, data):
        """eSMS GET callback: SMSID, SendStatus (1 pending approval, 2 waiting,
        4 rejected, 5 sent, 7 at the carrier), SendSuccess, SendFailed,
        RequestId (our tracking id)."""
        message = self._find_sms_message(
            as_id(data.get("SMSID")), as_id(data.get("RequestId"))
        )
        if not message:
            return "received", _("No matching message yet.")
        status = as_text(data.get("SendStatus"))[:16]
        success = as_signed_int(data.get("SendSuccess"))
        failed = as_signed_int(data.get("SendFailed"))
        if status == "4":
            return self._apply_delivery(
                message, "failed", _("eSMS rejected the message."), "esms_4"
            )
        if status == "5" and success > 0:
            return self._apply_delivery(message, "delivered")
        if status == "5" and failed > 0:
            return self._apply_delivery(
                message, "failed", _("The carrier did not deliver it."), "esms_5"
            )
        self.message_id = message
        return "done", _("Intermediate status %s.") % status

    def _process_speedsms_report(self, data):
        """SpeedSMS delivery report: {"type": "report", "tranId", "phone",
        "status"}; status 0 delivered, 1-63 temporary failure, >= 64 failed."""
        if data.get("type") != "report":
            return "ignored", _("Not a delivery report.")
        # "<tranId>:<phone>" for a recipient of a request to several
        domain = self._message_domain(speedsms.report_ids(data), [])
        message = self.env["messaging.message"]
        if domain is not None:
            message = message.sudo().search(domain, limit=1)
        if not message:
            return "received", _("No matching message yet.")
        status = as_signed_int(data.get("status"), default=-1)
        if status == 0:
            return self._apply_delivery(message, "delivered")
        if status >= 64:
            return self._apply_delivery(
                message,
                "failed",
                _("SpeedSMS delivery failed (status %s).") % status,
                "speedsms_%s" % status,
            )
        self.message_id = message
        return "done", _("Temporary status %s.") % status
