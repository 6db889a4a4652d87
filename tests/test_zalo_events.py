"""The Zalo webhook parser (providers/zalo_events.py) on every payload of
``tests/fixtures/zalo_events``: plain objects, no database; then every
payload stored and processed as an event of a Zalo channel."""

import json
import os
from datetime import datetime

from odoo.tests import BaseCase, tagged

from ..controllers.main import is_url_check
from ..providers import zalo_events
from ..providers.zalo_events import ZaloEvent, parse_event, zalo_time
from ..providers.zalo_html import inbound_body
from . import test_webhook_common as wh
from .common import MessagingCase

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "zalo_events")
USER = "2512523625412515"
OA = "579745863508352884"
APP = "3482178216594085616"


def fixture_names():
    return sorted(name for name in os.listdir(FIXTURES) if name.endswith(".json"))


def load(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as file:
        return json.load(file)


def parsed(name):
    return parse_event(load(name))


@tagged("post_install", "-at_install")
class TestZaloEventParser(BaseCase):
    def test_every_fixture_reads_as_an_event(self):
        names = fixture_names()
        self.assertGreaterEqual(len(names), 20)
        for name in names:
            with self.subTest(fixture=name):
                data = load(name)
                event = parse_event(data)
                self.assertIsInstance(event, ZaloEvent)
                self.assertEqual(event.name, data["event_name"])
                self.assertEqual(event.app_id, APP)
                self.assertIsNotNone(event.timestamp)
                self.assertEqual(event.sent_at.year, 2024)
                self.assertTrue(
                    event.user_ref or event.kind in ("template_status", "quota")
                )
                self.assertIsInstance(event.event_key(b"{}"), str)

    def test_kinds(self):
        expected = {
            "follow.json": "follow",
            "unfollow.json": "follow",
            "user_send_text.json": "user_message",
            "user_send_image.json": "user_message",
            "user_send_group_text.json": None,
            "oa_send_text.json": "oa_message",
            "user_received_message.json": "receipt",
            "user_seen_message.json": "receipt",
            "user_submit_info.json": "submit_info",
            "change_template_status.json": "template_status",
            "change_oa_daily_quota.json": "quota",
        }
        for name, kind in expected.items():
            with self.subTest(fixture=name):
                self.assertEqual(parsed(name).kind, kind)

    def test_follow_and_unfollow(self):
        for name in ("follow.json", "unfollow.json"):
            event = parsed(name)
            self.assertEqual(event.follower_id, USER)
            self.assertEqual(event.user_ref, USER)
            self.assertEqual(event.oa_id, OA)
            self.assertEqual(event.sender_id, "")
            self.assertEqual(event.event_key(b"raw")[:5], "body:")

    def test_user_text_string_and_number_ids(self):
        text = parsed("user_send_text.json")
        numbers = parsed("user_send_text_numbers.json")
        for event in (text, numbers):
            self.assertEqual(event.sender_id, USER)
            self.assertEqual(event.recipient_id, OA)
            self.assertEqual(event.user_ref, USER)
            self.assertEqual(event.attachments, ())
            self.assertEqual(event.sent_at, datetime(2024, 9, 16, 6, 40))
            self.assertEqual(event.epoch, 1726468800.0)
        self.assertEqual(text.timestamp, "1726468800000")
        self.assertEqual(numbers.timestamp, 1726468800000)
        self.assertEqual(text.summary, "Xin chào shop")
        self.assertEqual(text.event_key(b"x"), "msg:96d3d8d9b1ee3ebf67f0")

    def test_attachments(self):
        image = parsed("user_send_image.json")
        (attachment,) = image.attachments
        self.assertEqual(attachment.kind, "image")
        self.assertEqual(attachment.safe_url, "https://photo-stal.zadn.vn/abc.jpg")
        self.assertEqual(
            attachment.safe_thumbnail, "https://photo-stal.zadn.vn/thumb/abc.jpg"
        )
        self.assertEqual(
            image.summary, "[image] ảnh sản phẩm https://photo-stal.zadn.vn/abc.jpg"
        )
        sticker = parsed("user_send_sticker.json").attachments[0]
        self.assertEqual(sticker.thumbnail, "")
        self.assertEqual(sticker.safe_thumbnail, sticker.url, "the url stands in")
        file = parsed("user_send_file.json").attachments[0]
        self.assertEqual((file.kind, file.name), ("file", "don-hang.pdf"))
        link = parsed("user_send_link.json").attachments[0]
        self.assertEqual(link.description, "Trang sản phẩm")
        card = parsed("user_send_business_card.json")
        self.assertTrue(card.summary.startswith("[business card] https://zalo.me/"))
        self.assertEqual(parsed("user_send_audio.json").summary[:8], "[audio] ")

    def test_locations_both_spellings(self):
        named = parsed("user_send_location.json").attachments[0]
        short = parsed("user_send_location_lat_long.json").attachments[0]
        self.assertEqual((named.latitude, named.longitude), (10.7769, 106.7009))
        self.assertEqual((short.latitude, short.longitude), (21.0285, 105.8542))
        self.assertTrue(named.has_location and short.has_location)
        self.assertEqual(parsed("user_send_location.json").summary, "[location]")

    def test_receipts(self):
        received = parsed("user_received_message.json")
        self.assertFalse(received.is_seen)
        self.assertEqual(received.receipt_msg_ids, ("82a3d1b5f0c46e2f9a7b",))
        self.assertEqual(received.tracking_ids, ("mm-42-1",))
        self.assertEqual(received.delivery_time, datetime(2024, 9, 16, 6, 40, 5))
        self.assertEqual(received.user_ref, OA, "the sender of a ZBS receipt")
        self.assertTrue(received.event_key(b"").startswith("user_received_message:"))
        bare = parsed("user_received_message_no_tracking.json")
        self.assertEqual(bare.tracking_ids, ())
        self.assertEqual(bare.delivery_time, datetime(2024, 9, 16, 6, 40, 5))
        seen = parsed("user_seen_message.json")
        self.assertTrue(seen.is_seen)
        self.assertIsNone(seen.delivery_time)
        self.assertEqual(
            seen.receipt_msg_ids, ("82a3d1b5f0c46e2f9a7b", "a4c5f3d7b2e68a4b1c9d")
        )
        self.assertEqual(seen.msg_ids, seen.receipt_msg_ids)
        self.assertEqual(seen.msg_id, "")
        self.assertTrue(seen.event_key(b"").startswith("user_seen_message:"))

    def test_submit_info(self):
        info = parsed("user_submit_info.json").info
        self.assertEqual((info.name, info.phone), ("Trần Thị B", "84987650321"))
        number = parsed("user_submit_info_number_phone.json").info
        self.assertEqual(number.phone, "84987650321", "a number reads as its digits")
        long_name = parse_event({"info": {"name": "x" * 500}})
        self.assertEqual(len(long_name.info.name), zalo_events.MAX_NAME_LENGTH)

    def test_template_status_and_quota(self):
        nested = parsed("change_template_status.json")
        self.assertEqual(
            (nested.template_id, nested.template_status), ("203971", "REJECT")
        )
        self.assertEqual(nested.reason, "Nội dung không phù hợp")
        self.assertEqual(nested.oa_id, OA)
        flat = parsed("change_template_status_flat.json")
        self.assertEqual((flat.template_id, flat.template_status), ("203971", "ENABLE"))
        self.assertEqual(flat.reason, "")
        quota = parsed("change_oa_daily_quota.json")
        self.assertEqual((quota.quota, quota.oa_id), (2000, OA))
        self.assertEqual(parse_event({"quota": 350}).quota, 350, "a bare value")

    def test_missing_and_odd_fields_read_as_missing(self):
        empty = parse_event({})
        self.assertEqual(empty, ZaloEvent(name="unknown"))
        self.assertIsNone(empty.kind)
        self.assertIsNone(empty.sent_at)
        odd = parse_event(
            {
                "event_name": ["user_send_text"],
                "sender": "2512523625412515",
                "message": {
                    "text": {"a": 1},
                    "msg_id": "m" * 65,
                    "attachments": [7, None, {"type": "image", "payload": []}],
                },
                "timestamp": True,
                "quota": {"new_value": 1.5},
            }
        )
        self.assertEqual(odd.name, "unknown")
        self.assertEqual((odd.sender_id, odd.text, odd.msg_id), ("", "", ""))
        self.assertEqual(len(odd.attachments), 1)
        self.assertEqual(odd.attachments[0].safe_url, "")
        self.assertIsNone(odd.timestamp)
        self.assertIsNone(odd.quota)
        unsafe = parse_event(
            {
                "message": {
                    "attachments": [
                        {"type": "image", "payload": {"url": "javascript:alert(1)"}},
                        {"type": "location", "payload": {"coordinates": [1, 2]}},
                        {
                            "type": "location",
                            "payload": {"coordinates": {"lat": "NaN", "long": 500}},
                        },
                    ]
                }
            }
        )
        self.assertEqual(unsafe.attachments[0].safe_url, "")
        self.assertFalse(unsafe.attachments[1].has_location)
        self.assertFalse(unsafe.attachments[2].has_location)

    def test_name_given_wins(self):
        event = parse_event(load("user_send_text.json"), name="user_send_image")
        self.assertEqual(event.name, "user_send_image")
        self.assertEqual(event.summary, "[image] Xin chào shop")

    def test_zalo_time(self):
        self.assertEqual(zalo_time("1726468800000"), datetime(2024, 9, 16, 6, 40))
        self.assertEqual(zalo_time(1726468800), datetime(2024, 9, 16, 6, 40))
        for value in (None, "", "abc", 0, True, "1" * 30):
            self.assertIsNone(zalo_time(value))

    def test_published_kinds(self):
        kinds = {
            "oa_send_image": "oa_message",
            "oa_send_list": "oa_message",
            "oa_send_sticker": "oa_message",
            "user_send_video": "user_message",
            "user_asking_product": "user_message",
            "user_feedback": "feedback",
            "oa_send_group_text": None,
            "oa_send_anonymous_text": None,
            "anonymous_send_text": None,
            "user_send_group_image": None,
            "add_user_to_tag": None,
            "user_reacted_message": None,
        }
        for name, kind in kinds.items():
            with self.subTest(event=name):
                self.assertEqual(zalo_events.event_kind(name), kind)
        self.assertIn("tags", zalo_events.ignored_reason("add_user_to_tag"))
        self.assertIn("group", zalo_events.ignored_reason("oa_send_group_gif"))
        self.assertEqual(
            zalo_events.ignored_reason("brand_new_event"), zalo_events.NOT_DOCUMENTED
        )
        self.assertIsNone(zalo_events.ignored_reason("user_send_text", None))

    def test_oa_message_is_about_its_recipient(self):
        echo = parsed("oa_send_text.json")
        self.assertEqual((echo.sender_id, echo.recipient_id), (OA, USER))
        self.assertEqual(echo.user_id, USER)
        self.assertEqual(echo.user_ref, USER, "the user, not the OA")
        self.assertTrue(echo.event_key(b"").startswith("oa_send_text:"))
        admin = parse_event(
            {"event_name": "oa_send_text", "sender": {"id": OA, "admin_id": "42"}}
        )
        self.assertEqual(admin.admin_id, "42")
        listed = parse_event(
            {
                "event_name": "oa_send_list",
                "message": {
                    "attachments": [
                        {"type": "link", "payload": {"title": "Áo", "url": "link"}}
                    ]
                },
            }
        )
        self.assertEqual(listed.attachments[0].name, "Áo")
        self.assertEqual(listed.summary, "[list] link")
        body = str(inbound_body(listed, listed.summary))
        self.assertIn("<p>📎 Áo</p>", body, "a link that is not http(s): its name")

    def test_feedback(self):
        feedback = parse_event(
            {
                "event_name": "user_feedback",
                "message": {
                    "rate": "4",
                    "note": "Tốt",
                    "feedbacks": ["Nhanh", 7, "", {"x": 1}, "Đúng hẹn"],
                    "msg_id": "7e4c33cfc20b05575c18",
                    "tracking_id": "1956",
                    "submit_time": "1616673095659",
                },
            }
        ).feedback
        self.assertEqual((feedback.rate, feedback.note), (4, "Tốt"))
        self.assertEqual(feedback.feedbacks, ("Nhanh", "7", "Đúng hẹn"))
        self.assertEqual(feedback.submitted_at, datetime(2021, 3, 25, 11, 51, 35))
        for rate in (0, 6, "năm", 4.5, True):
            with self.subTest(rate=rate):
                event = parse_event({"message": {"rate": rate}})
                self.assertIsNone(event.feedback.rate)

    def test_timestamp_lengths(self):
        # seconds, Zalo's 11- and 12-digit doc samples, ms, microseconds
        self.assertEqual(zalo_time("1726468800"), datetime(2024, 9, 16, 6, 40))
        self.assertEqual(zalo_time("15503500848"), datetime(1970, 6, 29, 10, 31, 40))
        self.assertEqual(zalo_time("154390853474"), datetime(1974, 11, 22, 22, 20, 53))
        self.assertEqual(zalo_time(1726468800000), datetime(2024, 9, 16, 6, 40))
        self.assertEqual(zalo_time("1726468800000000"), datetime(2024, 9, 16, 6, 40))
        self.assertIsNone(zalo_time("17264688000000000"), "17 digits: no timestamp")

    def test_url_check_bodies(self):
        for raw in (b"", b" ", b"{}", b" { }\r\n", b"{\n\t}"):
            with self.subTest(raw=raw):
                self.assertTrue(is_url_check(raw))
        for raw in (b"{}{}", b'{"a":1}', b"[]", b"null", b"{ ", b"\xef\xbb\xbf{}"):
            with self.subTest(raw=raw):
                self.assertFalse(is_url_check(raw))

    def test_inbound_body(self):
        image = str(inbound_body(parsed("user_send_image.json"), "x"))
        self.assertIn("<p>ảnh sản phẩm</p>", image)
        self.assertIn('<img src="https://photo-stal.zadn.vn/thumb/abc.jpg"', image)
        location = str(inbound_body(parsed("user_send_location_lat_long.json"), "x"))
        self.assertIn("https://www.google.com/maps?q=21.0285,105.8542", location)
        file = str(inbound_body(parsed("user_send_file.json"), "x"))
        self.assertIn(">don-hang.pdf</a>", file)
        empty = str(inbound_body(parse_event({}, name="user_send_audio"), ""))
        self.assertEqual(empty, "<p>[user_send_audio]</p>")


@tagged("post_install", "-at_install")
class TestZaloEventFixturesProcessed(MessagingCase):
    """Every payload stored as an event of a Zalo channel and processed:
    none fails."""

    def test_every_fixture_processed(self):
        channel = self.env["messaging.channel"].create(wh.zalo_channel_values())
        template = self.env["messaging.template"].create(
            {
                "name": "ZBS 203971",
                "channel_type": "zalo",
                "zalo_template_id": "203971",
            }
        )
        Event = self.env["messaging.event"]
        expected = {
            "user_send_group_text.json": "ignored",
            "user_received_message.json": "received",  # no message sent yet
            "user_received_message_no_tracking.json": "received",
            "user_seen_message.json": "received",
        }
        for name in fixture_names():
            data = load(name)
            with self.subTest(fixture=name):
                event = Event._store(
                    channel,
                    "fixture:%s" % name,
                    data["event_name"],
                    json.dumps(data),
                    event_at=zalo_time(data["timestamp"]),
                )
                event._process()
                self.assertEqual(
                    event.state, expected.get(name, "done"), event.error_message
                )
        self.assertEqual(channel.quota_daily, 2000)
        self.assertEqual(template.zalo_status, "ENABLE", "the last status received")
        identity = self.env["messaging.identity"].search(
            [("channel_id", "=", channel.id), ("external_id", "=", USER)]
        )
        self.assertEqual(identity.partner_id.name, "Trần Thị B")
