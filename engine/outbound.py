"""What a queued message is to its provider.

The plain request an adapter sends (``providers.OutboundMessage``), and the
adapter's rule when the answer to that request is lost: resend it with the
same idempotency key, wait for a delivery receipt that names it, or hold it
for a Manager (``providers.base.BaseAdapter.unknown_policy``). The recovery
of rows left in ``sending`` (``engine/claim.py``) and the handling of a lost
answer (``engine/results.py``) both follow this rule.
"""

from datetime import timedelta

from odoo import fields

from ..providers import ADAPTERS, HOLD, RESEND, MediaFile, OutboundMessage
from ..providers.zalo_media import CARD, FILE, media_kind

# a resend relying on the provider's idempotency key stays this far inside
# the provider's window (clocks differ, the first attempt took time)
IDEMPOTENCY_MARGIN = timedelta(hours=1)


def prepare_outbound(message):
    """The request for ``message`` (one record), in plain Python."""
    message.ensure_one()
    template = message.template_id
    route = message.route
    kind = "template" if route in ("phone", "uid") else "text"
    media, card, card_images = None, None, []
    if route == "consultation":
        kind, media, card = consultation_content(message)
        card_images = list_images(message) if card and "elements" in card else []
    # answer buttons beside the text, or a request for the user's details
    # (alone: the element's title and subtitle say it)
    interactive = (route == "consultation" and message.zalo_interactive) or {}
    return OutboundMessage(
        tracking_id=message.tracking_id,
        kind=kind,
        phone=message.recipient if route in ("phone", "sms", "sandbox") else None,
        zalo_user_id=message.recipient if route in ("uid", "consultation") else None,
        template_ref=template.zalo_template_id or None,
        params=dict(message.template_data or {}),
        text=None if card or interactive.get("request_info") else message.body or None,
        media=media,
        card=card,
        card_images=card_images,
        buttons=interactive.get("buttons") or None,
        request_info=interactive.get("request_info") or None,
        route="uid" if route == "uid" else "phone",
        # eSMS reports delivery to the URL given with each message
        callback_url=message.channel_id.sudo().webhook_url
        if message.channel_type == "esms"
        else None,
    )


def consultation_content(message):
    """``(kind, media, card)`` of a consultation message: text, a file
    (its ``ir.attachment``, read here, uploaded by the adapter) or a
    product card (its image is the file)."""
    attachment = message.attachment_id.sudo()
    media = _media_file(attachment) if attachment else None
    if message.zalo_card:
        return CARD, media, dict(message.zalo_card)
    if media is not None:
        return media_kind(media.mimetype, media.name) or FILE, media, None
    return "text", None, None


def list_images(message):
    """The images of a list of product cards, one per card in order (its
    ``ir.attachment`` read here, uploaded by the adapter), None for a card
    without one."""
    ids = [element.get("attachment_id") for element in message.zalo_card["elements"]]
    attachments = message.env["ir.attachment"].sudo().browse(filter(None, ids)).exists()
    by_id = {attachment.id: attachment for attachment in attachments}
    images = []
    for attachment_id in ids:
        attachment = by_id.get(attachment_id)
        images.append(_media_file(attachment) if attachment else None)
    return images


def _media_file(attachment):
    return MediaFile(
        name=attachment.name or "file",
        mimetype=attachment.mimetype or "",
        data=attachment.raw or b"",
    )


def get_unknown_policy(message):
    """The adapter's rule for an unknown outcome of ``message``:
    ``RESEND``, ``AWAIT_RECEIPT`` or ``HOLD`` (see
    ``BaseAdapter.unknown_policy``)."""
    message.ensure_one()
    adapter_class = ADAPTERS.get(message.channel_type)
    if adapter_class is None:
        return HOLD
    return adapter_class.unknown_policy(prepare_outbound(message))


def may_resend_unknown(message, since):
    """True when a resend is deduplicated by the provider: its rule is
    ``RESEND`` and ``since`` (the first attempt that may have reached it)
    is well inside its idempotency window."""
    message.ensure_one()
    if get_unknown_policy(message) != RESEND:
        return False
    window = timedelta(seconds=ADAPTERS[message.channel_type].idempotency_seconds)
    return fields.Datetime.now() - since < window - IDEMPOTENCY_MARGIN
