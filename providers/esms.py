"""eSMS.vn (ViHAT) SMS brandname adapter.

``POST {esms_url}/MainService.svc/json/SendMultipleMessage_V4_post_json/``
with a JSON body ``ApiKey, SecretKey, Content, Phone, Brandname, SmsType,
IsUnicode, Sandbox, RequestId, CallbackUrl``. The answer is
``{"CodeResult": "100", "CountRegenerate": 0, "SMSID": "..."}`` or
``{"CodeResult": "<code>", "ErrorMessage": "..."}`` (HTTP 200 either way).
``100`` only means "received by eSMS"; delivery comes by ``CallbackUrl``.
``RequestId`` is eSMS's idempotency key: a second request with the same id is
refused with ``124`` (mapped to ACCEPTED/"duplicate_request": the first one
went through). It is our message's ``tracking_id``, the same on every attempt
of one message, so a message whose first answer was lost is sent again with
it (``unknown_policy`` RESEND) within eSMS's 24 h window.
"""

from .base import (
    ACCEPTED,
    AUTH,
    PERMANENT,
    QUOTA,
    RESEND,
    UNREACHABLE,
    BaseAdapter,
    ProviderError,
    SendResult,
    TransportError,
    to_float,
)
from .phone import to_national_vn
from .sms_text import has_vietnamese_diacritics, is_gsm7, strip_vietnamese_accents
from .terms import Term, _lt

DEFAULT_URL = "https://rest.esms.vn"
SEND_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
BALANCE_PATH = "/MainService.svc/json/GetBalance_json/"

# CodeResult -> (status, reason, hint). From developers.esms.vn "Table of
# error codes" unless marked (legacy table / unconfirmed) in PROTOCOLS.md.
ESMS_CODES = {
    "99": (UNREACHABLE, "blocked_number", _lt("The phone number is blocked by eSMS.")),
    "101": (AUTH, "credentials", _lt("Incorrect ApiKey or SecretKey.")),
    "102": (AUTH, "account", _lt("No price list available / account locked.")),
    "103": (QUOTA, "balance", _lt("Not enough balance to send the message.")),
    "104": (PERMANENT, "brandname", _lt("Brandname does not exist or is not active.")),
    "107": (PERMANENT, "invalid_request", _lt("At least 30 numbers required.")),
    "108": (
        PERMANENT,
        "invalid_phone",
        _lt("Phone number is not in a correct format."),
    ),
    "110": (PERMANENT, "invalid_request", _lt("The requested data is incorrect.")),
    "118": (PERMANENT, "sms_type", _lt("Unsupported message type (SmsType).")),
    "119": (
        PERMANENT,
        "invalid_request",
        _lt("Advertising brandname needs 20+ numbers."),
    ),
    "120": (
        PERMANENT,
        "invalid_request",
        _lt("Too many phone numbers in one request."),
    ),
    "124": (
        ACCEPTED,
        "duplicate_request",
        _lt("Duplicate RequestId: already received."),
    ),
    "131": (PERMANENT, "too_long", _lt("Message too long for this message type.")),
    "132": (PERMANENT, "invalid_phone", _lt("No permission to send to this number.")),
    "140": (AUTH, "ip", _lt("Server IP is not whitelisted at eSMS.")),
    "146": (
        PERMANENT,
        "template_mismatch",
        _lt("Content does not match a CSKH template."),
    ),
    "177": (
        UNREACHABLE,
        "carrier_not_registered",
        _lt("Brandname not registered with the recipient's carrier."),
    ),
}
DUPLICATE_CONTENT_HINTS = ("trùng", "trung noi dung", "duplicate", "5 phut", "5 phút")


class EsmsAdapter(BaseAdapter):
    provider_type = "esms"
    # eSMS refuses a reused RequestId for 24 h (code 124)
    idempotency_seconds = 24 * 3600

    @classmethod
    def unknown_policy(cls, msg):
        return RESEND

    def __init__(self, config, session=None):
        super().__init__(config, session=session)
        self.url = (self.config.get("esms_url") or DEFAULT_URL).rstrip("/")

    def _credentials(self):
        return {
            "ApiKey": self.config.get("esms_api_key") or "",
            "SecretKey": self.config.get("esms_secret_key") or "",
        }

    def prepare_content(self, text):
        """Return ``(content, is_unicode)`` as sent to eSMS."""
        text = text or ""
        if self.config.get("strip_accents"):
            text = strip_vietnamese_accents(text)
        unicode = has_vietnamese_diacritics(text) or not is_gsm7(text)
        return text, unicode

    def build_body(self, msg):
        if msg.kind not in ("text", "template"):
            raise ValueError(
                Term(_lt("eSMS cannot send a message of kind %(kind)r."), kind=msg.kind)
            )
        if not msg.phone:
            raise ValueError(_lt("A phone number is required to send an SMS."))
        if not msg.text:
            raise ValueError(_lt("The SMS content is empty."))
        content, unicode = self.prepare_content(msg.text)
        body = dict(self._credentials())
        body.update(
            {
                "Content": content,
                "Phone": to_national_vn(msg.phone),
                "SmsType": str(self.config.get("esms_sms_type") or "2"),
                "IsUnicode": "1" if unicode else "0",
                "RequestId": msg.tracking_id,
                "Sandbox": "1" if self.config.get("esms_sandbox") else "0",
            }
        )
        if self.config.get("esms_brandname"):
            body["Brandname"] = self.config["esms_brandname"]
        if msg.callback_url:
            body["CallbackUrl"] = msg.callback_url
        return body

    def send(self, msg):
        try:
            body = self.build_body(msg)
        except ValueError as exc:
            return self._invalid(str(exc))
        try:
            answer = self._request("POST", self.url + SEND_PATH, json=body)
        except TransportError as exc:
            return self._transport_result(exc)
        return self.parse_send_response(answer)

    @staticmethod
    def parse_send_response(answer):
        raw = BaseAdapter._clean_raw(answer)
        code = answer.get("CodeResult")
        code = None if code is None else str(code).strip()
        error_message = answer.get("ErrorMessage") or None
        if code == "100":
            return SendResult(
                status=ACCEPTED,
                provider_message_id=answer.get("SMSID") or None,
                code=code,
                message=error_message,
                raw=raw,
            )
        if code is None:
            return BaseAdapter._unparsed(_lt("eSMS answer has no CodeResult."), raw)
        if code in ESMS_CODES:
            status, reason, hint = ESMS_CODES[code]
        elif any(h in (error_message or "").lower() for h in DUPLICATE_CONTENT_HINTS):
            status, reason, hint = (
                PERMANENT,
                "duplicate_content",
                _lt("Same content to the same phone within 5 minutes."),
            )
        else:
            status, reason, hint = PERMANENT, "unknown_error", _lt("Unknown eSMS code.")
        return SendResult(
            status=status,
            code=code,
            message=error_message or hint,
            reason=reason,
            raw=raw,
        )

    def get_balance(self):
        answer = self._admin_request(
            "POST", self.url + BALANCE_PATH, json=self._credentials()
        )
        code = str(answer.get("CodeResponse", ""))
        if code != "100":
            hint = ESMS_CODES.get(code, (None, None, "Unknown eSMS code."))[2]
            detail = answer.get("ErrorMessage") or hint
            raise ProviderError(
                Term(_lt("eSMS error %(code)s: %(detail)s"), code=code, detail=detail),
                code=code,
            )
        return to_float(answer.get("Balance"))

    def test_connection(self):
        balance = self.get_balance()
        return Term(
            _lt("Connected to eSMS: balance %(balance)s VND."),
            balance=f"{balance:,.0f}",
        )
