/** @odoo-module **/

// Driven by tests/test_tour_campaign.py, which creates the channels, the
// template and the customer group these tours pick by name, and runs the
// sending queue between the two tours.

import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const CAMPAIGN = "Tour campaign Tết";
const SEGMENT = "Tour customers";
const CHANNEL = "Tour sandbox main";
const FALLBACK_CHANNEL = "Tour sandbox fallback";
const TEMPLATE = "Tour greeting";

/** Type in a many2one/many2many input and pick the matching suggestion. */
function pickRecord(inputSelector, text, content) {
    return [
        {
            content: `${content}: type "${text}"`,
            trigger: inputSelector,
            run: `edit ${text}`,
        },
        {
            content: `${content}: pick "${text}"`,
            trigger: `.o-autocomplete--dropdown-item a:contains(${text})`,
            run: "click",
        },
    ];
}

/** The statusbar shows this state as the current one. */
function stateIs(label) {
    return {
        content: `campaign is "${label}"`,
        trigger: `.o_statusbar_status button.o_arrow_button_current:contains(${label})`,
    };
}

/** A report counter (integer field of the Report page) shows exactly value. */
function counterIs(field, value) {
    return {
        content: `report: ${field} = ${value}`,
        trigger: `.o_notebook .o_field_widget[name=${field}]:contains(/^\\s*${value}\\s*$/)`,
    };
}

registry.category("web_tour.tours").add("messaging_campaign_tour", {
    url: "/odoo/action-multichannel_messaging.messaging_campaign_action",
    steps: () => [
        {
            content: "create a campaign",
            trigger: ".o_control_panel_main_buttons .o-kanban-button-new",
            run: "click",
        },
        {
            content: "name the campaign",
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: `edit ${CAMPAIGN}`,
        },
        ...pickRecord(
            ".o_field_widget[name=segment_ids] input",
            SEGMENT,
            "add the customer group"
        ),
        {
            content: "the customer group is added as a tag",
            trigger: `.o_field_widget[name=segment_ids] .o_tag:contains(${SEGMENT})`,
        },
        ...pickRecord(
            // the fallback list has no row yet: no other channel_id input
            ".o_form_sheet .o_group .o_field_widget[name=channel_id] input",
            CHANNEL,
            "pick the channel"
        ),
        ...pickRecord(
            ".o_form_sheet .o_group .o_field_widget[name=template_id] input",
            TEMPLATE,
            "pick the template"
        ),
        {
            content: "three recipients will receive it",
            trigger: ".o_field_widget[name=reachable_count]:contains(/^\\s*3\\s*$/)",
        },
        {
            content: "open the fallback chain",
            trigger: ".o_notebook a.nav-link:contains(Fallback Chain)",
            run: "click",
        },
        {
            content: "add a fallback step",
            trigger: ".o_field_widget[name=fallback_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        ...pickRecord(
            ".o_field_widget[name=fallback_ids] .o_selected_row .o_field_widget[name=channel_id] input",
            FALLBACK_CHANNEL,
            "fallback channel"
        ),
        ...pickRecord(
            ".o_field_widget[name=fallback_ids] .o_selected_row .o_field_widget[name=template_id] input",
            TEMPLATE,
            "fallback template"
        ),
        ...stepUtils.saveForm(),
        {
            content: "the fallback step is saved",
            trigger: `.o_field_widget[name=fallback_ids] .o_data_row:contains(${FALLBACK_CHANNEL})`,
        },
        {
            content: "save for activation",
            trigger: ".o_form_statusbar button[name=action_confirm]",
            run: "click",
        },
        stateIs("Waiting for activation"),
        {
            content: "before the click: when sending starts, the count and the cost",
            trigger: "div[name=send_start]:contains(message: will be sent):contains(3 messages)",
        },
        {
            content: "activate",
            trigger: ".o_form_statusbar button[name=action_activate]",
            run: "click",
        },
        {
            content: "confirm the activation",
            trigger: ".modal:contains(queued and sent) .modal-footer button.btn-primary",
            run: "click",
        },
        stateIs("Running"),
        {
            content: "the three messages are queued",
            trigger: "button[name=action_view_messages] .o_stat_value:contains(/^\\s*3\\s*$/)",
        },
    ],
});

registry.category("web_tour.tours").add("messaging_campaign_report_tour", {
    // url: the test opens the campaign's form directly
    steps: () => [
        stateIs("Done"),
        {
            content: "open the report",
            trigger: ".o_notebook a.nav-link:contains(Report)",
            run: "click",
        },
        counterIs("count_queued", 0),
        counterIs("count_sent", 3),
        counterIs("count_delivered", 3),
        counterIs("count_read", 0),
        counterIs("count_failed", 0),
        counterIs("count_skipped", 0),
        counterIs("count_fallback", 0),
        {
            content: "the report table has one line for the main channel",
            trigger: `.o_field_widget[name=report_html] .o_messaging_report tbody tr:contains(${CHANNEL})`,
        },
        {
            content: "the fallback channel sent nothing",
            trigger: `.o_field_widget[name=report_html] .o_messaging_report tbody:not(:contains(${FALLBACK_CHANNEL}))`,
        },
        {
            content: "the progress bar is full",
            trigger: ".o_field_widget[name=progress] .o_progressbar_value:contains(100)",
        },
    ],
});
