{
    "name": "Multichannel Messaging (Zalo, SMS, E-mail)",
    "summary": "Zalo ZBS/ZNS and OA messages, SMS brandname (eSMS, SpeedSMS) and "
    "e-mail: campaigns, fallback, throttled queue, webhooks, automations",
    "version": "18.0.1.0.0",
    "category": "Marketing",
    "website": "https://github.com/multichannel-messaging/multichannel_messaging",
    "author": "Multichannel Messaging contributors",
    "license": "LGPL-3",
    "depends": [
        "mail",
        "bus",
        "contacts",
        "sale_management",
        "phone_validation",
        "sms",
        "portal",
        "base_automation",
    ],
    "external_dependencies": {
        "python": ["phonenumbers", "requests", "urllib3", "certifi"]
    },
    "data": [
        "security/messaging_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "data/messaging_template_data.xml",
        "data/base_automation_data.xml",
        "data/messaging_event_cron.xml",
        "views/messaging_channel_views.xml",
        "views/messaging_conversation_views.xml",
        "views/messaging_template_views.xml",
        "views/messaging_segment_views.xml",
        "views/messaging_campaign_views.xml",
        "views/messaging_message_views.xml",
        "views/messaging_identity_views.xml",
        "views/messaging_event_views.xml",
        "views/res_partner_views.xml",
        "views/sale_order_views.xml",
        "views/ir_actions_server_views.xml",
        "views/messaging_channel_webhook_views.xml",
        "views/messaging_unsubscribe_templates.xml",
        "wizard/messaging_composer_views.xml",
        "wizard/messaging_bulk_send_views.xml",
        "wizard/messaging_campaign_preview_views.xml",
        "views/menus.xml",
    ],
    "demo": [
        "demo/res_partner_demo.xml",
        "demo/messaging_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "multichannel_messaging/static/src/discuss/**/*",
            "multichannel_messaging/static/src/scss/*.scss",
        ],
        "web.assets_tests": [
            "multichannel_messaging/static/tests/tours/**/*",
        ],
    },
    "application": True,
    "installable": True,
    # the speed machinery (README, "Speed machinery"); off with
    # messaging_fast_path = False in the [options] of odoo.conf
    "post_load": "post_load",
}
