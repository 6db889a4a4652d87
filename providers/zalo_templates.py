"""Zalo template admin answers read into plain objects: a template of
``GET /template/all`` with its details (``GET /template/info/v2``), and the
OA's quota (``GET /message/quota``); and the other way, a ZBS template
composed in Odoo (:class:`ZbsDraft`), checked against Zalo's rules and
written as the body of ``POST /template/create`` / ``/template/edit``
(``zalo_layout.py``). See PROTOCOLS.md for the shapes."""

from dataclasses import dataclass

PARAM_TYPES = ("STRING", "NUMBER", "DATE", "CURRENCY")
# ``templateTag`` of ``/template/info/v2`` (words) -> the ``tag`` code
_TAG_WORDS = (("PROMOTION", "3"), ("CUSTOMER_CARE", "2"), ("TRANSACTION", "1"))


@dataclass(frozen=True)
class ZaloTemplateParam:
    name: str
    required: bool
    param_type: str  # one of PARAM_TYPES (others read as STRING)
    max_length: int
    min_length: int


@dataclass(frozen=True)
class ZaloTemplate:
    ref: str  # Zalo's templateId, as text
    name: str
    status: str
    preview_url: str
    price_phone: float
    price_uid: float  # the price by phone when Zalo gives none
    params: tuple  # of ZaloTemplateParam
    reason: str = ""  # Zalo's words on a rejection
    quality: str = ""  # templateQuality: HIGH, MEDIUM, LOW, UNDEFINED
    tag: str = ""  # "1" transaction, "2" customer care, "3" promotion


def parse_template(item, detail):
    """The :class:`ZaloTemplate` of a listed ``item`` and its ``detail``
    (the detail wins where both tell)."""
    price = detail.get("price") or 0
    return ZaloTemplate(
        ref=str(detail.get("templateId") or item.get("templateId")),
        name=detail.get("templateName") or item.get("templateName"),
        status=detail.get("status") or item.get("status"),
        preview_url=detail.get("previewUrl"),
        price_phone=float(price or 0),
        price_uid=float(detail.get("price_uid") or price or 0),
        params=tuple(_param(p) for p in detail.get("listParams") or []),
        reason=detail.get("reason") or "",
        quality=str(detail.get("templateQuality") or item.get("templateQuality") or ""),
        tag=parse_tag(detail.get("templateTag") or detail.get("tag")),
    )


def parse_tag(value):
    """The tag code ("1", "2", "3") of a tag as Zalo writes it (a code, or
    a word such as ``TRANSACTION`` / ``IN_TRANSACTION``), else ""."""
    text = str(value or "").strip().upper()
    if text in ("1", "2", "3"):
        return text
    for word, code in _TAG_WORDS:
        if word in text:
            return code
    return ""


def _param(spec):
    kind = spec.get("type")
    return ZaloTemplateParam(
        name=spec.get("name"),
        required=bool(spec.get("require")),
        param_type=kind if kind in PARAM_TYPES else "STRING",
        max_length=int(spec.get("maxLength") or 0),
        min_length=int(spec.get("minLength") or 0),
    )


def parse_quota(quota):
    """(daily quota, remaining) of a ``/message/quota`` answer's data, or
    None when it holds none."""
    if not quota:
        return None
    return int(quota.get("dailyQuota") or 0), int(quota.get("remainingQuota") or 0)
