from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.phone_validation.tools import phone_validation

from ..engine import consent


class ResPartner(models.Model):
    _inherit = "res.partner"

    # what links to the addon's own models is for Messaging users: an
    # employee without Messaging rights (or a portal user) reads a contact
    # whole, as an export or an RPC client does, without meeting them
    messaging_identity_ids = fields.One2many(
        "messaging.identity",
        "partner_id",
        "Zalo identities",
        groups="multichannel_messaging.group_messaging_user",
    )
    # consent lives in Odoo's blacklists (phone.blacklist, mail.blacklist);
    # these fields show it and write to them
    messaging_opt_out = fields.Boolean(
        "Opted out of marketing messages",
        compute="_compute_messaging_opt_out",
        inverse="_inverse_messaging_opt_out",
        help="The contact's number is in Odoo's phone blacklist and its e-mail "
        "in the e-mail blacklist: no marketing message on any channel "
        "(transactional ones still go). Ticking it adds them, unticking it "
        "removes them.",
    )
    messaging_opt_out_channel_ids = fields.Many2many(
        "messaging.channel",
        string="Opted out on channels",
        compute="_compute_messaging_opt_out_channel_ids",
        inverse="_inverse_messaging_opt_out_channel_ids",
        help="Channels that skip marketing messages to this contact: its "
        "number or e-mail is blacklisted, or it opted out on a Zalo OA.",
        # a duplicated contact is someone else: no consent copied
        copy=False,
        groups="multichannel_messaging.group_messaging_user",
    )
    messaging_phone_blacklisted = fields.Boolean(
        "Number blacklisted",
        compute="_compute_messaging_phone_blacklisted",
        compute_sudo=True,
        help="The number messages go to is in Odoo's phone blacklist.",
    )
    messaging_message_count = fields.Integer(
        "Multichannel messages",
        compute="_compute_messaging_message_count",
        groups="multichannel_messaging.group_messaging_user",
    )
    messaging_rating_count = fields.Integer(
        "Ratings given",
        compute="_compute_messaging_rating_count",
        compute_sudo=True,
        groups="multichannel_messaging.group_messaging_user",
        help="The ratings this contact gave (Zalo ratings among them).",
    )

    messaging_click_count = fields.Integer(
        "Clicks on messages",
        compute="_compute_messaging_click_count",
        help="Clicks on the tracked links of the messages sent to this contact.",
        groups="multichannel_messaging.group_messaging_user",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            # a new contact is opted in to nothing: an unticked box (the
            # form sends it) must not take a known number off the blacklist
            if not vals.get("messaging_opt_out"):
                vals.pop("messaging_opt_out", None)
            if not _has_ids(vals.get("messaging_opt_out_channel_ids")):
                vals.pop("messaging_opt_out_channel_ids", None)
        return super().create(vals_list)

    def _compute_messaging_message_count(self):
        counts = dict(
            self.env["messaging.message"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.messaging_message_count = counts.get(partner, 0)

    def _compute_messaging_click_count(self):
        counts = dict(
            self.env["messaging.message"]._read_group(
                [("partner_id", "in", self.ids), ("click_count", ">", 0)],
                ["partner_id"],
                ["click_count:sum"],
            )
        )
        for partner in self:
            partner.messaging_click_count = counts.get(partner, 0)

    def _compute_messaging_rating_count(self):
        counts = dict(
            self.env["rating.rating"]._read_group(
                [
                    ("partner_id", "in", self.ids),
                    ("consumed", "=", True),
                    ("rating", ">", 0),
                ],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.messaging_rating_count = counts.get(partner, 0)

    def action_view_messaging_messages(self):
        self._check_messaging_group("multichannel_messaging.group_messaging_user")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_message_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    @api.model
    def _messaging_normalize_phone(self, number, country=None):
        """'0912 345 678', '+84 912345678', '84912345678' -> '84912345678'.

        Uses Odoo's phone_validation (phonenumbers) with the contact's country,
        Vietnam by default. Raises UserError naming the number when invalid.
        """
        number = (number or "").strip()
        if not number:
            return False
        # Vietnam unless the contact says otherwise (no lookup: this runs once
        # per recipient when a campaign is activated)
        code = country.code if country else "VN"
        phone_code = country.phone_code if country else 84
        try:
            formatted = phone_validation.phone_format(
                number, code, phone_code, force_format="E164"
            )
        except UserError as exc:
            raise UserError(
                _("Phone number %(number)s is not valid: %(error)s")
                % {"number": number, "error": exc}
            ) from exc
        return formatted.lstrip("+")

    def _messaging_phone(self):
        """The mobile (else phone) as Zalo and SMS gateways want it: 84xxxxxxxxx."""
        self.ensure_one()
        number = self.mobile or self.phone
        if not number:
            return False
        return self._messaging_normalize_phone(number, self.country_id or None)

    def _messaging_conversation(self):
        """The customer's most recent Zalo conversation this user can see."""
        self.ensure_one()
        return self.env["discuss.channel"].search(
            [("channel_type", "=", "zalo"), ("messaging_partner_id", "=", self.id)],
            order="messaging_last_inbound_at desc, id desc",
            limit=1,
        )

    def action_messaging_open_conversation(self):
        """Open the Zalo conversation in Discuss (to answer from there)."""
        self._check_messaging_group("multichannel_messaging.group_messaging_user")
        self.ensure_one()
        conversation = self._messaging_conversation()
        if not conversation:
            raise UserError(
                _(
                    "%s has no Zalo conversation you can see: they have not written "
                    "to an OA, or another team answers them."
                )
                % self.display_name
            )
        return conversation.action_messaging_open()

    def _messaging_identity(self, channel):
        self.ensure_one()
        return self.messaging_identity_ids.filtered(lambda i: i.channel_id == channel)[
            :1
        ]

    def _messaging_phone_or_none(self):
        """``_messaging_phone`` without raising on an invalid number."""
        self.ensure_one()
        try:
            return self._messaging_phone()
        except UserError:
            return False

    def _messaging_blacklist_numbers(self):
        """The contact's numbers as ``phone.blacklist`` stores them (E.164):
        the one messages go to and Odoo's ``phone_sanitized``."""
        self.ensure_one()
        phone = self._messaging_phone_or_none()
        return {n for n in ("+" + phone if phone else False, self.phone_sanitized) if n}

    def _messaging_checked_number(self):
        """The number checked against ``phone.blacklist``: Odoo's
        ``phone_sanitized``, else (no country known to Odoo) ours."""
        self.ensure_one()
        if self.phone_sanitized:
            return self.phone_sanitized
        phone = self._messaging_phone_or_none()
        return "+" + phone if phone else False

    @api.depends("mobile", "phone", "country_id", "phone_sanitized")
    def _compute_messaging_phone_blacklisted(self):
        numbers = {partner: partner._messaging_checked_number() for partner in self}
        wanted = [number for number in numbers.values() if number]
        listed = set()
        if wanted:
            # numbers are E.164 already: no ORM search, which parses each again
            self.env["phone.blacklist"].flush_model(["number", "active"])
            self.env.cr.execute(
                "SELECT number FROM phone_blacklist WHERE active AND number = ANY(%s)",
                [wanted],
            )
            listed = {row[0] for row in self.env.cr.fetchall()}
        for partner in self:
            partner.messaging_phone_blacklisted = numbers[partner] in listed

    @api.depends(
        "messaging_phone_blacklisted",
        "is_blacklisted",
        "email_normalized",
        "messaging_identity_ids.opt_out",
    )
    def _compute_messaging_opt_out(self):
        for partner in self:
            listed = []
            if partner._messaging_blacklist_numbers():
                listed.append(partner.messaging_phone_blacklisted)
            if partner.email_normalized:
                listed.append(partner.is_blacklisted)
            partner.messaging_opt_out = bool(listed) and all(listed)

    @api.depends(
        "messaging_phone_blacklisted",
        "is_blacklisted",
        "email_normalized",
        "messaging_identity_ids.opt_out",
    )
    def _compute_messaging_opt_out_channel_ids(self):
        channels = self.env["messaging.channel"].search([])
        for partner in self:
            partner.messaging_opt_out_channel_ids = partner._messaging_opted_out_on(
                channels
            )

    def _messaging_opted_out_on(self, channels):
        self.ensure_one()
        return channels.filtered(self._messaging_is_opted_out)

    def _inverse_messaging_opt_out(self):
        for partner in self:
            if partner.messaging_opt_out:
                partner._messaging_blacklist(phone=True, email=True)
            else:
                partner._messaging_unblacklist(
                    phone=partner.messaging_phone_blacklisted,
                    email=partner.is_blacklisted,
                )

    def _inverse_messaging_opt_out_channel_ids(self):
        """A channel ticked or unticked writes where its consent lives: the
        phone or e-mail blacklist, or the Zalo identity's opt-out."""
        for partner in self:
            after = partner.messaging_opt_out_channel_ids
            before = partner._messaging_opted_out_on(
                self.env["messaging.channel"].search([])
            )
            for channel in after - before:
                partner._messaging_set_channel_opt_out(channel, True)
            for channel in before - after:
                partner._messaging_set_channel_opt_out(channel, False)

    def _messaging_set_channel_opt_out(self, channel, opt_out):
        self.ensure_one()
        ctype = channel.channel_type
        identity = self._messaging_identity(channel) if ctype == "zalo" else False
        by_phone, by_email = ctype != "email", ctype in ("email", "sandbox")
        if opt_out:
            if identity:  # Zalo user id: Odoo has no list for it
                identity.sudo().opt_out = True
            else:
                self._messaging_blacklist(phone=by_phone, email=by_email)
            return
        self._messaging_check_opt_in()
        if identity:
            identity.sudo().opt_out = False
        self._messaging_unblacklist(
            phone=by_phone and self.messaging_phone_blacklisted,
            email=by_email and self.is_blacklisted,
        )

    def _messaging_blacklist(self, phone=False, email=False, message=None):
        """Add the contact's number and/or e-mail to Odoo's blacklists."""
        self.ensure_one()
        message = message or _("Opted out of marketing messages by %s.") % (
            self.env.user.name
        )
        numbers = self._messaging_blacklist_numbers() if phone else set()
        if numbers:
            self.env["phone.blacklist"].sudo()._add(sorted(numbers), message=message)
        if email and self.email_normalized:
            self.env["mail.blacklist"].sudo()._add(self.email_normalized, message)

    def _messaging_unblacklist(self, phone=False, email=False):
        """Take the contact off Odoo's blacklists (a Manager's decision)."""
        self.ensure_one()
        numbers = self._messaging_blacklist_numbers() if phone else set()
        email = email and self.email_normalized
        if not numbers and not email:
            return
        self._messaging_check_opt_in()
        message = _("Opted back in to marketing messages by %s.") % self.env.user.name
        if numbers:
            self.env["phone.blacklist"].sudo()._remove(sorted(numbers), message)
        if email:
            self.env["mail.blacklist"].sudo()._remove(email, message)

    def _messaging_check_opt_in(self):
        if self.env.su or self.env.user.has_group(
            "multichannel_messaging.group_messaging_manager"
        ):
            return
        raise AccessError(
            _(
                "Only a Messaging Manager can opt %s back in to marketing "
                "messages (take them off the blacklists)."
            )
            % self.display_name
        )

    def _messaging_is_opted_out(self, channel):
        """Whether marketing messages on ``channel`` skip this contact."""
        self.ensure_one()
        ctype = channel.channel_type
        if ctype == "email":
            return consent.is_email_blacklisted(self.env, self, self.email_normalized)
        identity = self._messaging_identity(channel) if ctype == "zalo" else False
        if identity and identity.sudo().opt_out:
            return True
        if ctype == "sandbox" and not self._messaging_blacklist_numbers():
            return consent.is_email_blacklisted(self.env, self, self.email_normalized)
        return self.messaging_phone_blacklisted


def _has_ids(commands):
    """Whether x2many ``commands`` link at least one record."""
    for command in commands or []:
        if isinstance(command, int) or (
            isinstance(command, list | tuple)
            and (command[0] == 4 or (command[0] == 6 and command[2]))
        ):
            return True
    return False
