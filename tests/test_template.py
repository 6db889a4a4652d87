from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, ValidationError
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


SECRET_EXPR = (
    "{{ object.env['ir.config_parameter'].sudo().get_param('database.secret') }}"
)
EDITOR = "mail.group_mail_template_editor"
MANAGER = "base.group_user,multichannel_messaging.group_messaging_manager"
USER = "base.group_user,multichannel_messaging.group_messaging_user"


@tagged("post_install", "-at_install")
class TestTemplateRenderingRights(MessagingCase):
    """mail.render.mixin's rule on every expression of a template, its
    parameter lines included: outside Mail Template Editor, plain fields
    only, refused on create, write and import."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].set_param(
            "mail.restrict.template.rendering", True
        )
        cls.secret = cls.env["ir.config_parameter"].get_param("database.secret")
        cls.zalo = cls.env["messaging.channel"].create(
            dict(cls.NO_THROTTLE, name="Zalo", channel_type="zalo")
        )
        cls.manager = cls._make_user("tpl_manager", MANAGER)
        cls.editor = cls._make_user("tpl_editor", f"{MANAGER},{EDITOR}")
        cls.user = cls._make_user("tpl_user", USER)
        cls.zbs = cls.env["messaging.template"].create(
            {
                "name": "ZBS",
                "channel_type": "zalo",
                "zalo_template_id": "231677",
                "param_ids": [
                    (0, 0, {"name": "name", "expression": "{{ object.name }}"})
                ],
            }
        )

    def _zbs_values(self, expression):
        return {
            "name": "ZBS leak",
            "channel_type": "zalo",
            "zalo_template_id": "999",
            "param_ids": [(0, 0, {"name": "secret", "expression": expression})],
        }

    def test_manager_cannot_put_code_in_a_parameter(self):
        """The hole: the queued message's template_data held the secret."""
        Template = self.env["messaging.template"].with_user(self.manager)
        with self.assertRaises(AccessError) as caught, self.env.cr.savepoint():
            Template.create(self._zbs_values(SECRET_EXPR))
        text = str(caught.exception)
        self.assertIn("parameter secret", text)
        self.assertIn("Mail Template Editor", text)
        self.assertIn("{{ object.name }}", text)  # the plain fields allowed
        self.assertFalse(
            self.env["messaging.template"].search([("name", "=", "ZBS leak")])
        )

    def test_manager_cannot_write_code_into_a_line(self):
        line = self.zbs.param_ids
        with (
            self.assertRaisesRegex(AccessError, "parameter name"),
            self.env.cr.savepoint(),
        ):
            line.with_user(self.manager).write({"expression": SECRET_EXPR})
        with (
            self.assertRaisesRegex(AccessError, "parameter secret"),
            self.env.cr.savepoint(),
        ):
            self.zbs.with_user(self.manager).write(
                {"param_ids": [(0, 0, {"name": "secret", "expression": SECRET_EXPR})]}
            )
        with (
            self.assertRaisesRegex(AccessError, "parameter secret"),
            self.env.cr.savepoint(),
        ):
            self.env["messaging.template.param"].with_user(self.manager).create(
                {
                    "template_id": self.zbs.id,
                    "name": "secret",
                    "expression": SECRET_EXPR,
                }
            )
        self.assertEqual(line.expression, "{{ object.name }}")
        message = self.Message.create(
            {
                "partner_id": self.partner_a.id,
                "channel_id": self.zalo.id,
                "template_id": self.zbs.id,
            }
        )
        self.assertNotIn(self.secret, str(message.template_data))
        self.assertEqual(message.template_data, {"name": "Nguyễn Văn An"})

    def test_import_is_checked(self):
        result = (
            self.env["messaging.template.param"]
            .with_user(self.manager)
            .load(
                ["template_id/.id", "name", "expression"],
                [[str(self.zbs.id), "secret", SECRET_EXPR]],
            )
        )
        self.assertFalse(result["ids"])
        self.assertIn("parameter secret", str(result["messages"]))
        self.assertEqual(self.zbs.param_ids.mapped("name"), ["name"])

    def test_translation_is_checked(self):
        template = self.env["messaging.template"].create(
            {"name": "t", "body": "Chào {{ object.name }}"}
        )
        with self.assertRaisesRegex(AccessError, "Body"), self.env.cr.savepoint():
            template.with_user(self.manager)._update_field_translations(
                "body", {"en_US": "Hi " + SECRET_EXPR}
            )
        self.assertEqual(template.body, "Chào {{ object.name }}")

    def test_body_and_subject_name_the_field(self):
        Template = self.env["messaging.template"].with_user(self.manager)
        with self.assertRaisesRegex(AccessError, "Body"), self.env.cr.savepoint():
            Template.create({"name": "t", "body": "Hi %s" % SECRET_EXPR})
        with self.assertRaisesRegex(AccessError, "Subject"), self.env.cr.savepoint():
            Template.create(
                {
                    "name": "t",
                    "channel_type": "email",
                    "body": "x",
                    "subject": SECRET_EXPR,
                }
            )

    def test_manager_writes_plain_fields(self):
        template = (
            self.env["messaging.template"]
            .with_user(self.manager)
            .create(
                dict(
                    self._zbs_values("{{ object.name }}"),
                    body="Chào {{ object.name }}",
                )
            )
        )
        template.param_ids.write({"expression": "{{ object.user_id.name }}"})
        self.assertEqual(
            template._render_params(self.partner_a.ids)[self.partner_a.id],
            {"secret": ""},
        )

    def test_editor_writes_any_expression(self):
        """Odoo's rule: an editor (not an administrator) may write code; the
        queue (superuser) renders it since it was checked on write."""
        template = (
            self.env["messaging.template"]
            .with_user(self.editor)
            .create(self._zbs_values("{{ object.name.upper() }}"))
        )
        message = self.Message.create(
            {
                "partner_id": self.partner_a.id,
                "channel_id": self.zalo.id,
                "template_id": template.id,
            }
        )
        self.assertEqual(message.template_data, {"secret": "NGUYỄN VĂN AN"})
        # a non-editor cannot take it over (nor rename it): Odoo's rule
        with (
            self.assertRaisesRegex(AccessError, "parameter secret"),
            self.env.cr.savepoint(),
        ):
            template.with_user(self.manager).write({"name": "Renamed"})
        # ... but a user still sends it (rendering trusts the checked text)
        composer = (
            self.env["messaging.composer"]
            .with_user(self.user)
            .create(
                {
                    "res_model": "res.partner",
                    "res_id": self.partner_a.id,
                    "channel_id": self.zalo.id,
                    "template_id": template.id,
                }
            )
        )
        self.assertIn("NGUYỄN VĂN AN", composer.preview_html)

    def test_composer_free_text_is_not_rendered(self):
        composer = (
            self.env["messaging.composer"]
            .with_user(self.user)
            .create(
                {
                    "res_model": "res.partner",
                    "res_id": self.partner_a.id,
                    "channel_id": self.sandbox.id,
                    "template_id": False,
                    "body": SECRET_EXPR,
                }
            )
        )
        composer.action_send()
        message = self.Message.search(
            [("partner_id", "=", self.partner_a.id)], order="id desc", limit=1
        )
        self.assertEqual(message.body, SECRET_EXPR)
        self.assertNotIn(self.secret, message.body)
