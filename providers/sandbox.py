"""Sandbox adapter: no network, deterministic outcomes.

The outcome of a message depends only on a hash of its ``tracking_id`` and
the configured ratios, so a ratio of 0 or 1 is exact and a re-run of the same
campaign gives the same result. Failures look like real Zalo answers.

Who controls the outcome: the caller. Real users get the realistic mix, since
the queue gives every message a random tracking id (uuid4). Tests either set
the ratios to 0 or 1 (exact), or choose the tracking ids themselves: then
``sandbox_outcome`` tells in advance what each message will become.
"""

import hashlib

from .base import ACCEPTED, AWAIT_RECEIPT, UNREACHABLE, BaseAdapter, SendResult

DEFAULT_DAILY_QUOTA = 100000

# Realistic "cannot reach this user" answers (code, Zalo message text).
SANDBOX_FAILURES = (
    ("-118", "Zalo account not existed"),
    ("-139", "User rejected receiving message from OA"),
    (
        "-114",
        (
            "User is inactive, or reject the message, or using an outdated Zalo "
            "version, or other internal errors"
        ),
    ),
    ("-141", "User refused ZNS from this OA"),
)
_FAILURE_REASONS = {
    "-118": "no_zalo_account",
    "-139": "user_rejected",
    "-114": "user_cannot_receive",
    "-141": "user_rejected",
}


def _digest(salt, tracking_id):
    return hashlib.sha256(f"{salt}:{tracking_id}".encode()).hexdigest()


def _fraction(salt, tracking_id):
    """A stable number in [0, 1) derived from the tracking id."""
    return int(_digest(salt, tracking_id)[:13], 16) / float(16**13)


def _ratio(value):
    try:
        return min(1.0, max(0.0, float(value or 0.0)))
    except (TypeError, ValueError):
        return 0.0


def sandbox_final_state(tracking_id, read_ratio):
    """``"read"`` or ``"delivered"`` for an accepted sandbox message."""
    return (
        "read" if _fraction("read", tracking_id) < _ratio(read_ratio) else "delivered"
    )


def sandbox_outcome(tracking_id, fail_ratio, read_ratio):
    """What the sandbox makes of a message: ``"failed"`` (refused at send),
    ``"read"`` or ``"delivered"`` (its final receipt)."""
    if _fraction("fail", tracking_id) < _ratio(fail_ratio):
        return "failed"
    return sandbox_final_state(tracking_id, read_ratio)


class SandboxAdapter(BaseAdapter):
    provider_type = "sandbox"

    @classmethod
    def unknown_policy(cls, msg):
        # no network, so never unknown by transport; a row left "sending" by
        # a crash is settled by the simulated receipt's tracking id
        return AWAIT_RECEIPT

    def send(self, msg):
        if not msg.tracking_id:
            return self._invalid("tracking_id is required.")
        fail_ratio = self.config.get("sandbox_fail_ratio")
        daily = DEFAULT_DAILY_QUOTA
        if sandbox_outcome(msg.tracking_id, fail_ratio, 0.0) == "failed":
            index = int(_digest("code", msg.tracking_id)[:8], 16) % len(
                SANDBOX_FAILURES
            )
            code, text = SANDBOX_FAILURES[index]
            return SendResult(
                status=UNREACHABLE,
                code=code,
                message=text,
                reason=_FAILURE_REASONS[code],
                raw={"error": int(code), "message": text},
            )
        msg_id = "sandbox-" + _digest("id", msg.tracking_id)[:20]
        return SendResult(
            status=ACCEPTED,
            provider_message_id=msg_id,
            code="0",
            message="Success",
            cost=0.0,
            quota_daily=daily,
            quota_remaining=daily - 1,
            raw={"error": 0, "message": "Success", "data": {"msg_id": msg_id}},
        )

    def test_connection(self):
        return "Sandbox channel: nothing leaves this server, outcomes are simulated."
