"""The HTTP transport of the provider adapters: plain Python, no ORM.

Split from ``base.py`` (the adapters' interface) so that each file says one
thing. Rules kept here for every adapter:

* one :class:`Session` per thread (:func:`get_session`), or one shared by
  the threads of an in-flight pool (``engine/inflight.py``, its connection
  pools as large as the pool): urllib3 connection pools, keep-alive, no
  hidden retries (the queue decides when to retry, not urllib3), the
  environment's proxy settings looked up once per host;
* TLS verification always on;
* every transport failure is classified here, once for every adapter
  (:func:`classify_transport_error`): *not sent* (DNS, refused, connect
  timeout, TLS, the request could not be written) or *outcome unknown*
  (the request was written, no usable answer came), recorded on the
  thread's :class:`_Exchange` by our connection classes.
"""

import base64
import os
import threading
import time
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

# Transport failure reasons whose outcome is unknown (the request left)
UNKNOWN_REASONS = frozenset(
    {"read_timeout", "connection_lost", "bad_response", "gateway_timeout"}
)

# A request not sent because it would have left after its throttle slot
# (engine/inflight.py, engine/throttle.py): queued again, not counted as tried
LATE_REASON = "late_slot"

# A pooled connection idle for longer is closed and opened again before a
# request is written on it. Servers close idle keep-alive connections after
# some seconds (Apache 5 s, nginx 75 s, IIS 120 s); one that does so while
# our request is on its way leaves us unable to tell "closed before reading"
# from "read, then dropped", so we do not write on a connection that old.
KEEPALIVE_IDLE_SECONDS = 4.0


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


class LateSend(TransportError):
    """The thread's first request would leave after its send deadline
    (:func:`send_deadline`): nothing was written."""

    def __init__(self):
        super().__init__(LATE_REASON, "Not sent: its throttle slot was missed.")


def send_deadline(deadline):
    """For the calling thread's next request only: do not write it after
    ``deadline`` (``time.monotonic()``; None: no deadline). Checked once
    the connection is open, right before the first byte leaves, so that
    neither a new connection's handshake nor a busy process delays a
    throttled request past its slot unseen (it raises :class:`LateSend`).
    Later requests of the same send (a token refresh, an upload before the
    message) are not held to it."""
    _local.send_by = deadline


def _check_send_deadline(connection):
    deadline = getattr(_local, "send_by", None)
    if deadline is None:
        return
    _local.send_by = None
    if connection.sock is None:
        connection.connect()
    if time.monotonic() > deadline:
        raise LateSend()


class _TrackedConnectionMixin:
    """Records on the thread's :class:`_Exchange` whether the request was
    written, never writes on a connection idle for longer than
    :data:`KEEPALIVE_IDLE_SECONDS` (see there), and keeps a throttled
    request's send deadline (:func:`send_deadline`)."""

    _last_request_at = None

    def request(self, *args, **kwargs):  # pylint: disable=arguments-differ
        exchange = _current_exchange()
        if (
            self.sock is not None
            and self._last_request_at is not None
            and time.monotonic() - self._last_request_at > KEEPALIVE_IDLE_SECONDS
        ):
            self.close()  # http.client connects again on the first write
        _check_send_deadline(self)
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
