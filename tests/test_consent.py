"""One consent truth, Odoo's: phone.blacklist and mail.blacklist decide which
marketing messages go; opt-outs of every kind write to them. And each
company sees only its own messaging records."""

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..providers.zalo_events import zalo_time
from . import test_webhook_common as wh
from .common import MessagingCase

USER = "base.group_user,multichannel_messaging.group_messaging_user"
MANAGER = "base.group_user,multichannel_messaging.group_messaging_manager"
NUMBER_A = "+84912345678"  # partner_a's mobile "0912 345 678", E.164


@tagged("post_install", "-at_install")
class TestConsent(MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.PhoneBlacklist = cls.env["phone.blacklist"]
        cls.MailBlacklist = cls.env["mail.blacklist"]
        cls._setup_email_and_zalo("E-mail test")
        cls.mine = cls.sandbox | cls.sandbox_b | cls.email | cls.zalo
        cls.user = cls._make_user("consent_user", USER + ",base.group_partner_manager")
        cls.manager = cls._make_user(
            "consent_manager", MANAGER + ",base.group_partner_manager"
        )

    # -- phone.blacklist --------------------------------------------------------
    def test_phone_blacklist_skips_marketing_transactional_still_goes(self):
        self.PhoneBlacklist._add([NUMBER_A])
        marketing = self._queue(self.partner_a)
        self.assertEqual(marketing.state, "skipped")
        self.assertEqual(marketing.failure_type, "opt_out")
        self.assertIn("phone blacklist (phone.blacklist)", marketing.error_message)
        self.assertIn(NUMBER_A, marketing.error_message)
        transactional = self._queue(self.partner_a, template=self.template_tx)
        self.assertEqual(transactional.state, "queued")
        self.Message._process_queue()
        self.assertEqual(transactional.state, "delivered")
        self.assertEqual(marketing.state, "skipped")

    def test_number_written_differently_is_the_same_number(self):
        self.partner_b.mobile = "098 765 4321"  # stored as +84987654321
        self.PhoneBlacklist._add(["+84987654321"])
        self.assertEqual(self._queue(self.partner_b).state, "skipped")

    def test_blacklist_round_trip(self):
        self.PhoneBlacklist._add([NUMBER_A])
        self.assertTrue(self.partner_a.messaging_opt_out)
        self.assertEqual(self._queue(self.partner_a).state, "skipped")
        self.PhoneBlacklist._remove([NUMBER_A])
        self.assertFalse(self.partner_a.messaging_opt_out)
        self.assertEqual(self._queue(self.partner_a).state, "queued")
        # archiving the entry (Odoo's "unblacklist") works the same
        entry = self.PhoneBlacklist._add([NUMBER_A])
        self.assertEqual(self._queue(self.partner_a).state, "skipped")
        entry.action_archive()
        self.assertEqual(self._queue(self.partner_a).state, "queued")

    # -- mail.blacklist ---------------------------------------------------------
    def test_mail_blacklist_skips_marketing_email(self):
        partner = self.partner_email_only
        self.MailBlacklist._add("Dung@Example.vn")
        skipped = self._queue(partner, channel=self.email, template=self.template_email)
        self.assertEqual(skipped.state, "skipped")
        self.assertEqual(skipped.failure_type, "opt_out")
        self.assertIn("e-mail blacklist (mail.blacklist)", skipped.error_message)
        # the sandbox goes by e-mail for this contact: the same list applies
        self.assertEqual(self._queue(partner).state, "skipped")
        invoice = self._queue(
            partner, channel=self.email, template=self.template_email_tx
        )
        self.assertEqual(invoice.state, "queued")
        self.MailBlacklist._remove("dung@example.vn")
        again = self._queue(partner, channel=self.email, template=self.template_email)
        self.assertEqual(again.state, "queued")

    # -- manual opt-outs on the contact -----------------------------------------
    def test_manual_opt_out_writes_both_lists(self):
        self.partner_a.email = "an@example.vn"
        self.partner_a.with_user(self.user).messaging_opt_out = True
        self.assertTrue(self.PhoneBlacklist.search([("number", "=", NUMBER_A)]))
        self.assertTrue(self.MailBlacklist.search([("email", "=", "an@example.vn")]))
        every_kind = self.sandbox | self.sandbox_b | self.email | self.zalo
        self.assertEqual(
            self.partner_a.messaging_opt_out_channel_ids & every_kind, every_kind
        )
        # opting back in is a Manager's decision, and removes both entries
        with self.assertRaisesRegex(AccessError, "Messaging Manager"):
            self.partner_a.with_user(self.user).messaging_opt_out = False
        self.partner_a.with_user(self.manager).messaging_opt_out = False
        self.assertFalse(self.PhoneBlacklist.search([("number", "=", NUMBER_A)]))
        self.assertFalse(self.MailBlacklist.search([("email", "=", "an@example.vn")]))
        self.assertFalse(self.partner_a.messaging_opt_out_channel_ids)
        self.assertEqual(self._queue(self.partner_a).state, "queued")

    def test_new_contact_with_a_blacklisted_number_stays_blacklisted(self):
        self.PhoneBlacklist._add(["+84977000111"])
        partner = (
            self.env["res.partner"]
            .with_user(self.user)
            .create(
                {
                    "name": "Khách mới",
                    "mobile": "0977 000 111",
                    "country_id": self.vn.id,
                    "messaging_opt_out": False,  # as the form sends it
                    "messaging_opt_out_channel_ids": [(6, 0, [])],
                }
            )
        )
        self.assertTrue(partner.messaging_phone_blacklisted)
        self.assertTrue(partner.messaging_opt_out)
        self.assertEqual(self._queue(partner).state, "skipped")

    def test_opt_out_of_email_channel_only(self):
        self.partner_a.email = "an@example.vn"
        self.partner_a.messaging_opt_out_channel_ids = self.email
        self.assertTrue(self.partner_a.is_blacklisted)
        self.assertFalse(self.partner_a.messaging_phone_blacklisted)
        self.assertFalse(self.partner_a.messaging_opt_out)  # its number is not
        self.assertEqual(
            self.partner_a.messaging_opt_out_channel_ids & self.mine, self.email
        )
        self.assertEqual(self._queue(self.partner_a).state, "queued")

    def test_zalo_opt_out_stays_on_the_oa(self):
        identity = self.env["messaging.identity"].create(
            {
                "channel_id": self.zalo.id,
                "external_id": wh.USER_ID,
                "partner_id": self.partner_a.id,
                "last_interaction_at": fields.Datetime.now(),
            }
        )
        self.partner_a.messaging_opt_out_channel_ids = self.zalo
        self.assertTrue(identity.opt_out)
        self.assertFalse(self.partner_a.messaging_phone_blacklisted)
        self.assertEqual(
            self.partner_a.messaging_opt_out_channel_ids & self.mine, self.zalo
        )
        consultation = self.Message.create(
            {
                "partner_id": self.partner_a.id,
                "channel_id": self.zalo.id,
                "body": "Ưu đãi",
                "category": "marketing",
            }
        )
        self.assertEqual(consultation.state, "skipped")
        self.assertIn("opted out", consultation.error_message)
        self.assertEqual(self._queue(self.partner_a).state, "queued")  # by phone

    # -- one way to find a contact by number -------------------------------------
    def test_contact_found_by_number_with_odoo_phone_tools(self):
        self.partner_b.mobile = "+84 98-765-4321"
        Event = self.env["messaging.event"]
        self.assertEqual(Event._find_partner_by_phone("84987654321"), self.partner_b)
        self.assertFalse(Event._find_partner_by_phone("84900000000"))


@tagged("post_install", "-at_install")
class TestOptOutKeyword(MessagingCase):
    """The opt-out keywords of inbound Zalo messages write to Odoo's list."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.zalo = cls.env["messaging.channel"].create(wh.zalo_channel_values())
        cls.Identity = cls.env["messaging.identity"]

    def _event(self, payload):
        raw = wh.encode(payload)
        event = self.env["messaging.event"]._store(
            self.zalo,
            wh.sign(raw, payload.get("timestamp", "")),
            payload.get("event_name"),
            raw.decode(),
            event_at=zalo_time(payload.get("timestamp")),
        )
        event._process()
        return event

    def _identity(self, partner):
        return self.Identity.create(
            {
                "channel_id": self.zalo.id,
                "external_id": wh.USER_ID,
                "partner_id": partner.id,
            }
        )

    def test_keyword_writes_phone_blacklist(self):
        identity = self._identity(self.partner_a)
        self._event(wh.user_text("HUY"))
        entry = self.env["phone.blacklist"].search([("number", "=", NUMBER_A)])
        self.assertTrue(entry)
        self.assertFalse(identity.opt_out)  # no copy of Odoo's list
        self.assertTrue(self.partner_a.messaging_opt_out)
        self.assertEqual(self._queue(self.partner_a).state, "skipped")
        # taken off Odoo's list, the contact is reachable again everywhere
        entry.action_archive()
        self.assertFalse(self.partner_a._messaging_is_opted_out(self.zalo))
        self.assertEqual(self._queue(self.partner_a).state, "queued")

    def test_keyword_of_unknown_user_moves_to_blacklist_when_linked(self):
        self._event(wh.user_text("STOP"))
        identity = self.Identity.search([("channel_id", "=", self.zalo.id)])
        self.assertTrue(identity.opt_out)
        marketing = self.Message.create(
            {
                "channel_id": self.zalo.id,
                "route": "consultation",
                "recipient": identity.external_id,
                "body": "Ưu đãi",
                "category": "marketing",
            }
        )
        self.assertEqual(marketing.state, "skipped")
        self._event(wh.submit_info("0912345678"))
        self.assertEqual(identity.partner_id, self.partner_a)
        self.assertFalse(identity.opt_out)
        self.assertTrue(self.env["phone.blacklist"].search([("number", "=", NUMBER_A)]))


@tagged("post_install", "-at_install")
class TestMultiCompany(MessagingCase):
    """A user of company B reads none of company A's messaging records."""

    def test_company_b_cannot_read_company_a_records(self):
        company_b = self.env["res.company"].create({"name": "Công ty B"})
        user_b = self._make_user("consent_manager_b", MANAGER, company=company_b)
        zalo_a = self.env["messaging.channel"].create(wh.zalo_channel_values())
        identity = self.env["messaging.identity"].create(
            {"channel_id": zalo_a.id, "external_id": "1234567890123"}
        )
        event = self.env["messaging.event"].create(
            {"channel_id": zalo_a.id, "event_key": "k-a", "event_name": "follow"}
        )
        team = self.env["messaging.team"].create(
            {"name": "Team A", "company_id": self.company.id}
        )
        rule = self.env["messaging.auto.reply"].create(
            {
                "name": "Giá",
                "channel_id": zalo_a.id,
                "keywords": "gia",
                "template_id": self.template.id,
            }
        )
        for record in (identity, event, team, rule):
            self.assertEqual(record.company_id, self.company)
            Model = self.env[record._name].with_user(user_b)
            self.assertFalse(Model.search([("id", "=", record.id)]), record._name)
            with self.assertRaises(AccessError):
                record.with_user(user_b).read(["company_id"])
        # company A's own manager reads them
        manager_a = self._make_user("consent_manager_a", MANAGER)
        for record in (identity, event, team, rule):
            record.with_user(manager_a).read(["company_id"])
