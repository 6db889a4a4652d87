"""Phone number normalisation for Vietnamese providers (Zalo, eSMS, SpeedSMS).

Zalo ZBS wants ``84xxxxxxxxx`` (country code, no ``+``, no trunk ``0``); the
SMS gateways accept the same digits. ``phonenumbers`` does the parsing so that
``0912 345 678``, ``+84 912345678``, ``84912345678`` and ``0912.345.678`` all
give ``84912345678``.
"""

import phonenumbers


def _parse(raw, country):
    if raw is None or not str(raw).strip():
        raise ValueError("Phone number is empty.")
    text = str(raw).strip()
    try:
        number = phonenumbers.parse(text, (country or "VN").upper())
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"Invalid phone number {text!r}: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(
            f"Invalid phone number {text!r}: not a valid number for region "
            f"{(country or 'VN').upper()}."
        )
    return number


def normalize_vn_phone(raw, country="VN"):
    """Return the number as international digits without ``+``.

    ``country`` is the region assumed for numbers written in national form.
    Raises ``ValueError`` with an English message when the number is invalid.
    """
    number = _parse(raw, country)
    return f"{number.country_code}{number.national_number}"


def to_e164(raw, country="VN"):
    """Return the number in E.164 form, e.g. ``+84912345678``."""
    number = _parse(raw, country)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_national_vn(digits):
    """``84912345678`` -> ``0912345678`` (the form eSMS shows in its docs)."""
    digits = "".join(ch for ch in str(digits or "") if ch.isdigit())
    if digits.startswith("84") and len(digits) > 9:
        return "0" + digits[2:]
    return digits
