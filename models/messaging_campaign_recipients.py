from datetime import timedelta

from odoo import _, fields, models
from odoo.exceptions import ValidationError
from odoo.osv import expression
from odoo.tools.safe_eval import safe_eval


class MessagingCampaign(models.Model):
    """Who a campaign reaches: its customer groups and extra conditions, or
    the source records picked by hand; and who its no re-send window
    leaves out."""

    _inherit = "messaging.campaign"

    def _get_extra_domain(self):
        self.ensure_one()
        try:
            domain = safe_eval(
                self.extra_domain or "[]",
                self.env["messaging.segment"]._get_eval_context(),
            )
            self.env["res.partner"]._where_calc(domain)
            return domain
        except Exception as exc:
            raise ValidationError(
                _("The extra conditions of campaign %(name)s are not valid: %(error)s")
                % {"name": self.name, "error": exc}
            ) from exc

    def _get_recipients(self):
        """[(partner, res_model, res_id)] de-duplicated by partner."""
        self.ensure_one()
        if self.source_res_ids:
            return self._get_source_recipients(self.source_res_ids)
        if not self.segment_ids:
            return []
        partners = self.env["res.partner"].search(
            self._get_recipient_domain(), order="id"
        )
        return [(p, "res.partner", p.id) for p in partners]

    def _get_source_recipients(self, res_ids):
        """[(partner, res_model, res_id)] of the source records ``res_ids``,
        the first record of each customer only."""
        self.ensure_one()
        records = self.env[self.res_model].browse(res_ids).exists()
        result, seen = [], set()
        for record in records:
            partner = record._messaging_get_partner()
            if partner and partner.id not in seen:
                seen.add(partner.id)
                result.append((partner, record._name, record.id))
        return result

    def _get_recipient_domain(self):
        """The contacts of the customer groups (and the extra conditions)."""
        self.ensure_one()
        domain = expression.OR(
            [segment._get_partner_domain() for segment in self.segment_ids]
        )
        extra = self._get_extra_domain()
        if extra:
            domain = expression.AND([domain, extra])
        return domain

    def _has_recipients(self):
        """Whether the campaign has a recipient, without loading them all."""
        self.ensure_one()
        if self.source_res_ids:
            Model = self.env[self.res_model]
            for start in range(0, len(self.source_res_ids), 1000):
                records = Model.browse(self.source_res_ids[start : start + 1000])
                if any(r._messaging_get_partner() for r in records.exists()):
                    return True
            return False
        if not self.segment_ids:
            return False
        return bool(
            self.env["res.partner"].search(self._get_recipient_domain(), limit=1)
        )

    def _count_recipients(self):
        """Recipients to queue (source records picked by hand: the records,
        several of which may share a customer)."""
        self.ensure_one()
        if self.source_res_ids:
            return len(self.source_res_ids)
        if not self.segment_ids:
            return 0
        return self.env["res.partner"].search_count(self._get_recipient_domain())

    def _get_recent_partner_ids(self, partner_ids):
        """Contacts who got one of this campaign's templates within the
        campaign's no re-send window (from another campaign or by hand)."""
        self.ensure_one()
        if not self.resend_window_minutes or not partner_ids:
            return set()
        since = fields.Datetime.now() - timedelta(minutes=self.resend_window_minutes)
        templates = [
            template.id for _channel, template in self._get_steps() if template
        ]
        if not templates:
            return set()
        domain = [
            ("partner_id", "in", list(partner_ids)),
            ("template_id", "in", templates),
            ("state", "in", ("sending", "sent", "delivered", "read")),
            ("sent_at", ">=", since),
        ]
        if self._origin.id:
            domain.append(("campaign_id", "!=", self._origin.id))
        groups = (
            self.env["messaging.message"].sudo()._read_group(domain, ["partner_id"])
        )
        return {partner.id for (partner,) in groups}

    def _get_recent_reason(self):
        return (
            _(
                "Already received one of this campaign's templates within the last "
                "%s minutes."
            )
            % self.resend_window_minutes
        )
