from odoo import api, models

PARTNER_FIELDS = [
    "messaging_phone_blacklisted",
    "messaging_opt_out",
    "messaging_opt_out_channel_ids",
    "phone_sanitized_blacklisted",
    "phone_blacklisted",
    "mobile_blacklisted",
]


class PhoneBlacklist(models.Model):
    """The contacts' blacklist flags follow the list within a transaction
    (Odoo computes them once per transaction): a number added or removed
    is honoured by the next message queued."""

    _inherit = "phone.blacklist"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env["res.partner"].invalidate_model(PARTNER_FIELDS)
        return records

    def write(self, vals):
        res = super().write(vals)
        self.env["res.partner"].invalidate_model(PARTNER_FIELDS)
        return res

    def unlink(self):
        res = super().unlink()
        self.env["res.partner"].invalidate_model(PARTNER_FIELDS)
        return res
