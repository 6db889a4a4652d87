"""Provider adapters: plain Python, no ORM (see ``base.py`` for the rules)."""

from .base import (
    ACCEPTED,
    AUTH,
    AWAIT_RECEIPT,
    HOLD,
    PERMANENT,
    QUOTA,
    RESEND,
    RETRY,
    STATUSES,
    UNKNOWN,
    UNREACHABLE,
    BaseAdapter,
    MediaFile,
    OutboundMessage,
    ProviderError,
    SendResult,
    to_int,
)
from .email_codes import EMAIL_CODES
from .esms import ESMS_CODES, EsmsAdapter
from .phone import to_national_vn
from .sandbox import SandboxAdapter, sandbox_final_state
from .sms_text import has_vietnamese_diacritics, sms_segments, strip_vietnamese_accents
from .speedsms import SPEEDSMS_CODES, SpeedSmsAdapter
from .transport import get_session
from .terms import Term, _lt
from .zalo import ZALO_ERRORS, ZaloAdapter, classify_error, validate_template_params

ADAPTERS = {
    "zalo": ZaloAdapter,
    "esms": EsmsAdapter,
    "speedsms": SpeedSmsAdapter,
    "sandbox": SandboxAdapter,
}


def get_adapter(provider_type, config, session=None):
    """Return the adapter for ``provider_type`` built on ``config``."""
    try:
        adapter_class = ADAPTERS[provider_type]
    except KeyError as exc:
        raise ProviderError(
            Term(_lt("Unknown provider type %(type)r."), type=provider_type),
            code="config",
        ) from exc
    return adapter_class(config, session=session)


ERROR_TABLES = {"esms": ESMS_CODES, "speedsms": SPEEDSMS_CODES, "email": EMAIL_CODES}


def error_hint(provider_type, code):
    """The English text (marked for translation) of a provider's error
    ``code``, or None when the code is not in its table."""
    if code in (None, "", False):
        return None
    if provider_type in ("zalo", "sandbox"):
        # the sandbox answers with Zalo's codes
        entry = ZALO_ERRORS.get(to_int(code))
    else:
        entry = ERROR_TABLES.get(provider_type, {}).get(str(code))
    return entry[2] if entry else None


__all__ = [
    "ACCEPTED",
    "ADAPTERS",
    "AUTH",
    "AWAIT_RECEIPT",
    "HOLD",
    "ESMS_CODES",
    "PERMANENT",
    "QUOTA",
    "RESEND",
    "RETRY",
    "SPEEDSMS_CODES",
    "STATUSES",
    "UNKNOWN",
    "UNREACHABLE",
    "ZALO_ERRORS",
    "BaseAdapter",
    "EsmsAdapter",
    "MediaFile",
    "OutboundMessage",
    "ProviderError",
    "SandboxAdapter",
    "SendResult",
    "SpeedSmsAdapter",
    "ZaloAdapter",
    "classify_error",
    "error_hint",
    "get_adapter",
    "get_session",
    "has_vietnamese_diacritics",
    "sandbox_final_state",
    "sms_segments",
    "strip_vietnamese_accents",
    "to_national_vn",
    "validate_template_params",
]
