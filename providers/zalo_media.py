"""Media in Zalo OA consultation messages: what may be uploaded, the
upload answers, and the attachment shapes of ``/v3.0/oa/message/cs``.

Wire facts (sources and what stays unconfirmed: ``PROTOCOLS.md``):

* ``POST {openapi}/v2.0/oa/upload/image`` (jpg/png, 1 MB),
  ``/v2.0/oa/upload/gif`` (5 MB) and ``/v2.0/oa/upload/file`` (pdf, doc,
  docx, 5 MB) take a multipart form with one ``file`` field and the
  ``access_token`` header; images and GIFs answer ``data.attachment_id``
  (and a ``data.url``), files answer ``data.token``;
* an image or a GIF goes as ``attachment`` ``{"type": "template",
  "payload": {"template_type": "media", "elements": [{"media_type":
  "image" | "gif", "attachment_id": ...}]}}``, with an optional ``text``
  beside it; a file as ``{"type": "file", "payload": {"token": ...}}``;
* a product card as a ``template_type: "list"`` attachment whose element
  has ``title``, ``subtitle``, ``image_url`` and a ``default_action`` of
  type ``oa.open.url``; several products (at most ``LIST_MAX``) as one
  such attachment with one element each. Every image is uploaded first
  and its element takes the upload answer's ``url``.

Plain Python: the limits are checked here before any upload, the texts are
English terms a model shows in its reader's language.
"""

from .base import RETRY, UNKNOWN, MediaFile, SendResult, TransportError, to_int
from .payload import as_dict, as_id, as_text
from .terms import Term, _lt

IMAGE = "image"
GIF = "gif"
FILE = "file"
CARD = "card"

MB = 1024 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# kind -> (MIME types, file extensions, maximum size in bytes, upload path)
MEDIA_RULES = {
    IMAGE: (("image/jpeg", "image/jpg", "image/png"), ("jpg", "jpeg", "png"), MB),
    GIF: (("image/gif",), ("gif",), 5 * MB),
    FILE: (
        ("application/pdf", "application/msword", DOCX),
        ("pdf", "doc", "docx"),
        5 * MB,
    ),
}
UPLOAD_PATHS = {
    IMAGE: "/v2.0/oa/upload/image",
    GIF: "/v2.0/oa/upload/gif",
    FILE: "/v2.0/oa/upload/file",
}
CARD_TITLE_MAX = 100
CARD_SUBTITLE_MAX = 500
# elements of one list message (Zalo shows at most 5)
LIST_MAX = 5


def _extension(name):
    name = (name or "").lower()
    return name.rsplit(".", 1)[1] if "." in name else ""


def media_kind(mimetype, name=None):
    """``IMAGE``, ``GIF`` or ``FILE`` for a file Zalo takes, else None.
    The MIME type decides; the extension only when the type is generic."""
    mimetype = (mimetype or "").split(";")[0].strip().lower()
    for kind, (mimetypes, _extensions, _max) in MEDIA_RULES.items():
        if mimetype in mimetypes:
            return kind
    if mimetype in ("", "application/octet-stream"):
        extension = _extension(name)
        for kind, (_mimetypes, extensions, _max) in MEDIA_RULES.items():
            if extension in extensions:
                return kind
    return None


def format_size(size):
    """``size`` bytes as ``"1.5 MB"`` / ``"300 KB"``."""
    if size >= MB:
        return "%.1f MB" % (size / MB)
    return "%d KB" % max(1, round(size / 1024))


def check_media(name, mimetype, size):
    """None when Zalo takes this file, else why not (a ``Term``)."""
    kind = media_kind(mimetype, name)
    if kind is None:
        return Term(
            _lt(
                '"%(name)s" cannot be sent on Zalo: only JPG or PNG images, GIFs '
                "and PDF, DOC or DOCX documents can."
            ),
            name=name,
        )
    if not size:
        return Term(_lt('"%(name)s" is empty.'), name=name)
    limit = MEDIA_RULES[kind][2]
    if size > limit:
        rules = {
            IMAGE: _lt(
                '"%(name)s" is %(size)s: Zalo takes JPG and PNG images up to '
                "%(max)s. Send a smaller image."
            ),
            GIF: _lt('"%(name)s" is %(size)s: Zalo takes GIFs up to %(max)s.'),
            FILE: _lt('"%(name)s" is %(size)s: Zalo takes documents up to %(max)s.'),
        }
        return Term(
            rules[kind], name=name, size=format_size(size), max=format_size(limit)
        )
    return None


def check_media_file(media):
    """:func:`check_media` of a :class:`~.base.MediaFile`."""
    return check_media(media.name, media.mimetype, media.size)


def upload_request(media):
    """``(path, files)`` of the upload of ``media`` (a checked file)."""
    kind = media_kind(media.mimetype, media.name)
    return UPLOAD_PATHS[kind], {"file": (media.name, media.data, media.mimetype)}


def upload_answer(body):
    """``(reference, url)`` from a successful upload answer: the
    ``attachment_id`` (images, GIFs) or ``token`` (files), and the image's
    ``url`` when Zalo gives one."""
    data = as_dict(as_dict(body).get("data"))
    reference = as_id(data.get("attachment_id"), 512) or as_id(data.get("token"), 2048)
    url = as_text(data.get("url"))
    return reference, url if url.startswith(("https://", "http://")) else ""


def media_attachment(kind, reference):
    """The ``message.attachment`` of an uploaded image, GIF or file."""
    if kind == FILE:
        return {"type": "file", "payload": {"token": reference}}
    return {
        "type": "template",
        "payload": {
            "template_type": "media",
            "elements": [{"media_type": kind, "attachment_id": reference}],
        },
    }


def card_element(card, image_url=None):
    """One element of a ``list`` attachment (``card``: ``title``,
    ``subtitle``, optional ``url``)."""
    element = {
        "title": (card.get("title") or "")[:CARD_TITLE_MAX],
        "subtitle": (card.get("subtitle") or "")[:CARD_SUBTITLE_MAX],
    }
    if image_url:
        element["image_url"] = image_url
    if card.get("url"):
        element["default_action"] = {"type": "oa.open.url", "url": card["url"]}
    return element


def card_attachment(card, image_url=None, image_urls=()):
    """The ``message.attachment`` of a product card (``card``: ``title``,
    ``subtitle``, optional ``url``), or of a list of cards (``card``:
    ``{"elements": [card, ...]}``, their images' URLs in ``image_urls``)."""
    if "elements" in card:
        urls = list(image_urls)
        urls += [None] * (LIST_MAX - len(urls))
        elements = [
            card_element(one, url)
            for one, url in zip(card["elements"][:LIST_MAX], urls, strict=False)
        ]
    else:
        elements = [card_element(card, image_url)]
    return {
        "type": "template",
        "payload": {"template_type": "list", "elements": elements},
    }


def check_card_list(card, images):
    """None when Zalo takes this list of cards and their images (JPG or PNG
    within the limits), else why not (a ``Term`` or a lazy text)."""
    elements = card.get("elements") or []
    if not 1 <= len(elements) <= LIST_MAX:
        return Term(
            _lt("A list of products holds 1 to %(max)s products (%(count)s given)."),
            max=LIST_MAX,
            count=len(elements),
        )
    if not all(element.get("title") for element in elements):
        return _lt("A product card needs a title.")
    for media in images:
        if media is None:
            continue
        error = check_media_file(media)
        if error:
            return error
        if media_kind(media.mimetype, media.name) != IMAGE:
            return _lt("The image of a product card must be a JPG or PNG.")
    return None


class ZaloMediaMixin:
    """The Zalo adapter's uploads (``ZaloAdapter`` mixes it in)."""

    @staticmethod
    def _check_media(msg):
        """Zalo's type and size limits, before anything is uploaded."""
        error = check_media_file(msg.media)
        if error:
            raise ValueError(error)
        if msg.kind == CARD and media_kind(msg.media.mimetype, msg.media.name) != IMAGE:
            raise ValueError(_lt("The image of a product card must be a JPG or PNG."))
        if msg.kind == CARD and not (msg.card or {}).get("title"):
            raise ValueError(_lt("A product card needs a title."))

    def _upload_card_images(self, msg):
        """Upload the images of a list of cards: their URLs in order (None
        for a card without an image), or the ``SendResult`` of the first
        failed upload (nothing is sent then)."""
        urls = []
        for media in msg.card_images:
            if media is None:
                urls.append(None)
                continue
            uploaded = self._upload_media(media)
            if isinstance(uploaded, SendResult):
                return uploaded
            urls.append(uploaded[1] or None)
        return urls

    def _upload_media(self, media):
        """Upload ``media``: ``(attachment id or token, url)``, or the
        ``SendResult`` of a failed upload (never *outcome unknown*: nothing
        reached the customer)."""
        path, files = upload_request(media)
        try:
            body = self._request(
                "POST",
                f"{self.openapi_url}{path}",
                files=files,
                headers=self._headers(),
            )
        except TransportError as exc:
            result = self._transport_result(exc)
            if result.status == UNKNOWN:
                result.status = RETRY
            return result
        code = to_int(body.get("error"))
        if code not in (0, None):
            return self._parse_send_response(body)
        reference, url = upload_answer(body)
        if code is None or not reference:
            return SendResult(
                status=RETRY,
                message=_lt("Zalo's upload answer has no attachment id or token."),
                reason="bad_response",
                raw=self._clean_raw(body),
            )
        return reference, url

    @staticmethod
    def _uploaded_attachment(msg, reference, url):
        if msg.kind == CARD:
            return card_attachment(msg.card or {}, url or msg.image_url)
        return media_attachment(
            media_kind(msg.media.mimetype, msg.media.name), reference
        )


__all__ = [
    "CARD",
    "FILE",
    "GIF",
    "IMAGE",
    "LIST_MAX",
    "MediaFile",
    "ZaloMediaMixin",
    "card_attachment",
    "card_element",
    "check_card_list",
    "check_media",
    "check_media_file",
    "media_attachment",
    "media_kind",
    "upload_answer",
    "upload_request",
]
