from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, plaintext2html


class MessagingConversationReply(models.TransientModel):
    """Answer a Zalo user: confirm a paid reply, reply from the contact, send
    files or a product card."""

    _name = "messaging.conversation.reply"
    _description = "Zalo Conversation Reply"

    conversation_id = fields.Many2one(
        "discuss.channel",
        required=True,
        domain=[("channel_type", "=", "zalo")],
        ondelete="cascade",
    )
    partner_id = fields.Many2one(related="conversation_id.messaging_partner_id")
    window_state = fields.Selection(related="conversation_id.messaging_window_state")
    window_label = fields.Char(related="conversation_id.messaging_window_label")
    cost_text = fields.Char(compute="_compute_cost_text")
    body = fields.Text("Reply")
    attachment_ids = fields.Many2many(
        "ir.attachment",
        "messaging_conversation_reply_attachment_rel",
        "wizard_id",
        "attachment_id",
        string="Images and documents",
        help="JPG or PNG images up to 1 MB, GIFs and PDF, DOC or DOCX documents "
        "up to 5 MB: each goes to Zalo as its own message.",
    )
    # one product (kept for callers that pass it); the form offers product_ids
    product_id = fields.Many2one(
        "product.product",
        "Product card",
        domain=[("sale_ok", "=", True)],
        help="Sent as a card: its image, name, price for this customer and its "
        "page on the website when the shop publishes one.",
    )
    product_ids = fields.Many2many(
        "product.product",
        "messaging_conversation_reply_product_rel",
        "wizard_id",
        "product_id",
        string="Product cards",
        domain=[("sale_ok", "=", True)],
        help="Up to 5 products, sent as one message: each with its image, name, "
        "price for this customer and its page on the website when the shop "
        "publishes one.",
    )

    @api.model
    def default_get(self, fields_list):
        result = super().default_get(fields_list)
        context = self.env.context
        if not result.get("conversation_id") and context.get("active_model") == (
            "res.partner"
        ):
            partner = self.env["res.partner"].browse(context.get("active_id"))
            conversation = partner._messaging_conversation()
            if not conversation:
                raise UserError(
                    _("%s has not written to a Zalo OA yet: send a template instead.")
                    % partner.display_name
                )
            result["conversation_id"] = conversation.id
        return result

    @api.depends("conversation_id", "window_state")
    def _compute_cost_text(self):
        for wizard in self:
            oa = wizard.conversation_id.sudo().messaging_channel_id
            if wizard.window_state == "paid":
                wizard.cost_text = _("Paid consultation message: %s") % format_amount(
                    self.env, oa.cost_zalo_consultation, oa.currency_id
                )
            elif wizard.window_state == "free":
                wizard.cost_text = _("Free consultation message")
            else:
                wizard.cost_text = _("Zalo refuses free text: use a ZBS template")

    def action_send(self):
        """Post the reply (text and files) and the product cards (one
        message, at most 5) in the conversation; a paid one is confirmed by
        this click."""
        self.ensure_one()
        conversation = self.conversation_id
        conversation.check_access("read")
        products = self.product_id | self.product_ids
        if not (self.body or self.attachment_ids or products):
            raise UserError(_("Write a reply, attach a file or pick a product."))
        confirmed = conversation.with_context(messaging_paid_confirmed=True)
        if self.body or self.attachment_ids:
            # the files were uploaded by this user to this wizard: they
            # become the conversation's, as the mail composer does
            # (ir.attachment's own rule: check_access() does not apply it)
            self.attachment_ids.check("read")
            conversation._messaging_check_attachments(self.attachment_ids.ids)
            self.attachment_ids.sudo().write(
                {"res_model": "discuss.channel", "res_id": conversation.id}
            )
            confirmed.sudo().message_post(
                body=plaintext2html(self.body or ""),
                attachment_ids=self.attachment_ids.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        if products:
            confirmed._messaging_send_products(products)
        return {"type": "ir.actions.act_window_close"}
