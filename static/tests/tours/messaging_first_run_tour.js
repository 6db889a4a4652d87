/** @odoo-module **/

// Driven by tests/test_tour_first_run.py on the demo database: the admin,
// in Vietnamese, opens the finished campaign's report, a Zalo conversation
// and a contact's messages, then sends one marketing message from the
// contact at 22:00 in Vietnam (the server's clock is frozen there): the
// queue holds it until the quiet hours end.
// Selectors use names and data, not labels: the interface is in Vietnamese.

import { registry } from "@web/core/registry";

const CAMPAIGN = "Thông báo lịch nghỉ Tết";
const FALLBACK_CHANNEL = "SMS (sandbox)";
const ZALO_CUSTOMER = "Trần Quốc An";
const ZALO_TEXT = "áo thun còn size L";
const WELCOME_TEMPLATE = "Lời chào khách hàng";

/** A report counter shows a number above zero. */
function counterAboveZero(field) {
    return {
        content: `report: ${field} is above 0`,
        trigger: `.o_notebook .o_field_widget[name=${field}]:not(:contains(/^\\s*0\\s*$/))`,
    };
}

registry.category("web_tour.tours").add("messaging_first_run_report_tour", {
    // url: the test opens the finished campaign's form
    steps: () => [
        {
            content: "the campaign is the demo's finished one",
            trigger: `.o_field_widget[name=name]:contains(${CAMPAIGN})`,
        },
        {
            content: "it is done",
            trigger: ".o_statusbar_status button.o_arrow_button_current[data-value=done]",
        },
        {
            content: "open the report (the page's title is in Vietnamese)",
            trigger: ".o_notebook a.nav-link[name=report]:contains(Báo cáo)",
            run: "click",
        },
        counterAboveZero("count_delivered"),
        counterAboveZero("count_read"),
        counterAboveZero("count_failed"),
        counterAboveZero("count_fallback"),
        counterAboveZero("count_replied"),
        {
            content: "the cost is counted in dong",
            trigger: ".o_notebook .o_field_widget[name=actual_cost]:contains(₫)",
        },
        {
            content: "the fallback channel has its line in the report",
            trigger: `.o_field_widget[name=report_html] .o_messaging_report tbody tr:contains(${FALLBACK_CHANNEL})`,
        },
        {
            content: "open the pivot and graph",
            trigger: ".o_notebook button[name=action_view_report]",
            run: "click",
        },
        {
            content: "the pivot has numbers",
            trigger: ".o_pivot table .o_pivot_cell_value:not(:empty)",
        },
        {
            content: "switch to the graph",
            trigger: ".o_control_panel .o_switch_view.o_graph",
            run: "click",
        },
        {
            content: "the graph has data",
            trigger: ".o_graph_renderer canvas",
        },
    ],
});

registry.category("web_tour.tours").add("messaging_first_run_discuss_tour", {
    steps: () => [
        {
            content: "Discuss shows the Zalo conversations",
            trigger: ".o-mail-DiscussSidebarCategory-zalo",
        },
        {
            content: "open the one assigned to the admin",
            trigger: `.o-mail-DiscussSidebarChannel:contains(${ZALO_CUSTOMER})`,
            run: "click",
        },
        {
            content: "the customer's message is there",
            trigger: `.o-mail-Message:contains(${ZALO_TEXT})`,
        },
    ],
});

registry.category("web_tour.tours").add("messaging_first_run_contact_tour", {
    // url: the test opens a demo customer's form
    steps: () => [
        {
            content: "the smart buttons may not all fit: show the others",
            trigger: ".o-form-buttonbox",
            run: () => {
                const shown = document.querySelector("button[name=action_view_messaging_messages]");
                if (!shown) {
                    document.querySelector(".o-form-buttonbox .o_button_more").click();
                }
            },
        },
        {
            content: "open the contact's messages",
            trigger: "button[name=action_view_messaging_messages]",
            run: "click",
        },
        {
            content: "the contact received the campaign",
            trigger: ".o_list_view .o_data_row",
        },
        {
            content: "back to the contact",
            trigger: ".o_breadcrumb .breadcrumb-item:first-child a",
            run: "click",
        },
        {
            content: "send a message from the contact",
            trigger: ".o_form_statusbar button:contains(Gửi tin nhắn)",
            run: "click",
        },
        {
            content: "pick the marketing greeting",
            trigger: ".modal .o_field_widget[name=template_id] input",
            run: `edit ${WELCOME_TEMPLATE}`,
        },
        {
            trigger: `.o-autocomplete--dropdown-item a:contains(${WELCOME_TEMPLATE})`,
            run: "click",
        },
        {
            content: "before the click: when it will really go (quiet hours)",
            trigger: ".modal .o_field_widget[name=send_start_text]:contains(08:00)",
        },
        {
            content: "send it",
            trigger: ".modal-footer button[name=action_send]",
            run: "click",
        },
        {
            content: "it is queued",
            trigger: "body:not(:has(.modal))",
        },
    ],
});

registry.category("web_tour.tours").add("messaging_first_run_wait_tour", {
    // url: the test opens the message after the queue ran (22:00 in Vietnam)
    steps: () => {
        // 08:00 in Vietnam (01:00 UTC), shown in the browser's time zone
        const nextTry = luxon.DateTime.fromISO("2026-12-05T01:00:00", { zone: "utc" })
            .setZone(luxon.Settings.defaultZone)
            .toFormat("HH:mm");
        return [
            {
                content: "the message waits",
                trigger: ".o_statusbar_status button.o_arrow_button_current[data-value=queued]",
            },
            {
                content: "why it waits and until when, in the reader's time zone",
                trigger: ".o_field_widget[name=wait_reason]:contains(08:00)",
            },
            {
                content: "open the delivery timeline",
                trigger: ".o_notebook a.nav-link[name=delivery]",
                run: "click",
            },
            {
                content: `its next try is when the quiet hours end (${nextTry})`,
                trigger: `.o_field_widget[name=scheduled_at]:contains(${nextTry})`,
            },
        ];
    },
});
