import logging
import uuid

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import (
    claim,
    dispatch,
    enqueue,
    results,
    routing,
    transaction,
)

# named so: ``receipts`` is the argument of _set_receipts_many
from ..engine import receipts as receipt_rules

_logger = logging.getLogger(__name__)

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
    ("not_configured", "Channel not configured"),
    ("retries", "Too many attempts"),
    ("crash", "Interrupted while sending"),
    ("no_answer", "No answer from the provider"),
    ("cancelled", "Cancelled"),
]
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
    mail_mail_id = fields.Many2one(
        "mail.mail", "E-mail", readonly=True, copy=False, index="btree_not_null"
    )

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
    # entry points of other models and extensions; the rules live in
    # engine/results.py and engine/receipts.py

    def _set_failed(self, failure_type, text, code=None, state="failed"):
        """Fail (or skip) and hand over to the next fallback step, if any."""
        return results.set_failed(self, failure_type, text, code=code, state=state)

    def _get_fallback_failure_types(self):
        return results.FALLBACK_FAILURE_TYPES

    def _create_fallback(self):
        return results.create_fallback(self)

    def _set_delivered(self, when=None):
        receipt_rules.set_delivered(self, when)

    def _set_read(self, when=None):
        receipt_rules.set_read(self, when)

    @api.model
    def _set_receipts_many(self, receipts):
        """Delivery and seen receipts in bulk (``receipts``: ``(message_ids,
        seen, when)``, see ``engine/receipts.py``)."""
        receipt_rules.set_receipts_many(self.env, receipts)

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
                "wait_code": False,
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
                "wait_code": False,
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
    # entry points of the cron and of other models; the queue's machinery
    # lives in engine/ (dispatch.py runs it)

    @api.model
    def _auto_commit(self):
        """False in tests: the queue does not commit (engine/transaction.py)."""
        return transaction.auto_commit()

    @api.model
    def _process_queue(self, time_limit=None, batch_size=claim.BATCH_SIZE):
        """Send every due queued message (the cron calls this).

        Works in batches until nothing is due or ``time_limit`` seconds passed;
        then re-triggers the cron if work remains. Returns the number of
        messages handed to a provider or settled.
        """
        return dispatch.process_queue(self.env, time_limit, batch_size)

    @api.model
    def _cron_process_queue(self):
        self._process_queue(time_limit=50)

    @api.model
    def _retrigger_cron(self, at=None):
        dispatch.retrigger_cron(self.env, at=at)
