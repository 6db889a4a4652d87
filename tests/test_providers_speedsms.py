import base64

from odoo.tests import tagged

from odoo.addons.multichannel_messaging.providers import (
    ACCEPTED,
    AUTH,
    PERMANENT,
    QUOTA,
    RETRY,
    UNKNOWN,
    UNREACHABLE,
    ProviderError,
)
from odoo.addons.multichannel_messaging.providers.speedsms import (
    SpeedSmsAdapter,
    report_ids,
)
from odoo.addons.multichannel_messaging.tests.common import PeerAdapterCase
from odoo.addons.multichannel_messaging.tests.peers import SpeedSmsPeer

SEND_PATH = "/index.php/sms/send"


class SpeedSmsPeerCase(PeerAdapterCase):
    PEER = SpeedSmsPeer
    PROVIDER = "speedsms"

    SMS = {
        "tracking_id": "mm-sms-9",
        "phone": "84912345678",
        "text": "Ma xac thuc cua ban la 123456",
    }


@tagged("post_install", "-at_install")
class TestSpeedSmsSend(SpeedSmsPeerCase):
    def test_request_shape_and_basic_auth(self):
        result = self.adapter().send(self.sms())
        self.assertEqual(result.status, ACCEPTED, result)
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("POST", SEND_PATH))
        expected = base64.b64encode(f"{SpeedSmsPeer.access_token}:x".encode()).decode()
        self.assertEqual(req.headers["authorization"], f"Basic {expected}")
        self.assertEqual(
            req.body,
            {
                "to": ["84912345678"],
                "content": "Ma xac thuc cua ban la 123456",
                "sms_type": 2,
                "sender": "",
            },
        )

    def test_accepted_keeps_tran_id_and_price(self):
        result = self.adapter().send(self.sms())
        self.assertEqual(result.provider_message_id, "1001")
        self.assertEqual(result.cost, 250.0)
        self.assertEqual(result.code, "00")

    def test_brandname_type_sends_sender(self):
        self.adapter(speedsms_sms_type=3, speedsms_sender="LOOPBACK").send(self.sms())
        body = self.peer.requests[0].body
        self.assertEqual((body["sms_type"], body["sender"]), (3, "LOOPBACK"))

    def test_brandname_type_without_sender_makes_no_call(self):
        result = self.adapter(speedsms_sms_type=3).send(self.sms())
        self.assertEqual(result.status, PERMANENT)
        self.assertEqual(self.peer.request_count, 0)

    def test_strip_accents(self):
        self.adapter(strip_accents=True).send(self.sms(text="Mã xác thực: 123456"))
        self.assertEqual(self.peer.requests[0].body["content"], "Ma xac thuc: 123456")

    def test_invalid_phone_listed_is_unreachable(self):
        result = self.adapter().send(self.sms(phone="849"))
        self.assertEqual((result.status, result.reason), (UNREACHABLE, "invalid_phone"))

    def test_bad_token_is_auth(self):
        result = self.adapter(speedsms_access_token="bad").send(self.sms())
        self.assertEqual((result.status, result.code), (AUTH, "401"))

    def test_low_balance_is_quota(self):
        self.peer.balance = 10
        result = self.adapter().send(self.sms())
        self.assertEqual((result.status, result.code), (QUOTA, "300"))

    def test_read_timeout_is_unknown(self):
        # answered after 3 s: far past the 0.3 s timeout, whatever the load
        self.peer.queue_response(SEND_PATH, delay=3.0)
        result = self.adapter(timeout_read=0.3).send(self.sms())
        self.assertEqual((result.status, result.reason), (UNKNOWN, "read_timeout"))

    def test_dropped_connection_is_unknown(self):
        self.peer.queue_response(SEND_PATH, drop=True)
        result = self.adapter().send(self.sms())
        self.assertEqual((result.status, result.reason), (UNKNOWN, "connection_lost"))

    def test_same_text_to_several_in_one_request(self):
        """One request for three numbers; the number SpeedSMS refuses
        (written back as 0...) is unreachable, the others accepted, each
        with its own provider id and its share of the price."""
        phones = ["84912000001", "849", "84912000003"]
        results = self.adapter().send_many([self.sms(phone=p) for p in phones])
        (req,) = self.peer.requests
        self.assertEqual(req.body["to"], phones)
        self.assertEqual(
            [(r.status, r.provider_message_id, r.cost) for r in results],
            [
                (ACCEPTED, "1001:84912000001", 250.0),
                (UNREACHABLE, None, None),
                (ACCEPTED, "1001:84912000003", 250.0),
            ],
        )
        answer = {
            "status": "success",
            "code": "00",
            "data": {"tranId": 7, "totalPrice": 500, "invalidPhone": ["0912000002"]},
        }
        shared = SpeedSmsAdapter.parse_shared_response(
            answer, ["84912000001", "84912000002"]
        )
        self.assertEqual(
            [(r.status, r.provider_message_id) for r in shared],
            [(ACCEPTED, "7:84912000001"), (UNREACHABLE, None)],
        )

    def test_several_recipients_share_an_error_and_a_lost_answer(self):
        self.peer.balance = 10
        results = self.adapter().send_many([self.sms(), self.sms(phone="84912000002")])
        self.assertEqual({(r.status, r.code) for r in results}, {(QUOTA, "300")})
        self.peer.queue_response(SEND_PATH, drop=True)
        results = self.adapter().send_many([self.sms(), self.sms(phone="84912000002")])
        self.assertEqual(
            {(r.status, r.reason) for r in results}, {(UNKNOWN, "connection_lost")}
        )

    def test_group_key_is_the_content_type_and_sender(self):
        adapter = self.adapter(strip_accents=True)
        self.assertEqual(
            adapter.group_key(self.sms(text="Mã 1")),
            adapter.group_key(self.sms(text="Ma 1", phone="84912000002")),
        )
        self.assertNotEqual(
            adapter.group_key(self.sms(text="Ma 1")),
            adapter.group_key(self.sms(text="Ma 2")),
        )
        self.assertIsNone(adapter.group_key(self.sms(phone=None)))

    def test_report_names_the_recipient_of_a_shared_request(self):
        self.assertEqual(
            report_ids({"tranId": 7, "phone": "0912 000 001"}),
            ["7:84912000001", "7"],
        )
        self.assertEqual(report_ids({"tranId": "7"}), ["7"])
        self.assertEqual(report_ids({"phone": "84912000001"}), [])


def _code_test(code, status):
    def test(self):
        self.peer.queue_response(
            SEND_PATH, {"status": "error", "code": code, "message": f"error {code}"}
        )
        result = self.adapter().send(self.sms())
        self.assertEqual((result.status, result.code), (status, code))
        self.assertEqual(result.message, f"error {code}")

    return test


@tagged("post_install", "-at_install")
class TestSpeedSmsCodes(SpeedSmsPeerCase):
    CODES = (
        ("007", AUTH),
        ("008", AUTH),
        ("009", AUTH),
        ("101", PERMANENT),
        ("105", PERMANENT),
        ("110", PERMANENT),
        ("113", PERMANENT),
        ("300", QUOTA),
        ("500", RETRY),
        ("777", PERMANENT),
    )


for _code, _status in TestSpeedSmsCodes.CODES:
    setattr(
        TestSpeedSmsCodes, f"test_code_{_code}_{_status}", _code_test(_code, _status)
    )


@tagged("post_install", "-at_install")
class TestSpeedSmsAdmin(SpeedSmsPeerCase):
    def test_test_connection(self):
        text = self.adapter().test_connection()
        self.assertIn("peer@example.com", text)
        self.assertIn("500,000 VND", text)
        req = self.peer.requests[0]
        self.assertEqual((req.method, req.path), ("GET", "/index.php/user/info"))
        self.assertTrue(req.headers["authorization"].startswith("Basic "))

    def test_test_connection_bad_token(self):
        with self.assertRaises(ProviderError):
            self.adapter(speedsms_access_token="bad").test_connection()
