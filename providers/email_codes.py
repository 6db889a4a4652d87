"""Odoo's e-mail failure types in plain words.

The queue keeps the failure type Odoo gave an e-mail (``mail.mail``'s, or
``mail_bounce`` for a bounce) as the message's error code
(``engine/emails.py``); this table says what each one means, like the SMS
and Zalo code tables. Entries: code -> (status, reason, text).
"""

from .base import PERMANENT, UNREACHABLE
from .terms import _lt

EMAIL_CODES = {
    "mail_bounce": (
        UNREACHABLE,
        "bounce",
        _lt("The e-mail bounced: the mailbox does not exist or refused it."),
    ),
    "mail_smtp": (
        UNREACHABLE,
        "server",
        _lt("The outgoing mail server could not be reached."),
    ),
    "mail_email_invalid": (
        UNREACHABLE,
        "invalid_address",
        _lt("The e-mail address is not valid."),
    ),
    "mail_email_missing": (
        UNREACHABLE,
        "no_address",
        _lt("There is no e-mail address to send to."),
    ),
    "mail_from_invalid": (
        PERMANENT,
        "sender",
        _lt("The sender address is not valid: check the company's e-mail."),
    ),
    "mail_from_missing": (
        PERMANENT,
        "sender",
        _lt("There is no sender address: set the company's e-mail."),
    ),
    "unknown": (
        UNREACHABLE,
        "refused",
        _lt("The mail server refused the e-mail."),
    ),
}
