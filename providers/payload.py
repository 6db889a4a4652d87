"""Reading a provider's payload whatever its fields hold.

Webhook bodies and delivery reports come from outside: a field may be
missing, a string where a number was documented (or the other way round), a
list where an object was expected. These readers never raise: a value of an
unexpected type reads as missing.
"""

import hashlib
from datetime import datetime

MAX_ID_LENGTH = 64  # longer "ids" in a payload are not ids


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def as_text(value):
    """A string or a number as stripped text; anything else as ''."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    try:
        return str(value).strip()
    except ValueError:  # an int too long to print
        return ""


def as_id(value, max_length=MAX_ID_LENGTH):
    """A provider id (Zalo ids are digits, sometimes over 2^53: kept as
    text), or '' when the value cannot be one."""
    text = as_text(value)
    return text if len(text) <= max_length else ""


def as_id_list(value):
    """Ids from a list of ids, or from a single id."""
    values = value if isinstance(value, list) else [value]
    return [text for text in map(as_id, values) if text]


def as_int(value, default=None, low=0, high=2**31 - 1):
    """An integer from a number or digits (not a bool, not a float with a
    fraction), within [low, high], else ``default``."""
    text = as_text(value)
    if text.endswith(".0"):
        text = text[:-2]
    sign = text[:1] == "-"
    digits = text[1:] if sign else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return default
    number = -int(digits) if sign else int(digits)
    return number if low <= number <= high else default


def as_signed_int(value, default=0):
    """A 32-bit signed integer (a status code), else ``default``."""
    number = as_int(value, low=-(2**31), high=2**31 - 1)
    return default if number is None else number


# what a timestamp of this many digits counts, at most (Zalo's published
# samples show 11- and 12-digit "milliseconds" beside the usual 13)
SECONDS_BELOW = 10**10  # 10 digits: seconds (up to the year 2286)
MILLISECONDS_BELOW = 10**13  # 11 to 13 digits: milliseconds
MICROSECONDS_BELOW = 10**16  # 14 to 16 digits: microseconds


def epoch_seconds(value):
    """Seconds since the epoch of a provider timestamp (epoch milliseconds,
    as a string or a number; seconds and microseconds also read, told apart
    by their number of digits), or None."""
    number = as_int(value, high=MICROSECONDS_BELOW - 1)
    if not number:
        return None
    if number < SECONDS_BELOW:
        return float(number)
    if number < MILLISECONDS_BELOW:
        return number / 1000.0
    return number / 1000000.0


def epoch_datetime(value):
    """A timestamp read by :func:`epoch_seconds` as a naive UTC datetime,
    or None."""
    epoch = epoch_seconds(value)
    if epoch is None:
        return None
    try:
        return datetime.utcfromtimestamp(int(epoch))
    except (OverflowError, OSError, ValueError):
        return None


def event_key_digest(*parts):
    """A stable key for calls without a provider id."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()
