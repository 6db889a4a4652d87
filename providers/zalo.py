"""Zalo adapter: ZBS template messages (by phone or by user id), OA
consultation messages, OAuth v4 token refresh and template/quota admin calls.

Wire facts (see ``PROTOCOLS.md`` for sources and what stays unconfirmed):

* every call carries a bare ``access_token`` header (never ``Bearer``);
* application errors come back as HTTP 200 with ``{"error": <non-zero>,
  "message": ...}``; ``error == 0`` is success;
* ``POST {business}/message/template`` takes ``phone`` (``84...``),
  ``template_id``, ``template_data``, ``tracking_id`` (<= 48 chars) and an
  optional ``"mode": "development"``; it answers ``data.msg_id`` and
  ``data.quota.{dailyQuota, remainingQuota}`` (numbers as strings);
* ``POST {openapi}/v3.0/oa/message/template`` takes ``user_id``,
  ``template_id``, ``template_data`` (no ``tracking_id``) and answers
  ``data.message_id`` and ``data.quota.{quota_type, remain}``;
* ``POST {openapi}/v3.0/oa/message/cs`` takes ``recipient.user_id`` and a
  ``message`` (text, an image by URL, or a file uploaded first, or a
  product card: ``zalo_media.py``; answer buttons beside the text, or a
  request for the user's details: ``zalo_interactive.py``);
* ``POST {oauth}/v4/oa/access_token`` with header ``secret_key`` and a form
  body rotates the single-use refresh token.
"""

import logging
import math
import re
import unicodedata
from datetime import datetime, timedelta, timezone

from .base import (
    ACCEPTED,
    AWAIT_RECEIPT,
    HOLD,
    PERMANENT,
    BaseAdapter,
    ProviderError,
    SendResult,
    TransportError,
    to_int,
)
from .terms import Term, _lt
from .zalo_codes import ZALO_ERRORS
from .zalo_interactive import buttons_attachment, request_info_attachment
from .zalo_layout import ZbsTemplateAdmin
from .zalo_media import CARD, ZaloMediaMixin, card_attachment, check_card_list

_logger = logging.getLogger(__name__)

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

DEFAULT_BUSINESS_URL = "https://business.openapi.zalo.me"
DEFAULT_OPENAPI_URL = "https://openapi.zalo.me"
DEFAULT_OAUTH_URL = "https://oauth.zaloapp.com"

TRACKING_ID_MAX = 48
CS_TEXT_MAX = 2000
# consultation messages: text, an image (by URL or uploaded), a GIF, a
# document, a product card
OA_KINDS = ("text", "image", "gif", "file", CARD)
TEMPLATE_PAGE_SIZE = 100
TEMPLATE_MAX_PAGES = 100

# ``GET /template/all`` filter: 1 ENABLE, 2 PENDING_REVIEW, 3 REJECT, 4 DISABLE.
TEMPLATE_STATUS_FILTER = {
    "ENABLE": 1,
    "PENDING_REVIEW": 2,
    "REJECT": 3,
    "DISABLE": 4,
}

# Special retry_after markers resolved at send time (they depend on the clock).
_UNTIL_6AM = "until_06"
_UNTIL_MIDNIGHT = "until_midnight"
_UNTIL_NEXT_MONTH = "until_next_month"
_RATE = 60


_RETRY_AFTER_RULE = {
    -32: _RATE,
    -133: _UNTIL_6AM,
    -234: _UNTIL_6AM,
    -144: _UNTIL_MIDNIGHT,
    -147: _UNTIL_MIDNIGHT,
    -160: _UNTIL_MIDNIGHT,
    -126: _UNTIL_MIDNIGHT,
    -1441: _UNTIL_NEXT_MONTH,
    -100: 300,
    -152: 300,
    -200: 300,
    -214: 300,
}


def vn_now():
    return datetime.now(VN_TZ)


def seconds_until_vn(hour, now=None):
    """Seconds from ``now`` until the next ``hour``:00 in Vietnam time."""
    now = (now or vn_now()).astimezone(VN_TZ)
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    return max(1, math.ceil((target - now).total_seconds()))


def seconds_until_next_month_vn(now=None):
    now = (now or vn_now()).astimezone(VN_TZ)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    target = now.replace(
        year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0
    )
    return max(1, math.ceil((target - now).total_seconds()))


def classify_error(code, message=None, now=None):
    """Map a Zalo error code to ``(status, reason, hint, retry_after)``.

    Unknown non-zero codes are PERMANENT with reason ``"unknown_error"``.
    """
    code = to_int(code)
    status, reason, hint = ZALO_ERRORS.get(
        code, (PERMANENT, "unknown_error", message or _lt("Unknown Zalo error."))
    )
    rule = _RETRY_AFTER_RULE.get(code)
    if rule == _UNTIL_6AM:
        retry_after = seconds_until_vn(6, now)
    elif rule == _UNTIL_MIDNIGHT:
        retry_after = seconds_until_vn(0, now)
    elif rule == _UNTIL_NEXT_MONTH:
        retry_after = seconds_until_next_month_vn(now)
    else:
        retry_after = rule
    return status, reason, hint, retry_after


# ----------------------------------------------------------------------
# template parameter validation (pure, no HTTP)
# ----------------------------------------------------------------------
_NUMBER_RE = re.compile(r"^-?\d+(?:[.,]\d+)*$")
_INTEGER_RE = re.compile(r"^\d+$")
# Date/time formats Zalo accepts in template data.
_DATE_FORMATS = (
    "%d/%m/%Y",
    "%H:%M:%S %d/%m/%Y",
    "%H:%M %d/%m/%Y",
    "%H:%M:%S",
    "%H:%M",
    "%m/%Y",
)
# ``/template/create`` uses integer param types, ``template/info/v2`` strings.
_NUMERIC_TYPE_CODES = {"10": "NUMBER", "11": "DATE", "14": "CURRENCY"}


def _param_type(raw_type):
    if raw_type is None:
        return "STRING"
    text = str(raw_type).strip().upper()
    return _NUMERIC_TYPE_CODES.get(text, text)


def _is_date(value):
    for fmt in _DATE_FORMATS:
        try:
            datetime.strptime(value, fmt)
        except ValueError:
            continue
        return True
    return False


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


_PARAM_ERRORS = {
    "required": _lt("Parameter '%(name)s' is required but empty."),
    "too_long": _lt(
        "Parameter '%(name)s' is too long: %(length)s characters, maximum %(max)s."
    ),
    "too_short": _lt(
        "Parameter '%(name)s' is too short: %(length)s characters, minimum %(min)s."
    ),
    "number": _lt("Parameter '%(name)s' must be a number, got %(value)r."),
    "amount": _lt(
        "Parameter '%(name)s' must be a positive integer amount, got %(value)r."
    ),
    "date": _lt(
        "Parameter '%(name)s' must be a date such as dd/mm/yyyy, got %(value)r."
    ),
    "undefined": _lt("Parameter '%(name)s' is not defined in the template."),
}


def validate_template_params(list_params, params):
    """Check ``params`` against a template's ``listParams``.

    Returns a list of English error strings (``Term``: a model can show them
    translated), each naming the parameter; an empty list means the data may
    be sent. Lengths are counted on the NFC form (what Zalo counts).
    """
    errors = []
    params = params or {}
    known = set()
    for spec in list_params or []:
        name = spec.get("name")
        if not name:
            continue
        known.add(name)
        value = params.get(name)
        text = "" if value is None else unicodedata.normalize("NFC", str(value))
        required = _truthy(spec.get("require", False))
        accept_null = _truthy(spec.get("acceptNull", False))
        if not text.strip():
            if required and not accept_null:
                errors.append(Term(_PARAM_ERRORS["required"], name=name))
            continue
        max_length = to_int(spec.get("maxLength"))
        min_length = to_int(spec.get("minLength"))
        if max_length and len(text) > max_length:
            errors.append(
                Term(
                    _PARAM_ERRORS["too_long"],
                    name=name,
                    length=len(text),
                    max=max_length,
                )
            )
        if min_length and len(text) < min_length:
            errors.append(
                Term(
                    _PARAM_ERRORS["too_short"],
                    name=name,
                    length=len(text),
                    min=min_length,
                )
            )
        ptype = _param_type(spec.get("type"))
        if ptype == "NUMBER" and not _NUMBER_RE.match(text.strip()):
            errors.append(Term(_PARAM_ERRORS["number"], name=name, value=text))
        elif ptype == "CURRENCY" and not _INTEGER_RE.match(text.strip()):
            errors.append(Term(_PARAM_ERRORS["amount"], name=name, value=text))
        elif ptype == "DATE" and not _is_date(text.strip()):
            errors.append(Term(_PARAM_ERRORS["date"], name=name, value=text))
    for name in params:
        if list_params and name not in known:
            errors.append(Term(_PARAM_ERRORS["undefined"], name=name))
    return errors


class ZaloAdapter(ZaloMediaMixin, ZbsTemplateAdmin, BaseAdapter):
    provider_type = "zalo"

    def __init__(self, config, session=None):
        super().__init__(config, session=session)
        cfg = self.config
        self.business_url = (
            cfg.get("zalo_business_url") or DEFAULT_BUSINESS_URL
        ).rstrip("/")
        self.openapi_url = (cfg.get("zalo_openapi_url") or DEFAULT_OPENAPI_URL).rstrip(
            "/"
        )
        self.oauth_url = (cfg.get("zalo_oauth_url") or DEFAULT_OAUTH_URL).rstrip("/")
        # Clock used for night-ban / quota retry_after; tests may replace it.
        self.clock = vn_now

    # ------------------------------------------------------------------
    # sending
    # ------------------------------------------------------------------
    def _headers(self):
        return {"access_token": self.config.get("zalo_access_token") or ""}

    @classmethod
    def unknown_policy(cls, msg):
        """ZBS by phone: the ``user_received_message`` receipt carries our
        ``tracking_id``, so a message whose answer was lost is settled by its
        receipt. By user id and consultation messages: receipts carry only
        the ``msg_id`` of the lost answer, and Zalo has no idempotency key:
        held for a Manager."""
        if msg.kind == "template" and msg.route != "uid":
            return AWAIT_RECEIPT
        return HOLD

    def send(self, msg, list_params=None):
        """Send one message; never raises for network or provider errors.

        When ``list_params`` (the template's ``listParams``) is given, the
        template data is validated first and nothing is sent if it is invalid.
        A message with ``media`` uploads it first (checked against Zalo's
        limits before): a failed upload is *not sent*, whatever happened to
        it, since an uploaded file alone never reaches the customer.
        """
        try:
            url, body = self._build_request(msg)
        except ValueError as exc:
            return self._invalid(str(exc))
        if list_params is not None and msg.kind == "template":
            errors = validate_template_params(list_params, msg.params)
            if errors:
                return self._invalid("; ".join(errors), reason="invalid_params")
        if msg.media is not None:
            uploaded = self._upload_media(msg.media)
            if isinstance(uploaded, SendResult):
                return uploaded
            body["message"]["attachment"] = self._uploaded_attachment(msg, *uploaded)
        elif msg.kind == CARD and any(msg.card_images):
            urls = self._upload_card_images(msg)
            if isinstance(urls, SendResult):
                return urls
            body["message"]["attachment"] = card_attachment(msg.card, image_urls=urls)
        try:
            response = self._request("POST", url, json=body, headers=self._headers())
        except TransportError as exc:
            return self._transport_result(exc)
        return self._parse_send_response(response)

    def _build_request(self, msg):
        """(URL, JSON body) of one outbound message, or ValueError."""
        if not msg.tracking_id or len(msg.tracking_id) > TRACKING_ID_MAX:
            raise ValueError(
                Term(
                    _lt("tracking_id must be 1-%(max)s characters long."),
                    max=TRACKING_ID_MAX,
                )
            )
        if msg.kind == "template":
            return self._build_template_request(msg)
        if msg.kind in OA_KINDS:
            return self._build_oa_request(msg)
        raise ValueError(
            Term(_lt("Unsupported message kind %(kind)r for Zalo."), kind=msg.kind)
        )

    def _build_template_request(self, msg):
        """A ZBS Template Message, by Zalo user id or by phone number."""
        if not msg.template_ref:
            raise ValueError(_lt("A Zalo template id is required."))
        template_data = {
            k: "" if v is None else str(v) for k, v in (msg.params or {}).items()
        }
        if msg.route == "uid":
            if not msg.zalo_user_id:
                raise ValueError(_lt("A Zalo user id is required to send by user id."))
            body = {
                "user_id": str(msg.zalo_user_id),
                "template_id": str(msg.template_ref),
                "template_data": template_data,
            }
            return f"{self.openapi_url}/v3.0/oa/message/template", body
        if not msg.phone:
            raise ValueError(_lt("A phone number is required to send a Zalo template."))
        body = {
            "phone": msg.phone,
            "template_id": str(msg.template_ref),
            "template_data": template_data,
            "tracking_id": msg.tracking_id,
        }
        if self.config.get("zalo_dev_mode"):
            body["mode"] = "development"
        return f"{self.business_url}/message/template", body

    def _build_oa_request(self, msg):
        """An OA consultation message: text, an image by URL, or an
        attachment filled in once its file is uploaded (``send``)."""
        if not msg.zalo_user_id:
            raise ValueError(_lt("A Zalo user id is required for an OA message."))
        message = {}
        if msg.text:
            if len(msg.text) > CS_TEXT_MAX:
                raise ValueError(
                    Term(
                        _lt(
                            "Zalo OA text is limited to %(max)s characters "
                            "(%(length)s given)."
                        ),
                        max=CS_TEXT_MAX,
                        length=len(msg.text),
                    )
                )
            message["text"] = msg.text
        if msg.request_info:
            message["attachment"] = request_info_attachment(msg.request_info)
        elif msg.buttons and msg.text:
            message["attachment"] = buttons_attachment(msg.buttons)
        elif msg.media is not None:
            self._check_media(msg)
        elif msg.kind == CARD:
            card = msg.card or {}
            if "elements" in card:
                error = check_card_list(card, msg.card_images)
                if error:
                    raise ValueError(error)
            message["attachment"] = card_attachment(card, msg.image_url)
        elif msg.kind == "image" and msg.image_url:
            message["attachment"] = {
                "type": "template",
                "payload": {
                    "template_type": "media",
                    "elements": [{"media_type": "image", "url": msg.image_url}],
                },
            }
        elif msg.kind != "text":
            raise ValueError(
                Term(
                    _lt("A file is required for a Zalo %(kind)s message."),
                    kind=msg.kind,
                )
            )
        elif not msg.text:
            raise ValueError(_lt("A text is required for a Zalo OA text message."))
        body = {"recipient": {"user_id": str(msg.zalo_user_id)}, "message": message}
        return f"{self.openapi_url}/v3.0/oa/message/cs", body

    def _parse_send_response(self, body):
        raw = self._clean_raw(body)
        code = to_int(body.get("error"))
        message = body.get("message")
        if code == 0:
            data = body.get("data") or {}
            quota = data.get("quota") or {}
            return SendResult(
                status=ACCEPTED,
                provider_message_id=_str_or_none(
                    data.get("msg_id") or data.get("message_id")
                ),
                code="0",
                message=message,
                quota_daily=to_int(quota.get("dailyQuota")),
                quota_remaining=to_int(
                    quota.get("remainingQuota", quota.get("remain"))
                ),
                raw=raw,
            )
        if code is None:
            return self._unparsed(_lt("Zalo answer has no 'error' field."), raw)
        status, reason, hint, retry_after = classify_error(
            code, message, now=self.clock()
        )
        return SendResult(
            status=status,
            code=str(code),
            message=message or hint,
            reason=reason,
            retry_after=retry_after,
            raw=raw,
        )

    # ------------------------------------------------------------------
    # admin calls
    # ------------------------------------------------------------------
    def refresh_token(self):
        """Rotate the token pair; returns ``access_token, refresh_token, expires_in``.

        The refresh token is single use: the caller must persist the new pair
        (own transaction) before using it.
        """
        cfg = self.config
        if not cfg.get("zalo_refresh_token"):
            raise ProviderError(
                _lt("No Zalo refresh token is configured."), code="config"
            )
        body = self._admin_request(
            "POST",
            f"{self.oauth_url}/v4/oa/access_token",
            headers={"secret_key": cfg.get("zalo_app_secret") or ""},
            data={
                "refresh_token": cfg.get("zalo_refresh_token"),
                "app_id": cfg.get("zalo_app_id") or "",
                "grant_type": "refresh_token",
            },
        )
        if not _is_token_pair(body):
            # Zalo answers OAuth errors with HTTP 200: an answer without both
            # tokens never replaces the stored pair
            error = body.get("error")
            if error in (None, "", 0, "0"):
                error = "no_token"
            name = (
                body.get("error_name")
                or body.get("message")
                or "answer without an access token and a refresh token"
            )
            description = body.get("error_description") or body.get("error_reason")
            if description and description != name:
                text = Term(
                    _lt("Zalo token refresh failed (%(error)s): %(name)s - %(detail)s"),
                    error=error,
                    name=name,
                    detail=description,
                )
            else:
                text = Term(
                    _lt("Zalo token refresh failed (%(error)s): %(name)s"),
                    error=error,
                    name=name,
                )
            raise ProviderError(text, code=error)
        expires_in = to_int(body.get("expires_in")) or 0
        return {
            "access_token": body["access_token"],
            "refresh_token": body["refresh_token"],
            "expires_in": expires_in,
        }

    def _admin_get(self, url, params=None):
        return self._admin_call("GET", url, params=params)

    def _admin_call(self, method, url, headers=None, **kwargs):
        """An admin request with the OA token; a Zalo error raises
        :class:`ProviderError`."""
        headers = dict(self._headers(), **(headers or {}))
        body = self._admin_request(method, url, headers=headers, **kwargs)
        code = to_int(body.get("error"))
        if code not in (0, None):
            _status, _reason, hint, _retry = classify_error(code, body.get("message"))
            detail = body.get("message") or hint
            raise ProviderError(
                Term(_lt("Zalo error %(code)s: %(detail)s"), code=code, detail=detail),
                code=code,
            )
        return body

    def list_templates(self, status=None):
        """All templates of the OA (paged by 100), optionally filtered by status."""
        params = {"offset": 0, "limit": TEMPLATE_PAGE_SIZE}
        if status is not None:
            params["status"] = TEMPLATE_STATUS_FILTER.get(str(status).upper(), status)
        templates = []
        for _page in range(TEMPLATE_MAX_PAGES):
            body = self._admin_get(f"{self.business_url}/template/all", params=params)
            page = body.get("data") or []
            templates.extend(page)
            total = to_int((body.get("metadata") or {}).get("total"))
            params["offset"] += TEMPLATE_PAGE_SIZE
            if len(page) < TEMPLATE_PAGE_SIZE or (
                total is not None and params["offset"] >= total
            ):
                break
        return templates

    def template_detail(self, template_id):
        body = self._admin_get(
            f"{self.business_url}/template/info/v2",
            params={"template_id": template_id},
        )
        return body.get("data") or {}

    def get_quota(self):
        body = self._admin_get(f"{self.business_url}/message/quota")
        return body.get("data") or {}

    def test_connection(self):
        body = self._admin_get(f"{self.openapi_url}/v2.0/oa/getoa")
        data = body.get("data") or {}
        name = data.get("name") or "?"
        oa_id = data.get("oa_id") or data.get("oaid") or "?"
        return Term(
            _lt('Connected to Zalo Official Account "%(name)s" (id %(oa_id)s).'),
            name=name,
            oa_id=oa_id,
        )


def _is_token_pair(body):
    """True for an OAuth answer that carries a new token pair and no error."""
    return (
        not to_int(body.get("error"))
        and isinstance(body.get("access_token"), str)
        and bool(body["access_token"].strip())
        and isinstance(body.get("refresh_token"), str)
        and bool(body["refresh_token"].strip())
    )


def _str_or_none(value):
    return None if value in (None, "") else str(value)
