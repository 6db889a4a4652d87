from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..providers.sms_text import split_keywords, text_matches


class MessagingAutoReply(models.Model):
    """A keyword rule of one OA: a matching message is answered at once."""

    _name = "messaging.auto.reply"
    _description = "Conversation Automatic Answer"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    channel_id = fields.Many2one(
        "messaging.channel",
        "Zalo OA",
        required=True,
        ondelete="cascade",
        index=True,
        domain=[("channel_type", "=", "zalo")],
    )
    company_id = fields.Many2one(related="channel_id.company_id", store=True)
    keywords = fields.Char(
        required=True,
        help="Comma separated. Accents, case and punctuation are ignored: "
        "'price' also matches 'PRICE' and 'Price?', and an accented word "
        "matches its spelling without accents.",
    )
    template_id = fields.Many2one(
        "messaging.template",
        "Answer",
        required=True,
        domain=[("body", "!=", False)],
        help="Its body (rendered on the customer) is sent as a free "
        "consultation message.",
    )

    @api.constrains("keywords")
    def _check_keywords(self):
        for rule in self:
            if not split_keywords(rule.keywords):
                raise ValidationError(
                    _("Automatic answer %s needs at least one keyword.") % rule.name
                )

    @api.constrains("template_id")
    def _check_template(self):
        for rule in self:
            if not rule.template_id.body:
                raise ValidationError(
                    _(
                        "Automatic answer %(rule)s: template %(template)s has no "
                        "body to send as a consultation message."
                    )
                    % {"rule": rule.name, "template": rule.template_id.name}
                )

    def _matches(self, text):
        self.ensure_one()
        return text_matches(text, split_keywords(self.keywords))

    def _render_answer(self, partner):
        """The answer's text for this customer (or for an unknown user)."""
        self.ensure_one()
        template = self.template_id
        if template.model == "res.partner" and partner:
            return template._render_body([partner.id])[partner.id]
        if "{{" not in (template.body or "") and "{%" not in (template.body or ""):
            return template.body
        return template._render_body([False])[False]
