"""Zalo conversations in Discuss: one channel per Zalo user and OA.

Inbound messages (from the webhook) are posted by the customer (their
partner, or a guest while the Zalo user is unknown); what an agent writes is
queued as an OA consultation message, inside the window rules (48 h free,
7 days paid after a confirmation, then templates only). Keyword rules of the
OA answer at once; a request for a person, or an unmatched message after an
automatic answer, hands the conversation to an agent of the OA's team.
"""

import logging
from datetime import timedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import RedirectWarning, UserError
from odoo.tools import format_amount, html2plaintext, plaintext2html

from ..providers.sms_text import split_keywords, text_matches
from ..providers.zalo_html import inbound_body

_logger = logging.getLogger(__name__)

CONVERSATION_STATES = [
    ("bot", "Automatic answers"),
    ("queue", "Waiting for an agent"),
    ("assigned", "With an agent"),
    ("done", "Done"),
]
# context key of posts that are not agent replies (inbound, bot, notices)
INTERNAL_POST = "messaging_conversation_internal"


def _reply_summary(message, text):
    """The reply as the contact's chatter shows it: its text and files."""
    names = ", ".join(message.sudo().attachment_ids.mapped("name"))
    return " ".join(part for part in (text, names and "📎 " + names) if part)


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    channel_type = fields.Selection(
        selection_add=[("zalo", "Zalo conversation")], ondelete={"zalo": "cascade"}
    )
    messaging_channel_id = fields.Many2one(
        "messaging.channel",
        "Zalo OA",
        index="btree_not_null",
        ondelete="cascade",
        readonly=True,
    )
    messaging_identity_id = fields.Many2one(
        "messaging.identity",
        "Zalo user",
        index="btree_not_null",
        ondelete="cascade",
        readonly=True,
    )
    messaging_partner_id = fields.Many2one(
        "res.partner", "Customer", index="btree_not_null", readonly=True
    )
    messaging_guest_id = fields.Many2one("mail.guest", "Unknown user", readonly=True)
    messaging_team_id = fields.Many2one(
        "messaging.team", "Team", index="btree_not_null", readonly=True
    )
    messaging_agent_id = fields.Many2one(
        "res.users", "Agent", index="btree_not_null", readonly=True
    )
    messaging_state = fields.Selection(
        CONVERSATION_STATES, "Conversation state", readonly=True
    )
    messaging_auto_reply_count = fields.Integer("Automatic answers", readonly=True)
    messaging_last_inbound_at = fields.Datetime("Last message in", readonly=True)
    messaging_window_state = fields.Selection(
        related="messaging_identity_id.window_state", string="Window"
    )
    # the members who are not Messaging users (the customer as a portal
    # user, a former agent) read the channel too: the label is computed as
    # superuser, the other fields are plain values or many2ones (whose names
    # Odoo reads as superuser)
    messaging_window_label = fields.Char(
        "Consultation window",
        compute="_compute_messaging_window_label",
        compute_sudo=True,
    )

    _sql_constraints = [
        (
            "messaging_identity_unique",
            "UNIQUE(messaging_identity_id)",
            "There is already a conversation with this Zalo user.",
        ),
    ]

    @api.depends("messaging_identity_id.last_interaction_at")
    def _compute_messaging_window_label(self):
        for channel in self:
            channel.messaging_window_label = (
                channel.messaging_identity_id._window_label()
                if channel.messaging_identity_id
                else False
            )

    # ------------------------------------------------------------------
    # Discuss integration
    # ------------------------------------------------------------------

    def _types_allowing_seen_infos(self):
        # Zalo's delivery and seen receipts become Discuss's ✓✓ marks
        return super()._types_allowing_seen_infos() + ["zalo"]

    def _channel_basic_info(self):
        data = super()._channel_basic_info()
        if self.channel_type == "zalo":
            # the header shows the live window, whatever the stored description
            parts = [self.sudo().messaging_window_label or ""]
            agent = self.sudo().messaging_agent_id
            if agent:
                parts.append(_("agent: %s") % agent.name)
            elif self.messaging_state == "queue":
                parts.append(_("waiting for an agent"))
            data["description"] = " · ".join(p for p in parts if p)
        return data

    def message_post(self, *, message_type="notification", **kwargs):
        if (
            len(self) == 1
            and self.channel_type == "zalo"
            and message_type == "comment"
            and not self.env.context.get(INTERNAL_POST)
        ):
            text = self._messaging_check_reply(kwargs)
            message = super().message_post(message_type=message_type, **kwargs)
            self._messaging_queue_reply(message, text)
            return message
        return super().message_post(message_type=message_type, **kwargs)

    def _check_can_update_message_content(self, message):
        if self.channel_type == "zalo" and message.message_type == "comment":
            raise UserError(
                _(
                    "This message already went to the customer on Zalo: it cannot "
                    "be changed or deleted. Write a new message instead."
                )
            )
        return super()._check_can_update_message_content(message)

    # ------------------------------------------------------------------
    # Inbound
    # ------------------------------------------------------------------

    @api.model
    def _messaging_conversation_for(self, identity, create=True):
        """The conversation of this Zalo user (created when missing)."""
        Channel = self.sudo()
        # one creator at a time per Zalo user
        self.env.cr.execute(
            "SELECT id FROM messaging_identity WHERE id = %s FOR NO KEY UPDATE",
            [identity.id],
        )
        conversation = Channel.search(
            [("messaging_identity_id", "=", identity.id)], limit=1
        )
        if conversation or not create:
            return conversation
        oa = identity.channel_id
        team = self.env["messaging.team"]._for_channel(oa)
        conversation = Channel.with_context(**{INTERNAL_POST: True}).create(
            {
                "name": identity._conversation_name(),
                "channel_type": "zalo",
                "messaging_channel_id": oa.id,
                "messaging_identity_id": identity.id,
                "messaging_team_id": team.id,
            }
        )
        # create() makes the current (technical) user a member: not here
        conversation.channel_member_ids.sudo().unlink()
        return conversation

    def _messaging_sync_customer(self):
        """The customer is a member: their partner once the Zalo user id is
        linked, a guest named after the Zalo user before."""
        self.ensure_one()
        identity = self.messaging_identity_id
        partner = identity.partner_id
        Member = self.env["discuss.channel.member"].sudo()
        if partner:
            if self.messaging_partner_id != partner:
                self.messaging_partner_id = partner
                self.name = identity._conversation_name()
            if not Member.search_count(
                [("channel_id", "=", self.id), ("partner_id", "=", partner.id)]
            ):
                self._add_members(partners=partner, post_joined_message=False)
            if self.messaging_guest_id:
                Member.search(
                    [
                        ("channel_id", "=", self.id),
                        ("guest_id", "=", self.messaging_guest_id.id),
                    ]
                ).unlink()
            return
        if not self.messaging_guest_id:
            self.messaging_guest_id = (
                self.env["mail.guest"]
                .sudo()
                .create({"name": identity._conversation_name(with_oa=False)})
            )
        if not Member.search_count(
            [
                ("channel_id", "=", self.id),
                ("guest_id", "=", self.messaging_guest_id.id),
            ]
        ):
            self._add_members(guests=self.messaging_guest_id, post_joined_message=False)

    @api.model
    def _messaging_on_inbound(self, event, identity, zalo_event, text, route=True):
        """A user_send_* event (the record and its parsed ``zalo_event``):
        post it, then answer or hand over (not for an opt-out, which the
        opt-out confirmation answers)."""
        conversation = self._messaging_conversation_for(identity)
        conversation._messaging_sync_customer()
        conversation._messaging_post_inbound(zalo_event, text)
        conversation.messaging_last_inbound_at = event._event_time()
        if route:
            conversation._messaging_route_inbound(event, text)
        else:
            conversation._messaging_pin_for_agents()
        return conversation

    def _messaging_post_inbound(self, zalo_event, text):
        self.ensure_one()
        body = inbound_body(zalo_event, text)
        kwargs = {
            "body": body,
            "message_type": "comment",
            "subtype_xmlid": "mail.mt_comment",
        }
        channel = self.sudo().with_context(**{INTERNAL_POST: True})
        if self.messaging_partner_id:
            return channel.message_post(
                author_id=self.messaging_partner_id.id, **kwargs
            )
        # posted by the guest, as Discuss does for its anonymous visitors
        public = self.env.ref("base.public_user")
        return (
            channel.with_user(public)
            .sudo()
            .with_context(guest=self.messaging_guest_id)
            .message_post(**kwargs)
        )

    def _messaging_route_inbound(self, event, text):
        """Automatic answer, hand-over to a person, or nothing (an agent
        already has the conversation)."""
        self.ensure_one()
        oa = self.messaging_channel_id
        rules = oa.sudo().auto_reply_ids
        state = self.messaging_state
        if state in ("queue", "assigned"):
            self._messaging_pin_for_agents()
            return
        if not rules:
            self._messaging_hand_off(event, notify=False)
            return
        # automatic answers: only for text, only inside the free window
        window_free = self.messaging_identity_id._get_window()[0] == "free"
        is_text = event.event_name == "user_send_text"
        if is_text and text_matches(text, split_keywords(oa.handoff_keywords)):
            self._messaging_hand_off(event, notify=window_free)
            return
        rule = is_text and rules.filtered(lambda r: r._matches(text))[:1]
        if rule and window_free:
            self._messaging_auto_answer(event, rule)
            return
        # unmatched: a person answers; the customer is told so when the bot
        # answered before in this conversation
        self._messaging_hand_off(
            event,
            notify=window_free
            and state == "bot"
            and bool(self.messaging_auto_reply_count),
        )

    def _messaging_auto_answer(self, event, rule):
        if self._messaging_answered(event):
            return  # never twice for the same inbound message
        text = rule._render_answer(self.messaging_partner_id)
        self._messaging_send_bot(text, event)
        self.write(
            {
                "messaging_state": "bot",
                "messaging_auto_reply_count": self.messaging_auto_reply_count + 1,
            }
        )

    def _messaging_answered(self, event):
        """Whether an automatic message already answered this inbound event."""
        return bool(event) and bool(
            self.env["messaging.message"]
            .sudo()
            .search_count([("inbound_event_id", "=", event.id)], limit=1)
        )

    def _messaging_send_bot(self, text, event=None, author=None, **extra):
        """Post as OdooBot (or ``author``, a partner) in the conversation and
        queue it to the user (``extra``: more values of the queued message)."""
        bot = author or self.env.ref("base.partner_root")
        message = (
            self.sudo()
            .with_context(**{INTERNAL_POST: True})
            .message_post(
                body=plaintext2html(text),
                author_id=bot.id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        )
        return self._messaging_queue_consultation(
            text, message, inbound_event=event, category="transactional", **extra
        )

    def _messaging_hand_off(self, event=None, notify=False):
        """To a person: the next agent of the team, else its shared queue."""
        self.ensure_one()
        handoff_message = self.messaging_channel_id._text_for_customer(
            "handoff_message", self.messaging_partner_id
        )
        if notify and handoff_message and not self._messaging_answered(event):
            self._messaging_send_bot(handoff_message, event)
        self._messaging_assign()

    def _messaging_assign(self, agent=None):
        self.ensure_one()
        team = self.messaging_team_id
        if team and not team.active:
            team = self.env["messaging.team"]
        if not team:
            team = self.env["messaging.team"]._for_channel(self.messaging_channel_id)
            self.messaging_team_id = team
        agent = agent or (team._pick_agent() if team else self.env["res.users"])
        if agent:
            self._messaging_set_agent(agent)
            return agent
        self.write({"messaging_state": "queue", "messaging_agent_id": False})
        self._messaging_add_agents(team.user_ids)
        if team:
            self._messaging_notify("shared_queue", team=team.name)
        else:
            self._messaging_notify("no_team")
        self._messaging_pin_for_agents()
        return agent

    def _messaging_set_agent(self, agent):
        self.ensure_one()
        previous = self.messaging_agent_id
        self.write({"messaging_state": "assigned", "messaging_agent_id": agent.id})
        # the other agents of a shared queue leave it
        others = self._messaging_agent_members().filtered(
            lambda m: m.partner_id != agent.partner_id
        )
        others.unlink()
        self._messaging_add_agents(agent)
        if previous != agent:
            self._messaging_notify("assigned", agent=agent.name)
        self._messaging_pin_for_agents()

    def _messaging_add_agents(self, users):
        partners = users.partner_id
        existing = self.channel_member_ids.partner_id
        if partners - existing:
            self.sudo()._add_members(
                partners=partners - existing, post_joined_message=False
            )

    def _messaging_agent_members(self):
        """The members who are employees (not the customer nor a guest)."""
        return self.sudo().channel_member_ids.filtered(
            lambda m: m.partner_id and not m.partner_id.partner_share
        )

    def _messaging_pin_for_agents(self):
        """A new message shows the conversation again to its agents."""
        unpinned = self._messaging_agent_members().filtered(lambda m: m.unpin_dt)
        if unpinned:
            unpinned.write({"unpin_dt": False})
            for member in unpinned:
                member.partner_id._bus_send_store(self)

    def _messaging_notify(self, key, **params):
        """A notice in the conversation: line ``key`` of ``mail_message.LINES``,
        shown in each agent's language."""
        self.env["mail.message"]._messaging_post(
            self.sudo().with_context(**{INTERNAL_POST: True}),
            key,
            params,
            notification=True,
            author_id=self.env.ref("base.partner_root").id,
            message_type="notification",
            subtype_xmlid="mail.mt_comment",
        )

    # ------------------------------------------------------------------
    # Agent replies
    # ------------------------------------------------------------------

    def _messaging_check_reply(self, post_kwargs):
        """The reply's text, or an error saying what to do instead."""
        self.ensure_one()
        if not self.env.user._is_internal():
            raise UserError(_("Only employees can answer a Zalo conversation."))
        attachment_ids = post_kwargs.get("attachment_ids")
        self._messaging_check_attachments(attachment_ids)
        text = html2plaintext(post_kwargs.get("body") or "").strip()
        if not text and not attachment_ids:
            raise UserError(_("Write a reply before sending it."))
        if len(text) > 2000:
            raise UserError(
                _(
                    "A Zalo consultation message holds 2,000 characters; "
                    "this one has %s."
                )
                % len(text)
            )
        identity = self.sudo().messaging_identity_id
        if not identity:
            raise UserError(_("This conversation has no Zalo user to answer."))
        state, ends_at = identity._get_window()
        if state == "free":
            return text
        if state == "paid":
            if self.env.context.get("messaging_paid_confirmed"):
                return text
            oa = self.sudo().messaging_channel_id
            raise RedirectWarning(
                _(
                    "The free 48 h window has ended: this reply is a paid "
                    "consultation message (%(cost)s each), possible until %(until)s."
                )
                % {
                    "cost": format_amount(
                        self.env, oa.cost_zalo_consultation, oa.currency_id
                    ),
                    "until": identity._format_local(ends_at),
                },
                self.env.ref(
                    "multichannel_messaging.messaging_conversation_reply_action"
                ).id,
                _("Confirm the paid reply"),
                {
                    "default_conversation_id": self.id,
                    "default_body": text,
                    "default_attachment_ids": [Command.set(attachment_ids or [])],
                },
            )
        self._messaging_refuse_closed()
        return text

    def _messaging_refuse_closed(self):
        identity = self.sudo().messaging_identity_id
        partner = self.messaging_partner_id
        templates = self.env["messaging.template"].search(
            [
                ("channel_type", "=", "zalo"),
                ("zalo_template_id", "!=", False),
                ("model", "=", "res.partner"),
                ("zalo_status", "in", ("ENABLE", False)),
            ]
        )
        if not partner or not identity:
            raise UserError(
                _(
                    "The Zalo user last wrote more than 7 days ago: Zalo refuses "
                    "free text now. This user is not linked to a contact yet, so "
                    "no template can reach them: wait until they write again."
                )
            )
        if templates:
            message = _(
                "The Zalo user last wrote more than 7 days ago: Zalo refuses free "
                "text now. Send one of the approved ZBS templates (%(templates)s) "
                "instead, or wait until they write again.",
                templates=", ".join(templates.mapped("name")),
            )
        else:
            message = _(
                "The Zalo user last wrote more than 7 days ago: Zalo refuses free "
                "text now. Send an approved ZBS template instead, or wait until "
                "they write again."
            )
        raise RedirectWarning(
            message,
            self.env.ref(
                "multichannel_messaging.res_partner_action_messaging_composer"
            ).id,
            _("Send a ZBS template"),
            {
                "default_res_model": "res.partner",
                "default_res_id": partner.id,
                "default_channel_id": self.messaging_channel_id.id,
                "default_template_id": templates[:1].id,
            },
        )

    def _messaging_queue_reply(self, message, text):
        self.ensure_one()
        queued = self._messaging_queue_reply_parts(message, text)
        if self.messaging_state in (False, "bot", "queue", "done"):
            # the agent who answers takes the conversation
            self.sudo()._messaging_set_agent(self.env.user)
        partner = self.messaging_partner_id
        if partner:
            self.env["mail.message"]._messaging_post(
                partner.sudo().with_context(**{INTERNAL_POST: True}),
                "zalo_reply",
                {"agent": self.env.user.name, "text": _reply_summary(message, text)},
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
        return queued

    def _messaging_queue_consultation(
        self,
        text,
        discuss_message,
        inbound_event=None,
        category="transactional",
        **extra,
    ):
        return self.env["messaging.message"]._queue_consultation(
            self.sudo().messaging_identity_id,
            text,
            category=category,
            conversation_id=self.id,
            discuss_message_id=discuss_message.id,
            inbound_event_id=inbound_event.id if inbound_event else False,
            **extra,
        )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def _messaging_check_zalo(self):
        if any(channel.channel_type != "zalo" for channel in self):
            raise UserError(_("Only Zalo conversations can be taken or closed here."))

    def action_messaging_take(self):
        """Take the conversation (from the shared queue or a colleague)."""
        self._check_messaging_group("multichannel_messaging.group_messaging_user")
        self._messaging_check_zalo()
        for channel in self:
            channel.sudo()._messaging_set_agent(self.env.user)
        return self.action_messaging_open()

    def action_messaging_done(self):
        """Mark as done: out of the agents' sidebar until the user writes again."""
        self._check_messaging_group("multichannel_messaging.group_messaging_user")
        self._messaging_check_zalo()
        for channel in self:
            channel.sudo().write({"messaging_state": "done"})
            channel._messaging_notify("done", user=self.env.user.name)
            for member in channel._messaging_agent_members():
                # after the notice just posted (same second): unpinned
                member.unpin_dt = fields.Datetime.now() + timedelta(seconds=1)
                member.partner_id._bus_send("discuss.channel/unpin", {"id": channel.id})
        return True

    def action_messaging_open(self):
        """Open the conversation in Discuss."""
        self._check_messaging_group("multichannel_messaging.group_messaging_user")
        self.ensure_one()
        return {
            "type": "ir.actions.client",
            "tag": "mail.action_discuss",
            "params": {"active_id": "discuss.channel_%s" % self.id},
            "context": {"active_id": "discuss.channel_%s" % self.id},
        }
