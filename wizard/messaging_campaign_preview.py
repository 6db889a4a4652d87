from odoo import _, api, fields, models

# rows of the recipient preview (excluded recipients first)
PREVIEW_LINE_LIMIT = 2000


class MessagingCampaignPreview(models.TransientModel):
    """Who a campaign would reach, and who it leaves out and why, before it
    is activated (nothing is queued)."""

    _name = "messaging.campaign.preview"
    _description = "Campaign Recipient Preview"

    campaign_id = fields.Many2one(
        "messaging.campaign", required=True, ondelete="cascade", readonly=True
    )
    currency_id = fields.Many2one(related="campaign_id.currency_id")
    line_ids = fields.One2many(
        "messaging.campaign.preview.line", "preview_id", "Lines", readonly=True
    )
    recipient_count = fields.Integer("Recipients", readonly=True)
    reachable_count = fields.Integer("Will receive", readonly=True)
    excluded_count = fields.Integer("Excluded", readonly=True)
    note = fields.Char(readonly=True)

    @api.model
    def _create_for(self, campaign):
        results = campaign._simulate_recipients(campaign._get_recipients())
        excluded = [r for r in results if r["failure"]]
        included = [r for r in results if not r["failure"]]
        shown = (excluded + included)[:PREVIEW_LINE_LIMIT]
        note = False
        if len(shown) < len(results):
            note = _(
                "Showing %(shown)s of %(total)s recipients, the excluded ones first."
            ) % {"shown": len(shown), "total": len(results)}
        return self.create(
            {
                "campaign_id": campaign.id,
                "recipient_count": len(results),
                "reachable_count": len(included),
                "excluded_count": len(excluded),
                "note": note,
                "line_ids": [
                    fields.Command.create(self._prepare_line_values(result))
                    for result in shown
                ],
            }
        )

    @api.model
    def _prepare_line_values(self, result):
        document = False
        if result["res_model"] != "res.partner":
            document = (
                self.env[result["res_model"]].browse(result["res_id"]).display_name
            )
        return {
            "partner_id": result["partner"].id,
            "document": document,
            "excluded": bool(result["failure"]),
            "failure_type": result["failure"] or False,
            "reason": result["reason"] or False,
            "channel_id": result["channel"].id,
            "route": result["route"] or False,
            "address": result["address"] or False,
            "cost": result["cost"],
        }
