/** @odoo-module **/

// Driven by tests/test_tour_conversation.py: a Zalo user already wrote
// "Xin chào shop"; the agent (the admin, who may run the event processing by
// hand) opens Discuss, answers, and then the user's next message (a signed
// webhook call made from the page) appears without reload.

import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

const CUSTOMER = "Tour Khách Zalo";
const APP_ID = "3608465248940903967";
const OA_ID = "1234567890123456789";
const OA_SECRET = "oa-secret-key-for-tests";
const USER_ID = "2468458835296117922";
const WEBHOOK = "/messaging/webhook/zalo/tour-conversation-token";

async function sha256hex(text) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function postUserText(text) {
    const timestamp = String(Date.now());
    const raw = JSON.stringify({
        app_id: APP_ID,
        sender: { id: USER_ID },
        recipient: { id: OA_ID },
        event_name: "user_send_text",
        message: { text, msg_id: `tour${timestamp}` },
        timestamp,
    });
    const mac = await sha256hex(APP_ID + raw + timestamp + OA_SECRET);
    const response = await fetch(WEBHOOK, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-ZEvent-Signature": `mac=${mac}` },
        body: raw,
    });
    if (response.status !== 200) {
        throw new Error(`webhook answered ${response.status}`);
    }
}

registry.category("web_tour.tours").add("messaging_zalo_conversation_tour", {
    steps: () => [
        {
            content: "Discuss shows a Zalo category",
            trigger: ".o-mail-DiscussSidebarCategory-zalo",
        },
        {
            content: "open the customer's conversation",
            trigger: `.o-mail-DiscussSidebarChannel:contains(${CUSTOMER})`,
            run: "click",
        },
        {
            content: "the header shows the free window",
            trigger: ".o-mail-Discuss-threadDescription[title*='Free for'], .o-mail-Discuss-header input[value*='Free for']",
        },
        {
            content: "the customer's message is there",
            trigger: ".o-mail-Message:contains(Xin chào shop)",
        },
        {
            content: "write an answer",
            trigger: ".o-mail-Composer-input",
            run: "edit Dạ shop nghe ạ",
        },
        {
            trigger: ".o-mail-Composer-input",
            run: "press Enter",
        },
        {
            content: "the answer is posted, with Discuss's delivery mark",
            trigger: ".o-mail-Message:contains(Dạ shop nghe ạ) .o-mail-MessageSeenIndicator:not(:visible)",
        },
        {
            content: "the user writes again (signed webhook call)",
            trigger: ".o-mail-Message:contains(Dạ shop nghe ạ)",
            run: async () => {
                await postUserText("Mình muốn đặt 2 cái");
                // The webhook only stores the call; in production the cron it
                // triggers processes it at once. Crons do not run in tests:
                // process the stored events as the event form's button does.
                const ids = await rpc("/web/dataset/call_kw/messaging.event/search", {
                    model: "messaging.event",
                    method: "search",
                    args: [[["state", "=", "received"]]],
                    kwargs: {},
                });
                await rpc("/web/dataset/call_kw/messaging.event/action_process", {
                    model: "messaging.event",
                    method: "action_process",
                    args: [ids],
                    kwargs: {},
                });
                // Test cursors never commit, so PostgreSQL's NOTIFY that wakes
                // the websocket in production never fires here: ask the bus
                // worker to re-subscribe, which delivers what is pending.
                odoo.__WOWL_DEBUG__.root.env.services.bus_service.forceUpdateChannels();
            },
        },
        {
            content: "it appears without reloading the page",
            trigger: ".o-mail-Message:contains(Mình muốn đặt 2 cái)",
        },
        {
            content: "mark the conversation as done from the header",
            trigger: ".o-mail-Discuss-header button[title='Mark as done']",
            run: "click",
        },
        {
            trigger: ".o_notification:contains(Conversation marked as done)",
        },
    ],
});
