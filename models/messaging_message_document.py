from odoo import api, fields, models


class MessagingMessage(models.Model):
    """The document a message is about, shown by the kind of record it is
    ("Sales Order"), not by its model's technical name."""

    _inherit = "messaging.message"

    res_model_name = fields.Char(
        "Document type", compute="_compute_res_model_name", compute_sudo=True
    )

    @api.depends("res_model")
    def _compute_res_model_name(self):
        # sudo (compute_sudo): ir.model is readable by administrators only
        IrModel = self.env["ir.model"]
        for message in self:
            model = IrModel._get(message.res_model) if message.res_model else None
            message.res_model_name = model.name if model else message.res_model
