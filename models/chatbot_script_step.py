from odoo import fields, models


class ChatbotScriptStep(models.Model):
    """A step that answers with the customer's recent orders (on Zalo)."""

    _inherit = "chatbot.script.step"

    step_type = fields.Selection(
        selection_add=[("order_status", "Order status")],
        ondelete={"order_status": "cascade"},
    )
