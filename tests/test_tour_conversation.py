"""A Zalo conversation answered from Discuss in a real headless Chromium:
the conversation in its sidebar category, the window in the header, the
agent's answer queued as a consultation message, and the user's next message
arriving over Odoo's bus without a reload."""

from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from odoo.addons.bus.websocket import WebsocketConnectionHandler

from ..providers.zalo_events import zalo_time
from . import test_webhook_common as wh
from .common import admin_company_env


@tagged("post_install", "-at_install")
class TestTourConversation(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo's runner refuses websockets while a test runs (503, "disabled
        # in test mode"; pytest-odoo does not): allow them as Odoo's own bus
        # tests do, so the message arrives over the bus under both runners
        cls.startClassPatcher(
            patch.object(
                WebsocketConnectionHandler, "websocket_allowed", return_value=True
            )
        )
        cls.zalo, cls.agent, cls.conversation = admin_conversation(
            cls.env, "tour-conversation", "Tour Khách Zalo", "0912 222 333"
        )

    def test_answer_from_discuss(self):
        self.assertEqual(self.conversation.messaging_agent_id, self.agent)
        self.start_tour(
            "/odoo/discuss", "messaging_zalo_conversation_tour", login="admin"
        )
        queued = self.env["messaging.message"].search(
            [("conversation_id", "=", self.conversation.id)]
        )
        self.assertEqual(queued.mapped("body"), ["Dạ shop nghe ạ"])
        self.assertEqual(queued.route, "consultation")
        self.assertEqual(queued.recipient, wh.USER_ID)
        bodies = self.conversation.message_ids.mapped("body")
        self.assertTrue(any("Mình muốn đặt 2 cái" in body for body in bodies))
        self.assertEqual(self.conversation.messaging_state, "done")


def admin_conversation(env, key, name, mobile):
    """``(OA, agent, conversation)``: an OA of the admin's company whose
    team is the admin, and the conversation of a Zalo user linked to a new
    contact ``name`` who wrote "Xin chào shop". The admin answers: a tour
    also runs the event processing that the cron does in production (crons
    do not run in tests)."""
    env = admin_company_env(env)
    zalo = env["messaging.channel"].create(
        wh.zalo_channel_values(webhook_token="%s-token" % key)
    )
    agent = env.ref("base.user_admin")
    env["messaging.team"].create(
        {
            "name": "Team %s" % key,
            "channel_ids": [(6, 0, zalo.ids)],
            "user_ids": [(6, 0, agent.ids)],
            "available_only": False,
        }
    )
    partner = env["res.partner"].create(
        {"name": name, "mobile": mobile, "country_id": env.ref("base.vn").id}
    )
    env["messaging.identity"].create(
        {"channel_id": zalo.id, "external_id": wh.USER_ID, "partner_id": partner.id}
    )
    payload = wh.user_text("Xin chào shop")
    event = env["messaging.event"]._store(
        zalo,
        "%s-first-message" % key,
        "user_send_text",
        wh.encode(payload).decode(),
        event_at=zalo_time(payload["timestamp"]),
    )
    event._process()
    conversation = env["discuss.channel"].search(
        [("messaging_channel_id", "=", zalo.id)]
    )
    return zalo, agent, conversation
