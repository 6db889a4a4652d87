"""Webhook bodies others published (tests/fixtures/zalo_events/published,
sources in its README) replayed through the real webhook route, signed as
Zalo signs, on both paths (the WSGI fast path, then Odoo's route in
TestZaloPublishedRoute); and Zalo's URL check (an unsigned ``{}``) answered
200 whatever its Content-Type."""

import json
import os
from unittest.mock import patch

from odoo import fields
from odoo.tests import HttpCase, tagged

from ..controllers import fast_path
from . import test_webhook_common as wh

PUBLISHED = os.path.join(
    os.path.dirname(__file__), "fixtures", "zalo_events", "published"
)
CONNECTOR_USER = "4339761418830368433"  # the connector samples' Zalo user
CONNECTOR_TEXT = "This is testing message"
# events about a message we sent: they wait for it (see test_zns_receipt,
# test_rating for their effect once it is known)
WAIT_FOR_THEIR_MESSAGE = ("user_received_message", "user_seen_message", "user_feedback")


def published_names():
    return sorted(name for name in os.listdir(PUBLISHED) if name.endswith(".json"))


@tagged("post_install", "-at_install")
class TestZaloPublished(HttpCase):
    fast_path_enabled = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        # the samples' timestamps are years old: no age limit on this channel
        cls.channel = cls.env["messaging.channel"].create(
            wh.zalo_channel_values(
                name="Zalo OA (published)", webhook_max_age_seconds=0
            )
        )
        cls.Event = cls.env["messaging.event"]

    def setUp(self):
        super().setUp()
        wh.use_fast_path(self, self.fast_path_enabled)

    def _url(self):
        return "%s/messaging/webhook/zalo/%s" % (
            self.base_url(),
            self.channel.webhook_token,
        )

    def _post(self, raw, headers):
        with wh.fast_path_answers() as answers:
            response = self.opener.post(
                self._url(), data=raw, headers=headers, timeout=10
            )
        self.assertEqual(bool(answers and answers[0]), self.fast_path_enabled)
        return response

    def _replay(self, name):
        """Sign the published body with the channel's secret (its app id set
        to the body's), post it, let the cron process it: the new event."""
        with open(os.path.join(PUBLISHED, name), "rb") as file:
            raw = file.read()
        data = json.loads(raw)
        self.channel.zalo_app_id = data["app_id"]
        # several samples share one msg_id: each is replayed as a first call
        self.Event.search([("channel_id", "=", self.channel.id)]).unlink()
        self.env.flush_all()
        response = self._post(
            raw,
            {
                "Content-Type": "application/json",
                "X-ZEvent-Signature": wh.sign(raw, data["timestamp"], data["app_id"]),
            },
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["message"], "Success")
        self.Event._cron_process_pending()
        event = self.Event.search([("channel_id", "=", self.channel.id)])
        self.assertEqual(len(event), 1)
        self.assertEqual(event.event_name, data["event_name"])
        return event

    def _conversation(self, user_id):
        return self.env["discuss.channel"].search(
            [
                ("messaging_channel_id", "=", self.channel.id),
                ("messaging_identity_id.external_id", "=", user_id),
            ]
        )

    def _last_post(self, user_id):
        conversation = self._conversation(user_id)
        self.assertEqual(len(conversation), 1)
        return conversation.message_ids.filtered(lambda m: m.message_type == "comment")[
            :1
        ]

    def _sent(self, provider_id, **values):
        partner = self.env["res.partner"].create({"name": "Khách %s" % provider_id})
        return wh.sent_message(self.channel, provider_id, partner, **values)

    def assertShown(self, body, expected):
        self.assertIn(expected, body)
        for raw_json in ('"payload"', '"attachments"', "{"):
            self.assertNotIn(raw_json, body, "never the raw JSON")

    # -- every published sample, through the route -----------------------------
    def test_every_published_sample_is_stored_and_processed(self):
        names = published_names()
        self.assertGreaterEqual(len(names), 20)
        for name in names:
            with self.subTest(sample=name):
                event = self._replay(name)
                states = ("done", "ignored")
                if event.event_name in WAIT_FOR_THEIR_MESSAGE:
                    states = ("received",)  # none of ours has their msg_id
                self.assertIn(event.state, states, event.error_message)
                self.assertTrue(event.event_at, "its timestamp was read")

    def test_user_messages_shown_in_the_conversation(self):
        expected = {
            "connector_user_send_text.json": CONNECTOR_TEXT,
            "connector_user_send_link.json": "description_of_link",
            "connector_user_send_sticker.json": CONNECTOR_TEXT,
            "connector_user_send_image.json": CONNECTOR_TEXT,
            "connector_user_send_gif.json": CONNECTOR_TEXT,
            "connector_user_send_audio.json": CONNECTOR_TEXT,
            "connector_user_send_video.json": "description_of_link",
            "connector_user_send_file.json": "file_name",
        }
        for name, text in expected.items():
            with self.subTest(sample=name):
                event = self._replay(name)
                self.assertEqual(event.state, "done", event.error_message)
                post = self._last_post(CONNECTOR_USER)
                self.assertShown(post.body, text)
                self.assertNotEqual(post.author_id, self.channel.company_id.partner_id)
                # an id that is not digits, a link that is not http(s): as text
                self.assertNotIn('href="link"', post.body)
                self.assertNotIn('src="url_to_thumbnail"', post.body)

    def test_oa_messages_shown_as_the_oa(self):
        expected = {
            "connector_oa_send_text.json": CONNECTOR_TEXT,
            "connector_oa_send_image.json": CONNECTOR_TEXT,
            "connector_oa_send_list.json": "title",
            "connector_oa_send_gif.json": CONNECTOR_TEXT,
            "connector_oa_send_file.json": "file_name",
        }
        queued = self.env["messaging.message"].search_count([])
        for name, text in expected.items():
            with self.subTest(sample=name):
                event = self._replay(name)
                self.assertEqual(event.state, "done", event.error_message)
                posted = event.discuss_message_id
                self.assertEqual(posted, self._last_post(CONNECTOR_USER))
                self.assertShown(posted.body, text)
                self.assertEqual(posted.author_id, self.channel.company_id.partner_id)
                self.assertEqual(
                    event.sender_ref, CONNECTOR_USER, "the user, not the OA"
                )
        self.assertEqual(
            self.env["messaging.message"].search_count([]), queued, "nothing sent"
        )

    def test_doc_samples_with_short_timestamps(self):
        event = self._replay("spec_user_send_text.json")
        self.assertEqual(event.state, "done", event.error_message)
        self.assertEqual(event.event_at.year, 1974, "12 digits: milliseconds")
        self.assertShown(self._last_post("246845883529197922").body, "message")
        event = self._replay("spec_add_user_to_tag.json")
        self.assertEqual(event.state, "ignored")
        self.assertIn("tags", event.error_message)
        self.assertEqual(event.event_at.year, 1970, "11 digits: milliseconds")

    def test_follow_and_submitted_info(self):
        self._replay("spec_follow.json")
        identity = self.env["messaging.identity"].search(
            [
                ("channel_id", "=", self.channel.id),
                ("external_id", "=", "24684588352919792"),
            ]
        )
        self.assertTrue(identity.is_follower)
        event = self._replay("spec_user_submit_info.json")
        self.assertEqual(event.state, "done", event.error_message)
        self.assertEqual(event.partner_id.phone_sanitized, "+84912345678")

    def test_zns_receipt(self):
        message = self._sent("15a0cc0bbb13bd4ce403")
        event = self._replay("spec_user_received_message.json")
        self.assertEqual(event.state, "done", event.error_message)
        self.assertEqual(message.state, "delivered")
        self.assertEqual(
            message.delivered_at, fields.Datetime.to_datetime("2020-10-17 18:47:47")
        )

    def test_asking_product(self):
        event = self._replay("sample_user_asking_product.json")
        self.assertEqual(event.state, "done", event.error_message)
        self.assertShown(self._last_post("246845883529197922").body, "product_name")

    def test_rating(self):
        message = self._sent("7e4c33cfc20b05575c18", route="uid")
        event = self._replay("contract_user_feedback.json")
        self.assertEqual(event.state, "done", event.error_message)
        self.assertEqual(event.message_id, message)
        self.assertEqual(event.feedback_rate, 5)
        self.assertEqual(event.feedback_note, "Tôi rất hài lòng.")
        self.assertIn("Nhân viên vui vẻ", event.feedback_items)

    def test_template_status_and_daily_quota(self):
        """A published template approval and quota change (ids that are not
        digits, ``oaId`` in camelCase, a 1-digit timestamp): the template
        becomes approved, the channel's quota moves by the change."""
        template = self.env["messaging.template"].create(
            {
                "name": "Published template 31239",
                "channel_type": "zalo",
                "zalo_template_id": "31239",
                "zalo_status": "PENDING_REVIEW",
            }
        )
        event = self._replay("fieldvn_change_template_status.json")
        self.assertEqual(event.state, "done", event.error_message)
        self.assertEqual(template.zalo_status, "ENABLE")
        self.channel.write({"quota_daily": 1000, "quota_remaining": 400})
        event = self._replay("fieldvn_change_oa_daily_quota.json")
        self.assertEqual(event.state, "done", event.error_message)
        self.assertEqual(
            (self.channel.quota_daily, self.channel.quota_remaining), (2000, 1400)
        )

    def test_seen_receipt_with_one_msg_id(self):
        message = self._sent("msg-seen")
        message.state = "delivered"
        event = self._replay("fieldvn_user_seen_message.json")
        self.assertEqual(event.state, "done", event.error_message)
        self.assertEqual(message.state, "read")

    # -- Zalo's URL check and unsigned events ------------------------------------
    def _stored(self):
        self.env.flush_all()
        return self.Event.search_count([("channel_id", "=", self.channel.id)])

    def test_url_check_answered_200_whatever_its_content_type(self):
        before = self._stored()
        for raw in (b"{}", b" { }\r\n", b"{\n}", b""):
            for content_type in (
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "text/html; charset=ISO-8859-1",
                None,
            ):
                headers = {"Content-Type": content_type} if content_type else {}
                with self.subTest(raw=raw, content_type=content_type):
                    response = self._post(raw, headers)
                    self.assertEqual(response.status_code, 200, response.text)
                    self.assertEqual(response.json()["error"], 0)
        self.assertEqual(self._stored(), before, "nothing stored")

    def test_form_url_check_without_the_kept_body(self):
        """Odoo's stack parsed the form before the route and the fast
        path's wrapper kept no bytes (its first call): the form ``{}`` is
        still the URL check, any other form refused."""
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        before = self._stored()
        with patch.object(fast_path, "keep_raw_body", lambda environ: None):
            check = self._post(b"{}", form)
            other = self._post(b'{"event_name":"follow"}', form)
        self.assertEqual(check.status_code, 200, check.text)
        self.assertEqual(other.status_code, 415, other.text)
        self.assertEqual(self._stored(), before, "nothing stored")

    def test_unsigned_event_refused(self):
        before = self._stored()
        for raw, headers in (
            (b'{"event_name":"user_send_text"}', {}),
            (
                json.dumps(wh.user_text("Xin chào")).encode(),
                {"X-ZEvent-Signature": "mac=" + "0" * 64},
            ),
            (json.dumps(wh.user_text("Xin chào")).encode(), {}),
            (
                b'{"event_name":"user_send_text"}',
                {"Content-Type": "application/x-www-form-urlencoded"},
            ),
        ):
            with self.subTest(raw=raw[:40], headers=headers):
                response = self._post(
                    raw, dict({"Content-Type": "application/json"}, **headers)
                )
                self.assertGreaterEqual(response.status_code, 400)
                self.assertLess(response.status_code, 500)
        self.assertEqual(self._stored(), before, "nothing stored")


@tagged("post_install", "-at_install")
class TestZaloPublishedRoute(TestZaloPublished):
    """The same calls through Odoo's route (the fast path off)."""

    fast_path_enabled = False

    # Odoo's runner runs only the test methods a class defines itself
    # (pytest-odoo runs the inherited ones too): run them under both
    allow_inherited_tests_method = True
