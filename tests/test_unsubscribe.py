"""A message's unsubscribe link, through the real route: opening it changes
nothing, confirming puts the address on Odoo's own list (phone.blacklist,
mail.blacklist, the OA's opt-out for a Zalo user id), a wrong token is a
404, and marketing e-mails carry the link and the List-Unsubscribe headers."""

import ast

from odoo import fields
from odoo.tests import HttpCase, tagged

from . import test_webhook_common as wh
from .common import MessagingCase

NUMBER_A = "+84912345678"  # partner_a's mobile "0912 345 678", E.164


@tagged("post_install", "-at_install")
class TestUnsubscribe(HttpCase, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.PhoneBlacklist = cls.env["phone.blacklist"].with_context(active_test=False)
        cls.MailBlacklist = cls.env["mail.blacklist"].with_context(active_test=False)
        cls._setup_email_and_zalo("E-mail unsubscribe")

    def _path(self, message, token=None):
        return "/messaging/unsubscribe/%s/%s" % (
            message.id,
            token or message._get_unsubscribe_token(),
        )

    def _confirm(self, message, token=None):
        return self.url_open(self._path(message, token), data={"confirm": "1"})

    def _listed_numbers(self):
        return set(self.PhoneBlacklist.search([("active", "=", True)]).mapped("number"))

    def test_opening_the_link_changes_nothing(self):
        message = self._queue(self.partner_a)
        response = self.url_open(self._path(message))
        self.assertEqual(response.status_code, 200)
        self.assertIn(NUMBER_A, response.text)
        self.assertIn("Unsubscribe", response.text)
        self.assertNotIn(NUMBER_A, self._listed_numbers())

    def test_confirming_puts_the_number_on_the_phone_blacklist(self):
        message = self._queue(self.partner_a)
        response = self._confirm(message)
        self.assertEqual(response.status_code, 200)
        self.assertIn("will no longer receive", response.text)
        self.assertIn(NUMBER_A, self._listed_numbers())
        self.assertTrue(self.partner_a.messaging_phone_blacklisted)
        self.assertIn("Unsubscribed with the link", self.partner_a.message_ids[:1].body)
        # Odoo's list now decides: marketing skipped, transactional goes
        self.assertEqual(self._queue(self.partner_a).state, "skipped")
        tx = self._queue(self.partner_a, template=self.template_tx)
        self.assertEqual(tx.state, "queued")
        # a second confirmation is harmless
        self.assertEqual(self._confirm(message).status_code, 200)
        self.assertEqual(
            len(self.PhoneBlacklist.search([("number", "=", NUMBER_A)])), 1
        )

    def test_wrong_token_or_message_is_not_found(self):
        message = self._queue(self.partner_a)
        other = self._queue(self.partner_b)
        wrong = other._get_unsubscribe_token()
        self.assertEqual(self._confirm(message, token=wrong).status_code, 404)
        self.assertEqual(self._confirm(message, token="x" * 64).status_code, 404)
        response = self.url_open("/messaging/unsubscribe/999999999/%s" % wrong)
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self._listed_numbers() & {NUMBER_A, "+84987654321"})

    def test_email_goes_to_the_mail_blacklist(self):
        partner = self.partner_email_only
        message = self._queue(partner, channel=self.email, template=self.template_email)
        self._confirm(message)
        self.assertTrue(self.MailBlacklist.search([("email", "=", "dung@example.vn")]))
        again = self._queue(partner, channel=self.email, template=self.template_email)
        self.assertEqual(again.state, "skipped")
        self.assertEqual(again.failure_type, "opt_out")

    def test_zalo_user_id_opts_out_on_the_oa(self):
        identity = self.env["messaging.identity"].create(
            {
                "channel_id": self.zalo.id,
                "external_id": wh.USER_ID,
                "partner_id": self.partner_nothing.id,
                "last_interaction_at": fields.Datetime.now(),
            }
        )
        message = self.Message.create(
            {
                "partner_id": self.partner_nothing.id,
                "channel_id": self.zalo.id,
                "body": "Ưu đãi cuối tuần",
                "category": "marketing",
            }
        )
        self.assertEqual(message.recipient, wh.USER_ID)
        self._confirm(message)
        self.assertTrue(identity.opt_out)  # no number known: the OA keeps it
        later = self.Message.create(
            {
                "partner_id": self.partner_nothing.id,
                "channel_id": self.zalo.id,
                "body": "Ưu đãi khác",
                "category": "marketing",
            }
        )
        self.assertEqual(later.state, "skipped")

    def test_marketing_email_carries_the_link_and_headers(self):
        marketing = self._queue(
            self.partner_email_only, channel=self.email, template=self.template_email
        )
        self.Message._process_queue()
        mail = marketing.mail_mail_id
        url = marketing._get_unsubscribe_url()
        self.assertIn(url, str(mail.body_html))
        headers = ast.literal_eval(mail.headers)
        self.assertEqual(headers["List-Unsubscribe"], "<%s>" % url)
        self.assertEqual(headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")

    def test_transactional_email_has_no_link(self):
        invoice = self._queue(
            self.partner_email_only,
            channel=self.email,
            template=self.template_email_tx,
        )
        self.Message._process_queue()
        self.assertNotIn("/messaging/unsubscribe/", str(invoice.mail_mail_id.body_html))
        self.assertFalse(invoice.mail_mail_id.headers)
