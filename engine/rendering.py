"""THE renderer: a template's content on its records, for a preview (the
send wizards, the composer) and for a send (a message prepared when it is
created, or a campaign's messages rendered in one pass per template when
they are claimed).

Every expression goes through the template's ``mail.render.mixin``
(``_render_field`` / ``_render_template``): who may write which expression is
checked there, on every write of the template (see ``messaging.template``).
"""

import json

from odoo import fields
from odoo.exceptions import UserError
from odoo.tools import SQL

from . import coupons, links

# the parts of a message a template renders
PARTS = ("body", "subject", "template_data")
ZBS_ROUTES = ("phone", "uid")
# the time zone of a company without one (a Vietnamese shop)
DEFAULT_TZ = "Asia/Ho_Chi_Minh"


def check_template_model(template, res_model):
    """Refuse ``template`` on records of another model than its own."""
    if template and template.model != res_model:
        raise UserError(
            template.env._(
                "Template %(template)s renders on %(tmodel)s, not on %(model)s: "
                "pick a template made for these records.",
                template=template.name,
                tmodel=template.model,
                model=res_model,
            )
        )


def check_template_for(template, res_model):
    """Refuse a template of another model or with a required parameter
    lacking a value expression (clear errors before anything is queued)."""
    if not template:
        return
    check_template_model(template, res_model)
    missing = template.param_ids.filtered(
        lambda p: p.required and not (p.expression or "").strip()
    )
    if missing:
        raise UserError(
            template.env._(
                "Template %(template)s: parameter(s) %(params)s have no value. "
                "Fill in their expression on the template.",
                template=template.name,
                params=", ".join(missing.mapped("name")),
            )
        )


def render(template, res_ids, parts=PARTS):
    """{res_id: {part: rendered value}} for the ``parts`` the template has
    (a part it has not is left out): the text, the e-mail subject, the ZBS
    parameters (``template_data``).

    Each record renders in its recipient's language and its company's time
    zone (``format_amount``, ``format_date`` and the translated text of the
    template follow them), whoever runs the rendering."""
    result = {}
    for (lang, tz), ids in recipient_contexts(template, res_ids).items():
        localized = template.with_context(lang=lang, tz=tz)
        result.update(_render_parts(localized, ids, parts))
    return result


def recipient_contexts(template, res_ids):
    """{(lang, tz): [res_id]}: the language of each record's recipient (the
    sender's when the recipient has none or it is not installed) and the
    time zone of the record's company (Vietnam's when it has none)."""
    env = template.env
    installed = {code for code, _name in env["res.lang"].get_installed()}
    default_lang = env.lang or "en_US"
    default_tz = env.company.partner_id.tz or DEFAULT_TZ
    # who receives and which company: read as superuser, as the queue does
    records = env[template.model].sudo().browse([i for i in res_ids if i]).exists()
    has_company = "company_id" in records._fields
    recipients = {
        record.id: (
            record._messaging_get_partner()[:1].id,
            record.company_id.id if has_company else False,
        )
        for record in records
    }
    # the recipients' languages and the companies' zones, one read each (a
    # partner browsed record by record would be fetched record by record)
    partners = (
        env["res.partner"]
        .sudo()
        .browse({partner_id for partner_id, _c in recipients.values() if partner_id})
    )
    langs = dict(zip(partners.ids, partners.mapped("lang"), strict=True))
    companies = (
        env["res.company"]
        .sudo()
        .browse({company_id for _p, company_id in recipients.values() if company_id})
    )
    zones = {company.id: company.partner_id.tz for company in companies}
    keys = {}
    for res_id, (partner_id, company_id) in recipients.items():
        lang = langs.get(partner_id)
        keys[res_id] = (
            lang if lang in installed else default_lang,
            zones.get(company_id) or default_tz,
        )
    groups = {}
    for res_id in res_ids:
        key = keys.get(res_id, (default_lang, default_tz))
        groups.setdefault(key, []).append(res_id)
    return groups


def _render_parts(template, res_ids, parts):
    rendered = {}
    if "body" in parts and template.body:
        rendered["body"] = template._render_body(res_ids)
    if "subject" in parts and template.subject:
        rendered["subject"] = template._render_field("subject", res_ids)
    if "template_data" in parts and template.param_ids:
        rendered["template_data"] = template._render_params(res_ids)
    return {
        res_id: {part: values[res_id] for part, values in rendered.items()}
        for res_id in res_ids
    }


def render_message(message):
    """Content values of one ``message``, rendered from its template on its
    record (a message created with its content prepared)."""
    message.ensure_one()
    template = message.template_id
    check_template_model(template, message.res_model or template.model)
    values = render(template, [message.res_id])[message.res_id]
    values = coupons.fill(values, message.coupon_id, message.partner_id.lang)
    if template.survey_id:
        # the recipient's own survey link (messaging_message_survey.py)
        values = message._fill_survey_links({message.id: values}).get(message.id, {})
    return values


def prepare_lazy_content(messages):
    """Render, in one pass per template, the queued ``messages`` without
    content (campaigns enqueue fast and render when they are sent)."""
    todo = messages.filtered(
        lambda m: (
            m.state == "queued" and m.template_id and not m.body and not m.template_data
        )
    )
    groups = {}
    for message in todo:
        key = (message.template_id, message.res_model)
        groups.setdefault(key, []).append(message.id)
    rows = []  # rendered content, written in one UPDATE below
    invalid = []  # (message, errors)
    shortener = links.LinkShortener(messages.env)  # the batch's trackers
    for (template, _model), ids in groups.items():
        group = messages.browse(ids)
        content = render(template, group.mapped("res_id"))
        by_message = {message.id: content[message.res_id] for message in group}
        if template.survey_id:
            # each recipient's own survey link, the answers made in one create
            by_message = group._fill_survey_links(by_message)
        for message in group:
            if message.id not in by_message:
                continue  # failed: its survey cannot be answered
            values = by_message[message.id]
            if not values:
                break  # nothing to render with this template
            values = coupons.fill(values, message.coupon_id, message.partner_id.lang)
            values = links.track_values(
                message, values, shortener, message.route, message.recipient
            )
            data = values.get("template_data")
            rows.append(
                SQL(
                    "(%s::int, %s::text, %s::varchar, %s::jsonb)",
                    message.id,
                    values.get("body"),
                    values.get("subject"),
                    # an empty dict is stored as NULL, as the ORM does
                    json.dumps(data) if data else None,
                )
            )
            if message.route in ZBS_ROUTES and data is not None:
                errors = template._check_params(data)
                if errors:
                    invalid.append((message, errors))
    write_lazy_content(messages, rows)
    for message, errors in invalid:
        message._set_failed("invalid_params", "\n".join(errors))


def write_lazy_content(messages, rows):
    """Rendered ``(id, body, subject, template_data)`` rows (None: keep the
    value) in one UPDATE: one ORM write per message cost more than the
    rendering itself. Nothing is computed from these fields."""
    if not rows:
        return
    fnames = ["body", "subject", "template_data", "write_date", "write_uid"]
    messages.flush_model(fnames)
    env = messages.env
    env.cr.execute(
        SQL(
            """
            UPDATE messaging_message m
               SET body = COALESCE(v.body, m.body),
                   subject = COALESCE(v.subject, m.subject),
                   template_data = COALESCE(v.template_data, m.template_data),
                   write_date = %(now)s, write_uid = %(uid)s
              FROM (VALUES %(rows)s) AS v(id, body, subject, template_data)
             WHERE m.id = v.id
         RETURNING m.id
            """,
            now=fields.Datetime.now(),
            uid=env.uid,
            rows=SQL(", ").join(rows),
        )
    )
    written = messages.browse([row[0] for row in env.cr.fetchall()])
    written.invalidate_recordset(fnames)
    written.modified(fnames)
