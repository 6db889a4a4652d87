from odoo.tests import TransactionCase, new_test_user


class MessagingCase(TransactionCase):
    """Channels, templates and Vietnamese customers shared by the tests."""

    # throttles and marketing rules off: the queue tests test them one by one
    NO_THROTTLE = {
        "rate_per_second": 0,
        "min_interval_seconds": 0,
        "daily_cap": 0,
        "resend_window_minutes": 0,
        "recipient_daily_cap": 0,
        "quiet_hours_start": 0,
        "quiet_hours_end": 0,
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.vn = cls.env.ref("base.vn")
        cls.Message = cls.env["messaging.message"]
        cls.sandbox = cls.env["messaging.channel"].create(
            dict(
                cls.NO_THROTTLE,
                name="Test sandbox",
                channel_type="sandbox",
                sandbox_fail_ratio=0.0,
                sandbox_read_ratio=0.0,
            )
        )
        cls.sandbox_b = cls.env["messaging.channel"].create(
            dict(
                cls.NO_THROTTLE,
                name="Test sandbox (fallback)",
                channel_type="sandbox",
                sandbox_fail_ratio=0.0,
                sandbox_read_ratio=1.0,
            )
        )
        cls.template = cls.env["messaging.template"].create(
            {
                "name": "Chào khách",
                "channel_type": "sandbox",
                "category": "marketing",
                "body": "Xin chào {{ object.name }}!",
            }
        )
        cls.template_tx = cls.env["messaging.template"].create(
            {
                "name": "Thông báo",
                "channel_type": "sandbox",
                "category": "transactional",
                "body": "Đơn hàng của {{ object.name }} đã sẵn sàng.",
            }
        )
        Partner = cls.env["res.partner"]
        cls.partner_a = Partner.create(
            {"name": "Nguyễn Văn An", "mobile": "0912 345 678", "country_id": cls.vn.id}
        )
        cls.partner_b = Partner.create(
            {
                "name": "Trần Thị Bình",
                "mobile": "+84 987654321",
                "country_id": cls.vn.id,
            }
        )
        cls.partner_c = Partner.create(
            {"name": "Lê Hoàng Cường", "mobile": "84903123456"}
        )
        cls.partner_email_only = Partner.create(
            {"name": "Phạm Minh Dũng", "email": "dung@example.vn"}
        )
        cls.partner_nothing = Partner.create({"name": "Vũ Không Địa Chỉ"})

    @classmethod
    def _make_user(cls, login, groups, company=None, **kw):
        return make_user(cls.env, login, groups, company=company or cls.company, **kw)

    def _queue(self, partner, channel=None, template=None, **vals):
        return self.Message.create(
            dict(
                {
                    "partner_id": partner.id,
                    "channel_id": (channel or self.sandbox).id,
                    "template_id": (template or self.template).id,
                },
                **vals,
            )
        )


def make_user(env, login, groups, company=None, **kw):
    """An internal user of one company (``groups``: comma separated xmlids)."""
    company = company or env.company
    return new_test_user(
        env,
        login=login,
        groups=groups,
        company_id=company.id,
        company_ids=[(6, 0, company.ids)],
        **kw,
    )
