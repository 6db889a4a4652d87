/** @odoo-module **/

// Driven by tests/test_tour_customer_panel.py: a Zalo user linked to a
// contact with one confirmed order wrote to the OA; the agent (the admin)
// opens the conversation in Discuss and sees the customer beside it.

import { registry } from "@web/core/registry";

const CUSTOMER = "Tour Khách Panel";

registry.category("web_tour.tours").add("messaging_customer_panel_tour", {
    steps: () => [
        {
            content: "open the customer's conversation",
            trigger: `.o-mail-DiscussSidebarChannel:contains(${CUSTOMER})`,
            run: "click",
        },
        {
            content: "the panel opens by default with the customer's phone",
            trigger: ".o-messaging-CustomerPanel-phone:contains(0912 444 555)",
        },
        {
            content: "and their order",
            trigger: ".o-messaging-CustomerPanel-order:contains(SO-TOUR-0001)",
        },
        {
            content: "send a product",
            trigger: ".o-messaging-CustomerPanel-product",
            run: "click",
        },
        {
            content: "the reply wizard opens on the conversation",
            trigger: ".modal .o_field_widget[name=product_ids]",
        },
    ],
});
