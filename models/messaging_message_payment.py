from odoo import fields, models


class MessagingMessage(models.Model):
    """Payment requests and confirmations of sale orders
    (``engine/payments.py``)."""

    _inherit = "messaging.message"

    payment_kind = fields.Selection(
        [("request", "Payment request"), ("confirmation", "Payment confirmation")],
        readonly=True,
        index="btree_not_null",
        help="A payment request of its order, or the confirmation that the "
        "order was paid (sent once).",
    )
