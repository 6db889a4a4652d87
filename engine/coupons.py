"""Coupons: one Odoo ``loyalty.card`` per recipient of a campaign or an
automation, shown in its message, counted when an order uses it.

Cards are made set-wise (one INSERT for a whole enqueue chunk, as Odoo's
"Generate coupons" wizard would make them one by one: the program, the
recipient as partner, enough points for one use, an expiry, an "issued"
history line). A recipient's fallback messages share the card of the first
one. A card whose messages all end unsent (cancelled, skipped, failed with
nothing after them) is archived: sale_loyalty's ``_try_apply_code`` then
answers "invalid code". Templates show the card through two placeholders
replaced after rendering (:data:`PLACEHOLDERS`): plain text a Messaging
Manager may write without the Mail Template Editor rights.

Plain functions on an environment or records: no fields, no models.
"""

import secrets
from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

# the card's code and expiry in a template's body, subject or parameters
CODE_PLACEHOLDER = "[coupon_code]"
EXPIRY_PLACEHOLDER = "[coupon_expiry]"
PLACEHOLDERS = (CODE_PLACEHOLDER, EXPIRY_PLACEHOLDER)
# Odoo's prefix of coupon codes (``loyalty.card._generate_code``, barcode
# nomenclature); then random hexadecimal digits (48 bits: unique in practice,
# checked all the same)
CODE_PREFIX = "044"
CODE_RANDOM_BYTES = 6
# program types a card per recipient can be made for
PROGRAM_TYPES = ("coupons", "promotion")
# message states after which the recipient may have the code
LIVE_STATES = ("queued", "sending", "sent", "delivered", "read", "unknown")
# message states after which the recipient may already have it
RECEIVED_STATES = ("sending", "sent", "delivered", "read", "unknown")
# the date format of expiries for recipients whose language is not installed
DEFAULT_DATE_FORMAT = "%d/%m/%Y"


def check_program(program, company, owner):
    """Refuse a program that cannot give one code per recipient, or of
    another company than ``company`` (``owner``: named in the error)."""
    if not program:
        return
    env = program.env
    program = program.sudo()
    usable = program.program_type == "coupons" or (
        program.program_type == "promotion" and program.trigger == "with_code"
    )
    if not usable:
        types = dict(program._fields["program_type"]._description_selection(env))
        raise ValidationError(
            env._(
                "%(owner)s: loyalty program %(program)s (%(type)s) cannot be "
                "used with a code. Pick a Coupons program, or a Promotions "
                "program whose trigger is 'Use a code'.",
                owner=owner,
                program=program.name,
                type=types.get(program.program_type, program.program_type),
            )
        )
    if program.company_id and program.company_id != company:
        raise ValidationError(
            env._(
                "%(owner)s: loyalty program %(program)s belongs to %(pcompany)s, "
                "not to %(company)s. Pick a program of %(company)s.",
                owner=owner,
                program=program.name,
                pcompany=program.company_id.name,
                company=company.name,
            )
        )


def check_program_open(program, owner):
    """Refuse, before sending, a program whose codes would be refused at
    once: archived, or ended."""
    if not program:
        return
    env = program.env
    program = program.sudo()
    today = fields.Date.context_today(program)
    if not program.active or (program.date_to and program.date_to < today):
        raise UserError(
            env._(
                "%(owner)s: loyalty program %(program)s is archived or has "
                "ended: its coupons could not be used. Pick a running program "
                "or extend its end date.",
                owner=owner,
                program=program.name,
            )
        )


def card_points(program):
    """Points of a new card: enough for the program's cheapest reward, once
    (the "Generate coupons" wizard grants 1 by default)."""
    required = program.sudo().reward_ids.mapped("required_points")
    return min(required) if required else 1.0


def expiration_date(program, validity_days, today=None):
    """The expiry of a card made ``today``: ``validity_days`` later (0: no
    own limit), never after the program's end."""
    today = today or fields.Date.context_today(program)
    dates = [program.sudo().date_to] if program.sudo().date_to else []
    if validity_days and validity_days > 0:
        dates.append(today + timedelta(days=validity_days))
    return min(dates) if dates else None


def _new_codes(count):
    return [
        CODE_PREFIX + secrets.token_hex(CODE_RANDOM_BYTES).upper()
        for _index in range(count)
    ]


def create_cards(env, program, validity_days, partner_ids):
    """One card of ``program`` per entry of ``partner_ids`` (None: a card
    for anyone), in a few statements whatever their number. Returns the
    card ids, in the order of ``partner_ids``.

    As the "Generate coupons" wizard, without its e-mails (the message is
    the communication): unique codes (a code already taken, by a card or a
    program's rule, is drawn again), an "issued" history line each."""
    if not partner_ids:
        return []
    program = program.sudo()
    points = card_points(program)
    expiry = expiration_date(program, validity_days)
    now = fields.Datetime.now()
    env.flush_all()
    card_ids = [None] * len(partner_ids)
    todo = list(range(len(partner_ids)))
    while todo:
        codes = _new_codes(len(todo))
        env.cr.execute(
            "SELECT code FROM loyalty_rule WHERE mode = 'with_code' AND code = ANY(%s)",
            [codes],
        )
        taken = {row[0] for row in env.cr.fetchall()}
        rows = [
            (position, code)
            for position, code in zip(todo, codes, strict=True)
            if code not in taken
        ]
        env.cr.execute(
            SQL(
                """
                INSERT INTO loyalty_card
                       (program_id, company_id, partner_id, points, code,
                        expiration_date, active, create_uid, write_uid,
                        create_date, write_date)
                SELECT %(program)s, %(company)s, r.partner_id, %(points)s,
                       r.code, %(expiry)s, TRUE, %(uid)s, %(uid)s, %(now)s,
                       %(now)s
                  FROM unnest(%(partners)s::int[], %(codes)s::varchar[])
                           AS r(partner_id, code)
                    ON CONFLICT (code) DO NOTHING
             RETURNING id, code
                """,
                program=program.id,
                company=program.company_id.id or None,
                points=points,
                expiry=expiry,
                uid=env.uid,
                now=now,
                partners=[partner_ids[position] for position, _code in rows],
                codes=[code for _position, code in rows],
            )
        )
        made = dict((code, card_id) for card_id, code in env.cr.fetchall())
        for position, code in rows:
            card_ids[position] = made.get(code)
        todo = [position for position in todo if card_ids[position] is None]
    env.cr.execute(
        SQL(
            """
            INSERT INTO loyalty_history
                   (card_id, description, issued, used, create_uid,
                    write_uid, create_date, write_date)
            SELECT id, %(text)s, %(points)s, 0, %(uid)s, %(uid)s, %(now)s,
                   %(now)s
              FROM unnest(%(ids)s::int[]) AS id
            """,
            text=env._("Coupon of a message"),
            points=points,
            uid=env.uid,
            now=now,
            ids=card_ids,
        )
    )
    env["loyalty.card"].invalidate_model()
    program.invalidate_recordset()
    return card_ids


def issue_for_campaign(campaign, message_ids):
    """A card of the campaign's program for each recipient just queued
    (``message_ids``: first messages, one per recipient) with something to
    send: queued, or refused with a fallback step to come, which shares it
    (made after this)."""
    program = campaign.loyalty_program_id
    if not program or not message_ids:
        return
    env = campaign.env
    env.flush_all()
    env.cr.execute(
        """
        SELECT id, partner_id FROM messaging_message
         WHERE id = ANY(%(ids)s) AND coupon_id IS NULL
           AND fallback_parent_id IS NULL
           AND (state = 'queued'
                OR (failure_type = ANY(%(fallback)s)
                    AND jsonb_typeof(fallback_chain) = 'array'
                    AND fallback_chain <> '[]'::jsonb))
         ORDER BY id
        """,
        {
            "ids": list(message_ids),
            "fallback": list(env["messaging.message"]._get_fallback_failure_types()),
        },
    )
    rows = env.cr.fetchall()
    cards = create_cards(
        env, program, campaign.coupon_validity_days, [row[1] for row in rows]
    )
    set_coupons(
        env, [(row[0], card_id) for row, card_id in zip(rows, cards, strict=True)]
    )


def set_coupons(env, pairs):
    """Write ``(message id, card id)`` pairs in one UPDATE."""
    if not pairs:
        return
    env.cr.execute(
        """
        UPDATE messaging_message m SET coupon_id = v.card_id
          FROM unnest(%s::int[], %s::int[]) AS v(id, card_id)
         WHERE m.id = v.id
        """,
        [[pair[0] for pair in pairs], [pair[1] for pair in pairs]],
    )
    env["messaging.message"].invalidate_model(["coupon_id"])


def release(env, message_ids):
    """Archive the cards of ``message_ids`` that no message will deliver any
    more (all unsent): nobody received their code, nobody may use it."""
    if not message_ids:
        return 0
    return _archive_unsent(
        env,
        SQL(
            "SELECT coupon_id FROM messaging_message"
            " WHERE id = ANY(%s) AND coupon_id IS NOT NULL",
            list(message_ids),
        ),
    )


def release_cards(env, card_ids):
    """Archive those of ``card_ids`` that no message will deliver any more
    (their unsent messages deleted)."""
    if not card_ids:
        return 0
    return _archive_unsent(env, SQL("SELECT unnest(%s::int[])", list(card_ids)))


def _archive_unsent(env, card_ids_sql):
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            UPDATE loyalty_card c SET active = FALSE, write_date = %(now)s,
                   write_uid = %(uid)s
             WHERE c.id IN (%(cards)s)
               AND c.active
               AND NOT EXISTS (SELECT 1 FROM messaging_message o
                                WHERE o.coupon_id = c.id
                                  AND o.state = ANY(%(live)s))
            """,
            cards=card_ids_sql,
            live=list(LIVE_STATES),
            now=fields.Datetime.now(),
            uid=env.uid,
        )
    )
    count = env.cr.rowcount
    if count:
        env["loyalty.card"].invalidate_model(["active", "write_date", "write_uid"])
    return count


def revive(messages):
    """The cards of ``messages`` queued again (a retry) are valid again."""
    cards = messages.filtered(lambda m: m.state in LIVE_STATES).sudo().coupon_id
    cards.with_context(active_test=False).filtered(lambda c: not c.active).write(
        {"active": True}
    )


def issue_for_automation(program, validity_days, partner):
    """The card of one automation message (``partner``: its recipient)."""
    env = program.env
    return (
        env["loyalty.card"]
        .sudo()
        .browse(create_cards(env, program, validity_days, [partner.id or None]))
    )


# ----------------------------------------------------------------------
# Placeholders
# ----------------------------------------------------------------------


def format_expiry(card, lang):
    """The card's expiry in the recipient's language (dd/mm/yyyy in
    Vietnamese), empty without one."""
    if not card.expiration_date:
        return ""
    env = card.env
    lang_record = env["res.lang"]._get_data(code=lang) if lang else None
    date_format = (lang_record and lang_record.date_format) or DEFAULT_DATE_FORMAT
    return card.expiration_date.strftime(date_format)


def fill_text(text, code, expiry):
    if not text or not isinstance(text, str) or "[coupon_" not in text:
        return text
    return text.replace(CODE_PLACEHOLDER, code).replace(EXPIRY_PLACEHOLDER, expiry)


def fill(values, card, lang):
    """``values`` (rendered body, subject, template_data) with the card's
    code and expiry in place of the placeholders (none: left empty, so that
    a required ZBS parameter is refused rather than sent as is)."""
    card = card.sudo()
    code = card.code or ""
    expiry = format_expiry(card, lang) if card else ""
    filled = dict(values)
    for part in ("body", "subject"):
        if part in filled:
            filled[part] = fill_text(filled[part], code, expiry)
    data = filled.get("template_data")
    if isinstance(data, dict):
        filled["template_data"] = {
            name: fill_text(value, code, expiry) for name, value in data.items()
        }
    return filled


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------


def campaign_figures(env, campaign_ids):
    """{campaign id: (cards issued, redeemed, discount in the company's
    currency)}: a card counts as issued unless archived (never sent), as
    redeemed when a confirmed order has a reward line from it. Two
    set-wise queries for all ``campaign_ids``."""
    figures = dict.fromkeys(campaign_ids, (0, 0, 0.0))
    if not campaign_ids:
        return figures
    env.flush_all()
    env.cr.execute(
        """
        SELECT m.campaign_id, count(*)
          FROM messaging_message m
          JOIN loyalty_card c ON c.id = m.coupon_id
         WHERE m.campaign_id = ANY(%s) AND m.fallback_parent_id IS NULL
           AND c.active
         GROUP BY m.campaign_id
        """,
        [list(campaign_ids)],
    )
    issued = dict(env.cr.fetchall())
    env.cr.execute(
        """
        SELECT m.campaign_id, count(DISTINCT l.coupon_id),
               COALESCE(SUM(-l.price_subtotal
                            / COALESCE(NULLIF(o.currency_rate, 0), 1)), 0)
          FROM messaging_message m
          JOIN sale_order_line l ON l.coupon_id = m.coupon_id
          JOIN sale_order o ON o.id = l.order_id
         WHERE m.campaign_id = ANY(%s) AND m.fallback_parent_id IS NULL
           AND m.coupon_id IS NOT NULL AND o.state = 'sale'
         GROUP BY m.campaign_id
        """,
        [list(campaign_ids)],
    )
    redeemed = {row[0]: (row[1], row[2]) for row in env.cr.fetchall()}
    for campaign_id in campaign_ids:
        count, discount = redeemed.get(campaign_id, (0, 0.0))
        figures[campaign_id] = (issued.get(campaign_id, 0), count, float(discount))
    return figures
