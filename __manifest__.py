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
        "contacts",
        "sale_management",
        "phone_validation",
        "base_automation",
    ],
    "external_dependencies": {"python": ["phonenumbers", "requests"]},
    "data": [
        "security/messaging_security.xml",
        "security/ir.model.access.csv",
    ],
    "demo": [
        "demo/res_partner_demo.xml",
        "demo/messaging_demo.xml",
    ],
    "application": True,
    "installable": True,
}
