from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount

from ..engine import rendering, routing, waits
from ..engine.rendering import ZBS_ROUTES

MANAGER_GROUP = "multichannel_messaging.group_messaging_manager"


class MessagingComposer(models.TransientModel):
    """Send one message about one record (a contact or a sale order)."""

    _name = "messaging.composer"
    _inherit = ["messaging.send.mixin"]
    _description = "Send a Message"

    res_id = fields.Integer("Document id", required=True)
    record_name = fields.Char("Document", compute="_compute_record_name")
    partner_id = fields.Many2one(
        "res.partner",
        "Recipient",
        compute="_compute_partner_id",
        store=True,
        readonly=False,
        precompute=True,
    )
    is_zbs = fields.Boolean(compute="_compute_is_zbs")
    subject = fields.Char(
        compute="_compute_content", store=True, readonly=False, precompute=True
    )
    body = fields.Text(
        "Message",
        compute="_compute_content",
        store=True,
        readonly=False,
        precompute=True,
        help="Rendered from the template; you may edit it before sending.",
    )
    category = fields.Selection(
        [("transactional", "Transactional"), ("marketing", "Marketing")],
        compute="_compute_category",
        store=True,
        readonly=False,
        precompute=True,
        help="Marketing messages obey quiet hours, caps and opt-outs. A text "
        "written by hand to a contact is marketing; about a document (an "
        "order) it may be transactional. Only a Messaging Manager changes it.",
    )
    can_edit_category = fields.Boolean(compute="_compute_can_edit_category")
    preview_html = fields.Html(
        "Preview", compute="_compute_preview_html", sanitize=False
    )
    send_start_text = fields.Char(
        "When it is sent",
        compute="_compute_send_start_text",
        help="The category, when the queue will send it (quiet hours, quotas "
        "and daily caps included) and its cost, in your time zone.",
    )
    is_held = fields.Boolean(
        "Held by the queue",
        compute="_compute_send_start_text",
        help="The queue would hold the message now (quiet hours, quota, daily cap).",
    )

    @api.model
    def default_get(self, fields_list):
        result = super().default_get(fields_list)
        context = self.env.context
        result["res_id"] = result.get("res_id") or context.get("active_id")
        return result

    @api.depends("res_model", "res_id")
    def _compute_record_name(self):
        for composer in self:
            composer.record_name = composer._get_record().display_name

    @api.depends("res_model", "res_id")
    def _compute_partner_id(self):
        for composer in self:
            record = composer._get_record()
            composer.partner_id = record._messaging_get_partner() if record else False

    @api.depends("template_id")
    def _compute_is_zbs(self):
        for composer in self:
            composer.is_zbs = bool(composer.template_id.zalo_template_id)

    @api.depends("template_id", "res_id")
    def _compute_content(self):
        for composer in self:
            template = composer.template_id
            composer.subject = composer.body = False
            record = composer._get_record()
            if not template or not record or template.model != composer.res_model:
                continue
            try:
                composer.body, composer.subject = composer._render_text(record)
            except UserError:
                continue  # the preview shows the rendering error

    @api.depends("template_id", "res_model", "res_id", "body", "subject")
    def _compute_category(self):
        for composer in self:
            composer.category = composer._get_default_category()

    def _compute_can_edit_category(self):
        is_manager = self.env.user.has_group(MANAGER_GROUP)
        for composer in self:
            composer.can_edit_category = is_manager

    @api.depends(
        "channel_id", "template_id", "partner_id", "body", "subject", "category"
    )
    def _compute_preview_html(self):
        for composer in self:
            record = composer._get_record()
            if not record or not composer.channel_id:
                composer.preview_html = False
                continue
            previews = composer._render_previews(
                composer.channel_id,
                composer.template_id,
                record,
                partner=composer.partner_id,
                body=composer._get_body_override(),
                category=composer._get_send_category(),
            )
            if composer.subject:
                previews[0]["subject"] = composer.subject
            composer.preview_html = composer._render_preview_html(previews)

    @api.depends(
        "channel_id", "template_id", "partner_id", "body", "subject", "category"
    )
    @api.depends_context("lang", "tz")
    def _compute_send_start_text(self):
        for composer in self:
            composer.send_start_text = composer._get_send_start_text()
            composer.is_held = bool(
                composer.channel_id
                and waits.next_start(
                    composer.channel_id, composer._get_send_category()
                )[1]
            )

    def _get_send_start_text(self):
        """Before the click: in which category, when and at what cost the
        message goes (False without a channel or a recipient)."""
        self.ensure_one()
        channel, partner = self.channel_id, self.partner_id
        if not channel or not partner:
            return False
        category = self._get_send_category()
        start, code = waits.next_start(channel, category)
        text = waits.start_text(self.env, category, start, code)
        template = self.template_id
        route = routing.resolve_recipient(channel, template, partner, category)[0]
        if route:
            cost = routing.route_cost(
                channel, self.template_id, route, partner, self._get_body_override()
            )
            text = "%s %s" % (
                text,
                self.env._(
                    "1 message, %(cost)s.",
                    cost=format_amount(self.env, cost, channel.currency_id),
                ),
            )
        if (
            code
            and category == "marketing"
            and self._may_send_transactional()
            and not waits.next_start(channel, "transactional")[1]
        ):
            text = "%s %s" % (
                text,
                self.env._("As a transactional message it would go at once."),
            )
        return text

    def _may_send_transactional(self):
        """The user may switch this message to transactional: a Manager,
        with a template that is not marketing (see
        ``messaging.message._get_user_category``)."""
        self.ensure_one()
        return (
            self.env.user.has_group(MANAGER_GROUP)
            and self.template_id.category != "marketing"
        )

    def _get_record(self):
        self.ensure_one()
        if not self.res_model or self.res_model not in self.env or not self.res_id:
            return None
        return self.env[self.res_model].browse(self.res_id).exists()

    def _get_body_override(self):
        """The text to send as it stands in the composer (None: the
        template is sent as it is, its text or its ZBS parameters)."""
        self.ensure_one()
        if self.template_id.zalo_template_id or not self._is_free_text():
            return None
        return self.body or ""

    def _is_free_text(self):
        """The text (or subject) was written or changed by hand."""
        self.ensure_one()
        template = self.template_id
        if not template:
            return True
        if template.zalo_template_id:
            return False
        record = self._get_record()
        if not record or template.model != self.res_model:
            return True
        try:
            body, subject = self._render_text(record)
        except UserError:
            return True
        return (self.body or "") != (body or "") or (self.subject or "") != (
            subject or ""
        )

    def _render_text(self, record):
        """(body, subject) of the template on ``record``, by the renderer
        the queue sends with (False for a part the template has not)."""
        self.ensure_one()
        template = self.template_id
        parts = ("subject",) if template.zalo_template_id else ("body", "subject")
        values = rendering.render(template, record.ids, parts)[record.id]
        return values.get("body", False), values.get("subject", False)

    def _get_default_category(self):
        self.ensure_one()
        return self.env["messaging.message"]._get_default_category(
            self.template_id, self.res_model, free_text=self._is_free_text()
        )

    def _get_send_category(self):
        """The category the message is sent in: the Manager's pick, else
        the rules' (a user's value is not trusted)."""
        self.ensure_one()
        if self.env.user.has_group(MANAGER_GROUP) and self.category:
            return self.category
        return self._get_default_category()

    def _check_before_send(self):
        """Every refusal the queue would make, as a clear error, now."""
        self.ensure_one()
        record = self._get_record()
        if not record:
            raise UserError(_("The document to send about no longer exists."))
        record.check_access("read")
        if not self.partner_id:
            raise UserError(
                _("%s has no customer to send to: pick a recipient.")
                % record.display_name
            )
        self._check_channel_template(self.channel_id, self.template_id)
        self._check_template_for(self.template_id, self.res_model)
        if not self.template_id and not (self.body or "").strip():
            raise UserError(_("Write a message or pick a template."))
        preview = self._render_previews(
            self.channel_id,
            self.template_id,
            record,
            partner=self.partner_id,
            body=self._get_body_override(),
            category=self._get_send_category(),
        )[0]
        if preview["refusal"]:
            raise UserError(preview["refusal"])
        if preview["errors"]:
            raise UserError(
                _("The message cannot be sent:\n%s") % "\n".join(preview["errors"])
            )
        if preview["route"] not in ZBS_ROUTES and not (preview["body"] or "").strip():
            raise UserError(_("The message is empty."))

    def _prepare_message_values(self):
        self.ensure_one()
        vals = {
            "partner_id": self.partner_id.id,
            "channel_id": self.channel_id.id,
            "template_id": self.template_id.id,
            "res_model": self.res_model,
            "res_id": self.res_id,
            "user_id": self.env.uid,
        }
        body = self._get_body_override()
        if body is not None:
            vals["body"] = body
            vals["subject"] = self.subject or False
        vals["category"] = self._get_send_category()
        return vals

    def action_send(self):
        """Queue the message now; the queue's cron is woken up to send it."""
        self.ensure_one()
        self._check_before_send()
        Message = self.env["messaging.message"]
        message = Message.create(self._prepare_message_values())
        if message.state != "queued":
            raise UserError(
                _("The message cannot be sent: %s")
                % (message.error_message_display or message.failure_type)
            )
        Message._retrigger_cron()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": "%s %s"
                % (
                    _("Message to %(to)s queued on %(channel)s.")
                    % {
                        "to": self.partner_id.display_name,
                        "channel": self.channel_id.name,
                    },
                    waits.start_text(
                        self.env,
                        message.category,
                        *waits.next_start(self.channel_id, message.category),
                    ),
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
