"""E-mail through Odoo's mail stack: sent only once the SMTP server took
it, a refusal or a bounce fails the message and falls back, the e-mail is
in the record's chatter with its notification, one mail.mail per message
whatever crashes."""

from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from odoo.addons.multichannel_messaging.engine import emails

from .common import MessagingCase
from .peers import SmtpPeer

REFUSED = "khong-ton-tai@example.vn"


@tagged("post_install", "-at_install")
class TestEmailStack(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_email_and_zalo("E-mail (stack)")
        cls.partner_refused = cls.env["res.partner"].create(
            {"name": "Đỗ Văn Sai", "email": REFUSED}
        )
        cls.chain = [[cls.sandbox_b.id, cls.template.id]]

    def _send_through(self, peer):
        """Run the queue with Odoo really talking SMTP to ``peer`` (Odoo
        skips SMTP in tests; the loopback peer is the only server)."""
        server = self.env["ir.mail_server"].create(
            {
                "name": "Loopback",
                "smtp_host": "127.0.0.1",
                "smtp_port": peer.port,
                "smtp_encryption": "none",
            }
        )
        self.email.mail_server_id = server
        with patch("odoo.modules.module.current_test", False):
            self.Message._process_queue()

    def _email(self, partner, **vals):
        return self._queue(
            partner,
            channel=self.email,
            template=self.template_email_tx,
            fallback_chain=self.chain,
            **vals,
        )

    def test_accepted_email_is_sent_after_smtp_took_it(self):
        message = self._email(self.partner_email_only)
        self.assertEqual(message.state, "queued")
        with SmtpPeer() as peer:
            self._send_through(peer)
        self.assertEqual(len(peer.messages), 1)
        self.assertEqual(peer.messages[0][1], ["dung@example.vn"])
        mail = message.mail_mail_id
        self.assertEqual(message.state, "sent")
        self.assertEqual(mail.state, "sent")
        self.assertEqual(message.provider_message_id, mail.message_id)
        self.assertIn(mail.message_id.encode(), peer.messages[0][2])
        self.assertFalse(message.fallback_child_ids)
        # in the contact's chatter like any e-mail, its envelope "sent"
        chatter = mail.mail_message_id
        self.assertEqual(
            (chatter.model, chatter.res_id), ("res.partner", message.partner_id.id)
        )
        self.assertIn(chatter, self.partner_email_only.message_ids)
        notification = chatter.notification_ids
        self.assertEqual(notification.res_partner_id, self.partner_email_only)
        self.assertEqual(notification.notification_status, "sent")

    def test_refused_recipient_fails_and_falls_back(self):
        message = self._email(self.partner_refused)
        with SmtpPeer(refused=[REFUSED]) as peer:
            self._send_through(peer)
        self.assertFalse(peer.messages)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.failure_type, "unreachable")
        self.assertIn("Recipient address rejected", message.error_message)
        self.assertEqual(message.mail_mail_id.state, "exception")
        notification = message.mail_mail_id.mail_message_id.notification_ids
        self.assertEqual(notification.notification_status, "exception")
        child = message.fallback_child_ids
        self.assertEqual(child.channel_id, self.sandbox_b)

    def test_mail_server_down_fails_and_falls_back(self):
        message = self._email(self.partner_email_only)
        peer = SmtpPeer()  # bound, never listening: connection refused
        self._send_through(peer)
        peer._sock.close()
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "mail_smtp")
        self.assertIn("Connection refused", message.error_message)
        self.assertTrue(message.fallback_child_ids)

    def _bounce(self, message):
        raw = (
            "From: MAILER-DAEMON@mx.example.vn\r\n"
            "To: bounce@example.com\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Message-Id: <dsn-1@mx.example.vn>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status;"
            ' boundary="B"\r\n'
            "\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
            "Mailbox full: the message could not be delivered.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.vn\r\n\r\n"
            "Final-Recipient: rfc822; %(to)s\r\nAction: failed\r\nStatus: 5.2.2\r\n"
            "\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n"
            "Message-Id: %(msgid)s\r\nTo: %(to)s\r\nSubject: x\r\n\r\nx\r\n"
            "--B--\r\n"
        ) % {"to": message.recipient, "msgid": message.provider_message_id}
        self.env["mail.thread"].message_process(False, raw)

    def test_bounce_fails_and_falls_back(self):
        message = self._email(self.partner_email_only)
        self.Message._process_queue()  # test mode: Odoo "sends" without SMTP
        self.assertEqual(message.state, "sent")
        self._bounce(message)
        self.assertEqual(message.state, "failed")
        self.assertEqual(message.error_code, "mail_bounce")
        self.assertIn("Mailbox full", message.error_message)
        self.assertEqual(message.fallback_child_ids.channel_id, self.sandbox_b)
        notification = message.mail_mail_id.mail_message_id.notification_ids
        self.assertEqual(notification.notification_status, "bounce")

    def test_one_mail_per_message(self):
        message = self._email(self.partner_email_only)
        self.Message._process_queue()
        self.Message._process_queue()
        mails = self.env["mail.mail"].search([("email_to", "=", "dung@example.vn")])
        self.assertEqual(mails, message.mail_mail_id)

    def _leave_in_sending(self, message):
        past = fields.Datetime.now() - timedelta(minutes=10)
        message.sudo().write({"state": "sending", "claim_until": past})

    def test_crash_after_mail_created_is_held_not_resent(self):
        message = self._email(self.partner_email_only)
        # a worker created the mail.mail, then died before Odoo sent it
        mail = emails.create_mail(message)
        self._leave_in_sending(message)
        self.Message._process_queue()
        self.assertEqual(message.state, "unknown")
        self.assertEqual(mail.state, "cancel")  # Odoo's queue won't send it
        self.assertEqual(message.mail_mail_id, mail)
        self.assertFalse(message.fallback_child_ids)
        # the Manager resends: the same mail.mail goes out, no second one
        message.action_resend_unknown()
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        self.assertEqual(mail.state, "sent")
        self.assertEqual(
            self.env["mail.mail"].search_count([("email_to", "=", "dung@example.vn")]),
            1,
        )

    def test_crash_before_mail_created_is_queued_again(self):
        message = self._email(self.partner_email_only)
        self._leave_in_sending(message)
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        self.assertEqual(len(message.mail_mail_id), 1)

    def test_crash_after_smtp_accepted_is_sent(self):
        message = self._email(self.partner_email_only)
        self.Message._process_queue()
        mail = message.mail_mail_id
        # the outcome was kept on the mail but not yet on the message
        message.sudo().write({"state": "sending", "provider_message_id": False})
        self._leave_in_sending(message)
        self.Message._process_queue()
        self.assertEqual(message.state, "sent")
        self.assertEqual(message.provider_message_id, mail.message_id)
        self.assertEqual(message.mail_mail_id, mail)
