"""Tracked links (Odoo's link_tracker) at send time: one tracker per URL and
UTM, one short link per message (``/r/<code>/m/<id>``), clicks counted on the
message through the real route, UTM parameters that give an order its
campaign, and the short opt-out link of marketing SMS."""

import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from werkzeug.http import parse_cookie

from odoo.exceptions import AccessError
from odoo.http import _request_stack
from odoo.tests import HttpCase, tagged

from ..engine import links, rendering
from .common import MessagingCase

MODULE = "multichannel_messaging"
SHOP_URL = "https://shop.example.vn/khuyen-mai?ma=TET"
TRACKED = re.compile(r"(https?://\S+?/r/(\w+)/m/(\d+))")
NUMBER_A = "+84912345678"  # partner_a's mobile, E.164


@tagged("post_install", "-at_install")
class TestLinks(HttpCase, MessagingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_email_and_zalo("Links e-mail")
        cls.web_base_url = links.get_base_url(cls.env)
        Template = cls.env["messaging.template"]
        cls.template_link = Template.create(
            {
                "name": "Khuyến mãi Tết",
                "channel_type": "sandbox",
                "category": "marketing",
                "body": "Chào {{ object.name }}, xem %s." % SHOP_URL,
            }
        )
        cls.segment = cls.env["messaging.segment"].create(
            {
                "name": "An + Bình",
                "domain": str([("id", "in", (cls.partner_a | cls.partner_b).ids)]),
            }
        )

    def _run_campaign(self, template=None, channel=None, **vals):
        campaign = self.env["messaging.campaign"].create(
            dict(
                {
                    "name": "Tết",
                    "segment_ids": [(6, 0, self.segment.ids)],
                    "channel_id": (channel or self.sandbox).id,
                    "template_id": (template or self.template_link).id,
                },
                **vals,
            )
        )
        campaign.action_confirm()
        campaign.action_activate()
        self.Message._process_queue()
        return campaign

    def _esms_channel(self):
        """An SMS channel at 800 a part (never called: nothing is sent)."""
        return self.env["messaging.channel"].create(
            dict(
                self.NO_THROTTLE,
                name="eSMS links",
                channel_type="esms",
                cost_per_segment=800,
                esms_api_key="key",
                esms_secret_key="secret",
            )
        )

    def _sms_campaign(self, **vals):
        """A marketing campaign on an SMS channel, its messages queued and
        rendered as the dispatcher renders them (nothing sent)."""
        esms = self._esms_channel()
        template = self.env["messaging.template"].create(
            {
                "name": "SMS Tết",
                "channel_type": "esms",
                "category": "marketing",
                "body": "Chao {{ object.name }}, xem %s" % SHOP_URL,
            }
        )
        campaign = self.env["messaging.campaign"].create(
            dict(
                {
                    "name": "SMS Tết",
                    "segment_ids": [(6, 0, self.segment.ids)],
                    "channel_id": esms.id,
                    "template_id": template.id,
                },
                **vals,
            )
        )
        campaign.action_confirm()
        campaign.action_activate()
        rendering.prepare_lazy_content(campaign.message_ids_sent)
        return campaign

    def _tracked(self, text):
        """[(short link, code, message id)] of the tracked links in ``text``."""
        return [
            (url, code, int(message_id))
            for url, code, message_id in TRACKED.findall(text or "")
        ]

    def _code_tracker(self, code):
        """The tracker of a short code (the ``code`` field of ``link.tracker`` is
        not stored: only ``link.tracker.code`` can be searched)."""
        return self.env["link.tracker.code"].search([("code", "=", code)]).link_id

    def _click(self, code, message_id):
        return self.url_open("/r/%s/m/%s" % (code, message_id), allow_redirects=False)

    def _message_of(self, campaign, partner):
        return campaign.message_ids_sent.filtered(lambda m: m.partner_id == partner)

    # ------------------------------------------------------------------
    # links in bodies
    # ------------------------------------------------------------------

    def test_each_message_has_its_own_link_of_one_tracker(self):
        campaign = self._run_campaign()
        messages = campaign.message_ids_sent
        self.assertEqual(len(messages), 2)
        self.assertEqual(set(messages.mapped("state")), {"delivered"})
        trackers = self.env["link.tracker"].search([("url", "=", SHOP_URL)])
        self.assertEqual(len(trackers), 1, "one tracker for the campaign's URL")
        self.assertEqual(trackers.campaign_id, campaign.utm_campaign_id)
        self.assertEqual(
            trackers.medium_id, self.env.ref(f"{MODULE}.utm_medium_sandbox")
        )
        self.assertEqual(trackers.source_id, self.sandbox.utm_source_id)
        for message in messages:
            found = self._tracked(message.body)
            self.assertEqual(len(found), 1, message.body)
            url, code, message_id = found[0]
            self.assertEqual(message_id, message.id)
            self.assertEqual(code, trackers.code)
            self.assertEqual(url, "%s/m/%s" % (trackers.short_url, message.id))
            self.assertNotIn(SHOP_URL, message.body)
            # the sentence's full stop stays after the link
            self.assertIn("%s." % url, message.body)

    def test_click_counts_once_on_its_message_and_redirects_with_utm(self):
        campaign = self._run_campaign()
        message_a = self._message_of(campaign, self.partner_a)
        message_b = self._message_of(campaign, self.partner_b)
        _url, code, message_id = self._tracked(message_a.body)[0]
        response = self._click(code, message_id)
        self.assertEqual(response.status_code, 301)
        target = urlsplit(response.headers["Location"])
        self.assertEqual(
            "%s://%s%s" % (target.scheme, target.netloc, target.path),
            "https://shop.example.vn/khuyen-mai",
        )
        query = parse_qs(target.query)
        self.assertEqual(query["ma"], ["TET"])
        self.assertEqual(query["utm_campaign"], [campaign.utm_campaign_id.name])
        self.assertEqual(query["utm_medium"], [self.sandbox.utm_medium_id.name])
        self.assertEqual(query["utm_source"], [self.sandbox.utm_source_id.name])
        self.env.invalidate_all()
        self.assertEqual(message_a.click_count, 1)
        self.assertEqual(message_b.click_count, 0)
        clicks = self.env["link.tracker.click"].search(
            [("link_id", "in", self._code_tracker(code).ids)]
        )
        self.assertEqual(clicks.messaging_message_id, message_a)
        self.assertEqual(clicks.campaign_id, campaign.utm_campaign_id)
        # every click counts, the report counts clicked messages
        self._click(code, message_id)
        self.env.invalidate_all()
        self.assertEqual(message_a.click_count, 2)
        self.assertEqual(campaign.count_clicked, 1)
        self.assertEqual(campaign.clicked_rate, 50.0)
        self.assertEqual(self.partner_a.messaging_click_count, 2)
        self.assertIn("Clicked", campaign.report_html)
        self.assertIn("(50 %)", campaign.report_html)

    def test_unknown_or_foreign_message_is_not_counted(self):
        campaign = self._run_campaign()
        other = self._run_campaign(name="Other campaign")
        message = self._message_of(campaign, self.partner_a)
        foreign = self._message_of(other, self.partner_a)
        _url, code, _id = self._tracked(message.body)[0]
        for message_id in (foreign.id, 999999999, 99999999999999):
            response = self._click(code, message_id)
            self.assertEqual(response.status_code, 301, message_id)
            self.assertTrue(response.headers["Location"].startswith(SHOP_URL))
        self.env.invalidate_all()
        self.assertEqual(foreign.click_count, 0)
        self.assertEqual(message.click_count, 0)
        clicks = self.env["link.tracker.click"].search(
            [("link_id", "in", self._code_tracker(code).ids)]
        )
        self.assertEqual(len(clicks), 3)  # Odoo's count of the tracker
        self.assertFalse(clicks.messaging_message_id)
        # an unknown code: Odoo's 404
        self.assertEqual(self._click("nosuchcode", message.id).status_code, 404)

    def test_order_after_the_click_gets_the_campaign_utm(self):
        """As Odoo's marketing: the click lands with utm_* parameters, Odoo
        keeps them in cookies, an order placed afterwards in the visitor's
        session (a shop creates it as superuser) gets them."""
        template = self.template_link.copy(
            {"body": "Mua ngay: %s/web/login?redirect=/shop" % self.web_base_url}
        )
        campaign = self._run_campaign(template=template)
        message = self._message_of(campaign, self.partner_a)
        _url, code, message_id = self._tracked(message.body)[0]
        response = self._click(code, message_id)
        location = response.headers["Location"]
        self.assertTrue(location.startswith(self.web_base_url + "/web/login?"))
        self.url_open(location[len(self.web_base_url) :])
        # the cookies as Odoo reads them from the visitor's next request
        cookies = parse_cookie(
            "; ".join("%s=%s" % item for item in self.opener.cookies.get_dict().items())
        )
        self.assertEqual(cookies["odoo_utm_campaign"], campaign.utm_campaign_id.name)
        _request_stack.push(SimpleNamespace(cookies=cookies, env=self.env))
        try:
            order = (
                self.env["sale.order"].sudo().create({"partner_id": self.partner_a.id})
            )
        finally:
            _request_stack.pop()
        self.assertEqual(order.campaign_id, campaign.utm_campaign_id)
        self.assertEqual(order.medium_id, self.sandbox.utm_medium_id)
        self.assertEqual(order.source_id, self.sandbox.utm_source_id)

    def test_email_link_is_tracked_in_the_sent_html(self):
        template = self.template_email.copy(
            {
                "body": "Chào {{ object.name }}, ưu đãi tại %s\n"
                "Hỏi đáp: mailto:shop@example.vn" % SHOP_URL,
            }
        )
        message = self._queue(
            self.partner_email_only, channel=self.email, template=template
        )
        url, _code, message_id = self._tracked(message.body)[0]
        self.assertEqual(message_id, message.id)
        self.assertIn("mailto:shop@example.vn", message.body)
        self.Message._process_queue()
        html = str(message.mail_mail_id.body_html)
        self.assertIn('href="%s"' % url, html)
        self.assertNotIn(SHOP_URL, html)
        # the unsubscribe link of the footer stays as it is
        self.assertIn("/messaging/unsubscribe/%s/" % message.id, html)
        tracker = self.env["link.tracker"].search([("url", "=", SHOP_URL)])
        self.assertEqual(tracker.medium_id, self.env.ref("utm.utm_medium_email"))
        self.assertFalse(tracker.campaign_id)  # no campaign: no UTM campaign

    def test_automation_message_is_tracked_and_counted(self):
        template = self.template_tx.copy(
            {"body": "Đơn của {{ object.name }}: %s" % SHOP_URL}
        )
        action = self.env["ir.actions.server"].create(
            {
                "name": "Send test message",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "state": "messaging",
                "messaging_template_id": template.id,
                "messaging_channel_id": self.sandbox.id,
            }
        )
        action.with_context(
            active_model="res.partner",
            active_ids=self.partner_a.ids,
            active_id=self.partner_a.id,
        ).run()
        message = self.Message.search([("template_id", "=", template.id)])
        self.assertEqual(len(message), 1)
        _url, code, message_id = self._tracked(message.body)[0]
        self.assertEqual(message_id, message.id)
        self.assertNotIn(links.OPT_OUT_PATH, message.body)  # transactional
        self.assertEqual(self._click(code, message_id).status_code, 301)
        self.env.invalidate_all()
        self.assertEqual(message.click_count, 1)

    def test_free_text_message_is_not_rewritten(self):
        """An agent's own text is sent as written (no template)."""
        message = self.Message.create(
            {
                "partner_id": self.partner_a.id,
                "channel_id": self.sandbox.id,
                "body": "Link: %s" % SHOP_URL,
                "category": "transactional",
            }
        )
        self.assertEqual(message.body, "Link: %s" % SHOP_URL)

    def test_channels_get_a_medium_per_type_and_their_own_source(self):
        esms = self._esms_channel()
        sms = self.env.ref("mass_mailing_sms.utm_medium_sms")
        self.assertEqual(sms.name, "SMS")
        self.assertEqual(esms.utm_medium_id, sms)
        self.assertEqual(self._esms_channel().utm_medium_id, sms)  # one medium
        self.assertEqual(self.email.utm_medium_id, self.env.ref("utm.utm_medium_email"))
        self.assertEqual(
            self.zalo.utm_medium_id, self.env.ref(f"{MODULE}.utm_medium_zalo")
        )
        self.assertEqual(self.email.utm_source_id.name, "Links e-mail")
        self.assertNotEqual(self.sandbox.utm_source_id, self.sandbox_b.utm_source_id)

    def test_text_links_found_as_a_reader_sees_them(self):
        """The link ends before the sentence's punctuation, a quote or a
        tag; broken links and our own short links are left as written."""
        shortener = links.LinkShortener(self.env)
        utm = (False, False, False)
        own = "%s/r/abc/m/1" % self.web_base_url
        text = (
            '<a href="https://a.vn/c?d=2">Mua</a> (https://a.vn/x). '
            "https://[bad https://. %s" % own
        )
        tracked = shortener.track_text(text, utm, 7)
        short_c = shortener.short_url("https://a.vn/c?d=2", utm)
        short_x = shortener.short_url("https://a.vn/x", utm)
        self.assertEqual(
            tracked,
            '<a href="%s/m/7">Mua</a> (%s/m/7). https://[bad https://. %s'
            % (short_c, short_x, own),
        )
        self.assertEqual(
            self.env["link.tracker"].search_count([("url", "like", "https://a.vn/")]),
            2,
        )

    def test_zbs_parameters_only_url_types_get_links(self):
        zbs = self.env["messaging.template"].create(
            {
                "name": "ZBS link",
                "channel_type": "zalo",
                "zalo_template_id": "999001",
                "zalo_route": "phone",
                "category": "transactional",
                "param_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "link",
                            "zalo_param_kind": "13",
                            "expression": SHOP_URL,
                        },
                    ),
                    (0, 0, {"name": "note", "expression": SHOP_URL}),
                    (
                        0,
                        0,
                        {
                            "name": "short",
                            "zalo_param_kind": "13",
                            "max_length": 20,
                            "expression": "https://a.vn/x",
                        },
                    ),
                    (
                        0,
                        0,
                        {
                            "name": "code",
                            "zalo_param_kind": "4",
                            "expression": SHOP_URL,
                        },
                    ),
                    (
                        0,
                        0,
                        {"name": "when", "param_type": "DATE", "expression": SHOP_URL},
                    ),
                ],
            }
        )
        message = self._queue(self.partner_a, channel=self.zalo, template=zbs)
        self.assertEqual(message.route, "phone")
        data = message.template_data
        for name in ("link", "note"):
            found = self._tracked(data[name])
            self.assertEqual(len(found), 1, name)
            self.assertEqual(found[0][2], message.id)
        self.assertEqual(data["code"], SHOP_URL)
        # the tracked link would not fit the parameter: sent as rendered
        self.assertEqual(data["short"], "https://a.vn/x")
        self.assertEqual(data["when"], SHOP_URL)

    # ------------------------------------------------------------------
    # opt-out link of marketing SMS
    # ------------------------------------------------------------------

    def test_opt_out_link_only_in_marketing_sms(self):
        campaign = self._sms_campaign()
        message = self._message_of(campaign, self.partner_a)
        self.assertEqual(message.route, "sms")
        path = message._get_sms_opt_out_path()
        self.assertTrue(message.body.endswith(self.web_base_url + path), message.body)
        self.assertIn("STOP SMS", message.body)
        # its links are tracked too, the opt-out link is not
        self.assertEqual(len(self._tracked(message.body)), 1)
        # short: /so/<id>/<10 characters>
        self.assertEqual(len(path), len("/so//") + len(str(message.id)) + 10)
        # the option off, a transactional template, another route: none
        off = self._sms_campaign(sms_allow_unsubscribe=False)
        sandbox = self._run_campaign()
        tx = self._run_campaign(
            name="Transactional",
            template=self.template_tx.copy({"body": "Đơn: %s" % SHOP_URL}),
        )
        for other in (off, sandbox, tx):
            for body in other.message_ids_sent.mapped("body"):
                self.assertNotIn(links.OPT_OUT_PATH, body)
        email = self._queue(
            self.partner_email_only, channel=self.email, template=self.template_email
        )
        self.assertNotIn(links.OPT_OUT_PATH, email.body)

    def test_opt_out_line_counted_in_the_estimate(self):
        """A 150-character SMS is one part; with the opt-out line, two."""
        esms = self._esms_channel()
        template = self.env["messaging.template"].create(
            {
                "name": "SMS 150",
                "channel_type": "esms",
                "category": "marketing",
                "body": "x" * 150,
            }
        )
        campaign = self.env["messaging.campaign"].create(
            {
                "name": "Estimate",
                "segment_ids": [(6, 0, self.segment.ids)],
                "channel_id": esms.id,
                "template_id": template.id,
            }
        )
        self.assertEqual(campaign.reachable_count, 2)
        self.assertEqual(campaign.estimated_cost, 2 * 2 * 800)
        campaign.sms_allow_unsubscribe = False
        self.assertEqual(campaign.estimated_cost, 2 * 800)

    def test_opt_out_page_writes_the_phone_blacklist(self):
        campaign = self._sms_campaign()
        message = self._message_of(campaign, self.partner_a)
        path = message._get_sms_opt_out_path()
        Blacklist = self.env["phone.blacklist"].with_context(active_test=False)
        response = self.url_open(path)
        self.assertEqual(response.status_code, 200)
        self.assertIn(NUMBER_A, response.text)
        self.assertFalse(Blacklist.search([("number", "=", NUMBER_A)]))
        response = self.url_open(path, data={"confirm": "1"})
        self.assertEqual(response.status_code, 200)
        self.assertTrue(
            Blacklist.search([("number", "=", NUMBER_A), ("active", "=", True)])
        )

    def test_opt_out_bad_token_is_not_found(self):
        campaign = self._sms_campaign()
        message = self._message_of(campaign, self.partner_a)
        other = self._message_of(campaign, self.partner_b)
        for path in (
            "/so/%s/%s" % (message.id, other._get_sms_opt_out_token()),
            "/so/%s/%s" % (message.id, "x" * 10),
            "/so/%s/%s" % (999999999, message._get_sms_opt_out_token()),
            "/so/%s/%s" % (99999999999999, "x"),
        ):
            self.assertEqual(self.url_open(path).status_code, 404, path)
            self.assertEqual(self.url_open(path, data={"c": "1"}).status_code, 404)
        self.assertFalse(
            self.env["phone.blacklist"].search([("number", "=", NUMBER_A)])
        )

    # ------------------------------------------------------------------
    # who may change the counts
    # ------------------------------------------------------------------

    def test_users_cannot_write_click_count(self):
        campaign = self._run_campaign()
        message = self._message_of(campaign, self.partner_a)
        users = (
            self._make_user("mm_links_portal", "base.group_portal"),
            self._make_user("mm_links_employee", "base.group_user"),
            self._make_user("mm_links_user", f"{MODULE}.group_messaging_user"),
            self._make_user("mm_links_manager", f"{MODULE}.group_messaging_manager"),
        )
        for user in users:
            with self.assertRaises(AccessError, msg=user.login):
                message.with_user(user).write({"click_count": 5})
        with self.assertRaises(AccessError):
            self.Message.with_user(users[2]).create(
                {
                    "partner_id": self.partner_a.id,
                    "channel_id": self.sandbox.id,
                    "template_id": self.template_link.id,
                    "click_count": 5,
                }
            )
        self.assertEqual(message.click_count, 0)
