from odoo import fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    # for Messaging users only: a salesperson without Messaging rights
    # reads the order whole (RPC, export, report) without counting messages
    messaging_message_count = fields.Integer(
        "Multichannel messages",
        compute="_compute_messaging_message_count",
        groups="multichannel_messaging.group_messaging_user",
    )

    # the customers' ratings of the order (Zalo ratings among them): a
    # salesperson without Messaging rights sees them too, as Odoo's ratings
    customer_rating_count = fields.Integer(
        "Customer ratings", compute="_compute_customer_rating", compute_sudo=True
    )
    customer_rating_avg = fields.Float(
        "Average rating",
        compute="_compute_customer_rating",
        compute_sudo=True,
        digits=(3, 1),
    )

    def _compute_customer_rating(self):
        groups = self.env["rating.rating"]._read_group(
            [
                ("res_model", "=", "sale.order"),
                ("res_id", "in", self.ids),
                ("consumed", "=", True),
                ("rating", ">", 0),
            ],
            ["res_id"],
            ["__count", "rating:avg"],
        )
        ratings = {res_id: (count, avg) for res_id, count, avg in groups}
        for order in self:
            count, avg = ratings.get(order.id, (0, 0.0))
            order.customer_rating_count = count
            order.customer_rating_avg = avg or 0.0

    def _compute_messaging_message_count(self):
        counts = dict(
            self.env["messaging.message"]._read_group(
                [("res_model", "=", "sale.order"), ("res_id", "in", self.ids)],
                ["res_id"],
                ["__count"],
            )
        )
        for order in self:
            order.messaging_message_count = counts.get(order.id, 0)

    def action_view_messaging_messages(self):
        self._check_messaging_group("multichannel_messaging.group_messaging_user")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_message_action"
        )
        action["domain"] = [("res_model", "=", "sale.order"), ("res_id", "=", self.id)]
        action["context"] = {
            "default_res_model": "sale.order",
            "default_res_id": self.id,
            "default_partner_id": self.partner_id.id,
        }
        return action
