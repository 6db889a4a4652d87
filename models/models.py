from odoo import models


class Base(models.AbstractModel):
    _inherit = "base"

    def _messaging_get_partner(self):
        """The customer a message about this record goes to."""
        self.ensure_one()
        if self._name == "res.partner":
            return self
        if "partner_id" in self._fields:
            return self.partner_id
        return self.env["res.partner"]
