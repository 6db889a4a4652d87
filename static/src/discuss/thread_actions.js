import { threadActionsRegistry } from "@mail/core/common/thread_actions";
import { useComponent } from "@odoo/owl";

import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";

function isZalo(component) {
    return component.thread?.model === "discuss.channel" && component.thread.channel_type === "zalo";
}

threadActionsRegistry
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
    .add("messaging-zalo-details", {
        condition: isZalo,
        setup() {
            const component = useComponent();
            component.actionService = useService("action");
        },
        icon: "fa fa-fw fa-id-card-o",
        iconLarge: "fa fa-fw fa-lg fa-id-card-o",
        name: _t("Conversation details (customer, window, templates)"),
        open(component) {
            component.actionService.doAction({
                type: "ir.actions.act_window",
                res_model: "discuss.channel",
                res_id: component.thread.id,
                views: [[false, "form"]],
                context: { form_view_ref: "multichannel_messaging.messaging_conversation_view_form" },
            });
        },
        sequence: 6,
        sequenceGroup: 5,
    })
    .add("messaging-zalo-send-product", {
        condition: isZalo,
        setup() {
            const component = useComponent();
            component.actionService = useService("action");
        },
        icon: "fa fa-fw fa-shopping-bag",
        iconLarge: "fa fa-fw fa-lg fa-shopping-bag",
        name: _t("Send a product card or files"),
        open(component) {
            component.actionService.doAction("multichannel_messaging.messaging_conversation_reply_action", {
                additionalContext: { default_conversation_id: component.thread.id },
            });
        },
        sequence: 7,
        sequenceGroup: 5,
    });
