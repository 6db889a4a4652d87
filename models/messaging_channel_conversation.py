from odoo import _, fields, models

from .models import USER_GROUP

DEFAULT_HANDOFF_KEYWORDS = "gặp nhân viên, nhân viên, tư vấn viên, gặp người thật"
DEFAULT_HANDOFF_MESSAGE = (
    "Cảm ơn bạn! Nhân viên của chúng tôi sẽ trả lời bạn trong ít phút."
)


class MessagingChannel(models.Model):
    _inherit = "messaging.channel"

    auto_reply_ids = fields.One2many(
        "messaging.auto.reply", "channel_id", string="Automatic answers"
    )
    handoff_keywords = fields.Char(
        "Ask for a person",
        default=DEFAULT_HANDOFF_KEYWORDS,
        help="Comma separated: a message with one of them goes to an agent at "
        "once. Accents, case and punctuation are ignored.",
    )
    handoff_message = fields.Text(
        "Hand-over message",
        default=DEFAULT_HANDOFF_MESSAGE,
        translate=True,
        help="Sent to the user when an automatic conversation goes to a person.",
    )
    conversation_count = fields.Integer(compute="_compute_conversation_count")

    def _compute_conversation_count(self):
        counts = dict(
            self.env["discuss.channel"]
            .sudo()
            ._read_group(
                [("messaging_channel_id", "in", self.ids)],
                ["messaging_channel_id"],
                ["__count"],
            )
        )
        for channel in self:
            channel.conversation_count = counts.get(channel, 0)

    def action_open_conversations(self):
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_conversation_action"
        )
        action["domain"] = [("messaging_channel_id", "=", self.id)]
        action["name"] = _("Conversations of %s") % self.name
        return action
