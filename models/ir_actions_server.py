import logging

from psycopg2.extensions import TransactionRollbackError

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import routing

_logger = logging.getLogger(__name__)

# Order of the fixed fallback chain: Zalo, SMS, e-mail; the sandbox last.
CHANNEL_TYPE_ORDER = {"zalo": 0, "esms": 1, "speedsms": 2, "email": 3, "sandbox": 9}
# A message in one of these states does not count as "already sent" when the
# same rule fires again for the same record: the next firing tries again.
RETRYABLE_STATES = ("failed", "cancelled", "skipped")


class IrActionsServer(models.Model):
    """A "Send message (multi-channel)" server action, usable in Automation
    Rules (base_automation) like Odoo's own "Send SMS"."""

    _inherit = "ir.actions.server"

    state = fields.Selection(
        selection_add=[("messaging", "Send message (multi-channel)"), ("followers",)],
        ondelete={"messaging": "cascade"},
    )
    messaging_document_field_id = fields.Many2one(
        "ir.model.fields",
        string="Message about",
        ondelete="set null",
        domain="[('model_id', '=', model_id), ('ttype', '=', 'many2one')]",
        help="Leave empty to send about the record itself. On an order line, "
        "pick its Order: the order's template, customer and chatter are used, "
        "and the message is sent once per order.",
    )
    messaging_document_model = fields.Char(
        compute="_compute_messaging_document_model",
        help="Technical name of the model the templates render on.",
    )
    messaging_template_id = fields.Many2one(
        "messaging.template",
        string="Message template",
        ondelete="set null",
        domain="[('model', '=', messaging_document_model)]",
    )
    messaging_template_channel_type = fields.Selection(
        related="messaging_template_id.channel_type"
    )
    messaging_channel_id = fields.Many2one(
        "messaging.channel",
        string="Messaging channel",
        ondelete="set null",
        domain="[('channel_type', '=', messaging_template_channel_type)]",
        help="Leave empty to use, for each record, the first active channel of "
        "the template's type in the record's company.",
    )
    messaging_routing = fields.Selection(
        [
            ("fixed", "Template first, then the fallback chain"),
            ("auto", "Automatic: cheapest reachable route per customer"),
        ],
        string="Channel selection",
        default="fixed",
        help="Fixed: the template above first, then the fallback templates "
        "(Zalo, SMS, e-mail, in that order). Automatic: each customer gets the "
        "cheapest of these templates they can be reached on; the others become "
        "their fallback chain.",
    )
    messaging_fallback_template_ids = fields.Many2many(
        "messaging.template",
        "ir_act_server_messaging_template_rel",
        "action_id",
        "template_id",
        string="Fallback templates",
        domain="[('model', '=', messaging_document_model), "
        "('id', '!=', messaging_template_id)]",
        help="Tried when the customer cannot be reached with the template above, "
        "each on the first active channel of its type. Archived templates and "
        "templates without an active channel are left out. Sandbox templates "
        "are used only when no real channel of the chain is active.",
    )

    @api.depends("model_id", "messaging_document_field_id")
    def _compute_messaging_document_model(self):
        for action in self:
            action.messaging_document_model = (
                action.messaging_document_field_id.relation or action.model_id.model
            )

    @api.depends("messaging_template_id", "messaging_fallback_template_ids")
    def _compute_name(self):
        res = super()._compute_name()
        for action in self:
            if not (action.base_automation_id and action.state == "messaging"):
                continue
            template = action.messaging_template_id.name or ""
            count = len(action.messaging_fallback_template_ids)
            if count:
                action.name = self.env._(
                    "Send message: %(template)s (+%(count)s fallbacks)",
                    template=template,
                    count=count,
                )
            else:
                action.name = self.env._("Send message: %s", template)
        return res

    @api.constrains(
        "state",
        "model_id",
        "messaging_document_field_id",
        "messaging_template_id",
        "messaging_fallback_template_ids",
        "messaging_channel_id",
    )
    def _check_messaging_config(self):
        for action in self.filtered(lambda a: a.state == "messaging"):
            field = action.messaging_document_field_id
            if field and (
                field.model_id != action.model_id or field.ttype != "many2one"
            ):
                raise ValidationError(
                    _(
                        "Action %(action)s: the document must be a many2one field "
                        "of %(model)s."
                    )
                    % {"action": action.name, "model": action.model_id.model}
                )
            model = action.messaging_document_model
            templates = (
                action.messaging_template_id
                | action.with_context(active_test=False).messaging_fallback_template_ids
            )
            wrong = templates.filtered(lambda t, model=model: t.model != model)
            if wrong:
                raise ValidationError(
                    _(
                        "Action %(action)s sends about %(model)s, but template "
                        "%(template)s renders on %(tmodel)s."
                    )
                    % {
                        "action": action.name,
                        "model": model,
                        "template": wrong[0].name,
                        "tmodel": wrong[0].model,
                    }
                )
            routing.check_template_channel(
                action.messaging_template_id, action.messaging_channel_id
            )
            action._check_messaging_fallback_types()

    def _check_messaging_fallback_types(self):
        """Fallback templates are sent on the company's channel of their
        type: two of one type, or one of the primary's type when the
        primary's channel is found the same way, would try the same channel
        twice."""
        self.ensure_one()
        primary = self.messaging_template_id
        seen = set() if self.messaging_channel_id else {primary.channel_type}
        fallbacks = self.with_context(active_test=False).messaging_fallback_template_ids
        for template in (fallbacks - primary).sorted("id"):
            if template.channel_type in seen:
                raise ValidationError(
                    _(
                        "Action %(action)s: fallback template %(template)s is "
                        "sent on the same channel as an earlier step (one "
                        "channel per kind). Each fallback must use another "
                        "kind of channel than the steps before it."
                    )
                    % {"action": self.name, "template": template.name}
                )
            seen.add(template.channel_type)

    # ------------------------------------------------------------------
    # Runner
    # ------------------------------------------------------------------

    def _run_action_messaging_multi(self, eval_context=None):
        """Queue one message per record (or per document, see "Message about").

        Messaging never blocks the business flow that fired the rule: what
        cannot be queued becomes a failed or skipped message with its reason
        (or, without any channel, a note in the document's chatter).
        """
        eval_context = eval_context or {}
        records = eval_context.get("records") or eval_context.get("record")
        if not records:
            return False
        if not self.messaging_template_id:
            _logger.warning(
                "Server action %s (id %s) has no message template: nothing sent.",
                self.name,
                self.id,
            )
            return False
        Message = self.env["messaging.message"]
        messages = Message
        for document in self._messaging_get_documents(records):
            try:
                with self.env.cr.savepoint():
                    messages |= self._messaging_send(document)
            except TransactionRollbackError:
                raise  # Odoo retries the whole transaction
            except Exception as exc:  # messaging never blocks the document
                _logger.exception(
                    "Server action %s: no message about %s", self.id, document
                )
                self._messaging_note(document, "not_queued", error=str(exc))
        if messages:
            Message._retrigger_cron()  # sent within the next cron run
        return False

    def _messaging_get_documents(self, records):
        """The records the messages are about, without duplicates."""
        self.ensure_one()
        records = records.with_env(self.env)
        field = self.messaging_document_field_id
        if not field:
            return records
        return records.mapped(field.name)

    def _messaging_send(self, document):
        """Queue the message about ``document``; returns the messages created."""
        self.ensure_one()
        Message = self.env["messaging.message"]
        if self._messaging_already_sent(document):
            _logger.info(
                "Server action %s: %s already has its message, not sent twice.",
                self.id,
                document,
            )
            return Message
        steps = self._messaging_get_steps(document)
        if not steps:
            self._messaging_note(
                document, "no_channel", template=self.messaging_template_id.name
            )
            return Message
        partner = document._messaging_get_partner()
        if self.messaging_routing == "auto" and partner:
            steps = self._messaging_route(steps, partner)
        return self._messaging_queue(document, partner, steps)

    def _messaging_get_templates(self):
        """All templates of the action, archived ones included."""
        self.ensure_one()
        action = self.with_context(active_test=False)
        return action.messaging_template_id | action.messaging_fallback_template_ids

    def _messaging_already_sent(self, document):
        """De-duplication per (record, template): a rule that fires twice for
        the same record sends once, unless every earlier attempt failed.

        Concurrency: with the shipped triggers, the transaction that fires
        the rule has written the document row itself (the order's state, or
        the order saved with its lines, or its delivery status recomputed), so
        PostgreSQL serializes two transactions firing for the same document
        and Odoo retries the loser, which then sees the winner's message.
        """
        self.ensure_one()
        return bool(
            self.env["messaging.message"].search_count(
                [
                    ("res_model", "=", document._name),
                    ("res_id", "=", document.id),
                    ("template_id", "in", self._messaging_get_templates().ids),
                    ("state", "not in", RETRYABLE_STATES),
                ],
                limit=1,
            )
        )

    def _messaging_get_steps(self, document):
        """[(channel, template)]: the template, then its fallbacks, each with
        a channel; steps without an active channel are left out."""
        self.ensure_one()
        company = self.env.company
        if "company_id" in document._fields and document.company_id:
            company = document.company_id
        primary = self.messaging_template_id
        fallbacks = (self.messaging_fallback_template_ids - primary).sorted(
            lambda t: (CHANNEL_TYPE_ORDER.get(t.channel_type, 5), t.id)
        )
        steps, resolved = [], []
        for template in primary | fallbacks:
            if not template.active:
                continue
            channel = self.messaging_channel_id if template == primary else None
            explicit = bool(channel and channel.active)
            if not explicit:
                channel = self._messaging_find_channel(template, company)
            if channel:
                steps.append((channel, template))
                resolved.append(not explicit)
        # a sandbox picked automatically stands in only when no real channel
        # is active: the same rule works in a demo database and in production
        if any(channel.channel_type != "sandbox" for channel, _t in steps):
            steps = [
                step
                for step, auto in zip(steps, resolved, strict=True)
                if not (auto and step[0].channel_type == "sandbox")
            ]
        # a channel already tried is not tried again
        kept, seen = [], set()
        for channel, template in steps:
            if channel.id not in seen:
                kept.append((channel, template))
                seen.add(channel.id)
        return kept

    def _messaging_find_channel(self, template, company):
        return self.env["messaging.channel"].search(
            [
                ("channel_type", "=", template.channel_type),
                ("company_id", "=", company.id),
            ],
            limit=1,
        )

    def _messaging_route(self, steps, partner):
        """Automatic routing: the steps this customer can be reached on,
        cheapest first (the router's ranking, as campaigns)."""
        options, _failures = routing.rank_routes(steps, partner)
        if not options:  # queued on the first step, refused there with a reason
            return steps
        return [(option.channel, option.template) for option in options]

    def _messaging_queue(self, document, partner, steps):
        """Create the message of the first step that can be queued.

        A step whose message cannot be created (a template that does not
        render...) is recorded as a failed message with the error, and the
        next step is tried.
        """
        Message = self.env["messaging.message"]
        created = Message
        for index, (channel, template) in enumerate(steps):
            vals = {
                "partner_id": partner.id,
                "channel_id": channel.id,
                "template_id": template.id,
                "res_model": document._name,
                "res_id": document.id,
                "fallback_chain": [[c.id, t.id] for c, t in steps[index + 1 :]],
                "fallback_parent_id": created[-1:].id,
            }
            if not partner:
                return created | self._messaging_create_refused(
                    vals,
                    "skipped",
                    "no_address",
                    _("%s has no customer to send a message to.")
                    % document.display_name,
                )
            try:
                with self.env.cr.savepoint():
                    return created | Message.create(vals)
            except TransactionRollbackError:
                raise
            except Exception as exc:  # recorded on a failed message below
                _logger.warning(
                    "Server action %s: message about %s on %s not queued: %s",
                    self.id,
                    document,
                    channel.name,
                    exc,
                )
                created |= self._messaging_create_refused(
                    vals,
                    "failed",
                    "invalid_params",
                    _("Template %(template)s could not be used: %(error)s")
                    % {"template": template.name, "error": exc},
                )
        return created

    def _messaging_create_refused(self, vals, state, failure_type, text):
        """A message that records why nothing was queued (never sent)."""
        return (
            self.env["messaging.message"]
            .sudo()  # a refusal the queue records (a user may not preset one)
            .with_context(messaging_skip_prepare=True)
            .create(
                dict(
                    vals,
                    fallback_chain=False,
                    state=state,
                    failure_type=failure_type,
                    error_message=text,
                    failed_at=fields.Datetime.now(),
                )
            )
        )

    def _messaging_note(self, document, key, **params):
        """Say in the document's chatter why no message went out (line
        ``key`` of ``mail_message.LINES``, shown in each reader's language)."""
        Mail = self.env["mail.message"]
        text = Mail._messaging_render({"key": key, "params": params}, "en_US")
        _logger.warning("Server action %s on %s: %s", self.id, document, text)
        if not hasattr(document, "message_post"):
            return
        try:
            with self.env.cr.savepoint():
                Mail._messaging_post(
                    document,
                    key,
                    params,
                    message_type="notification",
                    subtype_xmlid="mail.mt_note",
                )
        except TransactionRollbackError:
            raise
        except Exception:  # logged, and never blocks the document
            _logger.exception("Could not post the messaging note on %s", document)
