from odoo import models, tools
from odoo.tools import SQL, consteq

from ..engine import links

SMS_OPT_OUT_SCOPE = "multichannel_messaging-sms-opt-out"


class MessagingMessage(models.Model):
    """A message's tracked links (``/r/<code>/m/<id>``, see
    ``engine/links.py``): the clicks they count, and the short opt-out link
    of a marketing SMS (``/so/<id>/<token>``, signed with the database
    secret like the unsubscribe link)."""

    _inherit = "messaging.message"

    def _get_clicked(self, tracker):
        """This message when ``tracker`` may be one of its links (a tracker
        of its campaign, or without campaign for a message without one),
        else an empty recordset."""
        message = self.sudo()[:1]
        if not message:
            return message
        if message.campaign_id.utm_campaign_id != tracker.campaign_id:
            return message.browse()
        return message

    def _register_click(self):
        """One more click on each message, in one UPDATE (no click lost
        when two arrive at once: the row lock orders them)."""
        if not self:
            return
        self.env.cr.execute(
            SQL(
                # NULL on the rows the queue INSERTs itself
                "UPDATE messaging_message"
                " SET click_count = COALESCE(click_count, 0) + 1"
                " WHERE id IN %s",
                tuple(self.ids),
            )
        )
        self.invalidate_recordset(["click_count"])

    def _get_sms_opt_out_token(self):
        self.ensure_one()
        signature = tools.hmac(self.env(su=True), SMS_OPT_OUT_SCOPE, self.id)
        return signature[: links.OPT_OUT_TOKEN_SIZE]

    def _check_sms_opt_out_token(self, token):
        self.ensure_one()
        return bool(token) and consteq(str(token), self._get_sms_opt_out_token())

    def _get_sms_opt_out_path(self):
        self.ensure_one()
        return "%s%s/%s" % (links.OPT_OUT_PATH, self.id, self._get_sms_opt_out_token())

    def _get_sms_opt_out_text(self):
        """The line a marketing SMS ends with, in its recipient's language."""
        self.ensure_one()
        message = self.sudo()
        lang = message.partner_id.lang or message.company_id.partner_id.lang
        env = message.with_context(lang=lang).env if lang else message.env
        url = links.get_base_url(self.env) + message._get_sms_opt_out_path()
        return env._("STOP SMS: %(url)s", url=url)
