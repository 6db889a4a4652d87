"""Tracked links of a message's content, at send time (Odoo's
``link_tracker``, the way ``mass_mailing_sms`` shortens the links of an SMS).

Every http(s) link in a rendered body (SMS, Zalo consultation, e-mail,
sandbox) or in a ZBS parameter whose Zalo type allows a URL becomes the
short link of ONE ``link.tracker`` per (URL, UTM campaign, medium, source)
followed by ``/m/<message id>``: the tracker is shared by every recipient, the
suffix tells whose click it is (``/r/<code>/m/<id>``, see
``controllers/links.py``). The trackers of a batch are found or created once
(:class:`LinkShortener`); each body costs one regular expression.

Marketing SMS of a campaign that asks for it also end with a short signed
opt-out link (``/so/<message id>/<token>``, see
``models/messaging_message_links.py``).
"""

import re
from html import unescape
from urllib.parse import urlsplit

from odoo.tools.mail import TEXT_URL_REGEX

from ..providers.zalo_layout import PARAM_KIND_MAX

# Odoo's own pattern of a link in a text (``_shorten_links_text``)
URL_PATTERN = re.compile(TEXT_URL_REGEX)
# punctuation that ends a sentence, not a link ("... at https://x.vn/sale.")
TRAILING = ".,;:!?)]}'\""
END_OF_LINK = re.compile("[\"'<>]")
# routes whose body is text sent as such (an e-mail's becomes HTML at send,
# its links turned into <a href> by Odoo's plaintext2html)
BODY_ROUTES = ("sms", "sandbox", "consultation", "email")
# routes whose ZBS parameters (``template_data``) may carry links
PARAM_ROUTES = ("phone", "uid")
# Zalo parameter types (``zalo_param_kind``) that take a link: 13 (URL). A
# parameter without a Zalo type is free text when its type is STRING
URL_PARAM_KINDS = ("13",)
# routes whose marketing messages get the SMS opt-out link
OPT_OUT_ROUTES = ("sms",)
OPT_OUT_PATH = "/so/"
# characters of the opt-out token: 40 bits of the database's signature,
# short enough for an SMS, too many to guess
OPT_OUT_TOKEN_SIZE = 10
MESSAGE_SUFFIX = "/m/%s"


def has_host(url):
    """Whether ``url`` names a host (not "https://." nor a broken one)."""
    try:
        return bool(urlsplit(url).hostname)
    except ValueError:  # e.g. "https://[" (an unclosed IPv6 address)
        return False


def get_base_url(env):
    return env["ir.config_parameter"].sudo().get_param("web.base.url") or ""


class LinkShortener:
    """The trackers of one batch of messages: {(url, campaign, medium,
    source): short URL}, each found or created once (never one tracker per
    recipient)."""

    def __init__(self, env):
        self.env = env
        self.base_url = get_base_url(env)
        # already short, or our own pages: left as they are
        self.skip = (
            self.base_url + "/r/",
            self.base_url + "/messaging/unsubscribe/",
            self.base_url + OPT_OUT_PATH,
            # each recipient's own survey answer: one tracker per recipient
            self.base_url + "/survey/",
        )
        self.short_urls = {}

    def short_url(self, url, utm):
        """The tracker's short URL of ``url`` with ``utm`` (campaign,
        medium, source ids)."""
        key = (url, *utm)
        if key not in self.short_urls:
            campaign_id, medium_id, source_id = utm
            tracker = (
                self.env["link.tracker"]
                .sudo()
                .search_or_create(
                    [
                        {
                            "url": url,
                            # the URL as title: no page fetched while sending
                            "title": url,
                            "campaign_id": campaign_id,
                            "medium_id": medium_id,
                            "source_id": source_id,
                        }
                    ]
                )
            )
            self.short_urls[key] = tracker.short_url
        return self.short_urls[key]

    def track_text(self, text, utm, message_id):
        """``text`` with each http(s) link replaced by its tracked link for
        the message ``message_id``."""
        if not text or "http" not in text:
            return text

        def replace(match):
            found = match.group(0)
            # a link ends at a quote or a tag (a link in HTML written by hand)
            url = END_OF_LINK.split(found, maxsplit=1)[0].rstrip(TRAILING)
            if url.startswith(self.skip) or not has_host(url):
                return found
            tracked = self.short_url(unescape(url), utm) + MESSAGE_SUFFIX % message_id
            return tracked + found[len(url) :]

        return URL_PATTERN.sub(replace, text)

    def track_params(self, data, limits, utm, message_id):
        """ZBS parameters ``data`` with the links of the parameters in
        ``limits`` ({name: longest value, 0 for none}: those whose type
        allows a URL) tracked; a value the tracked link would make too long
        is sent as rendered."""
        if not data or not limits:
            return data
        tracked = dict(data)
        for name, limit in limits.items():
            value = data.get(name)
            if not isinstance(value, str):
                continue
            new = self.track_text(value, utm, message_id)
            if not limit or len(new) <= limit:
                tracked[name] = new
        return tracked


def get_url_param_limits(template):
    """{name: longest value (0: none)} of the template's parameters that
    may carry a link: Zalo type URL, or free text (STRING without a Zalo
    type)."""
    limits = {}
    for param in template.sudo().param_ids:
        if param.zalo_param_kind in URL_PARAM_KINDS:
            limits[param.name] = (
                param.max_length or PARAM_KIND_MAX[param.zalo_param_kind]
            )
        elif not param.zalo_param_kind and (param.param_type or "STRING") == "STRING":
            limits[param.name] = param.max_length or 0
    return limits


def get_utm(message):
    """(UTM campaign, medium, source) ids the links of ``message`` carry."""
    message = message.sudo()
    channel = message.channel_id
    return (
        message.campaign_id.utm_campaign_id.id or False,
        channel._get_utm_medium().id or False,
        channel.utm_source_id.id or False,
    )


def wants_opt_out_link(message, route, recipient):
    """A marketing SMS (``route`` to the number ``recipient``) of a
    campaign that appends the opt-out link."""
    return bool(
        message.category == "marketing"
        and route in OPT_OUT_ROUTES
        and recipient
        and "@" not in recipient
        and message.sudo().campaign_id.sms_allow_unsubscribe
    )


def track_values(message, values, shortener, route, recipient):
    """The rendered ``values`` (body, template_data) of ``message``, sent
    on ``route`` to ``recipient``, with tracked links, and the opt-out link
    of a marketing SMS."""
    values = dict(values)
    utm = None
    if values.get("body") and route in BODY_ROUTES:
        utm = get_utm(message)
        values["body"] = shortener.track_text(values["body"], utm, message.id)
    data = values.get("template_data")
    if data and route in PARAM_ROUTES:
        limits = get_url_param_limits(message.template_id)
        if limits:
            utm = utm or get_utm(message)
            values["template_data"] = shortener.track_params(
                data, limits, utm, message.id
            )
    if values.get("body") and wants_opt_out_link(message, route, recipient):
        values["body"] = "%s\n%s" % (
            values["body"],
            message._get_sms_opt_out_text(),
        )
    return values
