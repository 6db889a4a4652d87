"""Images, documents and product cards in Zalo conversations: the adapter
uploads then sends against the loopback Zalo peer; agents send them from
Discuss (``/mail/message/post`` with attachments) and the reply wizard."""

import base64
import json
from datetime import timedelta

from odoo import fields, http
from odoo.exceptions import AccessError, RedirectWarning, UserError
from odoo.tests import HttpCase, tagged

from ..providers import ACCEPTED, PERMANENT, RETRY, MediaFile, OutboundMessage
from ..providers.zalo_media import check_media, media_kind, upload_answer
from . import test_conversation as conversation_tests
from . import test_webhook_common as wh
from .common import MessagingCase, PeerAdapterCase
from .peers import ZaloPeer

# a 1x1 PNG and a minimal PDF: what Odoo and Zalo take them for
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
BIG_PNG = PNG + b"\0" * (1024 * 1024)
UPLOAD_IMAGE = "/v2.0/oa/upload/image"
UPLOAD_FILE = "/v2.0/oa/upload/file"
CS = "/v3.0/oa/message/cs"


@tagged("post_install", "-at_install")
class TestZaloMediaAdapter(PeerAdapterCase):
    PEER = ZaloPeer
    PROVIDER = "zalo"

    def _msg(self, **values):
        return OutboundMessage(
            **dict(
                {"tracking_id": "media-1", "zalo_user_id": wh.USER_ID, "route": "uid"},
                **values,
            )
        )

    def test_limits_are_checked_before_any_request(self):
        self.assertIsNone(check_media("a.png", "image/png", 1024 * 1024))
        self.assertIn("1.0 MB", check_media("a.png", "image/png", 1024 * 1024 + 1))
        self.assertIsNone(check_media("a.gif", "image/gif", 5 * 1024 * 1024))
        self.assertIsNotNone(check_media("a.gif", "image/gif", 5 * 1024 * 1024 + 1))
        self.assertIsNone(check_media("a.pdf", "application/pdf", 4 * 1024 * 1024))
        self.assertIn("cannot be sent", check_media("a.xlsx", "application/zip", 10))
        self.assertIn("cannot be sent", check_media("a.webp", "image/webp", 10))
        self.assertEqual(media_kind("application/octet-stream", "x.DOCX"), "file")
        result = self.adapter().send(
            self._msg(kind="image", media=MediaFile("big.png", "image/png", BIG_PNG))
        )
        self.assertEqual(result.status, PERMANENT)
        self.assertIn("Zalo takes JPG and PNG images up to 1.0 MB", result.message)
        self.assertEqual(self.peer.request_count, 0)

    def test_image_is_uploaded_then_sent_with_its_caption(self):
        result = self.adapter().send(
            self._msg(
                kind="image",
                text="Mẫu áo mới",
                media=MediaFile("ao.png", "image/png", PNG),
            )
        )
        self.assertEqual(result.status, ACCEPTED, result.message)
        upload, send = self.peer.requests
        self.assertEqual(upload.path, UPLOAD_IMAGE)
        self.assertEqual(upload.body["file"]["data"], PNG)
        self.assertEqual(upload.body["file"]["filename"], "ao.png")
        self.assertEqual(upload.headers["access_token"], self.peer.access_token)
        self.assertEqual(send.path, CS)
        attachment_id = next(iter(self.peer.uploads))
        self.assertEqual(
            send.body["message"],
            {
                "text": "Mẫu áo mới",
                "attachment": {
                    "type": "template",
                    "payload": {
                        "template_type": "media",
                        "elements": [
                            {"media_type": "image", "attachment_id": attachment_id}
                        ],
                    },
                },
            },
        )
        self.assertEqual(result.provider_message_id, self.peer.sent[-1]["msg_id"])

    def test_document_is_uploaded_then_sent_by_token(self):
        result = self.adapter().send(
            self._msg(
                kind="file", media=MediaFile("bao-gia.pdf", "application/pdf", PDF)
            )
        )
        self.assertEqual(result.status, ACCEPTED, result.message)
        self.assertEqual([r.path for r in self.peer.requests], [UPLOAD_FILE, CS])
        token = next(iter(self.peer.uploads))
        self.assertEqual(
            self.peer.requests[-1].body["message"],
            {"attachment": {"type": "file", "payload": {"token": token}}},
        )

    def test_lost_upload_is_not_sent_and_may_be_retried(self):
        self.peer.queue_response(UPLOAD_IMAGE, drop=True)
        media = MediaFile("ao.png", "image/png", PNG)
        result = self.adapter().send(self._msg(kind="image", media=media))
        # the upload may have reached Zalo, the customer saw nothing
        self.assertEqual(result.status, RETRY)
        self.assertFalse(self.peer.requests_for(CS))
        # refused by Zalo: the error is Zalo's, nothing sent either
        self.peer.queue_response(
            UPLOAD_IMAGE, {"error": -210, "message": "file size exceeds the limit"}
        )
        result = self.adapter().send(self._msg(kind="image", media=media))
        self.assertEqual(result.code, "-210")
        self.assertFalse(self.peer.requests_for(CS))
        # an expired token on the upload is a token error (refresh, retry)
        self.peer.expire_token()
        result = self.adapter().send(self._msg(kind="image", media=media))
        self.assertEqual((result.status, result.reason), ("auth", "token"))

    def test_product_card_uploads_its_image_and_links_its_page(self):
        card = {
            "title": "Áo thun basic",
            "subtitle": "1.144.250 ₫",
            "url": "https://shop.example.vn/shop/ao-thun-basic-7",
        }
        result = self.adapter().send(
            self._msg(
                kind="card", card=card, media=MediaFile("ao.png", "image/png", PNG)
            )
        )
        self.assertEqual(result.status, ACCEPTED, result.message)
        self.assertEqual([r.path for r in self.peer.requests], [UPLOAD_IMAGE, CS])
        attachment_id = next(iter(self.peer.uploads))
        element = self.peer.requests[-1].body["message"]["attachment"]["payload"]
        self.assertEqual(element["template_type"], "list")
        self.assertEqual(
            element["elements"],
            [
                {
                    "title": "Áo thun basic",
                    "subtitle": "1.144.250 ₫",
                    "image_url": "https://photo.loopback.zdn.vn/%s.png" % attachment_id,
                    "default_action": {"type": "oa.open.url", "url": card["url"]},
                }
            ],
        )
        # an upload answer without a url: the card goes without its image
        self.assertEqual(upload_answer({"data": {"attachment_id": "9"}}), ("9", ""))
        # the image of a card is a JPG or PNG
        result = self.adapter().send(
            self._msg(
                kind="card", card=card, media=MediaFile("a.pdf", "application/pdf", PDF)
            )
        )
        self.assertEqual(result.status, PERMANENT)


class ConversationHelpers(conversation_tests.ConversationMixin):
    """The conversation helpers of the text replies' tests."""

    _event = conversation_tests.TestConversation._event
    _identity = conversation_tests.TestConversation._identity
    _conversation = conversation_tests.TestConversation._conversation
    _queued = conversation_tests.TestConversation._queued
    _zalo_peer = conversation_tests.TestConversation._zalo_peer


@tagged("post_install", "-at_install")
class TestConversationMedia(ConversationHelpers, MessagingCase):
    """An agent's files and product cards, from Discuss and the wizard."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_conversations()
        cls.env["res.lang"]._activate_lang("vi_VN")
        cls.vnd = cls.env.ref("base.VND")
        cls.vnd.active = True
        cls.product = cls.env["product.product"].create(
            {
                "name": "Áo thun basic",
                "list_price": 99.0,
                "sale_ok": True,
                "image_1920": base64.b64encode(PNG),
            }
        )
        cls.pricelist = cls.env["product.pricelist"].create(
            {
                "name": "Giá VND",
                "currency_id": cls.vnd.id,
                "item_ids": [
                    (
                        0,
                        0,
                        {
                            "applied_on": "0_product_variant",
                            "product_id": cls.product.id,
                            "compute_price": "fixed",
                            "fixed_price": 1144250,
                        },
                    )
                ],
            }
        )
        cls.partner_a.write(
            {"lang": "vi_VN", "property_product_pricelist": cls.pricelist.id}
        )

    def _attachment(self, name, raw, user=None):
        return (
            self.env["ir.attachment"]
            .with_user(user or self.agent_1)
            .create({"name": name, "raw": raw, "res_model": "mail.compose.message"})
        )

    def _post(self, conversation, body, attachments, user=None):
        return (
            conversation.with_user(user or self.agent_1)
            .sudo()
            .message_post(
                body=body,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
                attachment_ids=attachments.ids,
            )
        )

    def _open(self):
        self._identity(self.partner_a)
        self._event(wh.user_text("Cho mình xem mẫu áo"))
        return self._conversation()

    def test_image_reply_is_uploaded_then_sent_and_shown(self):
        peer = self._zalo_peer()
        conversation = self._open()
        photo = self._attachment("mau-ao.png", PNG)
        posted = self._post(conversation, "Mẫu này ạ", photo)
        # shown in the conversation, with the image
        self.assertEqual(posted.attachment_ids, photo)
        queued = self._queued(conversation)
        self.assertEqual(len(queued), 1)
        self.assertEqual(queued.attachment_id, photo)
        self.assertEqual(queued.body, "Mẫu này ạ")
        self.assertEqual(queued.discuss_message_id, posted)
        self.Message._process_queue()
        self.assertEqual(queued.state, "sent", queued.error_message)
        self.assertEqual(
            [r.path for r in peer.requests],
            [UPLOAD_IMAGE, CS],
        )
        self.assertEqual(peer.requests_for(UPLOAD_IMAGE)[0].body["file"]["data"], PNG)
        sent = peer.sent[-1]
        self.assertEqual(sent["text"], "Mẫu này ạ")
        self.assertEqual(
            sent["attachment"]["payload"]["elements"][0]["media_type"], "image"
        )
        # Zalo's msg_id is kept: an OA echo of this send is recognised
        self.assertEqual(queued.provider_message_id, sent["msg_id"])
        # mirrored on the contact with the file's name
        self.assertTrue(
            any("mau-ao.png" in m.body for m in self.partner_a.message_ids),
            self.partner_a.message_ids.mapped("body"),
        )

    def test_text_and_document_go_as_two_messages(self):
        peer = self._zalo_peer()
        conversation = self._open()
        quote = self._attachment("bao-gia.pdf", PDF)
        self._post(conversation, "Báo giá gửi anh", quote)
        queued = self._queued(conversation)
        self.assertEqual(len(queued), 2)
        self.assertEqual(queued[0].body, "Báo giá gửi anh")
        self.assertFalse(queued[0].attachment_id)
        self.assertEqual(queued[1].attachment_id, quote)
        self.assertFalse(queued[1].body)
        self.Message._process_queue()
        self.assertEqual(set(queued.mapped("state")), {"sent"})
        files = [s for s in peer.sent if s["attachment"]]
        self.assertEqual(len(files), 1)
        self.assertEqual(files[0]["attachment"]["type"], "file")
        self.assertEqual(len(peer.requests_for(UPLOAD_FILE)), 1)

    def test_too_big_or_wrong_type_refused_before_upload(self):
        peer = self._zalo_peer()
        conversation = self._open()
        count = len(conversation.message_ids)
        big = self._attachment("anh-lon.png", BIG_PNG)
        with self.assertRaisesRegex(UserError, "up to 1.0 MB. Send a smaller image"):
            self._post(conversation, "", big)
        sheet = self._attachment("bang-gia.txt", b"gia")
        with self.assertRaisesRegex(UserError, "only JPG or PNG images"):
            self._post(conversation, "Bảng giá", sheet)
        # in the agent's language (their requests' context)
        with self.assertRaises(UserError) as caught:
            self._post(conversation.with_context(lang="vi_VN"), "", big)
        self.assertIn("Hãy gửi ảnh nhỏ hơn", str(caught.exception))
        self.assertIn("anh-lon.png", str(caught.exception))
        self.assertEqual(len(conversation.message_ids), count)
        self.assertFalse(self._queued(conversation))
        self.Message._process_queue()
        self.assertFalse(peer.requests_for(UPLOAD_IMAGE))

    def test_product_card_from_the_wizard(self):
        peer = self._zalo_peer()
        conversation = self._open()
        wizard = (
            self.env["messaging.conversation.reply"]
            .with_user(self.agent_1)
            .create({"conversation_id": conversation.id, "product_id": self.product.id})
        )
        wizard.action_send()
        queued = self._queued(conversation)
        self.assertEqual(len(queued), 1)
        card = queued.zalo_card
        self.assertEqual(card["title"], "Áo thun basic")
        self.assertEqual(card["subtitle"], "1.144.250 ₫")
        # no website_sale here: no page to link to
        self.assertEqual(card["url"], "")
        shown = queued.discuss_message_id
        self.assertIn("1.144.250 ₫", shown.body)
        self.assertEqual(shown.author_id, self.agent_1.partner_id)
        self.assertEqual(shown.attachment_ids, queued.attachment_id)
        self.assertEqual(conversation.messaging_agent_id, self.agent_1)
        self.Message._process_queue()
        self.assertEqual(queued.state, "sent", queued.error_message)
        attachment_id = next(iter(peer.uploads))
        sent = peer.sent[-1]
        self.assertFalse(sent["text"])
        elements = sent["attachment"]["payload"]["elements"]
        self.assertEqual(sent["attachment"]["payload"]["template_type"], "list")
        self.assertEqual(elements[0]["title"], "Áo thun basic")
        self.assertEqual(elements[0]["subtitle"], "1.144.250 ₫")
        self.assertIn(attachment_id, elements[0]["image_url"])
        # an English reader with the list price: formatted their way
        self.partner_a.write({"lang": "en_US", "property_product_pricelist": False})
        card, image = conversation._messaging_product_card(self.product)
        self.assertIn("99.00", card["subtitle"])
        self.assertEqual(image[0], "Áo-thun-basic.png")

    def test_wizard_files_and_paid_window(self):
        peer = self._zalo_peer()
        conversation = self._open()
        identity = conversation.messaging_identity_id
        identity.last_interaction_at = fields.Datetime.now() - timedelta(days=3)
        photo = self._attachment("mau-ao.png", PNG)
        with self.assertRaises(RedirectWarning) as caught:
            self._post(conversation, "Mẫu mới", photo)
        self.assertFalse(self._queued(conversation))
        # the confirmation dialog keeps the files
        wizard = (
            self.env["messaging.conversation.reply"]
            .with_user(self.agent_1)
            .with_context(**caught.exception.args[3])
            .create({})
        )
        self.assertEqual(wizard.attachment_ids, photo)
        wizard.action_send()
        queued = self._queued(conversation)
        self.assertEqual(queued.attachment_id, photo)
        self.assertEqual(queued.cost, self.zalo.cost_zalo_consultation)
        self.assertEqual(photo.res_model, "discuss.channel")
        self.assertEqual(photo.res_id, conversation.id)
        self.Message._process_queue()
        self.assertEqual(queued.state, "sent", queued.error_message)
        self.assertTrue(peer.requests_for(UPLOAD_IMAGE))
        # nothing to send
        with self.assertRaisesRegex(UserError, "pick a product"):
            self.env["messaging.conversation.reply"].with_user(self.agent_1).create(
                {"conversation_id": conversation.id}
            ).action_send()

    def test_refusals(self):
        conversation = self._open()
        Reply = self.env["messaging.conversation.reply"]
        # an agent of another team cannot send there
        with self.assertRaises(AccessError):
            Reply.with_user(self.agent_other).create(
                {"conversation_id": conversation.id, "product_id": self.product.id}
            ).action_send()
        # a team-mate cannot send a file another agent uploaded (the
        # wizard does not see it, or refuses it)
        photo = self._attachment("mau-ao.png", PNG)
        refused = None
        try:
            Reply.with_user(self.agent_2).create(
                {"conversation_id": conversation.id, "attachment_ids": photo.ids}
            ).action_send()
        except (AccessError, UserError) as exc:
            refused = exc
        self.assertTrue(refused)
        # nor post it in Discuss
        with self.assertRaises(AccessError):
            self._post(conversation, "", photo, user=self.agent_2)
        self.assertEqual(photo.res_model, "mail.compose.message")
        # an employee without Messaging cannot open the wizard
        employee = self._conv_user("plain_employee", "base.group_user")
        with self.assertRaises(AccessError):
            Reply.with_user(employee).create(
                {"conversation_id": conversation.id, "body": "x"}
            )
        self.assertFalse(self._queued(conversation))


@tagged("post_install", "-at_install")
class TestConversationMediaHttp(conversation_tests.ConversationMixin, HttpCase):
    """Discuss's own routes: the upload, then the post with the file."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls._setup_conversations()
        cls.partner = cls.env["res.partner"].create({"name": "Khách Discuss"})
        identity = cls.Identity.create(
            {
                "channel_id": cls.zalo.id,
                "external_id": wh.USER_ID,
                "partner_id": cls.partner.id,
                "last_interaction_at": fields.Datetime.now(),
            }
        )
        cls.conversation = cls.Conversation._messaging_conversation_for(identity)
        cls.conversation._messaging_sync_customer()
        cls.conversation._messaging_set_agent(cls.agent_1)

    def _upload(self, name, raw, mimetype):
        response = self.url_open(
            "/mail/attachment/upload",
            {
                "csrf_token": http.Request.csrf_token(self),
                "thread_id": self.conversation.id,
                "thread_model": "discuss.channel",
                "is_pending": "true",
            },
            files={"ufile": (name, raw, mimetype)},
        )
        self.assertEqual(response.status_code, 200)
        return json.loads(response.content)["data"]["ir.attachment"][0]["id"]

    def _post(self, body, attachment_ids):
        """Discuss's post route; its JSON-RPC answer (result or error)."""
        params = {
            "thread_model": "discuss.channel",
            "thread_id": self.conversation.id,
            "post_data": {
                "body": body,
                "message_type": "comment",
                "subtype_xmlid": "mail.mt_comment",
                "attachment_ids": attachment_ids,
            },
        }
        response = self.url_open(
            "/mail/message/post",
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}),
            headers={"Content-Type": "application/json"},
        )
        return response.json()

    def test_image_posted_in_discuss_is_queued_with_it(self):
        self.authenticate("agent1", "agent1")
        photo_id = self._upload("mau-ao.png", PNG, "image/png")
        self.assertTrue(self._post("Mẫu này ạ", [photo_id]).get("result"))
        queued = self.env["messaging.message"].search(
            [("conversation_id", "=", self.conversation.id)]
        )
        self.assertEqual(len(queued), 1)
        self.assertEqual(queued.attachment_id.id, photo_id)
        self.assertEqual(queued.body, "Mẫu này ạ")
        self.assertEqual(queued.discuss_message_id.attachment_ids.ids, [photo_id])
        # a file Zalo would refuse: a clear error, nothing queued
        big_id = self._upload("anh-lon.png", BIG_PNG, "image/png")
        error = self._post("", [big_id])["error"]["data"]
        self.assertEqual(error["name"], "odoo.exceptions.UserError")
        self.assertIn("Send a smaller image", error["message"])
        self.assertEqual(
            self.env["messaging.message"].search_count(
                [("conversation_id", "=", self.conversation.id)]
            ),
            1,
        )
