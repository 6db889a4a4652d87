from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import MessagingCase


@tagged("post_install", "-at_install")
class TestPhone(MessagingCase):
    def test_three_spellings_give_one_number(self):
        normalize = self.env["res.partner"]._messaging_normalize_phone
        self.assertEqual(normalize("0912 345 678"), "84912345678")
        self.assertEqual(normalize("+84 912345678"), "84912345678")
        self.assertEqual(normalize("84912345678"), "84912345678")
        self.assertEqual(normalize("0912.345.678"), "84912345678")

    def test_partner_mobile_is_zalo_format(self):
        self.assertEqual(self.partner_a._messaging_phone(), "84912345678")
        self.assertEqual(self.partner_b._messaging_phone(), "84987654321")
        # no country on the contact: Vietnam is assumed
        self.assertEqual(self.partner_c._messaging_phone(), "84903123456")

    def test_phone_used_when_no_mobile(self):
        partner = self.env["res.partner"].create(
            {"name": "Phone only", "phone": "0283 822 1234"}
        )
        self.assertEqual(partner._messaging_phone(), "842838221234")

    def test_no_number_gives_false(self):
        self.assertFalse(self.partner_nothing._messaging_phone())

    def test_invalid_numbers_refused_with_clear_message(self):
        normalize = self.env["res.partner"]._messaging_normalize_phone
        for bad in ("12345", "0912 345", "abcdefg", "0012 345 678 999 11"):
            with self.assertRaisesRegex(UserError, "not valid"):
                normalize(bad)

    def test_invalid_number_skips_message_with_reason(self):
        partner = self.env["res.partner"].create({"name": "Bad", "mobile": "12345"})
        message = self._queue(partner)
        self.assertEqual(message.state, "skipped")
        self.assertEqual(message.failure_type, "invalid_address")
        self.assertIn("12345", message.error_message)

    def test_foreign_number_kept_in_e164_digits(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Belgian",
                "mobile": "0470 12 34 56",
                "country_id": self.env.ref("base.be").id,
            }
        )
        self.assertEqual(partner._messaging_phone(), "32470123456")
