from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import LazyTranslate, plaintext2html

from ..engine import waits

_lt = LazyTranslate(__name__)

# The lines this addon writes in chatters and conversations. A line is stored
# as its key and parameters (``mail.message.messaging_line``) and written out
# in the reader's language each time the web client loads it (``_to_store``):
# whoever ran the job or clicked does not choose the language of the others.
LINES = {
    "sent": _lt("%(channel)s message sent to %(to)s:\n%(text)s"),
    "unsubscribed": _lt("Unsubscribed with the link of message %(id)s (%(channel)s)."),
    "not_queued": _lt("The message could not be queued: %(error)s"),
    "no_channel": _lt(
        "No message sent: no active messaging channel for template %(template)s "
        "or its fallbacks."
    ),
    "shared_queue": _lt("Waiting in the shared queue of %(team)s."),
    "no_team": _lt("No team answers this OA: waiting for a manager."),
    "assigned": _lt("Assigned to %(agent)s."),
    "done": _lt("Marked as done by %(user)s."),
    "zalo_reply": _lt("Zalo reply by %(agent)s: %(text)s"),
    "not_delivered": _lt("Not delivered on Zalo: %(error)s"),
    "zalo_feedback": _lt(
        "Zalo rating of message %(id)s: %(stars)s %(rate)s/5\n%(text)s"
    ),
    "held": _lt("%(channel)s message to %(to)s waits: %(reason)s"),
    "survey_done": _lt("Survey %(survey)s answered (link of message %(id)s)."),
    "rating_request": _lt("Rating request %(template)s sent on closing."),
}
NOTIFICATION = Markup('<div class="o_mail_notification">%s</div>')


class MailMessage(models.Model):
    _inherit = "mail.message"

    messaging_line = fields.Json(
        readonly=True,
        copy=False,
        help="A line of the messaging addon: its key and parameters, written "
        "out in the reader's language when the message is shown.",
    )

    @api.model
    def _messaging_post(self, record, key, params=None, notification=False, **kw):
        """Post line ``key`` on ``record``. The stored ``body`` (e-mails,
        search, exports, the live notification) is in the language of the
        record's company; the web client shows the line in its reader's."""
        line = {"key": key, "params": params or {}}
        if notification:
            line["notification"] = True
        body = self._messaging_render(line, self._messaging_record_lang(record))
        message = record.message_post(body=body, **kw)
        # sudo: our own line on the message just posted
        message.sudo().messaging_line = line
        return message

    @api.model
    def _messaging_post_many(self, entries, subtype_xmlid="mail.mt_note"):
        """Notes ``(record, key, params)`` on many records in one create:
        what ``_messaging_post`` writes, without one ``message_post`` per
        record (a send from a list logs each of its records)."""
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id(subtype_xmlid)
        author = self.env.user.partner_id
        vals_list = []
        for record, key, params in entries:
            line = {"key": key, "params": params or {}}
            lang = self._messaging_record_lang(record)
            vals_list.append(
                {
                    "model": record._name,
                    "res_id": record.id,
                    "body": self._messaging_render(line, lang),
                    "messaging_line": line,
                    "message_type": "notification",
                    "subtype_id": subtype_id,
                    "author_id": author.id,
                    "email_from": author.email_formatted or False,
                }
            )
        # sudo: the queue's own log lines on records it sent about
        return self.sudo().create(vals_list)

    @api.model
    def _messaging_record_lang(self, record):
        company = self.env.company
        if "company_id" in record._fields and record.company_id:
            company = record.company_id
        return company.partner_id.lang or "en_US"

    @api.model
    def _messaging_render(self, line, lang):
        params = dict(line.get("params") or {})
        error_of = params.pop("error_of", None)
        message = self.env["messaging.message"].sudo().browse(error_of).exists()
        if message:  # a message of the queue: its error, translated now
            error = message.with_context(lang=lang).error_message_display
            params["error"] = (
                " ".join(filter(None, [message.error_code, error])) or params["error"]
            )
        wait = params.pop("wait", None)
        if wait:  # why a message of the queue waits: worded now
            env = self.env(context=dict(self.env.context, lang=lang))
            params["reason"] = waits.wait_text(env, wait[0], waits.from_string(wait[1]))
        text = LINES[line["key"]]._translate(lang) % params
        if line.get("notification"):
            return NOTIFICATION % text
        return plaintext2html(text)

    def _to_store(self, store, /, *, fields=None, **kwargs):
        super()._to_store(store, fields=fields, **kwargs)
        if fields is not None and "body" not in fields:
            return
        lang = self.env.lang or "en_US"
        # sudo: the line of a message the reader may already see
        for message in self.sudo().filtered("messaging_line"):
            if message.messaging_line.get("key") not in LINES:
                continue  # a line this version no longer knows: as stored
            body = self._messaging_render(message.messaging_line, lang)
            store.add(message, {"body": body})
