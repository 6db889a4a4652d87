"""The X-ZEvent-Signature of a Zalo webhook call (strict, constant time).

``mac = sha256(<first term> + raw body + timestamp + <secret>)`` in hex, sent
as ``mac=<hex>``. The guides disagree on the first and last terms, so each
known variant can be chosen on the channel (or all of them tried). The
channel is a plain mapping (``zalo_app_id``, ``zalo_oa_id``,
``zalo_oa_secret_key``, ``zalo_app_secret``, ``zalo_signature_variant``,
``id``): the webhook's fast path reads it with SQL, the model passes its
fields.
"""

import hashlib
import hmac
import logging

_logger = logging.getLogger(__name__)

_LOGGED_VARIANTS = set()  # (channel id, variant) already logged by this worker


def zalo_signature_candidates(channel, raw_body, timestamp):
    """{variant: expected hex mac} for the configured variant(s) of a channel
    given as a mapping (see the module's docstring)."""
    app_id = channel.get("zalo_app_id") or ""
    terms = {
        "app_id": (app_id, channel.get("zalo_oa_secret_key")),
        "oa_id": (channel.get("zalo_oa_id") or "", channel.get("zalo_oa_secret_key")),
        "app_secret": (app_id, channel.get("zalo_app_secret")),
    }
    configured = channel.get("zalo_signature_variant") or "any"
    wanted = list(terms) if configured == "any" else [configured]
    candidates = {}
    for variant in wanted:
        prefix, secret = terms.get(variant, (None, None))
        if not prefix or not secret:
            continue
        digest = hashlib.sha256()
        digest.update(prefix.encode())
        digest.update(raw_body)
        digest.update(str(timestamp).encode())
        digest.update(secret.encode())
        candidates[variant] = digest.hexdigest()
    return candidates


def check_zalo_signature(channel, raw_body, timestamp, header):
    """The matching variant name, or False. Constant-time comparison; the
    first match of each variant per channel and worker is logged."""
    mac = (header or "").strip()
    if mac.lower().startswith("mac="):
        mac = mac[4:].strip()
    mac = mac.lower().encode()
    matched = False
    for variant, expected in zalo_signature_candidates(
        channel, raw_body, timestamp
    ).items():
        # every candidate is compared, whatever matched before
        if hmac.compare_digest(expected.encode(), mac) and not matched:
            matched = variant
    if matched and (channel.get("id"), matched) not in _LOGGED_VARIANTS:
        _LOGGED_VARIANTS.add((channel.get("id"), matched))
        _logger.info(
            "Zalo webhook of channel %s: signature variant '%s' matched",
            channel.get("id"),
            matched,
        )
    return matched
