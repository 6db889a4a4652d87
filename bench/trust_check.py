"""Who may do what, checked from outside: real JSON-RPC logins to a RUNNING Odoo.

    python3 bench/trust_check.py --url http://127.0.0.1:8069 --db messaging_demo

As the administrator (``--login``) it creates a second company, users with
passwords (portal, internal salesperson, Messaging User, Messaging Manager,
and a Messaging User of the second company only), channels, templates,
contacts (one whose number is in ``phone.blacklist`` and e-mail in
``mail.blacklist``), a sale order, records of the first company (identity,
event, team, auto-reply); it turns *Restrict Template Rendering* on for the
run. Then, logged in AS EACH USER over ``/jsonrpc`` with their password, it
replays what a user should not be able to do and checks each call is refused
with an AccessError, UserError or ValidationError (never another error type:
a KeyError or a psycopg2 error is a bug) and changed nothing, as read back by
the administrator:

a. a Manager puts ``object.env[...]`` in a ZBS parameter line (new template,
   existing line) or a body: refused, nothing queued holds the secret;
b. a Messaging User calls the channel's administrator actions: AccessError,
   the webhook token unchanged;
c. a Messaging User rewrites a queued message, re-queues one skipped for
   opt-out (write refused, Retry leaves it skipped);
d. a Messaging User creates a message with a preset route and address to an
   opted-out contact: refused, nothing queued;
e. Odoo's blacklists: marketing skipped (opt_out), transactional queued;
f. bulk send only to readable contacts; a user of the second company reads
   none of the first company's identities, events, teams, auto-replies
   (a Manager of the second company: a Messaging User reads no events);

plus every role reads a contact and a sale order whole (``read()`` without a
field list; the portal, which Odoo itself does not let read either whole,
the fields this addon adds to them) and every public method of
``tests/test_access_matrix.py`` (METHOD_ACCESS, parsed with ``ast``) is
refused to the roles below its level.

Prints one line per check and exits 1 when one fails. Everything it created
is deleted (and the setting restored) at the end unless ``--keep``.
"""

import ast
import json
import os
import random
import secrets
import sys

from webhook_load import Rpc, odoo_arguments, out

MATRIX = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "test_access_matrix.py"
)
ROLES = ("portal", "internal", "user", "manager", "admin")
CLEAR_ERRORS = {
    "odoo.exceptions.AccessError",
    "odoo.exceptions.UserError",
    "odoo.exceptions.ValidationError",
}
ADDON = "multichannel_messaging"
GROUPS = {
    "portal": ["base.group_portal"],
    "internal": ["base.group_user", "sales_team.group_sale_salesman"],
    "user": [
        "base.group_user",
        "sales_team.group_sale_salesman",
        ADDON + ".group_messaging_user",
    ],
    "manager": [
        "base.group_user",
        "sales_team.group_sale_salesman",
        ADDON + ".group_messaging_manager",
    ],
}
EXPRESSION = (
    "{{ object.env['ir.config_parameter'].sudo().get_param('database.secret') }}"
)
# ways around a check that would look at the text only
VARIANTS = (
    "{{object.env}}",
    "{{ object.name }}{{ object.env.cr.dbname }}",
    "{{ object.partner_id.env['res.users'] }}",
    "{{ object.sudo().name }}",
    "{{ object['env'] }}",
    "{{ object.with_user(1).name }}",
    "{{ (object.env) }}",
    "{{ object.name if object.env else '' }}",
)
# ("{{\nobject.env\n}}" is accepted, rightly: Odoo's parse_inline_template,
# which both the check and the rendering use, reads no expression across a
# line break; it is sent as the text it is)
NO_THROTTLE = {
    "rate_per_second": 0,
    "min_interval_seconds": 0,
    "daily_cap": 0,
    "resend_window_minutes": 0,
    "recipient_daily_cap": 0,
    "quiet_hours_start": 0,
    "quiet_hours_end": 0,
}


class RpcError(Exception):
    def __init__(self, error):
        data = error.get("data") or {}
        self.name = data.get("name") or error.get("message") or "?"
        text = data.get("message") or error.get("message") or ""
        self.text = " ".join(text.split())
        super().__init__("%s: %s" % (self.name, self.text))

    @property
    def clear(self):
        return self.name in CLEAR_ERRORS


class Session(Rpc):
    """/jsonrpc execute_kw as one user (raises RpcError on an error)."""

    timeout = 120

    @staticmethod
    def _error(error):
        raise RpcError(error)


def method_access():
    """METHOD_ACCESS of tests/test_access_matrix.py: {(model, method): role}."""
    with open(MATRIX, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            getattr(target, "id", None) == "METHOD_ACCESS" for target in node.targets
        ):
            return ast.literal_eval(node.value)
    raise SystemExit("METHOD_ACCESS not found in %s" % MATRIX)


class TrustCheck:
    def __init__(self, args):
        self.args = args
        self.admin = Session(args.url, args.db, args.login, args.password)
        self.run = secrets.token_hex(3)
        self.failures = []
        self.created = []  # (model, id), deleted in reverse order
        self.sessions = {}

    # -- helpers -------------------------------------------------------------
    def create(self, model, values, **kwargs):
        record_id = self.admin(model, "create", values, **kwargs)
        self.created.append((model, record_id))
        return record_id

    def ref(self, xmlid):
        module, name = xmlid.split(".")
        rows = self.admin(
            "ir.model.data",
            "search_read",
            [("module", "=", module), ("name", "=", name)],
            ["res_id"],
        )
        return rows[0]["res_id"]

    def step(self, label, ok, detail=""):
        out(
            "  %-4s %s%s" % ("OK" if ok else "FAIL", label, detail and " (%s)" % detail)
        )
        if not ok:
            self.failures.append(label)

    def refused(self, label, session, model, method, *args, kinds=None, **kwargs):
        """The call must raise a clear Odoo error (``kinds``: the accepted
        exception names); True when it did."""
        try:
            session(model, method, *args, **kwargs)
        except RpcError as error:
            ok = error.name in (kinds or CLEAR_ERRORS)
            self.step(
                label, ok, "%s: %s" % (error.name.split(".")[-1], error.text[:90])
            )
            return ok
        self.step(label, False, "accepted")
        return False

    def accepted(self, label, session, model, method, *args, **kwargs):
        try:
            result = session(model, method, *args, **kwargs)
        except RpcError as error:
            self.step(label, False, "%s: %s" % (error.name, error.text[:120]))
            return None
        self.step(label, True)
        return result

    def message_state(self, message_id):
        return self.admin(
            "messaging.message",
            "read",
            [message_id],
            ["state", "failure_type", "recipient", "body", "error_message"],
        )[0]

    # -- setup ---------------------------------------------------------------
    def setup(self):
        admin = self.admin
        self.secret = admin("ir.config_parameter", "get_param", "database.secret")
        self.restrict = admin(
            "ir.config_parameter", "get_param", "mail.restrict.template.rendering"
        )
        admin(
            "ir.config_parameter", "set_param", "mail.restrict.template.rendering", "1"
        )
        self.first_message = (
            admin("messaging.message", "search", [], limit=1, order="id desc") or [0]
        )[0]
        self.company_a = admin("res.users", "read", [admin.uid], ["company_id"])[0][
            "company_id"
        ][0]
        self.company_b = self.create(
            "res.company", {"name": "Trust check B %s" % self.run}
        )
        company_partner = self.admin(
            "res.company", "read", [self.company_b], ["partner_id"]
        )[0]["partner_id"][0]
        # deleted after its company (the list is deleted in reverse)
        self.created.insert(-1, ("res.partner", company_partner))
        self.setup_users()
        self.setup_records()

    def setup_users(self):
        self.users = {}
        # a Manager (reads inbound events) of the second company only
        roles = dict(GROUPS, user_b=GROUPS["manager"])
        for role, groups in roles.items():
            password = secrets.token_urlsafe(12)
            login = "trust_%s_%s" % (role, self.run)
            values = {
                "name": "Trust %s %s" % (role, self.run),
                "login": login,
                "password": password,
                "groups_id": [(6, 0, [self.ref(g) for g in groups])],
            }
            if role == "user_b":
                values.update(
                    company_id=self.company_b, company_ids=[(6, 0, [self.company_b])]
                )
            user_id = self.create("res.users", values)
            partner = self.admin("res.users", "read", [user_id], ["partner_id"])
            # deleted after its user (the list is deleted in reverse)
            self.created.insert(-1, ("res.partner", partner[0]["partner_id"][0]))
            self.users[role] = (user_id, partner[0]["partner_id"][0])
            self.sessions[role] = Session(self.args.url, self.args.db, login, password)

    def setup_records(self):
        vietnam = self.admin("res.country", "search", [("code", "=", "VN")], limit=1)[0]
        number = random.randrange(10**7, 10**8)
        self.partner_ok = self.create(
            "res.partner",
            {
                "name": "Khách tin cậy %s" % self.run,
                "mobile": "09%08d" % number,
                "email": "ok.%s@example.com" % self.run,
                "country_id": vietnam,
            },
        )
        self.optout_mobile = "09%08d" % ((number + 1) % 10**8)
        self.partner_out = self.create(
            "res.partner",
            {
                "name": "Khách từ chối %s" % self.run,
                "mobile": self.optout_mobile,
                "email": "out.%s@example.com" % self.run,
                "country_id": vietnam,
            },
        )
        self.create("phone.blacklist", {"number": "+84" + self.optout_mobile[1:]})
        self.create("mail.blacklist", {"email": "out.%s@example.com" % self.run})
        self.partner_hidden = self.create(
            "res.partner",
            {
                "name": "Khách công ty B %s" % self.run,
                "mobile": "09%08d" % ((number + 2) % 10**8),
                "company_id": self.company_b,
            },
        )
        self.sandbox = self.create(
            "messaging.channel",
            dict(
                NO_THROTTLE,
                name="Trust sandbox %s" % self.run,
                channel_type="sandbox",
                sandbox_fail_ratio=0.0,
                sandbox_read_ratio=0.0,
            ),
        )
        self.zalo = self.create(
            "messaging.channel",
            {
                "name": "Trust Zalo %s" % self.run,
                "channel_type": "zalo",
                "zalo_app_id": str(10**18 + random.randrange(10**18)),
                "zalo_oa_id": str(10**17 + random.randrange(10**17)),
                "zalo_oa_secret_key": secrets.token_urlsafe(24),
            },
        )
        self.marketing = self.create(
            "messaging.template",
            {
                "name": "Trust marketing %s" % self.run,
                "channel_type": "sandbox",
                "category": "marketing",
                "body": "Xin chào {{ object.name }}!",
            },
        )
        self.transactional = self.create(
            "messaging.template",
            {
                "name": "Trust transactional %s" % self.run,
                "channel_type": "sandbox",
                "category": "transactional",
                "body": "Đơn hàng của {{ object.name }} đã sẵn sàng.",
            },
        )
        self.zbs = self.create(
            "messaging.template",
            {
                "name": "Trust ZBS %s" % self.run,
                "channel_type": "zalo",
                "company_id": self.company_a,
                "category": "transactional",
                "zalo_template_id": "trust-%s" % self.run,
                "param_ids": [
                    (0, 0, {"name": "name", "expression": "{{ object.name }}"})
                ],
            },
        )
        self.zbs_line = self.admin(
            "messaging.template", "read", [self.zbs], ["param_ids"]
        )[0]["param_ids"][0]
        portal_partner = self.users["portal"][1]
        self.admin("res.partner", "write", [portal_partner], {"parent_id": False})
        self.order = self.create(
            "sale.order", {"partner_id": portal_partner, "user_id": False}
        )
        self.admin("sale.order", "message_subscribe", [self.order], [portal_partner])
        self.identity = self.create(
            "messaging.identity",
            {
                "channel_id": self.zalo,
                "external_id": str(10**17 + random.randrange(10**17)),
            },
        )
        self.event = self.create(
            "messaging.event",
            {
                "channel_id": self.zalo,
                "event_key": "trust-%s" % self.run,
                "event_name": "follow",
                "payload": "{}",
                "state": "ignored",
            },
        )
        self.team = self.create(
            "messaging.team",
            {"name": "Trust team %s" % self.run, "company_id": self.company_a},
        )
        self.auto_reply = self.create(
            "messaging.auto.reply",
            {
                "name": "Trust auto-reply %s" % self.run,
                "channel_id": self.zalo,
                "keywords": "trust%s" % self.run,
                "template_id": self.transactional,
            },
        )
        self.segment = self.create(
            "messaging.segment",
            {"name": "Trust segment %s" % self.run, "company_id": self.company_a},
        )
        self.campaign = self.create(
            "messaging.campaign",
            {
                "name": "Trust campaign %s" % self.run,
                "channel_id": self.sandbox,
                "template_id": self.marketing,
                "segment_ids": [(6, 0, [self.segment])],
            },
        )

    # -- the findings ----------------------------------------------------------
    def check_a_templates(self):
        manager = self.sessions["manager"]
        self.refused(
            "a. Manager: ZBS template with object.env in a parameter line",
            manager,
            "messaging.template",
            "create",
            {
                "name": "Trust secret %s" % self.run,
                "channel_type": "zalo",
                "zalo_template_id": "trust-secret-%s" % self.run,
                "param_ids": [(0, 0, {"name": "otp", "expression": EXPRESSION})],
            },
        )
        self.refused(
            "a. Manager: write object.env on an existing parameter line",
            manager,
            "messaging.template.param",
            "write",
            [self.zbs_line],
            {"expression": EXPRESSION},
        )
        self.refused(
            "a. Manager: write object.env through the template's param_ids",
            manager,
            "messaging.template",
            "write",
            [self.zbs],
            {"param_ids": [(1, self.zbs_line, {"expression": EXPRESSION})]},
        )
        self.refused(
            "a. Manager: object.env in a template body",
            manager,
            "messaging.template",
            "write",
            [self.marketing],
            {"body": EXPRESSION},
        )
        self.refused(
            "a. Manager: create a parameter line with object.env",
            manager,
            "messaging.template.param",
            "create",
            {"template_id": self.zbs, "name": "otp", "expression": EXPRESSION},
        )
        for variant in VARIANTS:
            self.refused(
                "a. Manager: parameter line %s" % variant,
                manager,
                "messaging.template.param",
                "write",
                [self.zbs_line],
                {"expression": variant},
            )
        self.accepted(
            "a. Manager: a plain field is allowed",
            manager,
            "messaging.template.param",
            "write",
            [self.zbs_line],
            {"expression": "{{ object.name }}"},
        )
        line = self.admin(
            "messaging.template.param", "read", [self.zbs_line], ["expression"]
        )[0]
        self.step(
            "a. the parameter line is unchanged",
            line["expression"] == "{{ object.name }}",
        )

    def check_b_channel(self):
        user = self.sessions["user"]
        before = self.admin(
            "messaging.channel", "read", [self.zalo], ["webhook_token"]
        )[0]["webhook_token"]
        for method in (
            "action_regenerate_webhook_token",
            "action_refresh_token",
            "action_sync_templates",
            "action_test_connection",
        ):
            self.refused(
                "b. Messaging User: %s" % method,
                user,
                "messaging.channel",
                method,
                [self.zalo],
                kinds={"odoo.exceptions.AccessError"},
            )
        after = self.admin("messaging.channel", "read", [self.zalo], ["webhook_token"])[
            0
        ]["webhook_token"]
        self.step("b. the webhook token is unchanged", before == after)

    def user_message(self, session, partner, template, **values):
        return session(
            "messaging.message",
            "create",
            dict(
                {
                    "partner_id": partner,
                    "channel_id": self.sandbox,
                    "template_id": template,
                },
                **values,
            ),
        )

    def check_c_messages(self):
        user = self.sessions["user"]
        # far in the future: the queue's cron leaves it queued
        message = self.user_message(
            user,
            self.partner_ok,
            self.transactional,
            scheduled_at="2099-01-01 00:00:00",
        )
        self.created.append(("messaging.message", message))
        before = self.message_state(message)
        self.step("c. Messaging User queues a message", before["state"] == "queued")
        for values in (
            {"recipient": "84999999999"},
            {"body": "Khuyến mãi 50%!"},
            {"state": "sent"},
        ):
            self.refused(
                "c. Messaging User writes %s on a queued message" % list(values)[0],
                user,
                "messaging.message",
                "write",
                [message],
                values,
            )
        self.step(
            "c. the queued message is unchanged", self.message_state(message) == before
        )
        try:
            copy = user("messaging.message", "copy", [message])
        except RpcError as error:
            self.step("c. Messaging User copies a message", error.clear, error.name)
        else:
            self.created.append(("messaging.message", copy))
            state = self.message_state(copy)
            self.step(
                "c. a copy by a Messaging User is checked anew",
                state["state"] in ("queued", "skipped"),
                state["state"],
            )
        self.refused(
            "c. Messaging User sends about a document they cannot read",
            user,
            "messaging.message",
            "create",
            {
                "partner_id": self.partner_ok,
                "channel_id": self.sandbox,
                "body": "x",
                "res_model": "ir.config_parameter",
                "res_id": 1,
            },
        )
        skipped = self.user_message(user, self.partner_out, self.marketing)
        self.created.append(("messaging.message", skipped))
        state = self.message_state(skipped)
        self.step(
            "e. marketing to a blacklisted contact is skipped (opt_out)",
            (state["state"], state["failure_type"]) == ("skipped", "opt_out"),
            "%s, %s: %s"
            % (state["state"], state["failure_type"], state["error_message"]),
        )
        self.refused(
            "c. Messaging User re-queues the skipped message by write",
            user,
            "messaging.message",
            "write",
            [skipped],
            {"state": "queued"},
        )
        try:
            user("messaging.message", "action_retry", [skipped])
            error = None
        except RpcError as exc:
            error = exc
        state = self.message_state(skipped)
        self.step(
            "c. Retry leaves the opted-out message skipped",
            (error is None or error.clear) and state["state"] == "skipped",
            "%s%s" % (state["state"], error and ", %s" % error or ""),
        )
        transactional = self.user_message(user, self.partner_out, self.transactional)
        self.created.append(("messaging.message", transactional))
        state = self.message_state(transactional)
        self.step(
            "e. transactional to a blacklisted contact is queued",
            state["state"] in ("queued", "sending", "sent", "delivered"),
            "%s %s" % (state["state"], state["error_message"] or ""),
        )

    def check_d_preset(self):
        user = self.sessions["user"]
        address = "84" + self.optout_mobile[1:]
        for values in (
            {"route": "sandbox", "recipient": address},
            {"recipient": address},
            {"route": "phone"},
        ):
            label = "d. Messaging User creates a message with %s preset" % (
                "+".join(values)
            )
            try:
                message = self.user_message(
                    user, self.partner_out, self.marketing, **values
                )
            except RpcError as error:
                self.step(label, error.clear, "%s: %s" % (error.name, error.text[:80]))
                continue
            self.created.append(("messaging.message", message))
            state = self.message_state(message)
            self.step(
                label, state["state"] == "skipped", "accepted, %s" % state["state"]
            )
        queued = self.admin(
            "messaging.message",
            "search_count",
            [
                ("partner_id", "=", self.partner_out),
                ("template_id", "=", self.marketing),
                ("state", "not in", ("skipped", "cancelled")),
            ],
        )
        self.step("d. nothing queued to the opted-out contact", queued == 0)

    def check_f_companies(self):
        user = self.sessions["user"]
        wizard = user(
            "messaging.bulk.send",
            "create",
            {
                "res_model": "res.partner",
                "res_ids": json.dumps([self.partner_ok, self.partner_hidden]),
                "channel_id": self.sandbox,
                "template_id": self.marketing,
            },
        )
        self.refused(
            "f. bulk send to a contact the user cannot read",
            user,
            "messaging.bulk.send",
            "action_send",
            [wizard],
        )
        try:
            composer = user(
                "messaging.composer",
                "create",
                {
                    "res_model": "res.partner",
                    "res_id": self.partner_hidden,
                    "channel_id": self.sandbox,
                    "template_id": self.marketing,
                },
            )
        except RpcError as error:
            self.step("f. composer to a contact the user cannot read", error.clear)
        else:
            self.refused(
                "f. composer to a contact the user cannot read",
                user,
                "messaging.composer",
                "action_send",
                [composer],
            )
        hidden = self.admin(
            "messaging.message",
            "search_count",
            [("partner_id", "=", self.partner_hidden)],
        )
        self.step("f. nothing queued to the unreadable contact", hidden == 0)
        user_b = self.sessions["user_b"]
        for model, record_id in (
            ("messaging.identity", self.identity),
            ("messaging.event", self.event),
            ("messaging.team", self.team),
            ("messaging.auto.reply", self.auto_reply),
            ("messaging.channel", self.zalo),
            ("messaging.campaign", self.campaign),
            ("messaging.template", self.zbs),
            ("messaging.segment", self.segment),
            ("messaging.message", self.created_message()),
            ("discuss.channel", self.matrix_records()["discuss.channel"]),
        ):
            try:
                found = user_b(model, "search_count", [("id", "=", record_id)])
            except RpcError as error:  # no read access to the model at all
                found = 0 if error.name == "odoo.exceptions.AccessError" else error
            self.step(
                "f. company B manager searches %s of A" % model, found == 0, str(found)
            )
            self.refused(
                "f. company B manager reads %s of A" % model,
                user_b,
                model,
                "read",
                [record_id],
                kinds={"odoo.exceptions.AccessError"},
            )

    def addon_fields(self, model):
        """Names of the fields this addon adds to one of Odoo's models."""
        prefix = "field_%s__" % model.replace(".", "_")
        rows = self.admin(
            "ir.model.data",
            "search_read",
            [
                ("module", "=", ADDON),
                ("model", "=", "ir.model.fields"),
                ("name", "=like", prefix + "%"),
            ],
            ["name"],
        )
        return sorted(row["name"][len(prefix) :] for row in rows)

    def check_whole_reads(self):
        for role in ("portal", "internal", "user", "manager"):
            session = self.sessions[role]
            partner = self.users["portal"][1] if role == "portal" else self.partner_ok
            for model, record_id in (
                ("res.partner", partner),
                ("sale.order", self.order),
            ):
                if role != "portal":
                    self.accepted(
                        "%s reads a %s whole" % (role, model),
                        session,
                        model,
                        "read",
                        [record_id],
                    )
                    continue
                # Odoo's portal cannot read a contact or an order whole (bank
                # accounts, sale options, without this addon too): the fields
                # this addon adds, as many as the portal sees, must read
                visible = session(model, "fields_get", [], attributes=["type"])
                names = [f for f in self.addon_fields(model) if f in visible]
                names = names or ["display_name"]  # none visible: read() needs one
                self.accepted(
                    "portal reads the addon's %d fields of its %s"
                    % (len(names), model),
                    session,
                    model,
                    "read",
                    [record_id],
                    names,
                )

    def check_other_reads(self):
        """Users, Discuss channels: the addon's fields read by every role (a
        user record is not readable whole in Odoo: its log); a Discuss
        channel whole by internal users."""
        general = self.admin(
            "discuss.channel", "search", [("channel_type", "=", "channel")], limit=1
        )
        for role in ("portal", "internal", "user", "manager"):
            session = self.sessions[role]
            visible = session("res.users", "fields_get", [], attributes=["type"])
            names = [f for f in self.addon_fields("res.users") if f in visible]
            self.accepted(
                "%s reads the addon's %d fields of its user" % (role, len(names)),
                session,
                "res.users",
                "read",
                [self.users[role][0]],
                names or ["display_name"],
            )
            if role != "portal" and general:
                self.accepted(
                    "%s reads a Discuss channel whole" % role,
                    session,
                    "discuss.channel",
                    "read",
                    general,
                )
        # a Messaging User sees the conversations of their teams (a
        # Manager, all of their companies)
        self.admin(
            "messaging.team",
            "write",
            [self.team],
            {"user_ids": [(4, self.users["user"][0])]},
        )
        for role in ("user", "manager"):
            self.accepted(
                "%s reads a Zalo conversation whole" % role,
                self.sessions[role],
                "discuss.channel",
                "read",
                [self.conversation],
            )

    def matrix_records(self):
        conversation = getattr(self, "conversation", None) or self.create(
            "discuss.channel",
            {
                "name": "Trust conversation %s" % self.run,
                "channel_type": "zalo",
                "messaging_channel_id": self.zalo,
                "messaging_identity_id": self.identity,
                "messaging_team_id": self.team,
            },
        )
        self.conversation = conversation
        return {
            "messaging.channel": self.zalo,
            "messaging.campaign": self.campaign,
            "messaging.segment": self.segment,
            "messaging.team": self.team,
            "messaging.message": self.created_message(),
            "messaging.event": self.event,
            "res.partner": self.partner_ok,
            "sale.order": self.order,
            "discuss.channel": conversation,
        }

    def created_message(self):
        return next(i for m, i in self.created if m == "messaging.message")

    def check_matrix(self):
        records = self.matrix_records()
        wizards = {
            "messaging.composer": {
                "res_model": "res.partner",
                "res_id": self.partner_ok,
                "channel_id": self.sandbox,
                "template_id": self.marketing,
            },
            "messaging.bulk.send": {
                "res_model": "res.partner",
                "res_ids": json.dumps([self.partner_ok]),
                "channel_id": self.sandbox,
                "template_id": self.marketing,
            },
        }
        wizards["messaging.conversation.reply"] = {
            "conversation_id": records["discuss.channel"],
            "body": "Xin chào",
        }
        for model, values in wizards.items():
            records[model] = self.admin(model, "create", values)
        count = 0
        for (model, method), lowest in sorted(method_access().items()):
            record_id = records.get(model)
            if record_id is None:
                out("  SKIP %s.%s (no record to call it on)" % (model, method))
                continue
            below = ROLES[: ROLES.index(lowest)] if lowest else ROLES[:-1]
            for role in below:
                if role == "admin":
                    continue
                count += 1
                self.refused(
                    "matrix: %s calls %s.%s" % (role, model, method),
                    self.sessions[role],
                    model,
                    method,
                    [record_id],
                    kinds={"odoo.exceptions.AccessError"},
                )
        out("  (%d refusals checked from the access matrix)" % count)

    def check_secret(self):
        messages = self.admin(
            "messaging.message",
            "search_read",
            [("id", ">", self.first_message)],
            ["body", "template_data", "subject"],
        )
        leaked = [m["id"] for m in messages if self.secret in json.dumps(m)]
        self.step("a. no message holds database.secret", not leaked, str(leaked))

    def run_checks(self):
        for check in (
            self.check_a_templates,
            self.check_b_channel,
            self.check_c_messages,
            self.check_d_preset,
            self.check_f_companies,
            self.check_whole_reads,
            self.check_matrix,
            self.check_other_reads,
            self.check_secret,
        ):
            try:
                check()
            except RpcError as error:
                self.step(check.__name__, False, "unexpected %s" % error)

    # -- cleanup ---------------------------------------------------------------
    def cleanup(self):
        admin = self.admin
        admin(
            "ir.config_parameter",
            "set_param",
            "mail.restrict.template.rendering",
            self.restrict or False,
        )
        campaigns = admin(
            "messaging.campaign", "search", [("name", "like", "%" + self.run)]
        )
        users = [user_id for user_id, _partner in self.users.values()]
        messages = admin(
            "messaging.message",
            "search",
            [
                "|",
                "|",
                ("user_id", "in", users),
                ("campaign_id", "in", campaigns),
                ("channel_id", "in", [self.sandbox, self.zalo]),
            ],
        )
        if messages:
            admin("messaging.message", "unlink", messages)
        if campaigns:
            admin("messaging.campaign", "unlink", campaigns)
        for model, record_id in reversed(self.created):
            try:
                exists = admin(model, "search", [("id", "=", record_id)])
                if exists:
                    admin(model, "unlink", exists)
            except RpcError as error:
                out("  could not delete %s %s: %s" % (model, record_id, error))


def main():
    parser = odoo_arguments(__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep what it created")
    args = parser.parse_args()
    check = TrustCheck(args)
    out("Trust check on %s (database %s)" % (args.url, args.db))
    try:
        check.setup()
        check.run_checks()
    finally:
        if not args.keep:
            check.cleanup()
    if check.failures:
        out("FAILED (%d): %s" % (len(check.failures), "; ".join(check.failures)))
        return 1
    out("OK: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
