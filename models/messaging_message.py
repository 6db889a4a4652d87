import logging
import threading
import time
import uuid
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, html2plaintext, plaintext2html

from ..engine import consent, enqueue, inflight, rendering, routing
from ..providers import (
    ACCEPTED,
    ADAPTERS,
    AUTH,
    AWAIT_RECEIPT,
    HOLD,
    PERMANENT,
    QUOTA,
    RESEND,
    RETRY,
    UNKNOWN,
    UNREACHABLE,
    OutboundMessage,
    ProviderError,
)
from ..providers.sandbox import sandbox_final_state

_logger = logging.getLogger(__name__)
_sleep = time.sleep  # the throttle's waits (tests make a worker oversleep)

STATES = [
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("read", "Read"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
    ("skipped", "Skipped"),
    ("unknown", "Outcome unknown"),
]
FAILURE_TYPES = [
    ("no_address", "No address on this channel"),
    ("invalid_address", "Invalid address"),
    ("opt_out", "Opted out"),
    ("duplicate", "Duplicate"),
    ("invalid_params", "Template data refused"),
    ("unreachable", "Unreachable on this channel"),
    ("provider", "Refused by the provider"),
    ("auth", "Credentials refused"),
    ("retries", "Too many attempts"),
    ("crash", "Interrupted while sending"),
    ("no_answer", "No answer from the provider"),
    ("cancelled", "Cancelled"),
]
CLAIM_SECONDS = 120
# a group marked "sending" stops calling its provider after this long
GROUP_SECONDS = CLAIM_SECONDS / 4
BATCH_SIZE = 200
# a throttled channel's claim: the rows its rate lets out in this time. A
# group waits for its last answer before the next claim: the slots of that
# wait (one provider latency) are left to other workers; over 2 s of slots
# a worker alone still uses ~95% of the rate at 100 ms of latency
CLAIM_HORIZON_SECONDS = 2.0
PREFETCH_ROWS = 20
# a worker that wakes up later than this after its booked slot (a busy
# machine) does not send on it: the next slots, booked by other workers, would
# follow too closely. The rate's 3% slack (RATE_SLACK) leaves 1.5 ms per gap,
# about 30 ms per second of requests: a late send within 10 ms never puts one
# request more than the rate into any second at the provider. The request's
# thread gets as much again to start it (engine/inflight.py): 20 ms in all.
LATE_SEND_SECONDS = 0.010
LATE_SLOT_ATTEMPTS = 5
# a resend relying on the provider's idempotency key stays this far inside
# the provider's window (clocks differ, the first attempt took time)
IDEMPOTENCY_MARGIN = timedelta(hours=1)
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
MANAGER_GROUP = "multichannel_messaging.group_messaging_manager"
# what a user gives when creating a message by hand (the composer, RPC,
# a server action run from a menu): who, on which channel, what, when, and
# the next steps. Everything else (state, route, address, template data,
# provider ids, cost, timestamps, attempts) is the queue's own and refused.
USER_CREATE_FIELDS = frozenset(
    {
        "partner_id",
        "channel_id",
        "template_id",
        "res_model",
        "res_id",
        "subject",
        "body",
        "category",
        "scheduled_at",
        "user_id",
        "state",
        # checked like the rest: steps the user can read, a parent they see
        "fallback_chain",
        "fallback_parent_id",
    }
)


class MessagingMessage(models.Model):
    """One recipient on one channel: the outbound queue and the history."""

    _name = "messaging.message"
    _description = "Message"
    _order = "id desc"
    _rec_name = "recipient"

    partner_id = fields.Many2one("res.partner", index=True, ondelete="set null")
    channel_id = fields.Many2one(
        "messaging.channel", required=True, index=True, ondelete="restrict"
    )
    channel_type = fields.Selection(related="channel_id.channel_type", store=True)
    company_id = fields.Many2one(
        "res.company",
        compute="_compute_company_id",
        store=True,
        index=True,
    )
    template_id = fields.Many2one("messaging.template", index=True)
    campaign_id = fields.Many2one("messaging.campaign", index=True, ondelete="cascade")
    user_id = fields.Many2one(
        "res.users", "Sent by", default=lambda self: self.env.user, index=True
    )
    res_model = fields.Char("Document model", index=True)
    res_id = fields.Many2oneReference("Document id", model_field="res_model")
    category = fields.Selection(
        [("transactional", "Transactional"), ("marketing", "Marketing")],
        compute="_compute_category",
        store=True,
        readonly=False,
    )
    route = fields.Selection(
        [
            ("phone", "Template by phone"),
            ("uid", "Template by Zalo user id"),
            ("consultation", "Consultation message"),
            ("sms", "SMS"),
            ("email", "E-mail"),
            ("sandbox", "Sandbox"),
        ],
        readonly=True,
    )
    recipient = fields.Char(help="Phone (84...), Zalo user id or e-mail used.")
    subject = fields.Char()
    body = fields.Text()
    template_data = fields.Json(help="Rendered ZBS template parameters.")
    state = fields.Selection(
        STATES, default="queued", required=True, index=True, readonly=True
    )
    failure_type = fields.Selection(FAILURE_TYPES, readonly=True)
    provider_message_id = fields.Char(index=True, readonly=True, copy=False)
    tracking_id = fields.Char(
        readonly=True,
        copy=False,
        index=True,
        default=lambda self: uuid.uuid4().hex,
        help="Our id sent to the provider (Zalo tracking_id, eSMS RequestId).",
    )
    error_code = fields.Char(readonly=True, copy=False)
    error_message = fields.Text(readonly=True, copy=False)
    attempt_count = fields.Integer(default=0, readonly=True, copy=False)
    scheduled_at = fields.Datetime(
        "Next try",
        default=fields.Datetime.now,
        required=True,
        index=True,
    )
    claim_until = fields.Datetime(readonly=True, copy=False)
    claim_token = fields.Char(readonly=True, copy=False)
    sent_at = fields.Datetime(readonly=True, copy=False)
    delivered_at = fields.Datetime(readonly=True, copy=False)
    read_at = fields.Datetime(readonly=True, copy=False)
    failed_at = fields.Datetime(readonly=True, copy=False)
    receipt_due_at = fields.Datetime(readonly=True, copy=False)
    unknown_since = fields.Datetime(
        readonly=True,
        copy=False,
        help="First attempt whose outcome is unknown (the request may have "
        "reached the provider, no answer came back).",
    )
    outcome_wait_until = fields.Datetime(
        "Waiting for a receipt until",
        readonly=True,
        copy=False,
        help="Outcome unknown: a delivery receipt naming this message settles "
        "it until then; after that it is held for a Manager.",
    )
    currency_id = fields.Many2one(related="channel_id.currency_id")
    cost = fields.Monetary(readonly=True, copy=False)
    fallback_parent_id = fields.Many2one(
        "messaging.message", "Fallback of", index=True, readonly=True
    )
    fallback_child_ids = fields.One2many(
        "messaging.message", "fallback_parent_id", "Fallbacks"
    )
    fallback_chain = fields.Json(
        help="Remaining fallback steps: list of [channel id, template id]."
    )
    mail_mail_id = fields.Many2one("mail.mail", readonly=True, copy=False)

    _sql_constraints = [
        ("tracking_id_unique", "UNIQUE(tracking_id)", "Tracking ids are unique."),
        (
            "attempt_count_positive",
            "CHECK(attempt_count >= 0)",
            "Attempt count cannot be negative.",
        ),
    ]

    @api.depends("channel_id.company_id", "campaign_id.company_id")
    def _compute_company_id(self):
        for message in self:
            message.company_id = (
                message.campaign_id.company_id or message.channel_id.company_id
            )

    @api.depends("template_id.category", "res_model", "body")
    def _compute_category(self):
        for message in self:
            if not message.id:
                # being written in a form: what create() will ask of a user
                message.category = self._get_default_category(
                    message.template_id,
                    message.res_model,
                    free_text=bool(message.body) or not message.template_id,
                )
                continue
            message.category = (
                message.category or message.template_id.category or "transactional"
            )

    @api.depends("recipient", "channel_id")
    def _compute_display_name(self):
        for message in self:
            message.display_name = "%s → %s" % (
                message.channel_id.name or "",
                message.partner_id.name or message.recipient or "",
            )

    @api.constrains("template_id", "channel_id")
    def _check_template_channel(self):
        for message in self:
            routing.check_template_channel(message.template_id, message.channel_id)

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            self._check_user_create_values(vals_list)
        for vals in vals_list:
            if not vals.get("res_model") and vals.get("partner_id"):
                vals["res_model"] = "res.partner"
                vals["res_id"] = vals["partner_id"]
        messages = super().create(vals_list)
        # only the queue's own code (superuser) hands over a prepared row
        if not (self.env.su and self.env.context.get("messaging_skip_prepare")):
            messages.filtered(lambda m: m.state == "queued")._prepare_for_queue()
        return messages

    def write(self, vals):
        if not self.env.su:
            protected = set(vals) - self._get_user_writable_fields()
            if protected:
                raise AccessError(
                    _(
                        "Messages are written by the queue, not by hand (%s). "
                        "Use Cancel or Retry on the message, or send a new one."
                    )
                    % ", ".join(self._field_labels(protected))
                )
        return super().write(vals)

    @api.model
    def _get_user_writable_fields(self):
        """Fields a user may write on a message (none: every field is the
        queue's; a user changes a message through its actions)."""
        return frozenset()

    @api.model
    def _field_labels(self, fnames):
        return sorted(
            self._fields[f].string if f in self._fields else f for f in fnames
        )

    @api.model
    def _check_user_create_values(self, vals_list):
        """A message created by a user (not by the queue): who, on which
        channel, what and when, about records the user can read; the queue
        finds the address and runs every check. Sets the category a user may
        send it in."""
        several = len(vals_list) > 1
        for vals in vals_list:
            preset = {f for f, v in vals.items() if v and f not in USER_CREATE_FIELDS}
            if vals.get("state", "queued") != "queued":
                preset.add("state")
            if vals.get("user_id", self.env.uid) != self.env.uid:
                preset.add("user_id")
            if preset:
                raise AccessError(
                    _(
                        "These values are set by the queue, not by hand: %s. "
                        "Give the contact, the channel and a template or a text: "
                        "the queue finds the address and sends it."
                    )
                    % ", ".join(self._field_labels(preset))
                )
            self._check_user_can_send(vals)
            vals["category"] = self._get_user_category(vals, several)

    @api.model
    def _check_user_can_send(self, vals):
        """What a user cannot read, they cannot send to or about."""
        self.env["res.partner"].browse(vals.get("partner_id")).check_access("read")
        self.env["messaging.channel"].browse(vals.get("channel_id")).check_access(
            "read"
        )
        self.env["messaging.template"].browse(vals.get("template_id")).check_access(
            "read"
        )
        steps = [step for step in vals.get("fallback_chain") or [] if step]
        self.env["messaging.channel"].browse(step[0] for step in steps).check_access(
            "read"
        )
        self.env["messaging.template"].browse(
            step[1] for step in steps if len(step) > 1 and step[1]
        ).check_access("read")
        self.browse(vals.get("fallback_parent_id")).check_access("read")
        res_model = vals.get("res_model")
        if res_model and vals.get("res_id"):
            if res_model not in self.env:
                raise UserError(_("Unknown document model %s.") % res_model)
            self.env[res_model].browse(vals["res_id"]).check_access("read")

    @api.model
    def _get_user_category(self, vals, several=False):
        """The category of a message a user creates: the strictest the rules
        give (see ``_get_default_category``) unless a Manager picks another."""
        template = self.env["messaging.template"].browse(vals.get("template_id"))
        default = self._get_default_category(
            template,
            vals.get("res_model"),
            free_text=bool(vals.get("body")) or not template,
            several=several,
        )
        asked = vals.get("category") or default
        if (
            asked != default
            and default == "marketing"
            and not self.env.user.has_group(MANAGER_GROUP)
        ):
            raise AccessError(
                _(
                    "Only a Messaging Manager can send this message as "
                    "transactional: free text to a contact, or to several "
                    "contacts at once, is marketing (quiet hours, caps and "
                    "opt-outs apply)."
                )
            )
        return asked

    @api.model
    def _get_default_category(self, template, res_model, free_text, several=False):
        """Marketing unless the message is about one document (an order) with
        a transactional template or a text: a text to a contact alone, or to
        several contacts at once, is marketing."""
        if template.category == "marketing":
            return "marketing"
        if free_text and (several or not res_model or res_model == "res.partner"):
            return "marketing"
        return "transactional"

    @api.model
    def _bulk_enqueue(self, channel, template, recipients, **common):
        """Queue many messages fast (campaigns): see ``enqueue.bulk_enqueue``.
        Returns the ids."""
        return enqueue.bulk_enqueue(self.env, channel, template, recipients, **common)

    def unlink(self):
        if any(m.state == "sending" for m in self):
            raise UserError(_("A message being sent cannot be deleted."))
        return super().unlink()

    # ------------------------------------------------------------------
    # Preparation: address, content, early refusals
    # ------------------------------------------------------------------

    def _prepare_for_queue(self):
        """Resolve address and content; refuse early what cannot be sent
        (see ``enqueue.prepare_one``)."""
        enqueue.prepare_for_queue(self)

    # ------------------------------------------------------------------
    # State changes
    # ------------------------------------------------------------------

    def _set_failed(self, failure_type, text, code=None, state="failed"):
        """Fail (or skip) and hand over to the next fallback step, if any."""
        self.sudo().write(
            {
                "state": state,
                "failure_type": failure_type,
                "error_code": code,
                "error_message": text,
                "failed_at": fields.Datetime.now(),
                "claim_until": False,
            }
        )
        if failure_type in self._get_fallback_failure_types():
            self._create_fallback()

    def _get_fallback_failure_types(self):
        return ("no_address", "invalid_address", "unreachable", "invalid_params")

    def _create_fallback(self):
        children = self.browse()
        for message in self:
            chain = list(message.fallback_chain or [])
            if not chain or message.fallback_child_ids:
                continue
            channel_id, template_id = chain[0]
            # the queue's own row: a user's create refuses a fallback parent
            children |= self.sudo().create(
                {
                    "partner_id": message.partner_id.id,
                    "channel_id": channel_id,
                    "template_id": template_id,
                    "campaign_id": message.campaign_id.id,
                    "res_model": message.res_model,
                    "res_id": message.res_id,
                    "user_id": message.user_id.id,
                    "category": message.category,
                    "fallback_parent_id": message.id,
                    "fallback_chain": chain[1:],
                }
            )
        return children

    def _note_result_quota(self, result):
        """Keep the quota figures a provider gave with its answer, if any."""
        self.ensure_one()
        if result.quota_remaining is not None or result.quota_daily is not None:
            self.channel_id._note_quota(result.quota_daily, result.quota_remaining)

    def _prepare_sent_values(self, result, now=None):
        self.ensure_one()
        now = now or fields.Datetime.now()
        vals = {
            "state": "sent",
            "sent_at": now,
            "provider_message_id": result.provider_message_id,
            "error_code": False,
            "error_message": False,
            "failure_type": False,
            "claim_until": False,
            "cost": result.cost
            if result.cost is not None
            else routing.message_cost(self),
        }
        if self.channel_type == "sandbox":
            vals["receipt_due_at"] = now + timedelta(
                seconds=self.channel_id.sandbox_receipt_delay
            )
        return vals

    @api.model
    def _set_sent_many(self, accepted):
        """``_set_sent`` for many messages in one UPDATE.

        ``accepted`` lists ``(message, result)`` pairs. The values are those
        of ``_prepare_sent_values``; one statement instead of one ORM write
        per message keeps the database work of a dispatched message far
        below its HTTP call.
        """
        if not accepted:
            return
        now = fields.Datetime.now()
        rows = []
        for message, result in accepted:
            vals = message._prepare_sent_values(result, now)
            rows.append(
                SQL(
                    "(%s::int, %s::varchar, %s::numeric, %s::timestamp)",
                    message.id,
                    vals["provider_message_id"] or None,
                    vals["cost"] or 0.0,
                    vals.get("receipt_due_at"),
                )
            )
        messages = self.browse([message.id for message, _result in accepted])
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE messaging_message m
                   SET state = 'sent', sent_at = %(now)s,
                       provider_message_id = v.provider_message_id,
                       error_code = NULL, error_message = NULL,
                       failure_type = NULL, claim_until = NULL, cost = v.cost,
                       receipt_due_at = COALESCE(v.receipt_due_at, m.receipt_due_at),
                       write_date = %(now)s, write_uid = %(uid)s
                  FROM (VALUES %(rows)s)
                       AS v(id, provider_message_id, cost, receipt_due_at)
                 WHERE m.id = v.id
                """,
                now=now,
                uid=self.env.uid,
                rows=SQL(", ").join(rows),
            )
        )
        fnames = [
            "state",
            "sent_at",
            "provider_message_id",
            "error_code",
            "error_message",
            "failure_type",
            "claim_until",
            "cost",
            "receipt_due_at",
            "write_date",
            "write_uid",
        ]
        messages.invalidate_recordset(fnames)
        # computed fields that depend on these (campaign counters) follow
        messages.modified(fnames)

    def _set_delivered(self, when=None):
        # receipts in bulk replay this in fold_delivered: change both
        when = when or fields.Datetime.now()
        # a receipt settles an unknown outcome: it did reach the recipient
        self.filtered(lambda m: m.state == "unknown").write(
            {
                "sent_at": when,
                "failure_type": False,
                "error_message": False,
                "outcome_wait_until": False,
            }
        )
        self.filtered(lambda m: m.state in ("sent", "sending", "unknown")).write(
            {"state": "delivered", "delivered_at": when}
        )

    def _set_read(self, when=None):
        # receipts in bulk replay this in fold_read: change both
        when = when or fields.Datetime.now()
        for message in self.filtered(
            lambda m: m.state in ("sent", "delivered", "unknown")
        ):
            message.write(
                {
                    "state": "read",
                    "read_at": when,
                    "delivered_at": message.delivered_at or when,
                }
            )

    @api.model
    def _set_receipts_many(self, receipts):
        """``_set_delivered`` / ``_set_read`` for many receipts in one UPDATE.

        ``receipts`` lists ``(message_ids, seen, when)`` in the order the
        receipts are applied: the final rows are those the calls
        ``browse(message_ids)._set_read(when)`` (``seen``) or
        ``._set_delivered(when)`` one after the other would leave (states
        only move forward, a read implies delivered, a receipt settles an
        unknown outcome), with one statement to read the rows and one to
        write those that change (extensions add their side effects, e.g.
        the Discuss indicators of conversation messages).
        """
        ids = sorted(
            {mid for message_ids, _seen, _when in receipts for mid in message_ids}
        )
        if not ids:
            return
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT id, %s FROM messaging_message WHERE id = ANY(%s)",
                SQL(", ").join(map(SQL.identifier, RECEIPT_COLUMNS)),
                ids,
            )
        )
        rows = {
            row[0]: dict(zip(RECEIPT_COLUMNS, row[1:], strict=True))
            for row in self.env.cr.fetchall()
        }
        changed = set()
        for message_ids, seen, when in receipts:
            apply = fold_read if seen else fold_delivered
            for mid in message_ids:
                if mid in rows and apply(rows[mid], when):
                    changed.add(mid)
        if changed:
            self._write_receipt_rows({mid: rows[mid] for mid in changed})

    def _write_receipt_rows(self, rows):
        """One UPDATE of the receipt columns of ``rows`` ({id: values})."""
        ids = list(rows)
        columns = [SQL("%s::int[]", ids)]
        for fname in RECEIPT_COLUMNS:
            cast = "timestamp" if fname.endswith(("_at", "_until")) else "varchar"
            if fname == "error_message":
                cast = "text"
            columns.append(
                SQL("%s::%s[]", [rows[mid][fname] for mid in ids], SQL(cast))
            )
        now = fields.Datetime.now()
        self.env.cr.execute(
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
                uid=self.env.uid,
                columns=SQL(", ").join(columns),
                names=SQL(", ").join(map(SQL.identifier, RECEIPT_COLUMNS)),
            )
        )
        messages = self.browse(ids)
        fnames = list(RECEIPT_COLUMNS) + ["write_date", "write_uid"]
        messages.invalidate_recordset(fnames)
        # computed fields that depend on these (campaign counters) follow
        messages.modified(fnames)

    def _reschedule(self, when, result=None, count_attempt=True):
        vals = {"state": "queued", "scheduled_at": when, "claim_until": False}
        if result is not None:
            vals.update({"error_code": result.code, "error_message": result.message})
        if not count_attempt and self.state == "sending":
            vals["attempt_count"] = max(self.attempt_count - 1, 0)
        self.write(vals)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_cancel(self):
        self._check_messaging_group("multichannel_messaging.group_messaging_user")
        to_cancel = self.filtered(lambda m: m.state in ("queued", "unknown"))
        to_cancel.check_access("write")
        to_cancel.sudo().write(
            {
                "state": "cancelled",
                "failure_type": "cancelled",
                "claim_until": False,
            }
        )

    def action_retry(self):
        """Queue failed, skipped or unknown messages again (an explicit human
        decision; for an unknown outcome, a Manager's: see
        action_resend_unknown). Every check runs again: the address is looked
        up anew, and a marketing message to a blacklisted contact stays
        skipped."""
        self._check_messaging_group("multichannel_messaging.group_messaging_user")
        to_retry = self.filtered(lambda m: m.state in ("failed", "unknown", "skipped"))
        if any(m.state == "unknown" for m in to_retry):
            self._check_manager()
        to_retry.check_access("write")
        for message in to_retry:
            vals = {
                "state": "queued",
                "scheduled_at": fields.Datetime.now(),
                "failure_type": False,
                "error_code": False,
                "error_message": False,
                "failed_at": False,
                "claim_until": False,
                "attempt_count": 0,
            }
            if message.partner_id:
                vals.update(route=False, recipient=False)
            message.sudo().write(vals)
        to_retry._prepare_for_queue()

    def _check_manager(self):
        if not (self.env.su or self.env.user.has_group(MANAGER_GROUP)):
            raise AccessError(
                _(
                    "Only a Messaging Manager can decide what happens to a "
                    "message whose outcome is unknown."
                )
            )

    def _get_unknown_to_decide(self):
        self._check_manager()
        unknown = self.filtered(lambda m: m.state == "unknown")
        if not unknown:
            raise UserError(_("Select messages whose outcome is unknown."))
        unknown.check_access("write")
        # the queue's fields: written as the queue, once the Manager is checked
        return unknown.sudo()

    def action_resend_unknown(self):
        """Manager: send again a message whose outcome is unknown, with the
        same tracking id (the recipient may receive it twice)."""
        unknown = self._get_unknown_to_decide()
        unknown.write(
            {
                "state": "queued",
                "scheduled_at": fields.Datetime.now(),
                "failure_type": False,
                "outcome_wait_until": False,
                "attempt_count": 0,
            }
        )
        self._retrigger_cron()

    def action_fallback_now(self):
        """Manager: hand a message whose outcome is unknown to its next
        fallback step now (the recipient may get both)."""
        unknown = self._get_unknown_to_decide()
        without = unknown.filtered(
            lambda m: not m.fallback_chain or m.fallback_child_ids
        )
        if without:
            raise UserError(
                _(
                    "These messages have no fallback step left: %s. Resend or "
                    "cancel them instead."
                )
                % ", ".join(without.mapped("display_name"))
            )
        unknown.write(
            {
                "outcome_wait_until": False,
                "error_message": _("Outcome unknown: handed to the next channel."),
            }
        )
        unknown._create_fallback()
        self._retrigger_cron()

    def action_open_document(self):
        self._check_messaging_group("multichannel_messaging.group_messaging_user")
        self.ensure_one()
        if not self.res_model or not self.res_id:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------------
    # Queue
    # ------------------------------------------------------------------

    @api.model
    def _auto_commit(self):
        return not getattr(threading.current_thread(), "testing", False)

    @api.model
    def _claim_batch(self, limit=BATCH_SIZE):
        """Lease due messages for this worker.

        ``FOR UPDATE SKIP LOCKED`` lets several workers claim at once without
        waiting on each other; the lease (``claim_until`` + ``claim_token``)
        keeps the rows out of other workers' claims once the claim is
        committed, and expires on its own if this worker dies before sending
        (the rows are then still ``queued`` and were never handed over).

        A throttled channel gives one claim at most what its rate lets out
        in ``CLAIM_HORIZON_SECONDS`` (at least one row): several workers then
        share its rate, instead of one worker holding the channel's whole
        queue and sending it alone, as fast as its provider calls allow.
        """
        self.env.flush_all()
        token = uuid.uuid4().hex
        self.env.cr.execute(
            SQL(
                """
                UPDATE messaging_message m
                   SET claim_until = %(now)s + make_interval(secs => %(lease)s),
                       claim_token = %(token)s
                 WHERE m.id IN (
                       SELECT q.id
                         FROM messaging_channel ch
                   CROSS JOIN LATERAL (
                              SELECT q.id, q.scheduled_at
                                FROM messaging_message q
                           LEFT JOIN messaging_campaign c ON c.id = q.campaign_id
                               WHERE q.channel_id = ch.id
                                 AND q.state = 'queued'
                                 AND q.scheduled_at <= %(now)s
                                 AND (q.claim_until IS NULL OR q.claim_until < %(now)s)
                                 AND (q.campaign_id IS NULL OR c.state = 'running')
                            ORDER BY q.scheduled_at, q.id
                               LIMIT %(channel_limit)s
                                 FOR UPDATE OF q SKIP LOCKED) q
                        WHERE ch.active
                          AND (ch.paused_until IS NULL OR ch.paused_until <= %(now)s)
                     ORDER BY q.scheduled_at, q.id
                        LIMIT %(limit)s)
                RETURNING m.id
                """,
                lease=CLAIM_SECONDS,
                limit=limit,
                channel_limit=self._claim_limit_sql(limit),
                now=fields.Datetime.now(),
                token=token,
            )
        )
        ids = sorted(row[0] for row in self.env.cr.fetchall())
        self.invalidate_model(["claim_until", "claim_token"])
        # the worker remembers its own token: the row's may change under it
        return self.with_context(messaging_claim_token=token).browse(ids)

    @api.model
    def _claim_limit_sql(self, limit):
        """Rows one claim may take from channel ``ch`` (SQL, see _claim_batch):
        ``limit``, or for a channel with a rate or a spacing what it lets out
        in ``CLAIM_HORIZON_SECONDS`` (the slot interval of
        ``messaging.channel._slot_interval``, without its slack)."""
        return SQL(
            """
            LEAST(%(limit)s, CASE
                WHEN ch.rate_per_second > 0 OR ch.min_interval_seconds > 0
                THEN GREATEST(1, FLOOR(%(horizon)s / GREATEST(
                    CASE WHEN ch.rate_per_second > 0
                         THEN 1.0 / ch.rate_per_second ELSE 0 END,
                    COALESCE(ch.min_interval_seconds, 0))))::int
                ELSE %(limit)s END)
            """,
            limit=limit,
            horizon=CLAIM_HORIZON_SECONDS,
        )

    @api.model
    def _process_queue(self, time_limit=None, batch_size=BATCH_SIZE):
        """Send every due queued message (the cron calls this).

        Works in batches until nothing is due or ``time_limit`` seconds passed;
        then re-triggers the cron if work remains. Returns the number of
        messages handed to a provider or settled.
        """
        auto_commit = self._auto_commit()
        deadline = time.monotonic() + time_limit if time_limit else None
        if auto_commit:
            self._begin_read_committed()
        self._recover_stale_sending()
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        self._process_delivery_timeouts()
        self._process_unknown_waits()
        try:
            done = self._dispatch_due(batch_size, auto_commit, deadline)
        finally:
            # the run's request threads end, its connections close
            inflight.close_pools()
        if auto_commit:
            self._begin_read_committed()
        self._process_receipts()
        self.env["messaging.campaign"]._check_campaigns_done()
        self._trigger_next_due()
        if auto_commit:
            # settle receipts and campaign states
            self.env.cr.commit()  # pylint: disable=invalid-commit
        return done

    @api.model
    def _dispatch_due(self, batch_size, auto_commit, deadline):
        """Claim and send batches until none is due or ``deadline`` passed.
        The last group of a batch may stay in flight while the next batch is
        claimed and prepared (see ``_send_group``)."""
        done, in_flight = 0, None
        while True:
            if auto_commit:
                self._begin_read_committed()
            batch = self._claim_batch(limit=batch_size)
            if auto_commit:
                # the lease must be visible to other workers; sending runs in
                # READ COMMITTED too (see _send_group)
                self._begin_read_committed()
            if not batch and in_flight:
                # its answers may queue more (fallbacks): claim again after
                done += self._finish_group(in_flight, {}, auto_commit)
                in_flight = None
                continue
            if not batch:
                break
            in_flight, sent = batch._dispatch_batch(auto_commit, deadline, in_flight)
            done += sent
            if deadline is not None and time.monotonic() > deadline:
                self._retrigger_cron()
                break
        return done + self._finish_group(in_flight, {}, auto_commit)

    @api.model
    def _cron_process_queue(self):
        self._process_queue(time_limit=50)

    @api.model
    def _get_cron(self):
        return self.env.ref(
            "multichannel_messaging.ir_cron_messaging_process_queue",
            raise_if_not_found=False,
        )

    @api.model
    def _retrigger_cron(self, at=None):
        cron = self._get_cron()
        if cron:
            cron.sudo()._trigger(at=at)

    @api.model
    def _trigger_next_due(self):
        """Wake the cron when the next queued message is due (within a day)."""
        nxt = self.search(
            [("state", "=", "queued"), ("scheduled_at", ">", fields.Datetime.now())],
            order="scheduled_at",
            limit=1,
        )
        if nxt and nxt.scheduled_at < fields.Datetime.now() + timedelta(days=1):
            self._retrigger_cron(at=nxt.scheduled_at)

    @api.model
    def _begin_read_committed(self):
        """Commit, and run the next transaction in READ COMMITTED.

        Claims, recoveries and campaign ends race with other dispatchers.
        Under REPEATABLE READ, locking or updating a row that another
        dispatcher changed and committed after our snapshot raises a
        serialization failure (the whole run fails) instead of skipping the
        row; in READ COMMITTED the row's latest version is checked again.
        """
        self.env.cr.commit()  # pylint: disable=invalid-commit
        self.env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")

    @api.model
    def _recover_stale_sending(self):
        """A row left in ``sending`` (crash mid-call) is never blindly resent.

        The same rule as a lost answer (``_set_outcome_unknown``): queued
        again where the provider's idempotency key makes a resend harmless
        (eSMS refuses a second message with the same ``RequestId``, our
        tracking id, and answers code 124), else "outcome unknown" for a
        human, after waiting for a receipt where one names the message.
        """
        now = fields.Datetime.now()
        stale = self.search([("state", "=", "sending"), ("claim_until", "<", now)])
        if not stale:
            return
        resend = stale.filtered(lambda m: m._is_resend_safe())
        awaiting = (stale - resend).filtered(
            lambda m: (
                m._get_unknown_policy() == AWAIT_RECEIPT
                and m.channel_id.unknown_receipt_minutes > 0
            )
        )
        self.env.flush_all()
        # conditional: a row another dispatcher recovered meanwhile is skipped
        self.env.cr.execute(
            """
            UPDATE messaging_message
               SET state = 'queued', claim_until = NULL, claim_token = NULL,
                   unknown_since = COALESCE(
                       unknown_since, claim_until - make_interval(secs => %(lease)s)),
                   write_date = %(now)s, write_uid = %(uid)s
             WHERE id = ANY(%(ids)s) AND state = 'sending' AND claim_until < %(now)s
            """,
            {
                "ids": resend.ids,
                "now": now,
                "uid": self.env.uid,
                "lease": CLAIM_SECONDS,
            },
        )
        self.env.cr.execute(
            """
            UPDATE messaging_message m
               SET state = 'unknown', failure_type = 'crash', claim_until = NULL,
                   error_message = %(text)s, write_date = %(now)s,
                   unknown_since = COALESCE(
                       m.unknown_since,
                       m.claim_until - make_interval(secs => %(lease)s)),
                   outcome_wait_until = CASE WHEN m.id = ANY(%(awaiting)s)
                       THEN %(now)s + make_interval(mins => ch.unknown_receipt_minutes)
                       END,
                   write_uid = %(uid)s
              FROM messaging_channel ch
             WHERE ch.id = m.channel_id AND m.id = ANY(%(ids)s)
               AND m.state = 'sending' AND m.claim_until < %(now)s
            """,
            {
                "ids": (stale - resend).ids,
                "awaiting": awaiting.ids,
                "now": now,
                "uid": self.env.uid,
                "lease": CLAIM_SECONDS,
                "text": _(
                    "The worker stopped while this message was being sent: it "
                    "may or may not have reached the provider. Check and retry "
                    "by hand."
                ),
            },
        )
        stale.invalidate_recordset(
            [
                "state",
                "failure_type",
                "error_message",
                "claim_until",
                "claim_token",
                "unknown_since",
                "outcome_wait_until",
            ]
        )

    def _is_resend_safe(self):
        """A row left in ``sending`` may be queued again: the provider
        deduplicates a resend of an attempt started that long ago."""
        self.ensure_one()
        started = self.unknown_since or (
            self.claim_until - timedelta(seconds=CLAIM_SECONDS)
        )
        return self._may_resend_unknown(started)

    @api.model
    def _process_delivery_timeouts(self):
        """Fall back when no delivery receipt came within the channel's delay."""
        now = fields.Datetime.now()
        candidates = self.search(
            [
                ("state", "=", "sent"),
                ("fallback_chain", "!=", False),
                ("fallback_child_ids", "=", False),
                ("channel_id.delivery_timeout_minutes", ">", 0),
            ]
        )
        late = candidates.filtered(
            lambda m: (
                m.fallback_chain
                and m.sent_at
                < now - timedelta(minutes=m.channel_id.delivery_timeout_minutes)
            )
        )
        for message in late:
            message.error_message = _(
                "No delivery receipt within %s minutes: handed to the next channel."
            ) % (message.channel_id.delivery_timeout_minutes)
            message._create_fallback()

    def _dispatch(self, auto_commit=True, deadline=None):
        """Send a claimed batch, in groups of one channel.

        A group is marked ``sending`` in one commit, sent with its requests
        in flight together, and its results committed. The group size is
        that of ``messaging.channel._get_group_size``; on an unthrottled
        channel the next group is started while the answers of the previous
        one come in (see ``_send_group``).
        """
        in_flight, done = self._dispatch_batch(auto_commit, deadline)
        return done + self._finish_group(in_flight, {}, auto_commit)

    def _dispatch_batch(self, auto_commit, deadline, in_flight=None):
        """``_dispatch``, its last group left in flight: returns ``(group in
        flight or None, messages settled)``. ``in_flight``: a group of the
        previous batch, settled on the way."""
        adapters = {}
        done = 0
        rendering.prepare_lazy_content(self)
        group = []
        for index, message in enumerate(self):
            if deadline is not None and time.monotonic() > deadline:
                # give the rest back at once rather than at lease expiry
                rest = self.browse(self.ids[index:])
                rest.filtered(lambda m: m.state == "queued").write(
                    {"claim_until": False, "claim_token": False}
                )
                break
            # fetch a few rows at a time: commits clear the cache, and
            # refetching the whole batch after each one would dominate
            message = message.with_prefetch(self.ids[index : index + PREFETCH_ROWS])
            if message.state != "queued" or not message._may_send_now():
                continue
            channel = message.channel_id
            if group and (
                group[0].channel_id != channel
                or len(group) >= channel._get_group_size()
            ):
                in_flight, sent = self._send_group(
                    group, adapters, auto_commit, in_flight
                )
                done += sent
                group = []
            group.append(message)
        if group:
            in_flight, sent = self._send_group(group, adapters, auto_commit, in_flight)
            done += sent
        return in_flight, done

    def _may_send_now(self):
        """False when the message was held back (and rescheduled) or skipped."""
        self.ensure_one()
        channel = self.channel_id
        if channel._is_paused():
            # quota reached by an earlier message of this batch
            self._reschedule(channel.paused_until, count_attempt=False)
            return False
        hold = consent.check_marketing_rules(self)
        if hold:
            action, when, reason = hold
            if action == "skip":
                self._set_failed("duplicate", reason, state="skipped")
            else:
                self._reschedule(when, count_attempt=False)
            return False
        return True

    def _mark_sending(self):
        """queued -> sending for the rows this worker still holds the lease
        of; returns those rows."""
        token = self.env.context.get("messaging_claim_token")
        if not token or not self:
            return self.browse()
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE messaging_message
               SET state = 'sending', attempt_count = COALESCE(attempt_count, 0) + 1,
                   claim_until = %(until)s, write_date = %(now)s,
                   write_uid = %(uid)s
             WHERE id IN %(ids)s AND state = 'queued' AND claim_token = %(token)s
            RETURNING id
            """,
            {
                "until": fields.Datetime.now() + timedelta(seconds=CLAIM_SECONDS),
                "now": fields.Datetime.now(),
                "uid": self.env.uid,
                "ids": tuple(self.ids),
                "token": token,
            },
        )
        owned = {row[0] for row in self.env.cr.fetchall()}
        self.invalidate_recordset(["state", "attempt_count", "claim_until"])
        return self.filtered(lambda m: m.id in owned)

    @api.model
    def _send_group(self, group, adapters, auto_commit, in_flight=None):
        """Start the requests of ``group`` (messages of one channel), then
        keep the answers of ``in_flight``, the group started before it.
        Returns ``(the group now in flight or None, messages settled)``.

        A group is marked ``sending`` in one commit before its requests go
        out (up to the channel's requests in flight, ``engine/inflight.py``);
        its answers are committed together once the last one is in. On an
        unthrottled channel a group stays in flight while the next one is
        started, so that the dispatcher's database work overlaps the
        provider's latency: two groups, at most ``max_in_flight`` rows in
        ``sending`` (``messaging.channel._get_group_size``).

        Every transaction here runs in READ COMMITTED: the rows are ours by
        their lease, and a second update of a row in one transaction makes
        PostgreSQL check its foreign keys again (``FOR KEY SHARE`` of the
        channel row, which other workers' throttle bookings keep updating):
        under REPEATABLE READ that fails to serialize.
        """
        channel = group[0].channel_id
        if channel.channel_type == "email":
            done = self._finish_group(in_flight, adapters, auto_commit)
            return None, done + self._send_email_group(group, auto_commit)
        started = self._start_group(group, adapters, auto_commit)
        done = self._finish_group(in_flight, adapters, auto_commit)
        if not channel._overlaps_groups():
            done += self._finish_group(started, adapters, auto_commit)
            started = None
        return started, done

    @api.model
    def _start_group(self, group, adapters, auto_commit):
        """Mark the group ``sending`` (committed) and start its requests;
        returns ``(channel, adapter, [(message, future)])``."""
        channel = group[0].channel_id
        ids = [m.id for m in group]
        # state "sending" is committed before the call: a crash after this point
        # leaves evidence and the rows will not be resent blindly
        owned = set(self.browse(ids)._mark_sending().ids)
        if auto_commit:
            self._begin_read_committed()
        owned_ids = [i for i in ids if i in owned]
        messages = self.browse(owned_ids).with_prefetch(owned_ids)
        pool = inflight.get_pool(channel._get_max_in_flight())
        adapter = self._get_pooled_adapter(channel, adapters, pool)
        return channel, adapter, messages._start_calls(channel, adapter, pool)

    @api.model
    def _finish_group(self, in_flight, adapters, auto_commit):
        """Wait for the answers of a started group and commit them; returns
        the number of messages handed to the provider."""
        if not in_flight:
            return 0
        channel, adapter, calls = in_flight
        results = [(message, future.result()) for message, future in calls]
        results = self._retry_token_errors(channel, adapter, results, adapters)
        self._apply_results(results)
        if auto_commit:
            # the provider's answers are kept at once; losing this commit to a
            # server crash leaves rows in "sending", never a duplicate
            self.env.cr.execute("SET LOCAL synchronous_commit TO OFF")
            self._begin_read_committed()
        return len(results)

    @api.model
    def _send_email_group(self, group, auto_commit):
        for message in group:
            message._send_email()
            if auto_commit:
                # result of this message is final
                self._begin_read_committed()
        return len(group)

    @api.model
    def _wait_for_slot(self, channel, max_wait):
        """Book the channel's next send slot and sleep until it. Returns None
        when it is time to send, else when to try again (the slot is further
        than ``max_wait``, the daily cap is reached, or every booked slot was
        missed by waking up late)."""
        for _attempt in range(LATE_SLOT_ATTEMPTS):
            wait, retry_at = channel._reserve_slot(max_wait)
            if retry_at:
                return retry_at
            due = time.monotonic() + wait
            if wait > 0:
                _sleep(wait)
            late = time.monotonic() - due
            if late <= LATE_SEND_SECONDS:
                return None
            # the slot is left unused: a later one is booked instead
            _logger.debug(
                "Channel %s: woke up %.0f ms after the booked slot, booking again",
                channel.id,
                late * 1000,
            )
        return fields.Datetime.now()

    def _start_calls(self, channel, adapter, pool):
        """Start one request per message, each in its throttle slot (booked
        here, in this thread, on the channel row all workers share).
        Returns ``(message, future)`` pairs."""
        throttled = channel._has_throttle() and self._auto_commit()
        max_wait = self._max_slot_wait() if throttled else 0.0
        started = time.monotonic()
        calls = []
        for message in self:
            if calls and time.monotonic() - started > GROUP_SECONDS:
                # slow throttle: the rest goes back to the queue, never
                # called, long before its lease could run out unanswered
                message._reschedule(fields.Datetime.now(), count_attempt=False)
                continue
            if channel._is_paused():
                # quota reached by an earlier group
                message._reschedule(channel.paused_until, count_attempt=False)
                continue
            outbound = message._prepare_outbound()
            retry_at = self._wait_for_slot(channel, max_wait)
            if retry_at:
                message._reschedule(retry_at, count_attempt=False)
                continue
            # on time now; its thread must not start much later (see submit)
            send_by = time.monotonic() + LATE_SEND_SECONDS if throttled else None
            calls.append((message, pool.submit(adapter, outbound, send_by)))
        return calls

    @api.model
    def _get_pooled_adapter(self, channel, adapters, pool, **overrides):
        """The channel's adapter on the pool's HTTP session, kept in
        ``adapters`` for the batch; ``overrides`` make a new one."""
        key = (channel.id, pool.size)
        if overrides or key not in adapters:
            adapters[key] = channel._get_adapter(session=pool.session, **overrides)
        return adapters[key]

    @api.model
    def _retry_token_errors(self, channel, adapter, results, adapters):
        """Zalo requests refused for an expired token (the one ``adapter``
        sent): the token is refreshed once for all of them (or taken as an
        earlier group or another worker refreshed it since), then each is
        sent once more."""
        expired = [
            index
            for index, (_message, result) in enumerate(results)
            if result.status == AUTH and result.reason == "token"
        ]
        if not expired or channel.channel_type != "zalo":
            return results
        try:
            token = channel._refresh_zalo_token(
                known_token=adapter.config.get("zalo_access_token")
            )
        except ProviderError as exc:
            _logger.warning("Zalo token refresh failed for channel %s", channel.id)
            for index in expired:
                result = results[index][1]
                result.message = "%s (%s)" % (result.message, exc)
            return results
        pool = inflight.get_pool(channel._get_max_in_flight())
        adapter = self._get_pooled_adapter(
            channel, adapters, pool, zalo_access_token=token
        )
        retries = [
            (index, pool.submit(adapter, results[index][0]._prepare_outbound()))
            for index in expired
        ]
        results = list(results)
        for index, future in retries:
            results[index] = (results[index][0], future.result())
        return results

    @api.model
    def _apply_results(self, results):
        """Keep a group's answers: the accepted ones in one UPDATE."""
        accepted = [(m, r) for m, r in results if r.status == ACCEPTED]
        for message, result in results:
            if result.reason == inflight.LATE_REASON:
                # never sent: back to the queue for another slot
                message._reschedule(fields.Datetime.now(), count_attempt=False)
            elif result.status == ACCEPTED:
                # a quota down to zero pauses the channel for the next group
                message._note_result_quota(result)
            else:
                message._apply_result(result)
        self._set_sent_many(accepted)
        for message, _result in accepted:
            message._post_on_document()

    @api.model
    def _max_slot_wait(self):
        """Seconds a worker may sleep for a throttled slot before deferring."""
        if not self._auto_commit():
            return 0.0
        return float(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("multichannel_messaging.max_slot_wait", 10)
        )

    def _prepare_outbound(self):
        self.ensure_one()
        template = self.template_id
        kind = "template" if self.route in ("phone", "uid") else "text"
        return OutboundMessage(
            tracking_id=self.tracking_id,
            kind=kind,
            phone=self.recipient if self.route in ("phone", "sms", "sandbox") else None,
            zalo_user_id=self.recipient
            if self.route in ("uid", "consultation")
            else None,
            template_ref=template.zalo_template_id or None,
            params=dict(self.template_data or {}),
            text=self.body or None,
            route="uid" if self.route == "uid" else "phone",
            # eSMS reports delivery to the URL given with each message
            callback_url=self.channel_id.sudo().webhook_url
            if self.channel_type == "esms"
            else None,
        )

    def _apply_result(self, result):
        self.ensure_one()
        channel = self.channel_id
        self._note_result_quota(result)
        status = result.status
        if status == ACCEPTED:
            self._set_sent_many([(self, result)])
            self._post_on_document()
        elif status == UNREACHABLE:
            self._set_failed("unreachable", result.message, code=result.code)
        elif status == QUOTA:
            until = fields.Datetime.now() + timedelta(
                seconds=result.retry_after or 3600
            )
            channel._pause_until(until)
            self._reschedule(until, result, count_attempt=False)
        elif status == RETRY:
            if self.attempt_count >= max(channel.max_attempts, 1):
                self._set_failed("retries", result.message, code=result.code)
            else:
                delay = (
                    timedelta(seconds=result.retry_after)
                    if result.retry_after
                    else channel._default_retry_delay(self.attempt_count)
                )
                self._reschedule(fields.Datetime.now() + delay, result)
        elif status == AUTH:
            self._set_failed("auth", result.message, code=result.code)
        elif status == UNKNOWN:
            self._set_outcome_unknown(result)
        else:
            assert status == PERMANENT, status
            self._set_failed("provider", result.message, code=result.code)

    def _get_unknown_policy(self):
        """The adapter's rule for an unknown outcome of this message:
        ``RESEND``, ``AWAIT_RECEIPT`` or ``HOLD`` (see
        ``BaseAdapter.unknown_policy``)."""
        self.ensure_one()
        adapter_class = ADAPTERS.get(self.channel_type)
        if adapter_class is None:
            return HOLD
        return adapter_class.unknown_policy(self._prepare_outbound())

    def _may_resend_unknown(self, since):
        """True when a resend is deduplicated by the provider: its rule is
        ``RESEND`` and ``since`` (the first attempt that may have reached it)
        is well inside its idempotency window."""
        self.ensure_one()
        if self._get_unknown_policy() != RESEND:
            return False
        window = timedelta(seconds=ADAPTERS[self.channel_type].idempotency_seconds)
        return fields.Datetime.now() - since < window - IDEMPOTENCY_MARGIN

    def _set_outcome_unknown(self, result):
        """The request may have reached the provider and no answer came back.

        Never resent blindly: resent with the same idempotency key where the
        provider drops duplicates (within its window and the channel's
        attempts), else "outcome unknown", out of the retry and fallback
        loop: waiting for a delivery receipt that names the message where
        one will (then held), or held for a Manager at once.
        """
        self.ensure_one()
        now = fields.Datetime.now()
        channel = self.channel_id
        since = self.unknown_since or now
        if self._may_resend_unknown(since) and self.attempt_count < max(
            channel.max_attempts, 1
        ):
            self.unknown_since = since
            delay = channel._default_retry_delay(self.attempt_count)
            self._reschedule(now + delay, result)
            return
        vals = {
            "state": "unknown",
            "failure_type": "no_answer",
            "error_code": result.code,
            "unknown_since": since,
            "claim_until": False,
        }
        reason = result.message or result.reason or ""
        minutes = channel.unknown_receipt_minutes
        policy = self._get_unknown_policy()
        if policy == RESEND:
            vals["error_message"] = _(
                "%(reason)s. Resent with the same idempotency key while the "
                "provider drops duplicates; no answer to the last attempt (or "
                "its window has passed): held for a Manager."
            ) % {"reason": reason}
        elif policy == AWAIT_RECEIPT and minutes > 0:
            vals["outcome_wait_until"] = now + timedelta(minutes=minutes)
            vals["error_message"] = _(
                "%(reason)s. The provider may have received it: waiting up to "
                "%(minutes)s minutes for its delivery receipt, then held for a "
                "Manager."
            ) % {"reason": reason, "minutes": minutes}
        else:
            vals["error_message"] = _(
                "%(reason)s. The provider may have received it and there is no "
                "way to check: held for a Manager to resend it or fall back."
            ) % {"reason": reason}
        self.write(vals)

    @api.model
    def _process_unknown_waits(self):
        """Unknown outcomes whose receipt did not come in time: held."""
        late = self.search(
            [
                ("state", "=", "unknown"),
                ("outcome_wait_until", "<=", fields.Datetime.now()),
            ]
        )
        for message in late:
            message.write(
                {
                    "outcome_wait_until": False,
                    "error_message": _(
                        "No answer from the provider and no delivery receipt "
                        "within %s minutes: held for a Manager to resend it or "
                        "fall back."
                    )
                    % message.channel_id.unknown_receipt_minutes,
                }
            )

    def _send_email(self):
        self.ensure_one()
        values = {
            "subject": self.subject or self.template_id.name or "",
            "body_html": plaintext2html(self.body or ""),
            "email_to": self.recipient,
            "recipient_ids": [],
            "auto_delete": False,
            "model": self.res_model,
            "res_id": self.res_id,
        }
        if self.category == "marketing":
            values.update(self._prepare_email_unsubscribe_values(values["body_html"]))
        mail = self.env["mail.mail"].sudo().create(values)
        self.write(
            {
                "state": "sent",
                "sent_at": fields.Datetime.now(),
                "attempt_count": self.attempt_count + 1,
                "mail_mail_id": mail.id,
                "provider_message_id": mail.message_id,
                "claim_until": False,
                "cost": self.channel_id.cost_per_message,
            }
        )
        self._post_on_document()

    def _post_on_document(self):
        """Log one-off messages (not campaign ones) in the document's chatter."""
        self.ensure_one()
        if self.campaign_id or not self.res_model or not self.res_id:
            return
        record = self.env[self.res_model].browse(self.res_id).exists()
        if not record or not hasattr(record, "message_post"):
            return
        body = _("%(channel)s message sent to %(to)s:") % {
            "channel": self.channel_id.name,
            "to": self.recipient,
        }
        text = self.body or ", ".join(
            "%s: %s" % item for item in (self.template_data or {}).items()
        )
        record.sudo().message_post(
            body=plaintext2html("%s\n%s" % (body, html2plaintext(text or ""))),
            message_type="notification",
            subtype_xmlid="mail.mt_note",
        )

    @api.model
    def _process_receipts(self):
        """Sandbox receipts: delivered, then read for a configurable share."""
        due = self.search(
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


def fold_delivered(row, when):
    """``_set_delivered(when)`` on one message's receipt columns (a dict,
    changed in place): True when it changed."""
    state = row["state"]
    if state not in ("sent", "sending", "unknown"):
        return False
    if state == "unknown":
        # a receipt settles an unknown outcome: it did reach the recipient
        row.update(
            sent_at=when, failure_type=None, error_message=None, outcome_wait_until=None
        )
    row.update(state="delivered", delivered_at=when)
    return True


def fold_read(row, when):
    """``_set_read(when)`` on one message's receipt columns: True when it
    changed."""
    if row["state"] not in ("sent", "delivered", "unknown"):
        return False
    row.update(state="read", read_at=when, delivered_at=row["delivered_at"] or when)
    return True
