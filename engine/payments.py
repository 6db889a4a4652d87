"""Payment requests in the chat: the route that reaches the customer, the
content sent on it, and the confirmation once the order is paid.

The click (``sale.order.action_messaging_payment_request``) only decides
and queues; the queue sends. Routes, cheapest that reaches the customer
first, each asked of THE router (``routing.resolve_recipient``):

a. a ZBS payment-request template (type 3) approved on a Zalo OA of the
   order's company for one of the company's bank accounts, when the amount
   is one Zalo takes (2,000 to 500,000,000 VND); its amount and transfer
   note parameters carry the order's;
b. a consultation message with the order's VietQR image (the EMV QR code
   of the company's bank account, built with ``account_qr_code_emv``'s
   helpers the way ``l10n_vn`` builds it) and its portal link, when the
   customer's Zalo conversation is open (inside the 7-day window);
c. an SMS with the portal link (the company's SMS channel; the sandbox
   stands in for it).
"""

import base64

from odoo.exceptions import UserError

from . import rendering, routing, terms

# what Zalo's payment-request template takes (VND)
ZBS_AMOUNT_MIN = 2000
ZBS_AMOUNT_MAX = 500000000
ZBS_NOTE_MAX = 90
PAYMENT_TEMPLATE_TYPE = "3"
# Zalo parameter kinds (``messaging.template.param.zalo_param_kind``)
AMOUNT_KIND = "14"
NOTE_KIND = "15"
# VietQR (NAPAS) on EMVCo: its application id and the service "transfer to
# a bank account" (the values ``l10n_vn`` writes for a bank account)
VIETQR_AID = "A000000727"
VIETQR_TO_ACCOUNT = "QRIBFTTA"
VND_CODE = "704"
QR_SIZE = 480
SMS_CHANNEL_TYPES = ("esms", "speedsms")
# messages of a payment request
REQUEST, CONFIRMATION = "request", "confirmation"


# ----------------------------------------------------------------------
# Amount, texts
# ----------------------------------------------------------------------


def amount_due(order):
    """What is left to pay on ``order`` (its online payments deducted)."""
    return max(order.amount_total - order.amount_paid, 0.0)


def format_vnd(order, amount, lang):
    """``1.500.000 ₫`` for a Vietnamese reader (the order's currency)."""
    return terms.format_money(order.env, amount, order.currency_id, lang)


def transfer_note(order):
    """The bank transfer note: the order's reference (Zalo takes 90
    characters)."""
    return (order.name or "")[:ZBS_NOTE_MAX]


def customer_env(order):
    """The order in its customer's language (the texts they receive)."""
    lang = order.partner_id.lang
    if not lang or not order.env["res.lang"]._get_data(code=lang):
        # a language not installed here: the sender's
        lang = order.env.lang or "en_US"
    return order.with_context(lang=lang), lang


def portal_url(order):
    """The order's customer portal page, with its access token (no request
    needed, unlike ``payment.link.wizard``): it opens the order, and lets
    the customer pay online where a payment provider is set up."""
    order = order.sudo()
    return order.get_base_url() + order.get_portal_url()


def request_texts(order, amount):
    """(caption of the QR, SMS text) in the customer's language."""
    shown, lang = customer_env(order)
    values = {
        "company": shown.company_id.name,
        "order": shown.name,
        "amount": format_vnd(shown, amount, lang),
        "note": transfer_note(shown),
        "url": portal_url(shown),
    }
    caption = shown.env._(
        "%(company)s: payment request for order %(order)s, %(amount)s. Scan "
        "the QR code with your banking app (transfer note: %(note)s) or pay "
        "online: %(url)s",
        **values,
    )
    sms = shown.env._(
        "%(company)s: order %(order)s, %(amount)s to pay. Pay here: %(url)s",
        **values,
    )
    return caption, sms


def confirmation_text(order):
    shown, lang = customer_env(order)
    return shown.env._(
        "%(company)s: we received your payment for order %(order)s "
        "(%(amount)s). Thank you!",
        company=shown.company_id.name,
        order=shown.name,
        amount=format_vnd(shown, shown.amount_total, lang),
    )


# ----------------------------------------------------------------------
# Channels and route
# ----------------------------------------------------------------------


def company_channels(order, channel_types):
    """Active channels of ``channel_types`` the order's company may use."""
    return (
        order.env["messaging.channel"]
        .sudo()
        .search(
            [
                ("channel_type", "in", list(channel_types)),
                ("company_id", "in", [order.company_id.id, False]),
            ],
            order="sequence, id",
        )
    )


def company_banks(order):
    """The company's bank accounts (on its contact)."""
    return order.company_id.sudo().partner_id.bank_ids


def payment_template(order, channel, amount):
    """The approved payment-request template of ``channel`` for one of the
    company's bank accounts that can carry ``amount``, else None."""
    if order.currency_id.name != "VND" or not (
        ZBS_AMOUNT_MIN <= amount <= ZBS_AMOUNT_MAX
    ):
        return None
    banks = company_banks(order)
    if not banks:
        return None
    templates = (
        order.env["messaging.template"]
        .sudo()
        .search(
            [
                ("channel_type", "=", "zalo"),
                ("zbs_template_type", "=", PAYMENT_TEMPLATE_TYPE),
                ("zalo_status", "=", "ENABLE"),
                ("zalo_template_id", "!=", False),
                ("zalo_channel_id", "=", channel.id),
                ("zbs_bank_account_id", "in", banks.ids),
                ("model", "=", "sale.order"),
            ],
            order="id",
        )
    )
    for template in templates:
        if template.param_ids.filtered(_is_amount_param):
            return template
    return None


def _is_amount_param(param):
    return param.zalo_param_kind == AMOUNT_KIND or param.param_type == "CURRENCY"


def _reached(channel, template, partner):
    """(route, address) when the router reaches ``partner`` on ``channel``
    with ``template`` (a transactional message), else None."""
    route, address, failure, _text = routing.resolve_recipient(
        channel, template, partner, "transactional"
    )
    return None if failure else (route, address)


def choose_route(order, amount):
    """``(kind, channel, template, route, address)`` of the cheapest way
    to reach the order's customer: ``zbs``, ``vietqr`` or ``sms``; a
    UserError when none does."""
    partner = order.partner_id
    zalo_channels = company_channels(order, ("zalo",))
    for channel in zalo_channels:
        template = payment_template(order, channel, amount)
        reached = template and _reached(channel, template, partner)
        if reached:
            return ("zbs", channel, template, *reached)
    for channel in zalo_channels:
        reached = _reached(channel, order.env["messaging.template"], partner)
        if reached:
            return ("vietqr", channel, None, *reached)
    for channel in company_channels(order, SMS_CHANNEL_TYPES) | company_channels(
        order, ("sandbox",)
    ):
        reached = _reached(channel, order.env["messaging.template"], partner)
        if reached:
            return ("sms", channel, None, *reached)
    raise UserError(
        order.env._(
            "Order %(order)s: %(customer)s cannot be reached for a payment "
            "request. They need a Zalo conversation with the shop's Official "
            "Account in the last 7 days, or a Vietnamese mobile number and an "
            "SMS channel of company %(company)s.",
            order=order.name,
            customer=partner.display_name,
            company=order.company_id.name,
        )
    )


# ----------------------------------------------------------------------
# VietQR
# ----------------------------------------------------------------------


def vietqr_bank(order):
    """The company's bank account a VietQR code can be built for; a
    UserError that says what to fill in otherwise."""
    env = order.env
    if order.currency_id.name != "VND":
        raise UserError(
            env._(
                "Order %(order)s is in %(currency)s: a VietQR code takes amounts "
                "in VND only.",
                order=order.name,
                currency=order.currency_id.name,
            )
        )
    banks = company_banks(order)
    if not banks:
        company = order.company_id.name
        raise UserError(
            env._(
                "Company %(company)s has no bank account for a VietQR code: add "
                "one on the company's contact (Contacts > %(company)s > "
                "Invoicing > Bank Accounts), with its bank.",
                company=company,
            )
        )
    # the account the closest to a VietQR code tells what is missing
    bank = max(banks, key=lambda b: vietqr_error(b)[0])
    error = vietqr_error(bank)[1]
    if error:
        raise UserError(error)
    return bank


def vietqr_error(bank):
    """``(checks passed, what to fill in)`` on ``bank`` for a VietQR code;
    ``(n, None)`` when it is complete."""
    for step, check in enumerate(VIETQR_CHECKS):
        error = check(bank)
        if error:
            return step, error
    return len(VIETQR_CHECKS), None


def _check_holder_country(bank):
    env, account, holder = bank.env, bank.acc_number, bank.partner_id
    if holder.country_code != "VN":
        return env._(
            "Bank account %(account)s: VietQR needs a Vietnamese account "
            "holder. Set the Country of %(holder)s to Vietnam.",
            account=account,
            holder=holder.display_name,
        )
    return None


def _check_holder_city(bank):
    env, account, holder = bank.env, bank.acc_number, bank.partner_id
    if not holder.city:
        return env._(
            "Bank account %(account)s: VietQR needs the city of the account "
            "holder. Fill in the City on the address of %(holder)s.",
            account=account,
            holder=holder.display_name,
        )
    return None


def _check_bank(bank):
    env, account = bank.env, bank.acc_number
    if not bank.bank_id:
        return env._(
            "Bank account %(account)s has no bank: pick its Bank on the bank "
            "account (Contacts > Configuration > Bank Accounts).",
            account=account,
        )
    return None


def _check_bic(bank):
    env = bank.env
    if not bank.bank_id.bic:
        return env._(
            "Bank %(bank)s has no Bank Identifier Code: fill in its BIC "
            "(Contacts > Configuration > Banks) with the bank's 6-digit NAPAS "
            "code that VietQR needs (e.g. 970436 for Vietcombank).",
            bank=bank.bank_id.name,
        )
    return None


# what a VietQR code needs, in the order a user fills it in
VIETQR_CHECKS = (
    _check_holder_country,
    _check_holder_city,
    _check_bank,
    _check_bic,
)


def vietqr_payload(bank, order, amount):
    """The EMV text of the order's VietQR code: transfer ``amount`` (VND)
    to ``bank`` with the order's reference as the transfer note. The fields
    ``l10n_vn`` writes for a Vietnamese bank account, serialized and
    checked (CRC) by ``account_qr_code_emv``: no need for the Vietnamese
    chart of accounts (whose demo data adds a company)."""
    Bank = bank.env["res.partner.bank"]
    tlv = Bank._serialize
    holder = bank.sudo().partner_id
    beneficiary = tlv(0, bank.sudo().bank_id.bic) + tlv(1, bank.sanitized_acc_number)
    account = tlv(0, VIETQR_AID) + tlv(1, beneficiary) + tlv(2, VIETQR_TO_ACCOUNT)
    note = Bank._remove_accents(transfer_note(order))
    values = [
        (0, "01"),  # payload format
        (1, "12"),  # dynamic: for one payment
        (38, account),
        (52, "0000"),
        (53, VND_CODE),
        (54, int(round(amount))),
        (58, "VN"),
        (59, Bank._remove_accents(holder.name)[:25]),
        (60, Bank._remove_accents(holder.city)[:15]),
        (62, tlv(8, note)),
    ]
    text = "".join(tlv(*value) for value in values) + "6304"
    return text + format(Bank._get_crc16(text.encode()), "04X")


def vietqr_attachment(order, amount):
    """The order's VietQR image (PNG) as an attachment of the order."""
    bank = vietqr_bank(order)
    payload = vietqr_payload(bank, order, amount)
    image = order.env["ir.actions.report"].barcode(
        "QR", payload, width=QR_SIZE, height=QR_SIZE, humanreadable=0
    )
    return (
        order.env["ir.attachment"]
        .sudo()
        .create(
            {
                "name": "VietQR-%s.png" % _file_stem(order.name),
                "datas": base64.b64encode(image),
                "mimetype": "image/png",
                "res_model": "sale.order",
                "res_id": order.id,
            }
        )
    )


def _file_stem(name):
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name or "order")


# ----------------------------------------------------------------------
# Queue
# ----------------------------------------------------------------------


def zbs_data(template, order, amount):
    """The template's parameters on ``order``: its own expressions, the
    amount and transfer note parameters set to the order's."""
    data = dict(
        rendering.render(template, [order.id], parts=("template_data",))[order.id].get(
            "template_data"
        )
        or {}
    )
    for param in template.param_ids:
        if _is_amount_param(param):
            data[param.name] = str(int(round(amount)))
        elif param.zalo_param_kind == NOTE_KIND:
            data[param.name] = transfer_note(order)
    return data


def _document_values(order, kind):
    return {
        "res_model": "sale.order",
        "res_id": order.id,
        "payment_kind": kind,
        "user_id": order.env.uid,
    }


def queue_request(order):
    """Queue the payment request of ``order`` on the cheapest route;
    returns the queued ``messaging.message``."""
    amount = amount_due(order)
    if order.state == "cancel" or order.currency_id.is_zero(amount):
        raise UserError(
            order.env._(
                "Order %(order)s has nothing to pay: it is cancelled or already paid.",
                order=order.name,
            )
        )
    kind, channel, template, route, address = choose_route(order, amount)
    Message = order.env["messaging.message"].sudo()
    values = dict(
        _document_values(order, REQUEST),
        partner_id=order.partner_id.id,
        channel_id=channel.id,
        category="transactional",
    )
    if kind == "zbs":
        message = Message.create(
            dict(
                values,
                template_id=template.id,
                route=route,
                recipient=address,
                template_data=zbs_data(template, order, amount),
            )
        )
        message._retrigger_cron()
        return message
    caption, sms = request_texts(order, amount)
    if kind == "vietqr":
        attachment = vietqr_attachment(order, amount)
        identity = order.partner_id._messaging_identity(channel)
        return queue_consultation(identity, caption, values, attachment)
    message = Message.create(dict(values, body=sms))
    message._retrigger_cron()
    return message


def queue_consultation(identity, text, values, attachment=None):
    """A consultation message to ``identity``: shown in its Discuss
    conversation when there is one, queued in any case."""
    extra = {k: v for k, v in values.items() if k in ("res_model", "res_id")}
    extra.update(payment_kind=values["payment_kind"], user_id=values["user_id"])
    if attachment:
        extra["attachment_id"] = attachment.id
    env = identity.env
    conversation = env["discuss.channel"]._messaging_conversation_for(
        identity, create=False
    )
    if conversation:
        return conversation._messaging_post_payment(text, attachment, extra)
    message = env["messaging.message"]._queue_consultation(
        identity, text, category="transactional", **extra
    )
    return message


def queue_confirmation(order, request):
    """Queue the 'payment received' message on the route of ``request``
    (the conversation while it is open, else the same channel, else the
    company's SMS channel); None when nothing reaches the customer."""
    text = confirmation_text(order)
    values = dict(_document_values(order, CONFIRMATION), user_id=request.user_id.id)
    channel, partner = request.channel_id, order.partner_id
    Template = order.env["messaging.template"]
    candidates = channel | company_channels(order, SMS_CHANNEL_TYPES)
    for candidate in candidates:
        reached = _reached(candidate, Template, partner)
        if not reached:
            continue
        if reached[0] == "consultation":
            identity = partner._messaging_identity(candidate)
            return queue_consultation(identity, text, values)
        message = (
            order.env["messaging.message"]
            .sudo()
            .create(
                dict(
                    values,
                    partner_id=partner.id,
                    channel_id=candidate.id,
                    category="transactional",
                    body=text,
                )
            )
        )
        message._retrigger_cron()
        return message
    return None
