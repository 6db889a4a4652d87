"""Helpers shared by the webhook tests: a signed Zalo channel and payloads."""

import contextlib
import hashlib
import json
import time
from unittest.mock import patch

from ..controllers import fast_path
from ..providers.zalo_events import zalo_time

APP_ID = "3608465248940903967"
OA_ID = "1234567890123456789"
OA_SECRET = "oa-secret-key-for-tests"
APP_SECRET = "app-secret-for-tests"
USER_ID = "2468458835296117922"
_counter = [int(time.time() * 1000)]


def make_webhook_channels(env, label):
    """The signed Zalo channel and an eSMS and a SpeedSMS channel of a
    webhook test class: (zalo, esms, speedsms)."""
    Channel = env["messaging.channel"]
    zalo = Channel.create(zalo_channel_values())
    esms, speedsms = (
        Channel.create(
            {
                "name": "%s (%s)" % (name, label),
                "channel_type": channel_type,
                "rate_per_second": 0,
            }
        )
        for name, channel_type in (("eSMS", "esms"), ("SpeedSMS", "speedsms"))
    )
    return zalo, esms, speedsms


def now_ms(offset_seconds=0):
    return str(int((time.time() + offset_seconds) * 1000))


def next_msg_id():
    _counter[0] += 1
    return "msg%x" % _counter[0]


def sign(raw, timestamp, prefix=APP_ID, secret=OA_SECRET):
    return (
        "mac="
        + hashlib.sha256(
            prefix.encode() + raw + str(timestamp).encode() + secret.encode()
        ).hexdigest()
    )


def encode(payload):
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def follow(user_id=USER_ID, event="follow", ts=None):
    return {
        "oa_id": OA_ID,
        "follower": {"id": user_id},
        "user_id_by_app": "552177279717587730",
        "event_name": event,
        "source": "oa_profile",
        "app_id": APP_ID,
        "timestamp": ts or now_ms(),
    }


def user_text(text, user_id=USER_ID, msg_id=None, ts=None):
    return {
        "app_id": APP_ID,
        "sender": {"id": user_id},
        "recipient": {"id": OA_ID},
        "user_id_by_app": "552177279717587730",
        "event_name": "user_send_text",
        "message": {"text": text, "msg_id": msg_id or next_msg_id()},
        "timestamp": ts or now_ms(),
    }


def zns_received(msg_id=None, tracking_id=None, ts=None):
    message = {"delivery_time": ts or now_ms()}
    if msg_id:
        message["msg_id"] = msg_id
    if tracking_id:
        message["tracking_id"] = tracking_id
    return {
        "sender": {"id": OA_ID},
        "recipient": {"id": "84912345678"},
        "event_name": "user_received_message",
        "message": message,
        "app_id": APP_ID,
        "timestamp": ts or now_ms(),
    }


def submit_info(phone, name="Khách Zalo", user_id=USER_ID):
    return {
        "sender": {"id": user_id},
        "recipient": {"id": OA_ID},
        "event_name": "user_submit_info",
        "app_id": APP_ID,
        "timestamp": now_ms(),
        "info": {"name": name, "phone": phone},
    }


def zalo_channel_values(**extra):
    values = {
        "name": "Zalo OA (webhook)",
        "channel_type": "zalo",
        "zalo_app_id": APP_ID,
        "zalo_oa_id": OA_ID,
        "zalo_oa_secret_key": OA_SECRET,
        "zalo_app_secret": APP_SECRET,
        "rate_per_second": 0,
        "quiet_hours_start": 0,
        "quiet_hours_end": 0,
        "resend_window_minutes": 0,
        "recipient_daily_cap": 0,
    }
    values.update(extra)
    return values


@contextlib.contextmanager
def fast_path_answers():
    """The fast path's answers (None: passed on to Odoo's stack) while the
    block runs."""
    answers = []
    serve = fast_path.serve

    def spy(environ):
        answers.append(serve(environ))
        return answers[-1]

    with patch.object(fast_path, "serve", spy):
        yield answers


def store_and_process(channel, payload):
    """Store a Zalo payload as the webhook does (signed, keyed by its
    signature) on ``channel`` and process it: the event."""
    raw = encode(payload)
    event = channel.env["messaging.event"]._store(
        channel,
        sign(raw, payload["timestamp"]),
        payload["event_name"],
        raw.decode(),
        event_at=zalo_time(payload["timestamp"]),
    )
    event._process()
    return event


def post_to_webhook(case, token, payload):
    """Post a signed Zalo payload to the webhook route of ``token`` (an
    HttpCase ``case``), then process what it stored: processed right away,
    or by the triggered cron, either way once."""
    raw = encode(payload)
    response = case.url_open(
        "/messaging/webhook/zalo/%s" % token,
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-ZEvent-Signature": sign(raw, payload["timestamp"]),
        },
    )
    case.assertEqual(response.status_code, 200)
    case.env["messaging.event"].search([("state", "=", "received")])._process()
    return response


def sent_message(channel, provider_id, partner, **values):
    """A message already sent on ``channel`` with this provider id."""
    message = (
        channel.env["messaging.message"]
        .with_context(messaging_skip_prepare=True)
        .create(
            dict(
                {
                    "partner_id": partner.id,
                    "channel_id": channel.id,
                    "route": "phone",
                    "recipient": "84123456789",
                    "body": "ZBS",
                },
                **values,
            )
        )
    )
    message.write({"state": "sent", "provider_message_id": provider_id})
    return message


def use_fast_path(testcase, enabled):
    """Serve the webhook calls of this test by the fast path or not."""
    patcher = patch.object(fast_path, "ENABLED", enabled)
    patcher.start()
    testcase.addCleanup(patcher.stop)
