from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request

from .unsubscribe import render_page

# ids above this are not ids (PostgreSQL's int4): a 404 or no click, not a 500
MAX_ID = 2**31 - 1


def browse_message(message_id):
    """The message of this id, empty when there is none."""
    Message = request.env["messaging.message"].sudo()
    return Message.browse(message_id if message_id <= MAX_ID else ()).exists()


class MessagingLinksController(http.Controller):
    """A message's tracked links and the opt-out link of a marketing SMS."""

    @http.route(
        "/r/<string:code>/m/<int:message_id>",
        type="http",
        auth="public",
        readonly=False,
        sitemap=False,
    )
    def messaging_short_link_redirect(self, code, message_id, **_kwargs):
        """Odoo's ``/r/<code>`` (a click on the tracker, the redirect to its
        URL with its UTM parameters), the click counted on the message when
        the message is one of the tracker's campaign."""
        tracker = (
            request.env["link.tracker.code"]
            .sudo()
            .search([("code", "=", code)], limit=1)
            .link_id
        )
        if not tracker:
            raise NotFound()
        if not request.env["ir.http"].is_a_bot():
            message = browse_message(message_id)._get_clicked(tracker)
            request.env["link.tracker.click"].sudo().add_click(
                code,
                ip=request.httprequest.remote_addr,
                country_code=request.geoip.country_code,
                messaging_message_id=message.id,
            )
            message._register_click()
        return request.redirect(tracker.redirected_url, code=301, local=False)

    def _get_opt_out_message(self, message_id, token):
        message = browse_message(message_id)
        if not message or not message._check_sms_opt_out_token(token):
            raise NotFound()
        return message

    @http.route(
        "/so/<int:message_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
    )
    def sms_opt_out_page(self, message_id, token, **_kwargs):
        """Opening the link changes nothing: the customer confirms."""
        message = self._get_opt_out_message(message_id, token)
        return render_page(message, False, message._get_sms_opt_out_path())

    @http.route(
        "/so/<int:message_id>/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        # the signed token is the authorization
        csrf=False,
        sitemap=False,
    )
    def sms_opt_out(self, message_id, token, **_kwargs):
        message = self._get_opt_out_message(message_id, token)
        message._unsubscribe()
        return render_page(message, True, message._get_sms_opt_out_path())
