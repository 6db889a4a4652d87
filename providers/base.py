"""Plain-Python provider interface shared by every adapter.

Nothing here knows about the ORM: a model builds a ``config`` dict from its
channel fields, asks :func:`~.get_adapter` for an adapter and hands it an
:class:`OutboundMessage`; the adapter answers with a :class:`SendResult`.

HTTP rules kept by every adapter (the transport itself, sessions,
connection pools, proxies, TLS and the classification of failures, lives in
``transport.py``):

* one :class:`~.transport.Session` per thread, or one shared by the threads
  of an in-flight pool (``engine/inflight.py``);
* connect/read timeouts from the config, TLS verification always on;
* ``send()`` never raises for network or provider errors, it returns a result;
* every transport failure is classified once for every adapter
  (:func:`~.transport.classify_transport_error`): *not sent* (``RETRY``) or
  *outcome unknown* (``UNKNOWN``, never resent blindly, see
  :meth:`BaseAdapter.unknown_policy`);
* admin calls (test connection, template sync, token refresh) raise
  :class:`ProviderError` with a human readable message;
* secrets are never logged and never copied into ``SendResult.raw``.
"""

import json
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3

from .transport import (
    _BASE_HEADERS,
    _FORM_TYPE,
    _JSON_TYPE,
    TransportError,
    _basic_auth,
    _charset,
    _encode_pairs,
    _Exchange,
    _local,
    classify_transport_error,
    get_session,
)

_logger = logging.getLogger(__name__)

ACCEPTED = "accepted"
RETRY = "retry"
UNREACHABLE = "unreachable"
PERMANENT = "permanent"
AUTH = "auth"
QUOTA = "quota"
# the request may have reached the provider and no usable answer came back
UNKNOWN = "unknown"

STATUSES = (ACCEPTED, RETRY, UNREACHABLE, PERMANENT, AUTH, QUOTA, UNKNOWN)

# What the queue may do with an UNKNOWN outcome (``BaseAdapter.unknown_policy``)
RESEND = "resend"  # the provider drops a second request with the same key
AWAIT_RECEIPT = "await_receipt"  # a receipt will name the message: wait for it
HOLD = "hold"  # nothing tells: a Manager decides

DEFAULT_TIMEOUT_CONNECT = 5.0
DEFAULT_TIMEOUT_READ = 20.0
DEFAULT_RATE_RETRY_AFTER = 60

# Keys never copied into ``SendResult.raw`` (ours or tokens a provider echoes).
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "apikey",
        "secretkey",
        "secret_key",
        "api_key",
        "password",
    }
)


@dataclass
class MediaFile:
    """A file to upload with a message: its name, MIME type and bytes."""

    name: str
    mimetype: str
    data: bytes = field(repr=False, default=b"")

    @property
    def size(self):
        return len(self.data or b"")


@dataclass
class OutboundMessage:
    """One message for one recipient, already rendered by the caller.

    ``media``: a :class:`MediaFile` the adapter uploads first (an image, a
    GIF or a document); ``card``: a product card as plain data (``title``,
    ``subtitle``, ``url``; its image is ``media``), or a list of cards
    ``{"elements": [card, ...]}`` whose images are ``card_images`` (one
    :class:`MediaFile` or None per card, in order); ``buttons``: the
    answers of a consultation message (``title``, ``payload``);
    ``request_info``: a request for the user's details (``title``,
    ``subtitle``, ``image_url``).
    """

    tracking_id: str
    kind: str = "text"
    phone: str | None = None
    zalo_user_id: str | None = None
    template_ref: str | None = None
    params: dict = field(default_factory=dict)
    text: str | None = None
    image_url: str | None = None
    route: str = "phone"
    callback_url: str | None = None
    media: MediaFile | None = None
    card: dict | None = None
    card_images: list = field(default_factory=list)
    buttons: list | None = None
    request_info: dict | None = None


@dataclass
class SendResult:
    """Outcome of one send attempt, with the provider's own code and text."""

    status: str
    provider_message_id: str | None = None
    code: str | None = None
    message: str | None = None
    cost: float | None = None
    quota_remaining: int | None = None
    quota_daily: int | None = None
    retry_after: int | None = None
    reason: str | None = None
    raw: dict | None = None


class ProviderError(Exception):
    """Raised by admin calls; ``str(exc)`` is meant for a human."""

    def __init__(self, message, code=None, raw=None, reason=None):
        super().__init__(message)
        self.code = None if code is None else str(code)
        self.raw = raw
        # the transport's reason when the exchange itself failed
        # (``TransportError.reason``: "connection", "timeout", "http_auth"...)
        self.reason = reason


def scrub(value):
    """Deep copy of a parsed body without secret-looking keys."""
    if isinstance(value, dict):
        return {
            k: ("***" if str(k).lower() in SECRET_KEYS else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def to_int(value):
    """``int`` from the numbers-as-strings providers like to send, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def to_float(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _retry_after_header(response):
    value = response.headers.get("Retry-After")
    seconds = to_int(value)
    return seconds if seconds is not None and seconds >= 0 else None


class BaseAdapter:
    """Common HTTP plumbing; subclasses implement ``send`` and admin calls."""

    provider_type = None
    # recipients one request may carry for the same content (send_many)
    max_recipients = 1

    def __init__(self, config, session=None):
        self.config = dict(config or {})
        self._session = session
        self.timeout = (
            float(self.config.get("timeout_connect") or DEFAULT_TIMEOUT_CONNECT),
            float(self.config.get("timeout_read") or DEFAULT_TIMEOUT_READ),
        )
        self._timeout = urllib3.Timeout(connect=self.timeout[0], read=self.timeout[1])

    @property
    def session(self):
        """The session given at creation, else the thread's shared one."""
        if self._session is None:
            self._session = get_session()
        return self._session

    # ------------------------------------------------------------------
    # interface
    # ------------------------------------------------------------------
    def send(self, msg):
        raise NotImplementedError

    def group_key(self, msg):
        """What requests that may carry ``msg`` together with others share
        (same content, sender...), or None when it goes alone."""
        return None

    def send_many(self, msgs):
        """Send ``msgs`` (of one :meth:`group_key`, each to another
        recipient) in one request where the provider allows it; returns one
        ``SendResult`` per message, in order."""
        return [self.send(msg) for msg in msgs]

    def test_connection(self):
        raise NotImplementedError

    # ------------------------------------------------------------------
    # helpers for subclasses
    # ------------------------------------------------------------------
    def _request(self, method, url, **kwargs):
        """Do one HTTP exchange and return the parsed JSON body (a dict).

        ``json`` (a JSON body), ``data`` (a form: dict or pairs), ``files``
        (a multipart form: ``{name: (filename, bytes, mimetype)}``), ``headers``,
        ``params`` (query string) and ``auth`` (``(user, password)``, basic
        auth) mean what they mean to ``requests``.

        Raises :class:`TransportError` for anything that is not a usable
        answer: timeouts, refused/reset connections, HTTP 429 and 5xx,
        other 4xx, a redirect (not followed), or a body that is not JSON.
        Its ``outcome_unknown`` tells a request that may have been acted
        upon (read timeout, connection lost after the request was written,
        HTTP 504, an answer that is not a JSON object) from one that surely
        was not (see :func:`classify_transport_error`). An HTTP 5xx other
        than 504 is the provider's own answer that it failed: retried.
        """
        path = urlsplit(url).path
        exchange = _local.exchange = _Exchange()
        try:
            response = self._exchange(method, url, **kwargs)
        except TransportError as exc:
            _logger.info("%s %s: %s", method, path, exc)
            raise
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            error = classify_transport_error(exc, exchange)
            _logger.info("%s %s: %s", method, path, error)
            raise error from exc
        finally:
            _local.exchange = None
        status = response.status
        _logger.debug("%s %s -> HTTP %s", method, path, status)
        body = self._parse_json(response)
        error = self._answer_error(response, body)
        if error is not None:
            raise error
        body.setdefault("_http_status", status)
        return body

    @staticmethod
    def _answer_error(response, body):
        """The :class:`TransportError` for an answer that is not a usable
        JSON object (see :meth:`_request`), else None."""
        status = response.status
        if status == 429:
            return TransportError(
                "rate",
                "HTTP 429 Too Many Requests",
                http_status=status,
                retry_after=_retry_after_header(response) or DEFAULT_RATE_RETRY_AFTER,
                raw=body,
            )
        if status == 504:
            # a gateway forwarded the request and its upstream did not answer
            return TransportError(
                "gateway_timeout",
                "HTTP 504: the provider's gateway got no answer in time",
                http_status=status,
                raw=body,
            )
        if status >= 500:
            return TransportError(
                "http_5xx",
                f"HTTP {status}",
                http_status=status,
                retry_after=_retry_after_header(response),
                raw=body,
            )
        if status in (401, 403):
            return TransportError(
                "http_auth", f"HTTP {status}", http_status=status, raw=body
            )
        if status >= 400 and body is None:
            return TransportError("http_4xx", f"HTTP {status}", http_status=status)
        if 300 <= status < 400:
            return TransportError(
                "redirect",
                f"HTTP {status}: redirect to {response.headers.get('Location')} "
                "not followed",
                http_status=status,
            )
        if body is None:
            return TransportError(
                "bad_response", f"HTTP {status}: body is not JSON", http_status=status
            )
        if not isinstance(body, dict):
            return TransportError(
                "http_4xx" if status >= 400 else "bad_response",
                "JSON body is not an object",
                http_status=status,
            )
        return None

    def _exchange(
        self, method, url, *, data=None, headers=None, params=None, auth=None, **kw
    ):
        """Encode the request as requests would and send it; urllib3's
        exceptions propagate."""
        json_body = kw.pop("json", None)
        files = kw.pop("files", None)
        if kw:
            raise TypeError(f"_request() got unexpected arguments {sorted(kw)}")
        send_headers = dict(_BASE_HEADERS)
        body = None
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=False).encode("utf-8")
            send_headers["Content-Type"] = _JSON_TYPE
        elif files is not None:
            body, send_headers["Content-Type"] = urllib3.encode_multipart_formdata(
                files
            )
        elif data is not None:
            body = _encode_pairs(data)
            if isinstance(body, str):
                body = body.encode("utf-8")
            if not isinstance(data, (str, bytes)):
                send_headers["Content-Type"] = _FORM_TYPE
        if auth is not None:
            send_headers["Authorization"] = _basic_auth(*auth)
        if headers:
            names = {name.lower(): name for name in send_headers}
            for name, value in headers.items():
                old = names.get(name.lower())
                if old is not None:
                    del send_headers[old]
                if value is not None:
                    send_headers[name] = value
        if params:
            query = _encode_pairs(params)
            if query:
                url = f"{url}&{query}" if "?" in url else f"{url}?{query}"
        return self.session.urlopen(
            method, url, body=body, headers=send_headers, timeout=self._timeout
        )

    @staticmethod
    def _parse_json(response):
        data = response.data
        if not data:
            return None
        charset = _charset(response.headers.get("Content-Type") or "")
        try:
            if charset and charset.lower().replace("-", "") != "utf8":
                return json.loads(data.decode(charset, "replace"))
            return json.loads(data)
        except UnicodeDecodeError:
            try:
                return json.loads(data.decode("utf-8", "replace"))
            except ValueError:
                return None
        except (ValueError, LookupError):
            return None

    @staticmethod
    def _transport_result(exc):
        """Map a :class:`TransportError` to a ``SendResult`` for ``send()``."""
        if exc.outcome_unknown:
            return SendResult(
                status=UNKNOWN,
                code=None if exc.http_status is None else str(exc.http_status),
                message=str(exc),
                reason=exc.reason,
                raw=scrub(exc.raw) if isinstance(exc.raw, dict) else None,
            )
        if exc.reason == "http_auth":
            return SendResult(
                status=AUTH,
                code=str(exc.http_status),
                message=str(exc),
                reason="token",
            )
        if exc.reason == "http_4xx":
            return SendResult(
                status=PERMANENT,
                code=str(exc.http_status),
                message=str(exc),
                reason="http_4xx",
            )
        return SendResult(
            status=RETRY,
            code=None if exc.http_status is None else str(exc.http_status),
            message=str(exc),
            reason=exc.reason,
            retry_after=exc.retry_after,
            raw=scrub(exc.raw) if isinstance(exc.raw, dict) else None,
        )

    def _admin_request(self, method, url, **kwargs):
        """Like :meth:`_request` but raise :class:`ProviderError` on failure."""
        try:
            return self._request(method, url, **kwargs)
        except TransportError as exc:
            raise ProviderError(
                f"{self.provider_type}: {exc} ({urlsplit(url).path})",
                code=exc.http_status or exc.reason,
                reason=exc.reason,
            ) from exc

    @staticmethod
    def _unparsed(message, raw):
        """An answer whose shape we do not know: it may mean "accepted"."""
        return SendResult(
            status=UNKNOWN, message=message, reason="bad_response", raw=raw
        )

    @classmethod
    def unknown_policy(cls, msg):
        """What the queue may do when the outcome of sending ``msg`` is
        unknown: :data:`RESEND` (the provider deduplicates a resend of the
        same ``tracking_id`` for :attr:`idempotency_seconds`),
        :data:`AWAIT_RECEIPT` (a delivery receipt carries the tracking id:
        wait for it) or :data:`HOLD` (a Manager decides). The default is
        :data:`HOLD`; adapters say better where their provider allows it."""
        return HOLD

    # seconds during which the provider refuses a second request with the
    # same idempotency key (only for adapters whose policy is RESEND)
    idempotency_seconds = 0

    @staticmethod
    def _invalid(message, reason="invalid_request"):
        """A locally detected, permanent problem: no HTTP call was made."""
        return SendResult(status=PERMANENT, message=message, reason=reason)

    @staticmethod
    def _clean_raw(body):
        raw = dict(body)
        raw.pop("_http_status", None)
        return scrub(raw)
