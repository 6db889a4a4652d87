"""Zalo OA access of a channel: the OAuth token pair (refreshed one worker
at a time, before it expires) and the template sync. The answers' shapes are
read by the Zalo adapter (``providers/zalo.py``, ``providers/zalo_templates.py``)."""

import logging
from datetime import timedelta

from odoo import Command, _, api, fields, models

from ..engine import throttle, transaction
from ..providers import ProviderError, get_adapter, zalo_templates
from ..providers.zalo_codes import ZBS_NEW_OA_DAILY_QUOTA

_logger = logging.getLogger(__name__)

NO_REFRESH_TOKEN = "no_refresh_token"


class MessagingChannel(models.Model):
    _inherit = "messaging.channel"

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("channel_type") == "zalo" and not vals.get("quota_daily"):
                # a new OA's ZBS quota until Zalo tells (quota API, webhook)
                vals["quota_daily"] = ZBS_NEW_OA_DAILY_QUOTA
                vals.setdefault("quota_remaining", ZBS_NEW_OA_DAILY_QUOTA)
        return super().create(vals_list)

    def _refresh_zalo_token(self, force=False, known_token=None):
        """Refresh the OA token pair, one refresh at a time per OA; return the
        new access token. ``known_token``: the token refused (default: the
        one this record holds); a different one in the database was
        refreshed meanwhile and is returned as is.

        The refresh token is single use: the new pair is committed in its own
        transaction (under a row lock that serialises workers) before anyone
        uses it, so a crash later in the caller's transaction cannot lose it.
        Tests run in one transaction: there the caller's cursor is used.
        """
        self.ensure_one()
        known_token = known_token or self.sudo().zalo_access_token
        auto_commit = transaction.auto_commit()
        if not auto_commit:
            self.flush_recordset()
        # the single-use refresh token is spent: the new pair is kept at once
        try:
            with transaction.shared_cursor(self.env) as cr:
                token = self._refresh_zalo_token_locked(cr, known_token, force)
        except ProviderError as exc:
            if exc.code != NO_REFRESH_TOKEN:  # "not connected" shows already
                self._token_refresh_failed(exc)  # messaging_channel_token.py
            raise
        if auto_commit:
            self.invalidate_recordset()
        return token

    def _refresh_zalo_token_locked(self, cr, known_token, force):
        cr.execute(
            "SELECT zalo_access_token, zalo_refresh_token"
            "  FROM messaging_channel WHERE id = %s FOR UPDATE",
            [self.id],
        )
        access, refresh = cr.fetchone()
        if not force and access and access != known_token:
            # another worker refreshed while we waited for the lock
            return access
        if not refresh:
            raise ProviderError(
                _("No refresh token: paste one from the Zalo developer console."),
                code=NO_REFRESH_TOKEN,
            )
        config = dict(self._get_provider_config(), zalo_refresh_token=refresh)
        pair = get_adapter("zalo", config).refresh_token()
        expires_at = fields.Datetime.now() + timedelta(
            seconds=int(pair.get("expires_in") or 90000)
        )
        cr.execute(
            "UPDATE messaging_channel SET zalo_access_token = %s,"
            " zalo_refresh_token = %s, zalo_token_expires_at = %s,"
            " zalo_refresh_token_at = %s WHERE id = %s",
            [
                pair["access_token"],
                pair["refresh_token"],
                expires_at,
                fields.Datetime.now(),
                self.id,
            ],
        )
        self.invalidate_recordset(
            [
                "zalo_access_token",
                "zalo_refresh_token",
                "zalo_token_expires_at",
                "zalo_refresh_token_at",
            ]
        )
        self._token_refresh_succeeded(cr)
        _logger.info("Zalo token refreshed for channel %s", self.id)
        return pair["access_token"]

    @api.model
    def _cron_refresh_tokens(self):
        """Refresh Zalo tokens that expire within the next 2 hours."""
        soon = fields.Datetime.now() + timedelta(hours=2)
        channels = (
            self.sudo()
            .search([("channel_type", "=", "zalo")])
            .filtered(
                lambda c: (
                    c.zalo_refresh_token
                    and (not c.zalo_token_expires_at or c.zalo_token_expires_at < soon)
                )
            )
        )
        for channel in channels:
            try:
                channel._refresh_zalo_token()
            except ProviderError as exc:
                _logger.warning(
                    "Zalo token refresh failed for channel %s: %s", channel.id, exc
                )
        self._cron_check_token_health()

    def _sync_zalo_templates(self):
        """Zalo template list + details into messaging.template."""
        self.ensure_one()
        adapter = self._get_adapter()
        count = 0
        for item in adapter.list_templates():
            detail = adapter.template_detail(str(item.get("templateId")))
            self._sync_zalo_template(zalo_templates.parse_template(item, detail))
            count += 1
        quota = zalo_templates.parse_quota(adapter.get_quota())
        if quota:
            throttle.update_quota(self, *quota)
        return count

    def _refresh_zalo_template(self, template_ref):
        """One template's details from Zalo (``/template/info/v2``) into
        its messaging.template."""
        self.ensure_one()
        detail = self._get_adapter().template_detail(str(template_ref))
        return self._sync_zalo_template(
            zalo_templates.parse_template({"templateId": template_ref}, detail)
        )

    def _apply_zalo_daily_quota(self, daily):
        """Zalo's new daily quota (``change_oa_daily_quota``): what is left
        today moves by as much as the quota did."""
        self.ensure_one()
        vals = {"quota_daily": daily, "quota_updated_at": fields.Datetime.now()}
        if self.quota_daily:
            vals["quota_remaining"] = max(
                0, self.quota_remaining + daily - self.quota_daily
            )
        else:
            vals["quota_remaining"] = daily
        self.sudo().write(vals)

    def _sync_zalo_template(self, info):
        """Create or update the messaging.template of a parsed ZaloTemplate,
        its parameters matched by name."""
        Template = self.env["messaging.template"].sudo()
        template = Template.with_context(active_test=False).search(
            [("channel_type", "=", "zalo"), ("zalo_template_id", "=", info.ref)],
            limit=1,
        )
        vals = {
            "name": info.name,
            "zalo_status": info.status,
            "zalo_preview_url": info.preview_url,
            "price_phone": info.price_phone,
            "price_uid": info.price_uid,
            "zalo_quality": info.quality or False,
            "zalo_reject_reason": info.reason if info.status == "REJECT" else False,
        }
        if info.tag:
            vals["zalo_tag"] = info.tag
        if info.status == "DELETE":
            vals["active"] = False
        params = [
            {
                "name": param.name,
                "required": param.required,
                "param_type": param.param_type,
                "max_length": param.max_length,
                "min_length": param.min_length,
            }
            for param in info.params
        ]
        if not template:
            return Template.create(
                dict(
                    vals,
                    channel_type="zalo",
                    zalo_template_id=info.ref,
                    category="marketing" if info.tag == "3" else "transactional",
                    zalo_channel_id=self.id,
                    company_id=self.company_id.id,
                    param_ids=[Command.create(p) for p in params],
                )
            )
        existing = {p.name: p for p in template.param_ids}
        commands = []
        for pvals in params:
            line = existing.pop(pvals["name"], None)
            if line:
                commands.append(Command.update(line.id, pvals))
            else:
                pvals["expression"] = False
                commands.append(Command.create(pvals))
        commands += [Command.unlink(line.id) for line in existing.values()]
        template.write(dict(vals, param_ids=commands))
        return template
