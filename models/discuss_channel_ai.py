"""The chatbot's "AI answer" step on a Zalo conversation.

Called by the script driver (``_messaging_chatbot_ai_answer``) with the
customer's free text. Build the data the step allows (bounded: products,
the customer's own orders, a FAQ), ask the OA's chat-completions endpoint,
put Odoo's figures into the answer and check it (``engine/ai.py``), then
send it (mode "send") or show it to the agents as a draft and hand over
(mode "draft"). Not configured, outside the free window, the model's "cannot
answer" marker, an answer with a figure of its own, an endpoint error or a
timeout: the conversation goes to a person, with the OA's hand-over message.

The webhook call itself never waits for the AI: it stores the event and
answers at once; the processing cron answers the stored events in batches,
one transaction per batch. The HTTP call runs inside that transaction and
holds its row locks (the batch's events, the conversation, the Zalo user):
each call waits at most the OA's ``ai_timeout`` (1-60 s, 15 by default), and
all the AI calls of one transaction together at most
``AI_TRANSACTION_SECONDS`` (30 s); past it, questions go to a person.
"""

import logging
import re
import time
import weakref

from odoo import models
from odoo.osv import expression
from odoo.tools import LazyTranslate

from ..engine.ai import PLACEHOLDER, GroundingError, Value, amounts_in, ground
from ..engine.terms import format_money
from ..providers.ai_chat import (
    CANNOT_ANSWER,
    AiAuthError,
    AiError,
    AiNotFoundError,
    build_messages,
    is_cannot_answer,
)
from .chatbot_script_step_ai import AI_MAX_FAQ, AI_MAX_ORDERS, AI_MAX_PRODUCTS
from .mail_message import LINES

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

AI_MAX_QUESTION = 1000
# The most one transaction spends waiting for the AI endpoint (all its AI
# steps together): the processing cron answers a batch of events in one
# transaction, whose row locks are held meanwhile. Past it, a question goes
# to a person at once; each call waits at most what is left.
AI_TRANSACTION_SECONDS = 30
# cursor -> seconds spent on AI calls in its current transaction
_AI_SPENT = weakref.WeakKeyDictionary()

LINES["ai_draft"] = _lt(
    "Answer drafted by the AI (not sent to the customer):\n%(text)s"
)

SYSTEM_PROMPT = _lt(
    "You answer customers of %(shop)s on Zalo. Answer in %(language)s, briefly "
    "and politely, using ONLY the shop data given below. Never write a price, "
    "an amount or a stock quantity yourself: write the placeholder shown in the "
    "data ({{price:ID}}, {{stock:ID}}, {{amount:ID}}) and the shop fills in its "
    "value. Do not invent products, orders, prices, promotions or rules. If the "
    "data does not answer the question, or the customer asks for a person, "
    "answer exactly %(marker)s and nothing else."
)


def _raw_number(number):
    """1250000.0 -> "1250000", 12.5 -> "12.5": the figure the model may
    compare, in no form that ``engine/ai.py`` takes for a shown price."""
    return ("%.2f" % number).rstrip("0").rstrip(".")


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    def _messaging_chatbot_ai_answer(self, step, text, event):
        """Answer ``text`` (the customer's free words) on AI step ``step``;
        True when the bot answered, False when a person takes over (or the
        conversation is not the bot's any more). On the lead's merge this
        overrides the script driver's default hand-over."""
        self.ensure_one()
        if self.messaging_state in ("queue", "assigned") or self._messaging_answered(
            event
        ):
            return False
        oa = self.messaging_channel_id.sudo()
        window_free = self.messaging_identity_id._get_window()[0] == "free"
        if not window_free or not oa._ai_configured():
            self._messaging_hand_off(event, notify=window_free)
            return False
        seconds = min(oa.ai_timeout or 15, self._messaging_ai_seconds_left())
        if seconds < 1:
            _logger.info(
                "AI answer in conversation %s: no time left in this transaction",
                self.id,
            )
            self._messaging_hand_off(event, notify=True)
            return False
        messages, values = self._messaging_ai_request(step, text)
        answer = self._messaging_ai_call(oa, messages, seconds)
        if answer is None or is_cannot_answer(answer):
            self._messaging_hand_off(event, notify=True)
            return False
        try:
            final = ground(answer, values)
        except GroundingError as exc:
            _logger.info("AI answer in conversation %s refused: %s", self.id, exc)
            self._messaging_hand_off(event, notify=True)
            return False
        if oa.ai_mode == "draft":
            self._messaging_notify("ai_draft", text=final)
            self._messaging_hand_off(event, notify=True)
            return False
        self._messaging_send_bot(final, event)
        return True

    def _messaging_ai_seconds_left(self):
        """Seconds this transaction may still wait for the AI endpoint."""
        return AI_TRANSACTION_SECONDS - _AI_SPENT.get(self.env.cr, 0.0)

    def _messaging_ai_spend(self, seconds):
        cr = self.env.cr
        if cr not in _AI_SPENT:

            def reset():
                _AI_SPENT.pop(cr, None)

            cr.postcommit.add(reset)
            cr.postrollback.add(reset)
        _AI_SPENT[cr] = _AI_SPENT.get(cr, 0.0) + seconds

    def _messaging_ai_call(self, oa, messages, timeout):
        """The model's answer within ``timeout`` seconds, or None after an
        endpoint error (logged with its kind and status, never the key)."""
        started = time.monotonic()
        try:
            return oa._ai_client(timeout).complete(messages)
        except AiError as exc:
            log = (
                _logger.warning
                if isinstance(exc, (AiAuthError, AiNotFoundError))
                else _logger.info
            )
            log(
                "AI endpoint of OA %s, conversation %s: %s (%s)",
                oa.id,
                self.id,
                exc.reason,
                exc,
            )
            return None
        finally:
            self._messaging_ai_spend(time.monotonic() - started)

    # ------------------------------------------------------------------
    # What goes to the model
    # ------------------------------------------------------------------

    def _messaging_ai_lang(self):
        partner = self.messaging_partner_id
        company = self.messaging_channel_id.sudo().company_id
        return partner.lang or company.partner_id.lang or self.env.lang or "en_US"

    def _messaging_ai_request(self, step, question):
        """``(messages, values)``: the chat sent to the model and the Odoo
        values of the placeholders its data names (``engine/ai.py``)."""
        self.ensure_one()
        step = step.sudo()
        lang = self._messaging_ai_lang()
        channel = self.with_context(lang=lang)
        values = {}
        sections = []
        if step.ai_include_products:
            sections.append(channel._messaging_ai_products(step, question, values))
        if step.ai_include_orders:
            sections.append(channel._messaging_ai_orders(values))
        faq = (step.with_context(lang=lang).ai_faq or "").strip()
        if faq:
            sections.append("FAQ:\n" + faq[:AI_MAX_FAQ])
        data = "\n\n".join(sections) or "(no shop data)"
        oa = self.messaging_channel_id.sudo()
        system = SYSTEM_PROMPT._translate(lang) % {
            "shop": oa.company_id.name,
            "language": self.env["res.lang"]._lang_get(lang).name,
            "marker": CANNOT_ANSWER,
        }
        # the customer's words: placeholders of their own are not ours
        question = PLACEHOLDER.sub("", (question or "").strip())[:AI_MAX_QUESTION]
        return build_messages(system, data, question), values

    def _messaging_ai_products(self, step, question, values):
        """Up to ``AI_MAX_PRODUCTS`` products of the step's filter, those
        whose name has a word of the question first."""
        oa = self.messaging_channel_id.sudo()
        Product = self.env["product.product"].sudo()
        domain = expression.AND(
            [
                step._ai_product_domain(),
                [("company_id", "in", [False, oa.company_id.id])],
            ]
        )
        words = re.findall(r"\w{3,}", question or "")[:10]
        products = Product.browse()
        if words:
            products = Product.search(
                expression.AND(
                    [domain, expression.OR([[("name", "ilike", w)] for w in words])]
                ),
                limit=AI_MAX_PRODUCTS,
            )
        if len(products) < AI_MAX_PRODUCTS:  # (a limit of 0 means none)
            products |= Product.search(
                expression.AND([domain, [("id", "not in", products.ids)]]),
                limit=AI_MAX_PRODUCTS - len(products),
            )
        partner = self.messaging_partner_id
        lang = self.env.lang
        lines = ["Products (ID, name, category, price, stock):"]
        for product in products.with_context(lang=lang):
            price = self._messaging_product_price(product, partner, lang)
            amounts = amounts_in(price)
            values[("price", product.id)] = Value(
                price, amounts[0] if amounts else None
            )
            values[("stock", product.id)] = self._messaging_ai_stock(product)
            lines.append(
                "- ID %(id)s | %(name)s | %(categ)s | price {{price:%(id)s}} (%(raw)s)"
                " | stock {{stock:%(id)s}}"
                % {
                    "id": product.id,
                    "name": product.display_name,
                    "categ": product.categ_id.display_name or "",
                    "raw": _raw_number(amounts[0]) if amounts else "?",
                }
            )
        return "\n".join(lines)

    def _messaging_ai_stock(self, product):
        """The stock as the customer reads it: the quantity on hand when the
        stock app is installed and the product is tracked, else
        "available" (the product is on sale)."""
        _ = self.env._
        if "is_storable" in product._fields and product.is_storable:
            quantity = int(product.qty_available)
            if quantity <= 0:
                return Value(_("out of stock"))
            return Value(_("%s in stock", quantity), quantity)
        return Value(_("available"))

    def _messaging_ai_orders(self, values):
        """The customer's ``AI_MAX_ORDERS`` latest orders (their own contact
        and its addresses), or a line saying the customer is unknown."""
        partner = self.messaging_partner_id
        if not partner:
            return "Customer's orders: unknown customer (not linked to a contact)."
        oa = self.messaging_channel_id.sudo()
        orders = (
            self.env["sale.order"]
            .sudo()
            .search(
                [
                    ("partner_id", "child_of", partner.id),
                    ("company_id", "=", oa.company_id.id),
                ],
                order="date_order desc, id desc",
                limit=AI_MAX_ORDERS,
            )
        )
        if not orders:
            return "Customer's orders: none."
        env = self.env
        states = dict(orders._fields["state"]._description_selection(env))
        deliveries = (
            dict(orders._fields["delivery_status"]._description_selection(env))
            if "delivery_status" in orders._fields
            else {}
        )
        tz = oa._tz()
        lines = ["Customer's orders (ID, reference, date, state, total):"]
        for order in orders:
            amount = format_money(env, order.amount_total, order.currency_id)
            values[("amount", order.id)] = Value(amount, order.amount_total)
            date = order.date_order.replace(tzinfo=None)
            local = tz.fromutc(date) if date else None
            delivery = deliveries.get(order.delivery_status) if deliveries else None
            lines.append(
                "- ID %(id)s | %(ref)s | %(date)s | %(state)s%(delivery)s | "
                "total {{amount:%(id)s}}"
                % {
                    "id": order.id,
                    "ref": order.name,
                    "date": local.strftime("%d/%m/%Y") if local else "",
                    "state": states.get(order.state, order.state),
                    "delivery": " | delivery: %s" % delivery if delivery else "",
                }
            )
        return "\n".join(lines)
