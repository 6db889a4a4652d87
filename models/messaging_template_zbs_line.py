from odoo import fields, models

BUTTON_TYPES = [
    ("1", "Open the business's web page"),
    ("2", "Call a phone number"),
    ("3", "Open the Official Account"),
    ("4", "Open a Zalo Mini App"),
    ("5", "Download an app"),
    ("6", "Open a product distribution page"),
    ("7", "Open another web page"),
    ("8", "Open another app"),
]


class MessagingTemplateZbsLine(models.Model):
    """A table row or a button of a ZBS template composed in Odoo."""

    _name = "messaging.template.zbs.line"
    _description = "ZBS Template Layout Line"
    _order = "sequence, id"

    template_id = fields.Many2one(
        "messaging.template", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    line_type = fields.Selection(
        [("row", "Table row"), ("button", "Button")], required=True, default="row"
    )
    title = fields.Char(
        required=True, help="Row label (e.g. Order code) or button title."
    )
    value = fields.Char(
        help="Row value: text and parameters such as <order_code>. Button: "
        "the link (https://...) or the phone number (84...)."
    )
    button_type = fields.Selection(BUTTON_TYPES, default="1")
