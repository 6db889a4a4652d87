from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.phone_validation.tools import phone_validation


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
    messaging_opt_out = fields.Boolean(
        "Opted out of marketing messages",
        help="No marketing message on any channel (transactional ones still go).",
    )
    messaging_opt_out_channel_ids = fields.Many2many(
        "messaging.channel",
        "res_partner_messaging_opt_out_rel",
        "partner_id",
        "channel_id",
        string="Opted out on channels",
        # a duplicated contact is someone else: no consent copied
        copy=False,
        groups="multichannel_messaging.group_messaging_user",
    )
    messaging_message_count = fields.Integer(
        "Multichannel messages",
        compute="_compute_messaging_message_count",
        groups="multichannel_messaging.group_messaging_user",
    )

    def _compute_messaging_message_count(self):
        counts = dict(
            self.env["messaging.message"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.messaging_message_count = counts.get(partner, 0)

    def action_view_messaging_messages(self):
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

    def _messaging_is_opted_out(self, channel):
        self.ensure_one()
        return self.messaging_opt_out or channel in self.messaging_opt_out_channel_ids
