from markupsafe import Markup

from odoo import _, models, tools
from odoo.tools import consteq

UNSUBSCRIBE_SCOPE = "multichannel_messaging-unsubscribe"


class MessagingMessage(models.Model):
    """The unsubscribe link of a message: whoever holds it may put the
    address this message went to on Odoo's own lists (``phone.blacklist``,
    ``mail.blacklist``; the Zalo OA's opt-out for a user id without a known
    number). The link is signed with the database secret, like Odoo's mass
    mailing unsubscribe links."""

    _inherit = "messaging.message"

    def _get_unsubscribe_token(self):
        self.ensure_one()
        return tools.hmac(self.env(su=True), UNSUBSCRIBE_SCOPE, self.id)

    def _check_unsubscribe_token(self, token):
        self.ensure_one()
        return bool(token) and consteq(str(token), self._get_unsubscribe_token())

    def _get_unsubscribe_url(self):
        self.ensure_one()
        return "%s/messaging/unsubscribe/%s/%s" % (
            self.get_base_url(),
            self.id,
            self._get_unsubscribe_token(),
        )

    def _prepare_email_unsubscribe_values(self, body_html):
        """A marketing e-mail's link at the foot of the body, and the
        ``List-Unsubscribe`` headers mail clients show as a button."""
        self.ensure_one()
        url = self._get_unsubscribe_url()
        footer = Markup(
            '<p style="font-size: 12px; color: #888888;"><a href="%s">%s</a></p>'
        ) % (url, _("Unsubscribe from these messages"))
        return {
            "body_html": Markup(body_html) + footer,
            # mail.mail reads its headers with ast.literal_eval
            "headers": repr(
                {
                    "List-Unsubscribe": "<%s>" % url,
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                }
            ),
        }

    def _get_unsubscribe_address(self):
        """(kind, address shown to the person) of what the link opts out."""
        self.ensure_one()
        recipient = self.recipient or ""
        if self.route == "email" or "@" in recipient:
            return "email", tools.email_normalize(recipient) or recipient
        if self.route in ("uid", "consultation"):
            return "zalo", self.channel_id.name
        return ("phone", "+" + recipient.lstrip("+")) if recipient else (False, "")

    def _unsubscribe(self):
        """Opt the address of this message out of marketing messages, in
        Odoo's lists. Returns False when there is nothing to opt out."""
        self.ensure_one()
        message = self.sudo()
        kind, address = message._get_unsubscribe_address()
        reason = _("Unsubscribed with the link of message %(id)s (%(channel)s).") % {
            "id": message.id,
            "channel": message.channel_id.name,
        }
        if kind == "email":
            self.env["mail.blacklist"].sudo()._add(address, reason)
        elif kind == "phone":
            self.env["phone.blacklist"].sudo()._add([address], message=reason)
        elif kind == "zalo":
            identity = message.env["messaging.identity"].search(
                [
                    ("channel_id", "=", message.channel_id.id),
                    ("external_id", "=", message.recipient),
                ],
                limit=1,
            )
            if not identity:
                return False
            identity._apply_opt_out(reason)
        else:
            return False
        if message.partner_id:
            self.env["mail.message"]._messaging_post(
                message.partner_id,
                "unsubscribed",
                {"id": message.id, "channel": message.channel_id.name},
                message_type="notification",
                subtype_xmlid="mail.mt_note",
            )
        return True
