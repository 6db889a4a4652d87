from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import MessagingCase


@tagged("post_install", "-at_install")
class TestTemplate(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zalo = cls.env["messaging.channel"].create(
            dict(cls.NO_THROTTLE, name="Zalo", channel_type="zalo")
        )
        cls.zbs = cls.env["messaging.template"].create(
            {
                "name": "ZBS order",
                "channel_type": "zalo",
                "zalo_template_id": "231677",
                "param_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "customer_name",
                            "expression": "{{ object.name }}",
                            "max_length": 30,
                        },
                    ),
                    (0, 0, {"name": "phone", "expression": "{{ object.mobile }}"}),
                ],
            }
        )

    def test_defaults(self):
        template = self.env["messaging.template"].create({"name": "t", "body": "x"})
        self.assertEqual(template.model, "res.partner")
        self.assertEqual(template.category, "marketing")
        self.assertEqual(template.render_model, "res.partner")

    def test_unknown_model_refused(self):
        with self.assertRaisesRegex(ValidationError, "does not exist"):
            self.env["messaging.template"].create(
                {"name": "t", "body": "x", "model": "no.such.model"}
            )

    def test_sms_template_needs_body(self):
        with self.assertRaisesRegex(ValidationError, "needs a body"):
            self.env["messaging.template"].create({"name": "t", "channel_type": "esms"})

    def test_zalo_template_needs_id_or_body(self):
        with self.assertRaisesRegex(ValidationError, "ZBS template id"):
            self.env["messaging.template"].create({"name": "t", "channel_type": "zalo"})

    def test_params_rendered_on_record(self):
        data = self.zbs._render_params([self.partner_a.id])[self.partner_a.id]
        self.assertEqual(
            data, {"customer_name": "Nguyễn Văn An", "phone": "0912 345 678"}
        )

    def test_zbs_message_gets_template_data(self):
        message = self._queue(self.partner_a, channel=self.zalo, template=self.zbs)
        self.assertEqual(message.state, "queued")
        self.assertEqual(message.route, "phone")
        self.assertEqual(message.recipient, "84912345678")
        self.assertEqual(message.template_data["customer_name"], "Nguyễn Văn An")

    def test_bad_param_fails_before_any_send(self):
        long_name = self.env["res.partner"].create(
            {"name": "N" * 40, "mobile": "0912 111 222"}
        )
        message = self._queue(long_name, channel=self.zalo, template=self.zbs)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.failure_type, "invalid_params")
        self.assertIn("customer_name", message.error_message)
        self.assertEqual(message.attempt_count, 0)

    def test_duplicate_param_name_refused(self):
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError):
            with self.cr.savepoint():
                self.env["messaging.template.param"].create(
                    {"template_id": self.zbs.id, "name": "phone"}
                )

    def test_copy_keeps_params(self):
        copy = self.zbs.copy()
        self.assertEqual(copy.param_ids.mapped("name"), ["customer_name", "phone"])
        self.assertIn("(copy)", copy.name)
