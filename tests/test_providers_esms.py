import base64
import os
from unittest.mock import patch

import certifi
from requests.utils import get_environ_proxies

from odoo.tests import BaseCase, tagged

from odoo.addons.multichannel_messaging.providers import (
    ACCEPTED,
    AUTH,
    PERMANENT,
    QUOTA,
    RETRY,
    UNKNOWN,
    UNREACHABLE,
    OutboundMessage,
    ProviderError,
    get_adapter,
    transport,
)
from odoo.addons.multichannel_messaging.providers.transport import new_session
from odoo.addons.multichannel_messaging.tests.common import PeerAdapterCase
from odoo.addons.multichannel_messaging.tests.peers import EsmsPeer, unused_local_url

SEND_PATH = EsmsPeer.send_path
BALANCE_PATH = EsmsPeer.balance_path


class EsmsPeerCase(PeerAdapterCase):
    PEER = EsmsPeer
    PROVIDER = "esms"

    SMS = {
        "tracking_id": "mm-sms-7",
        "phone": "84912345678",
        "text": "Don hang SO042 da duoc xac nhan",
    }


@tagged("post_install", "-at_install")
class TestEsmsSend(EsmsPeerCase):
    def test_request_shape(self):
        msg = self.sms(callback_url="https://odoo.example.com/messaging/esms/dlr")
        result = self.adapter().send(msg)
        self.assertEqual(result.status, ACCEPTED, result)
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("POST", SEND_PATH))
        self.assertIn("application/json", req.headers["content-type"])
        self.assertEqual(
            req.body,
            {
                "ApiKey": EsmsPeer.api_key,
                "SecretKey": EsmsPeer.secret_key,
                "Content": "Don hang SO042 da duoc xac nhan",
                "Phone": "0912345678",
                "Brandname": EsmsPeer.brandname,
                "SmsType": "2",
                "IsUnicode": "0",
                "RequestId": "mm-sms-7",
                "Sandbox": "0",
                "CallbackUrl": "https://odoo.example.com/messaging/esms/dlr",
            },
        )

    def test_accepted_keeps_smsid(self):
        result = self.adapter().send(self.sms())
        self.assertEqual(result.code, "100")
        self.assertEqual(result.provider_message_id, self.peer.sent[-1]["SMSID"])
        self.assertNotIn(EsmsPeer.secret_key, repr(result))

    def test_vietnamese_text_is_unicode(self):
        self.adapter().send(self.sms(text="Đơn hàng đã được xác nhận"))
        body = self.peer.requests[0].body
        self.assertEqual(body["IsUnicode"], "1")
        self.assertEqual(body["Content"], "Đơn hàng đã được xác nhận")

    def test_strip_accents_sends_plain_text(self):
        self.adapter(strip_accents=True).send(self.sms(text="Đơn hàng đã được giao"))
        body = self.peer.requests[0].body
        self.assertEqual(body["Content"], "Don hang da duoc giao")
        self.assertEqual(body["IsUnicode"], "0")

    def test_sandbox_flag(self):
        self.adapter(esms_sandbox=True).send(self.sms())
        self.assertEqual(self.peer.requests[0].body["Sandbox"], "1")
        self.assertEqual(self.peer.balance, self.peer.initial_balance)

    def test_request_id_is_idempotency_key(self):
        adapter = self.adapter()
        first = adapter.send(self.sms())
        again = adapter.send(self.sms())
        self.assertEqual(first.status, ACCEPTED)
        self.assertEqual((again.status, again.code), (ACCEPTED, "124"))
        self.assertEqual(again.reason, "duplicate_request")
        self.assertEqual(len(self.peer.sent), 1)

    def test_wrong_keys_is_auth(self):
        result = self.adapter(esms_secret_key="nope").send(self.sms())
        self.assertEqual((result.status, result.code), (AUTH, "101"))

    def test_low_balance_is_quota(self):
        self.peer.balance = 10
        result = self.adapter().send(self.sms())
        self.assertEqual((result.status, result.code), (QUOTA, "103"))

    def test_bad_phone_is_permanent(self):
        result = self.adapter().send(self.sms(phone="123"))
        self.assertEqual((result.status, result.code), (PERMANENT, "108"))

    def test_missing_phone_makes_no_call(self):
        result = self.adapter().send(self.sms(phone=None))
        self.assertEqual(result.status, PERMANENT)
        self.assertEqual(self.peer.request_count, 0)

    def test_blocked_number_is_unreachable(self):
        self.peer.queue_response(SEND_PATH, {"CodeResult": "99", "ErrorMessage": "x"})
        result = self.adapter().send(self.sms())
        self.assertEqual((result.status, result.code), (UNREACHABLE, "99"))

    def test_carrier_not_registered_is_unreachable(self):
        self.peer.queue_response(SEND_PATH, {"CodeResult": "177"})
        result = self.adapter().send(self.sms())
        self.assertEqual(
            (result.status, result.reason), (UNREACHABLE, "carrier_not_registered")
        )

    def test_template_mismatch_is_permanent(self):
        self.peer.queue_response(SEND_PATH, {"CodeResult": "146"})
        result = self.adapter().send(self.sms())
        self.assertEqual(
            (result.status, result.reason), (PERMANENT, "template_mismatch")
        )

    def test_duplicate_content_message_is_permanent(self):
        self.peer.queue_response(
            SEND_PATH,
            {"CodeResult": "9999", "ErrorMessage": "Gửi trùng nội dung trong 5 phút"},
        )
        result = self.adapter().send(self.sms())
        self.assertEqual(
            (result.status, result.reason), (PERMANENT, "duplicate_content")
        )
        self.assertEqual(result.code, "9999")

    def test_unknown_code_is_permanent(self):
        self.peer.queue_response(SEND_PATH, {"CodeResult": "555", "ErrorMessage": "?"})
        result = self.adapter().send(self.sms())
        self.assertEqual(
            (result.status, result.code, result.message), (PERMANENT, "555", "?")
        )

    def test_read_timeout_is_unknown(self):
        # answered after 3 s: far past the 0.3 s timeout, whatever the load
        self.peer.queue_response(SEND_PATH, delay=3.0)
        result = self.adapter(timeout_read=0.3).send(self.sms())
        self.assertEqual((result.status, result.reason), (UNKNOWN, "read_timeout"))

    def test_http_500_is_retry(self):
        self.peer.queue_response(SEND_PATH, "Internal error", status=500)
        result = self.adapter().send(self.sms())
        self.assertEqual((result.status, result.reason), (RETRY, "http_5xx"))
        self.assertEqual(self.peer.request_count, 1)

    def test_dropped_connection_is_unknown(self):
        self.peer.queue_response(SEND_PATH, drop=True)
        result = self.adapter().send(self.sms())
        self.assertEqual((result.status, result.reason), (UNKNOWN, "connection_lost"))


@tagged("post_install", "-at_install")
class TestEsmsAdmin(EsmsPeerCase):
    def test_test_connection_reports_balance(self):
        text = self.adapter().test_connection()
        self.assertIn("1,000,000", text)
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("POST", BALANCE_PATH))
        self.assertEqual(
            req.body, {"ApiKey": EsmsPeer.api_key, "SecretKey": EsmsPeer.secret_key}
        )

    def test_test_connection_wrong_keys(self):
        with self.assertRaises(ProviderError) as catcher:
            self.adapter(esms_api_key="bad").test_connection()
        self.assertEqual(catcher.exception.code, "101")
        self.assertNotIn(EsmsPeer.secret_key, str(catcher.exception))


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@tagged("post_install", "-at_install")
class TestSessionProxies(BaseCase):
    """The session honours the environment's proxies, looked up once per host."""

    def setUp(self):
        super().setUp()
        self.session = new_session()
        self.addCleanup(self.session.close)

    @staticmethod
    def environ(**values):
        """os.environ without proxy variables (either case), plus ``values``."""
        env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
        env.update(values)
        return patch.dict(os.environ, env, clear=True)

    def peer(self):
        peer = EsmsPeer().start()
        self.addCleanup(peer.stop)
        return peer

    def adapter(self, peer, url):
        config = peer.esms_config(esms_url=url, timeout_connect=1, timeout_read=2)
        return get_adapter("esms", config, session=self.session)

    @staticmethod
    def sms(tracking_id="mm-proxy-1"):
        return OutboundMessage(
            tracking_id=tracking_id, phone="84912345678", text="Ma OTP 123456"
        )

    def test_environment_proxy_is_used_and_kept_per_host(self):
        url = "http://127.0.0.1:8899/send"
        with self.environ(http_proxy="http://127.0.0.1:3128"):
            self.assertEqual(self.session.proxy_for(url), "http://127.0.0.1:3128")
        # looked up once for this host: a later change of the environment is
        # not read again (a worker's environment does not change)
        with self.environ():
            self.assertEqual(self.session.proxy_for(url), "http://127.0.0.1:3128")
            # another host is looked up on its own
            self.assertIsNone(self.session.proxy_for("http://127.0.0.1:8898/"))

    def test_no_proxy_is_honoured(self):
        with self.environ(http_proxy="http://127.0.0.1:3128", no_proxy="127.0.0.1"):
            self.assertIsNone(self.session.proxy_for("http://127.0.0.1:8899/"))

    def test_requests_go_through_the_environment_proxy(self):
        # the peer plays the proxy: it gets the absolute URI of the request
        peer = self.peer()
        lookups = []

        def count(url, no_proxy=None):
            lookups.append(url)
            return get_environ_proxies(url, no_proxy=no_proxy)

        adapter = self.adapter(peer, "http://rest.esms.example.invalid")
        with (
            self.environ(http_proxy=peer.url),
            patch.object(transport, "get_environ_proxies", side_effect=count),
        ):
            for i in range(3):
                result = adapter.send(self.sms(f"mm-proxy-{i}"))
                self.assertEqual(result.status, ACCEPTED, result)
        self.assertEqual(len(lookups), 1)  # once per host, not per request
        self.assertEqual(len(peer.requests), 3)
        req = peer.requests[0]
        self.assertEqual((req.method, req.path), ("POST", SEND_PATH))
        self.assertEqual(req.headers["host"], "rest.esms.example.invalid")
        self.assertNotIn("proxy-authorization", req.headers)

    def test_proxy_credentials_from_the_url(self):
        peer = self.peer()
        proxy = peer.url.replace("http://", "http://user:p%40ss@")
        with self.environ(http_proxy=proxy):
            result = self.adapter(peer, "http://rest.esms.example.invalid").send(
                self.sms()
            )
        self.assertEqual(result.status, ACCEPTED, result)
        self.assertEqual(
            peer.requests[0].headers["proxy-authorization"],
            "Basic " + base64.b64encode(b"user:p@ss").decode(),
        )

    def test_no_proxy_host_is_reached_directly(self):
        peer = self.peer()
        # a proxy where nothing listens: going through it would fail
        with self.environ(http_proxy=unused_local_url(), no_proxy="127.0.0.1"):
            result = self.adapter(peer, peer.url).send(self.sms())
        self.assertEqual(result.status, ACCEPTED, result)
        with self.environ(http_proxy=unused_local_url()):
            # the session keeps its answer for 127.0.0.1: a new one asks again
            other = new_session()
            self.addCleanup(other.close)
            config = peer.esms_config(timeout_connect=1, timeout_read=2)
            result = get_adapter("esms", config, session=other).send(self.sms("x"))
        self.assertEqual((result.status, result.reason), (RETRY, "connection"))

    def test_tls_verification_uses_certifi(self):
        with self.environ(), patch.dict(os.environ):
            for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                os.environ.pop(name, None)
            pool = self.session._pool("https", "127.0.0.1:8899")
        self.assertEqual(pool.cert_reqs, "CERT_REQUIRED")
        self.assertEqual(pool.ca_certs, certifi.where())

    def test_ca_bundle_from_environment(self):
        with self.environ(REQUESTS_CA_BUNDLE="/tmp/bundle.pem"):
            pool = self.session._pool("https", "127.0.0.1:8899")
        self.assertEqual(pool.cert_reqs, "CERT_REQUIRED")
        self.assertEqual(pool.ca_certs, "/tmp/bundle.pem")
