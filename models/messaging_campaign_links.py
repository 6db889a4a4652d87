from odoo import fields, models

from ..engine import links
from ..engine import routing as router

# a message id as long as a big database's, for the estimate's opt-out line
SAMPLE_MESSAGE_ID = 10**9


class MessagingCampaign(models.Model):
    """The opt-out link of a campaign's marketing SMS (as Odoo's SMS
    marketing, ``sms_allow_unsubscribe``), counted in the estimate's
    segments."""

    _inherit = "messaging.campaign"

    sms_allow_unsubscribe = fields.Boolean(
        "Opt-out link in SMS",
        default=True,
        help="Marketing SMS of this campaign end with a short link to a page "
        "where the customer stops them (Odoo's phone blacklist). Counted in "
        "the SMS parts of the estimate.",
    )

    def _simulate_recipients(self, recipients):
        results = super()._simulate_recipients(recipients)
        if not self.sms_allow_unsubscribe:
            return results
        category = self.template_id.category or "marketing"
        if category != "marketing":
            return results
        costs = {}  # (channel, template) -> price with the opt-out line
        for result in results:
            if result["route"] != "sms" or result["failure"]:
                continue
            key = (result["channel"], result["template"])
            if key not in costs:
                costs[key] = router.route_cost(
                    *key, "sms", body=self._get_sms_estimate_body(key[1])
                )
            result["cost"] = costs[key]
        return results

    def _get_sms_estimate_body(self, template):
        """The template's text and an opt-out line as long as a real one."""
        self.ensure_one()
        url = "%s%s%s/%s" % (
            links.get_base_url(self.env),
            links.OPT_OUT_PATH,
            SAMPLE_MESSAGE_ID,
            "x" * links.OPT_OUT_TOKEN_SIZE,
        )
        return "%s\n%s" % (
            template.body or "",
            self.env._("STOP SMS: %(url)s", url=url),
        )
