from odoo import api, fields, models
from odoo.tools import format_date

from .messaging_segment import BUILDER_FIELDS


class MessagingSegment(models.Model):
    """A customer group's conditions in plain words: the builders' domains
    hold expressions relative to today (``context_today() -
    relativedelta(...)``) that Odoo's domain editor can only show as code."""

    _inherit = "messaging.segment"

    conditions_text = fields.Text(
        "Who is in it",
        compute="_compute_conditions_text",
        help="The group's conditions in plain words.",
    )

    @api.depends(*BUILDER_FIELDS)
    @api.depends_context("lang")
    def _compute_conditions_text(self):
        for segment in self:
            segment.conditions_text = segment._get_conditions_text()

    def _get_conditions_text(self):
        """The builder's conditions as a sentence in the reader's language
        (False for custom conditions: the domain editor shows those)."""
        self.ensure_one()
        _ = self.env._
        period = self._get_period_text()
        if self.builder == "product":
            return _(
                "Contacts with a confirmed order of %(products)s%(period)s.",
                products=", ".join(self.builder_product_ids.mapped("display_name"))
                or "...",
                period=period,
            )
        if self.builder == "cancelled":
            return _("Contacts with a cancelled order%(period)s.", period=period)
        if self.builder == "tag":
            return _(
                "Contacts tagged %(tags)s (or a sub-tag of them).",
                tags=", ".join(self.builder_tag_ids.mapped("display_name")) or "...",
            )
        if self.builder == "inactive":
            return _(
                "Customers who ordered before, but placed no confirmed order "
                "in the last %(days)s days.",
                days=self.builder_inactive_days,
            )
        if self.builder == "rating":
            return self._get_rating_text(period)
        return False

    def _get_rating_text(self, period):
        """The rating builder's conditions as a sentence."""
        _ = self.env._
        low, high = self.builder_rating_min, self.builder_rating_max
        if low == high:
            stars = _("%(stars)s stars", stars=low)
        else:
            stars = _("%(low)s to %(high)s stars", low=low, high=high)
        if self.builder_rating_model_id:
            return _(
                "Contacts who rated %(documents)s %(stars)s%(period)s.",
                documents=self.builder_rating_model_id.name,
                stars=stars,
                period=period,
            )
        return _(
            "Contacts who rated us %(stars)s%(period)s.", stars=stars, period=period
        )

    def _get_period_text(self):
        """The builder's order period as words ('' when any time)."""
        _ = self.env._
        parts = []
        if self.builder_date_from:
            parts.append(
                _("from %(date)s", date=format_date(self.env, self.builder_date_from))
            )
        if self.builder_date_to:
            parts.append(
                _("until %(date)s", date=format_date(self.env, self.builder_date_to))
            )
        if self.builder_period_days:
            parts.append(_("in the last %(days)s days", days=self.builder_period_days))
        return "".join(" " + part for part in parts)
