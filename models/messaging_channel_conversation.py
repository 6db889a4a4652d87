from odoo import _, api, fields, models
from odoo.tools import LazyTranslate

from .models import USER_GROUP

_lt = LazyTranslate(__name__)

# What Vietnamese customers type to ask for a person: data matched against
# their messages (accents, case and punctuation ignored), not a sentence shown
# to users, so written accent-free like the opt-out keywords.
DEFAULT_HANDOFF_KEYWORDS = "gap nhan vien, nhan vien, tu van vien, nguoi that, agent"
DEFAULT_HANDOFF_MESSAGE = _lt(
    "Thank you! One of our agents will answer you in a few minutes."
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
        default=lambda self: DEFAULT_HANDOFF_MESSAGE._translate(
            self.env.lang or "en_US"
        ),
        translate=True,
        help="Sent to the user when an automatic conversation goes to a person.",
    )
    conversation_count = fields.Integer(compute="_compute_conversation_count")

    @api.model_create_multi
    def create(self, vals_list):
        channels = super().create(vals_list)
        channels._fill_default_translations("handoff_message", DEFAULT_HANDOFF_MESSAGE)
        return channels

    def _text_for_customer(self, fname, partner):
        """A translated text of this channel sent to a customer: in their
        contact's language, else the company's (never the processing job's)."""
        self.ensure_one()
        lang = (partner and partner.lang) or self.company_id.partner_id.lang
        return self.with_context(lang=lang or self.env.lang)[fname]

    def _fill_default_translations(self, fname, default):
        """A translated default is written in the creator's language only;
        when the field kept it, store it in every installed language so that
        each customer reads it in their own (``default``: an ``_lt`` term)."""
        lang = self.env.lang or "en_US"
        langs = [code for code, _name in self.env["res.lang"].get_installed()]
        for channel in self:
            if channel[fname] == default._translate(lang):
                channel.update_field_translations(
                    fname, {code: default._translate(code) for code in langs}
                )

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
