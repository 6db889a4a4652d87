from odoo import api, fields, models


class MessagingTemplateParam(models.Model):
    _name = "messaging.template.param"
    _description = "Messaging Template Parameter"
    _order = "sequence, id"

    template_id = fields.Many2one(
        "messaging.template", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    name = fields.Char(
        required=True, help="Parameter name as declared in the Zalo template."
    )
    expression = fields.Char(
        help="Inline template rendered on the record, e.g. {{ object.name }}."
    )
    param_type = fields.Selection(
        [
            ("STRING", "Text"),
            ("NUMBER", "Number"),
            ("DATE", "Date (dd/mm/yyyy)"),
            ("CURRENCY", "Currency"),
        ],
        string="Type",
        default="STRING",
    )
    zalo_param_kind = fields.Selection(
        [
            ("1", "Customer name"),
            ("2", "Phone number"),
            ("3", "Address"),
            ("4", "Code"),
            ("5", "Custom label"),
            ("6", "Transaction status"),
            ("7", "Contact"),
            ("8", "Gender / title"),
            ("9", "Product / brand"),
            ("10", "Quantity / amount"),
            ("11", "Time"),
            ("12", "OTP"),
            ("13", "URL"),
            ("14", "Currency (VND)"),
            ("15", "Bank transfer note"),
        ],
        string="Zalo type",
        help="The parameter's type declared to Zalo when the template is "
        "submitted from Odoo; it sets the longest value Zalo accepts.",
    )
    sample_value = fields.Char(
        help="Example value shown to Zalo's reviewers (and in the preview)."
    )
    required = fields.Boolean(default=True)
    max_length = fields.Integer(help="0 = no limit")
    min_length = fields.Integer()

    _sql_constraints = [
        (
            "name_unique",
            "UNIQUE(template_id, name)",
            "A template cannot declare the same parameter twice.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        params = super().create(vals_list)
        # the expressions render with the template's unrestricted rendering:
        # the same check as a write on the template itself
        params.template_id._check_access_right_dynamic_template()
        return params

    def write(self, vals):
        templates = self.template_id
        result = super().write(vals)
        (templates | self.template_id)._check_access_right_dynamic_template()
        return result

    def _as_list_param(self):
        """Same shape as Zalo's template `listParams`."""
        return [
            {
                "name": p.name,
                "require": p.required,
                "type": p.param_type or "STRING",
                "maxLength": p.max_length or 0,
                "minLength": p.min_length or 0,
            }
            for p in self
        ]
