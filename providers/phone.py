"""Phone number forms of the Vietnamese providers (Zalo, eSMS, SpeedSMS).

Numbers reach the adapters already normalised by the models
(``res.partner._messaging_normalize_phone``, Odoo's ``phone_validation``):
``84xxxxxxxxx``, country code, no ``+``, no trunk ``0``, which Zalo ZBS and
the SMS gateways accept. eSMS shows the national form in its docs.
"""


def to_national_vn(digits):
    """``84912345678`` -> ``0912345678`` (the form eSMS shows in its docs)."""
    digits = "".join(ch for ch in str(digits or "") if ch.isdigit())
    if digits.startswith("84") and len(digits) > 9:
        return "0" + digits[2:]
    return digits
