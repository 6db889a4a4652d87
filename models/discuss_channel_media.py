"""Images, documents and product cards in Zalo conversations.

An agent's files (posted in Discuss or with the *Reply on Zalo* wizard) are
checked against Zalo's limits before anything is queued, then each goes as
its own consultation message (the first image carries the text); the queue
uploads it when it sends it. A product of the catalogue goes as a card:
its image (uploaded), its name, its price for this customer in their
language, and its page when the shop publishes one (``website_sale``);
up to five products go as one list message, one element each.
"""

import base64
import re
from urllib.parse import urljoin

from markupsafe import Markup

from odoo import _, models
from odoo.exceptions import UserError
from odoo.tools.mimetypes import guess_mimetype

from ..engine.terms import format_money, translated
from ..providers.zalo_media import IMAGE, LIST_MAX, check_media, media_kind
from .discuss_channel import INTERNAL_POST

# product images tried for a card, largest first (Zalo takes 1 MB)
CARD_IMAGE_FIELDS = ("image_1024", "image_512", "image_256")


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    # ------------------------------------------------------------------
    # Files
    # ------------------------------------------------------------------

    def _messaging_check_attachments(self, attachment_ids):
        """Refuse, in the agent's language, a file Zalo would not take."""
        if not attachment_ids:
            return
        attachments = self.env["ir.attachment"].browse(attachment_ids)
        # the agent's own files only (their uploads, or files they may read:
        # ir.attachment's rule, which check_access() does not apply)
        attachments.sudo(False).check("read")
        for attachment in attachments.sudo():
            error = check_media(
                attachment.name, attachment.mimetype, attachment.file_size
            )
            if error:
                raise UserError(translated(self.env, error))

    def _messaging_queue_reply_parts(self, message, text):
        """Queue a posted reply: its text, then one message per file (Zalo
        sends one file per message); the first image carries the text."""
        self.ensure_one()
        attachments = message.sudo().attachment_ids.sorted("id")
        if not attachments:
            return self._messaging_queue_consultation(text, message)
        images = attachments.filtered(lambda a: media_kind(a.mimetype, a.name) == IMAGE)
        queued = self.env["messaging.message"]
        caption = text
        if text and not images:
            queued |= self._messaging_queue_consultation(text, message)
            caption = ""
        for attachment in attachments:
            queued |= self._messaging_queue_consultation(
                caption if attachment == images[:1] else "",
                message,
                attachment_id=attachment.id,
            )
        return queued

    # ------------------------------------------------------------------
    # Payment requests (engine/payments.py)
    # ------------------------------------------------------------------

    def _messaging_post_payment(self, text, attachment, extra):
        """Show a payment request or confirmation in the conversation (with
        the QR image) and queue it; the conversation's agent is unchanged."""
        self.ensure_one()
        message = (
            self.sudo()
            .with_context(**{INTERNAL_POST: True})
            .message_post(
                body=text,
                author_id=self.env.user.partner_id.id,
                attachment_ids=attachment.ids if attachment else [],
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        )
        return self._messaging_queue_consultation(text, message, **extra)

    # ------------------------------------------------------------------
    # Product cards
    # ------------------------------------------------------------------

    def _messaging_send_product(self, product):
        """Post ``product`` as a card in the conversation and queue it."""
        return self._messaging_send_products(product)

    def _messaging_send_products(self, products):
        """Post ``products`` (at most ``LIST_MAX``) in the conversation and
        queue them as ONE consultation message: a card, or a list with one
        element per product (the window rules of a reply apply; a paid one
        is confirmed by the caller's ``messaging_paid_confirmed`` context)."""
        self.ensure_one()
        if not products:
            return self.env["messaging.message"]
        if len(products) > LIST_MAX:
            raise UserError(
                _(
                    "Zalo shows at most %(max)s products in one message: pick "
                    "%(max)s or fewer (%(count)s are picked).",
                    max=LIST_MAX,
                    count=len(products),
                )
            )
        products.check_access("read")
        shown = [self._messaging_product_card(product) for product in products]
        cards = [card for card, _image in shown]
        text = "\n".join(
            " — ".join(filter(None, (card["title"], card["subtitle"], card["url"])))
            for card in cards
        )
        self._messaging_check_reply({"body": text})
        Attachment = self.env["ir.attachment"].sudo()
        images = [
            Attachment.create(
                {
                    "name": image[0],
                    "raw": image[1],
                    "res_model": "discuss.channel",
                    "res_id": self.id,
                }
            )
            if image
            else Attachment
            for _card, image in shown
        ]
        message = (
            self.sudo()
            .with_context(**{INTERNAL_POST: True})
            .message_post(
                body=Markup("").join(_card_html(card) for card in cards),
                author_id=self.env.user.partner_id.id,
                attachment_ids=Attachment.union(*images).ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
        )
        if len(cards) == 1:
            extra = {"attachment_id": images[0].id, "zalo_card": cards[0]}
        else:
            elements = [
                dict(card, attachment_id=image.id)
                for card, image in zip(cards, images, strict=True)
            ]
            extra = {"zalo_card": {"elements": elements}}
        queued = self._messaging_queue_consultation(text, message, **extra)
        if self.messaging_state in (False, "bot", "queue", "done"):
            self.sudo()._messaging_set_agent(self.env.user)
        return queued

    def _messaging_product_card(self, product):
        """``(card, image)``: the card's ``title``, ``subtitle`` (the price
        for this customer, in their language) and ``url``; the image as
        ``(file name, bytes)`` or None."""
        partner = self.sudo().messaging_partner_id
        lang = partner.lang or self.env.lang
        shown = product.with_context(lang=lang)
        return (
            {
                "title": shown.display_name,
                "subtitle": self._messaging_product_price(product, partner, lang),
                "url": _product_url(product),
            },
            _product_image(product),
        )

    def _messaging_product_price(self, product, partner, lang):
        """The product's price for ``partner`` (their pricelist, else the
        list price), as ``1.144.250 ₫`` for a Vietnamese reader."""
        pricelist = partner.property_product_pricelist if partner else False
        if pricelist:
            price = pricelist._get_product_price(product, 1.0)
            currency = pricelist.currency_id
        else:
            price = product.lst_price
            currency = product.currency_id or self.env.company.currency_id
        return format_money(self.env, price, currency, lang)


def _card_html(card):
    """The card as the agents see it in the conversation (the image is
    the message's attachment)."""
    parts = [Markup("<b>%s</b>") % card["title"]]
    if card["subtitle"]:
        parts.append(Markup("%s") % card["subtitle"])
    if card["url"]:
        parts.append(
            Markup('<a href="%s" target="_blank">%s</a>') % (card["url"], card["url"])
        )
    return Markup("<p>%s</p>") % Markup("<br/>").join(parts)


def _product_url(product):
    """The product's page when ``website_sale`` publishes it, else ''."""
    template = product.sudo().product_tmpl_id
    if "website_url" not in template._fields or not template.is_published:
        return ""
    path = getattr(product.sudo(), "website_url", "") or template.website_url
    return urljoin(template.get_base_url() + "/", path or "")


def _product_image(product):
    """``(file name, bytes)`` of the largest product image Zalo takes
    (JPG or PNG, at most 1 MB), or None."""
    for field in CARD_IMAGE_FIELDS:
        value = product.sudo()[field]
        if not value:
            return None
        raw = base64.b64decode(value)
        mimetype = guess_mimetype(raw)
        extension = {"image/jpeg": "jpg", "image/png": "png"}.get(mimetype)
        if extension is None:
            return None
        name = "%s.%s" % (_file_stem(product.display_name), extension)
        if check_media(name, mimetype, len(raw)) is None:
            return name, raw
    return None


def _file_stem(name):
    return re.sub(r"[^\w.-]+", "-", name or "product").strip("-")[:60] or "product"
