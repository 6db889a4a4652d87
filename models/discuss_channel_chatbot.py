"""Odoo's chatbot scripts on Zalo, driven by the webhook.

The OA's ``chatbot_script_id`` answers a new conversation (or only outside
its team's working hours) with Odoo's own records: the current step is
``discuss.channel.chatbot_current_step_id``, every message of the exchange
is a ``chatbot.message`` (Odoo's hook links each post while a step runs),
branching is ``chatbot.script.step._fetch_next_step`` with the selected
answers. Texts go as consultation messages, a question as one message with
one button per answer (a numbered list beyond 5), a phone question as
Zalo's ``request_user_info``. The customer's words for a person, a closed
window, an agent taking the conversation or a ``forward_operator`` step
end the script: people answer from then on.
"""

import pytz

from odoo import models
from odoo.exceptions import UserError
from odoo.tools import email_normalize, format_amount, plaintext2html

from ..engine import chatbot
from ..providers.sms_text import split_keywords, text_matches
from .discuss_channel import INTERNAL_POST
from .messaging_team import TEAM_TZ

# steps that wait for the customer's answer
WAITING_STEPS = (
    "question_selection",
    "question_email",
    "question_phone",
    "free_input_single",
    "free_input_multi",
    "ai_answer",
)
# the customer's language when the contact has none (or is unknown)
DEFAULT_LANG = "vi_VN"
ORDERS_SHOWN = 5
# a question is asked at most twice before a person takes over
ASKED_MAX = 2


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    # ------------------------------------------------------------------
    # Inbound
    # ------------------------------------------------------------------

    def _messaging_route_inbound(self, event, text):
        self.ensure_one()
        if self._messaging_chatbot_route(event, text):
            return None
        return super()._messaging_route_inbound(event, text)

    def _messaging_hand_off(self, event=None, notify=False):
        # whoever hands over (a forward step, the AI step, the window): the
        # script is over for this conversation
        self._messaging_chatbot_stop()
        return super()._messaging_hand_off(event=event, notify=notify)

    def _messaging_set_agent(self, agent):
        # a person has the conversation (took it, answered, was assigned):
        # the bot stops
        if self.chatbot_current_step_id:
            self.sudo().chatbot_current_step_id = False
        return super()._messaging_set_agent(agent)

    def _messaging_chatbot_route(self, event, text):
        """Run the OA's script for this inbound message: True when the
        script handled it (answered, handed over, or a replay ignored)."""
        if self.messaging_state in ("queue", "assigned"):
            return False
        # a step left from a conversation marked done is not waiting: the
        # next message opens a new conversation
        step = (
            self.sudo().chatbot_current_step_id
            if self.messaging_state == "bot"
            else self.env["chatbot.script.step"]
        )
        if not step and not self._messaging_chatbot_starts():
            return False
        if self._messaging_answered(event):
            return True  # the same inbound event again: answered once
        if self.messaging_identity_id._get_window()[0] != "free":
            # the bot never pays nor sends outside the free window
            self._messaging_chatbot_stop()
            self._messaging_hand_off(event, notify=False)
            return True
        if self._messaging_chatbot_wants_person(step, event, text):
            self._messaging_chatbot_hand_off(event)
        elif step:
            self._messaging_chatbot_answer(step, text or "", event)
        else:
            self._messaging_chatbot_start(event)
        return True

    def _messaging_chatbot_wants_person(self, step, event, text):
        """Whether the customer asks for a person: one of the OA's words, in
        a text that is not an answer of the current question (a tap on
        "Gặp nhân viên" follows the script's own branch)."""
        oa = self.messaging_channel_id.sudo()
        if event.event_name != "user_send_text" or not text_matches(
            text, split_keywords(oa.handoff_keywords)
        ):
            return False
        if step.step_type != "question_selection":
            return True
        answers = self._messaging_chatbot_answers(step).mapped("name")
        return chatbot.selected_index(text, answers) is None

    def _messaging_chatbot_starts(self):
        """Whether a message opening a conversation starts the OA's script."""
        oa = self.messaging_channel_id.sudo()
        if not oa.chatbot_script_id.script_step_ids:
            return False
        if self.messaging_state not in (False, "done"):
            return False
        team = self.messaging_team_id
        return not (
            oa.chatbot_when == "outside_hours" and team and team._next_opening() is None
        )

    def _messaging_chatbot_start(self, event):
        script = self.messaging_channel_id.sudo().chatbot_script_id
        channel = self.sudo()
        # a new conversation: the answers of the previous one no longer count
        channel.chatbot_message_ids.unlink()
        channel.write({"messaging_state": "bot", "messaging_agent_id": False})
        self._messaging_chatbot_run(script.script_step_ids[:1], event)

    def _messaging_chatbot_stop(self):
        self.sudo().chatbot_current_step_id = False

    # ------------------------------------------------------------------
    # Steps
    # ------------------------------------------------------------------

    def _messaging_chatbot_run(self, step, event, pending=None):
        """Play ``step`` and the steps that follow it until one waits for
        the customer, hands over, or the script ends. The texts on the way
        go in one message with what follows them (``pending``: texts not
        sent yet): Zalo gets them in order, and once."""
        pending = list(pending or [])
        last = step or self.sudo().chatbot_current_step_id
        while step:
            last = step
            self.sudo().chatbot_current_step_id = step
            kind = step.step_type
            if kind == "question_phone" or (
                kind == "order_status" and not self.messaging_partner_id
            ):
                self._messaging_chatbot_flush(step, pending, event)
                self._messaging_chatbot_request_phone(step, event)
                return
            if kind == "question_selection":
                self._messaging_chatbot_ask(step, event, pending)
                return
            pending.append(self._messaging_chatbot_text(step))
            if kind == "order_status":
                pending.append(self._messaging_chatbot_orders_text())
            if kind == "forward_operator":
                self._messaging_chatbot_flush(step, pending, event)
                self._messaging_chatbot_stop()
                self._messaging_hand_off(event, notify=True)
                return
            if kind in WAITING_STEPS:
                self._messaging_chatbot_flush(step, pending, event)
                return
            if kind == "create_lead":
                self._messaging_chatbot_create_lead(step)
            step = self._messaging_chatbot_next(step)
        self._messaging_chatbot_flush(last, pending, event)
        self._messaging_chatbot_stop()

    def _messaging_chatbot_flush(self, step, pending, event, **extra):
        """Send the texts not sent yet as one message (if any)."""
        text = "\n\n".join(filter(None, pending))
        pending.clear()
        if text:
            self._messaging_chatbot_say(step, text, event, **extra)

    def _messaging_chatbot_next(self, step):
        """Odoo's branching: the next step for the answers selected so far."""
        self.invalidate_recordset(["chatbot_message_ids"])
        return step._fetch_next_step(
            self.sudo().chatbot_message_ids.user_script_answer_id
        )

    def _messaging_chatbot_answer(self, step, text, event):
        """The customer's message answers the current step."""
        kind = step.step_type
        if kind == "ai_answer":
            self._messaging_chatbot_ai_answer(step, text, event)
        elif kind == "question_selection":
            self._messaging_chatbot_select(step, text, event)
        elif kind == "question_email":
            email = email_normalize(text.strip())
            if not email:
                self._messaging_chatbot_retry(
                    step,
                    event,
                    self._messaging_chatbot_env()._(
                        "'%(input_email)s' does not look like a valid email. "
                        "Can you please try again?",
                        input_email=text.strip(),
                    ),
                )
                return
            self._messaging_chatbot_link_contact(email=email)
            self.invalidate_recordset(["chatbot_message_ids"])
            self._messaging_chatbot_run(
                step._process_answer(self, plaintext2html(email)), event
            )
        elif kind in ("question_phone", "order_status"):
            phone = self._messaging_chatbot_phone(text)
            if phone:
                self._messaging_chatbot_got_phone(step, phone, event, text)
            else:
                self._messaging_chatbot_retry(step, event)
        else:
            # free input (single or multi-line): the message is the answer,
            # already linked to the step by Odoo's post hook
            self.invalidate_recordset(["chatbot_message_ids"])
            self._messaging_chatbot_run(
                step._process_answer(self, plaintext2html(text)), event
            )

    def _messaging_chatbot_ai_answer(self, step, text, event):
        """A free question on an "AI answer" step (the AI part overrides
        this): without it, a person answers."""
        self._messaging_chatbot_stop()
        self._messaging_hand_off(event, notify=True)
        return True

    def _messaging_chatbot_select(self, step, text, event):
        answers = self._messaging_chatbot_answers(step)
        index = chatbot.selected_index(text, answers.mapped("name"))
        if index is None:
            self._messaging_chatbot_retry(step, event)
            return
        # on the question's own chatbot.message, as Odoo's livechat does
        self._messaging_chatbot_messages(step)[:1].user_script_answer_id = answers[
            index
        ]
        self._messaging_chatbot_run(self._messaging_chatbot_next(step), event)

    def _messaging_chatbot_messages(self, step):
        """This conversation's ``chatbot.message`` rows of ``step``, oldest
        first (the bot's and the customer's)."""
        return (
            self.env["chatbot.message"]
            .sudo()
            .search(
                [
                    ("discuss_channel_id", "=", self.id),
                    ("script_step_id", "=", step.id),
                ],
                order="id",
            )
        )

    def _messaging_chatbot_retry(self, step, event, text=None):
        """An answer that does not fit: the question once more (after
        ``text``, saying why), then a person."""
        operator = step.chatbot_script_id.operator_partner_id
        asked = len(
            self._messaging_chatbot_messages(step).filtered(
                lambda m: m.mail_message_id.author_id == operator
            )
        )
        if asked >= ASKED_MAX:
            self._messaging_chatbot_stop()
            self._messaging_hand_off(event, notify=True)
        elif text:
            self._messaging_chatbot_say(step, text, event)
        else:
            self._messaging_chatbot_run(step, event)

    # ------------------------------------------------------------------
    # What the bot sends
    # ------------------------------------------------------------------

    def _messaging_chatbot_lang(self):
        return self.messaging_partner_id.lang or DEFAULT_LANG

    def _messaging_chatbot_env(self):
        """The environment in the customer's language."""
        return self.with_context(lang=self._messaging_chatbot_lang()).env

    def _messaging_chatbot_text(self, step):
        return step.with_context(lang=self._messaging_chatbot_lang()).message or ""

    def _messaging_chatbot_say(self, step, text, event, **extra):
        """Post ``text`` as the script's bot and queue it to the customer."""
        return self._messaging_send_bot(
            text,
            event,
            author=step.chatbot_script_id.sudo().operator_partner_id or None,
            **extra,
        )

    def _messaging_chatbot_answers(self, step):
        """The answers of a question, in the customer's language."""
        return step.with_context(lang=self._messaging_chatbot_lang()).answer_ids

    def _messaging_chatbot_ask(self, step, event, pending=()):
        """The question (after the texts not sent yet) with its buttons."""
        text, buttons = chatbot.question_content(
            self._messaging_chatbot_text(step),
            self._messaging_chatbot_answers(step).mapped("name"),
        )
        extra = {"zalo_interactive": {"buttons": buttons}} if buttons else {}
        self._messaging_chatbot_flush(step, [*pending, text], event, **extra)

    def _messaging_chatbot_request_phone(self, step, event):
        """Zalo's request for the user's details: one tap shares the number
        (the ``user_submit_info`` event answers the step); typed works too."""
        oa = self.messaging_channel_id.sudo()
        text = self._messaging_chatbot_text(step)
        if step.step_type == "order_status" or not text:
            text = self._messaging_chatbot_env()._(
                "Share your phone number so that we can find your orders."
            )
        request = {
            "title": oa.name,
            "subtitle": text,
            "image_url": "%s/logo.png?company=%s"
            % (self.get_base_url(), oa.company_id.id),
        }
        self._messaging_chatbot_say(
            step, text, event, zalo_interactive={"request_info": request}
        )

    def _messaging_chatbot_orders_text(self):
        env = self._messaging_chatbot_env()
        Order = env["sale.order"].sudo()
        partner = self.messaging_partner_id.commercial_partner_id
        orders = Order.search(
            [("partner_id", "child_of", partner.id), ("state", "!=", "draft")],
            order="date_order desc, id desc",
            limit=ORDERS_SHOWN,
        )
        if not orders:
            return env._("You have no order with us yet.")
        states = dict(Order._fields["state"]._description_selection(env))
        delivery = Order._fields.get("delivery_status")
        deliveries = dict(delivery._description_selection(env)) if delivery else {}
        tz = pytz.timezone(TEAM_TZ)
        lines = [env._("Your recent orders:")]
        for order in orders:
            when = pytz.utc.localize(order.date_order).astimezone(tz)
            parts = [
                order.name,
                when.strftime("%d/%m/%Y"),
                format_amount(env, order.amount_total, order.currency_id),
                states.get(order.state, order.state),
            ]
            if delivery and order.delivery_status:
                parts.append(deliveries.get(order.delivery_status, ""))
            lines.append("• " + " · ".join(filter(None, parts)))
        return "\n".join(lines)

    def _messaging_chatbot_hand_off(self, event):
        """The customer asked for a person: assign at once and say who
        answers and when."""
        self._messaging_chatbot_stop()
        agent = self._messaging_assign()
        self._messaging_send_bot(self._messaging_chatbot_who_when(agent), event)

    def _messaging_chatbot_who_when(self, agent):
        """Who will answer and when, in the customer's language: the agent
        inside working hours, else the team and its next opening."""
        env = self._messaging_chatbot_env()
        team = self.messaging_team_id.with_env(env).sudo()
        opening = team._next_opening() if team else None
        if opening:
            when = pytz.utc.localize(opening).astimezone(pytz.timezone(TEAM_TZ))
            return env._(
                "We are closed now: our %(team)s team will answer you from %(when)s.",
                team=team.name,
                when=when.strftime("%d/%m/%Y %H:%M"),
            )
        if agent:
            return env._(
                "%(agent)s will answer you in a few minutes.", agent=agent.name
            )
        if team:
            return env._(
                "Our %(team)s team will answer you in a few minutes.", team=team.name
            )
        return env._("One of our agents will answer you as soon as possible.")

    # ------------------------------------------------------------------
    # The customer's contact
    # ------------------------------------------------------------------

    def _messaging_chatbot_phone(self, text):
        """The phone number in ``text`` (84...), else False."""
        try:
            return self.env["res.partner"]._messaging_normalize_phone(text)
        except UserError:
            return False

    def _messaging_chatbot_got_phone(self, step, phone, event, raw=None):
        """The customer's number answers a phone step (typed, or shared
        with Zalo's request, ``raw`` None): on their contact, then the
        script goes on.

        Only a number Zalo shares (``user_submit_info``) links the Zalo user
        to the contact who has it: anyone can type anyone's number, so a
        typed one never opens an existing customer's orders nor lands on
        their contact. It answers a phone question (on the conversation's
        own contact, or a new one); an order status asks again for Zalo's
        one-tap share."""
        typed = raw is not None
        if typed and step.step_type == "order_status":
            self._messaging_chatbot_request_phone(step, event)
            return
        self._messaging_chatbot_link_contact(phone=phone, match_phone=not typed)
        if step.step_type != "order_status":
            self.invalidate_recordset(["chatbot_message_ids"])
            next_step = step._process_answer(self, plaintext2html(raw or "+" + phone))
            self._messaging_chatbot_run(next_step, event)
            return
        pending = [
            self._messaging_chatbot_text(step),
            self._messaging_chatbot_orders_text(),
        ]
        self._messaging_chatbot_run(self._messaging_chatbot_next(step), event, pending)

    def _messaging_chatbot_link_contact(self, phone=None, email=None, match_phone=True):
        """Write the answer on the conversation's contact (not on the
        processing user's, as Odoo's livechat does): the Zalo user's
        contact, else the one with this number (``match_phone``: a number
        Zalo shared), else a new one."""
        identity = self.messaging_identity_id.sudo()
        partner = self.messaging_partner_id.sudo()
        Partner = self.env["res.partner"].sudo()
        if not partner and phone and match_phone:
            partner = self.env["messaging.event"]._find_partner_by_phone(phone)
        if not partner:
            partner = Partner.create(
                {
                    "name": identity.display_name_ext
                    or identity._conversation_name(with_oa=False),
                    "country_id": self.env.ref("base.vn").id,
                }
            )
        values = {}
        if phone and not (partner.mobile or partner.phone):
            values["mobile"] = "+" + phone
        if email and not partner.email:
            values["email"] = email
        if values:
            partner.write(values)
        if identity.partner_id != partner:
            identity.partner_id = partner
        self._messaging_sync_customer()
        return partner

    def _messaging_chatbot_on_submit_info(self, event, phone):
        """The customer shared their details (``user_submit_info``, the
        contact already linked): it answers a phone or order step."""
        self.ensure_one()
        self._messaging_sync_customer()
        if self.messaging_partner_id:
            self.sudo().with_context(**{INTERNAL_POST: True}).message_post(
                body=plaintext2html("📞 +%s" % phone),
                author_id=self.messaging_partner_id.id,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        step = self.sudo().chatbot_current_step_id
        if step.step_type not in ("question_phone", "order_status"):
            return
        if self.messaging_state in ("queue", "assigned") or self._messaging_answered(
            event
        ):
            return
        if self.messaging_identity_id._get_window()[0] != "free":
            self._messaging_chatbot_stop()
            self._messaging_hand_off(event, notify=False)
            return
        self._messaging_chatbot_got_phone(step, phone, event)

    def _messaging_chatbot_create_lead(self, step):
        """A CRM lead for the conversation's contact with the transcript, as
        crm_livechat does for a visitor (only where crm is installed)."""
        if "crm.lead" not in self.env:
            return
        step = step.sudo()
        customer = step._chatbot_prepare_customer_values(
            self, create_partner=False, update_partner=False
        )
        partner = self.messaging_partner_id
        values = {
            "partner_id": partner.id,
            "company_id": self.messaging_channel_id.company_id.id,
        }
        if customer["email"]:
            values["email_from"] = customer["email"]
        if customer["phone"]:
            values["phone"] = customer["phone"]
        values.update(
            step._chatbot_crm_prepare_lead_values(self, customer["description"])
        )
        return self.env["crm.lead"].sudo().create(values)
