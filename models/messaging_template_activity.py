from odoo import models


class MessagingTemplate(models.Model):
    """Templates get a chatter and activities: Zalo's template-status
    webhook schedules one for the owner when a template is rejected or
    disabled (the reason is only given there)."""

    _name = "messaging.template"
    _inherit = ["messaging.template", "mail.thread", "mail.activity.mixin"]
