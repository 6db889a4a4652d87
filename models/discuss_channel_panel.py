"""The customer beside a Zalo conversation in Discuss (the side panel of
``static/src/discuss/customer_panel.js``).

One public method gathers everything the panel shows, for a Messaging User
who may read the conversation: the linked contact, their consent, their
last orders and open quotations, what they bought in total and the last
campaign messages they received. Every query is bounded (``limit``, one
``read_group``): the cost does not grow with the customer's history.
Amounts are in the reader's language (``1.144.250 ₫``), dates dd/mm/yyyy in
the OA company's time zone (Vietnam by default).
"""

import pytz

from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine.terms import format_money
from .models import USER_GROUP

# rows of each list in the panel
PANEL_ROWS = 5
QUOTATION_STATES = ("draft", "sent")
SALESMAN_GROUP = "sales_team.group_sale_salesman"


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    def messaging_customer_panel(self):
        """What the agent sees of this conversation's customer (a dict of
        plain, already formatted values; ``partner`` False when the Zalo
        user is linked to no contact)."""
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        if self.channel_type != "zalo":
            raise UserError(_("The customer panel shows Zalo conversations only."))
        self.check_access("read")
        conversation = self.sudo()
        oa = conversation.messaging_channel_id
        company = oa.company_id
        if company and company not in self.env.user.company_ids:
            raise AccessError(
                _(
                    "This conversation belongs to %s, a company you do not work in.",
                    company.display_name,
                )
            )
        partner = conversation.messaging_partner_id
        data = {
            "conversation_id": self.id,
            "partner": False,
            "window": conversation.messaging_window_label or "",
            "can_sell": self.env.user.has_group(SALESMAN_GROUP),
        }
        if not partner:
            return data
        data["partner"] = {
            "id": partner.id,
            "name": partner.display_name,
            "phone": partner.mobile or partner.phone or "",
            "email": partner.email or "",
            "tags": partner.category_id.mapped("name"),
        }
        data["consent"] = conversation._messaging_panel_consent(partner)
        data.update(conversation._messaging_panel_sales(partner, company))
        data["campaign_messages"] = conversation._messaging_panel_campaigns(
            partner, company
        )
        return data

    # ------------------------------------------------------------------
    # The panel's parts (sudo: the caller checked the reader's rights)
    # ------------------------------------------------------------------

    def _messaging_panel_consent(self, partner):
        """Rows ``{key, label, value, level}`` (key: phone, email, oa,
        window; level: success, warning, danger)."""
        identity = self.messaging_identity_id
        rows = []
        if partner._messaging_blacklist_numbers():
            listed = partner.messaging_phone_blacklisted
            rows.append(self._messaging_panel_consent_row("phone", _("Phone"), listed))
        if partner.email_normalized:
            listed = partner.is_blacklisted
            rows.append(
                self._messaging_panel_consent_row("email", _("E-mail address"), listed)
            )
        if identity:
            rows.append(
                self._messaging_panel_consent_row(
                    "oa", _("This Zalo OA"), identity.opt_out, _("Opted out")
                )
            )
        window = self.messaging_window_state
        rows.append(
            {
                "key": "window",
                "label": _("Zalo consultation window"),
                "value": self.messaging_window_label or _("No Zalo user"),
                "level": {"free": "success", "paid": "warning"}.get(window, "danger"),
            }
        )
        return rows

    def _messaging_panel_sales(self, partner, company):
        """Last orders, open quotations and the total bought (confirmed
        orders, in the company's currency)."""
        Order = self.env["sale.order"].sudo()
        customer = [("partner_id", "child_of", partner.commercial_partner_id.id)]
        if company:
            customer.append(("company_id", "=", company.id))
        confirmed = customer + [("state", "=", "sale")]
        quotations = customer + [("state", "in", QUOTATION_STATES)]
        orders = Order.search(
            confirmed, order="date_order desc, id desc", limit=PANEL_ROWS
        )
        quotes = Order.search(
            quotations, order="date_order desc, id desc", limit=PANEL_ROWS
        )
        company = company or self.env.company
        today = fields.Date.context_today(self)
        total = 0.0
        count = 0
        for currency, amount, number in Order._read_group(
            confirmed, ["currency_id"], ["amount_total:sum", "__count"]
        ):
            count += number
            total += currency._convert(amount, company.currency_id, company, today)
        tz = self.messaging_channel_id._tz()
        return {
            "orders": self._messaging_panel_orders(orders, tz),
            "order_count": count,
            "quotations": self._messaging_panel_orders(quotes, tz),
            "quotation_count": Order.search_count(quotations),
            "total_bought": self._messaging_panel_amount(total, company.currency_id),
        }

    def _messaging_panel_orders(self, orders, tz):
        states = dict(orders._fields["state"]._description_selection(self.env))
        return [
            {
                "id": order.id,
                "name": order.name,
                "date": _local_date(order.date_order, tz),
                "amount": self._messaging_panel_amount(
                    order.amount_total, order.currency_id
                ),
                "state": states.get(order.state, order.state),
            }
            for order in orders
        ]

    def _messaging_panel_campaigns(self, partner, company):
        """The last campaign messages the contact received."""
        Message = self.env["messaging.message"].sudo()
        domain = [("partner_id", "=", partner.id), ("campaign_id", "!=", False)]
        if company:
            domain.append(("company_id", "=", company.id))
        messages = Message.search(domain, order="id desc", limit=PANEL_ROWS)
        states = dict(Message._fields["state"]._description_selection(self.env))
        tz = self.messaging_channel_id._tz()
        return [
            {
                "id": message.id,
                "campaign": message.campaign_id.name,
                "channel": message.channel_id.name,
                "state": states.get(message.state, message.state),
                "date": _local_date(message.sent_at or message.create_date, tz),
            }
            for message in messages
        ]

    def _messaging_panel_consent_row(self, key, label, refused, refused_text=None):
        return {
            "key": key,
            "label": label,
            "value": (refused_text or _("Blacklisted")) if refused else _("Accepted"),
            "level": "danger" if refused else "success",
        }

    def _messaging_panel_amount(self, amount, currency):
        """``amount`` in the reader's language: ``1.144.250 ₫``."""
        return format_money(self.env, amount, currency)


def _local_date(value, tz):
    """A UTC datetime as dd/mm/yyyy in ``tz``."""
    if not value:
        return ""
    return pytz.utc.localize(value).astimezone(tz).strftime("%d/%m/%Y")
