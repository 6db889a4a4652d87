import sys

from odoo import models
from odoo.exceptions import AccessError

USER_GROUP = "multichannel_messaging.group_messaging_user"
MANAGER_GROUP = "multichannel_messaging.group_messaging_manager"
ADMIN_GROUP = "multichannel_messaging.group_messaging_admin"


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

    def _check_messaging_group(self, group_xmlid):
        """Raise AccessError unless the current user is in ``group_xmlid``.

        The first line of every public method of the addon (the groups are
        listed in tests/test_access_matrix.py): a button hidden in a view is
        not security, a public method is callable by RPC on any record id.
        Superuser mode (crons run as OdooBot, ``sudo()``) passes.
        """
        if self.env.su or self.env.user.has_group(group_xmlid):
            return
        group = self.env.ref(group_xmlid)
        method = sys._getframe(1).f_code.co_name  # the public method checked
        raise AccessError(
            self.env._(
                "Only members of the group %(group)s may do this "
                "(%(method)s on %(model)s).",
                group=group.full_name,
                method=method,
                model=self._description,
            )
        )
