"""THE router: for (channel, template, contact) the route, the address on it,
its price and its rank among the steps a message may take.

Everything that chooses where a message goes asks here: the campaign's
estimate and simulation, the campaign's enqueue (``enqueue.bulk_enqueue``),
the composer and bulk-send previews, server actions (automation) and the
dispatcher, which stores :func:`message_cost` on a sent message when the
provider gives no price. One price (:func:`route_cost`) serves the ranking,
the estimate and the stored cost, so that they cannot disagree.
"""

from collections import namedtuple

from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..providers.phone import VN_MOBILE_SQL_PATTERN, is_vn_mobile
from ..providers.sms_text import sms_segments
from . import consent

# kind of route, cheapest kind first: consultation (free in the 48 h window,
# paid up to 7 days), ZBS template by user id or phone, SMS, then e-mail
ROUTE_CLASS = {"consultation": 0, "uid": 1, "phone": 1, "sandbox": 1, "sms": 2}
OTHER_CLASS = 3

# one way to reach a contact: ``rank`` is (kind, price), ``index`` the step's
# position in the chain (ties keep the chain's order)
Route = namedtuple("Route", "rank index channel template route address")


# ----------------------------------------------------------------------
# Channel and template
# ----------------------------------------------------------------------


def fits_channel(template, channel):
    """Whether ``template`` is written for the type of ``channel``."""
    return template.channel_type == channel.channel_type


def template_channel_error(template, channel):
    """THE message refusing ``template`` on ``channel`` (None if it fits or
    one of them is missing)."""
    if not template or not channel or fits_channel(template, channel):
        return None
    return channel.env._(
        "Template %(template)s cannot be sent on channel %(channel)s: pick a "
        "template of the same type.",
        template=template.name,
        channel=channel.name,
    )


def check_template_channel(template, channel, error=ValidationError):
    """Raise ``error`` (a constraint's ValidationError, a wizard's UserError)
    when ``template`` is not for the type of ``channel``."""
    message = template_channel_error(template, channel)
    if message:
        raise error(message)


def repeated_channel_error(channels):
    """THE message refusing a chain of steps (primary first, then the
    fallbacks) that comes back to a channel it already tried: the same
    channel cannot reach the person a second time. None when each step
    uses a new channel. ``channels``: messaging.channel records (empty
    ones are skipped)."""
    seen = set()
    for channel in channels:
        if not channel:
            continue
        if channel.id in seen:
            return channel.env._(
                "Channel %(channel)s is already a step of this chain: a "
                "fallback must use another channel than the steps before it.",
                channel=channel.name,
            )
        seen.add(channel.id)
    return None


def check_fallback_channels(channels, error=ValidationError):
    """Raise ``error`` when a fallback step repeats a channel (see
    :func:`repeated_channel_error`)."""
    message = repeated_channel_error(channels)
    if message:
        raise error(message)


# ----------------------------------------------------------------------
# Price and rank
# ----------------------------------------------------------------------


def route_cost(channel, template, route, partner=None, body=None):
    """Price of one message on ``route``: the template's price, else the
    channel's. SMS: per part of ``body`` (the template's text until the
    message is rendered). Consultation: free in the 48 h window, the paid
    price up to 7 days (the ``partner``'s window on this channel)."""
    if route == "consultation":
        identity = partner._messaging_identity(channel) if partner else False
        paid = identity and identity._get_window()[0] == "paid"
        return channel.cost_zalo_consultation if paid else 0.0
    price = 0.0
    if route == "uid":
        price = template.price_uid or channel.cost_zalo_uid
    elif route == "phone":
        price = template.price_phone or channel.cost_per_message
    elif route == "sms":
        text = body if body is not None else template.body
        segments = sms_segments(text or "")[2] or 1
        price = channel.cost_per_segment * segments
    return price or channel.cost_per_message


def route_rank(channel, template, route, partner):
    """Sort key of a route for automatic routing: (kind, price)."""
    kind = ROUTE_CLASS.get(route, OTHER_CLASS)
    return (kind, route_cost(channel, template, route, partner))


def message_cost(message):
    """The price of a sent ``message`` when its provider gave none."""
    return route_cost(
        message.channel_id,
        message.template_id,
        message.route,
        message.partner_id,
        body=message.body or "",
    )


def rank_routes(steps, partner, category=None, fixed=False):
    """The ways to reach ``partner`` over ``steps`` [(channel, template)],
    cheapest first, and the refusals met: ``([Route], [(failure, text)])``.

    ``category``: of every step, else each step's template's. ``fixed``: the
    fallback chain as the queue follows it: the first step that resolves,
    stopping at a refusal the queue does not fall back on.
    """
    fallback_types = partner.env["messaging.message"]._get_fallback_failure_types()
    options, failures = [], []
    for index, (channel, template) in enumerate(steps):
        route, address, failure, text = resolve_recipient(
            channel, template, partner, category or template.category
        )
        if failure:
            failures.append((failure, text))
            if fixed and failure not in fallback_types:
                break
            continue
        rank = route_rank(channel, template, route, partner)
        options.append(Route(rank, index, channel, template, route, address))
        if fixed:
            break
    options.sort(key=lambda option: option[:2])
    return options, failures


# ----------------------------------------------------------------------
# Route and address, one contact at a time
# ----------------------------------------------------------------------


def get_mobile(partner):
    """The contact's number (84...) when Zalo and SMS brandname can reach
    it: a Vietnamese mobile. False without a number; a UserError naming
    the number otherwise (a foreign number, a landline), so that it is
    excluded before it is counted, with its reason."""
    phone = partner._messaging_phone()
    if phone and not is_vn_mobile(phone):
        raise UserError(
            partner.env._(
                "%(number)s is not a Vietnamese mobile number: Zalo and SMS "
                "brandname reach only Vietnamese mobiles.",
                number="+" + phone,
            )
        )
    return phone


def get_route_and_address(channel, template, partner):
    """(route, address) on ``channel``; address False if none."""
    ctype = channel.channel_type
    if ctype == "email":
        return "email", partner.email_normalized or partner.email or False
    if ctype in ("esms", "speedsms"):
        return "sms", get_mobile(partner)
    if ctype == "sandbox":
        # the sandbox stands in for Zalo and SMS, else e-mail
        try:
            return "sandbox", get_mobile(partner) or partner.email or False
        except UserError:
            if partner.email:
                return "sandbox", partner.email
            raise
    # Zalo
    identity = partner._messaging_identity(channel)
    if template and template.zalo_template_id:
        uid = identity.external_id if identity else False
        if template.zalo_route == "uid":
            return "uid", uid
        if template.zalo_route == "phone" or not uid:
            return "phone", get_mobile(partner)
        # automatic: the cheaper of the routes this recipient has
        try:
            phone = get_mobile(partner)
        except UserError:
            phone = False
        if phone and route_cost(channel, template, "phone") < route_cost(
            channel, template, "uid"
        ):
            return "phone", phone
        return "uid", uid
    if identity and identity._get_window()[0] == "closed":
        return "consultation", False
    return "consultation", identity.external_id if identity else False


def resolve_recipient(channel, template, partner, category):
    """(route, address, failure type, failure text) for one recipient.

    Refuses early what cannot be sent: a marketing message to an address
    in Odoo's blacklists (or a Zalo user who opted out on this OA), no
    address on this channel, invalid phone number.
    """
    invalid = None
    try:
        route, address = get_route_and_address(channel, template, partner)
    except UserError as exc:
        route, address, invalid = False, False, str(exc)
    if category == "marketing" and partner:
        refusal = consent.get_consent_refusal(channel, partner, route, address)
        if refusal:
            return route, False, "opt_out", refusal
    if invalid:
        return False, False, "invalid_address", invalid
    if not address:
        return (
            route,
            False,
            "no_address",
            channel.env._(
                "%(partner)s has no address for channel %(channel)s.",
                partner=partner.display_name or channel.env._("The recipient"),
                channel=channel.name,
            ),
        )
    return route, address, None, None


# ----------------------------------------------------------------------
# Route and address in SQL, many contacts at once (the fast enqueue)
# ----------------------------------------------------------------------


def get_sql_route(channel, template):
    """The route :func:`resolve_recipients_sql` resolves on ``channel``, else
    None (Zalo by user id or consultation: one by one)."""
    ctype = channel.channel_type
    if ctype in ("esms", "speedsms"):
        return "sms"
    if ctype in ("email", "sandbox"):
        return ctype
    if ctype == "zalo" and template.zalo_template_id and template.zalo_route == "phone":
        return "phone"
    return None


def get_sql_address(route, category):
    """(address, consent) SQL expressions on ``res_partner p`` for ``route``:
    the address :func:`resolve_recipient` would use when it is certain (else
    NULL), and whether a ``category`` message may go to it. See
    :func:`resolve_recipients_sql`."""
    no_number = SQL("COALESCE(p.mobile, '') = '' AND COALESCE(p.phone, '') = ''")
    phone = SQL(
        """CASE WHEN p.country_id IS NOT NULL AND p.phone_sanitized ~ %s
                 AND (COALESCE(p.mobile, '') = '') <> (COALESCE(p.phone, '') = '')
                THEN substr(p.phone_sanitized, 2) END""",
        VN_MOBILE_SQL_PATTERN,
    )
    phone_free, email_free = consent.get_sql_consent(category)
    if route == "email":
        return (
            SQL("COALESCE(NULLIF(p.email_normalized, ''), NULLIF(p.email, ''))"),
            email_free,
        )
    if route == "sandbox":
        return (
            SQL(
                "COALESCE(%s, CASE WHEN %s AND strpos(p.email, '@') > 0"
                " THEN p.email END)",
                phone,
                no_number,
            ),
            SQL("CASE WHEN %s THEN %s ELSE %s END", no_number, email_free, phone_free),
        )
    return phone, phone_free


def resolve_recipients_sql(channel, template, partner_ids, category):
    """{partner id: (route, address, None, None)} for the contacts that
    :func:`resolve_recipient` would queue, found in one query.

    Only what is certain is answered here, the rest (refusals with their
    texts, and whatever the stored data cannot settle) is left to
    :func:`resolve_recipient`. A number is taken from Odoo's stored
    ``phone_sanitized`` only when it is the one ``_messaging_phone`` formats
    the same way: the contact has a country (both use it), exactly one of
    mobile and phone (Odoo falls back to the phone when the mobile is
    invalid, we refuse it), and it is a Vietnamese mobile
    (:func:`get_mobile`). Consent: see :func:`consent.get_sql_consent`.
    """
    route = get_sql_route(channel, template)
    if not route or not partner_ids:
        return {}
    env = channel.env
    address, free = get_sql_address(route, category)
    for model in ("res.partner", "phone.blacklist", "mail.blacklist"):
        env[model].flush_model()
    env.cr.execute(
        SQL(
            """
            SELECT a.id, a.address
              FROM (SELECT p.id, %(address)s AS address, %(free)s AS free
                      FROM res_partner p
                     WHERE p.id = ANY(%(ids)s)) a
             WHERE a.address IS NOT NULL AND a.free
            """,
            address=address,
            free=free,
            ids=list(partner_ids),
        )
    )
    return {
        partner_id: (route, address, None, None)
        for partner_id, address in env.cr.fetchall()
    }
