from odoo import fields, models


class MessagingEvent(models.Model):
    """Every inbound webhook call, stored raw before it is processed."""

    _name = "messaging.event"
    _description = "Messaging Inbound Event"
    _order = "id desc"
    _rec_name = "event_name"

    channel_id = fields.Many2one("messaging.channel", index=True, ondelete="cascade")
    company_id = fields.Many2one(related="channel_id.company_id", store=True)
    event_key = fields.Char(
        required=True,
        index=True,
        help="msg_id or a digest of the body: a replayed event is processed once.",
    )
    event_name = fields.Char()
    payload = fields.Text(help="Raw body as received.")
    headers = fields.Text()
    received_at = fields.Datetime(default=fields.Datetime.now, required=True)
    state = fields.Selection(
        [
            ("received", "Received"),
            ("done", "Processed"),
            ("ignored", "Ignored"),
            ("error", "Error"),
        ],
        default="received",
        required=True,
        index=True,
    )
    error_message = fields.Text()

    _sql_constraints = [
        (
            "event_key_unique",
            "UNIQUE(channel_id, event_key)",
            "This event was already received.",
        ),
    ]
