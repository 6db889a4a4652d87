"""Text helpers: the accent folder (SMS text, opt-out and keyword matching)
and SMS segment counting.

Segment rules (3GPP TS 23.038 / 23.040):

* GSM-7: 160 characters in one part, 153 per part when concatenated; the
  extension table characters (``^ { } \\ [ ~ ] | €`` and form feed) count 2.
* UCS-2: 70 characters in one part, 67 per part when concatenated, counted in
  UTF-16 code units.

Vietnamese carriers and gateways bill any text carrying a Vietnamese
diacritic as Unicode, even when the letter (``à``, ``é``...) exists in the
GSM-7 table, so any Vietnamese diacritic forces UCS-2 here.
"""

import math
import re
import unicodedata

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7 = "GSM-7"
UCS2 = "UCS-2"

_VIETNAMESE_BASE_LETTERS = frozenset("aeiouyAEIOUYdD")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")


def fold_accents(text, compatibility=False):
    """The addon's one accent folder: ``text`` without tones, vowel marks
    nor any other combining mark, ``đ`` read as ``d``, in NFC form.
    ``compatibility``: fold compatibility characters too (NFKD: full-width
    letters, ligatures...), for comparing words; SMS text keeps them (NFD)."""
    if not text:
        return text or ""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD" if compatibility else "NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


def strip_vietnamese_accents(text):
    """Remove Vietnamese tones and vowel marks: ``Đặng Thị Ánh`` -> ``Dang Thi Anh``."""
    return fold_accents(text)


def normalize_keyword(text):
    """'  Hủy!! ' -> 'HUY', 'Từ  chối' -> 'TU CHOI' (accents, case, punctuation)."""
    text = _NOT_ALNUM.sub(" ", fold_accents(text, compatibility=True))
    return " ".join(text.upper().split())


def split_keywords(text):
    """'giá, bảng giá\\nGIA' -> ['GIA', 'BANG GIA'] (normalised, de-duplicated)."""
    seen = []
    for part in (text or "").replace("\n", ",").split(","):
        word = normalize_keyword(part)
        if word and word not in seen:
            seen.append(word)
    return seen


def text_matches(text, keywords):
    """Whether one of the normalised keywords appears as whole words."""
    padded = " %s " % normalize_keyword(text)
    return any(" %s " % word in padded for word in keywords)


def has_vietnamese_diacritics(text):
    """True when stripping accents would change a Vietnamese letter."""
    if not text:
        return False
    for ch in text:
        if ch in "đĐ":
            return True
        if ord(ch) < 128:
            continue
        base = unicodedata.normalize("NFD", ch)
        if len(base) > 1 and base[0] in _VIETNAMESE_BASE_LETTERS:
            return True
    return False


def is_gsm7(text):
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def sms_segments(text):
    """Return ``(encoding, chars, segments)`` for an SMS body.

    ``chars`` is in the encoding's units: septets for GSM-7 (extension
    characters count 2) and UTF-16 code units for UCS-2.
    """
    text = unicodedata.normalize("NFC", text or "")
    if is_gsm7(text) and not has_vietnamese_diacritics(text):
        chars = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi, encoding = 160, 153, GSM7
    else:
        chars = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, UCS2
    if chars == 0:
        return encoding, 0, 0
    if chars <= single:
        return encoding, chars, 1
    return encoding, chars, math.ceil(chars / multi)
