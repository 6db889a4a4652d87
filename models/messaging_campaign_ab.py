from datetime import timedelta

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine import ab_testing, campaign_enqueue, transaction, waits
from .messaging_campaign_variant import MAX_VARIANTS
from .models import MANAGER_GROUP

# the A/B settings that cannot change once the test has started
AB_LOCKED_FIELDS = ("ab_testing_enabled", "ab_test_share")


class MessagingCampaign(models.Model):
    """A/B tests (as Odoo's mass mailing does them for e-mail): the test
    share of the recipients is split evenly over 2-3 variants (channel and/or
    template); at the decision time the winner by read rate, click rate or
    revenue sends the rest. The engine is ``engine/ab_testing.py``."""

    _inherit = "messaging.campaign"

    ab_testing_enabled = fields.Boolean(
        "A/B test",
        help="Send 2 or 3 variants to a share of the recipients first, then "
        "the rest with the variant that won.",
    )
    ab_test_share = fields.Integer(
        "Test share (%)",
        default=20,
        help="Percentage of the recipients in the test, spread evenly over the "
        "variants; the others get the winner after the decision.",
    )
    ab_variant_ids = fields.One2many(
        "messaging.campaign.variant", "campaign_id", "Variants", copy=True
    )
    ab_winner_criterion = fields.Selection(
        [("read", "Read rate"), ("click", "Click rate"), ("revenue", "Revenue")],
        "Winner by",
        default="read",
        required=True,
        help="Read rate: read / sent. Click rate: messages with a click on a "
        "tracked link / sent. Revenue: confirmed orders attributed to the "
        "variant's messages. Ties go to the first variant.",
    )
    ab_decision_hours = fields.Integer(
        "Decide after (hours)",
        default=24,
        help="Hours after the test starts when the winner is chosen and the rest "
        "is sent.",
    )
    ab_test_started_at = fields.Datetime("Test started", readonly=True, copy=False)
    ab_decision_at = fields.Datetime(
        "Decision at",
        compute="_compute_ab_decision_at",
        store=True,
        help="When the winner is chosen and the rest of the audience is sent.",
    )
    ab_state = fields.Selection(
        [("testing", "Testing"), ("decided", "Winner chosen")],
        "A/B test state",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    ab_winner_id = fields.Many2one(
        "messaging.campaign.variant", "Winner", readonly=True, copy=False
    )
    ab_decided_at = fields.Datetime("Winner chosen on", readonly=True, copy=False)
    ab_status_text = fields.Char("A/B test status", compute="_compute_ab_status_text")
    ab_report_html = fields.Html(
        "Variants compared", compute="_compute_ab_report_html", sanitize=False
    )

    @api.depends("ab_test_started_at", "ab_decision_hours")
    def _compute_ab_decision_at(self):
        for campaign in self:
            start = campaign.ab_test_started_at
            campaign.ab_decision_at = start and start + timedelta(
                hours=campaign.ab_decision_hours
            )

    @api.depends(
        "ab_testing_enabled",
        "ab_state",
        "ab_decision_at",
        "ab_winner_id",
        "ab_test_share",
        "ab_variant_ids",
        "ab_decision_hours",
        "ab_winner_criterion",
        "state",
        "scheduled_at",
    )
    @api.depends_context("lang", "tz")
    def _compute_ab_status_text(self):
        for campaign in self:
            campaign.ab_status_text = campaign._get_ab_status_text()

    @api.depends("ab_variant_ids", "ab_winner_id", "message_ids_sent.state")
    @api.depends_context("lang")
    def _compute_ab_report_html(self):
        stats = ab_testing.variant_stats(self)
        for campaign in self:
            campaign.ab_report_html = campaign._render_ab_report_html(stats)

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------

    @api.constrains("ab_testing_enabled", "ab_test_share", "ab_decision_hours")
    def _check_ab_settings(self):
        for campaign in self.filtered("ab_testing_enabled"):
            if not 1 <= campaign.ab_test_share <= 99:
                raise ValidationError(
                    _(
                        "Campaign %s: the test share of an A/B test is a percentage "
                        "between 1 and 99.",
                        campaign.name,
                    )
                )
            if campaign.ab_decision_hours < 1:
                raise ValidationError(
                    _(
                        "Campaign %s: the winner of an A/B test is chosen at least "
                        "one hour after the test starts.",
                        campaign.name,
                    )
                )

    @api.constrains("ab_testing_enabled", "ab_variant_ids", "routing")
    def _check_ab_variant_count(self):
        for campaign in self:
            count = len(campaign.ab_variant_ids)
            if count > MAX_VARIANTS or (campaign.ab_testing_enabled and count < 2):
                raise ValidationError(
                    _(
                        "Campaign %(name)s: an A/B test has 2 or 3 variants "
                        "(it has %(count)s).",
                        name=campaign.name,
                        count=count,
                    )
                )
            if campaign.ab_testing_enabled and campaign.routing == "auto":
                raise ValidationError(
                    _(
                        "Campaign %s: an A/B test sends each variant on its own "
                        "channel; set the channel selection to 'Channel, then the "
                        "fallback chain'.",
                        campaign.name,
                    )
                )

    @api.constrains("fallback_ids", "res_model")
    def _check_ab_variants_fit(self):
        self.ab_variant_ids._check_variant()

    def _check_ab_editable(self):
        """The variants and the split are fixed once the campaign is
        activated (its test group is queued with them)."""
        for campaign in self:
            if campaign.state not in ("draft", "waiting"):
                raise UserError(
                    _(
                        "Campaign %s is activated: its A/B test (variants, test "
                        "share) can no longer be changed.",
                        campaign.name,
                    )
                )

    def write(self, vals):
        if any(name in vals for name in AB_LOCKED_FIELDS):
            changed = self.filtered(
                lambda c: any(
                    c[name] != vals[name] for name in AB_LOCKED_FIELDS if name in vals
                )
            )
            changed._check_ab_editable()
        return super().write(vals)

    def _check_ready(self):
        result = super()._check_ready()
        for campaign in self.filtered("ab_testing_enabled"):
            campaign._check_ab_variant_count()
            for variant in campaign.ab_variant_ids:
                campaign._check_step_template(variant.template_id)
        return result

    # ------------------------------------------------------------------
    # Workflow
    # ------------------------------------------------------------------

    def action_activate(self):
        """With an A/B test, only the test share is queued now (see
        ``engine/ab_testing.py``); the rest waits for the decision."""
        self._check_messaging_group(MANAGER_GROUP)
        now = fields.Datetime.now()
        for campaign in self.filtered(lambda c: c.state == "waiting"):
            if campaign.ab_testing_enabled:
                campaign.write(
                    {
                        "ab_state": "testing",
                        "ab_test_started_at": max(campaign.scheduled_at or now, now),
                        "ab_winner_id": False,
                        "ab_decided_at": False,
                    }
                )
            elif campaign.ab_state:
                campaign.ab_state = False
        result = super().action_activate()
        testing = self.filtered(lambda c: c.ab_state == "testing")
        if testing:
            self._ab_trigger_decision(min(testing.mapped("ab_decision_at")))
        return result

    def action_resume(self):
        result = super().action_resume()
        if self.filtered(lambda c: c.state == "running" and c.ab_state == "testing"):
            self._ab_trigger_decision()
        return result

    def action_draft(self):
        result = super().action_draft()
        self.filtered(lambda c: c.state == "draft" and c.ab_state).write(
            {"ab_state": False, "ab_winner_id": False, "ab_decided_at": False}
        )
        return result

    def _lock_if_running(self):
        # a campaign testing waits for its decision: it is not done when its
        # test group is sent
        if self.ab_state == "testing":
            return False
        return super()._lock_if_running()

    # ------------------------------------------------------------------
    # Decision
    # ------------------------------------------------------------------

    @api.model
    def _cron_ab_decide(self):
        """Choose the winner of the A/B tests whose decision time has come
        and whose test group is all queued; each decision is committed on
        its own (a second run finds it made)."""
        auto_commit = self.env["messaging.message"]._auto_commit()
        campaigns = self.search(
            [
                ("ab_state", "=", "testing"),
                ("state", "=", "running"),
                ("enqueue_state", "=", "done"),
                ("ab_decision_at", "<=", fields.Datetime.now()),
            ],
            order="ab_decision_at, id",
        )
        for campaign in campaigns:
            campaign._ab_decide()
            if auto_commit:
                # the decision and the reset cursor for the rest, for good
                transaction.commit(self.env)
        return len(campaigns)

    def _ab_decide(self, winner=None):
        """Choose the winner (``winner``: a Manager's pick, else by the
        criterion) and queue the rest of the audience with it by the normal
        chunked path. Returns whether a decision was made; a pick that
        cannot be made raises a UserError."""
        self.ensure_one()
        # a concurrent pause, cancel or decision is committed first
        campaign_enqueue.lock(self)
        self.invalidate_recordset()
        problem = self._get_ab_decide_problem()
        if problem:
            if winner:
                raise UserError(problem)
            return False
        winner = winner or ab_testing.pick_winner(self)
        now = fields.Datetime.now()
        self.write(
            {
                "ab_state": "decided",
                "ab_winner_id": winner.id,
                "ab_decided_at": now,
                "enqueue_state": "enqueuing",
                "enqueue_total": self._count_recipients(),
            }
        )
        campaign_enqueue.progress_of(self).write(
            {
                "cursor": 0,
                "done": 0,
                "spread_start": max(self.scheduled_at or now, now),
                "spread_rank": 0,
            }
        )
        self.message_post(
            body=_(
                "A/B test: variant %(name)s won (%(criterion)s); the rest of the "
                "audience is sent with it.",
                name=winner.name,
                criterion=self._get_ab_criterion_label(),
            )
        )
        if self.state == "running":
            if self.enqueue_total <= campaign_enqueue.chunk_size(self.env):
                campaign_enqueue.enqueue_all(self)
            else:
                campaign_enqueue.retrigger_cron(self.env)
            self.env["messaging.message"]._retrigger_cron()
        return True

    def _get_ab_decide_problem(self):
        """Why the winner cannot be chosen now (False: it can)."""
        self.ensure_one()
        if self.ab_state != "testing":
            return _("Campaign %s is not testing: its winner is already chosen.") % (
                self.name
            )
        if self.state not in ("running", "paused"):
            return _(
                "Campaign %s is not running: a winner is chosen only while it "
                "runs or is paused."
            ) % (self.name)
        if self.enqueue_state == "enqueuing":
            return _(
                "The test group of campaign %s is still being queued: pick the "
                "winner once it is all queued."
            ) % (self.name)
        return False

    def _ab_trigger_decision(self, at=None):
        cron = self.env.ref(
            "multichannel_messaging.ir_cron_messaging_campaign_ab_decide",
            raise_if_not_found=False,
        )
        if cron:
            cron.sudo()._trigger(at=at)

    # ------------------------------------------------------------------
    # Words and report
    # ------------------------------------------------------------------

    def _get_ab_criterion_label(self):
        self.ensure_one()
        labels = dict(
            self._fields["ab_winner_criterion"]._description_selection(self.env)
        )
        return labels.get(self.ab_winner_criterion, "")

    def _format_ab_when(self, when):
        """``when`` (UTC) with its date, in the reader's zone and formats
        (05/12/2026 08:00 in Vietnamese)."""
        if not when:
            return ""
        local = pytz.utc.localize(when).astimezone(waits.reader_tz(self.env))
        lang = self.env["res.lang"]._get_data(code=self.env.lang or "en_US")
        date_format = (lang and lang.date_format) or "%m/%d/%Y"
        time_format = (lang and lang.short_time_format) or "%H:%M"
        return local.strftime("%s %s" % (date_format, time_format))

    def _get_ab_status_text(self):
        """Where the A/B test stands, in the reader's words (False without
        one)."""
        self.ensure_one()
        if self.ab_state == "decided":
            return _(
                "Variant %(name)s won (%(criterion)s): the rest of the audience "
                "is sent with it.",
                name=self.ab_winner_id.name,
                criterion=self._get_ab_criterion_label(),
            )
        if self.ab_state == "testing":
            if self.state not in ("running", "paused"):
                return _("The A/B test stopped before its decision.")
            return _(
                "Testing: sends the rest with the winner at %s.",
                self._format_ab_when(self.ab_decision_at),
            )
        if not self.ab_testing_enabled or self.state not in ("draft", "waiting"):
            return False
        now = fields.Datetime.now()
        decision = max(self.scheduled_at or now, now) + timedelta(
            hours=self.ab_decision_hours
        )
        try:
            total = self._count_recipients() if self._origin.id else 0
        except (UserError, ValidationError):
            total = 0
        test = total * self.ab_test_share // 100
        return _(
            "A/B test: %(share)s%% of the recipients (%(test)s) get one of "
            "%(count)s variants when it starts; the other %(rest)s get the "
            "winner by %(criterion)s at about %(when)s.",
            share=self.ab_test_share,
            test=test,
            count=len(self.ab_variant_ids),
            rest=total - test,
            criterion=self._get_ab_criterion_label(),
            when=self._format_ab_when(decision),
        )

    def _render_ab_report_html(self, stats):
        """The variants side by side (``stats``: see
        ``ab_testing.variant_stats``), in the reader's language."""
        self.ensure_one()
        if not self.ab_variant_ids or not self.ab_state:
            return False
        empty = ab_testing.empty_stats()
        rows = [
            dict(
                stats.get(variant.id, empty),
                variant=variant,
                winner=variant == self.ab_winner_id,
            )
            for variant in self.ab_variant_ids.sorted()
        ]
        return self.env["ir.qweb"]._render(
            "multichannel_messaging.messaging_campaign_variant_table",
            {
                "rows": rows,
                "currency": self.currency_id or self.env.company.currency_id,
            },
        )
