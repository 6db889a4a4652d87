import { Thread } from "@mail/core/common/thread_model";
import { compareDatetime } from "@mail/utils/common/misc";

import { patch } from "@web/core/utils/patch";

patch(Thread.prototype, {
    _computeDiscussAppCategory() {
        if (this.channel_type === "zalo") {
            return this.store.discuss.zaloCategory;
        }
        return super._computeDiscussAppCategory();
    },
    get isChatChannel() {
        return this.channel_type === "zalo" || super.isChatChannel;
    },
    get allowDescription() {
        // the header's description is the consultation window, kept live
        return this.channel_type === "zalo" || super.allowDescription;
    },
    get hasMemberList() {
        return this.channel_type === "zalo" || super.hasMemberList;
    },
    get canLeave() {
        // an agent hands over or marks as done rather than leaving
        return this.channel_type !== "zalo" && super.canLeave;
    },
    get allowCalls() {
        return this.channel_type !== "zalo" && super.allowCalls;
    },
});

export function compareZaloThreads(t1, t2) {
    return compareDatetime(t2.lastInterestDt, t1.lastInterestDt) || t2.id - t1.id;
}
