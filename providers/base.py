"""Plain-Python provider interface shared by every adapter.

Nothing here knows about the ORM: a model builds a ``config`` dict from its
channel fields, asks :func:`~.get_adapter` for an adapter and hands it an
:class:`OutboundMessage`; the adapter answers with a :class:`SendResult`.

HTTP rules kept by every adapter:

* one ``requests.Session`` per thread (:func:`get_session`), keep-alive, no
  hidden retries (the queue decides when to retry, not urllib3), the
  environment's proxy settings looked up once per host (:class:`Session`);
* connect/read timeouts from the config, TLS verification always on;
* ``send()`` never raises for network or provider errors, it returns a result;
* admin calls (test connection, template sync, token refresh) raise
  :class:`ProviderError` with a human readable message;
* secrets are never logged and never copied into ``SendResult.raw``.
"""

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

_logger = logging.getLogger(__name__)

ACCEPTED = "accepted"
RETRY = "retry"
UNREACHABLE = "unreachable"
PERMANENT = "permanent"
AUTH = "auth"
QUOTA = "quota"

STATUSES = (ACCEPTED, RETRY, UNREACHABLE, PERMANENT, AUTH, QUOTA)

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
class OutboundMessage:
    """One message for one recipient, already rendered by the caller."""

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

    @property
    def accepted(self):
        return self.status == ACCEPTED


class ProviderError(Exception):
    """Raised by admin calls; ``str(exc)`` is meant for a human."""

    def __init__(self, message, code=None, raw=None):
        super().__init__(message)
        self.code = None if code is None else str(code)
        self.raw = raw


class TransportError(Exception):
    """Internal: the HTTP exchange itself failed (timeout, reset, 5xx, 429...)."""

    def __init__(self, reason, message, http_status=None, retry_after=None, raw=None):
        super().__init__(message)
        self.reason = reason
        self.http_status = http_status
        self.retry_after = retry_after
        self.raw = raw


_local = threading.local()


class Session(requests.Session):
    """A ``requests.Session`` that looks the environment's proxies up once per
    host, not once per request.

    With ``trust_env`` (kept on: a server behind a proxy still works)
    requests reads ``*_proxy`` / ``no_proxy`` and decides whether the host
    bypasses the proxy on every call: about 0.45 ms, more than a keep-alive
    request to a nearby host. A worker's environment does not change while it
    runs, so the answer is kept per scheme, host and ``no_proxy``.
    """

    def __init__(self):
        super().__init__()
        self._environ_proxies = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if not self.trust_env:
            return super().merge_environment_settings(
                url, proxies, stream, verify, cert
            )
        proxies = {} if proxies is None else proxies
        no_proxy = proxies.get("no_proxy")
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        found = self._environ_proxies.get(key)
        if found is None:
            found = get_environ_proxies(url, no_proxy=no_proxy)
            self._environ_proxies[key] = found
        for name, value in found.items():
            proxies.setdefault(name, value)
        # what requests does next when trust_env is on (cheap: two lookups)
        if verify is True or verify is None:
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE")
                or os.environ.get("CURL_CA_BUNDLE")
                or verify
            )
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }


def new_session():
    """A keep-alive session without urllib3 retries (``max_retries=0``)."""
    session = Session()
    adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def get_session():
    """Return the calling thread's shared ``requests.Session``."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = new_session()
    return session


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

    def __init__(self, config, session=None):
        self.config = dict(config or {})
        self._session = session
        self.timeout = (
            float(self.config.get("timeout_connect") or DEFAULT_TIMEOUT_CONNECT),
            float(self.config.get("timeout_read") or DEFAULT_TIMEOUT_READ),
        )

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

    def test_connection(self):
        raise NotImplementedError

    # ------------------------------------------------------------------
    # helpers for subclasses
    # ------------------------------------------------------------------
    def _request(self, method, url, **kwargs):
        """Do one HTTP exchange and return the parsed JSON body (a dict).

        Raises :class:`TransportError` for anything that is not a usable
        answer: timeouts, refused/reset connections, HTTP 429 and 5xx,
        other 4xx, or a body that is not JSON.
        """
        path = urlsplit(url).path
        try:
            response = self.session.request(
                method, url, timeout=self.timeout, verify=True, **kwargs
            )
        except requests.exceptions.ConnectTimeout as exc:
            _logger.info("%s %s: connect timeout", method, path)
            raise TransportError("timeout", "Connect timeout") from exc
        except requests.exceptions.Timeout as exc:
            _logger.info("%s %s: read timeout", method, path)
            raise TransportError("timeout", "Read timeout") from exc
        except requests.exceptions.ConnectionError as exc:
            _logger.info("%s %s: connection error", method, path)
            raise TransportError("connection", "Connection error") from exc
        except requests.exceptions.RequestException as exc:
            _logger.info("%s %s: request error %s", method, path, type(exc).__name__)
            raise TransportError("connection", type(exc).__name__) from exc
        status = response.status_code
        _logger.debug("%s %s -> HTTP %s", method, path, status)
        body = self._parse_json(response)
        if status == 429:
            raise TransportError(
                "rate",
                "HTTP 429 Too Many Requests",
                http_status=status,
                retry_after=_retry_after_header(response) or DEFAULT_RATE_RETRY_AFTER,
                raw=body,
            )
        if status >= 500:
            raise TransportError(
                "http_5xx",
                f"HTTP {status}",
                http_status=status,
                retry_after=_retry_after_header(response),
                raw=body,
            )
        if status in (401, 403):
            raise TransportError(
                "http_auth", f"HTTP {status}", http_status=status, raw=body
            )
        if status >= 400 and body is None:
            raise TransportError("http_4xx", f"HTTP {status}", http_status=status)
        if body is None:
            raise TransportError(
                "bad_response", f"HTTP {status}: body is not JSON", http_status=status
            )
        if not isinstance(body, dict):
            raise TransportError(
                "bad_response", "JSON body is not an object", http_status=status
            )
        body.setdefault("_http_status", status)
        return body

    @staticmethod
    def _parse_json(response):
        if not response.content:
            return None
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError):
            return None

    @staticmethod
    def _transport_result(exc):
        """Map a :class:`TransportError` to a ``SendResult`` for ``send()``."""
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
            ) from exc

    @staticmethod
    def _invalid(message, reason="invalid_request"):
        """A locally detected, permanent problem: no HTTP call was made."""
        return SendResult(status=PERMANENT, message=message, reason=reason)

    @staticmethod
    def _clean_raw(body):
        raw = dict(body)
        raw.pop("_http_status", None)
        return scrub(raw)
