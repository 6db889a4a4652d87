import logging
import secrets
from datetime import datetime, timedelta

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import terms, throttle
from ..providers import ProviderError, get_adapter
from .models import ADMIN_GROUP, USER_GROUP

_logger = logging.getLogger(__name__)

CHANNEL_TYPES = [
    ("zalo", "Zalo (ZBS template / OA)"),
    ("esms", "SMS brandname: eSMS"),
    ("speedsms", "SMS brandname: SpeedSMS"),
    ("email", "E-mail"),
    ("sandbox", "Sandbox (no account needed)"),
]
PHONE_CHANNEL_TYPES = ("zalo", "esms", "speedsms")
DEFAULT_MAX_IN_FLIGHT = 200


class MessagingChannel(models.Model):
    _name = "messaging.channel"
    _description = "Messaging Channel"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    channel_type = fields.Selection(
        CHANNEL_TYPES, string="Type", required=True, default="sandbox"
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    test_mode = fields.Boolean(
        help="Zalo: send ZBS templates with mode 'development' (only to the OA's "
        "admins, not charged). eSMS: use its sandbox flag.",
    )
    # Throttles
    rate_per_second = fields.Float(
        "Messages per second",
        default=10.0,
        help="Upper bound of messages handed to the provider per second "
        "(0 = no limit). Set this one or Seconds between messages: when both "
        "are set, the stricter one wins.",
    )
    min_interval_seconds = fields.Float(
        "Seconds between messages",
        default=0.0,
        help="Minimum spacing between two messages on this channel (0 = none); "
        "for a slow pace such as one message every 5 seconds. When both are "
        "set, the stricter limit wins.",
    )
    daily_cap = fields.Integer(
        help="Maximum messages per day (company time zone), 0 = no cap.",
    )
    max_in_flight = fields.Integer(
        "Requests in flight",
        default=DEFAULT_MAX_IN_FLIGHT,
        help="Requests one dispatcher keeps waiting for the provider's answer "
        "at once. Also the number of messages marked 'Sending' together: a "
        "crashed dispatcher leaves at most this many for review. 1 sends one "
        "message after another.",
    )
    resend_window_minutes = fields.Integer(
        "No re-send window (minutes)",
        default=1440,
        help="A marketing message is not sent twice to the same recipient with the "
        "same template within this window.",
    )
    recipient_daily_cap = fields.Integer(
        "Marketing messages per recipient per day",
        default=1,
        help="0 = no cap. Transactional messages are not counted.",
    )
    quiet_hours_start = fields.Float(
        default=21.0, help="Marketing messages are held from this hour (local time)."
    )
    quiet_hours_end = fields.Float(
        default=8.0, help="... until this hour (local time) the next morning."
    )
    max_attempts = fields.Integer(
        default=5, help="Transient errors are retried this many times in all."
    )
    delivery_timeout_minutes = fields.Integer(
        help="Fall back to the next channel when no delivery receipt arrived "
        "within this many minutes (0 = never)."
    )
    # Costs (VND)
    cost_per_message = fields.Monetary(
        help="Price of one message (ZBS by phone, e-mail...)."
    )
    cost_per_segment = fields.Monetary(help="SMS: price of one 160/70-char part.")
    cost_zalo_uid = fields.Monetary(
        "Cost of a ZBS template by Zalo user id", help="Zalo price_uid."
    )
    cost_zalo_consultation = fields.Monetary(
        "Cost of a paid consultation message",
        help="Consultation messages are free within 48 h of the user's last "
        "interaction and paid up to 7 days.",
    )
    # Provider hosts: real defaults, can be pointed at a staging or test server
    zalo_business_url = fields.Char(
        "Zalo Business API host", default="https://business.openapi.zalo.me"
    )
    zalo_openapi_url = fields.Char(
        "Zalo OA API host", default="https://openapi.zalo.me"
    )
    zalo_oauth_url = fields.Char("Zalo OAuth host", default="https://oauth.zaloapp.com")
    esms_url = fields.Char("eSMS API host", default="https://rest.esms.vn")
    speedsms_url = fields.Char("SpeedSMS API host", default="https://api.speedsms.vn")
    # Credentials: administrators only
    zalo_app_id = fields.Char("Zalo App ID", groups=ADMIN_GROUP)
    zalo_app_secret = fields.Char("Zalo App secret key", groups=ADMIN_GROUP)
    zalo_oa_id = fields.Char("Zalo OA ID")
    zalo_oa_secret_key = fields.Char(
        "Zalo OA secret key", groups=ADMIN_GROUP, help="Signs the webhook calls."
    )
    zalo_access_token = fields.Char(groups=ADMIN_GROUP, copy=False)
    zalo_refresh_token = fields.Char(groups=ADMIN_GROUP, copy=False)
    zalo_token_expires_at = fields.Datetime(groups=ADMIN_GROUP, copy=False)
    esms_api_key = fields.Char("eSMS API key", groups=ADMIN_GROUP)
    esms_secret_key = fields.Char("eSMS secret key", groups=ADMIN_GROUP)
    esms_brandname = fields.Char("eSMS brandname")
    esms_sms_type = fields.Selection(
        [("2", "Customer care (brandname)"), ("1", "Advertising (brandname)")],
        default="2",
    )
    speedsms_access_token = fields.Char("SpeedSMS access token", groups=ADMIN_GROUP)
    speedsms_sender = fields.Char("SpeedSMS sender (brandname)")
    speedsms_sms_type = fields.Selection(
        [
            ("2", "Customer care, random number"),
            ("3", "Brandname"),
            ("4", "Brandname notify (default brandname)"),
            ("5", "App Android"),
        ],
        default="3",
    )
    strip_accents = fields.Boolean(
        "Strip Vietnamese accents",
        help="Send SMS without diacritics: 160 characters per part instead of 70.",
    )
    # Sandbox behaviour
    sandbox_fail_ratio = fields.Float(
        "Share failed", default=0.1, help="Share of messages the sandbox refuses."
    )
    sandbox_read_ratio = fields.Float(
        "Share read", default=0.5, help="Share of delivered messages later read."
    )
    # Webhook
    webhook_token = fields.Char(
        groups=ADMIN_GROUP,
        copy=False,
        readonly=True,
        default=lambda self: secrets.token_urlsafe(24),
    )
    webhook_url = fields.Char(
        compute="_compute_webhook_url",
        groups=ADMIN_GROUP,
        help="Paste this URL into the provider's webhook settings.",
    )
    # Provider state
    quota_daily = fields.Integer(readonly=True, copy=False)
    quota_remaining = fields.Integer(readonly=True, copy=False)
    quota_updated_at = fields.Datetime(readonly=True, copy=False)
    paused_until = fields.Datetime(
        readonly=True,
        copy=False,
        help="The queue holds this channel's messages until then (quota reached).",
    )
    message_count = fields.Integer(compute="_compute_message_count")
    # Shared throttle state, written under a row lock by every dispatcher
    throttle_next_ts = fields.Float(
        readonly=True, copy=False, help="Epoch time of the next free send slot."
    )
    throttle_day = fields.Char(readonly=True, copy=False)
    throttle_day_count = fields.Integer(
        "Sent today", readonly=True, copy=False, help="Counted against the daily cap."
    )
    sandbox_receipt_delay = fields.Integer(
        "Receipt delay (seconds)",
        help="Sandbox: delivery receipts arrive this long after the send.",
    )
    # Lost answers (the request may have reached the provider)
    timeout_connect = fields.Float(
        "Connect timeout (seconds)",
        default=5.0,
        help="A connection not made within this time was not sent: retried.",
    )
    timeout_read = fields.Float(
        "Answer timeout (seconds)",
        default=20.0,
        help="No answer within this time after the request left: the outcome "
        "is unknown and the message is not resent blindly.",
    )
    unknown_receipt_minutes = fields.Integer(
        "Wait for a receipt (minutes)",
        default=30,
        help="When the answer to a message was lost and the provider's "
        "delivery receipt names it (ZBS by phone), wait this long for the "
        "receipt before holding the message for a Manager (0 = hold at once).",
    )
    unknown_count = fields.Integer(
        "Outcome unknown",
        compute="_compute_unknown_count",
        help="Messages whose outcome is unknown, waiting for a receipt or a "
        "Manager's decision.",
    )

    _sql_constraints = [
        (
            "rate_per_second_positive",
            "CHECK(rate_per_second >= 0)",
            "Messages per second cannot be negative.",
        ),
        (
            "min_interval_positive",
            "CHECK(min_interval_seconds >= 0)",
            "Seconds between messages cannot be negative.",
        ),
        (
            "max_in_flight_positive",
            "CHECK(max_in_flight >= 1)",
            "At least one request must be allowed in flight.",
        ),
        (
            "daily_cap_positive",
            "CHECK(daily_cap >= 0)",
            "Daily cap cannot be negative.",
        ),
        (
            "sandbox_ratios",
            "CHECK(sandbox_fail_ratio >= 0 AND sandbox_fail_ratio <= 1 "
            "AND sandbox_read_ratio >= 0 AND sandbox_read_ratio <= 1)",
            "Sandbox shares are between 0 and 1.",
        ),
        (
            "quiet_hours_range",
            "CHECK(quiet_hours_start >= 0 AND quiet_hours_start < 24 "
            "AND quiet_hours_end >= 0 AND quiet_hours_end < 24)",
            "Quiet hours are between 0:00 and 23:59.",
        ),
        (
            "webhook_token_unique",
            "UNIQUE(webhook_token)",
            "The webhook token must be unique.",
        ),
    ]

    @api.depends("channel_type", "webhook_token")
    def _compute_webhook_url(self):
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        for channel in self:
            token = channel.sudo().webhook_token
            channel.webhook_url = (
                f"{base_url}/messaging/webhook/{channel.channel_type}/{token}"
                if token and channel.channel_type
                else False
            )

    def _compute_message_count(self):
        counts = dict(
            self.env["messaging.message"]._read_group(
                [("channel_id", "in", self.ids)], ["channel_id"], ["__count"]
            )
        )
        for channel in self:
            channel.message_count = counts.get(channel, 0)

    def _compute_unknown_count(self):
        counts = dict(
            self.env["messaging.message"]._read_group(
                [("channel_id", "in", self.ids), ("state", "=", "unknown")],
                ["channel_id"],
                ["__count"],
            )
        )
        for channel in self:
            channel.unknown_count = counts.get(channel, 0)

    # ------------------------------------------------------------------
    # Provider access
    # ------------------------------------------------------------------

    def _get_provider_config(self):
        """Plain data for the adapter: hosts, credentials, options."""
        self.ensure_one()
        channel = self.sudo()
        return {
            "zalo_app_id": channel.zalo_app_id,
            "zalo_app_secret": channel.zalo_app_secret,
            "zalo_oa_secret_key": channel.zalo_oa_secret_key,
            "zalo_access_token": channel.zalo_access_token,
            "zalo_refresh_token": channel.zalo_refresh_token,
            "zalo_business_url": channel.zalo_business_url,
            "zalo_openapi_url": channel.zalo_openapi_url,
            "zalo_oauth_url": channel.zalo_oauth_url,
            "zalo_dev_mode": channel.test_mode,
            "esms_api_key": channel.esms_api_key,
            "esms_secret_key": channel.esms_secret_key,
            "esms_brandname": channel.esms_brandname,
            "esms_url": channel.esms_url,
            "esms_sms_type": channel.esms_sms_type,
            "esms_sandbox": channel.test_mode,
            "speedsms_access_token": channel.speedsms_access_token,
            "speedsms_sender": channel.speedsms_sender,
            "speedsms_url": channel.speedsms_url,
            "speedsms_sms_type": int(channel.speedsms_sms_type or 3),
            "strip_accents": channel.strip_accents,
            "sandbox_fail_ratio": channel.sandbox_fail_ratio,
            "sandbox_read_ratio": channel.sandbox_read_ratio,
            "timeout_connect": channel.timeout_connect,
            "timeout_read": channel.timeout_read,
        }

    def _get_adapter(self, session=None, **overrides):
        """The provider adapter, on ``session`` (an HTTP session shared by
        threads) or the calling thread's own; ``overrides``: config values."""
        self.ensure_one()
        if self.channel_type == "email":
            raise UserError(
                _("E-mail channels send through Odoo's outgoing mail server.")
            )
        return get_adapter(
            self.channel_type,
            dict(self._get_provider_config(), **overrides),
            session=session,
        )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def _notify(self, title, message, kind="success"):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": kind,
                "sticky": kind != "success",
            },
        }

    def action_test_connection(self):
        self._check_messaging_group(ADMIN_GROUP)  # uses the credentials
        self.ensure_one()
        if self.channel_type == "email":
            server = self.env["ir.mail_server"].sudo().search([], limit=1)
            if not server:
                self.sudo().connection_tested_at = fields.Datetime.now()
                return self._notify(
                    _("Connection test"),
                    _("Odoo's default outgoing mail configuration is used."),
                )
            try:
                smtp = server._connect__(mail_server_id=server.id)
                smtp.quit()
            except Exception as exc:  # noqa: BLE001 - shown to the admin
                raise UserError(
                    _("Cannot reach mail server %(name)s: %(error)s")
                    % {"name": server.name, "error": exc}
                ) from exc
            self.sudo().connection_tested_at = fields.Datetime.now()
            return self._notify(_("Connection test"), _("Mail server reachable."))
        self._check_connection_ready()  # messaging_channel_setup.py
        try:
            text = self._get_adapter().test_connection()
        except ProviderError as exc:
            raise UserError(self._connection_error_text(exc)) from exc
        self.sudo().connection_tested_at = fields.Datetime.now()
        return self._notify(_("Connection test"), terms.translated(self.env, text))

    def action_refresh_token(self):
        self._check_messaging_group(ADMIN_GROUP)  # spends the refresh token
        self.ensure_one()
        if self.channel_type != "zalo":
            raise UserError(_("Only Zalo channels use OAuth tokens."))
        try:
            self._refresh_zalo_token(force=True)
        except ProviderError as exc:
            raise UserError(
                _("Zalo refused to refresh the token of %(channel)s: %(error)s")
                % {"channel": self.name, "error": terms.error_text(self.env, exc)}
            ) from exc
        return self._notify(
            _("Token refreshed"),
            _("New access token valid until %s (UTC).")
            % self.sudo().zalo_token_expires_at,
        )

    def action_sync_templates(self):
        # calls Zalo with the access token, which it may refresh
        self._check_messaging_group(ADMIN_GROUP)
        self.ensure_one()
        if self.channel_type != "zalo":
            raise UserError(_("Only Zalo channels have templates to synchronise."))
        try:
            count = self._sync_zalo_templates()
        except ProviderError as exc:
            raise UserError(
                _("Template sync failed for %(channel)s: %(error)s")
                % {"channel": self.name, "error": terms.error_text(self.env, exc)}
            ) from exc
        return self._notify(
            _("Templates synchronised"), _("%s templates updated.") % count
        )

    def action_view_messages(self):
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_message_action"
        )
        action["domain"] = [("channel_id", "=", self.id)]
        action["context"] = {"default_channel_id": self.id}
        return action

    def action_resume(self):
        """Lift a quota pause by hand."""
        self._check_messaging_group(ADMIN_GROUP)
        self.paused_until = False

    # ------------------------------------------------------------------
    # Business
    # ------------------------------------------------------------------

    def _is_paused(self, now=None):
        self.ensure_one()
        now = now or fields.Datetime.now()
        return bool(self.paused_until and self.paused_until > now)

    def _tz(self):
        """The company's time zone (daily caps, quiet hours), Vietnam by default."""
        return pytz.timezone(self.company_id.partner_id.tz or "Asia/Ho_Chi_Minh")

    def _local_now(self, now=None):
        now = now or fields.Datetime.now()
        return pytz.utc.localize(now).astimezone(self._tz())

    def _to_utc_naive(self, local_dt):
        return local_dt.astimezone(pytz.utc).replace(tzinfo=None)

    def _next_local_time(self, hour_float, now=None):
        """Next UTC (naive) datetime at ``hour_float`` o'clock local time."""
        local = self._local_now(now)
        hours, minutes = int(hour_float), round((hour_float % 1) * 60)
        target = local.tzinfo.localize(
            datetime(local.year, local.month, local.day, hours, minutes)
        )
        if target <= local:
            target = local.tzinfo.normalize(target + timedelta(days=1))
            target = local.tzinfo.localize(
                datetime(target.year, target.month, target.day, hours, minutes)
            )
        return self._to_utc_naive(target)

    def _in_quiet_hours(self, now=None):
        """True when marketing messages must wait (e.g. 21:00-08:00 local)."""
        self.ensure_one()
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if start == end:
            return False
        local = self._local_now(now)
        hour = local.hour + local.minute / 60.0
        if start < end:
            return start <= hour < end
        return hour >= start or hour < end

    def _get_max_in_flight(self):
        self.ensure_one()
        return max(self.max_in_flight or DEFAULT_MAX_IN_FLIGHT, 1)

    def _overlaps_groups(self):
        """True when a dispatcher starts a group of this channel while the
        previous one waits for its answers (engine/dispatch.py send_group):
        not on a throttled channel, whose next group may wait for its slots
        while the answers of the previous one wait uncommitted."""
        self.ensure_one()
        return self._get_max_in_flight() >= 2 and not throttle.has_throttle(self)

    def _get_group_size(self):
        """Messages marked ``sending`` (and their results) per commit. The
        requests in flight are those of at most two groups
        (``_overlaps_groups``), else of one; e-mail: 1 (Odoo's mail queue).

        A crash leaves at most ``max_in_flight`` rows in ``sending``; the
        recovery (engine/claim.py recover_stale_sending) resends none of
        them blindly.
        """
        self.ensure_one()
        if self.channel_type == "email":
            return 1
        if self._overlaps_groups():
            return self._get_max_in_flight() // 2
        return self._get_max_in_flight()

    def _default_retry_delay(self, attempt):
        """Backoff pattern for transient errors: 1 min, 5 min, 15 min, 1 h..."""
        pattern = [60, 300, 900, 3600, 3600 * 3]
        return timedelta(seconds=pattern[min(attempt, len(pattern)) - 1])
