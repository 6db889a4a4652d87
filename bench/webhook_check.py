"""Webhook check outside the test suite: signed Zalo calls to a RUNNING Odoo.

    python3 bench/webhook_check.py --url http://127.0.0.1:8069 --db messaging_demo

Through JSON-RPC it creates a fresh Zalo channel (random secrets), a contact
with a Vietnamese mobile and a ZBS message of that channel marked sent with a
provider msg_id; then, over real HTTP to the webhook URL, it checks one after
the other, waiting for the processing cron each time:

1. ``follow``: the Zalo user's identity is created, as a follower;
2. ``user_submit_info`` with the contact's phone: the identity is linked to
   that contact;
3. ``user_send_text``: the text lands in the contact's chatter (and in the
   Zalo conversation in Discuss);
4. ``user_received_message`` with ``X-ZEvent-Server: ZNS``: the sent message
   turns delivered;
5. a replay of the text: answered "Duplicate", no new event, still one
   message in the chatter;
6. a forged signature: HTTP 401 and nothing stored.

Prints one line per step and exits 1 when one fails. Everything it created
is deleted at the end unless ``--keep``. The Odoo under test needs a cron
thread or worker (``--max-cron-threads`` >= 1); events are processed oldest
first, so with a backlog of stored events a step waits behind it
(``--timeout``).
"""

import json
import random
import secrets
import sys
import time

import requests
from webhook_load import Rpc, odoo_arguments, out, run_check, sign


class Check:
    def __init__(self, args):
        self.args = args
        self.rpc = Rpc(args.url, args.db, args.login, args.password)
        self.run = secrets.token_hex(4)
        self.app_id = str(10**18 + random.randrange(10**18))
        self.oa_id = str(10**17 + random.randrange(10**17))
        self.secret = secrets.token_urlsafe(24)
        self.user_id = str(10**17 + random.randrange(10**17))
        self.phone = "09%08d" % random.randrange(10**8)
        self.failures = []
        self.created = []  # (model, id), deleted in reverse order

    def create(self, model, values, **kwargs):
        record_id = self.rpc(model, "create", values, **kwargs)
        self.created.append((model, record_id))
        return record_id

    def setup(self):
        self.channel_id = self.create(
            "messaging.channel",
            {
                "name": "Webhook check %s" % self.run,
                "channel_type": "zalo",
                "zalo_app_id": self.app_id,
                "zalo_oa_id": self.oa_id,
                "zalo_oa_secret_key": self.secret,
                "zalo_signature_variant": "app_id",
            },
        )
        token = self.rpc(
            "messaging.channel", "read", [self.channel_id], ["webhook_token"]
        )[0]["webhook_token"]
        self.endpoint = "%s/messaging/webhook/zalo/%s" % (
            self.args.url.rstrip("/"),
            token,
        )
        vietnam = self.rpc("res.country", "search", [("code", "=", "VN")], limit=1)
        self.partner_id = self.create(
            "res.partner",
            {
                "name": "Khách kiểm tra %s" % self.run,
                "mobile": self.phone,
                "country_id": vietnam[0],
            },
        )
        self.zns_msg_id = "check-%s" % self.run
        self.message_id = self.sent_message(
            {
                "partner_id": self.partner_id,
                "channel_id": self.channel_id,
                "route": "phone",
                "recipient": "84" + self.phone[1:],
                "body": "Đơn hàng %s đã được xác nhận" % self.run,
                "state": "sent",
                "provider_message_id": self.zns_msg_id,
            }
        )
        self.created.append(("messaging.message", self.message_id))

    def sent_message(self, values):
        """A message as the queue leaves it once sent: its state, route and
        provider id are the queue's own (refused to any user over RPC, the
        administrator too), so a server action writes it as the queue does."""
        model = self.rpc(
            "ir.model", "search", [("model", "=", "messaging.message")], limit=1
        )
        action = self.create(
            "ir.actions.server",
            {
                "name": "Webhook check %s: a sent message" % self.run,
                "model_id": model[0],
                "state": "code",
                "code": (
                    "message = env['messaging.message'].sudo().with_context("
                    "messaging_skip_prepare=True).create(%r)\n"
                    "action = {'type': 'ir.actions.act_window_close', "
                    "'res_id': message.id}" % values
                ),
            },
        )
        return self.rpc("ir.actions.server", "run", [action])["res_id"]

    def post(self, payload, secret=None, headers=None):
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        all_headers = {
            "Content-Type": "application/json",
            "X-ZEvent-Signature": sign(
                raw, payload["timestamp"], self.app_id, secret or self.secret
            ),
        }
        all_headers.update(headers or {})
        response = requests.post(
            self.endpoint, data=raw, headers=all_headers, timeout=30
        )
        return response.status_code, response.text

    def wait(self, probe, timeout=None):
        """Poll ``probe()`` until truthy; (value, seconds) or (value, None)."""
        started = time.monotonic()
        deadline = started + (timeout or self.args.timeout)
        while True:
            value = probe()
            if value or time.monotonic() > deadline:
                return value, (time.monotonic() - started) if value else None
            time.sleep(0.2)

    def step(self, label, ok, detail=""):
        out(
            "  %-4s %s%s" % ("OK" if ok else "FAIL", label, detail and " (%s)" % detail)
        )
        if not ok:
            self.failures.append(label)

    def events(self):
        return self.rpc(
            "messaging.event", "search_count", [("channel_id", "=", self.channel_id)]
        )

    def chatter_count(self, text):
        return self.rpc(
            "mail.message",
            "search_count",
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", self.partner_id),
                ("body", "ilike", text),
            ],
        )

    def now(self):
        return str(int(time.time() * 1000))

    def run_checks(self):
        rpc = self.rpc
        # 1. follow
        status, _body = self.post(
            {
                "app_id": self.app_id,
                "oa_id": self.oa_id,
                "follower": {"id": self.user_id},
                "event_name": "follow",
                "source": "oa_profile",
                "timestamp": self.now(),
            }
        )
        identity, took = self.wait(
            lambda: rpc(
                "messaging.identity",
                "search_read",
                [
                    ("channel_id", "=", self.channel_id),
                    ("external_id", "=", self.user_id),
                ],
                ["is_follower", "partner_id"],
            ),
        )
        self.step(
            "follow creates the identity",
            status == 200 and bool(identity) and identity[0]["is_follower"],
            "HTTP %s, %s"
            % (status, "%.1f s" % took if took is not None else "not seen"),
        )
        # 2. user_submit_info links the contact with that phone
        status, _body = self.post(
            {
                "app_id": self.app_id,
                "sender": {"id": self.user_id},
                "recipient": {"id": self.oa_id},
                "event_name": "user_submit_info",
                "info": {"name": "Khách kiểm tra", "phone": "84" + self.phone[1:]},
                "timestamp": self.now(),
            }
        )
        linked, took = self.wait(
            lambda: rpc(
                "messaging.identity",
                "search_count",
                [
                    ("channel_id", "=", self.channel_id),
                    ("external_id", "=", self.user_id),
                    ("partner_id", "=", self.partner_id),
                ],
            ),
        )
        self.step("user_submit_info links the contact", status == 200 and bool(linked))
        # 3. user message into the chatter
        text = "Đơn hàng của mình đến đâu rồi shop? %s" % self.run
        message = {
            "app_id": self.app_id,
            "sender": {"id": self.user_id},
            "recipient": {"id": self.oa_id},
            "event_name": "user_send_text",
            "message": {"text": text, "msg_id": "text-%s" % self.run},
            "timestamp": self.now(),
        }
        status, _body = self.post(message)
        in_chatter, took = self.wait(lambda: self.chatter_count(text))
        in_discuss = rpc(
            "mail.message",
            "search_count",
            [("model", "=", "discuss.channel"), ("body", "ilike", text)],
        )
        self.step(
            "user message lands in the contact's chatter",
            status == 200 and in_chatter == 1 and in_discuss == 1,
            "chatter %s, Discuss conversation %s" % (in_chatter, in_discuss),
        )
        # 4. ZNS receipt
        status, _body = self.post(
            {
                "app_id": self.app_id,
                "sender": {"id": self.oa_id},
                "recipient": {"id": "84" + self.phone[1:]},
                "event_name": "user_received_message",
                "message": {"msg_id": self.zns_msg_id, "delivery_time": self.now()},
                "timestamp": self.now(),
            },
            headers={"X-ZEvent-Server": "ZNS"},
        )
        delivered, took = self.wait(
            lambda: rpc(
                "messaging.message",
                "search_count",
                [("id", "=", self.message_id), ("state", "=", "delivered")],
            ),
        )
        self.step("ZNS receipt turns the sent message delivered", bool(delivered))
        # 5. replay
        before = self.events()
        status, body = self.post(message)
        time.sleep(1.0)  # let a wrongly stored replay be processed
        self.step(
            "replay changes nothing",
            status == 200
            and "Duplicate" in body
            and self.events() == before
            and self.chatter_count(text) == 1,
            "HTTP %s, %s" % (status, body.strip()),
        )
        # 6. forged signature
        before = self.events()
        forged = dict(
            message, message={"text": "forged", "msg_id": "forged-%s" % self.run}
        )
        forged["timestamp"] = self.now()
        status, _body = self.post(forged, secret="not-the-secret")
        self.step(
            "forged signature refused, nothing stored",
            status == 401 and self.events() == before,
            "HTTP %s" % status,
        )

    def cleanup(self):
        conversations = self.rpc(
            "discuss.channel",
            "search",
            [("messaging_channel_id", "=", self.channel_id)],
        )
        if conversations:
            self.rpc("discuss.channel", "unlink", conversations)
        for model, record_id in reversed(self.created):
            if model == "messaging.channel":
                identities = self.rpc(
                    "messaging.identity",
                    "search",
                    [("channel_id", "=", record_id)],
                )
                if identities:
                    self.rpc("messaging.identity", "unlink", identities)
            self.rpc(model, "unlink", [record_id])


def main():
    parser = odoo_arguments(__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true", help="keep what it created")
    args = parser.parse_args()
    return run_check(Check(args), args, "Webhook check", "OK: all 6 checks passed")


if __name__ == "__main__":
    sys.exit(main())
