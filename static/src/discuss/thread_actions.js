import { threadActionsRegistry } from "@mail/core/common/thread_actions";
import { useComponent } from "@odoo/owl";

import { ZaloCustomerPanel } from "./customer_panel";

import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";

function isZalo(component) {
    return component.thread?.model === "discuss.channel" && component.thread.channel_type === "zalo";
}

/** A header action of Zalo conversations that opens the action (and
 * options) ``actionOf(thread)`` gives. */
function actionEntry(icon, name, sequence, actionOf) {
    return {
        condition: isZalo,
        setup() {
            const component = useComponent();
            component.actionService = useService("action");
        },
        icon: `fa fa-fw ${icon}`,
        iconLarge: `fa fa-fw fa-lg ${icon}`,
        name,
        open(component) {
            component.actionService.doAction(...actionOf(component.thread));
        },
        sequence,
        sequenceGroup: 5,
    };
}

threadActionsRegistry
    .add("messaging-zalo-customer", {
        // the customer beside the conversation (opened by default in
        // Discuss: discuss_patch.js)
        component: ZaloCustomerPanel,
        condition(component) {
            return (
                isZalo(component) &&
                (!component.props.chatWindow || component.props.chatWindow.isOpen)
            );
        },
        panelOuterClass: "o-messaging-CustomerPanelContainer bg-inherit",
        icon: "fa fa-fw fa-user-circle-o",
        iconLarge: "fa fa-fw fa-lg fa-user-circle-o",
        name: _t("Customer details"),
        nameActive: _t("Hide customer details"),
        sequence: 4,
        sequenceGroup: 5,
        toggle: true,
    })
    .add("messaging-zalo-done", {
        condition: isZalo,
        setup() {
            const component = useComponent();
            component.orm = useService("orm");
            component.notification = useService("notification");
        },
        icon: "fa fa-fw fa-check",
        iconLarge: "fa fa-fw fa-lg fa-check",
        name: _t("Mark as done"),
        async open(component) {
            await component.orm.call("discuss.channel", "action_messaging_done", [
                [component.thread.id],
            ]);
            component.thread.isLocallyPinned = false;
            component.notification.add(_t("Conversation marked as done."), { type: "success" });
        },
        sequence: 5,
        sequenceGroup: 5,
    })
    .add(
        "messaging-zalo-details",
        actionEntry("fa-id-card-o", _t("Conversation details (customer, window, templates)"), 6, (thread) => [
            {
                type: "ir.actions.act_window",
                res_model: "discuss.channel",
                res_id: thread.id,
                views: [[false, "form"]],
                context: { form_view_ref: "multichannel_messaging.messaging_conversation_view_form" },
            },
        ])
    )
    .add(
        "messaging-zalo-send-product",
        actionEntry("fa-shopping-bag", _t("Send a product card or files"), 7, (thread) => [
            "multichannel_messaging.messaging_conversation_reply_action",
            { additionalContext: { default_conversation_id: thread.id } },
        ])
    );
