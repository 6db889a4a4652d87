"""Set-up that guides: a checklist per channel type (each line ticked when
done), the webhook URL checked for public HTTPS, the last inbound event,
the throttles explained, and the precise error of "Test Connection"
(missing credential, refused credential, provider unreachable)."""

import ipaddress
from urllib.parse import urlsplit

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine import terms
from ..providers.base import AUTH
from ..providers.esms import ESMS_CODES
from ..providers.speedsms import SPEEDSMS_CODES
from ..providers.zalo_codes import ZALO_ERRORS

# transport reasons (providers/transport.py) meaning "the provider was not
# reached, or did not answer"
UNREACHABLE_REASONS = frozenset(
    {"connection", "timeout", "read_timeout", "connection_lost", "gateway_timeout"}
)
# fields whose change makes an earlier successful "Test Connection" stale
CONNECTION_FIELDS = frozenset(
    {
        "channel_type",
        "zalo_access_token",
        "zalo_openapi_url",
        "esms_api_key",
        "esms_secret_key",
        "esms_url",
        "speedsms_access_token",
        "speedsms_url",
    }
)
LOCAL_HOST_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa")


def _auth_codes(table):
    return frozenset(str(code) for code, row in table.items() if row[0] == AUTH)


AUTH_CODES = {
    "zalo": _auth_codes(ZALO_ERRORS),
    "esms": _auth_codes(ESMS_CODES),
    "speedsms": _auth_codes(SPEEDSMS_CODES),
}


def url_problem(url):
    """Why providers cannot call ``url`` from the Internet: ``"scheme"``
    (not HTTPS), ``"host"`` (localhost, a private or loopback address, a
    local name), ``"missing"``; or None."""
    if not url:
        return "missing"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "missing"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        local = host == "localhost" or "." not in host
        if local or host.endswith(LOCAL_HOST_SUFFIXES):
            return "host"
    else:
        if not address.is_global:
            return "host"
    if parts.scheme != "https":
        return "scheme"
    return None


class MessagingChannel(models.Model):
    _inherit = "messaging.channel"

    setup_webhook_saved = fields.Boolean(
        "Webhook URL saved at the provider",
        copy=False,
        help="Tick once the webhook URL is pasted in the provider's console "
        "(Zalo developer console, SpeedSMS dashboard). The first event "
        "received ticks the checklist line too.",
    )
    connection_tested_at = fields.Datetime(
        "Connection tested",
        copy=False,
        readonly=True,
        help="Last successful Test Connection (cleared when a credential or "
        "the API host changes).",
    )
    webhook_last_event_at = fields.Datetime(
        "Last event received", compute="_compute_webhook_last_event"
    )
    webhook_last_event_name = fields.Char(
        "Last event", compute="_compute_webhook_last_event"
    )
    webhook_url_warning = fields.Char(
        "Webhook warning", compute="_compute_webhook_url_warning"
    )
    setup_checklist = fields.Html(
        "Set-up checklist",
        compute="_compute_setup_checklist",
        compute_sudo=True,
        sanitize=False,
    )
    setup_done = fields.Boolean(
        "Set-up complete", compute="_compute_setup_checklist", compute_sudo=True
    )
    throttle_summary = fields.Char("Sending pace", compute="_compute_throttle_summary")

    def write(self, vals):
        if CONNECTION_FIELDS.intersection(vals) and "connection_tested_at" not in vals:
            vals = dict(vals, connection_tested_at=False)
        return super().write(vals)

    # ------------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------------

    def _compute_webhook_last_event(self):
        """One query for all the channels, one index probe per channel
        (``messaging_event_channel_id_id_index``): not proportional to the
        number of events."""
        last = {}
        ids = [channel_id for channel_id in self.ids if channel_id]
        if ids:
            self.env["messaging.event"].flush_model(
                ["channel_id", "received_at", "event_name"]
            )
            self.env.cr.execute(
                SQL(
                    "SELECT c.id, e.received_at, e.event_name"
                    "  FROM unnest(%s::int[]) AS c(id)"
                    "  JOIN LATERAL (SELECT received_at, event_name"
                    "                  FROM messaging_event"
                    "                 WHERE channel_id = c.id"
                    "              ORDER BY id DESC LIMIT 1) e ON TRUE",
                    ids,
                )
            )
            last = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for channel in self:
            received_at, name = last.get(channel.id, (False, False))
            channel.webhook_last_event_at = received_at
            channel.webhook_last_event_name = name

    @api.depends("channel_type")
    @api.depends_context("lang")
    def _compute_webhook_url_warning(self):
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        problem = url_problem(base_url)
        for channel in self:
            if problem and channel.channel_type in ("zalo", "esms", "speedsms"):
                channel.webhook_url_warning = channel._webhook_warning_text(
                    problem, base_url
                )
            else:
                channel.webhook_url_warning = False

    def _webhook_warning_text(self, problem, base_url):
        _ = self.env._
        if problem == "missing":
            return _(
                "The server's address (web.base.url) is not set: the webhook "
                "URL cannot be built. Log in once through the public address "
                "as an administrator, or set web.base.url."
            )
        if problem == "host":
            return _(
                "The webhook URL points to %(url)s, a local or private address "
                "that the provider cannot reach from the Internet. Open Odoo "
                "through its public HTTPS address (web.base.url) and copy the "
                "URL again.",
                url=base_url,
            )
        return _(
            "The webhook URL is not HTTPS (%(url)s): providers call public "
            "HTTPS addresses only. Put Odoo behind HTTPS and set web.base.url "
            "to the https:// address.",
            url=base_url,
        )

    @api.depends(
        "channel_type",
        "zalo_app_id",
        "zalo_app_secret",
        "zalo_oa_secret_key",
        "zalo_access_token",
        "zalo_refresh_token",
        "esms_api_key",
        "esms_secret_key",
        "esms_brandname",
        "speedsms_access_token",
        "speedsms_sender",
        "setup_webhook_saved",
        "connection_tested_at",
    )
    @api.depends_context("lang")
    def _compute_setup_checklist(self):
        for channel in self:
            steps = channel._get_setup_steps()
            channel.setup_done = all(step["done"] for step in steps)
            channel.setup_checklist = channel._render_setup_steps(steps)

    @api.depends("rate_per_second", "min_interval_seconds")
    @api.depends_context("lang")
    def _compute_throttle_summary(self):
        for channel in self:
            channel.throttle_summary = channel._throttle_text()

    # ------------------------------------------------------------------
    # Checklist
    # ------------------------------------------------------------------

    def _get_setup_steps(self):
        """The set-up steps of this channel's type, in order: dicts with
        ``key``, ``label``, ``hint`` (in the reader's language) and ``done``."""
        self.ensure_one()
        _ = self.env._
        steps = {
            "zalo": self._setup_steps_zalo,
            "esms": self._setup_steps_esms,
            "speedsms": self._setup_steps_speedsms,
        }.get(self.channel_type)
        if steps:
            steps = steps(self.sudo())
            hint = _("Click Test Connection: it must answer without an error.")
        else:
            steps = []
            hint = (
                _("Odoo's outgoing mail server is used.")
                if self.channel_type == "email"
                else _("Nothing leaves this server: outcomes are simulated.")
            )
        tested = bool(self.connection_tested_at)
        return steps + [self._step("test", _("Test Connection passed"), tested, hint)]

    def _setup_steps_zalo(self, channel):
        _ = self.env._
        heard = bool(channel.webhook_last_event_at)
        step = self._step
        return [
            step(
                "app_id",
                _("App ID"),
                channel.zalo_app_id,
                _("Zalo developer console, your app, Settings."),
            ),
            step(
                "app_secret",
                _("App secret key"),
                channel.zalo_app_secret,
                _("Same page: used to refresh the tokens."),
            ),
            step(
                "oa_secret",
                _("OA secret key"),
                channel.zalo_oa_secret_key,
                _("Official Account, Webhook: signs the events."),
            ),
            step(
                "tokens",
                _("Connect: access token and refresh token"),
                channel.zalo_access_token and channel.zalo_refresh_token,
                _(
                    "Paste the pair given when the OA granted your app access; "
                    "they are refreshed automatically after that."
                ),
            ),
            self._step_webhook_public(channel),
            step(
                "webhook_saved",
                _("Webhook URL saved in the Zalo developer console"),
                channel.setup_webhook_saved or heard,
                _(
                    "Copy it from the Set-up tab, paste it in the console and "
                    "tick the box here."
                ),
            ),
            step(
                "first_event",
                _("First event received"),
                heard,
                _("Send a message to the OA from Zalo."),
            ),
        ]

    def _setup_steps_esms(self, channel):
        _ = self.env._
        step = self._step
        return [
            step(
                "api_key",
                _("API key"),
                channel.esms_api_key,
                _("eSMS account, API settings."),
            ),
            step(
                "secret_key",
                _("Secret key"),
                channel.esms_secret_key,
                _("Same page as the API key."),
            ),
            step(
                "brandname",
                _("Brandname"),
                channel.esms_brandname,
                _("As registered with the carriers."),
            ),
            self._step_webhook_public(
                channel, _("Sent with every message: nothing to paste.")
            ),
        ]

    def _setup_steps_speedsms(self, channel):
        _ = self.env._
        step = self._step
        return [
            step(
                "access_token",
                _("Access token"),
                channel.speedsms_access_token,
                _("SpeedSMS dashboard, API settings."),
            ),
            step(
                "brandname",
                _("Sender (brandname)"),
                channel.speedsms_sender,
                _("As registered with the carriers."),
            ),
            self._step_webhook_public(channel),
            step(
                "webhook_saved",
                _("Callback URL saved in the SpeedSMS dashboard"),
                channel.setup_webhook_saved or channel.webhook_last_event_at,
                _("Paste the webhook URL there and tick the box here."),
            ),
        ]

    def _step_webhook_public(self, channel, hint=None):
        return self._step(
            "webhook_public",
            self.env._("Webhook URL is public HTTPS"),
            not channel.webhook_url_warning,
            channel.webhook_url_warning or hint or "",
        )

    @staticmethod
    def _step(key, label, done, hint):
        return {"key": key, "label": label, "done": bool(done), "hint": hint}

    def _render_setup_steps(self, steps):
        lines = Markup("").join(
            Markup(
                '<li class="%s"><i class="fa %s me-2" title="%s"/>'
                '<strong>%s</strong> <small class="text-muted">%s</small></li>'
            )
            % (
                "text-success" if step["done"] else "",
                "fa-check-square-o" if step["done"] else "fa-square-o",
                self.env._("Done") if step["done"] else self.env._("To do"),
                step["label"],
                step["hint"],
            )
            for step in steps
        )
        return Markup('<ol class="list-unstyled mb-0">%s</ol>') % lines

    # ------------------------------------------------------------------
    # Throttles
    # ------------------------------------------------------------------

    def _throttle_text(self):
        self.ensure_one()
        _ = self.env._
        rate, interval = self.rate_per_second, self.min_interval_seconds
        if not rate and not interval:
            return _("No limit: messages leave as fast as the provider answers.")
        spacing = max(1.0 / rate if rate else 0.0, interval or 0.0)
        text = _(
            "At most one message every %(seconds)s s (%(rate)s per second).",
            seconds=round(spacing, 3),
            rate=round(1.0 / spacing, 2) if spacing else 0,
        )
        if rate and interval and interval > 1.0 / rate:
            text += " " + _(
                "Seconds between messages is the stricter limit: Messages per "
                "second has no effect. Use one of the two."
            )
        return text

    @api.onchange("rate_per_second", "min_interval_seconds")
    def _onchange_throttle_consistent(self):
        rate, interval = self.rate_per_second, self.min_interval_seconds
        if rate and interval and interval > 1.0 / rate:
            return {
                "warning": {
                    "title": self.env._("Two limits that disagree"),
                    "message": self._throttle_text(),
                }
            }
        return None

    # ------------------------------------------------------------------
    # Test Connection
    # ------------------------------------------------------------------

    def _check_connection_ready(self):
        """UserError naming the missing credential, before any request."""
        self.ensure_one()
        channel = self.sudo()
        _ = self.env._
        if channel.channel_type == "zalo" and not channel.zalo_access_token:
            raise UserError(
                _(
                    "No access token for %(channel)s: click Refresh Token, or "
                    "paste the access token and the refresh token from the "
                    "Zalo developer console (Zalo tab).",
                    channel=self.name,
                )
            )
        if channel.channel_type == "esms" and not (
            channel.esms_api_key and channel.esms_secret_key
        ):
            raise UserError(
                _(
                    "No eSMS API key or secret key for %(channel)s: fill both "
                    "on the eSMS tab.",
                    channel=self.name,
                )
            )
        if channel.channel_type == "speedsms" and not channel.speedsms_access_token:
            raise UserError(
                _(
                    "No SpeedSMS access token for %(channel)s: fill it on the "
                    "SpeedSMS tab.",
                    channel=self.name,
                )
            )

    def _connection_error_text(self, exc):
        """The message of a failed Test Connection (``exc``: ProviderError),
        in the reader's language: unreachable, credentials refused, or the
        provider's own error."""
        self.ensure_one()
        _ = self.env._
        detail = terms.error_text(self.env, exc)
        if exc.reason in UNREACHABLE_REASONS:
            return _(
                "Cannot reach the provider of %(channel)s (%(detail)s): check "
                "the API host, then the server's Internet access (DNS, "
                "firewall, proxy), and try again.",
                channel=self.name,
                detail=detail,
            )
        refused = exc.reason == "http_auth" or (
            exc.code in AUTH_CODES.get(self.channel_type, ())
        )
        if refused and self.channel_type == "zalo":
            return _(
                "Zalo OA refused the access token of %(channel)s (%(detail)s): "
                "click Refresh Token, or paste a new token pair from the Zalo "
                "developer console.",
                channel=self.name,
                detail=detail,
            )
        if refused:
            return _(
                "The provider refused the credentials of %(channel)s "
                "(%(detail)s): check the keys on the provider's tab.",
                channel=self.name,
                detail=detail,
            )
        return _(
            "Connection to %(channel)s failed: %(error)s",
            channel=self.name,
            error=detail,
        )
