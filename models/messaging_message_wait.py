from odoo import api, fields, models

from ..engine import results, waits


class MessagingMessage(models.Model):
    """Why a queued message waits, and until when (``scheduled_at``)."""

    _inherit = "messaging.message"

    wait_code = fields.Selection(
        waits.WAIT_CODES,
        "Waiting for",
        readonly=True,
        copy=False,
        help="Set by the queue where it defers the message; cleared when it is sent.",
    )
    wait_reason = fields.Char(
        "Why it waits",
        compute="_compute_wait_reason",
        help="Why this queued message waits and until when, in your time zone.",
    )

    is_waiting = fields.Boolean(
        "Waiting",
        compute="_compute_is_waiting",
        search="_search_is_waiting",
        help="Queued and held back: by a rule of the queue or its send date.",
    )

    @api.depends(
        "state",
        "wait_code",
        "scheduled_at",
        "error_message",
        "channel_id.paused_until",
        "campaign_id.state",
    )
    @api.depends_context("lang", "tz", "uid")
    def _compute_wait_reason(self):
        now = fields.Datetime.now()
        for message in self:
            if message.state != "queued":
                message.wait_reason = False
                continue
            code, until = message._get_wait(now)
            error = message.error_message_display if code == "retry" else None
            message.wait_reason = (
                waits.wait_text(
                    self.env,
                    code,
                    until,
                    error=error,
                    tz=waits.reader_tz(self.env, message.channel_id._tz()),
                    now=now,
                )
                or False
            )

    def _get_wait(self, now):
        """(wait code, until) of a queued message: the queue's code and
        ``scheduled_at``, or what keeps it from being claimed at all (its
        channel paused by a quota, its campaign paused)."""
        self.ensure_one()
        channel = self.channel_id.sudo()
        if channel.paused_until and channel.paused_until > now:
            return "quota", channel.paused_until
        if self.campaign_id.sudo().state == "paused":
            return "campaign_paused", None
        return self.wait_code, self.scheduled_at

    @api.depends("state", "wait_code", "scheduled_at")
    def _compute_is_waiting(self):
        now = fields.Datetime.now()
        for message in self:
            message.is_waiting = message.state == "queued" and bool(
                message.wait_code or message.scheduled_at > now
            )

    def _search_is_waiting(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            return NotImplemented
        domain = [
            ("state", "=", "queued"),
            "|",
            ("wait_code", "!=", False),
            ("scheduled_at", ">", fields.Datetime.now()),
        ]
        return domain if (operator == "=") == value else ["!", "&", *domain]

    def _get_chatter_record(self):
        """The document whose chatter tells about this message (as
        superuser: the queue's own line), or None: the one rule of
        ``engine/results.py get_document`` (one-off messages and sends from
        a list, not a planned campaign's)."""
        self.ensure_one()
        record = results.get_document(self)
        return record.sudo() if record is not None else None
