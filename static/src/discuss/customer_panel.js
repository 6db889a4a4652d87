import { ActionPanel } from "@mail/discuss/core/common/action_panel";

import { Component, onWillStart, onWillUpdateProps, useState } from "@odoo/owl";

import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";

/**
 * The customer beside a Zalo conversation: the linked contact, consent,
 * orders, quotations, total bought and the last campaign messages, from
 * ``discuss.channel.messaging_customer_panel()``; buttons to open the
 * contact, create a quotation, request a payment or send products.
 */
export class ZaloCustomerPanel extends Component {
    static template = "multichannel_messaging.ZaloCustomerPanel";
    static components = { ActionPanel };
    static props = ["thread", "className?"];

    setup() {
        super.setup();
        this.orm = useService("orm");
        this.actionService = useService("action");
        this.notification = useService("notification");
        this.state = useState({ data: null, error: "", loading: true });
        onWillStart(() => this.load(this.props.thread));
        onWillUpdateProps((nextProps) => {
            if (nextProps.thread.id !== this.props.thread.id) {
                return this.load(nextProps.thread);
            }
        });
    }

    get title() {
        return _t("Customer details");
    }

    async load(thread = this.props.thread) {
        this.state.loading = true;
        try {
            this.state.data = await this.orm.call("discuss.channel", "messaging_customer_panel", [
                [thread.id],
            ]);
            this.state.error = "";
        } catch (error) {
            this.state.data = null;
            this.state.error = error.data?.message || error.message || String(error);
        } finally {
            this.state.loading = false;
        }
    }

    reloadOnClose() {
        return { onClose: () => this.load() };
    }

    openContact() {
        this.actionService.doAction(
            {
                type: "ir.actions.act_window",
                res_model: "res.partner",
                res_id: this.state.data.partner.id,
                views: [[false, "form"]],
            },
            this.reloadOnClose()
        );
    }

    openDetails() {
        this.actionService.doAction(
            {
                type: "ir.actions.act_window",
                res_model: "discuss.channel",
                res_id: this.props.thread.id,
                views: [[false, "form"]],
                context: { form_view_ref: "multichannel_messaging.messaging_conversation_view_form" },
            },
            this.reloadOnClose()
        );
    }

    createQuotation() {
        this.actionService.doAction(
            {
                type: "ir.actions.act_window",
                res_model: "sale.order",
                views: [[false, "form"]],
                context: { default_partner_id: this.state.data.partner.id },
            },
            this.reloadOnClose()
        );
    }

    openOrder(order) {
        this.actionService.doAction(
            {
                type: "ir.actions.act_window",
                res_model: "sale.order",
                res_id: order.id,
                views: [[false, "form"]],
            },
            this.reloadOnClose()
        );
    }

    async requestPayment(order) {
        const result = await this.orm.call("sale.order", "action_messaging_payment_request", [
            [order.id],
        ]);
        if (result && typeof result === "object") {
            await this.actionService.doAction(result);
        }
        await this.load();
    }

    sendProduct() {
        this.actionService.doAction("multichannel_messaging.messaging_conversation_reply_action", {
            additionalContext: { default_conversation_id: this.props.thread.id },
            ...this.reloadOnClose(),
        });
    }
}
