from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class MessagingChannel(models.Model):
    """The rating request an OA sends when an agent closes a conversation."""

    _inherit = "messaging.channel"

    rating_template_id = fields.Many2one(
        "messaging.template",
        "Rating request on closing",
        ondelete="set null",
        domain="[('channel_type', '=', 'zalo'), ('zbs_template_type', '=', '5'), "
        "('model', '=', 'res.partner'), ('zalo_template_id', '!=', False)]",
        help="A ZBS service rating template sent to the Zalo user (by user id) "
        "when an agent marks the conversation as done, if they wrote in the "
        "last 7 days. Their answer becomes an Odoo rating on the contact.",
    )

    @api.constrains("rating_template_id")
    def _check_rating_template(self):
        for channel in self.filtered("rating_template_id"):
            template = channel.rating_template_id
            if (
                template.channel_type != "zalo"
                or template.zbs_template_type != "5"
                or template.model != "res.partner"
                or not template.zalo_template_id
            ):
                raise ValidationError(
                    _(
                        "The rating request of %(channel)s must be a Zalo ZBS "
                        "template of type Service rating, on contacts, with its "
                        "ZBS template id (%(template)s is not).",
                        channel=channel.name,
                        template=template.name,
                    )
                )
