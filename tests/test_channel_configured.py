"""A channel without the credentials of its provider is "Not configured":
visible and active, but the queue never calls its provider; its messages
fail at once and go to the next fallback step."""

from odoo.tests import tagged

from .common import MessagingCase


@tagged("post_install", "-at_install")
class TestChannelConfigured(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Channel = cls.env["messaging.channel"]
        cls.esms = Channel.create(
            dict(
                cls.NO_THROTTLE,
                name="eSMS without key",
                channel_type="esms",
                # nothing listens here: a call would fail as "not sent", not
                # as "not configured"
                esms_url="http://127.0.0.1:9",
            )
        )
        cls.sms_template = cls.env["messaging.template"].create(
            {
                "name": "SMS notice",
                "channel_type": "esms",
                "category": "transactional",
                "body": "Don hang cua {{ object.name }} da san sang.",
            }
        )
        cls.segment = cls.env["messaging.segment"].create(
            {"name": "An only", "domain": repr([("id", "in", cls.partner_a.ids)])}
        )

    def test_state_follows_the_credentials(self):
        Channel = self.env["messaging.channel"]
        zalo = Channel.create({"name": "Zalo", "channel_type": "zalo"})
        self.assertFalse(zalo.is_configured)
        zalo.zalo_refresh_token = "RT"
        self.assertTrue(zalo.is_configured)
        self.assertFalse(self.esms.is_configured)
        self.esms.esms_api_key = "key"
        self.assertFalse(self.esms.is_configured, "the secret key is missing")
        self.esms.esms_secret_key = "secret"
        self.assertTrue(self.esms.is_configured)
        speedsms = Channel.create({"name": "Speed", "channel_type": "speedsms"})
        self.assertFalse(speedsms.is_configured)
        self.assertTrue(self.sandbox.is_configured)
        email = Channel.create({"name": "Mail", "channel_type": "email"})
        self.assertTrue(email.is_configured)

    def test_queue_never_calls_it_and_falls_back(self):
        campaign = self.env["messaging.campaign"].create(
            {
                "name": "Not configured first",
                "segment_ids": [(6, 0, self.segment.ids)],
                "channel_id": self.esms.id,
                "template_id": self.sms_template.id,
                "fallback_ids": [
                    (
                        0,
                        0,
                        {
                            "sequence": 1,
                            "channel_id": self.sandbox.id,
                            "template_id": self.template_tx.id,
                        },
                    )
                ],
            }
        )
        campaign.action_confirm()
        campaign.action_activate()
        self.Message._process_queue()
        first = campaign.message_ids_sent.filtered(lambda m: m.channel_id == self.esms)
        self.assertEqual(first.state, "failed")
        self.assertEqual(first.failure_type, "not_configured")
        self.assertEqual(first.attempt_count, 0, "the provider was never called")
        self.assertIn("is not configured", first.error_message)
        fallback = first.fallback_child_ids
        self.assertEqual(fallback.channel_id, self.sandbox)
        self.assertEqual(fallback.state, "delivered")
        self.assertEqual(campaign.count_fallback, 1)
