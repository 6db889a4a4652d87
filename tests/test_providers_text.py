from odoo.tests import BaseCase, tagged

from odoo.addons.multichannel_messaging.providers import (
    ACCEPTED,
    UNREACHABLE,
    OutboundMessage,
    ProviderError,
    get_adapter,
    sandbox_final_state,
    sms_segments,
    strip_vietnamese_accents,
)
from odoo.addons.multichannel_messaging.providers.phone import to_national_vn
from odoo.addons.multichannel_messaging.providers.sandbox import sandbox_outcome


@tagged("post_install", "-at_install")
class TestSmsSegments(BaseCase):
    def test_gsm_160_is_one_part(self):
        self.assertEqual(sms_segments("a" * 160), ("GSM-7", 160, 1))

    def test_gsm_161_is_two_parts(self):
        self.assertEqual(sms_segments("a" * 161), ("GSM-7", 161, 2))

    def test_gsm_306_and_307(self):
        self.assertEqual(sms_segments("a" * 306)[2], 2)
        self.assertEqual(sms_segments("a" * 307)[2], 3)

    def test_gsm_extension_characters_count_two(self):
        self.assertEqual(sms_segments("{" * 80), ("GSM-7", 160, 1))
        self.assertEqual(sms_segments("€" * 81), ("GSM-7", 162, 2))

    def test_ucs2_70_is_one_part(self):
        self.assertEqual(sms_segments("ư" * 70), ("UCS-2", 70, 1))

    def test_ucs2_71_is_two_parts(self):
        self.assertEqual(sms_segments("ư" * 71), ("UCS-2", 71, 2))

    def test_ucs2_134_is_two_parts_135_three(self):
        self.assertEqual(sms_segments("ư" * 134), ("UCS-2", 134, 2))
        self.assertEqual(sms_segments("ư" * 135), ("UCS-2", 135, 3))

    def test_any_vietnamese_diacritic_means_ucs2(self):
        # "à" and "é" exist in the GSM-7 table, still billed as Unicode in VN
        self.assertEqual(sms_segments("Chào bạn")[0], "UCS-2")
        self.assertEqual(sms_segments("Café")[0], "UCS-2")
        self.assertEqual(sms_segments("Chao ban")[0], "GSM-7")

    def test_decomposed_text_counts_like_composed(self):
        composed = "Nguyễn"
        decomposed = "Nguye\u0302\u0303n"
        self.assertEqual(sms_segments(decomposed), sms_segments(composed))
        self.assertEqual(sms_segments(composed)[1], 6)

    def test_emoji_counts_two_units(self):
        self.assertEqual(sms_segments("😀" * 35), ("UCS-2", 70, 1))

    def test_empty(self):
        self.assertEqual(sms_segments(""), ("GSM-7", 0, 0))


@tagged("post_install", "-at_install")
class TestStripAccents(BaseCase):
    def test_all_tones_and_marks(self):
        self.assertEqual(
            strip_vietnamese_accents(
                "Đặng Thị Ánh Hồng, Nguyễn Văn Được, Trương Quỳnh"
            ),
            "Dang Thi Anh Hong, Nguyen Van Duoc, Truong Quynh",
        )

    def test_every_vowel_form(self):
        text = "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
        stripped = strip_vietnamese_accents(text)
        self.assertEqual(set(stripped), set("aeiouyd"))
        self.assertEqual(strip_vietnamese_accents(text.upper()), stripped.upper())

    def test_plain_text_untouched(self):
        self.assertEqual(
            strip_vietnamese_accents("Order #42: 150.000d"), "Order #42: 150.000d"
        )

    def test_stripped_text_is_gsm(self):
        text = strip_vietnamese_accents("Mã xác thực của bạn là 123456")
        self.assertEqual(sms_segments(text)[0], "GSM-7")


@tagged("post_install", "-at_install")
class TestPhone(BaseCase):
    """Normalising a number is the models' job (``tests/test_phone.py``, on
    ``res.partner._messaging_normalize_phone``); the adapters only change
    its form."""

    def test_national_form_for_esms(self):
        self.assertEqual(to_national_vn("84912345678"), "0912345678")


@tagged("post_install", "-at_install")
class TestSandbox(BaseCase):
    def send_many(self, fail_ratio, count=200):
        adapter = get_adapter("sandbox", {"sandbox_fail_ratio": fail_ratio})
        return [
            adapter.send(OutboundMessage(tracking_id=f"mm-{i}", phone="84912345678"))
            for i in range(count)
        ]

    def test_ratio_zero_all_accepted(self):
        results = self.send_many(0)
        self.assertTrue(all(r.status == ACCEPTED for r in results))
        self.assertTrue(
            all(r.provider_message_id.startswith("sandbox-") for r in results)
        )
        self.assertTrue(all(r.cost == 0 for r in results))

    def test_ratio_one_all_unreachable_with_zalo_codes(self):
        results = self.send_many(1)
        self.assertTrue(all(r.status == UNREACHABLE for r in results))
        self.assertLessEqual(
            {r.code for r in results}, {"-118", "-139", "-114", "-141"}
        )
        self.assertGreater(len({r.code for r in results}), 1)

    def test_ratio_is_deterministic_and_roughly_right(self):
        first = [r.status for r in self.send_many(0.3)]
        second = [r.status for r in self.send_many(0.3)]
        self.assertEqual(first, second)
        # fixed tracking ids: the outcomes are known in advance
        self.assertEqual(
            [status == UNREACHABLE for status in first],
            [sandbox_outcome(f"mm-{i}", 0.3, 0) == "failed" for i in range(200)],
        )
        # as if the hash were a fair coin, UNREACHABLE ~ Binomial(200, 0.3):
        # P(outside [30, 93]) = 5.8e-7 (exact binomial tails), less than
        # once in a million runs even with random ids (these give 63)
        self.assertTrue(30 <= first.count(UNREACHABLE) <= 93)

    def test_final_state(self):
        self.assertEqual(sandbox_final_state("mm-1", 0), "delivered")
        self.assertEqual(sandbox_final_state("mm-1", 1), "read")
        states = [sandbox_final_state(f"mm-{i}", 0.5) for i in range(200)]
        self.assertEqual(
            states, [sandbox_final_state(f"mm-{i}", 0.5) for i in range(200)]
        )
        # "read" ~ Binomial(200, 0.5) for a fair coin: P(outside [61, 139])
        # = 1.5e-8 (exact binomial tails); these ids give 97
        self.assertTrue(60 < states.count("read") < 140)

    def test_test_connection_and_unknown_provider(self):
        self.assertIn("Sandbox", get_adapter("sandbox", {}).test_connection())
        with self.assertRaises(ProviderError):
            get_adapter("carrier-pigeon", {})
