import { Discuss } from "@mail/core/public_web/discuss";
import { useEffect } from "@odoo/owl";

import { patch } from "@web/core/utils/patch";

const CUSTOMER_PANEL = "messaging-zalo-customer";

/** Discuss opens the customer panel beside a Zalo conversation (over the
 * member list, which comes back when the panel closes or the agent opens
 * another kind of channel). */
patch(Discuss.prototype, {
    setup() {
        super.setup(...arguments);
        useEffect(
            (customerAction, thread) => {
                const active = this.threadActions.activeAction;
                if (customerAction && thread?.channel_type === "zalo") {
                    if (!active || active.id === "member-list") {
                        customerAction.open({ keepPrevious: Boolean(active) });
                    }
                } else if (active?.id === CUSTOMER_PANEL) {
                    active.close();
                }
            },
            () => [this.threadActions.actions.find((a) => a.id === CUSTOMER_PANEL), this.thread]
        );
    },
});
