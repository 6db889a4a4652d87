"""The demo shop's history, made by the queue itself when the demo data is
loaded: orders spread over the last months (some cancelled), one-off order
messages in the contacts' chatters, a finished campaign (refusals handed to
the SMS fallback, receipts, answers) and Zalo users writing to the OA.

Nothing here writes a state the queue would not reach: the messages are
created, dispatched and receipted by the engine (without committing: the
demo data is loaded in the module's install transaction)."""

import json
import re
from datetime import timedelta

from odoo import api, fields, models

from ..engine import attribution, results, transaction
from ..providers.base import ACCEPTED, SendResult
from ..providers.zalo_events import zalo_time

DEMO = "multichannel_messaging."
# (customer, product, quantity, days ago, state): every builder of
# messaging.segment matches someone (bought coffee, cancelled, inactive)
DEMO_ORDERS = [
    ("demo_customer_04", "demo_product_coffee", 2, 12, "sale"),
    ("demo_customer_05", "demo_product_tshirt", 20, 25, "sale"),
    ("demo_customer_08", "demo_product_coffee", 1, 40, "sale"),
    ("demo_customer_09", "demo_product_tshirt", 3, 55, "cancel"),
    ("demo_customer_10", "demo_product_coffee", 10, 70, "sale"),
    ("demo_customer_11", "demo_product_tshirt", 1, 95, "sale"),
    ("demo_customer_12", "demo_product_coffee", 4, 120, "sale"),
    ("demo_customer_15", "demo_product_tshirt", 2, 33, "cancel"),
    ("demo_customer_16", "demo_product_coffee", 2, 150, "sale"),
]
# Zalo users writing to the demo OA: (identity, text, minutes ago, done)
DEMO_CONVERSATIONS = [
    ("demo_identity_01", "Shop ơi, áo thun còn size L không ạ?", 25, False),
    ("demo_identity_02", "Đơn của mình khi nào giao vậy shop?", 50, False),
    ("demo_identity_03", "Mình nhận được hàng rồi, cảm ơn shop nhiều!", 180, True),
]
# conversations through the OA's chatbot: (identity, [(text, minutes ago)])
DEMO_CHATBOT_CONVERSATIONS = [
    ("demo_identity_04", [("Chào shop ạ", 12), ("Xem đơn hàng", 11)]),
    ("demo_identity_05", [("Shop ơi", 8), ("Gặp nhân viên", 7)]),
]
# (customer, stars, words, days ago): ratings given on their last order
DEMO_RATINGS = [
    ("demo_customer_04", 5, "Cà phê thơm, giao nhanh. Cảm ơn shop!", 10),
    ("demo_customer_05", 5, "Áo đẹp, đúng size.", 20),
    ("demo_customer_08", 3, "Hàng ổn nhưng giao hơi chậm.", 30),
]
# the promotion's reached customers who follow its link (the first one
# orders with their coupon)
DEMO_PROMO_CLICKERS = 3
DEMO_REPLY = "Cảm ơn shop đã báo, mình sẽ đặt hàng trước Tết."


class MessagingCampaign(models.Model):
    _inherit = "messaging.campaign"

    @api.model
    def _demo_load_history(self):
        """Called once by demo/messaging_demo.xml."""
        self._demo_create_orders()
        self._demo_queue_order_messages()
        campaign = self.env.ref(DEMO + "demo_campaign_tet_notice")
        campaign.action_confirm()
        campaign.action_activate()
        campaign._demo_fix_tracking_ids()
        self._demo_run_queue()
        campaign._demo_post_replies()
        self._demo_zalo_conversations()
        self._demo_ratings()
        self.env.ref(DEMO + "demo_campaign_promo")._demo_promo_results()

    @api.model
    def _demo_create_orders(self):
        now = fields.Datetime.now()
        company = self.env.ref(DEMO + "demo_company_vn")
        for customer, product, qty, days, state in DEMO_ORDERS:
            order = self.env["sale.order"].create(
                {
                    "partner_id": self.env.ref(DEMO + customer).id,
                    "company_id": company.id,
                    "user_id": self.env.ref("base.user_admin").id,
                    "pricelist_id": self.env.ref(DEMO + "demo_pricelist_vnd").id,
                    "order_line": [
                        fields.Command.create(
                            {
                                "product_id": self.env.ref(DEMO + product).id,
                                "product_uom_qty": qty,
                            }
                        )
                    ],
                }
            )
            if state == "sale":
                order.action_confirm()
            else:
                order._action_cancel()
            # confirming dates the order today: back to the day it was placed
            order.date_order = now - timedelta(days=days, hours=3)

    @api.model
    def _demo_queue_order_messages(self):
        """Order confirmations sent from the orders (their chatters)."""
        channel = self.env.ref(DEMO + "demo_channel_sandbox_sms")
        template = self.env.ref(DEMO + "messaging_template_order_confirmed_sandbox")
        orders = self.env["sale.order"].search(
            [
                ("company_id", "=", channel.company_id.id),
                ("state", "=", "sale"),
            ]
        )
        self.env["messaging.message"].create(
            [
                {
                    "partner_id": order.partner_id.id,
                    "channel_id": channel.id,
                    "template_id": template.id,
                    "res_model": "sale.order",
                    "res_id": order.id,
                }
                for order in orders
            ]
        )

    def _demo_fix_tracking_ids(self, prefix="tet-"):
        """Tracking ids drawn from the contacts' names, so that the sandbox
        (which decides from them) refuses the same customers on every
        install."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE messaging_message m
               SET tracking_id = md5(%s || p.name)
              FROM res_partner p
             WHERE p.id = m.partner_id AND m.campaign_id IN %s
            """,
            [prefix, tuple(self.ids)],
        )
        self.env["messaging.message"].invalidate_model(["tracking_id"])

    @api.model
    def _demo_run_queue(self):
        """What the queue cron does, in the install's transaction."""
        with transaction.in_caller_transaction():
            self.env["messaging.message"]._process_queue()

    def _demo_post_replies(self):
        """A few reached customers answer in their chatter (the report's
        "replied"), a little after the message came."""
        reached = self.message_ids_sent.filtered(
            lambda m: m.state in ("delivered", "read")
        ).sorted(lambda m: m.partner_id.name)[:3]
        for message in reached:
            post = message.partner_id.message_post(
                body=DEMO_REPLY,
                author_id=message.partner_id.id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
            post.date = message.sent_at + timedelta(minutes=2)

    @api.model
    def _demo_zalo_conversations(self):
        """Users write to the OA: conversations open in Discuss, assigned by
        the team's round robin; the oldest one is marked done."""
        for xmlid, text, minutes, done in DEMO_CONVERSATIONS:
            identity = self.env.ref(DEMO + xmlid)
            self._demo_inbound_text(identity, text, minutes)
            if done:
                conversation = self.env["discuss.channel"]._messaging_conversation_for(
                    identity, create=False
                )
                conversation.action_messaging_done()

    @api.model
    def _demo_inbound_text(self, identity, text, minutes):
        """A signed-webhook ``user_send_text`` of ``identity``, ``minutes``
        ago, stored and processed as the webhook does: ``(event,
        conversation)``."""
        channel = identity.channel_id
        timestamp = str(int(fields.Datetime.now().timestamp() * 1000) - minutes * 60000)
        msg_id = "demo%s%s" % (identity.external_id[-6:], timestamp)
        payload = {
            "app_id": channel.sudo().zalo_app_id,
            "sender": {"id": identity.external_id},
            "recipient": {"id": channel.zalo_oa_id},
            "event_name": "user_send_text",
            "message": {"text": text, "msg_id": msg_id},
            "timestamp": timestamp,
        }
        event = self.env["messaging.event"]._store(
            channel,
            msg_id,
            "user_send_text",
            json.dumps(payload),
            event_at=zalo_time(timestamp),
        )
        event._process()
        conversation = self.env["discuss.channel"]._messaging_conversation_for(
            identity, create=False
        )
        return event, conversation

    @api.model
    def _demo_chatbot_conversation(self):
        """Called by demo/messaging_chatbot_demo.xml once the OA runs its
        chatbot: a customer greets (the script answers with its buttons),
        taps "Xem đơn hàng" (their last orders come back); another greets
        and taps "Gặp nhân viên" (the team's agent takes it)."""
        conversations = self.env["discuss.channel"]
        for xmlid, texts in DEMO_CHATBOT_CONVERSATIONS:
            identity = self.env.ref(DEMO + xmlid)
            for text, minutes in texts:
                conversations |= self._demo_inbound_text(identity, text, minutes)[1]
        # the demo OA has no token: the bot's messages are kept as Zalo's
        # acceptance of them would be (results.apply_results, as a dispatcher
        # does with the answers), so no demo message waits in the queue
        queued = self.env["messaging.message"].search(
            [("conversation_id", "in", conversations.ids), ("state", "=", "queued")]
        )
        results.apply_results(
            self.env,
            [
                (
                    message,
                    SendResult(ACCEPTED, provider_message_id="demo-%s" % message.id),
                )
                for message in queued
            ],
        )

    @api.model
    def _demo_ratings(self):
        """Ratings given by customers on their orders (the "rated us 5 stars"
        customer group matches the first two)."""
        now = fields.Datetime.now()
        model = self.env["ir.model"]._get_id("sale.order")
        for customer, stars, words, days in DEMO_RATINGS:
            partner = self.env.ref(DEMO + customer)
            order = self.env["sale.order"].search(
                [("partner_id", "=", partner.id)], order="id desc", limit=1
            )
            rating = self.env["rating.rating"].create(
                {
                    "res_model_id": model,
                    "res_id": order.id,
                    "partner_id": partner.id,
                    "rated_partner_id": order.user_id.partner_id.id,
                    "rating": stars,
                    "feedback": words,
                    "consumed": True,
                }
            )
            self.env.cr.execute(
                "UPDATE rating_rating SET create_date = %s WHERE id = %s",
                [now - timedelta(days=days), rating.id],
            )

    def _demo_promo_results(self):
        """The promotion sent by the queue, then what customers did: a few
        follow its tracked link, the first one orders with their own coupon;
        the campaign's revenue is computed as the results cron does."""
        self.action_confirm()
        self.action_activate()
        self._demo_fix_tracking_ids("promo-")
        self._demo_run_queue()
        reached = self.message_ids_sent.filtered(
            lambda m: m.state in ("delivered", "read") and m.coupon_id
        ).sorted(lambda m: m.partner_id.name)[:DEMO_PROMO_CLICKERS]
        for message in reached:
            match = re.search(r"/r/([\w-]+)/m/%d" % message.id, message.body or "")
            if not match:
                continue
            self.env["link.tracker.click"].sudo().add_click(
                match.group(1),
                ip="14.160.0.1",
                country_code="VN",
                messaging_message_id=message.id,
            )
            message._register_click()
        if reached:
            self._demo_order_with_coupon(reached[0])
        attribution.compute_all(self)

    def _demo_order_with_coupon(self, message):
        """The customer of ``message`` orders, using the coupon it carried."""
        order = self.env["sale.order"].create(
            {
                "partner_id": message.partner_id.id,
                "company_id": self.company_id.id,
                "user_id": self.env.ref("base.user_admin").id,
                "pricelist_id": self.env.ref(DEMO + "demo_pricelist_vnd").id,
                "order_line": [
                    fields.Command.create(
                        {
                            "product_id": self.env.ref(DEMO + "demo_product_coffee").id,
                            "product_uom_qty": 3,
                        }
                    )
                ],
            }
        )
        status = order._try_apply_code(message.coupon_id.code)
        for card, rewards in status.items() if "error" not in status else ():
            order._apply_program_reward(rewards[:1], card)
        order.action_confirm()
