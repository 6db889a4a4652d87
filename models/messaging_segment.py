from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval


class MessagingSegment(models.Model):
    _name = "messaging.segment"
    _description = "Customer Group"
    _order = "name, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    company_id = fields.Many2one("res.company")
    domain = fields.Char(
        default="[]",
        required=True,
        help="Conditions on contacts that belong to this group.",
    )
    partner_count = fields.Integer("Contacts", compute="_compute_partner_count")

    @api.depends("domain")
    def _compute_partner_count(self):
        for segment in self:
            try:
                segment.partner_count = self.env["res.partner"].search_count(
                    segment._get_partner_domain()
                )
            except ValidationError:
                segment.partner_count = 0

    @api.constrains("domain")
    def _check_domain(self):
        for segment in self:
            segment._get_partner_domain()

    def _get_partner_domain(self):
        """The segment's domain as a list, validated against res.partner."""
        self.ensure_one()
        try:
            domain = safe_eval(self.domain or "[]", {"context": self.env.context})
            self.env["res.partner"]._where_calc(domain)
        except Exception as exc:
            raise ValidationError(
                _("The conditions of customer group %(name)s are not valid: %(error)s")
                % {"name": self.name, "error": exc}
            ) from exc
        return domain

    def _get_partners(self):
        """Union of the contacts of these groups (each contact once)."""
        partners = self.env["res.partner"]
        for segment in self:
            partners |= partners.search(segment._get_partner_domain())
        return partners

    def action_view_partners(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": "res.partner",
            "view_mode": "list,kanban,form",
            "domain": self._get_partner_domain(),
        }
