from odoo import api, models


class MessagingBlacklistSync(models.AbstractModel):
    """Odoo's blacklists with the contacts' flags that follow them within a
    transaction (Odoo computes those flags once per transaction): a number or
    an address added or removed is honoured by the next message queued.
    Mixed into ``phone.blacklist`` and ``mail.blacklist``, each naming the
    contact fields that depend on it."""

    _name = "messaging.blacklist.sync"
    _description = "Contact flags that follow a blacklist"

    # res.partner fields computed from this list
    _partner_flag_fields = ()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self._invalidate_partner_flags()
        return records

    def write(self, vals):
        res = super().write(vals)
        self._invalidate_partner_flags()
        return res

    def unlink(self):
        res = super().unlink()
        self._invalidate_partner_flags()
        return res

    def _invalidate_partner_flags(self):
        self.env["res.partner"].invalidate_model(list(self._partner_flag_fields))
