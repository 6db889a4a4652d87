"""Health of a Zalo channel's OAuth token pair.

A refresh that fails (Zalo answers OAuth errors with HTTP 200) or a refresh
token near the end of its 3 months would otherwise only show in the log: it
is kept on the channel (code, the provider's own words, when), shown as a
banner on the form and raised once as an activity for the channel's
administrators. A successful refresh, or a new refresh token pasted by an
administrator, clears both. The refresh itself is in
``messaging_channel_zalo.py``.
"""

import logging
from datetime import timedelta

from odoo import api, fields, models

from ..engine import transaction
from .models import ADMIN_GROUP

_logger = logging.getLogger(__name__)

# Zalo OAuth v4: a refresh token lives 3 months and is single use
REFRESH_TOKEN_DAYS = 90
# the administrators are warned this long before it ends
REFRESH_TOKEN_WARN_DAYS = 14
TOKEN_ACTIVITY_TYPE = "multichannel_messaging.mail_activity_type_zalo_token"
TOKEN_HEALTH = [
    ("ok", "Healthy"),
    ("missing", "Not connected"),
    ("failed", "Refresh failed"),
    ("expiring", "Refresh token expires soon"),
    ("expired", "Refresh token expired"),
]


class MessagingChannel(models.Model):
    _name = "messaging.channel"
    # activities for the channel's administrators need a chatter
    _inherit = ["messaging.channel", "mail.thread", "mail.activity.mixin"]

    zalo_refresh_token_at = fields.Datetime(
        "Refresh token obtained",
        groups=ADMIN_GROUP,
        copy=False,
        readonly=True,
        help="When the current refresh token was issued (by a refresh, or "
        "pasted). Zalo refresh tokens live 3 months.",
    )
    zalo_token_failed_at = fields.Datetime(
        "Last refresh failure", copy=False, readonly=True
    )
    zalo_token_error_code = fields.Char("Refresh error code", copy=False, readonly=True)
    zalo_token_error_detail = fields.Char(
        "Refresh error",
        copy=False,
        readonly=True,
        help="Zalo's own words about the last failed refresh.",
    )
    zalo_token_health = fields.Selection(
        TOKEN_HEALTH,
        "Token health",
        compute="_compute_zalo_token_health",
        compute_sudo=True,
    )
    zalo_token_health_message = fields.Char(
        "Token warning", compute="_compute_zalo_token_health", compute_sudo=True
    )

    @api.model_create_multi
    def create(self, vals_list):
        now = fields.Datetime.now()
        for vals in vals_list:
            if vals.get("zalo_refresh_token") and not vals.get("zalo_refresh_token_at"):
                vals["zalo_refresh_token_at"] = now
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("zalo_refresh_token") and "zalo_refresh_token_at" not in vals:
            # a refresh token pasted by an administrator: a new 3 months
            vals = dict(vals, **self._token_health_cleared_values())
            vals["zalo_refresh_token_at"] = fields.Datetime.now()
            result = super().write(vals)
            self._token_activities().unlink()
            return result
        return super().write(vals)

    @api.depends(
        "channel_type",
        "zalo_access_token",
        "zalo_refresh_token",
        "zalo_refresh_token_at",
        "zalo_token_failed_at",
        "zalo_token_error_code",
        "zalo_token_error_detail",
    )
    @api.depends_context("lang")
    def _compute_zalo_token_health(self):
        now = fields.Datetime.now()
        for channel in self:
            health = channel._get_token_health(now)
            channel.zalo_token_health = health
            channel.zalo_token_health_message = (
                channel._token_health_text(health) if health != "ok" else False
            )

    # ------------------------------------------------------------------
    # Business
    # ------------------------------------------------------------------

    def _refresh_token_end(self):
        """When the current refresh token stops working (UTC), or False."""
        self.ensure_one()
        obtained = self.sudo().zalo_refresh_token_at
        return obtained and obtained + timedelta(days=REFRESH_TOKEN_DAYS)

    def _get_token_health(self, now=None):
        """One of ``TOKEN_HEALTH``'s keys (``ok`` for other channel types)."""
        self.ensure_one()
        channel = self.sudo()
        if channel.channel_type != "zalo":
            return "ok"
        if channel.zalo_token_failed_at:
            return "failed"
        if not channel.zalo_refresh_token:
            return "missing"
        end = channel._refresh_token_end()
        now = now or fields.Datetime.now()
        if end and end <= now:
            return "expired"
        if end and end - timedelta(days=REFRESH_TOKEN_WARN_DAYS) <= now:
            return "expiring"
        return "ok"

    def _token_health_text(self, health):
        """The banner's sentence, in the reader's language (built on read)."""
        self.ensure_one()
        channel = self.sudo()
        _ = self.env._
        if health == "failed":
            return _(
                "The Zalo token could not be refreshed on %(date)s (error "
                "%(code)s: %(detail)s). Messages cannot be sent once the access "
                "token expires: check the App ID and App secret key, or paste a "
                "new token pair from the Zalo developer console.",
                date=self._token_date_text(channel.zalo_token_failed_at),
                code=channel.zalo_token_error_code or "?",
                detail=channel.zalo_token_error_detail or "?",
            )
        if health == "missing":
            return _(
                "Not connected: paste the access token and the refresh token "
                "of the Official Account from the Zalo developer console."
            )
        end = self._token_date_text(channel._refresh_token_end())
        if health == "expired":
            return _(
                "The Zalo refresh token expired on %(date)s: paste a new token "
                "pair from the Zalo developer console.",
                date=end,
            )
        return _(
            "The Zalo refresh token expires on %(date)s (refresh tokens live 3 "
            "months): refresh the token before then, or paste a new pair from "
            "the Zalo developer console.",
            date=end,
        )

    def _token_date_text(self, value):
        """A UTC datetime as dd/mm/yyyy HH:MM in the company's time zone."""
        if not value:
            return "?"
        return self._local_now(value).strftime("%d/%m/%Y %H:%M")

    @staticmethod
    def _token_health_cleared_values():
        return {
            "zalo_token_failed_at": False,
            "zalo_token_error_code": False,
            "zalo_token_error_detail": False,
        }

    def _token_refresh_failed(self, exc, now=None):
        """Keep a failed refresh (``exc``: the ProviderError) on the channel
        and raise one activity for its administrators. In its own committed
        transaction: the caller's is usually rolled back by the error."""
        self.ensure_one()
        with transaction.shared_cursor(self.env) as cr:
            channel = self.with_env(self.env(cr=cr, su=True))
            channel.write(
                {
                    "zalo_token_failed_at": now or fields.Datetime.now(),
                    "zalo_token_error_code": exc.code or exc.reason or "?",
                    "zalo_token_error_detail": _provider_words(exc)[:500],
                }
            )
            channel._token_activity_ensure("failed")
            channel.env.flush_all()
        if transaction.auto_commit():
            self.invalidate_recordset()

    def _token_refresh_succeeded(self, cr):
        """After a refresh on ``cr``: the failure and the activities go."""
        channel = self.with_env(self.env(cr=cr, su=True))
        if channel.zalo_token_failed_at:
            channel.write(self._token_health_cleared_values())
        channel._token_activities().unlink()
        channel.env.flush_all()

    def _token_activities(self):
        """The open token-health activities of these channels."""
        activity_type = self.env.ref(TOKEN_ACTIVITY_TYPE, raise_if_not_found=False)
        if not self or not activity_type:
            return self.env["mail.activity"]
        return (
            self.env["mail.activity"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "in", self.ids),
                    ("activity_type_id", "=", activity_type.id),
                ]
            )
        )

    def _token_activity_ensure(self, health):
        """One open token activity per channel: none is added while one is
        open (a cron that fails every hour raises it once)."""
        self.ensure_one()
        if self._token_activities():
            return self.env["mail.activity"]
        user = self._token_responsible()
        activity_type = self.env.ref(TOKEN_ACTIVITY_TYPE)
        reader = self.with_context(lang=user.lang or self.env.lang)
        return (
            self.env["mail.activity"]
            .sudo()
            .create(
                {
                    "res_model_id": self.env["ir.model"]._get_id(self._name),
                    "res_id": self.id,
                    "activity_type_id": activity_type.id,
                    "user_id": user.id,
                    "summary": reader.env._("Zalo token: %(channel)s")
                    % {"channel": self.name},
                    "note": reader._token_health_text(health),
                    "date_deadline": fields.Date.context_today(self),
                }
            )
        )

    def _token_responsible(self):
        """Who gets the activity: the channel's creator when still one of
        its administrators, else the first Messaging Administrator of the
        channel's company, else the creator."""
        self.ensure_one()
        admins = (
            self.env.ref(ADMIN_GROUP)
            .sudo()
            .users.filtered(
                lambda u: u.active and not u.share and self.company_id in u.company_ids
            )
        )
        creator = self.sudo().create_uid
        if creator in admins:
            return creator
        return admins.sorted("id")[:1] or creator

    @api.model
    def _cron_check_token_health(self, now=None):
        """An activity for each Zalo refresh token that ends within
        ``REFRESH_TOKEN_WARN_DAYS`` days (or has ended)."""
        now = now or fields.Datetime.now()
        limit = now - timedelta(days=REFRESH_TOKEN_DAYS - REFRESH_TOKEN_WARN_DAYS)
        channels = self.sudo().search(
            [
                ("channel_type", "=", "zalo"),
                ("zalo_refresh_token", "!=", False),
                ("zalo_refresh_token_at", "<=", limit),
            ]
        )
        for channel in channels:
            health = channel._get_token_health(now)
            if health in ("expiring", "expired"):
                channel._token_activity_ensure(health)
        return channels


def _provider_words(exc):
    """What the provider said about a failed refresh (its error name and
    description), else the exception's text."""
    term = exc.args[0] if exc.args else ""
    params = getattr(term, "params", None) or {}
    words = [str(params[key]) for key in ("name", "detail") if params.get(key)]
    return " - ".join(words) or str(exc)
