"""Zalo webhook events read into plain objects (no ORM, no HTTP).

Every shape of an inbound Zalo call is read here, once: the webhook reads
what it stores (name, key, time, user), the processing cron what it acts on
(the user, the message and its attachments, the receipt's message ids, the
submitted name and phone, a template's new status, the new daily quota).

Lenient where Zalo's published samples and real calls vary: ids and
timestamps as strings or numbers, optional fields missing, a location as
``latitude``/``longitude`` or ``lat``/``long``; a field of an unexpected type
reads as missing (see ``payload.py``). Never raises on a decoded JSON object.
The signature (strict) is checked in ``zalo_signature.py``, on the raw body.
"""

from dataclasses import dataclass

from .payload import (
    as_dict,
    as_id,
    as_id_list,
    as_int,
    as_list,
    as_text,
    epoch_datetime,
    epoch_seconds,
    event_key_digest,
)
from .terms import _lt

MAX_NAME_LENGTH = 128  # of a name sent by a user (user_submit_info)
MAX_EVENT_NAME_LENGTH = 128
MAX_FEEDBACK_LENGTH = 2000  # of a rating's note (user_feedback)
MAX_FEEDBACK_ITEMS = 20  # feedback lines kept of one rating
TEMPLATE_STATUSES = ("PENDING_REVIEW", "ENABLE", "REJECT", "DISABLE", "DELETE")
# the same statuses as codes (the SDKs' 1-5), read as their names
TEMPLATE_STATUS_CODES = {
    "1": "ENABLE",
    "2": "PENDING_REVIEW",
    "3": "REJECT",
    "4": "DISABLE",
    "5": "DELETE",
}
RECEIPT_EVENTS = ("user_received_message", "user_seen_message")
# what a user message without text reads as (its attachments' urls follow)
ATTACHMENT_LABELS = {
    "user_send_image": "[image]",
    "user_send_gif": "[gif]",
    "user_send_sticker": "[sticker]",
    "user_send_audio": "[audio]",
    "user_send_video": "[video]",
    "user_send_file": "[file]",
    "user_send_link": "[link]",
    "user_send_location": "[location]",
    "user_send_business_card": "[business card]",
    "user_asking_product": "[product]",
    "user_send_list": "[list]",
}
# event name -> what the processing does with it (see :func:`event_kind`)
EVENT_KINDS = {
    "follow": "follow",
    "unfollow": "follow",
    "user_submit_info": "submit_info",
    "user_received_message": "receipt",
    "user_seen_message": "receipt",
    "user_asking_product": "user_message",
    "user_feedback": "feedback",
    "change_template_status": "template_status",
    "change_oa_daily_quota": "quota",
}
# events kept as stored and marked ignored, with the reason (by name, then by
# name prefix); every other unknown name is ignored as "not documented"
IGNORED_EVENTS = {
    "user_reacted_message": _lt("Reactions to a message are not shown in Odoo."),
    "oa_reacted_message": _lt("Reactions to a message are not shown in Odoo."),
    "add_user_to_tag": _lt("Zalo OA tags are managed in Zalo, not copied to Odoo."),
    "remove_user_from_tag": _lt(
        "Zalo OA tags are managed in Zalo, not copied to Odoo."
    ),
    "remove_tag": _lt("Zalo OA tags are managed in Zalo, not copied to Odoo."),
    "user_click_chatnow": _lt("A click on the OA's chat button carries no message."),
    "update_user_info": _lt("Zalo profile changes are not copied to the contact."),
    "change_template_quality": _lt(
        "Template quality is read when the templates are synchronised."
    ),
    "user_click_response_button": _lt(
        "Quick-reply buttons of templates are not used by this addon."
    ),
    "widget_interaction_accepted": _lt(
        "The interaction widget is not used by this addon."
    ),
    "widget_failed_to_sync_user_external_id": _lt(
        "The interaction widget is not used by this addon."
    ),
    "user_withdraw": _lt(
        "Data-subject requests are answered outside Odoo (Zalo user data)."
    ),
}
IGNORED_PREFIXES = {
    "user_send_group_": _lt("Zalo group chats (GMF) are not supported."),
    "oa_send_group_": _lt("Zalo group chats (GMF) are not supported."),
    "anonymous_": _lt("Anonymous Zalo users have no user id to answer or link."),
    "oa_send_anonymous_": _lt(
        "Anonymous Zalo users have no user id to answer or link."
    ),
}
NOT_DOCUMENTED = _lt("Event not handled: stored only.")

zalo_time = epoch_datetime  # Zalo timestamps: epoch milliseconds -> UTC


def event_kind(name):
    """'user_message' for what a user sends the OA (not in a group),
    'oa_message' for what the OA sent a user (a staff reply from Zalo's own
    apps, or the echo of our own send), the kind of EVENT_KINDS, or None
    for an event only stored (see :func:`ignored_reason`)."""
    if ignored_reason(name, None):
        return None
    if name.startswith("user_send_"):
        return "user_message"
    if name.startswith("oa_send_"):
        return "oa_message"
    return EVENT_KINDS.get(name)


def ignored_reason(name, default=NOT_DOCUMENTED):
    """Why an event is only stored (English, translated where shown), or
    ``default`` for a name this table does not list."""
    if name in IGNORED_EVENTS:
        return IGNORED_EVENTS[name]
    for prefix, reason in IGNORED_PREFIXES.items():
        if name.startswith(prefix):
            return reason
    return default


@dataclass(frozen=True)
class ZaloAttachment:
    """One attachment of a user message. ``url`` and ``thumbnail`` as sent
    (see :attr:`safe_url`); coordinates None unless a number in range."""

    kind: str = ""
    url: str = ""
    thumbnail: str = ""
    name: str = ""
    description: str = ""
    latitude: float | None = None
    longitude: float | None = None

    @property
    def safe_url(self):
        return _safe_url(self.url)

    @property
    def safe_thumbnail(self):
        return _safe_url(self.thumbnail) or self.safe_url

    @property
    def has_location(self):
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class ZaloUserInfo:
    """What a user submitted (user_submit_info): name (at most
    MAX_NAME_LENGTH characters) and phone number as sent."""

    name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class ZaloFeedback:
    """A rating (user_feedback, the answer to a ZBS rating template): its
    rate (None when not a number from 1 to 5), the note and the chosen
    feedback lines as sent."""

    rate: int | None = None
    note: str = ""
    feedbacks: tuple = ()
    rating_type: str = ""
    submitted_at: object = None  # naive UTC datetime or None


@dataclass(frozen=True)
class ZaloEvent:
    """One Zalo webhook call. Ids are text ('' when missing or unreadable);
    ``timestamp`` is the body's value as sent (the signature covers its
    text), None when it cannot be one."""

    name: str = "unknown"
    app_id: str = ""
    oa_id: str = ""
    sender_id: str = ""
    recipient_id: str = ""
    follower_id: str = ""
    timestamp: str | int | float | None = None
    # the message (user_send_*, oa_send_*, receipts)
    msg_id: str = ""
    msg_ids: tuple = ()
    tracking_ids: tuple = ()
    text: str = ""
    attachments: tuple = ()
    delivery_time: object = None  # naive UTC datetime or None
    # user_submit_info
    info: ZaloUserInfo = ZaloUserInfo()
    # user_feedback
    feedback: ZaloFeedback = ZaloFeedback()
    # oa_send_*: the staff member who answered from Zalo's apps, when given
    admin_id: str = ""
    # change_template_status
    template_id: str = ""
    template_status: str = ""
    reason: str = ""
    # change_oa_daily_quota
    quota: int | None = None
    # the ids a receipt names: ``msg_ids`` then ``msg_id`` (one or a list)
    receipt_msg_ids: tuple = ()
    # the user this event is about: follow/unfollow's follower, an OA
    # message's recipient, else the sender
    user_ref: str = ""

    @property
    def kind(self):
        return event_kind(self.name)

    @property
    def epoch(self):
        """Seconds since the epoch of the body's timestamp, or None."""
        return epoch_seconds(self.timestamp)

    @property
    def sent_at(self):
        """The body's timestamp as a naive UTC datetime, or None."""
        return epoch_datetime(self.timestamp)

    @property
    def is_seen(self):
        return self.name == "user_seen_message"

    @property
    def user_id(self):
        """The Zalo user of a message: the recipient of what the OA sent,
        the sender of what a user sent."""
        return self.recipient_id if self.kind == "oa_message" else self.sender_id

    @property
    def summary(self):
        """The user's message as text: its text, or for an attachment its
        label, text and urls (``[image] look https://...``)."""
        label = ATTACHMENT_LABELS.get(self.name.replace("oa_send_", "user_send_"))
        if not label:
            return self.text
        urls = [attachment.url for attachment in self.attachments]
        return " ".join(filter(None, [label, self.text] + urls))

    def event_key(self, raw):
        """The key a replay is recognised by: msg_id identifies a user
        message; receipts and management events have none of their own (or
        share the msg_id of the message they are about), so they are keyed
        on the event name + ids, or on the raw body."""
        if self.msg_id and self.kind == "user_message":
            return "msg:%s" % self.msg_id
        if self.msg_id or self.msg_ids:
            digest = event_key_digest(self.msg_id, *sorted(self.msg_ids))
            return "%s:%s" % (self.name, digest)
        return "body:%s" % event_key_digest(raw)


def parse_event(data, name=None):
    """The :class:`ZaloEvent` of a decoded webhook body (a dict); ``name``:
    the event name when already known (else read from the body)."""
    data = as_dict(data)
    message = as_dict(data.get("message"))
    sender = as_dict(data.get("sender")).get("id")
    follower = as_dict(data.get("follower")).get("id")
    recipient = as_id(as_dict(data.get("recipient")).get("id"))
    msg_ids = as_id_list(message.get("msg_ids"))
    name = name if name is not None else read_event_name(data)
    user = recipient if event_kind(name) == "oa_message" else as_id(sender)
    return ZaloEvent(
        name=name,
        app_id=as_id(data.get("app_id")),
        oa_id=as_id(data.get("oa_id") or data.get("oaId")),
        sender_id=as_id(sender),
        recipient_id=recipient,
        follower_id=as_id(follower or sender),
        timestamp=_timestamp(data.get("timestamp")),
        msg_id=as_id(message.get("msg_id")),
        msg_ids=tuple(msg_ids),
        tracking_ids=tuple(as_id_list(message.get("tracking_id"))),
        text=as_text(message.get("text")),
        attachments=_attachments(data, message),
        delivery_time=epoch_datetime(message.get("delivery_time")),
        info=_user_info(data.get("info")),
        feedback=_feedback(message),
        admin_id=as_id(as_dict(data.get("sender")).get("admin_id")),
        template_id=as_id(data.get("template_id")),
        template_status=_template_status(data.get("status")),
        reason=as_text(data.get("reason")),
        quota=_nested_value(data.get("quota"), "new_value", as_int),
        receipt_msg_ids=tuple(msg_ids + as_id_list(message.get("msg_id"))),
        user_ref=as_id(follower) or user,
    )


def read_event_name(data):
    return as_text(data.get("event_name"))[:MAX_EVENT_NAME_LENGTH] or "unknown"


def _timestamp(value):
    if not value or isinstance(value, (dict, list, bool)):
        return None
    return value


def _template_status(value):
    """A template's new status by name (``ENABLE``...), given by name or
    by code (``5`` = deleted)."""
    status = _nested_value(value, "new_status", as_text).strip().upper()
    return TEMPLATE_STATUS_CODES.get(status, status)


def _nested_value(value, key, read):
    """``{"prev_...": ..., key: value}`` or the bare value, read."""
    return read(value.get(key) if isinstance(value, dict) else value)


def _user_info(value):
    info = as_dict(value)
    return ZaloUserInfo(
        name=as_text(info.get("name"))[:MAX_NAME_LENGTH],
        phone=as_id(info.get("phone")),
    )


def _feedback(message):
    """The rating of a user_feedback's ``message`` (empty for other events)."""
    rate = as_int(message.get("rate"), low=1, high=5)
    return ZaloFeedback(
        rate=rate,
        note=as_text(message.get("note"))[:MAX_FEEDBACK_LENGTH],
        feedbacks=tuple(
            text[:MAX_NAME_LENGTH]
            for text in map(as_text, as_list(message.get("feedbacks")))
            if text
        )[:MAX_FEEDBACK_ITEMS],
        rating_type=as_text(message.get("rating_type"))[:MAX_NAME_LENGTH],
        submitted_at=epoch_datetime(message.get("submit_time")),
    )


def _attachments(data, message):
    """The attachments of a message, and the product a user asks about
    (user_asking_product: a top-level ``product``) as a link."""
    attachments = [
        _attachment(item)
        for item in as_list(message.get("attachments"))
        if isinstance(item, dict)
    ]
    product = as_dict(data.get("product"))
    if product:
        attachments.append(
            ZaloAttachment(
                kind="product",
                url=as_text(product.get("url")),
                thumbnail=as_text(product.get("thumbnail")),
                name=as_text(product.get("title"))[:MAX_NAME_LENGTH],
                description=as_text(product.get("description")),
            )
        )
    return tuple(attachments)


def _attachment(item):
    payload = as_dict(item.get("payload"))
    coords = as_dict(payload.get("coordinates"))
    return ZaloAttachment(
        kind=as_text(item.get("type")),
        url=as_text(payload.get("url")),
        thumbnail=as_text(payload.get("thumbnail")),
        name=as_text(payload.get("name") or payload.get("title"))[:MAX_NAME_LENGTH],
        description=as_text(payload.get("description")),
        latitude=_coordinate(coords.get("latitude", coords.get("lat"))),
        longitude=_coordinate(coords.get("longitude", coords.get("long"))),
    )


def _coordinate(value):
    """A latitude or longitude as a number (sent as a number or a string)."""
    try:
        number = float(as_text(value))
    except ValueError:
        return None
    return number if -180.0 <= number <= 180.0 else None


def _safe_url(value):
    return value if value.startswith(("https://", "http://")) else ""
