from odoo import api, fields, models

from ..engine import coupons


class MessagingMessage(models.Model):
    """The recipient's own coupon (Odoo's ``loyalty.card``), shared by the
    fallback messages of one recipient; archived when none of them is sent."""

    _inherit = "messaging.message"

    coupon_id = fields.Many2one(
        "loyalty.card",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The recipient's own coupon of the campaign's or automation's "
        "loyalty program: its code and expiry replace [coupon_code] and "
        "[coupon_expiry] in the message.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        card_id = self.env.su and self.env.context.get("messaging_coupon_id")
        if card_id:
            # an automation's message and its fallbacks (the queue's own
            # rows, made as superuser): the coupon made for it
            for vals in vals_list:
                vals.setdefault("coupon_id", card_id)
        return super().create(vals_list)

    def _set_failed(self, failure_type, text, code=None, state="failed"):
        result = super()._set_failed(failure_type, text, code=code, state=state)
        coupons.release(self.env, self.filtered("coupon_id").ids)
        return result

    def unlink(self):
        # the cards of messages deleted before they were sent: nobody has
        # their code (unless another of the recipient's messages went out)
        unsent = self.filtered(
            lambda m: m.coupon_id and m.state not in coupons.RECEIVED_STATES
        )
        card_ids = unsent.coupon_id.ids
        result = super().unlink()
        coupons.release_cards(self.env, card_ids)
        return result

    def action_cancel(self):
        result = super().action_cancel()
        coupons.release(self.env, self.filtered("coupon_id").ids)
        return result

    def action_retry(self):
        result = super().action_retry()
        coupons.revive(self)
        return result
