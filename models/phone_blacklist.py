from odoo import models


class PhoneBlacklist(models.Model):
    _name = "phone.blacklist"
    _inherit = ["phone.blacklist", "messaging.blacklist.sync"]

    _partner_flag_fields = (
        "messaging_phone_blacklisted",
        "messaging_opt_out",
        "messaging_opt_out_channel_ids",
        "phone_sanitized_blacklisted",
        "phone_blacklisted",
        "mobile_blacklisted",
    )
