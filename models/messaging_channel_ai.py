"""An OA's OpenAI-compatible endpoint for the chatbot's "AI answer" step.

Nothing is configured by default: without a base URL, a key and a model the
step hands the conversation to a person. The key is a credential like the
Zalo secrets: readable and writable by Messaging Administrators only, never
logged, never in an error text (``providers/ai_chat.py``).
"""

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..engine import terms
from ..providers.ai_chat import AiChatClient, AiError
from .models import ADMIN_GROUP

AI_MODES = [
    ("send", "Send the answer to the customer"),
    ("draft", "Draft it for the agent"),
]


class MessagingChannel(models.Model):
    _inherit = "messaging.channel"

    ai_base_url = fields.Char(
        "AI endpoint",
        help="Base URL of an OpenAI-compatible chat-completions API, e.g. "
        "https://api.openai.com/v1 (the step calls <URL>/chat/completions). "
        "Empty: no AI answers, the chatbot's AI step hands over to a person.",
    )
    ai_api_key = fields.Char("AI API key", groups=ADMIN_GROUP, copy=False)
    ai_model = fields.Char("AI model", help="e.g. gpt-4o-mini")
    ai_mode = fields.Selection(
        AI_MODES,
        "AI answers",
        default="send",
        required=True,
        help="Send: the answer goes to the customer at once. Draft: it is shown "
        "to the agents in the conversation, and an agent answers.",
    )
    ai_timeout = fields.Integer(
        "AI timeout (seconds)",
        default=15,
        help="The longest wait for the AI endpoint; without an answer by then "
        "a person takes over. Keep it short: the customer is waiting.",
    )

    _sql_constraints = [
        (
            "ai_timeout_range",
            "CHECK(ai_timeout IS NULL OR (ai_timeout >= 1 AND ai_timeout <= 60))",
            "The AI timeout is between 1 and 60 seconds.",
        ),
    ]

    def _ai_configured(self):
        self.ensure_one()
        channel = self.sudo()
        return bool(channel.ai_base_url and channel.ai_api_key and channel.ai_model)

    def _ai_client(self, timeout=None):
        """The chat-completions client of this OA (reads the key as
        superuser); ``timeout``: seconds, the OA's own by default."""
        self.ensure_one()
        channel = self.sudo()
        return AiChatClient(
            {
                "base_url": channel.ai_base_url,
                "api_key": channel.ai_api_key,
                "model": channel.ai_model,
                "timeout": timeout or channel.ai_timeout or 15,
            }
        )

    def action_ai_test_connection(self):
        """Check the AI endpoint, key and model (lists the endpoint's models)."""
        self._check_messaging_group(ADMIN_GROUP)  # uses the key
        self.ensure_one()
        if not self._ai_configured():
            raise UserError(
                _(
                    "Fill in the AI endpoint, the AI API key and the AI model of "
                    "%s first.",
                    self.name,
                )
            )
        try:
            text = self._ai_client().test_connection()
        except AiError as exc:
            raise UserError(
                _(
                    "AI endpoint of %(channel)s: %(error)s",
                    channel=self.name,
                    error=terms.error_text(self.env, exc),
                )
            ) from None
        return self._notify(_("AI connection test"), terms.translated(self.env, text))
