"""Who may do what, generated from the registry and checked against two
tables: the access rights of every model of the addon, and the group each
public method needs (called as by RPC, on a real record, as each kind of
user: an AccessError before any write for those below the group).

Adding a model or a public method without a row here fails the suite; so
does a row whose group the code does not enforce. To add a row: the lowest
role allowed (roles are ordered, each one includes the previous), or None
for "nobody but the superuser".
"""

import json
import re
from contextlib import contextmanager
from unittest.mock import patch

from odoo import models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import SQL

from ..providers.zalo_events import zalo_time
from . import test_webhook_common as wh
from .common import MessagingCase, make_user

ADDON = "multichannel_messaging"
ADDON_MODULE = "odoo.addons.%s." % ADDON
# portal, internal user without Messaging, then Messaging User < Manager <
# Administrator (a Messaging Administrator is not a system administrator).
# The internal ones are salespeople (all documents): what refuses them a
# method on a sale order is the messaging group, not the Sales rights.
ROLES = ("portal", "internal", "user", "manager", "admin")
SALES = "base.group_user,sales_team.group_sale_salesman_all_leads"
ROLE_GROUPS = {
    "portal": "base.group_portal",
    "internal": SALES,
    "user": "%s,%s.group_messaging_user" % (SALES, ADDON),
    "manager": "%s,%s.group_messaging_manager" % (SALES, ADDON),
    "admin": "%s,%s.group_messaging_admin" % (SALES, ADDON),
}
OPERATIONS = ("read", "write", "create", "unlink")

# model: lowest role allowed to (read, write, create, unlink)
MODEL_ACCESS = {
    "messaging.channel": ("user", "admin", "admin", "admin"),
    "messaging.template": ("user", "manager", "manager", "manager"),
    "messaging.template.param": ("user", "manager", "manager", "manager"),
    "messaging.template.zbs.line": ("user", "manager", "manager", "manager"),
    "messaging.segment": ("user", "manager", "manager", "manager"),
    "messaging.campaign": ("user", "manager", "manager", "manager"),
    "messaging.campaign.fallback": ("user", "manager", "manager", "manager"),
    "messaging.campaign.variant": ("user", "manager", "manager", "manager"),
    "messaging.campaign.enqueue": ("user", None, None, None),
    "messaging.campaign.sale": ("user", None, None, None),
    "messaging.message": ("user", "user", "user", "manager"),
    "messaging.identity": ("user", "manager", "manager", "manager"),
    "messaging.event": ("manager", "admin", "admin", "admin"),
    "messaging.team": ("user", "admin", "admin", "admin"),
    "messaging.auto.reply": ("user", "admin", "admin", "admin"),
    "messaging.composer": ("user", "user", "user", "user"),
    "messaging.bulk.send": ("user", "user", "user", "user"),
    "messaging.bulk.send.fallback": ("user", "user", "user", "user"),
    "messaging.campaign.preview": ("user", "user", "user", "user"),
    "messaging.campaign.preview.line": ("user", "user", "user", "user"),
    "messaging.conversation.reply": ("user", "user", "user", "user"),
    # abstract models: no table, no access rights
    "messaging.send.mixin": (None, None, None, None),
    "messaging.fallback.step": (None, None, None, None),
    "messaging.blacklist.sync": (None, None, None, None),
}

# (model, public method): lowest role allowed to call it
METHOD_ACCESS = {
    # credentials, webhook secret, provider calls: administrators only
    ("messaging.channel", "action_test_connection"): "admin",
    ("messaging.channel", "action_refresh_token"): "admin",
    ("messaging.channel", "action_ai_test_connection"): "admin",
    ("messaging.channel", "action_sync_templates"): "admin",
    ("messaging.channel", "action_regenerate_webhook_token"): "admin",
    ("messaging.channel", "action_resume"): "admin",
    ("messaging.channel", "action_view_webhook_events"): "manager",
    ("messaging.channel", "action_view_messages"): "user",
    ("messaging.channel", "action_open_conversations"): "user",
    ("messaging.template", "action_zalo_submit"): "manager",
    ("messaging.template", "action_zalo_refresh_status"): "manager",
    ("messaging.campaign", "action_confirm"): "manager",
    ("messaging.campaign", "action_activate"): "manager",
    ("messaging.campaign", "action_pause"): "manager",
    ("messaging.campaign", "action_resume"): "manager",
    ("messaging.campaign", "action_cancel"): "manager",
    ("messaging.campaign", "action_draft"): "manager",
    ("messaging.campaign", "action_view_messages"): "user",
    ("messaging.campaign", "action_view_report"): "user",
    ("messaging.campaign.variant", "action_pick_winner"): "manager",
    ("messaging.campaign", "action_view_sources"): "user",
    ("messaging.campaign", "action_preview_recipients"): "user",
    ("messaging.campaign", "action_refresh_results"): "manager",
    ("messaging.campaign", "action_view_orders"): "user",
    ("messaging.segment", "action_view_partners"): "user",
    ("messaging.team", "action_open_conversations"): "user",
    ("messaging.message", "action_cancel"): "user",
    ("messaging.message", "action_retry"): "user",
    ("messaging.message", "action_open_document"): "user",
    ("messaging.message", "action_resend_unknown"): "manager",
    ("messaging.message", "action_fallback_now"): "manager",
    ("messaging.event", "action_process"): "manager",
    ("messaging.event", "action_retry"): "manager",
    ("messaging.composer", "action_send"): "user",
    ("messaging.bulk.send", "action_send"): "user",
    ("messaging.conversation.reply", "action_send"): "user",
    # on the Odoo models the addon extends
    ("res.partner", "action_view_messaging_messages"): "user",
    ("res.partner", "action_messaging_open_conversation"): "user",
    ("sale.order", "action_view_messaging_messages"): "user",
    ("sale.order", "action_messaging_payment_request"): "user",
    ("discuss.channel", "action_messaging_take"): "user",
    ("discuss.channel", "action_messaging_done"): "user",
    ("discuss.channel", "action_messaging_open"): "user",
    ("discuss.channel", "messaging_customer_panel"): "user",
}

WRITE_SQL = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def _allowed(role, lowest):
    return lowest is not None and ROLES.index(role) >= ROLES.index(lowest)


class _RolledBack(Exception):
    """Ends the savepoint of a call: nothing it did is kept."""


@tagged("post_install", "-at_install")
class TestAccessMatrix(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            role: make_user(cls.env, "matrix_%s" % role, groups)
            for role, groups in ROLE_GROUPS.items()
        }
        cls._setup_records()

    # ------------------------------------------------------------------
    # Discovery
    # ------------------------------------------------------------------

    def _addon_models(self):
        """Every messaging.* model the addon declares (ir.model records)."""
        data = self.env["ir.model.data"].search(
            [("module", "=", ADDON), ("model", "=", "ir.model")]
        )
        names = self.env["ir.model"].browse(data.mapped("res_id")).mapped("model")
        return {name for name in names if name.startswith("messaging.")}

    def _public_methods(self):
        """{(model, method)}: callables of the model's class not starting
        with ``_``, introduced by this addon's modules (not the ORM's, nor
        another addon's that we override), on the addon's models and on the
        Odoo models it extends (res.partner, sale.order, discuss.channel)."""
        found = set()
        for model in self.env.registry:
            classes = type(self.env[model]).__mro__
            ours = {
                name
                for cls in classes
                if cls.__module__.startswith(ADDON_MODULE)
                for name, attr in vars(cls).items()
                if not name.startswith("_")
                and callable(attr)
                and not hasattr(models.BaseModel, name)
            }
            if not ours:
                continue
            outside = {
                name
                for cls in classes
                if not cls.__module__.startswith(ADDON_MODULE)
                for name in vars(cls)
            }
            found.update((model, name) for name in ours - outside)
        return found

    def test_every_model_has_a_row(self):
        self.assertEqual(
            sorted(self._addon_models() - set(MODEL_ACCESS)),
            [],
            "models without a row in MODEL_ACCESS",
        )
        self.assertEqual(
            sorted(set(MODEL_ACCESS) - self._addon_models()),
            [],
            "rows of MODEL_ACCESS for models that do not exist",
        )

    def test_every_public_method_has_a_row(self):
        found = self._public_methods()
        self.assertEqual(
            sorted(found - set(METHOD_ACCESS)),
            [],
            "public methods without a row in METHOD_ACCESS",
        )
        self.assertEqual(
            sorted(set(METHOD_ACCESS) - found),
            [],
            "rows of METHOD_ACCESS for methods that do not exist",
        )

    # ------------------------------------------------------------------
    # Access rights
    # ------------------------------------------------------------------

    def test_model_access_rights(self):
        wrong = []
        for model, lowest_roles in MODEL_ACCESS.items():
            for operation, lowest in zip(OPERATIONS, lowest_roles, strict=True):
                for role, user in self.users.items():
                    expected = _allowed(role, lowest)
                    actual = self.env[model].with_user(user).has_access(operation)
                    if actual != expected:
                        wrong.append((model, operation, role, actual))
        self.assertEqual(wrong, [], "(model, operation, role, has_access) mismatches")

    # ------------------------------------------------------------------
    # Public methods
    # ------------------------------------------------------------------

    @classmethod
    def _setup_records(cls):
        """One record per model whose methods are called (made as the
        superuser; wizards are made by each user, see _record_for)."""
        cls.zalo = cls.env["messaging.channel"].create(
            wh.zalo_channel_values(
                # no network: every provider host is a closed local port
                zalo_oauth_url="http://127.0.0.1:9",
                zalo_openapi_url="http://127.0.0.1:9",
                zalo_business_url="http://127.0.0.1:9",
            )
        )
        staff = cls.users["user"] | cls.users["manager"] | cls.users["admin"]
        cls.team = cls.env["messaging.team"].create(
            {
                "name": "Matrix",
                "channel_ids": [(6, 0, cls.zalo.ids)],
                "user_ids": [(6, 0, staff.ids)],
                "assignment": "shared",
            }
        )
        payload = wh.user_text("Chào shop")
        raw = wh.encode(payload)
        cls.event = cls.env["messaging.event"]._store(
            cls.zalo,
            wh.sign(raw, payload["timestamp"]),
            payload["event_name"],
            raw.decode(),
            event_at=zalo_time(payload["timestamp"]),
        )
        cls.event._process()
        cls.conversation = cls.env["discuss.channel"].search(
            [("messaging_channel_id", "=", cls.zalo.id)], limit=1
        )
        cls.segment = cls.env["messaging.segment"].create(
            {"name": "Matrix", "domain": "[('id', '=', %d)]" % cls.partner_a.id}
        )
        cls.campaign = cls.env["messaging.campaign"].create(
            {
                "name": "Matrix",
                "channel_id": cls.sandbox.id,
                "template_id": cls.template.id,
                "segment_ids": [(6, 0, cls.segment.ids)],
            }
        )
        cls.variant = cls.env["messaging.campaign.variant"].create(
            {
                "campaign_id": cls.campaign.id,
                "channel_id": cls.sandbox.id,
                "template_id": cls.template.id,
            }
        )
        cls.message = cls.Message.create(
            {
                "partner_id": cls.partner_a.id,
                "channel_id": cls.sandbox.id,
                "template_id": cls.template.id,
            }
        )
        cls.order = cls.env["sale.order"].create({"partner_id": cls.partner_a.id})
        cls.records = {
            "res.partner": cls.partner_a,
            "sale.order": cls.order,
            "discuss.channel": cls.conversation,
            "messaging.channel": cls.sandbox,
            "messaging.template": cls.template,
            "messaging.campaign": cls.campaign,
            "messaging.campaign.variant": cls.variant,
            "messaging.segment": cls.segment,
            "messaging.team": cls.team,
            "messaging.message": cls.message,
            "messaging.event": cls.event,
        }

    def _wizard_values(self, model):
        """Values of a wizard that would really send (rolled back)."""
        sandbox, template = self.sandbox, self.template
        return {
            "messaging.composer": {
                "res_model": "res.partner",
                "res_id": self.partner_a.id,
                "channel_id": sandbox.id,
                "template_id": template.id,
            },
            "messaging.bulk.send": {
                "res_model": "res.partner",
                "res_ids": json.dumps(self.partner_a.ids),
                "channel_id": sandbox.id,
                "template_id": template.id,
            },
            "messaging.conversation.reply": {
                "conversation_id": self.conversation.id,
                "body": "Dạ shop chào anh",
            },
        }[model]

    def _record_for(self, model, user):
        """The record to call a method on, as ``user``: a wizard is made
        by the user when the rights allow it, else by the superuser."""
        if model in self.records:
            return self.records[model].with_user(user)
        Wizard = self.env[model]
        if Wizard.with_user(user).has_access("create"):
            Wizard = Wizard.with_user(user)
        return Wizard.create(self._wizard_values(model)).with_user(user)

    @contextmanager
    def _spy_writes(self, statements):
        """Collect the INSERT / UPDATE / DELETE run on the test cursor."""
        cr = self.env.cr
        execute = cr.execute

        def spy(query, params=None, log_exceptions=True):
            code = query.code if isinstance(query, SQL) else str(query)
            if WRITE_SQL.match(code):
                statements.append(code)
            return execute(query, params, log_exceptions)

        with patch.object(cr, "execute", spy):
            yield

    def _call(self, model, method, user):
        """(outcome, writes made before a denial): the method called as
        ``user`` in a savepoint that is always rolled back. The outcome is
        "denied" (AccessError), "ran", or the text of a business refusal
        (UserError, ValidationError: the group check let the user through)."""
        self.env.flush_all()
        outcome, statements = "ran", []
        try:
            with self.env.cr.savepoint():
                record = self._record_for(model, user)
                record.env.flush_all()
                with self._spy_writes(statements):
                    try:
                        getattr(record, method)()
                    except AccessError:
                        outcome = "denied"
                        record.env.flush_all()  # a pending write would show
                    except (UserError, ValidationError) as exc:
                        outcome = "refused: %s" % exc
                raise _RolledBack
        except _RolledBack:
            self.env.invalidate_all()
        return outcome, statements if outcome == "denied" else []

    def test_public_methods_check_their_group(self):
        wrong, side_effects = [], []
        for (model, method), lowest in sorted(METHOD_ACCESS.items()):
            for role, user in self.users.items():
                outcome, statements = self._call(model, method, user)
                if (outcome == "denied") == _allowed(role, lowest):
                    wrong.append((model, method, role, outcome))
                if statements:
                    side_effects.append((model, method, role, statements))
        self.assertEqual(wrong, [], "(model, method, role, outcome) mismatches")
        self.assertEqual(side_effects, [], "writes made before the AccessError")
