from odoo import fields, models


class MessagingMessage(models.Model):
    _inherit = "messaging.message"

    failure_type = fields.Selection(
        selection_add=[("template", "Template not usable")],
        ondelete={"template": "set null"},
    )

    def _get_fallback_failure_types(self):
        # a template Zalo deleted or disabled: the next channel may reach them
        return (*super()._get_fallback_failure_types(), "template")
