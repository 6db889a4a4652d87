from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..providers.zalo import validate_template_params
from .messaging_channel import CHANNEL_TYPES

TEMPLATE_EDITOR_GROUP = "mail.group_mail_template_editor"


class MessagingTemplate(models.Model):
    _name = "messaging.template"
    _inherit = ["mail.render.mixin"]
    _description = "Messaging Template"
    _order = "name, id"
    _unrestricted_rendering = True

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    channel_type = fields.Selection(CHANNEL_TYPES, required=True, default="sandbox")
    company_id = fields.Many2one("res.company")
    model = fields.Selection(
        selection="_selection_model",
        string="Applies to",
        required=True,
        default="res.partner",
        help="The kind of record the template is written for (contacts, "
        "sales orders...); it is stored as the model's technical name.",
    )
    model_id = fields.Many2one(
        "ir.model",
        compute="_compute_model_id",
        string="Document model",
    )
    category = fields.Selection(
        [("transactional", "Transactional"), ("marketing", "Marketing")],
        required=True,
        default="marketing",
        help="Marketing messages obey quiet hours, caps and opt-outs; "
        "transactional ones (order confirmation...) do not.",
    )
    subject = fields.Char(translate=True, help="E-mail subject.")
    body = fields.Text(
        translate=True,
        help="Free text with {{ object.field }} placeholders (SMS, e-mail, "
        "consultation messages, sandbox).",
    )
    zalo_template_id = fields.Char("ZBS template id", index=True)
    zalo_route = fields.Selection(
        [
            ("phone", "By phone number (ZNS)"),
            ("uid", "By Zalo user id"),
            ("auto", "Cheapest available"),
        ],
        default="phone",
    )
    zalo_status = fields.Selection(
        [
            ("PENDING_REVIEW", "Pending review"),
            ("ENABLE", "Enabled"),
            ("REJECT", "Rejected"),
            ("DISABLE", "Disabled"),
            ("DELETE", "Deleted"),
        ],
        readonly=True,
        copy=False,
    )
    zalo_preview_url = fields.Char(readonly=True, copy=False)
    price_phone = fields.Float("Price by phone (VND)")
    price_uid = fields.Float("Price by Zalo user id (VND)")
    param_ids = fields.One2many(
        "messaging.template.param", "template_id", string="Parameters", copy=True
    )

    @api.depends("model")
    def _compute_render_model(self):
        for template in self:
            template.render_model = template.model

    @api.model
    def _selection_model(self):
        """Every model a template may render on, shown by its description
        (sudo: the list of models is not a secret, but ``ir.model`` is
        readable by administrators only)."""
        models = self.env["ir.model"].sudo().search([("transient", "=", False)])
        return sorted(((m.model, m.name) for m in models), key=lambda item: item[1])

    @api.depends("model")
    def _compute_model_id(self):
        for template in self:
            template.model_id = self.env["ir.model"]._get(template.model)

    @api.constrains("model")
    def _check_model(self):
        for template in self:
            if template.model not in self.env:
                raise ValidationError(
                    _("Model %(model)s does not exist (template %(name)s).")
                    % {"model": template.model, "name": template.name}
                )

    @api.constrains("channel_type", "body", "zalo_template_id")
    def _check_content(self):
        for template in self:
            if template.channel_type == "zalo":
                if not (
                    template.zalo_template_id
                    or template.body
                    or template._has_zbs_layout()
                ):
                    raise ValidationError(
                        _(
                            "Zalo template %s needs a ZBS template id (or a body for "
                            "consultation messages)."
                        )
                        % template.name
                    )
            elif not template.body:
                raise ValidationError(_("Template %s needs a body.") % template.name)

    def _has_zbs_layout(self):
        """Whether a ZBS layout is being composed here (see
        messaging_template_zbs.py)."""
        return False

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        return [
            dict(vals, name=self.env._("%s (copy)", template.name))
            for template, vals in zip(self, vals_list, strict=True)
        ]

    # ------------------------------------------------------------------
    # Who may write what (mail.render.mixin's rule, parameter lines included)
    # ------------------------------------------------------------------
    #
    # As mail.template and sms.template: ``_unrestricted_rendering`` trusts
    # what is stored, because every write is checked (the mixin's create,
    # write and translation hooks call _check_access_right_dynamic_template,
    # and so do the parameter lines' create and write). Outside Mail
    # Template Editor, only the expressions of the model's
    # mail_allowed_qweb_expressions() (plain fields such as
    # {{ object.name }}) may be written.

    def _get_unsafe_expressions(self):
        """[(where, text)]: the fields and parameter lines of this template
        that only a Mail Template Editor may write."""
        self.ensure_one()
        template = self.sudo()
        model = template.render_model
        found = []
        for fname, field in template._fields.items():
            engine = getattr(field, "render_engine", "inline_template")
            value = template[fname]
            if engine in ("qweb", "qweb_view"):
                unsafe = self._has_unsafe_expression_template_qweb(value, model)
            else:
                unsafe = self._has_unsafe_expression_template_inline_template(
                    value, model
                )
            if unsafe:
                found.append((field._description_string(self.env), str(value)))
        for param in template.param_ids:
            if self._has_unsafe_expression_template_inline_template(
                param.expression, model
            ):
                found.append((_("parameter %s", param.name), param.expression))
        return found

    def _has_unsafe_expression(self):
        return any(template._get_unsafe_expressions() for template in self)

    def _check_access_right_dynamic_template(self):
        """AccessError naming the field and the rule, unless the user may
        write any expression (Mail Template Editor, superuser)."""
        if self.env.su or self.env.user.has_group(TEMPLATE_EDITOR_GROUP):
            return
        for template in self:
            unsafe = template._get_unsafe_expressions()
            if not unsafe:
                continue
            where, text = unsafe[0]
            model = template.render_model
            allowed = ", ".join(
                "{{ %s }}" % expression
                for expression in self.env[model].mail_allowed_qweb_expressions()
            )
            raise AccessError(
                _(
                    "Template %(template)s, %(where)s: %(text)s is refused. Only "
                    "members of %(group)s may write expressions other than these "
                    "plain fields of %(model)s: %(allowed)s.",
                    template=template.name,
                    where=where,
                    text=text,
                    group=self.env.ref(TEMPLATE_EDITOR_GROUP).name,
                    model=self.env["ir.model"]._get(model).name or model,
                    allowed=allowed,
                )
            )

    # ------------------------------------------------------------------
    # Rendering
    # ------------------------------------------------------------------

    def _render_body(self, res_ids):
        """Rendered body per record id."""
        self.ensure_one()
        if not self.body:
            return dict.fromkeys(res_ids, "")
        return self._render_field("body", res_ids)

    def _render_params(self, res_ids):
        """{res_id: {param name: rendered value}}: the ZBS template_data.

        The lines render through the template, whose rendering trusts what
        is stored: they were checked with it on every write (see
        _get_unsafe_expressions)."""
        self.ensure_one()
        result = {res_id: {} for res_id in res_ids}
        for param in self.param_ids:
            if not param.expression:
                continue
            values = self._render_template(
                param.expression,
                self.model,
                res_ids,
                engine="inline_template",
            )
            for res_id in res_ids:
                result[res_id][param.name] = (values.get(res_id) or "").strip()
        return result

    def _check_params(self, values):
        """Errors (list of str) for template data, against the declared params."""
        self.ensure_one()
        return validate_template_params(self.param_ids._as_list_param(), values)
