import json
import logging
import uuid
from datetime import timedelta

from psycopg2.extras import execute_values

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from ..engine import claim, dispatch, results, transaction

# named so: ``receipts`` is the argument of _set_receipts_many
from ..engine import receipts as receipt_rules
from ..providers.sms_text import sms_segments

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
            template = message.template_id
            if template and template.channel_type != message.channel_type:
                raise ValidationError(
                    _(
                        "Template %(template)s is for %(ttype)s, not for channel "
                        "%(channel)s."
                    )
                    % {
                        "template": template.name,
                        "ttype": template.channel_type,
                        "channel": message.channel_id.name,
                    }
                )

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
        """Queue many messages fast (campaigns): set-wise INSERTs.

        ``recipients`` is a list of (partner, res_model, res_id[, chain]).
        Addresses are resolved and early refusals recorded now: the plain
        cases in SQL (``_insert_resolved_sql``), the rest one by one with
        ``_resolve_recipient``. Content is rendered by the dispatcher, one
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
            "user_id": common.get("user_id") or self.env.uid,
            "category": category,
            "scheduled_at": common.get("scheduled_at") or now,
            "fallback_chain": json.dumps(chain) if chain else None,
            "attempt_count": 0,
            "create_uid": self.env.uid,
            "write_uid": self.env.uid,
            "create_date": now,
            "write_date": now,
        }
        self.env.flush_all()
        ids, done = self._insert_resolved_sql(channel, template, recipients, base)
        rest = [r for r in recipients if not r[0] or r[0].id not in done]
        if rest:
            ids += self._insert_resolved_python(channel, template, rest, base)
        self.invalidate_model()
        return ids

    @api.model
    def _get_recipient_chain(self, recipient, base):
        """The fallback chain of ``recipient`` as JSON: its own (automatic
        routing gives each recipient one), else the common one."""
        if len(recipient) > 3:
            return json.dumps(recipient[3]) if recipient[3] else None
        return base["fallback_chain"]

    @api.model
    def _insert_resolved_sql(self, channel, template, recipients, base):
        """Queue the recipients ``_resolve_recipients_sql`` answers for, in
        one INSERT ... SELECT. Returns (ids, the partner ids queued)."""
        route = self._get_sql_route(channel, template)
        recipients = [r for r in recipients if r[0]]
        if not route or not recipients:
            return [], set()
        address, free = self._get_sql_address(route, base["category"])
        columns = list(base) + [
            "partner_id",
            "res_model",
            "res_id",
            "route",
            "recipient",
            "state",
            "tracking_id",
        ]
        values = [SQL("%s", value) for key, value in base.items()]
        values[list(base).index("fallback_chain")] = SQL("r.chain")
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO messaging_message (%(columns)s)
                SELECT %(values)s, p.id, r.res_model, r.res_id, %(route)s,
                       a.address, 'queued', replace(gen_random_uuid()::text, '-', '')
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
                columns=SQL(", ").join(SQL.identifier(c) for c in columns),
                values=SQL(", ").join(values),
                route=route,
                partners=[r[0].id for r in recipients],
                models=[r[1] for r in recipients],
                res_ids=[r[2] for r in recipients],
                chains=[self._get_recipient_chain(r, base) for r in recipients],
                address=address,
                free=free,
            )
        )
        rows = self.env.cr.fetchall()
        return [row[0] for row in rows], {row[1] for row in rows}

    @api.model
    def _insert_resolved_python(self, channel, template, recipients, base):
        """Queue ``recipients`` resolved one by one (``_resolve_recipient``):
        refusals are recorded with their reason and fall back as the queue
        does. Returns the ids."""
        now = base["create_date"]
        category = base["category"]
        columns = list(base) + [
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
        ]
        chain_index = columns.index("fallback_chain")
        # computed values (display name, blacklist) for these contacts only
        prefetch = tuple(r[0].id for r in recipients if r[0])
        rows = []
        for recipient in recipients:
            partner = recipient[0].with_prefetch(prefetch)
            route, address, failure, text = self._resolve_recipient(
                channel, template, partner, category
            )
            values = list(base.values())
            values[chain_index] = self._get_recipient_chain(recipient, base)
            rows.append(
                (
                    *values,
                    partner.id,
                    recipient[1],
                    recipient[2],
                    route or None,
                    address or None,
                    "skipped" if failure else "queued",
                    failure,
                    text,
                    now if failure else None,
                    uuid.uuid4().hex,
                )
            )
        self.env.flush_all()
        query = (
            "INSERT INTO messaging_message (%s) VALUES %%s"
            " RETURNING id, state, failure_type" % ", ".join(columns)
        )
        ids, refused = [], []
        fallback_types = self._get_fallback_failure_types()
        for start in range(0, len(rows), 5000):
            for row in execute_values(
                self.env.cr._obj, query, rows[start : start + 5000], fetch=True
            ):
                ids.append(row[0])
                if row[1] == "skipped" and row[2] in fallback_types:
                    refused.append(row[0])
        self.invalidate_model()
        self.browse(refused)._create_fallback()
        return ids

    def unlink(self):
        if any(m.state == "sending" for m in self):
            raise UserError(_("A message being sent cannot be deleted."))
        return super().unlink()

    # ------------------------------------------------------------------
    # Preparation: address, content, early refusals
    # ------------------------------------------------------------------

    def _prepare_for_queue(self):
        """Resolve address and content; refuse early what cannot be sent."""
        for message in self:
            message._prepare_one()

    def _prepare_one(self):
        self.ensure_one()
        if self.recipient and self.route:
            # prepared by the queue's own code (a user's presets are refused
            # at create): consent is checked all the same
            route, address = self.route, self.recipient
            failure, text = None, None
            refusal = self.category == "marketing" and self._get_consent_refusal(
                self.channel_id, self.partner_id, route, address
            )
            if refusal:
                failure, text = "opt_out", refusal
        else:
            route, address, failure, text = self._resolve_recipient(
                self.channel_id, self.template_id, self.partner_id, self.category
            )
        if failure:
            self._set_failed(failure, text, state="skipped")
            return
        vals = {"route": route, "recipient": address}
        if self.template_id and not self.body and not self.template_data:
            vals.update(self._render_content())
        self.sudo().write(vals)
        if self.channel_type == "zalo" and route in ("phone", "uid"):
            errors = self.template_id._check_params(self.template_data or {})
            if errors:
                self._set_failed("invalid_params", "\n".join(errors))

    @api.model
    def _resolve_recipient(self, channel, template, partner, category):
        """(route, address, failure type, failure text) for one recipient.

        Refuses early what cannot be sent: a marketing message to an address
        in Odoo's blacklists (or a Zalo user who opted out on this OA), no
        address on this channel, invalid phone number.
        """
        invalid = None
        try:
            route, address = self._get_route_and_address(channel, template, partner)
        except UserError as exc:
            route, address, invalid = False, False, str(exc)
        if category == "marketing" and partner:
            refusal = self._get_consent_refusal(channel, partner, route, address)
            if refusal:
                return route, False, "opt_out", refusal
        if invalid:
            return False, False, "invalid_address", invalid
        if not address:
            return (
                route,
                False,
                "no_address",
                _("%(partner)s has no address for channel %(channel)s.")
                % {
                    "partner": partner.display_name or _("The recipient"),
                    "channel": channel.name,
                },
            )
        return route, address, None, None

    @api.model
    def _get_sql_route(self, channel, template):
        """The route ``_resolve_recipients_sql`` resolves on ``channel``,
        else None (Zalo by user id or consultation: one by one)."""
        ctype = channel.channel_type
        if ctype in ("esms", "speedsms"):
            return "sms"
        if ctype in ("email", "sandbox"):
            return ctype
        if (
            ctype == "zalo"
            and template.zalo_template_id
            and template.zalo_route == "phone"
        ):
            return "phone"
        return None

    @api.model
    def _get_sql_address(self, route, category):
        """(address, consent) SQL expressions on ``res_partner p`` for
        ``route``: the address ``_resolve_recipient`` would use when it is
        certain (else NULL), and whether a ``category`` message may go to it.
        See ``_resolve_recipients_sql``."""
        marketing = category == "marketing"
        no_number = SQL("COALESCE(p.mobile, '') = '' AND COALESCE(p.phone, '') = ''")
        phone = SQL(
            """CASE WHEN p.country_id IS NOT NULL AND left(p.phone_sanitized, 1) = '+'
                     AND (COALESCE(p.mobile, '') = '') <> (COALESCE(p.phone, '') = '')
                    THEN substr(p.phone_sanitized, 2) END"""
        )
        phone_free = SQL(
            "NOT EXISTS (SELECT 1 FROM phone_blacklist b"
            " WHERE b.active AND b.number = p.phone_sanitized)"
            if marketing
            else "TRUE"
        )
        email_free = SQL(
            "NOT EXISTS (SELECT 1 FROM mail_blacklist b"
            " WHERE b.active AND b.email = p.email_normalized)"
            if marketing
            else "TRUE"
        )
        if route == "email":
            return (
                SQL("COALESCE(NULLIF(p.email_normalized, ''), NULLIF(p.email, ''))"),
                email_free,
            )
        if route == "sandbox":
            return (
                SQL(
                    "COALESCE(%s, CASE WHEN %s AND strpos(p.email, '@') > 0"
                    " THEN p.email END)",
                    phone,
                    no_number,
                ),
                SQL(
                    "CASE WHEN %s THEN %s ELSE %s END",
                    no_number,
                    email_free,
                    phone_free,
                ),
            )
        return phone, phone_free

    @api.model
    def _resolve_recipients_sql(self, channel, template, partner_ids, category):
        """{partner id: (route, address, None, None)} for the contacts that
        ``_resolve_recipient`` would queue, found in one query.

        Only what is certain is answered here, the rest (refusals with their
        texts, and whatever the stored data cannot settle) is left to
        ``_resolve_recipient``. A number is taken from Odoo's stored
        ``phone_sanitized`` only when it is the one ``_messaging_phone``
        formats the same way: the contact has a country (both use it) and
        exactly one of mobile and phone (Odoo falls back to the phone when
        the mobile is invalid, we refuse it). Consent: ``phone.blacklist`` on
        that number, ``mail.blacklist`` on the normalized e-mail, as
        ``messaging_phone_blacklisted`` and ``is_blacklisted`` do.
        """
        route = self._get_sql_route(channel, template)
        if not route or not partner_ids:
            return {}
        address, free = self._get_sql_address(route, category)
        for model in ("res.partner", "phone.blacklist", "mail.blacklist"):
            self.env[model].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT a.id, a.address
                  FROM (SELECT p.id, %(address)s AS address, %(free)s AS free
                          FROM res_partner p
                         WHERE p.id = ANY(%(ids)s)) a
                 WHERE a.address IS NOT NULL AND a.free
                """,
                address=address,
                free=free,
                ids=list(partner_ids),
            )
        )
        return {
            partner_id: (route, address, None, None)
            for partner_id, address in self.env.cr.fetchall()
        }

    @api.model
    def _get_consent_refusal(self, channel, partner, route, address):
        """Why a marketing message may not go to this address, else False.

        Odoo's lists are the truth: ``phone.blacklist`` for numbers (SMS,
        Zalo by phone, and the person behind a Zalo user id),
        ``mail.blacklist`` for e-mail; a Zalo user's opt-out on one OA, where
        Odoo has no list, is kept on the identity.
        """
        if route == "email" or (route == "sandbox" and address and "@" in address):
            if self._is_email_blacklisted(partner, address):
                return _(
                    "%(partner)s opted out of marketing messages: %(email)s is "
                    "in the e-mail blacklist (mail.blacklist)."
                ) % {"partner": self._consent_name(partner), "email": address}
            return False
        if route in ("uid", "consultation"):
            identity = partner._messaging_identity(channel) if partner else False
            if not identity and address:
                identity = (
                    self.env["messaging.identity"]
                    .sudo()
                    .search(
                        [
                            ("channel_id", "=", channel.id),
                            ("external_id", "=", address),
                        ],
                        limit=1,
                    )
                )
            if identity and identity.sudo().opt_out:
                return _(
                    "%(partner)s opted out of marketing messages on %(channel)s."
                ) % {"partner": self._consent_name(partner), "channel": channel.name}
            address = False  # the person's own number decides below
        if self._is_phone_blacklisted(partner, address):
            return _(
                "%(partner)s opted out of marketing messages: %(number)s is "
                "in the phone blacklist (phone.blacklist)."
            ) % {
                "partner": self._consent_name(partner),
                "number": "+" + address
                if address
                else partner._messaging_checked_number(),
            }
        return False

    @api.model
    def _consent_name(self, partner):
        return partner.display_name or _("The recipient")

    @api.model
    def _is_phone_blacklisted(self, partner, number):
        """``number`` (84..., the address sent to) or the contact's own
        number is in ``phone.blacklist``."""
        listed = bool(partner) and partner.messaging_phone_blacklisted
        # the contact's numbers were checked with it (one query per batch of
        # contacts); only another number costs a query of its own
        if (
            listed
            or not number
            or (partner and "+" + number == partner.phone_sanitized)
            or (partner and number == partner._messaging_phone_or_none())
        ):
            return listed
        return bool(
            self.env["phone.blacklist"]
            .sudo()
            .search_count([("number", "=", "+" + number.lstrip("+"))], limit=1)
        )

    @api.model
    def _is_email_blacklisted(self, partner, email):
        if partner and email and email in (partner.email_normalized, partner.email):
            return partner.is_blacklisted
        if not email:
            return False
        return bool(
            self.env["mail.blacklist"]
            .sudo()
            .search_count(
                [("email", "=", tools.email_normalize(email) or email)], limit=1
            )
        )

    @api.model
    def _get_route_and_address(self, channel, template, partner):
        """(route, address) on ``channel``; address False if none."""
        ctype = channel.channel_type
        if ctype == "email":
            return "email", partner.email_normalized or partner.email or False
        if ctype in ("esms", "speedsms"):
            return "sms", partner._messaging_phone()
        if ctype == "sandbox":
            return "sandbox", partner._messaging_phone() or partner.email or False
        # Zalo
        identity = partner._messaging_identity(channel)
        if template and template.zalo_template_id:
            uid = identity.external_id if identity else False
            if template.zalo_route == "uid":
                return "uid", uid
            if template.zalo_route == "phone" or not uid:
                return "phone", partner._messaging_phone()
            # automatic: the cheaper of the routes this recipient has
            try:
                phone = partner._messaging_phone()
            except UserError:
                phone = False
            if phone and template.price_phone < template.price_uid:
                return "phone", phone
            return "uid", uid
        if identity and identity._get_window()[0] == "closed":
            return "consultation", False
        return "consultation", identity.external_id if identity else False

    def _render_content(self):
        """Content values rendered from the template on the source record."""
        self.ensure_one()
        template = self.template_id
        res_model = self.res_model or template.model
        if template.model != res_model:
            raise UserError(
                _("Template %(template)s renders on %(tmodel)s, not on %(model)s.")
                % {
                    "template": template.name,
                    "tmodel": template.model,
                    "model": res_model,
                }
            )
        res_id = self.res_id
        vals = {}
        if template.body:
            vals["body"] = template._render_body([res_id])[res_id]
        if template.subject:
            vals["subject"] = template._render_field("subject", [res_id])[res_id]
        if template.param_ids:
            vals["template_data"] = template._render_params([res_id])[res_id]
        return vals

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

    @api.model
    def _route_rank(self, channel, template, route, partner):
        """Sort key of a route for automatic routing: cheapest kind first.

        Free consultation (48 h window), paid consultation (7 days), ZBS
        template by user id or phone (by price), SMS, then e-mail.
        """
        price = 0.0
        if route == "consultation":
            identity = partner._messaging_identity(channel)
            paid = identity and identity._get_window()[0] == "paid"
            return (0, channel.cost_zalo_consultation if paid else 0.0)
        if route == "uid":
            price = template.price_uid or channel.cost_zalo_uid
        elif route == "phone":
            price = template.price_phone or channel.cost_per_message
        elif route == "sms":
            segments = sms_segments(template.body or "")[2] or 1
            price = channel.cost_per_segment * segments or channel.cost_per_message
        rank = {"uid": 1, "phone": 1, "sandbox": 1, "sms": 2}.get(route, 3)
        return (rank, price or channel.cost_per_message)

    def _estimate_cost(self):
        self.ensure_one()
        channel = self.channel_id
        if self.route == "uid":
            return self.template_id.price_uid or channel.cost_zalo_uid
        if self.route == "phone":
            return self.template_id.price_phone or channel.cost_per_message
        if self.route == "sms" and channel.cost_per_segment:
            return channel.cost_per_segment * sms_segments(self.body or "")[2]
        return channel.cost_per_message

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

    def _prepare_lazy_content(self):
        """Render, in one pass per template, messages queued without content
        (campaigns enqueue fast and render when they are sent)."""
        todo = self.filtered(
            lambda m: (
                m.state == "queued"
                and m.template_id
                and not m.body
                and not m.template_data
            )
        )
        groups = {}
        for message in todo:
            key = (message.template_id, message.res_model)
            groups.setdefault(key, []).append(message.id)
        rows = []  # rendered content, written in one UPDATE below
        invalid = []  # (message, errors)
        for (template, _model), ids in groups.items():
            messages = self.browse(ids)
            res_ids = messages.mapped("res_id")
            bodies = template._render_body(res_ids) if template.body else {}
            subjects = (
                template._render_field("subject", res_ids) if template.subject else {}
            )
            params = template._render_params(res_ids) if template.param_ids else {}
            if not (bodies or subjects or params):
                continue
            for message in messages:
                res_id = message.res_id
                data = params[res_id] if params else None
                rows.append(
                    SQL(
                        "(%s::int, %s::text, %s::varchar, %s::jsonb)",
                        message.id,
                        bodies[res_id] if bodies else None,
                        subjects[res_id] if subjects else None,
                        # an empty dict is stored as NULL, as the ORM does
                        json.dumps(data) if data else None,
                    )
                )
                if message.route in ("phone", "uid") and params:
                    errors = template._check_params(data)
                    if errors:
                        invalid.append((message, errors))
        self._write_lazy_content(rows)
        for message, errors in invalid:
            message._set_failed("invalid_params", "\n".join(errors))

    def _write_lazy_content(self, rows):
        """Rendered ``(id, body, subject, template_data)`` rows (None: keep the
        value) in one UPDATE: one ORM write per message cost more than the
        rendering itself. Nothing is computed from these fields."""
        if not rows:
            return
        fnames = ["body", "subject", "template_data", "write_date", "write_uid"]
        self.flush_model(fnames)
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                UPDATE messaging_message m
                   SET body = COALESCE(v.body, m.body),
                       subject = COALESCE(v.subject, m.subject),
                       template_data = COALESCE(v.template_data, m.template_data),
                       write_date = %(now)s, write_uid = %(uid)s
                  FROM (VALUES %(rows)s) AS v(id, body, subject, template_data)
                 WHERE m.id = v.id
             RETURNING m.id
                """,
                now=now,
                uid=self.env.uid,
                rows=SQL(", ").join(rows),
            )
        )
        messages = self.browse([row[0] for row in self.env.cr.fetchall()])
        messages.invalidate_recordset(fnames)
        messages.modified(fnames)

    def _check_marketing_rules(self):
        """None when the message may go now, else (action, when, reason).

        Transactional messages are never held by these rules.
        """
        self.ensure_one()
        if self.category != "marketing":
            return None
        channel = self.channel_id
        if channel._in_quiet_hours():
            return "wait", channel._next_local_time(channel.quiet_hours_end), None
        if channel.resend_window_minutes and self.partner_id and self.template_id:
            since = fields.Datetime.now() - timedelta(
                minutes=channel.resend_window_minutes
            )
            if self.search_count(
                [
                    ("id", "!=", self.id),
                    ("partner_id", "=", self.partner_id.id),
                    ("template_id", "=", self.template_id.id),
                    *self._get_reached_domain(since),
                ],
                limit=1,
            ):
                return (
                    "skip",
                    None,
                    _("Already sent to this contact with this template within %s min.")
                    % channel.resend_window_minutes,
                )
        if channel.recipient_daily_cap and self.partner_id:
            local_midnight = channel._local_now().replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            sent_today = self.search_count(
                [
                    ("id", "!=", self.id),
                    ("partner_id", "=", self.partner_id.id),
                    ("channel_id", "=", channel.id),
                    ("category", "=", "marketing"),
                    *self._get_reached_domain(channel._to_utc_naive(local_midnight)),
                ]
            )
            if sent_today >= channel.recipient_daily_cap:
                return "wait", channel._next_local_time(channel.quiet_hours_end), None
        return None

    @api.model
    def _get_reached_domain(self, since):
        """Messages that (may have) reached their recipient since ``since``:
        sent, and those whose outcome is unknown (counted as reached by the
        marketing rules: they may well have been received)."""
        return [
            "|",
            "&",
            ("state", "in", ("sending", "sent", "delivered", "read")),
            ("sent_at", ">=", since),
            "&",
            ("state", "=", "unknown"),
            ("unknown_since", ">=", since),
        ]
