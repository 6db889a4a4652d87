import secrets

from odoo import api, fields, models
from odoo.tools import LazyTranslate

from ..providers.sms_text import normalize_keyword
from .models import ADMIN_GROUP, MANAGER_GROUP

_lt = LazyTranslate(__name__)

# How the X-ZEvent-Signature mac is built: the guides disagree on the first
# and last terms, so each known variant can be chosen (or all tried).
SIGNATURE_VARIANTS = [
    ("app_id", "App ID + body + timestamp + OA secret key (documented)"),
    ("oa_id", "OA ID + body + timestamp + OA secret key"),
    ("app_secret", "App ID + body + timestamp + App secret key"),
    ("any", "Any of the above (the log says which one matched)"),
]
DEFAULT_OPT_OUT_KEYWORDS = "HUY, HUY QC, TU CHOI, DUNG, STOP, UNSUBSCRIBE"
DEFAULT_OPT_OUT_CONFIRMATION = _lt(
    "You will no longer receive promotions. You will still receive notices "
    "about your orders."
)


class MessagingChannel(models.Model):
    _inherit = "messaging.channel"

    zalo_signature_variant = fields.Selection(
        SIGNATURE_VARIANTS,
        "Webhook signature",
        default="any",
        required=True,
        help="How Zalo's X-ZEvent-Signature mac is computed. Sources disagree; "
        "'Any' accepts every known variant and logs the one that matched, so "
        "it can be narrowed once live traffic tells which one Zalo uses.",
    )
    webhook_max_age_seconds = fields.Integer(
        "Maximum event age (seconds)",
        default=86400,
        help="Webhook calls whose body timestamp is older are refused (0 = no "
        "limit). Zalo redelivers an unanswered event for hours with its original "
        "timestamp, so keep this above its retry window.",
    )
    zalo_verifier_code = fields.Char(
        "Zalo domain verification code",
        copy=False,
        help="Served as /zalo_verifier<code>.html at the site root, as the Zalo "
        "developer console asks for domain verification.",
    )
    opt_out_keywords = fields.Char(
        default=DEFAULT_OPT_OUT_KEYWORDS,
        help="Comma-separated. A user message equal to one of these (case, "
        "accents and punctuation ignored: 'huy!', 'Huy' and the accented "
        "spellings all match 'HUY') "
        "opts the contact out of marketing on this channel.",
    )
    opt_out_confirmation = fields.Text(
        translate=True,
        default=lambda self: DEFAULT_OPT_OUT_CONFIRMATION._translate(
            self.env.lang or "en_US"
        ),
        help="Sent once to the user who opted out (consultation message). "
        "Empty = no confirmation.",
    )
    webhook_event_count = fields.Integer(compute="_compute_webhook_event_count")

    @api.model_create_multi
    def create(self, vals_list):
        channels = super().create(vals_list)
        channels._fill_default_translations(
            "opt_out_confirmation", DEFAULT_OPT_OUT_CONFIRMATION
        )
        return channels

    def _compute_webhook_event_count(self):
        counts = dict(
            self.env["messaging.event"]
            .sudo()
            ._read_group([("channel_id", "in", self.ids)], ["channel_id"], ["__count"])
        )
        for channel in self:
            channel.webhook_event_count = counts.get(channel, 0)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_regenerate_webhook_token(self):
        """New secret URL (the old one stops working at once)."""
        self._check_messaging_group(ADMIN_GROUP)
        for channel in self:
            channel.sudo().webhook_token = secrets.token_urlsafe(24)

    def action_view_webhook_events(self):
        self._check_messaging_group(MANAGER_GROUP)
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_event_action"
        )
        action["domain"] = [("channel_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Webhook helpers
    # ------------------------------------------------------------------

    def _get_opt_out_keywords(self):
        self.ensure_one()
        return {
            normalize_keyword(word)
            for word in (self.opt_out_keywords or "").split(",")
            if normalize_keyword(word)
        }

    def _is_opt_out_text(self, text):
        self.ensure_one()
        normalized = normalize_keyword(text)
        return bool(normalized) and normalized in self._get_opt_out_keywords()
