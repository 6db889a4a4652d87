from odoo import models

from ..engine import payments
from .models import USER_GROUP


class SaleOrder(models.Model):
    """Pay without leaving the chat: a payment request over the cheapest
    route that reaches the customer, a confirmation once the order is
    paid (``engine/payments.py``)."""

    _inherit = "sale.order"

    def action_messaging_payment_request(self):
        """Queue a payment request to each order's customer (ZBS payment
        template, else VietQR in the Zalo conversation, else SMS with the
        order's link); the queue sends them."""
        self._check_messaging_group(USER_GROUP)
        self.check_access("read")
        if not self:
            return True
        queued = self.env["messaging.message"]
        for order in self:
            queued |= payments.queue_request(order)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "Payment request queued for %(count)s order(s): %(routes)s.",
                    count=len(self),
                    routes=", ".join(
                        sorted(
                            {
                                "%s (%s)" % (m.channel_id.name, m.route)
                                for m in queued.sudo()
                            }
                        )
                    ),
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _messaging_payment_confirm(self):
        """Tell the customers of the paid orders among ``self`` that their
        payment arrived, once per order, on the route of its request."""
        Message = self.env["messaging.message"].sudo()
        domain = [("res_model", "=", "sale.order"), ("res_id", "in", self.ids)]
        confirmed = set(
            Message.search(
                domain + [("payment_kind", "=", payments.CONFIRMATION)]
            ).mapped("res_id")
        )
        requests = Message.search(
            domain
            + [
                ("payment_kind", "=", payments.REQUEST),
                ("state", "not in", ("cancelled", "skipped")),
            ],
            order="id desc",
        )
        for order in self.sudo():
            request = requests.filtered(lambda m, o=order: m.res_id == o.id)[:1]
            if request and order.id not in confirmed:
                payments.queue_confirmation(order, request)

    def _messaging_is_paid(self):
        """Paid online (transactions) or by its posted invoices."""
        self.ensure_one()
        if self._is_paid() and self.amount_total:
            return True
        invoices = self.invoice_ids.filtered(
            lambda m: m.state == "posted" and m.move_type == "out_invoice"
        )
        return (
            self.invoice_status == "invoiced"
            and bool(invoices)
            and all(m.payment_state in ("paid", "in_payment") for m in invoices)
        )
