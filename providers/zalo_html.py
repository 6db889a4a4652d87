"""An inbound Zalo message (a parsed :class:`~.zalo_events.ZaloEvent`) as
the HTML body of a Discuss message: its text, images, stickers, files, links
and locations as they came. Only http(s) urls are linked; the text is
escaped (Odoo's ``plaintext2html``)."""

from markupsafe import Markup

from odoo.tools.mail import plaintext2html

IMAGE_KINDS = ("image", "gif", "sticker", "product")


def inbound_body(event, text):
    """HTML of the user message ``event``; ``text``: what it reads as when
    nothing else can be shown (else ``[event name]``)."""
    parts = []
    if event.text:
        parts.append(plaintext2html(event.text))
    for attachment in event.attachments:
        part = _attachment_html(attachment)
        if part:
            parts.append(part)
    if not parts:
        parts.append(plaintext2html(text or "[%s]" % event.name))
    return Markup("").join(parts)


def _attachment_html(attachment):
    url, thumbnail = attachment.safe_url, attachment.safe_thumbnail
    if attachment.kind in IMAGE_KINDS and thumbnail:
        image = Markup(
            '<p><a href="%s" target="_blank"><img src="%s" alt="%s" '
            'style="max-width: 240px;"/></a></p>'
        ) % (url or thumbnail, thumbnail, attachment.name or attachment.kind)
        if attachment.kind == "product" and attachment.name:
            image += Markup("<p>%s</p>") % attachment.name
        return image
    if attachment.kind == "location":
        if not attachment.has_location:
            return None
        lat, lng = attachment.latitude, attachment.longitude
        return Markup(
            '<p>📍 <a href="https://www.google.com/maps?q=%s,%s" '
            'target="_blank">%s, %s</a></p>'
        ) % (lat, lng, lat, lng)
    label = attachment.name or attachment.description
    if url:
        return Markup('<p>📎 <a href="%s" target="_blank">%s</a></p>') % (
            url,
            label or url,
        )
    if label:  # no usable link (not http/https): its name at least
        return Markup("<p>📎 %s</p>") % label
    return None
