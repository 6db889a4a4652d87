"""Zalo events processed on their records: follow and unfollow, user
messages (to the contact's chatter and the Discuss conversation, opt-out
keywords), submitted contact details, delivery and seen receipts, template
status and daily quota changes. The payloads are read by the Zalo adapter's
parser (``providers/zalo_events.py``) into plain objects."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import plaintext2html

from ..engine.terms import translate_term
from ..providers import zalo_events

# event kind (zalo_events.event_kind) -> the method processing it
ZALO_HANDLERS = {
    "follow": "_process_zalo_follow",
    "user_message": "_process_zalo_user_message",
    "submit_info": "_process_zalo_submit_info",
    "receipt": "_process_zalo_receipt",
    "template_status": "_process_zalo_template_status",
    "quota": "_process_zalo_quota",
    "oa_message": "_process_zalo_oa_message",  # messaging_event_oa_echo.py
    "feedback": "_process_zalo_feedback",  # messaging_event_feedback.py
}


class MessagingEvent(models.Model):
    _inherit = "messaging.event"

    def _get_zalo_handler(self, event_name):
        """The method processing this event (called with the decoded body):
        for an event only stored, one that says why it is ignored."""
        kind = zalo_events.event_kind(event_name)
        return (
            getattr(self, ZALO_HANDLERS[kind]) if kind else self._process_zalo_ignored
        )

    def _process_zalo_ignored(self, data):
        """An event kept as stored: the reason of providers/zalo_events.py
        (IGNORED_EVENTS), in the language of the processing."""
        reason = zalo_events.ignored_reason(self.event_name or "")
        return "ignored", translate_term(self.env, reason)

    def _zalo_event(self, data):
        """The decoded body as a plain :class:`ZaloEvent`."""
        return zalo_events.parse_event(data, name=self.event_name or "")

    def _get_identity(self, external_id, create=True):
        """The identity of this Zalo user id on the channel (created when
        missing). Concurrent creation is safe: ON CONFLICT DO NOTHING, and in
        a REPEATABLE READ transaction a row committed by a concurrent request
        raises a serialization failure that Odoo retries."""
        Identity = self.env["messaging.identity"].sudo()
        external_id = str(external_id or "").strip()
        if not external_id:
            raise UserError(_("The event names no Zalo user id."))
        identity = Identity.search(
            [
                ("channel_id", "=", self.channel_id.id),
                ("external_id", "=", external_id),
            ],
            limit=1,
        )
        if identity or not create:
            return identity
        if not (external_id.isascii() and external_id.isdigit()):
            raise UserError(
                _("A Zalo user id is made of digits, got %s.") % external_id
            )
        self.env.flush_all()
        now = fields.Datetime.now()
        self.env.cr.execute(
            """
            INSERT INTO messaging_identity
                   (channel_id, company_id, external_id, is_follower,
                    create_uid, write_uid, create_date, write_date)
            VALUES (%s, %s, %s, false, %s, %s, %s, %s)
            ON CONFLICT (channel_id, external_id) DO NOTHING
            RETURNING id
            """,
            [
                self.channel_id.id,
                self.channel_id.company_id.id,
                external_id,
                self.env.uid,
                self.env.uid,
                now,
                now,
            ],
        )
        row = self.env.cr.fetchone()
        if row:
            return Identity.browse(row[0])
        return Identity.search(
            [
                ("channel_id", "=", self.channel_id.id),
                ("external_id", "=", external_id),
            ],
            limit=1,
        )

    def _link(self, identity):
        self.write(
            {
                "identity_id": identity.id,
                "partner_id": identity.partner_id.id,
                "sender_ref": identity.external_id,
            }
        )

    def _process_zalo_follow(self, data):
        follower = self._zalo_event(data).follower_id
        when = self._event_time()
        if self.event_name == "follow":
            identity = self._get_identity(follower)
            identity.write({"is_follower": True, "followed_at": when})
        else:
            identity = self._get_identity(follower, create=False)
            if not identity:
                return "ignored", _("Unfollow from an unknown user.")
            identity.write({"is_follower": False})
        self._link(identity)
        return "done", None

    def _process_zalo_user_message(self, data):
        event = self._zalo_event(data)
        identity = self._get_identity(event.sender_id)
        when = self._event_time()
        if not identity.last_interaction_at or identity.last_interaction_at < when:
            # opens (or extends) the consultation window
            identity.last_interaction_at = when
        text = event.summary
        self._link(identity)
        self.text = text
        partner = identity.partner_id
        if partner:
            partner.sudo().message_post(
                body=plaintext2html(
                    _("%(channel)s: %(text)s")
                    % {"channel": self.channel_id.name, "text": text}
                ),
                author_id=partner.id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        opt_out = self.event_name == "user_send_text" and (
            self.channel_id._is_opt_out_text(text)
        )
        if opt_out:
            self._apply_opt_out(identity)
        self.env["discuss.channel"].sudo()._messaging_on_inbound(
            self, identity, event, text, route=not opt_out
        )
        return "done", None

    def _apply_opt_out(self, identity):
        """Opt the user out of marketing (Odoo's phone blacklist, or this OA
        for a Zalo user without a known number); confirm once."""
        channel = self.channel_id
        self.is_opt_out = True
        already = identity._apply_opt_out(
            _("Opt-out keyword received on %s.") % channel.display_name
        )
        text = channel._text_for_customer("opt_out_confirmation", identity.partner_id)
        if already or not text:
            return
        self._queue_reply(identity, text)

    def _queue_reply(self, identity, text):
        """A consultation message to this user (no template: free text)."""
        return self.env["messaging.message"]._queue_consultation(identity, text)

    def _process_zalo_submit_info(self, data):
        event = self._zalo_event(data)
        identity = self._get_identity(event.sender_id)
        name = event.info.name
        Partner = self.env["res.partner"].sudo()
        phone = Partner._messaging_normalize_phone(event.info.phone)
        if not phone:
            raise UserError(_("user_submit_info without a phone number."))
        partner = identity.partner_id or self._find_partner_by_phone(phone)
        if not partner:
            partner = Partner.create(
                {
                    "name": name or _("Zalo user %s") % identity.external_id,
                    "mobile": "+" + phone,
                    "country_id": self.env.ref("base.vn").id,
                }
            )
        if identity.partner_id != partner:
            identity.partner_id = partner
        if name and not identity.display_name_ext:
            identity.display_name_ext = name
        self._link(identity)
        # an opt-out asked before the number was known goes to the blacklist
        identity._move_opt_out_to_blacklist()
        return "done", None

    @api.model
    def _find_partner_by_phone(self, phone):
        """The contact whose number is this one (84...): Odoo's indexed
        ``phone_sanitized`` (E.164), then our own reading of its number."""
        Partner = self.env["res.partner"].sudo()
        candidates = Partner.search(
            [("phone_sanitized", "=", "+" + phone.lstrip("+"))], order="id", limit=50
        )
        for partner in candidates:
            if partner._messaging_phone_or_none() == phone:
                return partner
        return candidates[:1]

    def _process_zalo_receipt(self, data):
        event = self._zalo_event(data)
        msg_ids, tracking_ids = list(event.receipt_msg_ids), list(event.tracking_ids)
        domain = self._message_domain(msg_ids, tracking_ids)
        if domain is None:
            return "ignored", _("Receipt without msg_id or tracking_id.")
        messages = self.env["messaging.message"].sudo().search(domain)
        if not messages:
            # the send result may not be stored yet: the cron tries again
            return "received", _("No matching message yet.")
        self.message_id = messages[:1]
        self.partner_id = messages[:1].partner_id
        if not event.is_seen:
            when = event.delivery_time or self._event_time()
            messages._set_delivered(when)
        else:
            messages._set_read(self._event_time())
        return "done", None

    def _process_zalo_template_status(self, data):
        event = self._zalo_event(data)
        template_ref, new_status = event.template_id, event.template_status
        if not template_ref:
            return "ignored", _("No template id.")
        templates = (
            self.env["messaging.template"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [("channel_type", "=", "zalo"), ("zalo_template_id", "=", template_ref)]
            )
        )
        if not templates:
            return "ignored", _("Unknown template %s.") % template_ref
        if new_status in zalo_events.TEMPLATE_STATUSES:
            templates._apply_zalo_status(new_status, event.reason)
        if new_status in ("REJECT", "DISABLE"):
            for template in templates:
                self._schedule_template_activity(template, new_status, event.reason)
        return "done", None

    def _schedule_template_activity(self, template, new_status, reason):
        owner = template.create_uid
        if not owner or owner._is_public() or not owner.active:
            owner = self.env.ref("base.user_admin")
        summary = (
            _("Zalo rejected template %s") % template.name
            if new_status == "REJECT"
            else _("Zalo disabled template %s") % template.name
        )
        template.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=plaintext2html(reason),
            user_id=owner.id,
        )

    def _process_zalo_quota(self, data):
        daily = self._zalo_event(data).quota
        if daily is None:
            return "ignored", _("No new quota value.")
        self.channel_id.sudo()._apply_zalo_daily_quota(daily)
        return "done", None
