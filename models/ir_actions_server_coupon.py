import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..engine import coupons

_logger = logging.getLogger(__name__)


class IrActionsServer(models.Model):
    """A "Send message (multi-channel)" action may give each message its own
    coupon of an Odoo loyalty program."""

    _inherit = "ir.actions.server"

    messaging_loyalty_program_id = fields.Many2one(
        "loyalty.program",
        string="Coupon program",
        ondelete="set null",
        domain="[('program_type', 'in', ('coupons', 'promotion'))]",
        help="Each message gets its own coupon of this program (a Coupons "
        "program, or a Promotions program used with a code): write "
        "[coupon_code] and [coupon_expiry] in the templates to show it.",
    )
    messaging_coupon_validity_days = fields.Integer(
        "Coupon validity (days)",
        default=30,
        help="Each coupon expires this many days after its message is queued, "
        "never after the program's end date (0: the program's end date only).",
    )

    @api.constrains("state", "messaging_loyalty_program_id")
    def _check_messaging_loyalty_program(self):
        for action in self.filtered(lambda a: a.state == "messaging"):
            program = action.messaging_loyalty_program_id
            coupons.check_program(
                program,
                program.company_id,
                self.env._("Action %s", action.name),
            )
            if action.messaging_coupon_validity_days < 0:
                raise ValidationError(
                    self.env._(
                        "Action %s: the coupon validity cannot be negative.",
                        action.name,
                    )
                )

    def _messaging_queue(self, document, partner, steps):
        """The message (and its fallbacks) get one new coupon of the
        action's program, made before it is rendered; archived again when
        nothing of it is sent."""
        program = self.messaging_loyalty_program_id
        if not program or not partner:
            return super()._messaging_queue(document, partner, steps)
        company = self.env.company
        if "company_id" in document._fields and document.company_id:
            company = document.company_id
        if program.company_id and program.company_id != company:
            _logger.warning(
                "Server action %s: loyalty program %s belongs to another "
                "company than %s: sent without a coupon.",
                self.id,
                program.id,
                document,
            )
            return super()._messaging_queue(document, partner, steps)
        card = coupons.issue_for_automation(
            program, self.messaging_coupon_validity_days, partner
        )
        # read by messaging.message.create, for the queue's own (superuser)
        # creations only: the runner runs as superuser
        action = self.with_context(messaging_coupon_id=card.id)
        messages = super(IrActionsServer, action)._messaging_queue(
            document, partner, steps
        )
        coupons.release(self.env, messages.ids)
        return messages
