"""Plain-Python provider interface shared by every adapter.

Nothing here knows about the ORM: a model builds a ``config`` dict from its
channel fields, asks :func:`~.get_adapter` for an adapter and hands it an
:class:`OutboundMessage`; the adapter answers with a :class:`SendResult`.

HTTP rules kept by every adapter:

* one :class:`Session` per thread (:func:`get_session`), or one shared by
  the threads of an in-flight pool (``engine/inflight.py``, its connection
  pools as large as the pool): urllib3 connection pools, keep-alive, no
  hidden retries (the queue decides when to retry, not urllib3), the
  environment's proxy settings looked up once per host;
* connect/read timeouts from the config, TLS verification always on;
* ``send()`` never raises for network or provider errors, it returns a result;
* every transport failure is classified here, once for every adapter
  (:func:`classify_transport_error`): *not sent* (DNS, refused, connect
  timeout, TLS, the request could not be written: ``RETRY``) or *outcome
  unknown* (the request was written, no usable answer came: ``UNKNOWN``,
  never resent blindly, see :meth:`BaseAdapter.unknown_policy`);
* admin calls (test connection, template sync, token refresh) raise
  :class:`ProviderError` with a human readable message;
* secrets are never logged and never copied into ``SendResult.raw``.
"""

import base64
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from requests.utils import (
    get_auth_from_url,
    get_environ_proxies,
    prepend_scheme_if_needed,
    select_proxy,
)
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import parse_url

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

# Transport failure reasons whose outcome is unknown (the request left)
UNKNOWN_REASONS = frozenset(
    {"read_timeout", "connection_lost", "bad_response", "gateway_timeout"}
)

DEFAULT_TIMEOUT_CONNECT = 5.0
DEFAULT_TIMEOUT_READ = 20.0
DEFAULT_RATE_RETRY_AFTER = 60
# A pooled connection idle for longer is closed and opened again before a
# request is written on it. Servers close idle keep-alive connections after
# some seconds (Apache 5 s, nginx 75 s, IIS 120 s); one that does so while
# our request is on its way leaves us unable to tell "closed before reading"
# from "read, then dropped", so we do not write on a connection that old.
KEEPALIVE_IDLE_SECONDS = 4.0

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
    """Internal: the HTTP exchange itself failed (timeout, reset, 5xx, 429...).

    ``outcome_unknown``: the request was written and may have been acted
    upon (``reason`` in :data:`UNKNOWN_REASONS`); else it surely was not.
    """

    def __init__(self, reason, message, http_status=None, retry_after=None, raw=None):
        super().__init__(message)
        self.reason = reason
        self.http_status = http_status
        self.retry_after = retry_after
        self.raw = raw

    @property
    def outcome_unknown(self):
        return self.reason in UNKNOWN_REASONS


_local = threading.local()

_JSON_TYPE = "application/json"
_FORM_TYPE = "application/x-www-form-urlencoded"
_BASE_HEADERS = {
    "User-Agent": f"multichannel_messaging (urllib3/{urllib3.__version__})",
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
}


class _Exchange:
    """What one ``urlopen`` did on the wire, filled in by the connection.

    ``started``: the request was handed to urllib3 (it was encoded).
    ``tracked``: it goes through one of our connection classes (a SOCKS
    proxy's do not: then any failure after ``started`` is taken as *outcome
    unknown*). ``written``: the whole request (headers and body) was handed
    to the socket.
    """

    __slots__ = ("started", "tracked", "written")

    def __init__(self):
        self.started = False
        self.tracked = False
        self.written = False


def _current_exchange():
    return getattr(_local, "exchange", None)


class _TrackedConnectionMixin:
    """Records on the thread's :class:`_Exchange` whether the request was
    written, and never writes on a connection idle for longer than
    :data:`KEEPALIVE_IDLE_SECONDS` (see there)."""

    _last_request_at = None

    def request(self, *args, **kwargs):  # pylint: disable=arguments-differ
        exchange = _current_exchange()
        if (
            self.sock is not None
            and self._last_request_at is not None
            and time.monotonic() - self._last_request_at > KEEPALIVE_IDLE_SECONDS
        ):
            self.close()  # http.client connects again on the first write
        result = super().request(*args, **kwargs)
        self._last_request_at = time.monotonic()
        if exchange is not None:
            exchange.written = True
        return result


class _TrackedHTTPConnection(_TrackedConnectionMixin, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_TrackedConnectionMixin, HTTPSConnection):
    pass


class _TrackedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


_POOL_CLASSES = {
    "http": _TrackedHTTPConnectionPool,
    "https": _TrackedHTTPSConnectionPool,
}


def classify_transport_error(exc, exchange=None):
    """The :class:`TransportError` for urllib3's exception ``exc``.

    The one place where a failed exchange becomes *not sent* (retry freely)
    or *outcome unknown* (the request may have reached the provider):

    * not sent: DNS failure, refused connection, connect timeout
      (``NewConnectionError``, ``ConnectTimeoutError``; urllib3 2's
      ``NameResolutionError`` is a ``NewConnectionError``), and anything
      that failed before the whole request was written (TLS handshake, a
      reset or broken pipe while writing);
    * outcome unknown: a read timeout, and a reset, a closed connection or
      a broken answer after the request was written (``ProtocolError``
      wrapping ``RemoteDisconnected`` / ``ConnectionResetError``...).

    ``exchange`` (an :class:`_Exchange`) says whether the request was
    written; without it, or when our connection class did not see the
    request, only a failure to connect counts as not sent.
    """
    errors = urllib3.exceptions
    if isinstance(exc, errors.NewConnectionError):
        # a subclass of ConnectTimeoutError in urllib3 1.x, but a refusal
        return TransportError("connection", "Connection error")
    if isinstance(exc, errors.ConnectTimeoutError):
        return TransportError("timeout", "Connect timeout")
    if isinstance(exc, errors.ReadTimeoutError):
        return TransportError("read_timeout", "Read timeout: no answer in time")
    written = exchange is None or (
        exchange.started and (exchange.written or not exchange.tracked)
    )
    if isinstance(exc, errors.ProxyError) and not written:
        return TransportError("connection", "Proxy error")
    if isinstance(exc, (errors.HTTPError, OSError, ValueError)) and written:
        return TransportError(
            "connection_lost",
            "Connection lost after the request was sent (%s)" % _cause_name(exc),
        )
    return TransportError("connection", "Connection error (%s)" % _cause_name(exc))


def _cause_name(exc):
    """``ProtocolError('Connection aborted.', RemoteDisconnected(...))`` ->
    ``RemoteDisconnected``: the name that says what happened."""
    args = getattr(exc, "args", ())
    inner = args[1] if len(args) > 1 and isinstance(args[1], BaseException) else None
    inner = inner or getattr(exc, "reason", None) or exc
    return type(inner).__name__


class Session:
    """The HTTP client of one thread, built on urllib3 without ``requests``.

    ``requests`` cost about 0.3 ms per call on top of urllib3 (hooks, cookie
    jar, environment merge, adapters...), more than a keep-alive request to
    a nearby host. This keeps what the adapters need:

    * one keep-alive connection pool per scheme and host (``retries=False``:
      no hidden retries, ``redirect=False``);
    * TLS verification always on, against certifi's CA bundle or the one
      named by ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` (as requests does);
    * the environment's proxies (``*_proxy``, ``no_proxy``) looked up once
      per scheme and host, with requests' rules; a proxied host goes through
      a ``urllib3.ProxyManager`` (CONNECT tunnel for https).

    A worker's environment does not change while it runs: proxies and CA
    bundle are read once, when first needed.

    Several threads may share one session (urllib3's pools are thread-safe):
    ``pool_maxsize`` is then at least their number, so that each keeps its
    keep-alive connection to a host instead of opening one per request.
    """

    num_pools = 16
    pool_maxsize = 4

    def __init__(self, pool_maxsize=None):
        if pool_maxsize:
            self.pool_maxsize = max(int(pool_maxsize), 1)
        self._lock = threading.Lock()  # pools and proxy managers, made once
        self._pools = {}  # (scheme, netloc) -> connection pool (direct hosts)
        self._proxies = {}  # (scheme, netloc) -> proxy URL or None
        self._proxy_managers = {}  # proxy URL -> ProxyManager
        self._tls = None

    # -- settings --------------------------------------------------------
    def tls_settings(self):
        """``cert_reqs``/``ca_certs``/``ca_cert_dir`` of every TLS connection."""
        if self._tls is None:
            bundle = (
                os.environ.get("REQUESTS_CA_BUNDLE")
                or os.environ.get("CURL_CA_BUNDLE")
                or certifi.where()
            )
            self._tls = {"cert_reqs": "CERT_REQUIRED"}
            if os.path.isdir(bundle):
                self._tls["ca_cert_dir"] = bundle
            else:
                self._tls["ca_certs"] = bundle
        return self._tls

    def proxy_for(self, url):
        """The proxy URL the environment gives for ``url``'s host, or None."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key in self._proxies:
            return self._proxies[key]
        proxy = select_proxy(url, get_environ_proxies(url)) or None
        if proxy:
            proxy = prepend_scheme_if_needed(proxy, "http")
        self._proxies[key] = proxy
        return proxy

    def _proxy_manager(self, proxy):
        with self._lock:
            manager = self._proxy_managers.get(proxy)
            if manager is None:
                manager = self._proxy_managers[proxy] = self._new_proxy_manager(proxy)
        return manager

    def _new_proxy_manager(self, proxy):
        username, password = get_auth_from_url(proxy)
        kwargs = dict(
            num_pools=self.num_pools,
            maxsize=self.pool_maxsize,
            block=False,
            retries=False,
            **self.tls_settings(),
        )
        if proxy.lower().startswith("socks"):
            try:
                # pylint: disable=import-outside-toplevel
                from urllib3.contrib.socks import SOCKSProxyManager
            except ImportError as exc:  # PySocks missing, as in requests
                raise TransportError(
                    "connection", "Missing dependencies for SOCKS support"
                ) from exc
            manager = SOCKSProxyManager(
                proxy, username=username or None, password=password or None, **kwargs
            )
        else:
            headers = {}
            if username:
                headers["Proxy-Authorization"] = _basic_auth(username, password)
            manager = urllib3.ProxyManager(proxy, proxy_headers=headers, **kwargs)
            manager.pool_classes_by_scheme = dict(_POOL_CLASSES)
        return manager

    def _pool(self, scheme, netloc):
        key = (scheme, netloc)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = self._new_pool(scheme, netloc)
        return pool

    def _new_pool(self, scheme, netloc):
        if scheme not in ("http", "https"):
            raise TransportError("connection", f"No connection adapters for {scheme!r}")
        kwargs = {"maxsize": self.pool_maxsize, "block": False, "retries": False}
        if scheme == "https":
            kwargs.update(self.tls_settings())
        parts = parse_url(f"{scheme}://{netloc}")
        port = parts.port or (443 if scheme == "https" else 80)
        return _POOL_CLASSES[scheme](parts.host, port=port, **kwargs)

    # -- requests ----------------------------------------------------------
    def urlopen(self, method, url, body=None, headers=None, timeout=None):
        """One exchange, the answer read (``HTTPResponse.data``); urllib3's
        exceptions propagate."""
        options = {
            "body": body,
            "headers": headers,
            "timeout": timeout,
            "retries": False,
            "redirect": False,
            "preload_content": True,
        }
        exchange = _current_exchange() or _Exchange()
        proxy = self.proxy_for(url)
        if proxy:
            manager = self._proxy_manager(proxy)
            exchange.tracked = not proxy.lower().startswith("socks")
            exchange.started = True
            return manager.urlopen(method, url, **options)
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        pool = self._pool(parts.scheme, parts.netloc)
        exchange.tracked = exchange.started = True
        return pool.urlopen(method, target, assert_same_host=False, **options)

    def close(self):
        for pool in self._pools.values():
            pool.close()
        for manager in self._proxy_managers.values():
            manager.clear()
        self._pools.clear()
        self._proxy_managers.clear()


def _basic_auth(username, password):
    """``Basic ...`` header value, strings encoded as requests does (latin-1)."""
    parts = []
    for value in (username, password):
        if isinstance(value, str):
            try:
                value = value.encode("latin-1")
            except UnicodeEncodeError:
                value = value.encode("utf-8")
        parts.append(value)
    return "Basic " + base64.b64encode(b":".join(parts)).decode("ascii")


def _encode_pairs(values):
    """``urlencode`` of a dict or pairs, None values left out (as requests)."""
    if isinstance(values, (str, bytes)):
        return values
    items = values.items() if hasattr(values, "items") else values
    pairs = []
    for key, value in items:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            value = [value]
        pairs.extend((key, v) for v in value if v is not None)
    return urlencode(pairs)


def _charset(content_type):
    for part in content_type.split(";")[1:]:
        name, _sep, value = part.strip().partition("=")
        if name.lower() == "charset":
            return value.strip("\"' ") or None
    return None


def new_session(pool_maxsize=None):
    """A new :class:`Session` (keep-alive pools, no retries, no redirects);
    ``pool_maxsize``: keep-alive connections kept per host."""
    return Session(pool_maxsize=pool_maxsize)


def get_session():
    """Return the calling thread's shared :class:`Session`."""
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

    def test_connection(self):
        raise NotImplementedError

    # ------------------------------------------------------------------
    # helpers for subclasses
    # ------------------------------------------------------------------
    def _request(self, method, url, **kwargs):
        """Do one HTTP exchange and return the parsed JSON body (a dict).

        ``json`` (a JSON body), ``data`` (a form: dict or pairs), ``headers``,
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
        if status == 429:
            raise TransportError(
                "rate",
                "HTTP 429 Too Many Requests",
                http_status=status,
                retry_after=_retry_after_header(response) or DEFAULT_RATE_RETRY_AFTER,
                raw=body,
            )
        if status == 504:
            # a gateway forwarded the request and its upstream did not answer
            raise TransportError(
                "gateway_timeout",
                "HTTP 504: the provider's gateway got no answer in time",
                http_status=status,
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
        if 300 <= status < 400:
            raise TransportError(
                "redirect",
                f"HTTP {status}: redirect to {response.headers.get('Location')} "
                "not followed",
                http_status=status,
            )
        if body is None:
            raise TransportError(
                "bad_response", f"HTTP {status}: body is not JSON", http_status=status
            )
        if not isinstance(body, dict):
            raise TransportError(
                "http_4xx" if status >= 400 else "bad_response",
                "JSON body is not an object",
                http_status=status,
            )
        body.setdefault("_http_status", status)
        return body

    def _exchange(
        self, method, url, *, data=None, headers=None, params=None, auth=None, **kw
    ):
        """Encode the request as requests would and send it; urllib3's
        exceptions propagate."""
        json_body = kw.pop("json", None)
        if kw:
            raise TypeError(f"_request() got unexpected arguments {sorted(kw)}")
        send_headers = dict(_BASE_HEADERS)
        body = None
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=False).encode("utf-8")
            send_headers["Content-Type"] = _JSON_TYPE
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
