from odoo.tests import BaseCase, TransactionCase, new_test_user

from odoo.addons.multichannel_messaging.providers import OutboundMessage, get_adapter
from odoo.addons.multichannel_messaging.providers.transport import new_session

from . import test_webhook_common as wh
from .peers import EsmsPeer, SpeedSmsPeer, ZaloPeer


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
    def _setup_email_and_zalo(cls, email_name):
        """``cls.email``: an e-mail channel; ``cls.template_email``: a marketing
        e-mail and ``cls.template_email_tx`` its transactional copy;
        ``cls.zalo``: a Zalo OA that takes webhooks."""
        cls.email = cls.env["messaging.channel"].create(
            dict(cls.NO_THROTTLE, name=email_name, channel_type="email")
        )
        cls.template_email = cls.env["messaging.template"].create(
            {
                "name": "Tin khuyến mãi",
                "channel_type": "email",
                "category": "marketing",
                "subject": "Ưu đãi",
                "body": "Chào {{ object.name }}",
            }
        )
        cls.template_email_tx = cls.template_email.copy(
            {"name": "Hóa đơn", "category": "transactional"}
        )
        cls.zalo = cls.env["messaging.channel"].create(wh.zalo_channel_values())

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


def admin_company_env(env):
    """``env`` creating records in the admin's company (the demo shop's in
    the demo database): the one a tour logged in as admin works in."""
    company = env.ref("base.user_admin").company_id
    return env(
        context=dict(
            env.context, tracking_disable=True, allowed_company_ids=company.ids
        )
    )


class PeerAdapterCase(BaseCase):
    """One provider adapter against one loopback peer: the peer runs for the
    whole class (``PEER``, a ``tests.peers`` class, for ``PROVIDER``), each
    test starts from a fresh peer state and its own HTTP session."""

    PEER = None
    PROVIDER = None
    TIMEOUTS = {"timeout_connect": 1, "timeout_read": 2}
    SMS = {}  # what ``sms()`` builds when not told otherwise

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = cls.PEER()
        cls.peer.start()
        cls.addClassCleanup(cls.peer.stop)

    def setUp(self):
        super().setUp()
        self.peer.reset()
        # a new session per test: no keep-alive connection shared between tests
        self.session = new_session()
        self.addCleanup(self.session.close)

    def adapter(self, **overrides):
        config = getattr(self.peer, "%s_config" % self.PROVIDER)(**self.TIMEOUTS)
        config.update(overrides)
        return get_adapter(self.PROVIDER, config, session=self.session)

    @classmethod
    def sms(cls, **values):
        return OutboundMessage(**dict(cls.SMS, **values))


class PeerChannelsMixin:
    """For a MessagingCase: loopback peers that run for the whole class, and
    channels and templates that speak to them."""

    @classmethod
    def _start_peers(cls, *peers):
        for peer in peers:
            peer.start()
            cls.addClassCleanup(peer.stop)

    @classmethod
    def _start_provider_peers(cls):
        """``cls.zalo_peer``, ``cls.esms_peer``, ``cls.speedsms_peer``,
        started for the class."""
        cls.zalo_peer = ZaloPeer()
        cls.esms_peer = EsmsPeer()
        cls.speedsms_peer = SpeedSmsPeer()
        cls._start_peers(cls.zalo_peer, cls.esms_peer, cls.speedsms_peer)

    @classmethod
    def _peer_channel(cls, peer_config, **vals):
        """A channel on a peer's ``*_config()``, without throttle; ``vals`` on
        top."""
        Channel = cls.env["messaging.channel"]
        values = {k: v for k, v in peer_config.items() if k in Channel._fields}
        values.update(cls.NO_THROTTLE)
        values.update(vals)
        return Channel.create(values)

    @classmethod
    def _peer_zbs_template(cls, zalo_peer, name, limits=False, **vals):
        """A transactional ZBS template on the peer's first template, every
        parameter rendered from the partner's name (``limits``: with the
        peer's length limits and required flags)."""
        spec = next(iter(zalo_peer.templates.values()))

        def param(p):
            values = {"name": p["name"], "expression": "{{ object.name }}"}
            if limits:
                values.update(max_length=p["maxLength"], required=p["require"])
            return (0, 0, values)

        values = {
            "name": name,
            "channel_type": "zalo",
            "category": "transactional",
            "zalo_template_id": str(spec["templateId"]),
            "param_ids": [param(p) for p in spec["listParams"]],
        }
        values.update(vals)
        return cls.env["messaging.template"].create(values)

    def _reset_peers(self, *peers):
        """Fresh peer states, and the Zalo channel on the Zalo peer's tokens."""
        for peer in peers:
            peer.reset()
        self.zalo.write(
            {
                "zalo_access_token": self.zalo_peer.access_token,
                "zalo_refresh_token": self.zalo_peer.refresh_token,
            }
        )
