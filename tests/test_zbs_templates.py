"""ZBS templates composed in Odoo and followed through Zalo's review,
against the loopback Zalo peer (the adapter's real HTTP); the deleted
status; the sending rules of a template's tag; the OA's daily quota."""

import base64
from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..engine import consent
from ..providers import zalo_layout
from ..providers.zalo_codes import ZBS_NEW_OA_DAILY_QUOTA
from ..providers.zalo_events import zalo_time
from . import test_webhook_common as wh
from .common import MessagingCase, PeerChannelsMixin
from .peers import ZaloPeer

# a 1x1 PNG
LOGO = base64.b64encode(
    base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNiAAAABgADNjd8qAAAAABJRU5ErkJggg=="
    )
)
MANAGER = "multichannel_messaging.group_messaging_manager"
USER = "multichannel_messaging.group_messaging_user"


def draft(**values):
    """A valid custom template's draft; ``values`` change it."""
    base = {
        "name": "Xác nhận đơn hàng",
        "template_type": zalo_layout.TYPE_CUSTOM,
        "tag": "1",
        "title": "Đơn hàng đã xác nhận",
        "paragraphs": ("Chào <customer_name>, đơn <order_code> đã được xác nhận.",),
        "rows": (zalo_layout.ZbsRow("Mã đơn hàng", "<order_code>"),),
        "buttons": (zalo_layout.ZbsButton(1, "Xem đơn hàng", "https://shop.vn/don"),),
        "params": (
            zalo_layout.ZbsParam("customer_name", "1", "Nguyễn Văn An"),
            zalo_layout.ZbsParam("order_code", "4", "DH0001"),
        ),
        "has_logo": True,
    }
    base.update(values)
    return zalo_layout.ZbsDraft(**base)


@tagged("post_install", "-at_install")
class TestZbsDraftRules(MessagingCase):
    """Zalo's rules checked before anything is submitted (pure Python)."""

    def test_valid_draft_and_its_body(self):
        self.assertEqual(zalo_layout.validate_draft(draft()), [])
        body = zalo_layout.build_body(draft(logo_media_id="m1"), "odoo-template-1-1")
        self.assertEqual((body["template_type"], body["tag"]), (1, 1))
        self.assertEqual(body["tracking_id"], "odoo-template-1-1")
        logo = body["layout"]["header"]["components"][0]["LOGO"]
        self.assertEqual(logo["light"], {"type": "IMAGE", "media_id": "m1"})
        components = body["layout"]["body"]["components"]
        self.assertEqual(components[0], {"TITLE": {"value": "Đơn hàng đã xác nhận"}})
        self.assertEqual(
            components[2]["TABLE"]["rows"],
            [{"title": "Mã đơn hàng", "value": "<order_code>"}],
        )
        button = body["layout"]["footer"]["components"][0]["BUTTONS"]["items"][0]
        self.assertEqual(button["type"], 1)
        self.assertEqual(
            body["params"][1],
            {"name": "order_code", "type": "4", "sample_value": "DH0001"},
        )

    def test_each_rule_names_what_to_fix(self):
        cases = {
            "name": draft(name="Ngắn"),
            "logo": draft(has_logo=False),
            "undeclared": draft(paragraphs=("Chào <ten_khach>.",)),
            "unused": draft(rows=(), paragraphs=("Chào <customer_name>.",)),
            "sample too long": draft(
                params=(
                    zalo_layout.ZbsParam("customer_name", "8", "Anh/chị"),
                    zalo_layout.ZbsParam("order_code", "4", "DH0001"),
                )
            ),
            "phone button": draft(
                buttons=(zalo_layout.ZbsButton(2, "Gọi cửa hàng", "1900 1234"),)
            ),
            "link button": draft(
                buttons=(zalo_layout.ZbsButton(1, "Xem đơn hàng", "http://shop.vn"),)
            ),
            "too many buttons": draft(
                buttons=(zalo_layout.ZbsButton(1, "Xem đơn hàng", "https://a.vn"),) * 3
            ),
            "OTP without buttons": draft(template_type=zalo_layout.TYPE_OTP),
        }
        expected = {
            "name": "The template name must have 10 to 60 characters, it has 4.",
            "logo": "Add a logo: Zalo shows it in the template header.",
            "undeclared": "<ten_khach> is used in the layout but not declared",
            "unused": "Parameter order_code is declared but not used",
            "sample too long": "customer_name: the sample is longer than its type "
            "allows (5).",
            "phone button": "give a phone number such as 84901234567.",
            "link button": "give a link starting with https://.",
            "too many buttons": "This template type takes at most 2 buttons.",
            "OTP without buttons": "this type of button is not allowed",
        }
        for case, value in cases.items():
            with self.subTest(case=case):
                errors = zalo_layout.validate_draft(value)
                self.assertTrue(
                    any(expected[case] in error for error in errors), errors
                )
        otp = zalo_layout.validate_draft(
            draft(template_type=zalo_layout.TYPE_OTP, buttons=())
        )
        self.assertIn("An authentication template needs an OTP parameter.", otp)


class ZbsPeerCase(PeerChannelsMixin, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zalo_peer = ZaloPeer()
        cls._start_peers(cls.zalo_peer)
        cls.zalo = cls._peer_channel(
            cls.zalo_peer.zalo_config(), name="Zalo OA", channel_type="zalo"
        )
        cls.manager = cls._make_user("zbs_manager", MANAGER)
        cls.user = cls._make_user("zbs_user", USER)
        cls.internal = cls._make_user("zbs_internal", "base.group_user")
        cls.Event = cls.env["messaging.event"]

    def setUp(self):
        super().setUp()
        self._reset_peers(self.zalo_peer)

    def _compose(self, **values):
        """A ZBS template written in Odoo by the manager, not submitted."""
        vals = {
            "name": "Xác nhận đơn hàng",
            "channel_type": "zalo",
            "category": "transactional",
            "zalo_channel_id": self.zalo.id,
            "zbs_template_type": "1",
            "zalo_tag": "1",
            "zbs_logo": LOGO,
            "zbs_logo_filename": "logo.png",
            "zbs_title": "Đơn hàng đã xác nhận",
            "zbs_paragraphs": "Chào <customer_name>, đơn hàng của bạn đã được "
            "xác nhận.\n\nCảm ơn bạn đã mua sắm.",
            "zbs_row_ids": [
                (0, 0, {"title": "Mã đơn hàng", "value": "<order_code>"}),
            ],
            "zbs_button_ids": [
                (
                    0,
                    0,
                    {
                        "button_type": "1",
                        "title": "Xem đơn hàng",
                        "value": "https://shop.vn/don-hang",
                    },
                ),
            ],
            "param_ids": [
                (
                    0,
                    0,
                    {
                        "name": "customer_name",
                        "expression": "{{ object.name }}",
                        "zalo_param_kind": "1",
                        "sample_value": "Nguyễn Văn An",
                    },
                ),
                (
                    0,
                    0,
                    {
                        "name": "order_code",
                        "expression": "{{ object.name }}",
                        "zalo_param_kind": "4",
                        "sample_value": "DH0001",
                    },
                ),
            ],
        }
        vals.update(values)
        return self.env["messaging.template"].with_user(self.manager).create(vals)

    def _event(self, payload):
        raw = wh.encode(payload)
        event = self.Event._store(
            self.zalo,
            wh.sign(raw, payload.get("timestamp", "")),
            payload["event_name"],
            raw.decode(),
            event_at=zalo_time(payload.get("timestamp")),
        )
        event._process()
        return event

    def _status_event(self, template, status, reason=""):
        return self._event(
            {
                "app_id": wh.APP_ID,
                "oa_id": wh.OA_ID,
                "event_name": "change_template_status",
                "template_id": template.zalo_template_id,
                "status": {"prev_status": "PENDING_REVIEW", "new_status": status},
                "reason": reason,
                "timestamp": wh.now_ms(),
            }
        )


@tagged("post_install", "-at_install")
class TestZbsTemplateLifecycle(ZbsPeerCase):
    def test_create_reject_edit_resubmit_approve_send(self):
        template = self._compose()
        self.assertIn("Đơn hàng đã xác nhận", template.zbs_preview)
        self.assertIn("Nguyễn Văn An", template.zbs_preview, "samples in preview")
        template.action_zalo_submit()
        [upload] = self.zalo_peer.requests_for("/upload/image")
        self.assertTrue(upload.headers["content-type"].startswith("multipart/"))
        [create] = self.zalo_peer.requests_for("/template/create")
        self.assertEqual(create.body["template_name"], "Xác nhận đơn hàng")
        self.assertEqual(create.body["tracking_id"], f"odoo-template-{template.id}-1")
        self.assertEqual(
            [p["type"] for p in create.body["params"]], ["1", "4"], "type codes"
        )
        self.assertEqual(len(create.body["layout"]["body"]["components"]), 4)
        self.assertIn(template.zbs_logo_media_id, self.zalo_peer.media_ids)
        self.assertEqual(template.zalo_status, "PENDING_REVIEW")
        ref = template.zalo_template_id
        self.assertIn(ref, self.zalo_peer.templates)

        # rejected, with Zalo's reason, read back from /template/info/v2
        self.zalo_peer.review(ref, "REJECT", "Tiêu đề chưa rõ mục đích")
        template.action_zalo_refresh_status()
        self.assertEqual(template.zalo_status, "REJECT")
        self.assertEqual(template.zalo_reject_reason, "Tiêu đề chưa rõ mục đích")

        # edited and submitted again: /template/edit of the same id
        template.zbs_title = "Xác nhận đơn hàng của bạn"
        template.action_zalo_submit()
        [edit] = self.zalo_peer.requests_for("/template/edit")
        self.assertEqual(edit.body["template_id"], ref)
        self.assertNotIn("tracking_id", edit.body)
        self.assertEqual(len(self.zalo_peer.requests_for("/upload/image")), 1)
        self.assertEqual(
            (
                template.zalo_status,
                template.zalo_reject_reason,
                template.zalo_template_id,
            ),
            ("PENDING_REVIEW", False, ref),
        )

        # approved: the change_template_status webhook
        self.zalo_peer.review(ref, "ENABLE")
        event = self._status_event(template, "ENABLE")
        self.assertEqual(event.state, "done")
        self.assertEqual(template.zalo_status, "ENABLE")
        message = self._queue(self.partner_a, self.zalo, template)
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        [send] = self.zalo_peer.requests_for("/message/template")
        self.assertEqual(send.body["template_id"], ref)

    def test_refused_locally_nothing_sent(self):
        template = self._compose(zbs_paragraphs="Chào <ten_khach>.")
        with self.assertRaisesRegex(UserError, "<ten_khach> is used in the layout"):
            template.action_zalo_submit()
        self.assertFalse(self.zalo_peer.requests)

    def test_zalo_error_answers_are_shown(self):
        template = self._compose()
        template.action_zalo_submit()
        # Odoo still thinks it was rejected, Zalo has approved it meanwhile
        template.sudo().zalo_status = "REJECT"
        self.zalo_peer.review(template.zalo_template_id, "ENABLE")
        with self.assertRaisesRegex(UserError, "Template cannot be edited"):
            template.action_zalo_submit()
        self.zalo_peer.expire_token()
        template.sudo().zalo_status = False
        with self.assertRaisesRegex(UserError, "-124"):
            template.action_zalo_refresh_status()

    def test_only_a_rejected_template_is_submitted_again(self):
        template = self._compose()
        template.action_zalo_submit()
        with self.assertRaisesRegex(UserError, "only a template Zalo rejected"):
            template.action_zalo_submit()
        self.assertEqual(len(self.zalo_peer.requests_for("/template/create")), 1)

    def test_refusals_by_rpc(self):
        template = self._compose()
        for user in (self.user, self.internal):
            for method in ("action_zalo_submit", "action_zalo_refresh_status"):
                with self.subTest(user=user.login, method=method):
                    with self.assertRaises(AccessError):
                        getattr(template.with_user(user), method)()
        with self.assertRaises(AccessError):
            template.with_user(self.user).zbs_title = "Sửa bởi nhân viên"
        with self.assertRaises(AccessError):
            template.zbs_row_ids.with_user(self.user).value = "<order_code>!"
        self.assertFalse(self.zalo_peer.requests)

    def test_deleted_status_archives_and_queue_refuses(self):
        template = self._compose()
        template.action_zalo_submit()
        self._status_event(template, "ENABLE")
        message = self._queue(self.partner_a, self.zalo, template)
        event = self._event(
            {
                "oa_id": wh.OA_ID,
                "event_name": "change_template_status",
                "template_id": template.zalo_template_id,
                "status": {"prev_status": "1", "new_status": "5"},
                "timestamp": wh.now_ms(),
            }
        )
        self.assertEqual(event.state, "done")
        self.assertEqual(template.zalo_status, "DELETE")
        self.assertFalse(template.active)
        self.Message._process_queue()
        self.assertEqual((message.state, message.failure_type), ("failed", "template"))
        self.assertIn("deleted on Zalo (status 5)", message.error_message_display)
        self.assertFalse(self.zalo_peer.requests_for("/message/template"))

    def test_sync_reads_quality_tag_and_deleted(self):
        self.zalo_peer.templates["100002"].update(
            status="DELETE", templateTag="PROMOTION", templateQuality="LOW"
        )
        self.zalo._sync_zalo_templates()
        Template = self.env["messaging.template"].with_context(active_test=False)
        deleted = Template.search([("zalo_template_id", "=", "100002")])
        self.assertEqual(
            (
                deleted.zalo_status,
                deleted.active,
                deleted.zalo_tag,
                deleted.zalo_quality,
            ),
            ("DELETE", False, "3", "LOW"),
        )
        kept = Template.search([("zalo_template_id", "=", "100001")])
        self.assertEqual((kept.active, kept.zalo_tag), (True, "1"))


@tagged("post_install", "-at_install")
class TestZbsTagRulesAndQuota(ZbsPeerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.promo = cls._peer_zbs_template(
            cls.zalo_peer,
            "Khuyến mãi",
            category="marketing",
            zalo_tag="3",
            zalo_status="ENABLE",
        )

    def _local(self, *args):
        """A Vietnam local time as naive UTC (freeze_time's clock)."""
        return self.zalo._to_utc_naive(self.zalo._tz().localize(datetime(*args)))

    def test_promotion_outside_hours_waits_tag_hours(self):
        with freeze_time(self._local(2026, 3, 10, 22, 30)):
            message = self._queue(self.partner_a, self.zalo, self.promo)
            hold = consent.check_marketing_rules(message)
            self.assertEqual(
                hold, ("wait", self._local(2026, 3, 11, 7, 0), "tag_hours")
            )
            self.Message._process_queue()
            self.assertEqual(message.state, "queued")
            self.assertEqual(message.scheduled_at, self._local(2026, 3, 11, 7, 0))
        self.assertFalse(self.zalo_peer.requests_for("/message/template"))

    def test_second_promotion_same_day_waits_tag_limit(self):
        with freeze_time(self._local(2026, 3, 10, 10, 0)):
            first = self._queue(self.partner_a, self.zalo, self.promo)
            self.Message._process_queue()
            self.assertEqual(first.state, "sent")
            second = self._queue(self.partner_a, self.zalo, self.promo)
            other = self._queue(self.partner_b, self.zalo, self.promo)
            hold = consent.check_marketing_rules(second)
            self.assertEqual(
                hold, ("wait", self._local(2026, 3, 11, 7, 0), "tag_limit")
            )
            self.Message._process_queue()
            self.assertEqual((second.state, other.state), ("queued", "sent"))
        with freeze_time(self._local(2026, 3, 11, 7, 0)):
            self.Message._process_queue()
            self.assertEqual(second.state, "sent")

    def test_thirty_promotions_a_month(self):
        with freeze_time(self._local(2026, 3, 20, 9, 0)):
            message = self._queue(self.partner_a, self.zalo, self.promo)
            # 30 this month, one a day (the 1st to the 20th, then twice a day)
            for index in range(30):
                sent = self._queue(self.partner_a, self.zalo, self.promo)
                day = index % 20 + 1
                sent.sudo().write(
                    {"state": "sent", "sent_at": self._local(2026, 3, day, 8)}
                )
        with freeze_time(self._local(2026, 3, 21, 9, 0)):
            hold = consent.check_marketing_rules(message)
            self.assertEqual(hold, ("wait", self._local(2026, 4, 1, 7, 0), "tag_limit"))

    def test_consultation_text_is_not_held_by_the_tag(self):
        with freeze_time(self._local(2026, 3, 10, 23, 30)):
            message = self._queue(self.partner_a, self.zalo, self.promo)
            message.sudo().route = "consultation"
            self.assertIsNone(consent.check_tag_rules(message))
            message.sudo().route = "uid"
            self.assertEqual(consent.check_tag_rules(message)[2], "tag_hours")

    def test_transaction_tag_has_no_rule(self):
        self.promo.zalo_tag = "1"
        with freeze_time(self._local(2026, 3, 10, 23, 30)):
            message = self._queue(self.partner_a, self.zalo, self.promo)
            self.assertIsNone(consent.check_tag_rules(message))

    def test_daily_quota_event_and_new_oa_default(self):
        new_oa = self.env["messaging.channel"].create(wh.zalo_channel_values())
        self.assertEqual(
            (new_oa.quota_daily, new_oa.quota_remaining),
            (ZBS_NEW_OA_DAILY_QUOTA, ZBS_NEW_OA_DAILY_QUOTA),
        )
        self.zalo.sudo().write({"quota_daily": 20000, "quota_remaining": 15000})
        event = self._event(
            {
                "event_name": "change_oa_daily_quota",
                "oaId": wh.OA_ID,
                "quota": {"prev_value": 20000, "new_value": 50000},
                "timestamp": wh.now_ms(),
            }
        )
        self.assertEqual(event.state, "done")
        self.assertEqual(
            (self.zalo.quota_daily, self.zalo.quota_remaining), (50000, 45000)
        )
