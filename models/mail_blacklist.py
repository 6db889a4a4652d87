from odoo import models


class MailBlacklist(models.Model):
    _name = "mail.blacklist"
    _inherit = ["mail.blacklist", "messaging.blacklist.sync"]

    _partner_flag_fields = (
        "is_blacklisted",
        "messaging_opt_out",
        "messaging_opt_out_channel_ids",
    )
