from odoo import fields, models


class MessagingChannel(models.Model):
    """The chatbot script an OA runs for its new conversations."""

    _inherit = "messaging.channel"

    chatbot_script_id = fields.Many2one(
        "chatbot.script",
        "Chatbot script",
        help="Odoo's chatbot script (Live Chat > Configuration > Chatbots) that "
        "answers a new conversation on Zalo: its texts, its questions as "
        "buttons, and a person when the customer asks for one.",
    )
    chatbot_when = fields.Selection(
        [
            ("always", "Every new conversation"),
            ("outside_hours", "Only outside the team's working hours"),
        ],
        "Chatbot runs",
        default="always",
        required=True,
    )
