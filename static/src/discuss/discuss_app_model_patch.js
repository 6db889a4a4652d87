import { DiscussApp } from "@mail/core/public_web/discuss_app_model";
import { Record } from "@mail/core/common/record";

import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

/** A sidebar category for the Zalo conversations, as live chat has one. */
patch(DiscussApp.prototype, {
    setup(env) {
        super.setup(env);
        this.zaloCategory = Record.one("DiscussAppCategory", {
            compute() {
                return {
                    extraClass: "o-mail-DiscussSidebarCategory-zalo",
                    icon: "fa fa-commenting",
                    hideWhenEmpty: true,
                    id: "multichannel_messaging.category_zalo",
                    name: _t("Zalo"),
                    sequence: 22,
                };
            },
        });
    },
});
