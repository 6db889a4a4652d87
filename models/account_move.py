from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _invoice_paid_hook(self):
        """A paid invoice that settles its orders: their customers get the
        payment confirmation (``sale.order._messaging_payment_confirm``)."""
        res = super()._invoice_paid_hook()
        orders = self.sudo().invoice_line_ids.sale_line_ids.order_id
        orders.filtered(lambda o: o._messaging_is_paid())._messaging_payment_confirm()
        return res
