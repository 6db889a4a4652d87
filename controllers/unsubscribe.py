from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request


class MessagingUnsubscribeController(http.Controller):
    """The page behind a message's unsubscribe link. Opening the link
    changes nothing (mail scanners and link previews open links); the
    person confirms with a button, or a mail client posts to the same
    address (RFC 8058 one-click, the ``List-Unsubscribe-Post`` header)."""

    def _get_message(self, message_id, token):
        message = request.env["messaging.message"].sudo().browse(message_id).exists()
        if not message or not message._check_unsubscribe_token(token):
            raise NotFound()
        return message

    def _render(self, message, done):
        return render_page(
            message,
            done,
            "/messaging/unsubscribe/%s/%s"
            % (message.id, message._get_unsubscribe_token()),
        )

    @http.route(
        "/messaging/unsubscribe/<int:message_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
    )
    def unsubscribe_page(self, message_id, token, **_kwargs):
        return self._render(self._get_message(message_id, token), done=False)

    @http.route(
        "/messaging/unsubscribe/<int:message_id>/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        # the signed token is the authorization; one-click clients send no
        # CSRF token
        csrf=False,
        sitemap=False,
    )
    def unsubscribe(self, message_id, token, **_kwargs):
        message = self._get_message(message_id, token)
        message._unsubscribe()
        return self._render(message, done=True)


def render_page(message, done, action_url):
    """The unsubscribe page of ``message`` (its confirmation posts to
    ``action_url``), in the customer's language."""
    # the page speaks the customer's language, not the visitor session's
    lang = message.partner_id.lang or message.company_id.partner_id.lang
    if lang:
        request.update_context(lang=lang)
    kind, address = message._get_unsubscribe_address()
    return request.render(
        "multichannel_messaging.messaging_unsubscribe_page",
        {
            "message": message,
            "kind": kind,
            "address": address,
            "company": message.company_id,
            "done": done,
            "action_url": action_url,
        },
    )
