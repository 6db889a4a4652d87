"""Inbound webhooks: Zalo events (signed), eSMS and SpeedSMS delivery reports.

Every route is behind the channel's secret token
(``/messaging/webhook/<channel type>/<token>``). A call is checked (size,
JSON, signature, age), stored raw in ``messaging.event`` once per event key
(a replay or a provider retry is answered 200 and changes nothing), then
processed in the same transaction inside a savepoint: a failing event is kept
as 'error' and still answered 200, so the provider does not retry it for
hours. Nothing is stored for a refused call. No secret is ever logged.
"""

import hmac
import json
import logging
import time

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from ..models.messaging_event import event_key_digest, zalo_time

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # Zalo events are a few hundred bytes
FUTURE_SKEW_SECONDS = 300
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-ZEvent-Server", "num_retry")
ZNS_SERVER = "ZNS"


def _json_response(status, payload):
    return request.make_json_response(payload, status=status)


def _refuse(status, reason, channel=None):
    _logger.warning(
        "Webhook call refused (%s, channel %s): %s",
        status,
        channel.id if channel else "-",
        reason,
    )
    return _json_response(status, {"error": status, "message": reason})


class MessagingWebhookController(http.Controller):
    # ------------------------------------------------------------------
    # Common
    # ------------------------------------------------------------------

    def _find_channel(self, channel_type, token):
        """The channel owning this token, or None (archived ones still take
        receipts for what they sent)."""
        if not token or len(token) < 16 or len(token) > 128:
            return None
        channel = (
            request.env["messaging.channel"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [("webhook_token", "=", token), ("channel_type", "=", channel_type)],
                limit=1,
            )
        )
        if not channel or not hmac.compare_digest(
            channel.webhook_token.encode(), token.encode()
        ):
            return None
        return channel

    def _read_body(self):
        """Raw body, or None when larger than allowed (read at most the limit)."""
        httprequest = request.httprequest
        length = httprequest.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return None
        # bodies without Content-Length (chunked) stop at the limit too
        httprequest.max_content_length = MAX_BODY_BYTES
        try:
            body = httprequest.get_data(cache=True)
        except RequestEntityTooLarge:
            return None
        if len(body) > MAX_BODY_BYTES:
            return None
        return body

    def _kept_headers(self):
        headers = request.httprequest.headers
        return {name: headers[name] for name in KEPT_HEADERS if name in headers}

    def _store_and_process(self, channel, key, name, payload, **extra):
        Event = request.env["messaging.event"].sudo()
        event = Event._store(
            channel, key, name, payload, headers=self._kept_headers(), **extra
        )
        if not event:
            return _json_response(
                200, {"error": 0, "message": "Duplicate: already received"}
            )
        event._process()
        return _json_response(
            200, {"error": 0, "message": "Success", "state": event.state}
        )

    # ------------------------------------------------------------------
    # Routes
    # ------------------------------------------------------------------

    @http.route(
        "/messaging/webhook/zalo/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def zalo_webhook(self, token, **_kwargs):
        channel = self._find_channel("zalo", token)
        if channel is None:
            return _refuse(404, "Unknown channel")
        raw = self._read_body()
        if raw is None:
            return _refuse(413, "Body too large", channel)
        try:
            data = json.loads(raw)
        except ValueError:
            return _refuse(400, "Malformed JSON", channel)
        if not isinstance(data, dict) or not data.get("timestamp"):
            return _refuse(400, "No timestamp in the body", channel)
        header = request.httprequest.headers.get("X-ZEvent-Signature")
        if not header:
            return _refuse(401, "Missing X-ZEvent-Signature", channel)
        variant = channel._check_zalo_signature(raw, data["timestamp"], header)
        if not variant:
            return _refuse(401, "Bad signature", channel)
        stale = self._stale_reason(channel, data["timestamp"])
        if stale:
            return _refuse(400, stale, channel)
        name = str(data.get("event_name") or "unknown")
        return self._store_and_process(
            channel,
            self._zalo_event_key(data, raw, name),
            name,
            raw.decode("utf-8", "replace"),
            event_at=zalo_time(data["timestamp"]),
            signature_variant=variant,
            sender_ref=self._zalo_user_ref(data),
        )

    @http.route(
        ["/messaging/webhook/esms/<string:token>"],
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def esms_callback(self, token, **_kwargs):
        """eSMS calls its CallbackUrl with GET and query parameters
        (SMSID, SendStatus, SendSuccess, SendFailed, RequestId...)."""
        channel = self._find_channel("esms", token)
        if channel is None:
            return _refuse(404, "Unknown channel")
        if (request.httprequest.content_length or 0) > MAX_BODY_BYTES or len(
            request.httprequest.query_string
        ) > MAX_BODY_BYTES:
            return _refuse(413, "Request too large", channel)
        params = request.httprequest.values.to_dict()
        if not params.get("SMSID") and not params.get("RequestId"):
            return _refuse(400, "No SMSID", channel)
        key = "esms:%s" % event_key_digest(
            *(
                params.get(name, "")
                for name in (
                    "SMSID",
                    "RequestId",
                    "SendStatus",
                    "SendSuccess",
                    "SendFailed",
                    "phonenumber",
                )
            )
        )
        return self._store_and_process(
            channel,
            key,
            "delivery_report",
            json.dumps(params, ensure_ascii=False, sort_keys=True),
        )

    @http.route(
        "/messaging/webhook/speedsms/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def speedsms_callback(self, token, **_kwargs):
        """SpeedSMS posts JSON: {"type": "report", "tranId", "phone", "status"}."""
        channel = self._find_channel("speedsms", token)
        if channel is None:
            return _refuse(404, "Unknown channel")
        raw = self._read_body()
        if raw is None:
            return _refuse(413, "Body too large", channel)
        try:
            data = json.loads(raw)
        except ValueError:
            return _refuse(400, "Malformed JSON", channel)
        if not isinstance(data, dict):
            return _refuse(400, "Not a JSON object", channel)
        key = "speedsms:%s" % event_key_digest(
            data.get("type", ""),
            data.get("tranId", ""),
            data.get("phone", ""),
            data.get("status", ""),
        )
        return self._store_and_process(
            channel,
            key,
            str(data.get("type") or "report"),
            raw.decode("utf-8", "replace"),
            sender_ref=str(data.get("phone") or "") or None,
        )

    @http.route(
        "/messaging/webhook/<string:channel_type>/<string:token>",
        type="http",
        auth="public",
        csrf=False,
        save_session=False,
    )
    def unknown_webhook(self, channel_type, token, **_kwargs):
        return _refuse(404, "Unknown channel")

    @http.route(
        "/zalo_verifier<string:code>.html",
        type="http",
        auth="public",
        methods=["GET"],
        save_session=False,
    )
    def zalo_verifier(self, code, **_kwargs):
        """Zalo's domain verification file, served at the site root."""
        channel = (
            request.env["messaging.channel"]
            .sudo()
            .search(
                [("channel_type", "=", "zalo"), ("zalo_verifier_code", "=", code)],
                limit=1,
            )
        )
        if not code or not channel:
            return request.not_found()
        html = (
            "<!DOCTYPE html>\n<html><head>"
            '<meta name="zalo-platform-site-verification" content="%s" />'
            "</head><body>Zalo domain verification</body></html>\n"
        ) % channel.zalo_verifier_code.replace('"', "&quot;").replace("<", "&lt;")
        return request.make_response(
            html, headers=[("Content-Type", "text/html; charset=utf-8")]
        )

    # ------------------------------------------------------------------
    # Zalo helpers
    # ------------------------------------------------------------------

    @staticmethod
    def _stale_reason(channel, timestamp):
        """Refuse old (and far-future) events: the body's timestamp is signed."""
        try:
            epoch = int(str(timestamp).strip())
        except ValueError:
            return "Unreadable timestamp"
        if epoch > 10**11:  # milliseconds
            epoch /= 1000.0
        now = time.time()
        if epoch > now + FUTURE_SKEW_SECONDS:
            return "Timestamp in the future"
        max_age = channel.webhook_max_age_seconds
        if max_age and now - epoch > max_age:
            return "Stale timestamp"
        return None

    @staticmethod
    def _zalo_user_ref(data):
        for key in ("follower", "sender"):
            value = data.get(key)
            if isinstance(value, dict) and value.get("id"):
                return str(value["id"])
        return None

    @staticmethod
    def _zalo_event_key(data, raw, name):
        """msg_id identifies a user message; receipts and management events
        have none of their own (or share the msg_id of the message they are
        about), so they are keyed on the event name + ids, or on the body."""
        message = data.get("message") if isinstance(data.get("message"), dict) else {}
        msg_id = message.get("msg_id")
        if msg_id and name.startswith("user_send_"):
            return "msg:%s" % msg_id
        if msg_id or message.get("msg_ids"):
            return "%s:%s" % (
                name,
                event_key_digest(
                    msg_id or "", *sorted(map(str, message.get("msg_ids") or []))
                ),
            )
        return "body:%s" % event_key_digest(raw)
