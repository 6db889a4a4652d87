"""English is the source language: Vietnamese lives in i18n/vi.po only."""

import ast
import re
from pathlib import Path

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from odoo.addons.mail.tools.discuss import Store

from ..engine import results
from .common import MessagingCase
from .peers import EsmsPeer

ADDON = Path(__file__).resolve().parent.parent
MODULE = "multichannel_messaging"
VIETNAMESE = re.compile(
    "[àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ]",
    re.IGNORECASE,
)
# Production code: every Python file but these folders.
PYTHON_EXCLUDED = ("tests", "bench", "i18n", "static", "demo")
# XML and JS read by users. Excluded on purpose: demo/ (Vietnamese customers,
# shops and messages), static/tests/ (tours typing Vietnamese messages) and,
# in data/messaging_template_data.xml, the subject and body of each template:
# the messages sent to Vietnamese customers, which must match the texts
# registered with the carriers and Zalo (their names are English).
MARKUP_FOLDERS = ("views", "wizard", "security", "data", "static/src")
MESSAGE_CONTENT = {"data/messaging_template_data.xml": ("subject", "body")}


def _literal(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp):  # implicit concatenation is one Constant
        return (_literal(node.left) or "") + (_literal(node.right) or "")
    return None


def _translated_literals(tree):
    """The literal arguments of ``_()``, ``_lt()`` and ``env._()`` calls."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name in ("_", "_lt"):
            text = _literal(node.args[0])
            if text:
                yield node.lineno, text


@tagged("post_install", "-at_install")
class TestEnglishSource(TransactionCase):
    def test_python_terms_are_english(self):
        found = []
        for path in sorted(ADDON.rglob("*.py")):
            relative = path.relative_to(ADDON)
            if relative.parts[0] in PYTHON_EXCLUDED:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for line, text in _translated_literals(tree):
                if VIETNAMESE.search(text):
                    found.append(f"{relative}:{line}: {text!r}")
        self.assertFalse(found, "Vietnamese source strings:\n" + "\n".join(found))

    def test_field_labels_help_and_selections_are_english(self):
        found = []
        for model_name in self.env.registry:
            for field in self.env[model_name]._fields.values():
                if getattr(field, "_module", None) != MODULE and not (
                    model_name.startswith("messaging.")
                ):
                    continue
                texts = [field.string or "", field.help or ""]
                if isinstance(field, fields.Selection) and isinstance(
                    field.selection, list
                ):
                    texts += [label for _value, label in field.selection]
                default = field.default and field.default(self.env[model_name])
                if isinstance(default, str) and field.type in ("char", "text"):
                    texts.append(default)
                for text in texts:
                    if VIETNAMESE.search(str(text)):
                        found.append(f"{model_name}.{field.name}: {text!r}")
        self.assertFalse(found, "Vietnamese field texts:\n" + "\n".join(found))

    def test_views_and_data_are_english(self):
        found = []
        for folder in MARKUP_FOLDERS:
            for path in sorted((ADDON / folder).rglob("*")):
                relative = str(path.relative_to(ADDON))
                if path.suffix not in (".xml", ".js", ".csv"):
                    continue
                content = MESSAGE_CONTENT.get(relative, ())
                for number, line in enumerate(path.read_text().splitlines(), 1):
                    if any(f'<field name="{name}">' in line for name in content):
                        continue
                    if content and not line.lstrip().startswith("<"):
                        continue  # the following lines of a message's text
                    if VIETNAMESE.search(line):
                        found.append(f"{relative}:{number}: {line.strip()}")
        self.assertFalse(found, "Vietnamese in views or data:\n" + "\n".join(found))

    def test_scan_catches_a_vietnamese_term(self):
        tree = ast.parse("x = _('Xin chào')\ny = _lt('Hello')")
        texts = [text for _line, text in _translated_literals(tree)]
        self.assertEqual(texts, ["Xin chào", "Hello"])
        self.assertTrue(VIETNAMESE.search(texts[0]))
        self.assertFalse(VIETNAMESE.search(texts[1]))


@tagged("post_install", "-at_install")
class TestReaderLanguage(MessagingCase):
    """A provider's error is stored as its code and words; the text shown is
    translated when read, in the reader's language."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("vi_VN")
        cls.peer = EsmsPeer()
        cls.peer.start()
        cls.addClassCleanup(cls.peer.stop)
        Channel = cls.env["messaging.channel"]
        config = {
            k: v for k, v in cls.peer.esms_config().items() if k in Channel._fields
        }
        cls.esms = Channel.create(
            dict(config, **cls.NO_THROTTLE, name="eSMS", channel_type="esms")
        )
        cls.sms = cls.env["messaging.template"].create(
            {
                "name": "SMS",
                "channel_type": "esms",
                "category": "transactional",
                "body": "Chao {{ object.name }}",
            }
        )

    def setUp(self):
        super().setUp()
        self.peer.reset()

    def test_provider_error_in_the_readers_language(self):
        self.peer.queue_response(EsmsPeer.send_path, {"CodeResult": "101"})
        message = self._queue(self.partner_a, channel=self.esms, template=self.sms)
        self.Message.with_context(lang="vi_VN")._process_queue()
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "101")
        # stored as the provider's code and the English term, whatever the job
        self.assertEqual(message.error_message, "Incorrect ApiKey or SecretKey.")
        english = message.with_context(lang="en_US").error_message_display
        vietnamese = message.with_context(lang="vi_VN").error_message_display
        self.assertEqual(english, "Incorrect ApiKey or SecretKey.")
        self.assertEqual(vietnamese, "ApiKey hoặc SecretKey không đúng.")

    def test_provider_words_follow_the_translated_code(self):
        self.peer.queue_response(
            EsmsPeer.send_path, {"CodeResult": "101", "ErrorMessage": "Sai khóa"}
        )
        message = self._queue(self.partner_a, channel=self.esms, template=self.sms)
        self.Message._process_queue()
        self.assertEqual(message.error_message, "Sai khóa")
        self.assertEqual(
            message.with_context(lang="en_US").error_message_display,
            "Incorrect ApiKey or SecretKey. The provider said: Sai khóa",
        )
        vietnamese = message.with_context(lang="vi_VN").error_message_display
        self.assertIn("ApiKey hoặc SecretKey không đúng.", vietnamese)
        self.assertIn("Sai khóa", vietnamese)

    def test_admin_answers_in_the_clickers_language(self):
        self.peer.balance = 12345
        action = self.esms.with_context(lang="vi_VN").action_test_connection()
        self.assertEqual(
            action["params"]["message"], "Đã kết nối eSMS: số dư 12,345 VND."
        )
        action = self.esms.with_context(lang="en_US").action_test_connection()
        self.assertEqual(
            action["params"]["message"], "Connected to eSMS: balance 12,345 VND."
        )
        self.peer.queue_response(
            EsmsPeer.balance_path, {"CodeResponse": "101", "ErrorMessage": ""}
        )
        with self.assertRaises(UserError) as caught:
            self.esms.with_context(lang="vi_VN").action_test_connection()
        self.assertIn(
            "Lỗi eSMS 101: ApiKey hoặc SecretKey không đúng.", str(caught.exception)
        )

    def test_defaults_reach_each_customer_in_their_language(self):
        channel = self.env["messaging.channel"].create(
            {"name": "Zalo", "channel_type": "sandbox"}
        )
        english = channel.with_context(lang="en_US").handoff_message
        self.assertTrue(english.startswith("Thank you!"))
        self.assertEqual(
            channel.with_context(lang="vi_VN").handoff_message,
            "Cảm ơn bạn! Nhân viên của chúng tôi sẽ trả lời bạn trong ít phút.",
        )
        self.partner_a.lang = "vi_VN"
        self.assertEqual(
            channel._text_for_customer("opt_out_confirmation", self.partner_a),
            "Bạn đã hủy nhận tin khuyến mãi. Bạn vẫn nhận thông báo về đơn hàng "
            "của mình.",
        )

    def test_chatter_line_in_each_readers_language(self):
        """Stored as a key and its data; the stored body (e-mails, search) in
        the document's company language; each reader sees their own."""
        self.company.partner_id.lang = "vi_VN"
        message = self._queue(self.partner_a)  # the sandbox, about partner_a
        message.write({"res_model": "res.partner", "res_id": self.partner_a.id})
        results.post_on_document(message.with_context(lang="en_US"))
        line = self.partner_a.message_ids[:1]
        self.assertEqual(line.messaging_line["key"], "sent")
        self.assertIn("Test sandbox", line.body)
        self.assertNotIn("message sent to", line.body)  # the company's language

        def shown_to(lang):
            store = Store(line.with_context(lang=lang))
            [data] = store.get_result()["mail.message"]
            return str(data["body"])

        english = shown_to("en_US")
        self.assertIn("Test sandbox message sent to %s:" % message.recipient, english)
        vietnamese = shown_to("vi_VN")
        self.assertNotIn("message sent to", vietnamese)
        self.assertIn("Test sandbox", vietnamese)
        # the same words as stored (the sanitizer writes <br> for <br/>)
        self.assertEqual(vietnamese.replace("<br/>", "<br>"), str(line.body))

    def test_conversation_notice_in_each_readers_language(self):
        channel = self.env["discuss.channel"].create(
            {"name": "Zalo user", "channel_type": "zalo"}
        )
        channel._messaging_notify("assigned", agent="Agent An")
        notice = channel.message_ids[:1]
        shown = {
            lang: str(
                Store(notice.with_context(lang=lang)).get_result()["mail.message"][0][
                    "body"
                ]
            )
            for lang in ("en_US", "vi_VN")
        }
        self.assertIn("Assigned to Agent An.", shown["en_US"])
        self.assertIn("o_mail_notification", shown["vi_VN"])
        self.assertNotIn("Assigned to", shown["vi_VN"])
        self.assertIn("Agent An", shown["vi_VN"])
