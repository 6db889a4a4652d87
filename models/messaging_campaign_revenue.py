from odoo import _, api, fields, models

from ..engine import attribution, campaign_stats
from .models import MANAGER_GROUP, USER_GROUP


class MessagingCampaign(models.Model):
    """What a campaign sold: the confirmed orders attributed to it within
    its attribution window (``messaging.campaign.sale``, filled by the
    results cron, see :mod:`..engine.attribution`), its revenue and ROI."""

    _inherit = "messaging.campaign"

    attribution_days = fields.Integer(
        "Attribution window (days)",
        default=7,
        required=True,
        help="A recipient's confirmed order counts for the campaign when it is "
        "placed within this many days after their message (orders carrying the "
        "campaign's UTM first, then orders of recipients who clicked or read).",
    )
    # the results pass: where it is, and the window it walks
    results_requested = fields.Boolean(readonly=True, copy=False)
    results_pass_running = fields.Boolean(readonly=True, copy=False)
    results_cursor = fields.Integer(readonly=True, copy=False)
    results_window_start = fields.Datetime(readonly=True, copy=False)
    results_window_end = fields.Datetime(
        "Orders counted until",
        readonly=True,
        copy=False,
        help="The attribution window of the campaign's last message ends then.",
    )
    results_refreshed_at = fields.Datetime(
        "Results computed on", readonly=True, copy=False
    )
    # the results
    order_count = fields.Integer("Orders", compute="_compute_revenue")
    revenue_amount = fields.Monetary(
        "Revenue",
        compute="_compute_revenue",
        help="Untaxed total of the confirmed orders attributed to the campaign, "
        "in the company's currency.",
    )
    roi = fields.Float(
        "ROI (%)",
        compute="_compute_revenue",
        help="(Revenue - actual cost) / actual cost, in percent; 0 while "
        "nothing was spent.",
    )
    roi_text = fields.Char("ROI", compute="_compute_revenue")
    revenue_html = fields.Html(
        "Revenue per channel", compute="_compute_revenue_html", sanitize=False
    )

    _sql_constraints = [
        (
            "attribution_days_positive",
            "CHECK(attribution_days > 0)",
            "The attribution window must be at least one day.",
        ),
    ]

    @api.depends("message_ids_sent.cost", "attribution_days")
    @api.depends_context("lang")
    def _compute_revenue(self):
        totals = {
            campaign.id: (amount, count)
            for campaign, amount, count in self.env["messaging.campaign.sale"]
            .sudo()
            ._read_group(
                [("campaign_id", "in", self._origin.ids)],
                ["campaign_id"],
                ["amount:sum", "__count"],
            )
        }
        for campaign in self:
            amount, count = totals.get(campaign._origin.id, (0.0, 0))
            campaign.revenue_amount = amount
            campaign.order_count = count
            ratio = campaign_stats.roi(amount, campaign.actual_cost)
            campaign.roi = 100.0 * ratio if ratio is not None else 0.0
            campaign.roi_text = campaign_stats.roi_text(ratio)

    @api.depends("message_ids_sent.cost", "attribution_days")
    @api.depends_context("lang")
    def _compute_revenue_html(self):
        by_channel = campaign_stats.revenue_by(self, "channel_id")
        by_step = campaign_stats.revenue_by(self, "step", [("message_id", "!=", False)])
        costs = campaign_stats.channel_counts(self)
        for campaign in self:
            key = campaign._origin.id
            if key not in by_channel:
                campaign.revenue_html = False
                continue
            campaign.revenue_html = self.env["ir.qweb"]._render(
                "multichannel_messaging.messaging_campaign_revenue_table",
                {
                    "channel_rows": campaign_stats.revenue_channel_rows(
                        self.env, by_channel[key], costs.get(campaign._origin, {})
                    ),
                    "step_rows": campaign_stats.revenue_step_rows(
                        self.env, by_step.get(key, {})
                    ),
                    "currency": campaign.currency_id,
                },
            )

    def write(self, vals):
        if "attribution_days" in vals:
            # another window: the results are computed again, in the cron
            vals = dict(vals, results_requested=True, results_pass_running=False)
        return super().write(vals)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_refresh_results(self):
        """Ask for the campaigns' results to be computed again, in the
        background (the results cron: no work here that grows with the
        campaign)."""
        self._check_messaging_group(MANAGER_GROUP)
        self.sudo().write({"results_requested": True, "results_pass_running": False})
        attribution.retrigger_cron(self.env)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": _(
                    "The results are being computed in the background; "
                    "reload the campaign in a minute."
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_view_orders(self):
        """The orders attributed to the campaign, as a list, pivot and graph."""
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_campaign_sale_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"default_campaign_id": self.id}
        action["display_name"] = _("Orders: %s", self.name)
        return action

    # ------------------------------------------------------------------
    # Cron
    # ------------------------------------------------------------------

    @api.model
    def _cron_compute_results(self, time_limit=attribution.TIME_LIMIT, max_chunks=None):
        """Entry point of the results cron: see
        :func:`..engine.attribution.cron_compute`."""
        return attribution.cron_compute(self.env, time_limit, max_chunks)
