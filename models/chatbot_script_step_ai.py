"""The chatbot step "AI answer": what shop data it gives the model.

The customer's free question is answered by the OA's AI endpoint from the
data chosen here only (``discuss_channel_ai.py``): products (a category
and/or a domain; the price for the customer's pricelist and the stock), the
customer's own recent orders, and a FAQ text. What goes to the model is
bounded (``AI_MAX_*``).
"""

import ast

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

AI_MAX_PRODUCTS = 50
AI_MAX_ORDERS = 5
AI_MAX_FAQ = 4000


class ChatbotScriptStep(models.Model):
    _inherit = "chatbot.script.step"

    step_type = fields.Selection(
        selection_add=[("ai_answer", "AI answer")],
        ondelete={"ai_answer": "cascade"},
    )
    ai_include_products = fields.Boolean(
        "Products",
        default=True,
        help="Give the AI the products (at most 50) with their price for the "
        "customer and their stock. Prices and stock in the answer always come "
        "from Odoo.",
    )
    ai_product_categ_id = fields.Many2one(
        "product.category",
        "Product category",
        help="Only the products of this category (and its subcategories).",
    )
    ai_product_domain = fields.Char(
        "Product filter",
        default="[]",
        help="Only the products that match this filter.",
    )
    ai_include_orders = fields.Boolean(
        "Customer's orders",
        default=True,
        help="Give the AI the customer's 5 latest orders (reference, date, "
        "state, amount).",
    )
    ai_faq = fields.Text(
        "FAQ",
        translate=True,
        help="Questions and answers the AI may use (opening hours, delivery, "
        "returns...); at most 4,000 characters.",
    )

    @api.constrains("ai_product_domain")
    def _check_ai_product_domain(self):
        for step in self:
            try:
                domain = ast.literal_eval(step.ai_product_domain or "[]")
                self.env["product.product"].sudo()._where_calc(domain)
            except (ValueError, SyntaxError, TypeError, KeyError) as exc:
                raise ValidationError(
                    _(
                        "The product filter of step %(step)s is not a valid "
                        "filter on products: %(error)s",
                        step=step.display_name,
                        error=exc,
                    )
                ) from None

    @api.constrains("ai_faq")
    def _check_ai_faq(self):
        for step in self:
            if step.ai_faq and len(step.ai_faq) > AI_MAX_FAQ:
                raise ValidationError(
                    _(
                        "The FAQ of an AI answer step holds at most %(max)s "
                        "characters; this one has %(count)s.",
                        max=AI_MAX_FAQ,
                        count=len(step.ai_faq),
                    )
                )

    def _ai_product_domain(self):
        self.ensure_one()
        domain = [("sale_ok", "=", True)]
        if self.ai_product_categ_id:
            domain.append(("categ_id", "child_of", self.ai_product_categ_id.id))
        return domain + list(ast.literal_eval(self.ai_product_domain or "[]"))
