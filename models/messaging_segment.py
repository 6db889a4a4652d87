from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import datetime as safe_datetime
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_time

from .models import USER_GROUP

BUILDERS = [
    ("custom", "Custom conditions"),
    ("product", "Bought a product"),
    ("cancelled", "Had an order cancelled"),
    ("tag", "Contact tags or tier"),
    ("inactive", "No order for some days"),
    ("rating", "Rated us N stars"),
]
# what a builder's conditions are made of
BUILDER_FIELDS = (
    "builder",
    "builder_product_ids",
    "builder_tag_ids",
    "builder_date_from",
    "builder_date_to",
    "builder_period_days",
    "builder_inactive_days",
    "builder_rating_min",
    "builder_rating_max",
    "builder_rating_model_id",
)
# Odoo's ratings go from 1 to 5 stars (0: not rated yet)
RATING_STARS = (1, 5)


class _Expression(str):
    """Python source kept as is when a domain is written out with ``repr``
    (a date relative to today, evaluated each time the group is used)."""

    def __repr__(self):
        return str(self)


def _days_ago(days):
    return _Expression(
        "(context_today() - relativedelta(days=%d)).strftime('%%Y-%%m-%%d')" % int(days)
    )


class MessagingSegment(models.Model):
    _name = "messaging.segment"
    _description = "Customer Group"
    _order = "name, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    company_id = fields.Many2one("res.company")
    builder = fields.Selection(
        BUILDERS,
        string="Built from",
        default="custom",
        required=True,
        help="Ready-made conditions on sales data. They are written into the "
        "conditions below; pick 'Custom conditions' to edit them by hand.",
    )
    builder_product_ids = fields.Many2many(
        "product.product",
        "messaging_segment_product_rel",
        "segment_id",
        "product_id",
        string="Products",
        help="Contacts with a confirmed order containing any of these products.",
    )
    builder_tag_ids = fields.Many2many(
        "res.partner.category",
        "messaging_segment_partner_category_rel",
        "segment_id",
        "category_id",
        string="Tags",
        help="Contacts with any of these tags (or of their sub-tags, e.g. the "
        "levels of a loyalty tier).",
    )
    builder_date_from = fields.Date(
        "Ordered from", help="Only orders placed on or after this day."
    )
    builder_date_to = fields.Date(
        "Ordered until", help="Only orders placed on or before this day."
    )
    builder_period_days = fields.Integer(
        "Within the last (days)",
        help="Only orders of the last N days, counted from the day the group "
        "is used (0 = any time).",
    )
    builder_inactive_days = fields.Integer(
        "No order for (days)",
        default=90,
        help="Customers who ordered before but placed no confirmed order in the "
        "last N days, counted from the day the group is used.",
    )
    builder_rating_min = fields.Integer(
        "From (stars)",
        default=5,
        help="Contacts who gave a rating of at least this many stars (1 to 5).",
    )
    builder_rating_max = fields.Integer(
        "To (stars)",
        default=5,
        help="Contacts who gave a rating of at most this many stars (1 to 5).",
    )
    builder_rating_model_id = fields.Many2one(
        "ir.model",
        "Rated documents",
        ondelete="cascade",
        domain=[("is_mail_thread", "=", True)],
        help="Only ratings of this kind of document (e.g. Helpdesk tickets, "
        "Sales orders); empty: ratings of anything.",
    )
    domain = fields.Char(
        compute="_compute_domain",
        store=True,
        readonly=False,
        precompute=True,
        required=True,
        help="Conditions on contacts that belong to this group.",
    )
    partner_count = fields.Integer("Contacts", compute="_compute_partner_count")

    _sql_constraints = [
        (
            "builder_days_positive",
            "CHECK(builder_period_days >= 0 AND builder_inactive_days >= 0)",
            "A number of days cannot be negative.",
        ),
    ]

    @api.depends(*BUILDER_FIELDS)
    def _compute_domain(self):
        for segment in self:
            if segment.builder == "custom":
                segment.domain = segment.domain or "[]"
            else:
                segment.domain = repr(segment._get_builder_domain())

    @api.depends("domain")
    def _compute_partner_count(self):
        for segment in self:
            try:
                segment.partner_count = self.env["res.partner"].search_count(
                    segment._get_partner_domain()
                )
            except ValidationError:
                segment.partner_count = 0

    @api.constrains("domain")
    def _check_domain(self):
        for segment in self:
            segment._get_partner_domain()

    @api.constrains(
        "builder",
        "builder_product_ids",
        "builder_tag_ids",
        "builder_inactive_days",
        "builder_date_from",
        "builder_date_to",
        "builder_rating_min",
        "builder_rating_max",
    )
    def _check_builder(self):
        for segment in self:
            error = segment._get_builder_error()
            if error:
                raise ValidationError(error)

    # ------------------------------------------------------------------
    # Builders
    # ------------------------------------------------------------------

    def _get_builder_error(self):
        """Why the builder's parameters are incomplete, or None."""
        self.ensure_one()
        builder = self.builder
        if builder == "product" and not self.builder_product_ids:
            return _("Customer group %s: pick the products bought.") % self.name
        if builder == "tag" and not self.builder_tag_ids:
            return _("Customer group %s: pick at least one tag.") % self.name
        if builder == "inactive" and self.builder_inactive_days <= 0:
            return (
                _(
                    "Customer group %s: the number of days without an order must "
                    "be above 0."
                )
                % self.name
            )
        if builder == "rating":
            low, high = RATING_STARS
            if not (low <= self.builder_rating_min <= self.builder_rating_max <= high):
                return _(
                    "Customer group %(name)s: the stars go from %(low)s to "
                    "%(high)s, the lowest first.",
                    name=self.name,
                    low=low,
                    high=high,
                )
        if (
            self.builder_date_from
            and self.builder_date_to
            and self.builder_date_from > self.builder_date_to
        ):
            return _("Customer group %s: the period ends before it starts.") % self.name
        return None

    def _get_builder_domain(self):
        """The domain on res.partner written by the builder (a list)."""
        self.ensure_one()
        builder = self.builder
        if builder == "product":
            return [
                (
                    "sale_order_ids",
                    "any",
                    [
                        ("state", "=", "sale"),
                        ("order_line.product_id", "in", self.builder_product_ids.ids),
                        *self._get_builder_period_domain(),
                    ],
                )
            ]
        if builder == "cancelled":
            return [
                (
                    "sale_order_ids",
                    "any",
                    [("state", "=", "cancel"), *self._get_builder_period_domain()],
                )
            ]
        if builder == "tag":
            return [("category_id", "child_of", self.builder_tag_ids.ids)]
        if builder == "inactive":
            return [
                ("sale_order_ids", "any", [("state", "=", "sale")]),
                (
                    "sale_order_ids",
                    "not any",
                    [
                        ("state", "=", "sale"),
                        ("date_order", ">=", _days_ago(self.builder_inactive_days)),
                    ],
                ),
            ]
        if builder == "rating":
            return [("messaging_rating_ids", "any", self._get_builder_rating_domain())]
        return safe_eval(self.domain or "[]", self._get_eval_context())

    def _get_builder_rating_domain(self):
        """Conditions on the contact's ratings (``rating.rating``): given
        (``consumed``), within the stars, on the documents and in the
        period chosen."""
        self.ensure_one()
        conditions = [
            ("consumed", "=", True),
            ("rating", ">=", self.builder_rating_min),
            ("rating", "<=", self.builder_rating_max),
        ]
        if self.builder_rating_model_id:
            conditions.append(("res_model", "=", self.builder_rating_model_id.model))
        return conditions + self._get_builder_period_domain("create_date")

    def _get_builder_period_domain(self, date_field="date_order"):
        """Conditions on ``date_field`` (the order date, the rating's):
        fixed period and/or last N days."""
        self.ensure_one()
        conditions = []
        if self.builder_date_from:
            conditions.append(
                (date_field, ">=", fields.Date.to_string(self.builder_date_from))
            )
        if self.builder_date_to:
            day_after = self.builder_date_to + timedelta(days=1)
            conditions.append((date_field, "<", fields.Date.to_string(day_after)))
        if self.builder_period_days:
            conditions.append((date_field, ">=", _days_ago(self.builder_period_days)))
        return conditions

    # ------------------------------------------------------------------
    # Contacts
    # ------------------------------------------------------------------

    def _get_eval_context(self):
        """Names a saved domain may use: values only, no record.

        A domain is written by a Manager and evaluated by whoever uses the
        group, the campaign cron included (superuser): a record such as
        ``user`` would hand it ``user.env[...].sudo()``. Hence ``uid``, not
        ``user``, as Odoo's mass mailing evaluates its domains without one.
        """
        return {
            "context": dict(self.env.context),
            "uid": self.env.uid,
            "context_today": lambda: fields.Date.context_today(self),
            "relativedelta": relativedelta,
            "datetime": safe_datetime,
            "time": safe_time,
        }

    def _get_partner_domain(self):
        """The segment's domain as a list, validated against res.partner."""
        self.ensure_one()
        try:
            domain = safe_eval(self.domain or "[]", self._get_eval_context())
            self.env["res.partner"]._where_calc(domain)
        except Exception as exc:
            raise ValidationError(
                _("The conditions of customer group %(name)s are not valid: %(error)s")
                % {"name": self.name, "error": exc}
            ) from exc
        return domain

    def _get_partners(self):
        """Union of the contacts of these groups (each contact once)."""
        partners = self.env["res.partner"]
        for segment in self:
            partners |= partners.search(segment._get_partner_domain())
        return partners

    def action_view_partners(self):
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": "res.partner",
            "view_mode": "list,kanban,form",
            "domain": self._get_partner_domain(),
        }
