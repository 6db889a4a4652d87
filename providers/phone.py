"""Phone number forms of the Vietnamese providers (Zalo, eSMS, SpeedSMS).

Numbers reach the adapters already normalised by the models
(``res.partner._messaging_normalize_phone``, Odoo's ``phone_validation``):
``84xxxxxxxxx``, country code, no ``+``, no trunk ``0``, which Zalo ZBS and
the SMS gateways accept. eSMS shows the national form in its docs.
"""

import re

# a Vietnamese mobile in the form above: 84, then 9 digits starting with 3,
# 5, 7, 8 or 9 (the 10-digit mobile plan of 2018; landlines start with 2)
VN_MOBILE_RE = re.compile(r"^84[35789]\d{8}$")
# the same test on Odoo's stored E.164 form (``phone_sanitized``), in SQL
VN_MOBILE_SQL_PATTERN = r"^\+84[35789][0-9]{8}$"


def is_vn_mobile(digits):
    """Whether ``digits`` (``84xxxxxxxxx``) is a Vietnamese mobile number:
    the only numbers Zalo ZBS by phone and SMS brandname reach."""
    return bool(VN_MOBILE_RE.match(str(digits or "")))


def to_national_vn(digits):
    """``84912345678`` -> ``0912345678`` (the form eSMS shows in its docs)."""
    digits = "".join(ch for ch in str(digits or "") if ch.isdigit())
    if digits.startswith("84") and len(digits) > 9:
        return "0" + digits[2:]
    return digits
