from datetime import timedelta

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

FREE_WINDOW = timedelta(hours=48)
PAID_WINDOW = timedelta(days=7)


class MessagingIdentity(models.Model):
    """A partner's address on one channel (a Zalo user id is per OA)."""

    _name = "messaging.identity"
    _description = "Messaging Identity"
    _order = "last_interaction_at desc, id desc"
    _rec_name = "external_id"

    partner_id = fields.Many2one("res.partner", index=True, ondelete="cascade")
    channel_id = fields.Many2one(
        "messaging.channel", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="channel_id.company_id", store=True)
    external_id = fields.Char(
        "Zalo user id",
        required=True,
        help="Kept as text: Zalo ids exceed 2^53.",
    )
    display_name_ext = fields.Char("Name on the channel")
    is_follower = fields.Boolean("Follows the OA")
    followed_at = fields.Datetime()
    last_interaction_at = fields.Datetime(
        help="Last time the user wrote to or interacted with the OA."
    )
    opt_out = fields.Boolean(
        "Opted out on this OA",
        help="No marketing message to this Zalo user on this OA (Odoo has no "
        "list for Zalo user ids). A contact's number goes to Odoo's phone "
        "blacklist instead.",
    )
    window_state = fields.Selection(
        [
            ("free", "Free consultation window (48 h)"),
            ("paid", "Paid consultation window (7 days)"),
            ("closed", "Closed: use a template"),
        ],
        compute="_compute_window_state",
    )
    window_ends_at = fields.Datetime(compute="_compute_window_state")

    _sql_constraints = [
        (
            "external_unique",
            "UNIQUE(channel_id, external_id)",
            "This user id is already linked on this channel.",
        ),
    ]

    @api.depends("last_interaction_at")
    def _compute_window_state(self):
        now = fields.Datetime.now()
        for identity in self:
            identity.window_state, identity.window_ends_at = identity._get_window(now)

    def _get_window(self, now=None):
        """('free'|'paid'|'closed', end of the current window)."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        last = self.last_interaction_at
        if not last:
            return "closed", False
        if now < last + FREE_WINDOW:
            return "free", last + FREE_WINDOW
        if now < last + PAID_WINDOW:
            return "paid", last + PAID_WINDOW
        return "closed", False

    def _window_label(self, now=None):
        """What the conversation header says about the window."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        state, ends_at = self._get_window(now)
        if state == "free":
            left = ends_at - now
            hours = int(left.total_seconds() // 3600)
            if hours >= 1:
                return _("Free for %s h more") % hours
            return _("Free for %s min more") % max(int(left.total_seconds() // 60), 1)
        if state == "paid":
            return _("Paid until %s") % self._format_local(ends_at)
        return _("Closed: use a template")

    def _format_local(self, value):
        """'25/11 14:30' in the time zone of the user (else the company's)."""
        self.ensure_one()
        if not value:
            return ""
        tz = self.env.user.tz or self.channel_id.sudo()._tz().zone
        local = pytz.utc.localize(value).astimezone(pytz.timezone(tz))
        return local.strftime("%d/%m %H:%M")

    def _conversation_name(self, with_oa=True):
        self.ensure_one()
        name = (
            self.partner_id.name
            or self.display_name_ext
            or _("Zalo user …%s") % (self.external_id or "")[-4:]
        )
        return "%s · %s" % (name, self.channel_id.name) if with_oa else name

    def _apply_opt_out(self, reason):
        """An opt-out asked by this Zalo user: the contact's number goes to
        Odoo's phone blacklist (then any channel by phone skips it too);
        without a contact or a number, this OA keeps it. Returns whether
        they had opted out already."""
        self.ensure_one()
        identity = self.sudo()
        partner = identity.partner_id
        if partner and partner._messaging_blacklist_numbers():
            already = partner.messaging_phone_blacklisted or identity.opt_out
            partner._messaging_blacklist(phone=True, message=reason)
            identity.opt_out = False  # Odoo's list holds it now
            return already
        already = identity.opt_out
        identity.opt_out = True
        return already

    def _move_opt_out_to_blacklist(self):
        """Once the contact's number is known, an opt-out kept on the OA goes
        to Odoo's phone blacklist (one truth, removable there)."""
        for identity in self.sudo().filtered("opt_out"):
            partner = identity.partner_id
            if partner and partner._messaging_blacklist_numbers():
                partner._messaging_blacklist(
                    phone=True,
                    message=_("Opt-out asked on %s before the number was known.")
                    % identity.channel_id.display_name,
                )
                identity.opt_out = False

    @api.constrains("external_id")
    def _check_external_id(self):
        for identity in self:
            if not identity.external_id.strip().isdigit():
                raise ValidationError(
                    _("A Zalo user id is made of digits, got %s.")
                    % identity.external_id
                )
