"""A ZBS template composed in Odoo, as Zalo takes it: the plain objects
(:class:`ZbsDraft` and its parts), Zalo's rules checked locally before
anything is paid for or sent for review (:func:`validate_draft`), the body
of ``POST /template/create`` and ``/template/edit`` (:func:`build_body`),
and the adapter calls (:class:`ZbsTemplateAdmin`, mixed into the Zalo
adapter): create, edit, upload an image. See PROTOCOLS.md for what was
(not) confirmed."""

import re
import unicodedata
from dataclasses import dataclass

from .base import ProviderError
from .terms import Term, _lt

# template_type of /template/create
TYPE_CUSTOM, TYPE_OTP, TYPE_PAYMENT, TYPE_VOUCHER, TYPE_RATING = 1, 2, 3, 4, 5
TEMPLATE_TYPES = (TYPE_CUSTOM, TYPE_OTP, TYPE_PAYMENT, TYPE_VOUCHER, TYPE_RATING)
TAGS = ("1", "2", "3")

# parameter type codes (``params[].type``) -> maximum length of a value
PARAM_KIND_MAX = {
    "1": 30,  # customer name
    "2": 15,  # phone number
    "3": 200,  # address
    "4": 30,  # code (order, customer...)
    "5": 30,  # custom label
    "6": 30,  # transaction status
    "7": 50,  # contact information
    "8": 5,  # gender / title
    "9": 200,  # product / brand name
    "10": 20,  # quantity / amount
    "11": 20,  # time
    "12": 10,  # OTP
    "13": 200,  # URL
    "14": 12,  # currency (VND)
    "15": 90,  # bank transfer note
}
OTP_KIND = "12"

# button types (``BUTTONS.items[].type``)
BUTTON_URL_TYPES = (1, 3, 4, 5, 6, 7, 8)  # a link: business page, OA, mini app...
BUTTON_PHONE = 2
# template type -> (button types allowed, most buttons)
BUTTON_RULES = {
    TYPE_CUSTOM: ((1, 2, 3, 4, 5, 6, 7, 8), 2),
    TYPE_OTP: ((), 0),
    TYPE_PAYMENT: ((1, 2, 3), 2),
    TYPE_VOUCHER: ((1, 2, 3, 4, 5, 6, 7, 8), 2),
    TYPE_RATING: ((1, 2, 3), 2),
}

NAME_LENGTH = (10, 60)
TITLE_LENGTH = (9, 65)
PARAGRAPH_MAX = 400
PARAGRAPHS_MAX = 4
ROWS_MAX = 8
ROW_TITLE_MAX = 25
ROW_VALUE_MAX = 100
BUTTON_TITLE_LENGTH = (5, 30)
NOTE_MAX = 400
IMAGE_MAX_BYTES = 500 * 1024
TRACKING_ID_MAX = 48

PARAM_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
# a parameter in a text: <customer_name>
PLACEHOLDER_RE = re.compile(r"<([A-Za-z0-9_]+)>")
PHONE_RE = re.compile(r"^(84|0)\d{9,10}$")


@dataclass(frozen=True)
class ZbsParam:
    name: str
    kind: str  # a PARAM_KIND_MAX code
    sample: str


@dataclass(frozen=True)
class ZbsRow:
    title: str
    value: str  # text and/or <param>


@dataclass(frozen=True)
class ZbsButton:
    kind: int
    title: str
    content: str  # URL, or a phone number for BUTTON_PHONE


@dataclass(frozen=True)
class ZbsDraft:
    name: str
    template_type: int
    tag: str
    title: str
    paragraphs: tuple  # of str
    rows: tuple  # of ZbsRow
    buttons: tuple  # of ZbsButton
    params: tuple  # of ZbsParam
    note: str = ""
    logo_media_id: str = ""
    has_logo: bool = False  # a logo is chosen (uploaded or to upload)


def _length(text):
    return len(unicodedata.normalize("NFC", text or ""))


def _check_length(errors, what, text, bounds):
    low, high = bounds
    length = _length(text)
    if length < low or length > high:
        errors.append(
            Term(
                _lt(
                    "%(what)s must have %(low)s to %(high)s "
                    "characters, it has %(length)s."
                ),
                what=what,
                low=low,
                high=high,
                length=length,
            )
        )


def validate_draft(draft):
    """English errors (``Term``) of a draft against Zalo's rules, each
    saying what to fix; an empty list means it may be submitted."""
    errors = []
    _check_length(errors, _lt("The template name"), draft.name, NAME_LENGTH)
    if draft.template_type not in TEMPLATE_TYPES:
        errors.append(Term(_lt("Pick a template type.")))
    if draft.tag not in TAGS:
        errors.append(Term(_lt("Pick a tag: transaction, customer care or promotion.")))
    if not draft.has_logo:
        errors.append(Term(_lt("Add a logo: Zalo shows it in the template header.")))
    _check_length(errors, _lt("The title"), draft.title, TITLE_LENGTH)
    errors += _check_body(draft)
    errors += _check_buttons(draft)
    errors += _check_params(draft)
    if _length(draft.note) > NOTE_MAX:
        errors.append(
            Term(
                _lt("The note for Zalo's reviewers is longer than %(max)s characters."),
                max=NOTE_MAX,
            )
        )
    return errors


def _check_body(draft):
    errors = []
    if not draft.paragraphs:
        errors.append(Term(_lt("Write at least one paragraph.")))
    if len(draft.paragraphs) > PARAGRAPHS_MAX:
        errors.append(Term(_lt("At most %(max)s paragraphs."), max=PARAGRAPHS_MAX))
    for paragraph in draft.paragraphs:
        if _length(paragraph) > PARAGRAPH_MAX:
            errors.append(
                Term(
                    _lt("A paragraph is longer than %(max)s characters."),
                    max=PARAGRAPH_MAX,
                )
            )
    if len(draft.rows) > ROWS_MAX:
        errors.append(Term(_lt("At most %(max)s table rows."), max=ROWS_MAX))
    for row in draft.rows:
        if not row.title or not row.value:
            errors.append(Term(_lt("Each table row needs a label and a value.")))
        elif _length(row.title) > ROW_TITLE_MAX or _length(row.value) > ROW_VALUE_MAX:
            errors.append(
                Term(
                    _lt(
                        "Table row %(row)s: a label has at most %(title)s "
                        "characters, a value %(value)s."
                    ),
                    row=row.title,
                    title=ROW_TITLE_MAX,
                    value=ROW_VALUE_MAX,
                )
            )
    return errors


def _check_buttons(draft):
    errors = []
    allowed, most = BUTTON_RULES.get(draft.template_type, ((), 0))
    if len(draft.buttons) > most:
        errors.append(
            Term(_lt("This template type takes at most %(max)s buttons."), max=most)
        )
    for button in draft.buttons:
        if button.kind not in allowed:
            errors.append(
                Term(
                    _lt(
                        "Button %(title)s: this type of button is not "
                        "allowed in this template type."
                    ),
                    title=button.title,
                )
            )
        _check_length(errors, _lt("A button title"), button.title, BUTTON_TITLE_LENGTH)
        content = (button.content or "").strip()
        if button.kind == BUTTON_PHONE:
            if not PHONE_RE.match(content):
                errors.append(
                    Term(
                        _lt(
                            "Button %(title)s: give a phone number such as 84901234567."
                        ),
                        title=button.title,
                    )
                )
        elif not content.startswith("https://"):
            errors.append(
                Term(
                    _lt("Button %(title)s: give a link starting with https://."),
                    title=button.title,
                )
            )
    return errors


def _used_params(draft):
    texts = [draft.title, *draft.paragraphs, *(row.value for row in draft.rows)]
    return {name for text in texts for name in PLACEHOLDER_RE.findall(text or "")}


def _check_params(draft):
    errors = []
    declared = {param.name for param in draft.params}
    for param in draft.params:
        if not PARAM_NAME_RE.match(param.name or ""):
            errors.append(
                Term(
                    _lt(
                        "Parameter %(name)s: use lowercase letters, "
                        "digits and _ (at most 30)."
                    ),
                    name=param.name,
                )
            )
        if param.kind not in PARAM_KIND_MAX:
            errors.append(
                Term(_lt("Parameter %(name)s: pick its Zalo type."), name=param.name)
            )
            continue
        if not param.sample:
            errors.append(
                Term(
                    _lt(
                        "Parameter %(name)s: give a sample value for Zalo's reviewers."
                    ),
                    name=param.name,
                )
            )
        elif _length(param.sample) > PARAM_KIND_MAX[param.kind]:
            errors.append(
                Term(
                    _lt(
                        "Parameter %(name)s: the sample is longer than "
                        "its type allows (%(max)s)."
                    ),
                    name=param.name,
                    max=PARAM_KIND_MAX[param.kind],
                )
            )
    used = _used_params(draft)
    for name in sorted(used - declared):
        errors.append(
            Term(
                _lt(
                    "<%(name)s> is used in the layout but not declared as a parameter."
                ),
                name=name,
            )
        )
    for name in sorted(declared - used):
        errors.append(
            Term(
                _lt("Parameter %(name)s is declared but not used in the layout."),
                name=name,
            )
        )
    if draft.template_type == TYPE_OTP and not any(
        p.kind == OTP_KIND for p in draft.params
    ):
        errors.append(Term(_lt("An authentication template needs an OTP parameter.")))
    return errors


def build_body(draft, tracking_id=None):
    """The JSON body of ``/template/create`` (``tracking_id`` given) or,
    with ``template_id`` added by the caller, of ``/template/edit``."""
    logo = {"type": "IMAGE", "media_id": draft.logo_media_id}
    body_components = [{"TITLE": {"value": draft.title}}]
    body_components += [{"PARAGRAPH": {"value": text}} for text in draft.paragraphs]
    if draft.rows:
        rows = [{"title": row.title, "value": row.value} for row in draft.rows]
        body_components.append({"TABLE": {"rows": rows}})
    layout = {
        "header": {"components": [{"LOGO": {"light": logo, "dark": logo}}]},
        "body": {"components": body_components},
    }
    if draft.buttons:
        items = [
            {"type": button.kind, "title": button.title, "content": button.content}
            for button in draft.buttons
        ]
        layout["footer"] = {"components": [{"BUTTONS": {"items": items}}]}
    body = {
        "template_name": draft.name,
        "template_type": draft.template_type,
        "tag": int(draft.tag),
        "layout": layout,
        "params": [
            {"name": p.name, "type": p.kind, "sample_value": p.sample}
            for p in draft.params
        ],
        "note": draft.note or "",
    }
    if tracking_id:
        body["tracking_id"] = str(tracking_id)[:TRACKING_ID_MAX]
    return body


# a template's status (as Zalo names it) -> why the queue will not send with it
UNUSABLE_STATUS_TEXT = {
    "DELETE": _lt(
        "The Zalo template was deleted on Zalo (status 5): it can no longer "
        "be sent; pick another template."
    ),
    "DISABLE": _lt(
        "Zalo disabled this template: it cannot be sent until Zalo enables it."
    ),
    "REJECT": _lt(
        "Zalo rejected this template: edit it and submit it again, or pick "
        "another template."
    ),
    "PENDING_REVIEW": _lt(
        "This template is still in Zalo's review: it can be sent once Zalo approves it."
    ),
}


@dataclass(frozen=True)
class SubmitAnswer:
    ref: str  # the template id Zalo gave
    status: str  # PENDING_REVIEW, as a rule
    preview_url: str


class ZbsTemplateAdmin:
    """The Zalo adapter's template-writing calls (mixed into ZaloAdapter,
    which gives ``business_url`` and ``_admin_call``)."""

    def create_template(self, body):
        """``POST /template/create``; returns a :class:`SubmitAnswer`."""
        answer = self._admin_call(
            "POST", f"{self.business_url}/template/create", json=body
        )
        return _submit_answer(answer)

    def edit_template(self, template_id, body):
        """``POST /template/edit`` of a rejected template: resubmitted for
        review."""
        answer = self._admin_call(
            "POST",
            f"{self.business_url}/template/edit",
            json=dict(body, template_id=str(template_id)),
        )
        return _submit_answer(answer, default_ref=str(template_id))

    def upload_image(self, filename, content, mimetype="image/png"):
        """``POST /upload/image`` (multipart ``file``, at most 500 KB):
        the ``media_id`` a template's logo or image refers to."""
        if len(content) > IMAGE_MAX_BYTES:
            raise ProviderError(
                Term(
                    _lt("The image is larger than %(max)s KB."),
                    max=IMAGE_MAX_BYTES // 1024,
                ),
                code="image_size",
            )
        answer = self._admin_call(
            "POST",
            f"{self.business_url}/upload/image",
            files={"file": (filename or "logo.png", content, mimetype)},
        )
        media_id = (answer.get("data") or {}).get("media_id")
        if not media_id:
            raise ProviderError(
                _lt("Zalo gave no media id for the image."), code="media"
            )
        return str(media_id)


def _submit_answer(answer, default_ref=""):
    data = answer.get("data") or {}
    ref = str(data.get("template_id") or data.get("templateId") or default_ref)
    if not ref:
        raise ProviderError(_lt("Zalo gave no template id."), code="template")
    return SubmitAnswer(
        ref=ref,
        status=str(data.get("status") or "PENDING_REVIEW"),
        preview_url=data.get("preview_url") or data.get("previewUrl") or "",
    )
