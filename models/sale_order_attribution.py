from odoo import models

from ..engine import attribution


class SaleOrder(models.Model):
    """A confirmed order counts at once in the revenue of the campaigns that
    brought it; a cancelled one drops out (``engine/attribution.py``; the
    results cron's passes give the same rows)."""

    _inherit = "sale.order"

    def action_confirm(self):
        result = super().action_confirm()
        attribution.attribute_orders(self)
        return result

    def _action_cancel(self):
        result = super()._action_cancel()
        attribution.forget_orders(self.env["messaging.campaign"], self.ids)
        return result
