"""Inbound webhooks: Zalo events (signed), eSMS and SpeedSMS delivery reports.

Every route is behind the channel's secret token
(``/messaging/webhook/<channel type>/<token>``). A call is checked (size,
JSON, signature, age) and stored raw in ``messaging.event`` once per event
key (a replay or a provider retry is answered 200 and changes nothing), with
a trigger for the processing cron in the same statement; the answer goes
back at once and the cron, woken after the commit, processes the stored
events in batches (``messaging.event._cron_process_pending``). Nothing is
stored for a refused call. No secret is ever logged.

The request does no ORM work: the channel is read and the event inserted
with plain SQL (functions below, shared with the WSGI fast path of
``fast_path.py``, which serves Zalo calls before Odoo's request stack).
"""

import codecs
import hmac
import json
import logging
import re
import time

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from ..engine.inbound import CRON_XMLID, store_event, wake_cron
from ..providers import zalo_events
from ..providers.payload import as_id, as_text, event_key_digest
from ..providers.zalo_signature import check_zalo_signature

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # Zalo events are a few hundred bytes
FUTURE_SKEW_SECONDS = 300
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-ZEvent-Server", "num_retry")
ZNS_SERVER = "ZNS"
CHANNEL_COLUMNS = (
    "id",
    "company_id",
    "channel_type",
    "webhook_token",
    "zalo_app_id",
    "zalo_oa_id",
    "zalo_oa_secret_key",
    "zalo_app_secret",
    "zalo_signature_variant",
    "webhook_max_age_seconds",
)
STORED = {"error": 0, "message": "Success"}
DUPLICATE = {"error": 0, "message": "Duplicate: already received"}
UNREADABLE = "Unreadable body (malformed chunked encoding)"
# Zalo's URL check (an unsigned ``{}`` when the URL is saved in its console)
URL_CHECK = {"error": 0, "message": "OK: nothing to store"}
URL_CHECK_BODY = re.compile(rb"\s*(?:\{\s*\}\s*)?")
# what the route reads when Odoo's stack parsed the body as a form first:
# refused for its Content-Type, unless the form was Zalo's URL check
FORM_BODY = b"<body parsed as a form>"
# environ key: the bytes of a Zalo body kept by fast_path.keep_raw_body for
# the route (Odoo's stack may parse them as a form before the route)
RAW_BODY = "multichannel_messaging.raw_body"
MAX_JSON_DEPTH = 32  # Zalo events nest 3 or 4 levels
# what a JSON body may be sent as (none: taken as JSON too)
JSON_CONTENT_TYPES = ("application/json", "text/json", "text/plain")
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")  # secrets.token_urlsafe()
# UTF-32 LE starts with the UTF-16 LE mark
BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
_JSON_TOKEN = re.compile(r'[\\"\[\]{}]')  # what the depth count looks at
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL refuses them
# escapes that may stand for one of those (or for half of a valid pair)
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _json_response(status, payload):
    return request.make_json_response(payload, status=status)


def refusal(status, reason, channel=None):
    """(status, body) of a refused call, logged without secrets."""
    _logger.warning(
        "Webhook call refused (%s, channel %s): %s",
        status,
        channel["id"] if channel else "-",
        reason,
    )
    return status, {"error": status, "message": reason}


def _refuse(status, reason, channel=None):
    return _json_response(*refusal(status, reason, channel))


# ----------------------------------------------------------------------
# Plain functions on a cursor (no ORM, no request): both the routes below
# and the WSGI fast path (fast_path.py) answer Zalo calls with them.
# ----------------------------------------------------------------------


def find_channel(cr, channel_type, token):
    """The channel owning this token as a dict of CHANNEL_COLUMNS, or None
    (archived ones still take receipts for what they sent)."""
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    cr.execute(
        "SELECT %s FROM messaging_channel WHERE webhook_token = %%s"
        " AND channel_type = %%s" % ", ".join(CHANNEL_COLUMNS),
        [token, channel_type],
    )
    row = cr.fetchone()
    if row is None:
        return None
    channel = dict(zip(CHANNEL_COLUMNS, row, strict=True))
    if not hmac.compare_digest(channel["webhook_token"].encode(), token.encode()):
        return None
    return channel


def cron_id(cr):
    """Id of the processing cron (None when it was deleted)."""
    module, name = CRON_XMLID.split(".")
    cr.execute(
        "SELECT res_id FROM ir_model_data"
        " WHERE module = %s AND name = %s AND model = 'ir.cron'",
        [module, name],
    )
    row = cr.fetchone()
    return row[0] if row else None


def kept_headers(headers):
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}


def stale_reason(channel, epoch):
    """Refuse old (and far-future) events: the body's timestamp (``epoch``,
    seconds, None when unreadable) is signed."""
    if epoch is None:
        return "Unreadable timestamp"
    now = time.time()
    if epoch > now + FUTURE_SKEW_SECONDS:
        return "Timestamp in the future"
    max_age = channel["webhook_max_age_seconds"]
    if max_age and now - epoch > max_age:
        return "Stale timestamp"
    return None


def json_too_deep(text, limit=MAX_JSON_DEPTH):
    """Whether a JSON text nests objects and arrays deeper than ``limit``,
    counted without recursion (brackets inside strings do not count)."""
    if text.count("{") + text.count("[") <= limit:
        return False  # the usual case: too few brackets to be that deep
    depth, in_string, escaped_at = 0, False, -1
    for match in _JSON_TOKEN.finditer(text):  # one pass, whatever the text
        char, position = match.group(), match.start()
        if in_string:
            if position == escaped_at:
                continue  # the character after a backslash
            if char == "\\":
                escaped_at = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
            if depth > limit:
                return True
        elif char in "}]":
            depth -= 1
    return False


def _bad_string(data):
    """Whether a string of a parsed JSON value (keys too) holds a NUL or a
    lone surrogate (from ``\\u`` escapes), walked without recursion."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and _BAD_CHARACTERS.search(value):
            return True
    return False


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def parse_json_object(raw):
    """(dict, None) for a body that is a UTF-8 JSON object, else (None, the
    reason to refuse it with a 400). Strict where PostgreSQL or the
    processing would fail later: no byte order mark nor other encoding, no
    NUL (byte or escape), no lone surrogate, no NaN/Infinity, at most
    ``MAX_JSON_DEPTH`` levels. Duplicate keys are allowed (the last wins)."""
    if raw.startswith(BOMS):
        return None, "Byte order mark: send UTF-8 without BOM"
    if b"\x00" in raw:
        return None, "NUL byte in the body (only UTF-8 is accepted)"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "Body is not UTF-8"
    if json_too_deep(text):
        return None, "JSON nested deeper than %d levels" % MAX_JSON_DEPTH
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        return None, "JSON nested too deep"
    except ValueError:
        return None, "Malformed JSON"
    if not isinstance(data, dict):
        return None, "Not a JSON object"
    if _SUSPECT_ESCAPE.search(text) and _bad_string(data):
        return None, "NUL character or lone surrogate in a JSON string"
    return data, None


def content_type_reason(headers):
    """Why the Content-Type cannot carry a JSON body (None when it can, or
    when there is none): form and multipart bodies are parsed by Odoo's
    stack before the route sees them, other charsets than UTF-8 refused."""
    value = headers.get("Content-Type") or ""
    mimetype, _sep, params = value.partition(";")
    mimetype = mimetype.strip().lower()
    if (
        mimetype
        and mimetype not in JSON_CONTENT_TYPES
        and not mimetype.endswith("+json")
    ):
        return "Content-Type must be application/json"
    charset = params.lower().replace(" ", "").partition("charset=")[2]
    charset = charset.split(";")[0].strip("\"'")
    if charset and charset not in ("utf-8", "utf8"):
        return "Content-Type charset must be UTF-8"
    return None


def is_url_check(raw):
    """Whether a body is Zalo's check of a new webhook URL: empty, or an
    empty JSON object (``{}``, whitespace around or inside)."""
    return URL_CHECK_BODY.fullmatch(raw) is not None


def answer_zalo(cr, token, raw, headers, cron=None):
    """Check and store one Zalo call: (HTTP status, JSON body, new event id
    or None). ``raw`` is None when the body was larger than allowed, False
    when it could not be read (a malformed chunked encoding); ``cron``: id
    of the processing cron (read when not given).

    Whatever the caller sends, the answer is a 2xx or a 4xx: an empty body
    or ``{}`` (Zalo's check of a new webhook URL) gets 200 and stores
    nothing; a body that is not a UTF-8 JSON object, a bad signature or
    timestamp gets a 4xx and stores nothing; a signed event is stored
    whatever its fields hold (the processing keeps what it cannot
    understand as an error on the event)."""
    channel = find_channel(cr, "zalo", token)
    if channel is None:
        return (*refusal(404, "Unknown channel"), None)
    if raw is None:
        return (*refusal(413, "Body too large", channel), None)
    if raw is False:
        return (*refusal(400, UNREADABLE, channel), None)
    if is_url_check(raw):
        # whatever its Content-Type and signature: Zalo saves the URL on a 200
        return 200, URL_CHECK, None
    # before the body: Odoo's stack parses a form body (the route gets none)
    unsupported = content_type_reason(headers)
    if unsupported:
        return (*refusal(415, unsupported, channel), None)
    data, reason = parse_json_object(raw)
    if reason:
        return (*refusal(400, reason, channel), None)
    if not data:
        return 200, URL_CHECK, None
    event = zalo_events.parse_event(data)
    if event.timestamp is None:
        return (*refusal(400, "No timestamp in the body", channel), None)
    header = headers.get("X-ZEvent-Signature")
    if not header:
        return (*refusal(401, "Missing X-ZEvent-Signature", channel), None)
    variant = check_zalo_signature(channel, raw, event.timestamp, header)
    if not variant:
        return (*refusal(401, "Bad signature", channel), None)
    stale = stale_reason(channel, event.epoch)
    if stale:
        return (*refusal(400, stale, channel), None)
    event_id = store_event(
        cr,
        {
            "channel_id": channel["id"],
            "company_id": channel["company_id"],
            "event_key": event.event_key(raw),
            "event_name": event.name,
            "payload": raw.decode("utf-8"),
            "headers": kept_headers(headers),
            "event_at": event.sent_at,
            "signature_variant": variant,
            "sender_ref": event.user_ref or None,
        },
        cron_id=cron if cron is not None else cron_id(cr),
    )
    return 200, (STORED if event_id else DUPLICATE), event_id


class MessagingWebhookController(http.Controller):
    # ------------------------------------------------------------------
    # Common
    # ------------------------------------------------------------------

    def _read_body(self):
        """Raw body, None when larger than allowed (read at most the limit),
        False when it cannot be read (a malformed chunked encoding)."""
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
        except OSError:
            # werkzeug: "Invalid chunk header" (the caller's fault, a 400)
            return False
        if len(body) > MAX_BODY_BYTES:
            return None
        return body

    def _answer(self, status, payload, event_id):
        if event_id:
            registry = request.env.registry
            request.env.cr.postcommit.add(lambda: wake_cron(registry))
        return _json_response(status, payload)

    def _store(self, channel, key, name, payload, **extra):
        event_id = store_event(
            request.env.cr,
            {
                "channel_id": channel["id"],
                "company_id": channel["company_id"],
                "event_key": key,
                "event_name": name,
                "payload": payload,
                "headers": kept_headers(request.httprequest.headers),
                **extra,
            },
            cron_id=cron_id(request.env.cr),
        )
        return self._answer(200, STORED if event_id else DUPLICATE, event_id)

    # ------------------------------------------------------------------
    # Routes (auth='none', no session: plain SQL on the request's cursor)
    # ------------------------------------------------------------------

    @http.route(
        "/messaging/webhook/zalo/<string:token>",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        # auth="none" routes start read-only in Odoo 18: a webhook stores
        readonly=False,
    )
    def zalo_webhook(self, token, **_kwargs):
        """Served here when the fast path (fast_path.py) passed the call on:
        unknown body length, registry not loaded yet, fast path off."""
        raw = self._read_body()
        if raw == b"" and request.httprequest.content_length:
            raw = request.httprequest.environ.get(RAW_BODY) or self._form_body()
        return self._answer(
            *answer_zalo(request.env.cr, token, raw, request.httprequest.headers)
        )

    def _form_body(self):
        """The body Odoo's stack already parsed as a form (a form or
        multipart Content-Type) before this route, when the fast path's
        wrapper did not keep its bytes (its first call, the wrapper not
        installed): ``{}`` when the form is Zalo's URL check (one empty
        field named ``{}``), else FORM_BODY."""
        httprequest = request.httprequest
        form = httprequest.form
        if not httprequest.files and len(form) == 1:
            ((name, value),) = form.items()
            if not value and is_url_check(name.encode()):
                return b"{}"
        return FORM_BODY

    @http.route(
        ["/messaging/webhook/esms/<string:token>"],
        type="http",
        auth="none",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        # auth="none" routes start read-only in Odoo 18: a webhook stores
        readonly=False,
    )
    def esms_callback(self, token, **_kwargs):
        """eSMS calls its CallbackUrl with GET and query parameters
        (SMSID, SendStatus, SendSuccess, SendFailed, RequestId...)."""
        channel = find_channel(request.env.cr, "esms", token)
        if channel is None:
            return _refuse(404, "Unknown channel")
        if (request.httprequest.content_length or 0) > MAX_BODY_BYTES or len(
            request.httprequest.query_string
        ) > MAX_BODY_BYTES:
            return _refuse(413, "Request too large", channel)
        params = request.httprequest.values.to_dict()
        if any(
            _BAD_CHARACTERS.search(name) or _BAD_CHARACTERS.search(value)
            for name, value in params.items()
        ):
            return _refuse(400, "NUL character in a parameter", channel)
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
        return self._store(
            channel,
            key,
            "delivery_report",
            json.dumps(params, ensure_ascii=False, sort_keys=True),
        )

    @http.route(
        "/messaging/webhook/speedsms/<string:token>",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        # auth="none" routes start read-only in Odoo 18: a webhook stores
        readonly=False,
    )
    def speedsms_callback(self, token, **_kwargs):
        """SpeedSMS posts JSON: {"type": "report", "tranId", "phone", "status"}."""
        channel = find_channel(request.env.cr, "speedsms", token)
        if channel is None:
            return _refuse(404, "Unknown channel")
        raw = self._read_body()
        if raw is None:
            return _refuse(413, "Body too large", channel)
        if raw is False:
            return _refuse(400, UNREADABLE, channel)
        data, reason = parse_json_object(raw)
        if reason:
            return _refuse(400, reason, channel)
        key = "speedsms:%s" % event_key_digest(
            data.get("type", ""),
            data.get("tranId", ""),
            data.get("phone", ""),
            data.get("status", ""),
        )
        return self._store(
            channel,
            key,
            as_text(data.get("type"))[:128] or "report",
            raw.decode("utf-8"),
            sender_ref=as_id(data.get("phone")) or None,
        )

    @http.route(
        "/messaging/webhook/<string:channel_type>/<string:token>",
        type="http",
        auth="none",
        csrf=False,
        save_session=False,
        # auth="none" routes start read-only in Odoo 18: a webhook stores
        readonly=False,
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
