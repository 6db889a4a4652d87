"""ZBS templates composed in Odoo: the layout (type, tag, logo, title,
paragraphs, table rows, buttons, parameters), checked against Zalo's rules,
submitted to Zalo (create, or edit after a rejection) and followed through
review (status, reason, quality, tag; deleted = archived). Zalo's shapes
live in ``providers/zalo_layout.py``."""

import base64
import dataclasses

from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import terms
from ..providers import ProviderError, zalo_layout
from .models import MANAGER_GROUP

TEMPLATE_TYPES = [
    ("1", "Custom"),
    ("2", "Authentication (OTP)"),
    ("3", "Payment request"),
    ("4", "Voucher"),
    ("5", "Service rating"),
]
ZALO_TAGS = [("1", "Transaction"), ("2", "Customer care"), ("3", "Promotion")]


class MessagingTemplate(models.Model):
    _inherit = "messaging.template"

    zalo_channel_id = fields.Many2one(
        "messaging.channel",
        string="Zalo OA",
        domain=[("channel_type", "=", "zalo")],
        help="The Official Account this template is submitted to.",
    )
    zbs_template_type = fields.Selection(TEMPLATE_TYPES, string="ZBS type", default="1")
    zalo_tag = fields.Selection(
        ZALO_TAGS,
        string="Zalo tag",
        help="Zalo's purpose of the template. Customer care and promotion "
        "templates are only sent 07:00-22:00; a promotion at most once a "
        "day and 30 times a month to the same person.",
    )
    zbs_bank_account_id = fields.Many2one(
        "res.partner.bank",
        string="Bank account",
        help="Payment request templates: the company's bank account this "
        "template was approved for (chosen from Zalo's list when it was "
        "created). Payment requests of sale orders use it.",
    )
    zbs_logo = fields.Binary("Logo", attachment=True)
    zbs_logo_filename = fields.Char()
    zbs_logo_media_id = fields.Char(readonly=True, copy=False)
    zbs_title = fields.Char("Title", translate=False)
    zbs_paragraphs = fields.Text(
        "Paragraphs",
        help="The body; an empty line starts a new paragraph. Parameters "
        "are written <name>, e.g. <customer_name>.",
    )
    zbs_row_ids = fields.One2many(
        "messaging.template.zbs.line",
        "template_id",
        string="Table rows",
        domain=[("line_type", "=", "row")],
        context={"default_line_type": "row"},
        copy=True,
    )
    zbs_button_ids = fields.One2many(
        "messaging.template.zbs.line",
        "template_id",
        string="Buttons",
        domain=[("line_type", "=", "button")],
        context={"default_line_type": "button"},
        copy=True,
    )
    zbs_note = fields.Text(
        "Note for Zalo's reviewers",
        help="When and why this template is sent; it helps the review.",
    )
    zalo_reject_reason = fields.Text(
        "Rejection reason", readonly=True, copy=False, help="Zalo's own words."
    )
    zalo_quality = fields.Char("Zalo quality", readonly=True, copy=False)
    zalo_submitted_at = fields.Datetime("Submitted on", readonly=True, copy=False)
    zalo_submit_count = fields.Integer(readonly=True, copy=False)
    zbs_preview = fields.Html("Preview", compute="_compute_zbs_preview", sanitize=True)

    @api.depends(
        "zbs_title",
        "zbs_paragraphs",
        "zbs_row_ids.title",
        "zbs_row_ids.value",
        "zbs_button_ids.title",
        "param_ids.name",
        "param_ids.sample_value",
        "zbs_logo",
    )
    def _compute_zbs_preview(self):
        for template in self:
            template.zbs_preview = template._render_zbs_preview()

    def _has_zbs_layout(self):
        return bool(self.zbs_title or self.zbs_paragraphs)

    def write(self, vals):
        if "zbs_logo" in vals:
            # a new logo is uploaded again on the next submission
            vals = dict(vals, zbs_logo_media_id=False)
        return super().write(vals)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_zalo_submit(self):
        """Submit to Zalo for review: created the first time, edited and
        submitted again after a rejection."""
        self._check_messaging_group(MANAGER_GROUP)
        self.check_access("write")
        for template in self:
            template._submit_to_zalo()
        return True

    def action_zalo_refresh_status(self):
        """Read the template's status, reason, quality and tag from Zalo."""
        self._check_messaging_group(MANAGER_GROUP)
        self.check_access("write")
        for template in self.filtered("zalo_template_id"):
            channel = template._get_zalo_submit_channel()
            try:
                channel.sudo()._refresh_zalo_template(template.zalo_template_id)
            except ProviderError as exc:
                raise UserError(
                    _(
                        "Zalo did not answer for template %(name)s: %(error)s",
                        name=template.name,
                        error=terms.error_text(self.env, exc),
                    )
                ) from exc
        return True

    # ------------------------------------------------------------------
    # Submission
    # ------------------------------------------------------------------

    def _get_zalo_submit_channel(self):
        self.ensure_one()
        if self.channel_type != "zalo" or not self.zalo_channel_id:
            raise UserError(
                _("Pick the Zalo OA that template %s is submitted to.", self.name)
            )
        return self.zalo_channel_id

    def _get_zbs_draft(self):
        """The template's layout as a plain ``ZbsDraft``."""
        self.ensure_one()
        paragraphs = [
            block.strip()
            for block in (self.zbs_paragraphs or "").replace("\r\n", "\n").split("\n\n")
            if block.strip()
        ]
        return zalo_layout.ZbsDraft(
            name=self.name or "",
            template_type=int(self.zbs_template_type or 0),
            tag=self.zalo_tag or "",
            title=self.zbs_title or "",
            paragraphs=tuple(paragraphs),
            rows=tuple(
                zalo_layout.ZbsRow(line.title or "", line.value or "")
                for line in self.zbs_row_ids
            ),
            buttons=tuple(
                zalo_layout.ZbsButton(
                    int(line.button_type or 0), line.title or "", line.value or ""
                )
                for line in self.zbs_button_ids
            ),
            params=tuple(
                zalo_layout.ZbsParam(
                    p.name or "", p.zalo_param_kind or "", p.sample_value or ""
                )
                for p in self.param_ids
            ),
            note=self.zbs_note or "",
            logo_media_id=self.zbs_logo_media_id or "",
            has_logo=bool(self.zbs_logo),
        )

    def _check_zbs_draft(self):
        """UserError listing every rule the layout breaks."""
        errors = zalo_layout.validate_draft(self._get_zbs_draft())
        if errors:
            raise UserError(
                _(
                    "Template %(name)s cannot be submitted to Zalo yet:\n%(errors)s",
                    name=self.name,
                    errors="\n".join(
                        "- " + terms.translated(self.env, error) for error in errors
                    ),
                )
            )

    def _submit_to_zalo(self):
        self.ensure_one()
        channel = self._get_zalo_submit_channel()
        if self.zalo_template_id and self.zalo_status != "REJECT":
            raise UserError(
                _(
                    "Template %s is already on Zalo: only a template Zalo "
                    "rejected can be edited and submitted again. Make a copy "
                    "to submit a new one.",
                    self.name,
                )
            )
        self._check_zbs_draft()
        adapter = channel.sudo()._get_adapter()
        try:
            answer = self._send_zbs_draft(adapter)
        except ProviderError as exc:
            raise UserError(
                _(
                    "Zalo refused template %(name)s: %(error)s",
                    name=self.name,
                    error=terms.error_text(self.env, exc),
                )
            ) from exc
        self.sudo().write(
            {
                "zalo_template_id": answer.ref,
                "zalo_status": "PENDING_REVIEW",
                "zalo_reject_reason": False,
                "zalo_preview_url": answer.preview_url or self.zalo_preview_url,
                "zalo_submitted_at": fields.Datetime.now(),
                "zalo_submit_count": self.zalo_submit_count + 1,
            }
        )

    def _send_zbs_draft(self, adapter):
        """Upload the logo when needed, then create or edit on Zalo."""
        if not self.zbs_logo_media_id:
            media_id = adapter.upload_image(
                self.zbs_logo_filename or "logo.png", base64.b64decode(self.zbs_logo)
            )
            # kept with the template (its own write: the logo is unchanged)
            self.sudo().zbs_logo_media_id = media_id
        draft = dataclasses.replace(
            self._get_zbs_draft(), logo_media_id=self.zbs_logo_media_id
        )
        if self.zalo_template_id:
            return adapter.edit_template(
                self.zalo_template_id, zalo_layout.build_body(draft)
            )
        tracking_id = "odoo-template-%s-%s" % (self.id, self.zalo_submit_count + 1)
        return adapter.create_template(zalo_layout.build_body(draft, tracking_id))

    # ------------------------------------------------------------------
    # Status from Zalo (sync, webhook)
    # ------------------------------------------------------------------

    def _apply_zalo_status(self, status, reason=None):
        """A status Zalo gave (``change_template_status``): a rejection
        keeps Zalo's reason, an approval clears it, a deleted template
        (status 5) is archived and no longer sent."""
        vals = {"zalo_status": status}
        if status == "REJECT":
            vals["zalo_reject_reason"] = reason or False
        elif status == "ENABLE":
            vals["zalo_reject_reason"] = False
        if status == "DELETE":
            vals["active"] = False
        self.sudo().write(vals)

    def _get_zalo_unusable_reason(self):
        """Why the queue may not send with this template, else None: a
        template Zalo deleted, disabled, rejected or not yet approved."""
        self.ensure_one()
        if self.channel_type != "zalo" or not self.zalo_template_id:
            return None
        return zalo_layout.UNUSABLE_STATUS_TEXT.get(self.zalo_status or "")

    # ------------------------------------------------------------------
    # Preview (what the customer sees in Zalo, with the sample values)
    # ------------------------------------------------------------------

    def _render_zbs_preview(self):
        self.ensure_one()
        if self.channel_type != "zalo":
            return False
        samples = {p.name: p.sample_value or p.name for p in self.param_ids}

        def fill(text):
            return zalo_layout.PLACEHOLDER_RE.sub(
                lambda m: samples.get(m.group(1), m.group(0)), text or ""
            )

        draft = self._get_zbs_draft()
        parts = [Markup('<div class="o_messaging_zbs_preview border rounded p-3">')]
        if self.zbs_logo and self.id:
            parts.append(
                Markup(
                    '<img src="/web/image/messaging.template/%s/zbs_logo" '
                    'alt="logo" style="max-height:48px"/>'
                )
                % self.id
            )
        parts.append(Markup("<h5 class='mt-2'>%s</h5>") % fill(draft.title))
        parts += [Markup("<p>%s</p>") % fill(text) for text in draft.paragraphs]
        if draft.rows:
            rows = Markup("").join(
                Markup("<tr><td class='text-muted pe-3'>%s</td><td>%s</td></tr>")
                % (row.title, fill(row.value))
                for row in draft.rows
            )
            parts.append(Markup("<table class='mb-2'>%s</table>") % rows)
        parts += [
            Markup("<div class='btn btn-primary w-100 mb-1'>%s</div>")
            % escape(button.title)
            for button in draft.buttons
        ]
        parts.append(Markup("</div>"))
        return Markup("").join(parts)
