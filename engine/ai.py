"""Grounding of AI answers: the figures in an answer come from Odoo.

The rule (``ground``):

1. The model never writes a price, an order amount or a stock quantity. The
   data it is given names each figure by a placeholder - ``{{price:ID}}`` (a
   product's price for this customer), ``{{stock:ID}}`` (its stock, or
   "available" without the stock app), ``{{amount:ID}}`` (an order's total) -
   and it is told to write the placeholder. It may see the raw number beside
   it (to compare or sort), never in a form we substitute.
2. Each placeholder is replaced by Odoo's value, formatted by Odoo (VND in the
   customer's language). A placeholder whose ID was not in the data given to
   the model is an invented product or order: the answer is refused.
3. After the substitution, every amount of money in the answer (digits with a
   currency - ₫, đ, đồng, VND, $, USD, €, k, nghìn, triệu... - or after a word
   such as "giá"/"price"/"total"), and every count of items ("5 cái", "3
   units", "còn 4"), must be exactly one of the values substituted into this
   answer. Anything else is a figure the model wrote itself: the answer is
   refused.

A refused answer is never sent: the conversation goes to a person. So a
price or a stock the customer reads from the bot is always Odoo's, for the
very product the model named by its ID - copying the right number without
its placeholder is refused too, since nothing proves which product it was.
Plain Python, no ORM: the model file builds the values, this checks.
"""

import re
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"\{\{\s*(price|stock|amount)\s*:\s*(\d+)\s*\}\}", re.I)

# letters that may not follow a currency word ("k" in "500k", not in "5 km")
_NOT_LETTER = r"(?![^\W\d_])"
_NUMBER = r"\d(?:[\d.,]|\s(?=\d{3}))*"
_CURRENCY_AFTER = (
    r"(₫|đồng|dong|đ|vnđ|vnd|usd|\$|€|eur|k|nghìn|nghin|ngàn|ngan|"
    r"triệu|trieu|tr|tỷ|ty)"
)
_CURRENCY_BEFORE = r"(₫|\$|€|vnd|vnđ|usd|eur)"
_MONEY_WORDS = r"(giá|gia|price|prices|costs?|tổng|tong|total|thành tiền|amount)"
MONEY_AFTER = re.compile(
    r"(?<![\w.,])(%s)\s*%s%s" % (_NUMBER, _CURRENCY_AFTER, _NOT_LETTER), re.I
)
MONEY_BEFORE = re.compile(r"%s\s*(%s)" % (_CURRENCY_BEFORE, _NUMBER), re.I)
MONEY_WORD = re.compile(
    r"\b%s\s*(?:là|la|is|:|=|of|từ|tu|from|chỉ|chi|only)?\s*(%s)"
    % (_MONEY_WORDS, _NUMBER),
    re.I,
)
_UNITS = (
    r"(cái|cai|chiếc|chiec|sản phẩm|san pham|sp|hộp|hop|bộ|bo|units?|pcs|"
    r"pieces?|items?|left|in stock)"
)
COUNT_AFTER = re.compile(r"(?<![\w.,])(\d+)\s*%s%s" % (_UNITS, _NOT_LETTER), re.I)
COUNT_BEFORE = re.compile(
    r"\b(còn|con|tồn kho|ton kho|stock|only)\s*(?:là|la|:)?\s*(\d+)", re.I
)
_MULTIPLIERS = {
    "k": 1e3,
    "nghìn": 1e3,
    "nghin": 1e3,
    "ngàn": 1e3,
    "ngan": 1e3,
    "tr": 1e6,
    "triệu": 1e6,
    "trieu": 1e6,
    "tỷ": 1e9,
    "ty": 1e9,
}


class GroundingError(Exception):
    """The answer is not grounded in Odoo's data (the text says why; it
    holds no customer data)."""


@dataclass(frozen=True)
class Value:
    """A figure from Odoo: ``text`` replaces the placeholder, ``number`` is
    what an amount or a count in the answer is compared with."""

    text: str
    number: float | None = None


def parse_number(text, multiplier=1.0):
    """``1.250.000`` / ``1,250,000`` / ``1 250 000`` -> 1250000;
    ``1,5`` with a multiplier (1,5 triệu) -> 1.5 (a separator followed by
    exactly three digits groups thousands, otherwise it is the decimal one)."""
    text = re.sub(r"\s", "", text).strip(".,")
    parts = re.split(r"[.,]", text)
    if len(parts) > 1 and len(parts[-1]) != 3:
        whole, decimals = "".join(parts[:-1]), parts[-1]
        value = float(f"{whole or 0}.{decimals}")
    else:
        value = float("".join(parts) or 0)
    return value * multiplier


def amounts_in(text):
    """The amounts of money written in ``text``."""
    found = []
    for match in MONEY_AFTER.finditer(text):
        unit = match.group(2).lower()
        found.append(parse_number(match.group(1), _MULTIPLIERS.get(unit, 1.0)))
    for match in MONEY_BEFORE.finditer(text):
        found.append(parse_number(match.group(2)))
    for match in MONEY_WORD.finditer(text):
        found.append(parse_number(match.group(2)))
    return found


def counts_in(text):
    """The counts of items written in ``text`` ("5 cái", "còn 3")."""
    found = [float(m.group(1)) for m in COUNT_AFTER.finditer(text)]
    found += [float(m.group(2)) for m in COUNT_BEFORE.finditer(text)]
    return found


def substitute(answer, values):
    """``answer`` with its placeholders replaced by ``values[(kind, id)]``;
    returns ``(text, used)`` where ``used`` are the substituted values.
    An unknown placeholder raises :class:`GroundingError`."""
    used = []

    def replace(match):
        key = (match.group(1).lower(), int(match.group(2)))
        value = values.get(key)
        if value is None:
            raise GroundingError("placeholder %s:%s not in the data" % key)
        used.append(value)
        return value.text

    return PLACEHOLDER.sub(replace, answer), used


def _known(number, allowed):
    return any(abs(number - value) < 0.5 for value in allowed)


def ground(answer, values):
    """The answer to send: placeholders replaced by Odoo's values, every
    amount and count in it one of those values (see the module's rule);
    raises :class:`GroundingError` otherwise."""
    text, used = substitute(answer, values)
    allowed = [value.number for value in used if value.number is not None]
    for number in amounts_in(text):
        if not _known(number, allowed):
            raise GroundingError("an amount not taken from the data")
    for number in counts_in(text):
        if not _known(number, allowed):
            raise GroundingError("a quantity not taken from the data")
    return text
