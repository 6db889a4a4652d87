from odoo import models


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    def _set_done(self, state_message=None, extra_allowed_states=()):
        """A transaction that pays its orders: their customers get the
        payment confirmation (``sale.order._messaging_payment_confirm``)."""
        done = super()._set_done(
            state_message=state_message, extra_allowed_states=extra_allowed_states
        )
        orders = done.sudo().sale_order_ids
        orders.filtered(lambda o: o._messaging_is_paid())._messaging_payment_confirm()
        return done
