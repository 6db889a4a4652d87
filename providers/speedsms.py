"""SpeedSMS.vn adapter.

``POST {url}/index.php/sms/send`` with HTTP basic auth (access token as the
user name, ``x`` as the password) and a JSON body
``{"to": [phone], "content": ..., "sms_type": int, "sender": ...}``.
Answers ``{"status": "success", "code": "00", "data": {"tranId",
"totalSMS", "totalPrice", "invalidPhone"}}`` or ``{"status": "error",
"code": "007", "message": ...}``. ``GET {url}/index.php/user/info`` returns
the account's ``email``, ``balance`` and ``currency``.

``sms_type``: 2 random number (no brandname), 3 registered brandname (needs
``sender``), 4 default brandname ("Notify"/"Verify"), 5 Android gateway app
(``sender`` is the device id).

No idempotency key and no id of ours in its delivery reports (they carry the
``tranId`` of the answer): a message whose answer was lost is held for a
Manager (``unknown_policy`` HOLD, the default).

One request may carry several recipients (``to`` is a list) for the same
content; SpeedSMS allows an account 60 requests a minute, so the queue sends
messages of the same text together (:meth:`SpeedSmsAdapter.send_many`, up to
``MAX_RECIPIENTS``). Their answer has one ``tranId``: each message keeps
``<tranId>:<phone>`` as its provider id, which its delivery report
(``tranId`` and ``phone``) names (:func:`report_ids`).
"""

import re

from .base import (
    ACCEPTED,
    AUTH,
    PERMANENT,
    QUOTA,
    RETRY,
    UNREACHABLE,
    BaseAdapter,
    ProviderError,
    SendResult,
    TransportError,
    to_float,
    to_int,
)
from .sms_text import strip_vietnamese_accents
from .terms import Term, _lt

DEFAULT_URL = "https://api.speedsms.vn"
SEND_PATH = "/index.php/sms/send"
USER_INFO_PATH = "/index.php/user/info"
DEFAULT_SMS_TYPE = 2
TYPES_NEEDING_SENDER = (3, 5)
# recipients per request; SpeedSMS publishes no limit of its own
MAX_RECIPIENTS = 100

# code -> (status, reason, hint); from speedsms.vn "Error Codes".
SPEEDSMS_CODES = {
    "007": (AUTH, "ip", _lt("Server IP is locked / not allowed.")),
    "008": (AUTH, "account", _lt("Account blocked.")),
    "009": (AUTH, "account", _lt("Account not allowed to call the API.")),
    "101": (PERMANENT, "invalid_request", _lt("Invalid or missing parameters.")),
    "105": (PERMANENT, "invalid_phone", _lt("Phone number invalid.")),
    "110": (PERMANENT, "encoding", _lt("SMS content encoding not supported.")),
    "113": (PERMANENT, "too_long", _lt("SMS content too long.")),
    "300": (QUOTA, "balance", _lt("Account balance not enough to send SMS.")),
    "500": (RETRY, "provider_error", _lt("SpeedSMS internal error, try again.")),
}


def phone_key(phone):
    """A number as SpeedSMS may write it back (``84...``, ``0...``, with
    spaces or ``+``) reduced to ``84...``."""
    digits = re.sub(r"\D", "", str(phone or ""))
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    return digits


def shared_id(tran_id, phone):
    """The provider id of one recipient of a request to several."""
    return f"{tran_id}:{phone_key(phone)}"


def report_ids(data):
    """The provider ids a delivery report may name: the recipient's own in
    a request to several, else the request's ``tranId``."""
    tran_id = str(data.get("tranId") or "").strip()
    if not tran_id:
        return []
    phone = phone_key(data.get("phone"))
    return [shared_id(tran_id, phone), tran_id] if phone else [tran_id]


class SpeedSmsAdapter(BaseAdapter):
    provider_type = "speedsms"
    max_recipients = MAX_RECIPIENTS

    def __init__(self, config, session=None):
        super().__init__(config, session=session)
        self.url = (self.config.get("speedsms_url") or DEFAULT_URL).rstrip("/")

    def _auth(self):
        return (self.config.get("speedsms_access_token") or "", "x")

    def sms_type(self):
        return to_int(self.config.get("speedsms_sms_type")) or DEFAULT_SMS_TYPE

    def build_body(self, msg):
        if msg.kind not in ("text", "template"):
            raise ValueError(
                Term(
                    _lt("SpeedSMS cannot send a message of kind %(kind)r."),
                    kind=msg.kind,
                )
            )
        if not msg.phone:
            raise ValueError(_lt("A phone number is required to send an SMS."))
        if not msg.text:
            raise ValueError(_lt("The SMS content is empty."))
        sms_type = self.sms_type()
        sender = self.config.get("speedsms_sender") or ""
        if sms_type in TYPES_NEEDING_SENDER and not sender:
            raise ValueError(
                Term(
                    _lt("SpeedSMS sms_type %(sms_type)s needs a sender."),
                    sms_type=sms_type,
                )
            )
        content = msg.text
        if self.config.get("strip_accents"):
            content = strip_vietnamese_accents(content)
        return {
            "to": [msg.phone],
            "content": content,
            "sms_type": sms_type,
            "sender": sender,
        }

    def send(self, msg):
        try:
            body = self.build_body(msg)
        except ValueError as exc:
            return self._invalid(str(exc))
        try:
            answer = self._request(
                "POST", self.url + SEND_PATH, json=body, auth=self._auth()
            )
        except TransportError as exc:
            return self._transport_result(exc)
        return self.parse_send_response(answer, msg.phone)

    def group_key(self, msg):
        try:
            body = self.build_body(msg)
        except ValueError:
            return None
        return (body["content"], body["sms_type"], body["sender"])

    def send_many(self, msgs):
        if len(msgs) < 2:
            return [self.send(msg) for msg in msgs]
        body = dict(self.build_body(msgs[0]), to=[msg.phone for msg in msgs])
        try:
            answer = self._request(
                "POST", self.url + SEND_PATH, json=body, auth=self._auth()
            )
        except TransportError as exc:
            return [self._transport_result(exc)] * len(msgs)
        return self.parse_shared_response(answer, [msg.phone for msg in msgs])

    @staticmethod
    def parse_shared_response(answer, phones):
        """One result per phone of a request to several: refused numbers
        (``invalidPhone``) unreachable, the others accepted with their own
        provider id and their share of the price; an error answer for all."""
        if answer.get("status") != "success":
            return [SpeedSmsAdapter.parse_send_response(answer)] * len(phones)
        data = answer.get("data") or {}
        invalid = {phone_key(p) for p in data.get("invalidPhone") or []}
        accepted = [p for p in phones if phone_key(p) not in invalid]
        price = to_float(data.get("totalPrice"))
        share = price / len(accepted) if price is not None and accepted else None
        results = []
        for phone in phones:
            if phone_key(phone) in invalid:
                results.append(SpeedSmsAdapter.parse_send_response(answer, phone))
                continue
            result = SpeedSmsAdapter.parse_send_response(answer)
            results.append(
                SendResult(
                    status=result.status,
                    provider_message_id=(
                        None
                        if result.provider_message_id is None
                        else shared_id(result.provider_message_id, phone)
                    ),
                    code=result.code,
                    message=result.message,
                    cost=share,
                    raw=result.raw,
                )
            )
        return results

    @staticmethod
    def parse_send_response(answer, phone=None):
        raw = BaseAdapter._clean_raw(answer)
        code = answer.get("code")
        code = None if code is None else str(code)
        message = answer.get("message")
        if answer.get("status") == "success":
            data = answer.get("data") or {}
            invalid = {phone_key(p) for p in data.get("invalidPhone") or []}
            if phone and phone_key(phone) in invalid:
                return SendResult(
                    status=UNREACHABLE,
                    code=code,
                    message=_lt("SpeedSMS rejected the phone number as invalid."),
                    reason="invalid_phone",
                    raw=raw,
                )
            tran_id = data.get("tranId")
            return SendResult(
                status=ACCEPTED,
                provider_message_id=None if tran_id is None else str(tran_id),
                code=code,
                message=message,
                cost=to_float(data.get("totalPrice")),
                raw=raw,
            )
        if code is None:
            return BaseAdapter._unparsed(_lt("SpeedSMS answer has no code."), raw)
        status, reason, hint = SPEEDSMS_CODES.get(
            code, (PERMANENT, "unknown_error", _lt("Unknown SpeedSMS code."))
        )
        return SendResult(
            status=status,
            code=code,
            message=message or hint,
            reason=reason,
            raw=raw,
        )

    def user_info(self):
        answer = self._admin_request(
            "GET", self.url + USER_INFO_PATH, auth=self._auth()
        )
        if answer.get("status") != "success":
            code = str(answer.get("code", answer.get("_http_status", "")))
            hint = SPEEDSMS_CODES.get(code, (None, None, "Unknown SpeedSMS code."))[2]
            detail = answer.get("message") or hint
            raise ProviderError(
                Term(
                    _lt("SpeedSMS error %(code)s: %(detail)s"), code=code, detail=detail
                ),
                code=code,
            )
        return answer.get("data") or {}

    def test_connection(self):
        info = self.user_info()
        balance = to_float(info.get("balance")) or 0.0
        return Term(
            _lt(
                "Connected to SpeedSMS as %(email)s: balance %(balance)s %(currency)s."
            ),
            email=info.get("email") or "?",
            balance=f"{balance:,.0f}",
            currency=info.get("currency") or "VND",
        )
