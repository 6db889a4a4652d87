import time
from datetime import datetime

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
    validate_template_params,
)
from odoo.addons.multichannel_messaging.providers.zalo import VN_TZ
from odoo.addons.multichannel_messaging.tests.common import PeerAdapterCase
from odoo.addons.multichannel_messaging.tests.peers import (
    ZaloPeer,
    unused_local_url,
)

PHONE_PATH = "/message/template"
UID_PATH = "/v3.0/oa/message/template"
CS_PATH = "/v3.0/oa/message/cs"
BIG_USER_ID = "8495722873624591234"  # > 2**53: must stay a string


class ZaloPeerCase(PeerAdapterCase):
    """One loopback Zalo peer per class, fresh state for every test."""

    PEER = ZaloPeer
    PROVIDER = "zalo"

    @staticmethod
    def template_msg(**values):
        values.setdefault("tracking_id", "mm-msg-42")
        values.setdefault("kind", "template")
        values.setdefault("phone", "84912345678")
        values.setdefault("template_ref", "100001")
        values.setdefault(
            "params", {"customer_name": "Nguyễn Văn An", "order_code": "SO042"}
        )
        return OutboundMessage(**values)


@tagged("post_install", "-at_install")
class TestZaloSend(ZaloPeerCase):
    def test_template_by_phone_request(self):
        result = self.adapter().send(self.template_msg())
        self.assertEqual(result.status, ACCEPTED, result)
        self.assertEqual(len(self.peer.requests), 1)
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("POST", PHONE_PATH))
        self.assertEqual(req.headers["access_token"], self.peer.access_token)
        self.assertNotIn("authorization", req.headers)
        self.assertIn("application/json", req.headers["content-type"])
        self.assertEqual(
            req.body,
            {
                "phone": "84912345678",
                "template_id": "100001",
                "template_data": {
                    "customer_name": "Nguyễn Văn An",
                    "order_code": "SO042",
                },
                "tracking_id": "mm-msg-42",
            },
        )

    def test_template_by_phone_result(self):
        result = self.adapter().send(self.template_msg())
        sent = self.peer.sent[-1]
        self.assertEqual(result.provider_message_id, sent["msg_id"])
        self.assertEqual(result.code, "0")
        self.assertEqual(result.quota_daily, 500)
        self.assertEqual(result.quota_remaining, 499)
        self.assertEqual(sent["tracking_id"], "mm-msg-42")
        self.assertEqual(result.raw["data"]["msg_id"], sent["msg_id"])

    def test_dev_mode_adds_mode_development(self):
        self.adapter(zalo_dev_mode=True).send(self.template_msg())
        self.assertEqual(self.peer.requests[0].body["mode"], "development")

    def test_no_mode_outside_dev_mode(self):
        self.adapter(zalo_dev_mode=False).send(self.template_msg())
        self.assertNotIn("mode", self.peer.requests[0].body)

    def test_template_params_are_sent_as_strings(self):
        msg = self.template_msg(
            params={"customer_name": "An", "order_code": 42, "amount": 150000}
        )
        self.assertEqual(self.adapter().send(msg).status, ACCEPTED)
        self.assertEqual(
            self.peer.requests[0].body["template_data"],
            {"customer_name": "An", "order_code": "42", "amount": "150000"},
        )

    def test_template_by_uid_request_and_result(self):
        msg = self.template_msg(route="uid", phone=None, zalo_user_id=BIG_USER_ID)
        result = self.adapter().send(msg)
        self.assertEqual(result.status, ACCEPTED, result)
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("POST", UID_PATH))
        self.assertEqual(req.headers["access_token"], self.peer.access_token)
        self.assertEqual(
            req.body,
            {
                "user_id": BIG_USER_ID,
                "template_id": "100001",
                "template_data": {
                    "customer_name": "Nguyễn Văn An",
                    "order_code": "SO042",
                },
            },
        )
        # the big id travels as a JSON string, never as a number
        self.assertIn(f'"user_id": "{BIG_USER_ID}"', req.raw.decode())
        self.assertEqual(result.provider_message_id, self.peer.sent[-1]["msg_id"])
        self.assertEqual(result.quota_remaining, 499)

    def test_cs_text_request(self):
        msg = OutboundMessage(
            tracking_id="mm-cs-1", kind="text", zalo_user_id=BIG_USER_ID, text="Chào"
        )
        result = self.adapter().send(msg)
        self.assertEqual(result.status, ACCEPTED, result)
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("POST", CS_PATH))
        self.assertEqual(
            req.body,
            {"recipient": {"user_id": BIG_USER_ID}, "message": {"text": "Chào"}},
        )
        self.assertEqual(result.provider_message_id, self.peer.sent[-1]["msg_id"])

    def test_cs_image_request(self):
        msg = OutboundMessage(
            tracking_id="mm-cs-2",
            kind="image",
            zalo_user_id=BIG_USER_ID,
            image_url="https://example.com/promo.jpg",
        )
        self.assertEqual(self.adapter().send(msg).status, ACCEPTED)
        self.assertEqual(
            self.peer.requests[0].body["message"],
            {
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "media",
                        "elements": [
                            {
                                "media_type": "image",
                                "url": "https://example.com/promo.jpg",
                            }
                        ],
                    },
                }
            },
        )

    def test_unnormalised_phone_is_refused_by_zalo(self):
        result = self.adapter().send(self.template_msg(phone="0912345678"))
        self.assertEqual((result.status, result.code), (PERMANENT, "-108"))
        self.assertEqual(result.reason, "invalid_phone")

    def test_unknown_template_is_permanent(self):
        result = self.adapter().send(self.template_msg(template_ref="999"))
        self.assertEqual((result.status, result.code), (PERMANENT, "-109"))

    def test_missing_required_param_reported_by_zalo(self):
        result = self.adapter().send(self.template_msg(params={"customer_name": "An"}))
        self.assertEqual((result.status, result.code), (PERMANENT, "-1122"))
        self.assertIn("order_code", result.message)

    def test_result_never_contains_the_token(self):
        result = self.adapter().send(self.template_msg())
        self.assertNotIn(self.peer.access_token, repr(result))


@tagged("post_install", "-at_install")
class TestZaloLocalChecks(ZaloPeerCase):
    """Problems caught before any HTTP call: nothing reaches the peer."""

    def assert_no_http(self, result, reason="invalid_request"):
        self.assertEqual(result.status, PERMANENT, result)
        self.assertEqual(result.reason, reason)
        self.assertEqual(self.peer.request_count, 0)

    def test_missing_phone(self):
        self.assert_no_http(self.adapter().send(self.template_msg(phone=None)))

    def test_missing_user_id_for_uid_route(self):
        self.assert_no_http(self.adapter().send(self.template_msg(route="uid")))

    def test_missing_template_id(self):
        self.assert_no_http(self.adapter().send(self.template_msg(template_ref=None)))

    def test_tracking_id_longer_than_48(self):
        result = self.adapter().send(self.template_msg(tracking_id="x" * 49))
        self.assert_no_http(result)
        self.assertIn("48", result.message)

    def test_cs_text_longer_than_2000(self):
        msg = OutboundMessage(
            tracking_id="t", kind="text", zalo_user_id="1", text="a" * 2001
        )
        self.assert_no_http(self.adapter().send(msg))

    def test_unsupported_kind(self):
        msg = OutboundMessage(tracking_id="t", kind="video", zalo_user_id="1")
        self.assert_no_http(self.adapter().send(msg))

    def test_invalid_params_make_no_http_call(self):
        list_params = self.peer.templates["100001"]["listParams"]
        msg = self.template_msg(params={"customer_name": "x" * 31})
        result = self.adapter().send(msg, list_params=list_params)
        self.assert_no_http(result, reason="invalid_params")
        self.assertIn("'customer_name' is too long", result.message)
        self.assertIn("'order_code' is required", result.message)

    def test_valid_params_are_sent(self):
        list_params = self.peer.templates["100001"]["listParams"]
        result = self.adapter().send(self.template_msg(), list_params=list_params)
        self.assertEqual(result.status, ACCEPTED, result)
        self.assertEqual(self.peer.request_count, 1)


@tagged("post_install", "-at_install")
class TestZaloTransport(ZaloPeerCase):
    def test_read_timeout_is_unknown(self):
        # the answer comes after 3 s: giving up at the 0.3 s read timeout ends
        # the call long before it, however busy the machine (2.7 s of slack)
        self.peer.queue_response(PHONE_PATH, delay=3.0)
        adapter = self.adapter(timeout_read=0.3)
        start = time.monotonic()
        result = adapter.send(self.template_msg())
        elapsed = time.monotonic() - start
        self.assertEqual((result.status, result.reason), (UNKNOWN, "read_timeout"))
        self.assertLess(elapsed, 2.5)

    def test_dropped_connection_is_unknown(self):
        self.peer.queue_response(PHONE_PATH, drop=True)
        result = self.adapter().send(self.template_msg())
        self.assertEqual((result.status, result.reason), (UNKNOWN, "connection_lost"))

    def test_connection_refused_is_retry(self):
        url = unused_local_url()
        adapter = self.adapter(zalo_business_url=url)
        result = adapter.send(self.template_msg())
        self.assertEqual((result.status, result.reason), (RETRY, "connection"))

    def test_http_500_is_retry_without_hidden_retries(self):
        self.peer.queue_response(PHONE_PATH, {"error": "boom"}, status=500)
        result = self.adapter().send(self.template_msg())
        self.assertEqual((result.status, result.reason), (RETRY, "http_5xx"))
        self.assertEqual(result.code, "500")
        self.assertEqual(self.peer.request_count, 1)

    def test_http_503_html_body_is_retry(self):
        self.peer.queue_response(PHONE_PATH, "<html>down</html>", status=503)
        result = self.adapter().send(self.template_msg())
        self.assertEqual((result.status, result.reason), (RETRY, "http_5xx"))

    def test_http_429_is_retry_with_retry_after(self):
        self.peer.queue_response(
            PHONE_PATH, {"error": -32}, status=429, headers={"Retry-After": "7"}
        )
        result = self.adapter().send(self.template_msg())
        self.assertEqual((result.status, result.reason), (RETRY, "rate"))
        self.assertEqual(result.retry_after, 7)

    def test_non_json_200_is_unknown(self):
        self.peer.queue_response(PHONE_PATH, "OK")
        result = self.adapter().send(self.template_msg())
        self.assertEqual((result.status, result.reason), (UNKNOWN, "bad_response"))

    def test_keep_alive_connection_reused(self):
        adapter = self.adapter()
        for i in range(5):
            msg = self.template_msg(tracking_id=f"mm-{i}")
            self.assertEqual(adapter.send(msg).status, ACCEPTED)
        self.assertEqual(len(self.peer.sent), 5)
        self.assertTrue(
            all(r.headers.get("connection") != "close" for r in self.peer.requests)
        )


def _code_test(code, status, reason):
    def test(self):
        self.peer.queue_response(
            PHONE_PATH, {"error": code, "message": f"Zalo says {code}"}
        )
        result = self.adapter().send(self.template_msg())
        self.assertEqual(result.status, status, result)
        self.assertEqual(result.reason, reason)
        self.assertEqual(result.code, str(code))
        self.assertEqual(result.message, f"Zalo says {code}")
        self.assertEqual(result.raw["error"], code)

    test.__doc__ = f"Zalo error {code} -> {status} ({reason})"
    return test


@tagged("post_install", "-at_install")
class TestZaloErrorCodes(ZaloPeerCase):
    """Every class of Zalo error named in DESIGN.md, one test per code."""

    CODES = (
        (-118, UNREACHABLE, "no_zalo_account"),
        (-114, UNREACHABLE, "user_cannot_receive"),
        (-139, UNREACHABLE, "user_rejected"),
        (-141, UNREACHABLE, "user_rejected"),
        (-133, RETRY, "night_ban"),
        (-144, QUOTA, "daily_quota"),
        (-147, QUOTA, "template_daily_quota"),
        (-32, RETRY, "rate"),
        (-124, AUTH, "token"),
        (-216, AUTH, "token"),
        (-220, AUTH, "token"),
        (-108, PERMANENT, "invalid_phone"),
        (-109, PERMANENT, "template"),
        (-1121, PERMANENT, "param_too_long"),
        (-1122, PERMANENT, "param_missing"),
        (-131, PERMANENT, "template_not_approved"),
        (-115, QUOTA, "balance"),
        (-230, UNREACHABLE, "cs_window"),
    )

    def fixed_clock(self, adapter, hour, minute=0):
        moment = datetime(2026, 5, 14, hour, minute, tzinfo=VN_TZ)
        adapter.clock = lambda: moment
        return adapter

    def test_night_ban_retry_after_until_6am(self):
        self.peer.queue_response(PHONE_PATH, {"error": -133, "message": "night"})
        adapter = self.fixed_clock(self.adapter(), 23, 0)
        self.assertEqual(adapter.send(self.template_msg()).retry_after, 7 * 3600)

    def test_night_ban_after_midnight(self):
        self.peer.queue_response(PHONE_PATH, {"error": -133, "message": "night"})
        adapter = self.fixed_clock(self.adapter(), 3, 30)
        self.assertEqual(adapter.send(self.template_msg()).retry_after, 9000)

    def test_daily_quota_retry_after_until_midnight(self):
        self.peer.queue_response(PHONE_PATH, {"error": -144, "message": "quota"})
        adapter = self.fixed_clock(self.adapter(), 22, 0)
        self.assertEqual(adapter.send(self.template_msg()).retry_after, 2 * 3600)

    def test_rate_limit_retry_after_60(self):
        self.peer.queue_response(PHONE_PATH, {"error": -32, "message": "limit"})
        self.assertEqual(self.adapter().send(self.template_msg()).retry_after, 60)

    def test_unknown_code_is_permanent_and_kept(self):
        self.peer.queue_response(PHONE_PATH, {"error": -98765, "message": "new"})
        result = self.adapter().send(self.template_msg())
        self.assertEqual(
            (result.status, result.code, result.message, result.reason),
            (PERMANENT, "-98765", "new", "unknown_error"),
        )

    def test_expired_token_on_business_host(self):
        self.peer.expire_token()
        result = self.adapter().send(self.template_msg())
        self.assertEqual((result.status, result.code), (AUTH, "-124"))

    def test_expired_token_on_openapi_host(self):
        self.peer.expire_token()
        msg = OutboundMessage(tracking_id="t", zalo_user_id="12", text="Hi")
        result = self.adapter().send(msg)
        self.assertEqual((result.status, result.code), (AUTH, "-216"))


for _code, _status, _reason in TestZaloErrorCodes.CODES:
    setattr(
        TestZaloErrorCodes,
        f"test_code_{'m' if _code < 0 else ''}{abs(_code)}_{_status}",
        _code_test(_code, _status, _reason),
    )


@tagged("post_install", "-at_install")
class TestZaloToken(ZaloPeerCase):
    def test_refresh_request_and_new_pair(self):
        old_access, old_refresh = self.peer.access_token, self.peer.refresh_token
        pair = self.adapter().refresh_token()
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("POST", "/v4/oa/access_token"))
        self.assertEqual(req.headers["secret_key"], self.peer.app_secret)
        self.assertIn("application/x-www-form-urlencoded", req.headers["content-type"])
        self.assertEqual(
            req.body,
            {
                "refresh_token": old_refresh,
                "app_id": self.peer.app_id,
                "grant_type": "refresh_token",
            },
        )
        self.assertEqual(set(pair), {"access_token", "refresh_token", "expires_in"})
        self.assertEqual(pair["expires_in"], 90000)
        self.assertNotEqual(pair["access_token"], old_access)
        self.assertNotEqual(pair["refresh_token"], old_refresh)
        self.assertEqual(pair["access_token"], self.peer.access_token)

    def test_refresh_token_is_single_use(self):
        adapter = self.adapter()
        adapter.refresh_token()
        with self.assertRaises(ProviderError) as catcher:
            adapter.refresh_token()  # same (old) refresh token again
        self.assertEqual(catcher.exception.code, "-14014")
        self.assertIn("Invalid refresh token", str(catcher.exception))

    def test_refresh_with_wrong_secret_key(self):
        with self.assertRaises(ProviderError) as catcher:
            self.adapter(zalo_app_secret="wrong").refresh_token()
        self.assertNotIn("wrong", str(catcher.exception))
        self.assertEqual(self.peer.refresh_count, 0)

    def test_expired_token_then_refresh_then_send(self):
        self.peer.expire_token()
        self.assertEqual(self.adapter().send(self.template_msg()).status, AUTH)
        pair = self.adapter().refresh_token()
        adapter = self.adapter(
            zalo_access_token=pair["access_token"],
            zalo_refresh_token=pair["refresh_token"],
        )
        self.assertEqual(adapter.send(self.template_msg()).status, ACCEPTED)
        # and the new refresh token works once more
        self.assertEqual(
            self.adapter(zalo_refresh_token=pair["refresh_token"]).refresh_token()[
                "expires_in"
            ],
            90000,
        )


@tagged("post_install", "-at_install")
class TestZaloAdmin(ZaloPeerCase):
    def test_test_connection_names_the_oa(self):
        text = self.adapter().test_connection()
        self.assertIn(self.peer.oa_name, text)
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("GET", "/v2.0/oa/getoa"))
        self.assertEqual(req.headers["access_token"], self.peer.access_token)

    def test_test_connection_with_bad_token_raises(self):
        self.peer.expire_token()
        with self.assertRaises(ProviderError) as catcher:
            self.adapter().test_connection()
        self.assertEqual(catcher.exception.code, "-216")

    def test_test_connection_unreachable_raises(self):
        with self.assertRaises(ProviderError):
            self.adapter(zalo_openapi_url=unused_local_url()).test_connection()

    def test_list_templates_pages_by_100(self):
        for i in range(150):
            tid = str(200000 + i)
            self.peer.templates[tid] = self.peer.make_template(tid, f"T{i}")
        templates = self.adapter().list_templates()
        self.assertEqual(len(templates), 152)
        reqs = self.peer.requests_for("/template/all")
        self.assertEqual([r.query["offset"] for r in reqs], ["0", "100"])
        self.assertTrue(all(r.query["limit"] == "100" for r in reqs))
        self.assertEqual(templates[0]["templateId"], "100001")

    def test_list_templates_status_filter(self):
        self.peer.templates["100002"]["status"] = "PENDING_REVIEW"
        templates = self.adapter().list_templates(status="ENABLE")
        self.assertEqual([t["templateId"] for t in templates], ["100001"])
        self.assertEqual(self.peer.requests[0].query["status"], "1")

    def test_template_detail(self):
        detail = self.adapter().template_detail("100001")
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("GET", "/template/info/v2"))
        self.assertEqual(req.query, {"template_id": "100001"})
        self.assertEqual(detail["templateName"], "Order confirmation")
        self.assertEqual(
            [p["name"] for p in detail["listParams"]],
            ["customer_name", "order_code", "amount", "order_date"],
        )
        self.assertEqual(detail["price_uid"], "200")

    def test_template_detail_unknown_raises(self):
        with self.assertRaises(ProviderError) as catcher:
            self.adapter().template_detail("404")
        self.assertEqual(catcher.exception.code, "-109")

    def test_get_quota(self):
        self.adapter().send(self.template_msg())
        quota = self.adapter().get_quota()
        self.assertEqual((quota["dailyQuota"], quota["remainingQuota"]), (500, 499))
        self.assertEqual(self.peer.requests[-1].path, "/message/quota")


@tagged("post_install", "-at_install")
class TestZaloParamValidation(BaseCase):
    """``validate_template_params`` is pure: every error names its parameter."""

    LIST_PARAMS = ZaloPeer.make_template("1", "x")["listParams"]

    def validate(self, **params):
        base = {"customer_name": "An", "order_code": "SO1"}
        base.update(params)
        return validate_template_params(self.LIST_PARAMS, base)

    def test_valid(self):
        self.assertEqual(self.validate(amount="150000", order_date="14/05/2026"), [])

    def test_missing_required(self):
        errors = validate_template_params(self.LIST_PARAMS, {"customer_name": "An"})
        self.assertEqual(errors, ["Parameter 'order_code' is required but empty."])

    def test_too_long_counts_nfc_characters(self):
        name = "Nguyễn" * 5  # 30 characters in NFC, 40 decomposed
        self.assertEqual(self.validate(customer_name=name), [])
        errors = self.validate(customer_name=name + "x")
        self.assertEqual(len(errors), 1)
        self.assertIn("'customer_name' is too long: 31", errors[0])

    def test_too_short(self):
        params = [{"name": "otp", "require": True, "minLength": 6, "maxLength": 6}]
        errors = validate_template_params(params, {"otp": "123"})
        self.assertEqual(len(errors), 1)
        self.assertIn("'otp' is too short", errors[0])

    def test_number_type(self):
        self.assertEqual(self.validate(amount="1.500.000"), [])
        errors = self.validate(amount="15 nghìn")
        self.assertEqual(len(errors), 1)
        self.assertIn("'amount' must be a number", errors[0])

    def test_date_type(self):
        self.assertEqual(self.validate(order_date="10:30 14/05/2026"), [])
        errors = self.validate(order_date="2026-05-14")
        self.assertEqual(len(errors), 1)
        self.assertIn("'order_date' must be a date", errors[0])
        self.assertTrue(self.validate(order_date="31/02/2026"))

    def test_optional_may_be_empty(self):
        self.assertEqual(self.validate(amount="", order_date=None), [])

    def test_unknown_parameter(self):
        errors = self.validate(coupon="X")
        self.assertEqual(errors, ["Parameter 'coupon' is not defined in the template."])
