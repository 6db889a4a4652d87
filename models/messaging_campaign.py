from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import campaign_enqueue, rendering, transaction
from ..engine import routing as router  # the campaign has a field "routing"
from .models import MANAGER_GROUP, USER_GROUP


class MessagingCampaign(models.Model):
    _name = "messaging.campaign"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Messaging Campaign"
    _order = "id desc"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    user_id = fields.Many2one(
        "res.users", "Responsible", default=lambda self: self.env.user, tracking=True
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("waiting", "Waiting for activation"),
            ("running", "Running"),
            ("paused", "Paused"),
            ("done", "Done"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )
    segment_ids = fields.Many2many("messaging.segment", string="Customer groups")
    extra_domain = fields.Char(
        "Extra conditions",
        default="[]",
        help="Further conditions on the contacts of the customer groups.",
    )
    res_model = fields.Char(
        "Source model",
        default="res.partner",
        help="Model of the source records (contacts or sale orders).",
    )
    source_res_ids = fields.Json(
        help="Source records picked by hand (bulk send from a list)."
    )
    source_count = fields.Integer("Source records", compute="_compute_source_count")
    channel_id = fields.Many2one("messaging.channel", tracking=True)
    channel_type = fields.Selection(related="channel_id.channel_type")
    template_id = fields.Many2one(
        "messaging.template",
        domain="[('channel_type', '=', channel_type), ('model', '=', res_model)]",
        tracking=True,
    )
    routing = fields.Selection(
        [
            ("fixed", "Channel, then the fallback chain"),
            ("auto", "Automatic: cheapest route per customer"),
        ],
        default="fixed",
        required=True,
        help="Automatic: each customer gets the cheapest of the campaign's "
        "channels they can be reached on (free Zalo consultation, paid "
        "consultation, ZBS by user id or phone, SMS, then e-mail); the others "
        "become their fallback chain.",
    )
    fallback_ids = fields.One2many(
        "messaging.campaign.fallback", "campaign_id", "Fallback chain", copy=True
    )
    scheduled_at = fields.Datetime(
        "Send at",
        tracking=True,
        help="Leave empty to start as soon as the campaign is activated.",
    )
    # throttle overrides (on top of the channels' own limits)
    min_interval_seconds = fields.Float(
        "Seconds between messages",
        help="This campaign's messages are scheduled at least this far apart "
        "(0 = only the channel's spacing applies).",
    )
    daily_cap = fields.Integer(
        "Messages per day",
        help="At most this many of this campaign's messages per 24 hours from "
        "the start: the rest is scheduled on the following days (0 = only the "
        "channel's daily cap applies).",
    )
    resend_window_minutes = fields.Integer(
        "No re-send window (minutes)",
        help="Contacts who already received one of this campaign's templates "
        "within this many minutes are skipped when the campaign is activated "
        "(0 = only the channel's window applies, to marketing messages).",
    )
    message_ids_sent = fields.One2many(
        "messaging.message", "campaign_id", string="Campaign messages"
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    # background enqueue (activation returns at once, a cron queues the
    # recipients chunk by chunk)
    enqueue_state = fields.Selection(
        [
            ("enqueuing", "Queuing recipients"),
            ("done", "All recipients queued"),
            ("stopped", "Stopped"),
        ],
        readonly=True,
        copy=False,
    )
    enqueue_total = fields.Integer("Recipients to queue", readonly=True, copy=False)
    enqueue_done = fields.Integer(
        "Recipients queued", compute="_compute_enqueue_progress", compute_sudo=True
    )
    enqueue_progress = fields.Float(
        compute="_compute_enqueue_progress", compute_sudo=True
    )
    enqueue_user_id = fields.Many2one(
        "res.users",
        readonly=True,
        copy=False,
        help="Who activated the campaign: recipients are searched as this user.",
    )
    enqueue_started_at = fields.Datetime(readonly=True, copy=False)
    resume_pending = fields.Boolean(
        readonly=True,
        copy=False,
        help="Resumed; its queued messages are being paced again by a cron "
        "before they are sent.",
    )

    _sql_constraints = [
        (
            "throttle_overrides_positive",
            "CHECK(min_interval_seconds >= 0 AND daily_cap >= 0 "
            "AND resend_window_minutes >= 0)",
            "Throttle overrides cannot be negative.",
        ),
    ]

    @api.constrains("extra_domain")
    def _check_extra_domain(self):
        for campaign in self:
            campaign._get_extra_domain()

    @api.constrains("channel_id", "template_id")
    def _check_template(self):
        for campaign in self:
            router.check_template_channel(campaign.template_id, campaign.channel_id)

    @api.constrains("channel_id", "fallback_ids")
    def _check_fallback_channels(self):
        for campaign in self:
            router.check_fallback_channels(
                [campaign.channel_id]
                + [step.channel_id for step in campaign.fallback_ids.sorted()]
            )

    @api.depends("source_res_ids")
    def _compute_source_count(self):
        for campaign in self:
            campaign.source_count = len(campaign.source_res_ids or [])

    @api.depends("enqueue_state", "enqueue_total")
    def _compute_enqueue_progress(self):
        progress = {
            row.campaign_id: row
            for row in self.env["messaging.campaign.enqueue"].search(
                [("campaign_id", "in", self._origin.ids)]
            )
        }
        for campaign in self:
            row = progress.get(campaign._origin)
            campaign.enqueue_done = row.done if row else 0
            total = campaign.enqueue_total
            campaign.enqueue_progress = (
                min(100.0, 100.0 * campaign.enqueue_done / total) if total else 0.0
            )

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        return [
            dict(vals, name=self.env._("%s (copy)", campaign.name))
            for campaign, vals in zip(self, vals_list, strict=True)
        ]

    def _simulate_recipients(self, recipients):
        """Where each recipient would go, without queuing anything.

        Follows the queue's own rules (the router, ``engine/routing.py``:
        opt-outs, no or invalid address; the fallback chain or the automatic
        routing; the campaign's no re-send window). Returns one dict per
        recipient with partner, res_model, res_id, channel, template, route,
        address, failure (a failure type or None), reason and cost.
        """
        self.ensure_one()
        steps = self._get_steps()
        category = self.template_id.category or "marketing"
        fixed = self.routing == "fixed"
        recent = self._get_recent_partner_ids({r[0].id for r in recipients})
        results = []
        for partner, res_model, res_id in recipients:
            result = {
                "partner": partner,
                "res_model": res_model,
                "res_id": res_id,
                "channel": self.env["messaging.channel"],
                "template": self.env["messaging.template"],
                "route": False,
                "address": False,
                "failure": None,
                "reason": False,
                "cost": 0.0,
            }
            results.append(result)
            if partner.id in recent:
                result.update(failure="duplicate", reason=self._get_recent_reason())
                continue
            options, failures = router.rank_routes(steps, partner, category, fixed)
            if not options:
                # fixed: the chain's last refusal; automatic: queued on the
                # primary step and refused there
                failure, text = failures[-1 if fixed else 0]
                result.update(failure=failure, reason=text)
                continue
            best = options[0]
            result.update(
                channel=best.channel,
                template=best.template,
                route=best.route,
                address=best.address,
                cost=best.rank[1],
            )
        return results

    def _get_enqueued_estimate(self):
        """The estimate from the rows just queued: for each recipient, the
        last step of its chain queued so far (sent to, or why not)."""
        self.ensure_one()
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT m.channel_id, m.template_id, m.route, m.state, m.failure_type,
                   count(*),
                   CASE WHEN m.route = 'consultation' AND m.state = 'queued'
                        THEN array_agg(m.partner_id) END
              FROM messaging_message m
             WHERE m.campaign_id = %s
               AND NOT EXISTS (SELECT 1 FROM messaging_message c
                                WHERE c.fallback_parent_id = m.id)
             GROUP BY 1, 2, 3, 4, 5
            """,
            [self.id],
        )
        outcomes = []
        for row in self.env.cr.fetchall():
            channel_id, template_id, route, state, failure, count, partner_ids = row
            channel = self.env["messaging.channel"].browse(channel_id)
            template = self.env["messaging.template"].browse(template_id)
            if state != "queued":
                outcomes.append((None, failure or state, 0.0, count))
            elif route == "consultation":  # the price depends on each window
                for partner in self.env["res.partner"].browse(partner_ids):
                    cost = router.route_cost(channel, template, route, partner)
                    outcomes.append((channel, None, cost, 1))
            else:
                cost = router.route_cost(channel, template, route)
                outcomes.append((channel, None, cost * count, count))
        self.env.cr.execute(
            "SELECT count(*) FROM messaging_message"
            " WHERE campaign_id = %s AND fallback_parent_id IS NULL",
            [self.id],
        )
        return self._summarize_estimate(outcomes, self.env.cr.fetchone()[0])

    # ------------------------------------------------------------------
    # Workflow
    # ------------------------------------------------------------------

    def _check_ready(self):
        for campaign in self:
            if not campaign.channel_id:
                raise UserError(
                    _("Campaign %s has no channel: pick one before saving it.")
                    % campaign.name
                )
            if not campaign.template_id:
                raise UserError(
                    _("Campaign %s has no template: pick one.") % campaign.name
                )
            for _channel, template in campaign._get_steps():
                campaign._check_step_template(template)
            if not campaign._has_recipients():
                raise UserError(
                    _(
                        "Campaign %s has no recipient: add a customer group (or "
                        "pick records that have a customer)."
                    )
                    % campaign.name
                )
            if (
                campaign.scheduled_at
                and campaign.state == "draft"
                and campaign.scheduled_at < fields.Datetime.now() - timedelta(minutes=1)
            ):
                raise UserError(
                    _("The send date of campaign %s is in the past.") % campaign.name
                )

    def _check_step_template(self, template):
        """The template renders on the campaign's records and declares a
        value for each of its required parameters."""
        self.ensure_one()
        rendering.check_template_for(template, self.res_model)

    def action_confirm(self):
        """Draft -> waiting for activation."""
        self._check_messaging_group(MANAGER_GROUP)
        for campaign in self:
            if campaign.state != "draft":
                raise UserError(_("Only draft campaigns can be saved for activation."))
        self._check_ready()
        self.write({"state": "waiting"})
        return True

    def action_activate(self):
        """Waiting -> running: the recipients become queued messages.

        The click only starts it: a cron queues the recipients chunk by chunk
        (``_cron_enqueue``), so a campaign of any size activates at once. A
        campaign that fits in one chunk is queued inline.
        """
        self._check_messaging_group(MANAGER_GROUP)
        for campaign in self:
            if campaign.state != "waiting":
                raise UserError(
                    _("Campaign %s must be waiting for activation.") % campaign.name
                )
        self._check_ready()
        background = self.browse()
        for campaign in self:
            if campaign_enqueue.start(campaign):
                background |= campaign
        if background:
            campaign_enqueue.retrigger_cron(self.env)
        self.env["messaging.message"]._retrigger_cron()
        return True

    def action_pause(self):
        """Sending stops; so does the queuing of recipients, until resumed."""
        self._check_messaging_group(MANAGER_GROUP)
        running = self.filtered(lambda c: c.state == "running")
        campaign_enqueue.lock(running)
        running.write({"state": "paused"})

    def action_resume(self):
        self._check_messaging_group(MANAGER_GROUP)
        paused = self.filtered(lambda c: c.state == "paused")
        campaign_enqueue.lock(paused)
        paused.write({"state": "running"})
        campaign_enqueue.resume(paused)
        if paused.filtered(lambda c: c.enqueue_state == "enqueuing"):
            campaign_enqueue.retrigger_cron(self.env)
        if paused:
            self.env["messaging.message"]._retrigger_cron()

    def action_cancel(self):
        """Cancel: what is queued is cancelled and the queuing stops."""
        self._check_messaging_group(MANAGER_GROUP)
        for campaign in self:
            if campaign.state == "done":
                raise UserError(_("A finished campaign cannot be cancelled."))
        # waits for a chunk being queued: no chunk starts after this one
        campaign_enqueue.lock(self)
        enqueuing = self.filtered(lambda c: c.enqueue_state == "enqueuing")
        enqueuing.write({"enqueue_state": "stopped"})
        # the claim skips the messages of a campaign that is not running
        self.write({"state": "cancelled", "resume_pending": False})
        campaign_enqueue.cancel_queued(self)
        if enqueuing:
            # the chunk waited for was committed after this transaction began
            # (its rows are not seen here): the cron cancels them
            campaign_enqueue.retrigger_cron(self.env)

    def action_draft(self):
        self._check_messaging_group(MANAGER_GROUP)
        campaigns = self.filtered(lambda c: c.state in ("waiting", "cancelled"))
        cancelling = (
            self.env["messaging.message"]
            .sudo()
            .search(
                [("campaign_id", "in", campaigns.ids), ("state", "=", "queued")],
                limit=1,
            )
        )
        if cancelling:
            raise UserError(
                _(
                    "Campaign %s is still cancelling its queued messages in the "
                    "background. Try again in a minute.",
                    cancelling.campaign_id.name,
                )
            )
        campaigns.write({"state": "draft"})

    def action_view_messages(self):
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_message_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"search_default_group_state": 1}
        return action

    def action_view_report(self):
        """The campaign's messages as a pivot (channel x state) and a graph."""
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_message_action_report"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["display_name"] = _("Report: %s") % self.name
        return action

    def action_preview_recipients(self):
        """Recipients and excluded contacts with the reason, before activation."""
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        if not self.channel_id:
            raise UserError(_("Pick the campaign's channel first."))
        preview = self.env["messaging.campaign.preview"]._create_for(self)
        return {
            "type": "ir.actions.act_window",
            "name": _("Recipients of %s") % self.name,
            "res_model": "messaging.campaign.preview",
            "res_id": preview.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_view_sources(self):
        """The records picked by hand for this campaign (e.g. sale orders)."""
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Source records"),
            "res_model": self.res_model,
            "view_mode": "list,form",
            "domain": [("id", "in", self.source_res_ids or [])],
        }

    def _get_fallback_chain(self):
        self.ensure_one()
        return [[s.channel_id.id, s.template_id.id] for s in self.fallback_ids]

    # ------------------------------------------------------------------
    # Enqueue: recipients -> queued messages, chunk by chunk (engine)
    # ------------------------------------------------------------------

    @api.model
    def _cron_enqueue(
        self, time_limit=campaign_enqueue.ENQUEUE_TIME_LIMIT, max_chunks=None
    ):
        """Entry point of the enqueue cron: see
        :func:`..engine.campaign_enqueue.cron_enqueue`."""
        return campaign_enqueue.cron_enqueue(self.env, time_limit, max_chunks)

    def _enqueue_step(self, auto_commit):
        """One chunk of this campaign in its own transaction: (processed,
        finished), or None when it is not queuing (paused, cancelled,
        finished) or another worker is queuing it."""
        self.ensure_one()
        if auto_commit:
            # READ COMMITTED: the lock sees a pause or cancel committed since
            transaction.commit(self.env)
        self.env.flush_all()
        # one enqueuer per campaign: its progress row, locked
        self.env.cr.execute(
            "SELECT id FROM messaging_campaign_enqueue WHERE campaign_id = %s"
            " FOR NO KEY UPDATE SKIP LOCKED",
            [self.id],
        )
        if not self.env.cr.fetchone():
            return None
        # the campaign share-locked, not updated: a pause or cancel waits for
        # this chunk, then finds the campaign's row unchanged
        self.env.cr.execute(
            "SELECT id FROM messaging_campaign WHERE id = %s AND state = 'running'"
            " AND enqueue_state = 'enqueuing' FOR SHARE SKIP LOCKED",
            [self.id],
        )
        if not self.env.cr.fetchone():
            return None
        if auto_commit:
            # the chunk's rows and its cursor are committed together: a commit
            # lost in a crash is queued again, never twice. And it is durable
            # before any of its rows is sent (a dispatcher's commit, later in
            # the WAL, is synchronous): no need to wait for the disk here
            self.env.cr.execute("SET LOCAL synchronous_commit TO off")
        self.env.invalidate_all()
        return campaign_enqueue.enqueue_chunk(
            self, campaign_enqueue.chunk_size(self.env)
        )

    def _get_steps(self):
        self.ensure_one()
        steps = [(self.channel_id, self.template_id)]
        steps += [(s.channel_id, s.template_id) for s in self.fallback_ids]
        return steps

    def _route_recipients(self, recipients=None):
        """{(channel, template): [(partner, model, id, chain)]}, cheapest first
        (``recipients``: a chunk of them, else all): the router's ranking."""
        steps = self._get_steps()
        category = self.template_id.category
        groups = {}
        if recipients is None:
            recipients = self._get_recipients()
        for partner, res_model, res_id in recipients:
            options, _failures = router.rank_routes(steps, partner, category)
            routes = [(option.channel, option.template) for option in options]
            # none: queued on the primary step, refused there with a reason
            channel, template = routes[0] if routes else steps[0]
            chain = [[c.id, t.id] for c, t in routes[1:]]
            groups.setdefault((channel, template), []).append(
                (partner, res_model, res_id, chain)
            )
        return groups

    @api.model
    def _check_campaigns_done(self):
        # a campaign whose recipients are still being queued is not done
        running = self.search(
            [("state", "=", "running"), ("enqueue_state", "!=", "enqueuing")]
        )
        for campaign in running:
            pending = self.env["messaging.message"].search_count(
                [
                    ("campaign_id", "=", campaign.id),
                    ("state", "in", ("queued", "sending")),
                ],
                limit=1,
            )
            if not pending and campaign._lock_if_running():
                campaign.state = "done"

    def _lock_if_running(self):
        """Lock this campaign if it is still running, else False.

        Several dispatchers may finish a campaign at the same moment: the
        first one closes it, the others find it closed (READ COMMITTED checks
        the state again on the latest version) or locked, and skip it.
        """
        self.ensure_one()
        self.flush_recordset(["state"])
        self.env.cr.execute(
            "SELECT id FROM messaging_campaign WHERE id = %s AND state = 'running'"
            " AND enqueue_state IS DISTINCT FROM 'enqueuing'"
            " FOR NO KEY UPDATE SKIP LOCKED",
            [self.id],
        )
        return bool(self.env.cr.fetchone())
