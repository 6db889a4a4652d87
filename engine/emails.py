"""E-mail through Odoo's mail stack.

A queued e-mail becomes one ``mail.mail``, created once per message (its
``mail_mail_id``). Sent from a document (not a campaign), it is the e-mail
in that document's chatter like any e-mail Odoo sends: its ``mail.message``
on the record, and a ``mail.notification`` for the contact whose status
(sent, exception, bounce) the chatter shows. It is sent at once through
Odoo's own ``mail.mail.send`` (the channel's outgoing mail server, else
Odoo's choice), and its outcome is read back where Odoo reports it:

- ``mail.mail._postprocess_sent_message`` (``models/mail_mail.py``):
  accepted by the SMTP server -> ``sent``; an exception (recipient refused,
  invalid address, no server) -> ``failed`` with Odoo's reason, and the
  next fallback step;
- ``mail.thread._routing_handle_bounce`` (``models/mail_thread.py``): a
  bounce of a sent e-mail -> ``failed`` with the bounce's text, and the
  next fallback step.

The queue's crash rules hold: the message is ``sending`` (committed) before
its mail.mail exists; the mail.mail and the message's link to it are
committed together before the SMTP call, so a message never gets two. A
row left in ``sending`` is settled from its mail.mail's state; if that mail
is still outgoing (the SMTP call may have happened), it is cancelled, so
that Odoo's mail queue does not send it again, and the message is held for
a Manager (``settle_stale``).
"""

import smtplib

from odoo import Command, fields
from odoo.tools import plaintext2html

from . import claim, routing, transaction

# Odoo's mail.mail failure types -> ours (every one hands over to the next
# fallback step: the e-mail did not reach the person)
FAILURE_TYPES = {
    "mail_email_invalid": "invalid_address",
    "mail_email_missing": "no_address",
}
FAILURE_TYPE = "unreachable"
# message states an e-mail's outcome may still settle
OPEN_STATES = ("sending", "unknown")


def send_email_group(env, group, auto_commit):
    """Send a group of e-mails through Odoo's mail stack, one commit each;
    returns the number of e-mails handed to it."""
    Message = env["messaging.message"]
    # "sending" is committed before any mail.mail is created or sent (see
    # engine/transaction.py)
    owned = claim.mark_sending(Message.browse([m.id for m in group]))
    if auto_commit:
        transaction.commit(env)
    for message in owned:
        send_email(message, auto_commit)
        if auto_commit:
            # the outcome Odoo reported for this e-mail is kept at once
            transaction.commit(env)
    return len(owned)


def send_email(message, auto_commit=False):
    """Create the mail.mail of ``message`` (once) and send it now through
    ``mail.mail.send``; its outcome comes back through
    ``apply_mail_outcome``."""
    message.ensure_one()
    env = message.env
    mail = message.mail_mail_id
    if not mail:
        mail = create_mail(message)
        if auto_commit:
            # the mail.mail and the message's link to it are kept before the
            # SMTP call: a crash after this never creates a second one
            transaction.commit(env)
    elif mail.state != "outgoing":
        # queued again by a person (retry, resend): the same mail, again,
        # as Odoo's own "Retry" of a mail does
        mail.sudo().mark_outgoing()
    if not lock_outgoing(mail):
        # another worker (or Odoo's mail queue) is sending it: its outcome
        # comes back through mail.mail._postprocess_sent_message
        return
    try:
        with env.cr.savepoint():
            mail.sudo().send(auto_commit=False, raise_exception=False)
    except smtplib.SMTPServerDisconnected as exc:
        # Odoo re-raises it: the server may have taken the e-mail
        hold(message, mail, str(exc))


def lock_outgoing(mail):
    """Lock the row of ``mail`` for this transaction if it is still
    outgoing and nobody else holds it: nobody else sends it meanwhile."""
    env = mail.env
    env.flush_all()
    env.cr.execute(
        "SELECT id FROM mail_mail WHERE id = %s AND state = 'outgoing'"
        " FOR UPDATE SKIP LOCKED",
        [mail.id],
    )
    locked = bool(env.cr.fetchone())
    mail.invalidate_recordset(["state"])
    return locked


def create_mail(message):
    """The mail.mail of ``message`` (and, sent from a document, its
    chatter message and the contact's notification)."""
    env = message.env
    values = prepare_mail_values(message)
    record = message._get_chatter_record()
    if record:
        values.update(
            model=record._name,
            res_id=record.id,
            is_notification=bool(message.partner_id),
            author_id=message.user_id.partner_id.id,
            subtype_id=env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment"),
        )
    mail = env["mail.mail"].sudo().create(values)
    if record and message.partner_id:
        # the chatter's envelope: its status follows the mail (Odoo's
        # _postprocess_sent_message, bounces)
        mail.mail_message_id.write(
            {
                "notification_ids": [
                    Command.create(
                        {
                            "res_partner_id": message.partner_id.id,
                            "notification_type": "email",
                            "mail_mail_id": mail.id,
                            "notification_status": "ready",
                            "is_read": True,
                        }
                    )
                ]
            }
        )
    message.sudo().write({"mail_mail_id": mail.id})
    return mail


def prepare_mail_values(message):
    """What the mail.mail of ``message`` says and to whom."""
    channel = message.channel_id.sudo()
    values = {
        "subject": message.subject or message.template_id.name or "",
        "body_html": plaintext2html(message.body or ""),
        "email_to": message.recipient,
        "email_from": get_email_from(message),
        "recipient_ids": [],
        "auto_delete": False,
        "message_type": "email_outgoing",
        "mail_server_id": channel.mail_server_id.id,
    }
    if message.category == "marketing":
        values.update(message._prepare_email_unsubscribe_values(values["body_html"]))
    return values


def get_email_from(message):
    """The sender: the company's address, else the user's who sent it, else
    Odoo's default notifications address."""
    company = message.company_id or message.env.company
    return (
        company.email_formatted
        or message.user_id.email_formatted
        or message.env["ir.mail_server"].sudo()._get_default_from_address()
    )


def apply_mail_outcome(mails, failure_type=None, failure_reason=False):
    """What Odoo's send of ``mails`` did to their messages: accepted ->
    sent, an exception -> failed with Odoo's reason (and the fallback)."""
    messages = (
        mails.env["messaging.message"]
        .sudo()
        .search([("mail_mail_id", "in", mails.ids), ("state", "in", OPEN_STATES)])
    )
    for message in messages:
        mail = message.mail_mail_id
        if failure_type or mail.state == "exception":
            kind = failure_type or mail.failure_type
            message._set_failed(
                FAILURE_TYPES.get(kind, FAILURE_TYPE),
                failure_reason or mail.failure_reason or kind,
                code=kind or False,
            )
        elif mail.state == "sent":
            set_sent(message, mail)


def set_sent(message, mail):
    """The SMTP server accepted the e-mail of ``message``."""
    message.sudo().write(
        {
            "state": "sent",
            "sent_at": fields.Datetime.now(),
            "provider_message_id": mail.message_id,
            "error_code": False,
            "error_message": False,
            "failure_type": False,
            "claim_until": False,
            "unknown_since": False,
            "cost": routing.message_cost(message),
        }
    )


def apply_bounces(env, message_ids, text):
    """Sent e-mails whose Message-Id is among ``message_ids`` bounced:
    failed with the bounce's ``text``, handed to the next fallback step."""
    if not message_ids:
        return
    bounced = (
        env["messaging.message"]
        .sudo()
        .search(
            [
                ("channel_type", "=", "email"),
                ("provider_message_id", "in", list(message_ids)),
                ("state", "in", ("sent", "delivered")),
            ]
        )
    )
    for message in bounced:
        message._set_failed(
            FAILURE_TYPE,
            text or env._("The e-mail bounced."),
            code="mail_bounce",
        )


def hold(message, mail, reason):
    """The SMTP session broke while ``mail`` was being sent: it may have
    been taken. Cancelled in Odoo's queue, the message held for a Manager
    (never resent blindly)."""
    mail.sudo().cancel()
    message.sudo().write(
        {
            "state": "unknown",
            "failure_type": "no_answer",
            "unknown_since": message.unknown_since or fields.Datetime.now(),
            "claim_until": False,
            "error_message": message.env._(
                "The mail server stopped answering while it received this "
                "e-mail (%(reason)s): it may have been sent. Held for a "
                "Manager to resend it or fall back.",
                reason=reason,
            ),
        }
    )


def settle_stale(env):
    """E-mails left in ``sending`` past their lease (a crash), settled from
    their mail.mail before the queue's usual recovery
    (``claim.recover_stale_sending``) sees them."""
    stale = env["messaging.message"].search(
        [
            ("state", "=", "sending"),
            ("claim_until", "<", fields.Datetime.now()),
            ("channel_type", "=", "email"),
        ]
    )
    for message in stale:
        mail = message.mail_mail_id
        if not mail:
            # never handed to Odoo's mail stack: queued again
            claim.reschedule(message, fields.Datetime.now(), count_attempt=False)
        elif mail.state in ("sent", "exception"):
            apply_mail_outcome(mail)
        elif lock_outgoing(mail):
            hold(message, mail, env._("the worker stopped during the SMTP call"))
