import hashlib
import json
import logging
import threading
import time
from datetime import datetime, timedelta

from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, plaintext2html
from odoo.tools.sql import create_index

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

from ..sql_pool import pool

_logger = logging.getLogger(__name__)

# Errors that Odoo's request/cron loop retries as a whole: never turn them
# into an "error" event, let them propagate.
RETRYABLE_ERRORS = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)
UNMATCHED_RETRY = timedelta(hours=1)  # receipts that arrive before the send result
RETRY_SPACING = timedelta(seconds=30)  # between two tries of an unmatched receipt
BATCH_SIZE = 100  # events per transaction in the processing cron (its first)
# the cron's later batches are sized to last about this long (receipts
# applied set-wise take ~0.5 ms each, other events several ms), within
# [BATCH_SIZE, MAX_BATCH_SIZE] events
BATCH_SECONDS = 0.5
MAX_BATCH_SIZE = 1000
# an event whose processing raised is tried again after these delays, then
# kept as failed (an error the payload explains, a UserError, fails at once)
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))
MAX_ID_LENGTH = 64  # longer "ids" in a payload are not ids
MAX_NAME_LENGTH = 128  # of a name sent by a user (user_submit_info)
CRON_XMLID = "multichannel_messaging.ir_cron_messaging_process_events"
WAKE_INTERVAL = 0.05  # seconds: at most 20 cron wake-ups per second per process
TEMPLATE_STATUSES = ("PENDING_REVIEW", "ENABLE", "REJECT", "DISABLE", "DELETE")
ATTACHMENT_LABELS = {
    "user_send_image": "[image]",
    "user_send_gif": "[gif]",
    "user_send_sticker": "[sticker]",
    "user_send_audio": "[audio]",
    "user_send_video": "[video]",
    "user_send_file": "[file]",
    "user_send_link": "[link]",
    "user_send_location": "[location]",
    "user_send_business_card": "[business card]",
}


# ----------------------------------------------------------------------
# Reading a provider's payload whatever its fields hold: a value of an
# unexpected type reads as missing (never an exception).
# ----------------------------------------------------------------------


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def as_text(value):
    """A string or a number as stripped text; anything else as ''."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    try:
        return str(value).strip()
    except ValueError:  # an int too long to print
        return ""


def as_id(value, max_length=MAX_ID_LENGTH):
    """A provider id (Zalo ids are digits, sometimes over 2^53: kept as
    text), or '' when the value cannot be one."""
    text = as_text(value)
    return text if len(text) <= max_length else ""


def as_id_list(value):
    """Ids from a list of ids, or from a single id."""
    values = value if isinstance(value, list) else [value]
    return [text for text in map(as_id, values) if text]


def as_int(value, default=None, low=0, high=2**31 - 1):
    """An integer from a number or digits (not a bool, not a float with a
    fraction), within [low, high], else ``default``."""
    text = as_text(value)
    if text.endswith(".0"):
        text = text[:-2]
    sign = text[:1] == "-"
    digits = text[1:] if sign else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return default
    number = -int(digits) if sign else int(digits)
    return number if low <= number <= high else default


def epoch_seconds(value):
    """Seconds since the epoch of a Zalo timestamp (epoch milliseconds, as a
    string or a number; seconds also accepted), or None."""
    number = as_int(value, high=10**16)
    if not number:
        return None
    return number / 1000.0 if number > 10**11 else float(number)


def zalo_time(value):
    """Zalo timestamps are milliseconds as strings -> naive UTC datetime."""
    epoch = epoch_seconds(value)
    if epoch is None:
        return None
    try:
        return datetime.utcfromtimestamp(int(epoch))
    except (OverflowError, OSError, ValueError):
        return None


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
        :func:`store_event`) and woken once the transaction is committed.
        """
        self.env.flush_all()
        cron = self.env.ref(CRON_XMLID, raise_if_not_found=False)
        event_id = store_event(
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
            self.env.cr.postcommit.add(lambda: wake_cron(registry))
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

    def action_retry(self):
        """Process again now (Manager): failed events, events waiting for
        their next try, ignored ones; their tries start again from zero."""
        self._check_messaging_group("multichannel_messaging.group_messaging_manager")
        self.check_access("read")
        events = self.sudo().filtered(
            lambda e: e.state in ("received", "error", "ignored")
        )
        events.write({"state": "received", "attempt_count": 0, "next_try_at": False})
        events[:BATCH_SIZE]._process()
        if events[BATCH_SIZE:]:
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
        :func:`next_batch_size`): a campaign's receipts, applied set-wise,
        go in large batches, slower events in batches of BATCH_SIZE.

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
        size = batch_size or BATCH_SIZE
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
                self.env.cr.commit()  # pylint: disable=invalid-commit
            if not batch_size:
                size = next_batch_size(len(events), time.monotonic() - batch_started)
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
        cron = self.env.ref(CRON_XMLID, raise_if_not_found=False)
        if seconds:
            at = fields.Datetime.now() + timedelta(seconds=seconds)
        if cron:
            cron.sudo()._trigger(at)

    # ------------------------------------------------------------------
    # Zalo
    # ------------------------------------------------------------------

    def _get_zalo_handler(self, event_name):
        handlers = {
            "follow": self._process_zalo_follow,
            "unfollow": self._process_zalo_follow,
            "user_submit_info": self._process_zalo_submit_info,
            "user_received_message": self._process_zalo_receipt,
            "user_seen_message": self._process_zalo_receipt,
            "change_template_status": self._process_zalo_template_status,
            "change_oa_daily_quota": self._process_zalo_quota,
        }
        if event_name.startswith("user_send_") and "group" not in event_name:
            return self._process_zalo_user_message
        return handlers.get(event_name)

    def _event_time(self):
        return self.event_at or self.received_at

    def _get_identity(self, external_id, create=True):
        """The identity of this Zalo user id on the channel (created when
        missing). Concurrent creation is safe: ON CONFLICT DO NOTHING, and in
        a REPEATABLE READ transaction a row committed by a concurrent request
        raises a serialization failure that Odoo retries."""
        Identity = self.env["messaging.identity"].sudo()
        external_id = str(external_id or "").strip()
        if not external_id:
            raise UserError(_("The event names no Zalo user id."))
        identity = Identity.search(
            [
                ("channel_id", "=", self.channel_id.id),
                ("external_id", "=", external_id),
            ],
            limit=1,
        )
        if identity or not create:
            return identity
        if not (external_id.isascii() and external_id.isdigit()):
            raise UserError(
                _("A Zalo user id is made of digits, got %s.") % external_id
            )
        self.env.flush_all()
        now = fields.Datetime.now()
        self.env.cr.execute(
            """
            INSERT INTO messaging_identity
                   (channel_id, company_id, external_id, is_follower,
                    create_uid, write_uid, create_date, write_date)
            VALUES (%s, %s, %s, false, %s, %s, %s, %s)
            ON CONFLICT (channel_id, external_id) DO NOTHING
            RETURNING id
            """,
            [
                self.channel_id.id,
                self.channel_id.company_id.id,
                external_id,
                self.env.uid,
                self.env.uid,
                now,
                now,
            ],
        )
        row = self.env.cr.fetchone()
        if row:
            return Identity.browse(row[0])
        return Identity.search(
            [
                ("channel_id", "=", self.channel_id.id),
                ("external_id", "=", external_id),
            ],
            limit=1,
        )

    def _link(self, identity):
        self.write(
            {
                "identity_id": identity.id,
                "partner_id": identity.partner_id.id,
                "sender_ref": identity.external_id,
            }
        )

    def _process_zalo_follow(self, data):
        follower = as_id(
            as_dict(data.get("follower")).get("id")
            or as_dict(data.get("sender")).get("id")
        )
        when = self._event_time()
        if self.event_name == "follow":
            identity = self._get_identity(follower)
            identity.write({"is_follower": True, "followed_at": when})
        else:
            identity = self._get_identity(follower, create=False)
            if not identity:
                return "ignored", _("Unfollow from an unknown user.")
            identity.write({"is_follower": False})
        self._link(identity)
        return "done", None

    def _process_zalo_user_message(self, data):
        identity = self._get_identity(zalo_sender_id(data))
        when = self._event_time()
        if not identity.last_interaction_at or identity.last_interaction_at < when:
            # opens (or extends) the consultation window
            identity.last_interaction_at = when
        text = self._zalo_message_text(data)
        self._link(identity)
        self.text = text
        partner = identity.partner_id
        if partner:
            partner.sudo().message_post(
                body=plaintext2html(
                    _("%(channel)s: %(text)s")
                    % {"channel": self.channel_id.name, "text": text}
                ),
                author_id=partner.id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        opt_out = self.event_name == "user_send_text" and (
            self.channel_id._is_opt_out_text(text)
        )
        if opt_out:
            self._apply_opt_out(identity)
        self.env["discuss.channel"].sudo()._messaging_on_inbound(
            self, identity, data, text, route=not opt_out
        )
        return "done", None

    def _zalo_message_text(self, data):
        message = as_dict(data.get("message"))
        text = as_text(message.get("text"))
        label = ATTACHMENT_LABELS.get(self.event_name)
        if label:
            urls = [
                as_text(as_dict(as_dict(a).get("payload")).get("url"))
                for a in as_list(message.get("attachments"))
            ]
            text = " ".join(filter(None, [label, text] + urls))
        return text

    def _apply_opt_out(self, identity):
        """Opt the user out of marketing (Odoo's phone blacklist, or this OA
        for a Zalo user without a known number); confirm once."""
        channel = self.channel_id
        self.is_opt_out = True
        already = identity._apply_opt_out(
            _("Opt-out keyword received on %s.") % channel.display_name
        )
        text = channel._text_for_customer("opt_out_confirmation", identity.partner_id)
        if already or not text:
            return
        self._queue_reply(identity, text)

    def _queue_reply(self, identity, text):
        """A consultation message to this user (no template: free text)."""
        return self.env["messaging.message"]._queue_consultation(identity, text)

    def _process_zalo_submit_info(self, data):
        identity = self._get_identity(zalo_sender_id(data))
        info = as_dict(data.get("info"))
        name = as_text(info.get("name"))[:MAX_NAME_LENGTH]
        Partner = self.env["res.partner"].sudo()
        phone = Partner._messaging_normalize_phone(as_id(info.get("phone")))
        if not phone:
            raise UserError(_("user_submit_info without a phone number."))
        partner = identity.partner_id or self._find_partner_by_phone(phone)
        if not partner:
            partner = Partner.create(
                {
                    "name": name or _("Zalo user %s") % identity.external_id,
                    "mobile": "+" + phone,
                    "country_id": self.env.ref("base.vn").id,
                }
            )
        if identity.partner_id != partner:
            identity.partner_id = partner
        if name and not identity.display_name_ext:
            identity.display_name_ext = name
        self._link(identity)
        # an opt-out asked before the number was known goes to the blacklist
        identity._move_opt_out_to_blacklist()
        return "done", None

    @api.model
    def _find_partner_by_phone(self, phone):
        """The contact whose number is this one (84...): Odoo's indexed
        ``phone_sanitized`` (E.164), then our own reading of its number."""
        Partner = self.env["res.partner"].sudo()
        candidates = Partner.search(
            [("phone_sanitized", "=", "+" + phone.lstrip("+"))], order="id", limit=50
        )
        for partner in candidates:
            if partner._messaging_phone_or_none() == phone:
                return partner
        return candidates[:1]

    def _process_zalo_receipt(self, data):
        message = as_dict(data.get("message"))
        msg_ids = as_id_list(message.get("msg_ids")) + as_id_list(message.get("msg_id"))
        tracking_ids = as_id_list(message.get("tracking_id"))
        domain = [("channel_id", "=", self.channel_id.id)]
        if msg_ids and tracking_ids:
            domain += [
                "|",
                ("provider_message_id", "in", msg_ids),
                ("tracking_id", "in", tracking_ids),
            ]
        elif msg_ids:
            domain += [("provider_message_id", "in", msg_ids)]
        elif tracking_ids:
            domain += [("tracking_id", "in", tracking_ids)]
        else:
            return "ignored", _("Receipt without msg_id or tracking_id.")
        messages = self.env["messaging.message"].sudo().search(domain)
        if not messages:
            # the send result may not be stored yet: the cron tries again
            return "received", _("No matching message yet.")
        self.message_id = messages[:1]
        self.partner_id = messages[:1].partner_id
        if self.event_name == "user_received_message":
            when = zalo_time(message.get("delivery_time")) or self._event_time()
            messages._set_delivered(when)
        else:
            messages._set_read(self._event_time())
        return "done", None

    def _process_zalo_template_status(self, data):
        template_ref = as_id(data.get("template_id"))
        if not template_ref:
            return "ignored", _("No template id.")
        status = data.get("status")
        new_status = as_text(
            status.get("new_status") if isinstance(status, dict) else status
        )
        templates = (
            self.env["messaging.template"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [("channel_type", "=", "zalo"), ("zalo_template_id", "=", template_ref)]
            )
        )
        if not templates:
            return "ignored", _("Unknown template %s.") % template_ref
        if new_status in TEMPLATE_STATUSES:
            templates.write({"zalo_status": new_status})
        if new_status in ("REJECT", "DISABLE"):
            for template in templates:
                self._schedule_template_activity(template, new_status, data)
        return "done", None

    def _schedule_template_activity(self, template, new_status, data):
        owner = template.create_uid
        if not owner or owner._is_public() or not owner.active:
            owner = self.env.ref("base.user_admin")
        reason = as_text(data.get("reason"))
        summary = (
            _("Zalo rejected template %s") % template.name
            if new_status == "REJECT"
            else _("Zalo disabled template %s") % template.name
        )
        template.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=plaintext2html(reason),
            user_id=owner.id,
        )

    def _process_zalo_quota(self, data):
        quota = data.get("quota")
        value = quota.get("new_value") if isinstance(quota, dict) else quota
        daily = as_int(value)
        if daily is None:
            return "ignored", _("No new quota value.")
        self.channel_id.sudo().write(
            {"quota_daily": daily, "quota_updated_at": fields.Datetime.now()}
        )
        return "done", None

    # ------------------------------------------------------------------
    # SMS delivery reports
    # ------------------------------------------------------------------

    def _find_sms_message(self, provider_id, tracking_id=None):
        domain = [("channel_id", "=", self.channel_id.id)]
        provider_id = str(provider_id or "").strip()
        tracking_id = str(tracking_id or "").strip()
        if provider_id and tracking_id:
            domain += [
                "|",
                ("provider_message_id", "=", provider_id),
                ("tracking_id", "=", tracking_id),
            ]
        elif provider_id:
            domain += [("provider_message_id", "=", provider_id)]
        elif tracking_id:
            domain += [("tracking_id", "=", tracking_id)]
        else:
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
        success = _int(data.get("SendSuccess"))
        failed = _int(data.get("SendFailed"))
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
        message = self._find_sms_message(as_id(data.get("tranId")))
        if not message:
            return "received", _("No matching message yet.")
        status = _int(data.get("status"), default=-1)
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


def next_batch_size(count, seconds):
    """Events for the next batch, after ``count`` took ``seconds``: as many
    as should take BATCH_SECONDS, within [BATCH_SIZE, MAX_BATCH_SIZE]."""
    if seconds <= 0:
        return MAX_BATCH_SIZE
    return max(BATCH_SIZE, min(MAX_BATCH_SIZE, int(count * BATCH_SECONDS / seconds)))


def _int(value, default=0):
    number = as_int(value, low=-(2**31), high=2**31 - 1)
    return default if number is None else number


def zalo_sender_id(data):
    return as_id(as_dict(data.get("sender")).get("id"))


def store_event(cr, values, cron_id=None, uid=SUPERUSER_ID):
    """Insert one inbound call as a 'received' event, unless its
    (channel, event key) is already stored: return the new id, or None.

    Plain SQL on a cursor (the webhook's fast path has no ORM environment).
    ``INSERT ... ON CONFLICT DO NOTHING``: a replay or a provider retry
    changes nothing, and two identical calls at the same moment are
    serialised by the unique index (the second waits, then finds the first).
    A new event also inserts a trigger for the processing cron (``cron_id``)
    in the same statement, so the trigger commits with the event or not at
    all; its ``call_at`` is the insert's clock time, later than the start of
    any cron run that could have missed the event.
    """
    now = datetime.utcnow().replace(microsecond=0)
    row = {
        "channel_id": values["channel_id"],
        "company_id": values.get("company_id"),
        "event_key": values["event_key"][:255],
        "event_name": (values.get("event_name") or "")[:128] or None,
        "payload": values.get("payload"),
        "headers": json.dumps(values.get("headers") or {}, ensure_ascii=False),
        "received_at": now,
        "state": "received",
        "event_at": values.get("event_at"),
        "signature_variant": values.get("signature_variant"),
        "sender_ref": values.get("sender_ref"),
        "create_uid": uid,
        "write_uid": uid,
        "create_date": now,
        "write_date": now,
    }
    insert = (
        "INSERT INTO messaging_event (%s) VALUES (%s)"
        " ON CONFLICT (channel_id, event_key) DO NOTHING RETURNING id"
    ) % (", ".join(row), ", ".join(["%s"] * len(row)))
    params = list(row.values())
    if cron_id:
        query = (
            "WITH event AS (%s), trigger AS ("
            " INSERT INTO ir_cron_trigger"
            " (cron_id, call_at, create_uid, write_uid, create_date, write_date)"
            " SELECT %%s, clock_timestamp() AT TIME ZONE 'UTC', %%s, %%s, %%s, %%s"
            " FROM event) SELECT id FROM event"
        ) % insert
        params += [cron_id, uid, uid, now, now]
    else:
        query = insert
    cr.execute(query, params)
    result = cr.fetchone()
    return result[0] if result else None


_WAKE_LOCK = threading.Lock()
_WAKE_LAST = {}  # database -> time.monotonic() of the last notification
_WAKE_TIMERS = {}  # database -> pending threading.Timer


def wake_cron(registry):
    """Wake the cron workers after a committed trigger (Odoo's own
    ``ir.cron._notifydb``), at most once per ``WAKE_INTERVAL`` per process:
    a call inside the interval schedules one notification at its end, so
    every committed trigger is followed by a notification."""
    if registry.in_test_mode() or getattr(threading.current_thread(), "testing", False):
        return
    dbname = registry.db_name
    now = time.monotonic()
    with _WAKE_LOCK:
        if dbname in _WAKE_TIMERS:
            return  # a notification is due after this commit anyway
        wait = _WAKE_LAST.get(dbname, 0.0) + WAKE_INTERVAL - now
        if wait > 0:
            timer = threading.Timer(wait, _wake_later, [dbname])
            timer.daemon = True
            _WAKE_TIMERS[dbname] = timer
            timer.start()
            return
        _WAKE_LAST[dbname] = now
    _notify_cron_workers(dbname)


def _wake_later(dbname):
    with _WAKE_LOCK:
        _WAKE_TIMERS.pop(dbname, None)
        _WAKE_LAST[dbname] = time.monotonic()
    _notify_cron_workers(dbname)


def _notify_cron_workers(dbname):
    try:
        query = SQL(
            "SELECT %s('cron_trigger', %s)",
            SQL.identifier(ODOO_NOTIFY_FUNCTION),
            dbname,
        )
        with pool.cursor("postgres") as cr:  # a plain psycopg2 cursor
            cr.execute(query.code, query.params)
    except Exception:  # noqa: BLE001 - the cron still runs on its interval
        _logger.warning("Could not wake the cron workers", exc_info=True)


def event_key_digest(*parts):
    """A stable key for calls without a provider id."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()
