from datetime import timedelta

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .models import USER_GROUP

# the team's working hours are read in Vietnam's time
TEAM_TZ = "Asia/Ho_Chi_Minh"


class MessagingTeam(models.Model):
    """The agents who answer the Zalo conversations of some OAs."""

    _name = "messaging.team"
    _description = "Conversation Team"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    user_ids = fields.Many2many(
        "res.users",
        "messaging_team_user_rel",
        "team_id",
        "user_id",
        string="Agents",
        domain=[("share", "=", False)],
    )
    channel_ids = fields.Many2many(
        "messaging.channel",
        "messaging_team_channel_rel",
        "team_id",
        "channel_id",
        string="Zalo OAs",
        domain=[("channel_type", "=", "zalo")],
        help="The OAs whose conversations this team answers. Empty: every OA "
        "of the company that no other team names.",
    )
    assignment = fields.Selection(
        [
            ("round_robin", "Round robin among available agents"),
            ("shared", "Shared queue (every agent sees it; one takes it)"),
        ],
        default="round_robin",
        required=True,
    )
    available_only = fields.Boolean(
        "Only agents online",
        default=True,
        help="Round robin skips agents who are offline in Odoo. When nobody "
        "is online the conversation waits in the team's shared queue.",
    )
    resource_calendar_id = fields.Many2one(
        "resource.calendar",
        "Working hours",
        default=lambda self: self.env.company.resource_calendar_id,
        help="When the team answers, in Vietnam's time (Asia/Ho_Chi_Minh). A "
        "customer who asks for a person is told when the team opens again; an "
        "OA may run its chatbot only outside these hours. Empty: always open.",
    )
    last_user_id = fields.Many2one(
        "res.users", "Last assigned agent", readonly=True, copy=False
    )
    conversation_ids = fields.One2many(
        "discuss.channel", "messaging_team_id", string="Conversations"
    )
    conversation_open_count = fields.Integer(compute="_compute_conversation_counts")

    @api.depends("conversation_ids.messaging_state")
    def _compute_conversation_counts(self):
        counts = dict(
            self.env["discuss.channel"]
            .sudo()
            ._read_group(
                [
                    ("messaging_team_id", "in", self.ids),
                    ("messaging_state", "not in", ("done", False)),
                ],
                ["messaging_team_id"],
                ["__count"],
            )
        )
        for team in self:
            team.conversation_open_count = counts.get(team, 0)

    @api.constrains("user_ids")
    def _check_users(self):
        for team in self:
            if team.user_ids.filtered("share"):
                raise ValidationError(
                    _("Team %s: agents must be internal users.") % team.name
                )

    @api.model
    def _for_channel(self, channel):
        """The team answering this OA: the first naming it, else the first
        of its company naming none."""
        teams = self.sudo().search([("company_id", "=", channel.company_id.id)])
        named = teams.filtered(lambda t: channel in t.channel_ids)
        return named[:1] or teams.filtered(lambda t: not t.channel_ids)[:1]

    def _pick_agent(self):
        """The next agent in round robin (empty for the shared queue).

        The team row is locked while the pointer moves, so two conversations
        arriving together go to two agents."""
        self.ensure_one()
        if self.assignment != "round_robin" or not self.user_ids:
            return self.env["res.users"]
        self.env.cr.execute(
            "SELECT last_user_id FROM messaging_team WHERE id = %s FOR NO KEY UPDATE",
            [self.id],
        )
        last_id = self.env.cr.fetchone()[0]
        agents = self.user_ids.sorted("id")
        if self.available_only:
            agents = agents.filtered(lambda u: u._is_user_available())
        if not agents:
            return self.env["res.users"]
        after = agents.filtered(lambda u: u.id > (last_id or 0))
        agent = after[:1] or agents[:1]
        self.sudo().last_user_id = agent
        return agent

    def _next_opening(self, now=None):
        """None while the team works (or has no working hours), else when
        it opens next (UTC, naive), within the next 4 weeks."""
        self.ensure_one()
        calendar = self.sudo().resource_calendar_id
        if not calendar:
            return None
        start = pytz.utc.localize(now or fields.Datetime.now())
        intervals = calendar._work_intervals_batch(
            start, start + timedelta(weeks=4), tz=pytz.timezone(TEAM_TZ)
        )[False]
        first = next(iter(intervals), None)
        if first and first[0] <= start:
            return None
        return first[0].astimezone(pytz.utc).replace(tzinfo=None) if first else None

    def action_open_conversations(self):
        self._check_messaging_group(USER_GROUP)
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "multichannel_messaging.messaging_conversation_action"
        )
        action["domain"] = [("messaging_team_id", "=", self.id)]
        return action
