"""Zalo's error codes: what the queue does with each, and the text a person
reads (marked for translation, see ``terms.py``)."""

from .base import AUTH, PERMANENT, QUOTA, RETRY, UNREACHABLE
from .terms import _lt

# code -> (status, reason, human hint)
# Reasons: "token" means "refresh the access token once and retry"; other AUTH
# reasons mean the channel itself is misconfigured and needs an administrator.
ZALO_ERRORS = {
    # --- rate limit (OA API) ---
    -32: (
        RETRY,
        "rate",
        _lt("Application or OA reached the API call limit per minute."),
    ),
    # --- ZNS / ZBS template messages ---
    -100: (RETRY, "unknown", _lt("Unknown error on Zalo's side, retry later.")),
    -101: (AUTH, "app_config", _lt("Application invalid: check the Zalo app id.")),
    -102: (AUTH, "app_config", _lt("Application does not exist: check the app id.")),
    -103: (
        AUTH,
        "app_config",
        _lt("Application not activated in Zalo for Developers."),
    ),
    -104: (AUTH, "app_config", _lt("App secret key invalid.")),
    -105: (
        AUTH,
        "app_config",
        _lt("Application is not linked to any Official Account."),
    ),
    -106: (PERMANENT, "method", _lt("Method unsupported.")),
    -107: (PERMANENT, "invalid_request", _lt("Message id invalid.")),
    -108: (PERMANENT, "invalid_phone", _lt("Phone number invalid (use 84xxxxxxxxx).")),
    -109: (PERMANENT, "template", _lt("Template id invalid.")),
    -1091: (PERMANENT, "template", _lt("This template cannot be edited.")),
    -110: (
        UNREACHABLE,
        "zalo_version",
        _lt("Recipient's Zalo version is unsupported."),
    ),
    -111: (PERMANENT, "params", _lt("Template data empty.")),
    -112: (PERMANENT, "params", _lt("Template data type not defined.")),
    -1121: (PERMANENT, "param_too_long", _lt("A parameter exceeds its max length.")),
    -1122: (
        PERMANENT,
        "param_missing",
        _lt("A required template parameter is missing."),
    ),
    -1123: (PERMANENT, "params", _lt("QR code could not be generated.")),
    -1124: (PERMANENT, "param_format", _lt("A parameter has an invalid format.")),
    -113: (PERMANENT, "button", _lt("Button invalid.")),
    -1131: (PERMANENT, "button", _lt("Button content or link invalid.")),
    -114: (
        UNREACHABLE,
        "user_cannot_receive",
        _lt(
            "User inactive, refuses the message, uses an old Zalo version or other "
            "internal reason."
        ),
    ),
    -115: (QUOTA, "balance", _lt("Out of quota: insufficient ZNS/ZBS balance.")),
    -116: (PERMANENT, "content", _lt("Text or parameter content invalid.")),
    -117: (
        PERMANENT,
        "template_permission",
        _lt("No permission to use this template."),
    ),
    -118: (
        UNREACHABLE,
        "no_zalo_account",
        _lt("Zalo account does not exist or inactive."),
    ),
    -119: (UNREACHABLE, "cannot_receive", _lt("Account cannot receive this message.")),
    -120: (AUTH, "oa_permission", _lt("OA has no permission for this feature.")),
    -1201: (
        PERMANENT,
        "template",
        _lt("OA cannot create promotion (tag 3) templates."),
    ),
    -1202: (PERMANENT, "template", _lt("OA has no permission to use media resources.")),
    -121: (PERMANENT, "invalid_request", _lt("Body data empty.")),
    -122: (PERMANENT, "invalid_request", _lt("Body is not valid JSON.")),
    -123: (PERMANENT, "invalid_request", _lt("RSA message could not be decoded.")),
    -124: (AUTH, "token", _lt("Access token invalid or expired.")),
    -1241: (AUTH, "app_config", _lt("appsecret_proof invalid.")),
    -125: (AUTH, "app_config", _lt("Official Account id invalid.")),
    -126: (QUOTA, "dev_quota", _lt("Development mode quota exhausted.")),
    -127: (
        PERMANENT,
        "dev_mode_recipient",
        _lt("Development mode only sends to app or OA administrators."),
    ),
    -128: (PERMANENT, "rsa", _lt("Encoding key does not exist.")),
    -129: (PERMANENT, "rsa", _lt("RSA key generation failed.")),
    -130: (PERMANENT, "too_long", _lt("Content exceeds the character limit.")),
    -131: (PERMANENT, "template_not_approved", _lt("Template is not approved.")),
    -132: (PERMANENT, "params", _lt("Parameter invalid.")),
    -133: (
        RETRY,
        "night_ban",
        _lt("This template cannot be sent at night (22:00-06:00 Vietnam time)."),
    ),
    -134: (UNREACHABLE, "cannot_receive", _lt("User has not responded to ZNS opt-in.")),
    -135: (AUTH, "oa_permission", _lt("OA has no permission to send ZNS/ZBS.")),
    -1351: (AUTH, "oa_blocked", _lt("OA blocked from sending ZNS/ZBS (violation).")),
    -136: (AUTH, "zca", _lt("A Zalo Cloud Account connection is required.")),
    -137: (
        QUOTA,
        "balance",
        _lt("Zalo Cloud Account charge failed / balance too low."),
    ),
    -138: (AUTH, "app_config", _lt("App has no permission for this feature.")),
    -1381: (AUTH, "zca", _lt("OA has not granted the ZCA extension permission.")),
    -139: (
        UNREACHABLE,
        "user_rejected",
        _lt("User rejected receiving this type of message from the OA."),
    ),
    -140: (
        UNREACHABLE,
        "user_ineligible",
        _lt("User ineligible for this message type."),
    ),
    -141: (UNREACHABLE, "user_rejected", _lt("User rejected messages from this OA.")),
    -142: (PERMANENT, "rsa", _lt("RSA key does not exist.")),
    -143: (PERMANENT, "rsa", _lt("RSA key already exists.")),
    -144: (QUOTA, "daily_quota", _lt("OA exceeded its daily sending limit.")),
    -1441: (QUOTA, "monthly_quota", _lt("OA exceeded its monthly promotion quota.")),
    -145: (PERMANENT, "content_type", _lt("OA may not send this content type.")),
    -146: (PERMANENT, "template_disabled", _lt("Template disabled for low quality.")),
    -147: (QUOTA, "template_daily_quota", _lt("Template exceeded its daily limit.")),
    -1471: (UNREACHABLE, "user_limit", _lt("Monthly follow-up limit for this user.")),
    -1472: (UNREACHABLE, "user_limit", _lt("Daily promotion limit for this user.")),
    -148: (PERMANENT, "journey_token", _lt("Journey token not found.")),
    -149: (PERMANENT, "journey_token", _lt("Journey token invalid.")),
    -1491: (PERMANENT, "journey_token", _lt("Journey token type incompatible.")),
    -150: (PERMANENT, "journey_token", _lt("Journey token expired.")),
    -151: (PERMANENT, "template", _lt("Not an E2EE template.")),
    -152: (RETRY, "unknown", _lt("Failed to get the E2EE key.")),
    -153: (PERMANENT, "content", _lt("Data violates the specification.")),
    -158: (PERMANENT, "invalid_request", _lt("File size exceeds the limit.")),
    -159: (PERMANENT, "invalid_request", _lt("File format not allowed.")),
    -160: (QUOTA, "daily_quota", _lt("Daily create/edit/upload quota exceeded.")),
    -161: (PERMANENT, "invalid_request", _lt("sending_mode value not allowed.")),
    -162: (
        PERMANENT,
        "invalid_request",
        _lt("sending_mode 3 not allowed for tag 1/2."),
    ),
    # --- Official Account API (openapi.zalo.me) ---
    -200: (RETRY, "send_failed", _lt("Send message failed.")),
    -201: (PERMANENT, "invalid_request", _lt("A request parameter is invalid.")),
    -204: (AUTH, "oa_config", _lt("Official Account is disabled.")),
    -205: (AUTH, "oa_config", _lt("Official Account does not exist.")),
    -209: (AUTH, "app_config", _lt("API not supported: is the app activated?")),
    -210: (PERMANENT, "invalid_request", _lt("Parameter exceeds the allowed limit.")),
    -211: (QUOTA, "quota", _lt("Out of quota for this feature.")),
    -212: (AUTH, "app_config", _lt("App has not registered this API.")),
    -213: (UNREACHABLE, "not_follower", _lt("User has not followed the OA.")),
    -214: (RETRY, "busy", _lt("Article is being processed.")),
    -216: (AUTH, "token", _lt("Access token is invalid.")),
    -217: (
        UNREACHABLE,
        "user_blocked",
        _lt("User has blocked invitations from the OA."),
    ),
    -218: (UNREACHABLE, "user_limit", _lt("Recipient's receive quota exceeded.")),
    -219: (AUTH, "app_config", _lt("App is removed or disabled.")),
    -220: (AUTH, "token", _lt("Access token is expired or removed.")),
    -221: (AUTH, "oa_config", _lt("The OA must be verified to use this feature.")),
    -223: (AUTH, "oa_config", _lt("OA has not authorized this API.")),
    -224: (AUTH, "oa_config", _lt("The OA must upgrade its tier package.")),
    -227: (UNREACHABLE, "user_inactive", _lt("User banned or inactive for 45+ days.")),
    -230: (
        UNREACHABLE,
        "cs_window",
        _lt("User did not interact with the OA in 7 days."),
    ),
    -232: (UNREACHABLE, "cs_window", _lt("User interaction missing or expired.")),
    -233: (PERMANENT, "invalid_request", _lt("Message type invalid or unsupported.")),
    -234: (
        RETRY,
        "night_ban",
        _lt("This message cannot be sent at night (22:00-06:00)."),
    ),
    -235: (AUTH, "oa_config", _lt("This API does not support this type of OA.")),
    -240: (PERMANENT, "api_shutdown", _lt("MessageV2 API has been shut down.")),
    -242: (AUTH, "app_config", _lt("Invalid appsecret_proof.")),
    -244: (UNREACHABLE, "user_rejected", _lt("User restricted this message type.")),
    -248: (PERMANENT, "content_policy", _lt("Violates Zalo platform standards.")),
    -249: (
        PERMANENT,
        "template_no_uid",
        _lt("Template does not support sending by UID."),
    ),
    -320: (
        AUTH,
        "zca",
        _lt("App must connect a Zalo Cloud Account for paid features."),
    ),
    -321: (QUOTA, "balance", _lt("Zalo Cloud Account out of money.")),
}

# ZBS template tags (``tag`` of ``/template/create``; ``templateTag`` of
# ``/template/info/v2``) and the sending rules Zalo attaches to them, as the
# secondary sources tell them (see PROTOCOLS.md): tags 2 and 3 only between
# 07:00 and 22:00 Vietnam time; a promotion at most once a day and 30 times
# a month to the same user. Tag 1 (transaction) has no rule of its own.
ZBS_TAG_RULES = {
    "2": {"hours": (7, 22)},
    "3": {"hours": (7, 22), "per_day": 1, "per_month": 30},
}
# daily ZBS quota of a new OA, until Zalo tells another (quota API/webhook)
ZBS_NEW_OA_DAILY_QUOTA = 20000
