from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

# where the recipient's own survey link goes in a template's text or in a
# ZBS parameter's expression: replaced after the rendering, so a Messaging
# Manager without the Mail Template Editor rights can use it (it is no
# expression for mail.render.mixin)
SURVEY_PLACEHOLDER = "[survey_url]"


class MessagingTemplate(models.Model):
    _inherit = "messaging.template"

    survey_id = fields.Many2one(
        "survey.survey",
        ondelete="set null",
        help="Each recipient gets their own answer of this survey: write "
        "[survey_url] in the text, or as a parameter's expression, where the "
        "link to it goes.",
    )

    @api.constrains("survey_id", "body", "param_ids")
    def _check_survey_placeholder(self):
        for template in self.filtered("survey_id"):
            texts = [template.body or "", *template.param_ids.mapped("expression")]
            if not any(SURVEY_PLACEHOLDER in (text or "") for text in texts):
                raise ValidationError(
                    _(
                        "Template %(template)s carries a survey: write %(placeholder)s "
                        "in its text or as a parameter's expression, where each "
                        "recipient's survey link goes.",
                        template=template.name,
                        placeholder=SURVEY_PLACEHOLDER,
                    )
                )
