import { DiscussAppCategory } from "@mail/core/public_web/discuss_app_category_model";

import { patch } from "@web/core/utils/patch";

import { compareZaloThreads } from "./thread_model_patch";

patch(DiscussAppCategory.prototype, {
    sortThreads(t1, t2) {
        if (this.id === "multichannel_messaging.category_zalo") {
            return compareZaloThreads(t1, t2);
        }
        return super.sortThreads(t1, t2);
    },
});
