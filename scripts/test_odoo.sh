#!/usr/bin/env bash
# Runs Odoo's OWN tests of the modules this addon extends, with the addon
# installed, with Odoo's test runner, in a fresh database: installing
# multichannel_messaging must change nothing for those who don't use it.
#
#   bash scripts/test_odoo.sh             with multichannel_messaging (CI)
#   bash scripts/test_odoo.sh --baseline  the same modules WITHOUT it, to tell
#                                         a regression of ours from a test that
#                                         fails here anyway
#
# Two passes, because Odoo runs a module's at_install tests right after
# installing that module, before the modules that depend on it (ours) are
# loaded: those would never see the addon.
#   1. `odoo -i <modules> --test-tags <post_install tags>`: post_install tests
#      run once everything is installed, the addon with them.
#   2. `odoo --test-file <file>` for each file holding at_install tests: Odoo
#      loads the whole registry, then runs every test of the file.
# Fails when odoo exits non-zero, logs an ERROR/CRITICAL line or a FAIL:/ERROR:
# test line, or when the closing "0 failed, 0 error(s)" line is missing.
#
# Environment (see also scripts/common.sh):
#   MESSAGING_TEST_DB          the database is "<this>_odoo" (default messaging_test)
#   MESSAGING_TEST_HTTP_PORT   http_port of Odoo's HttpCase tests (default 8169)
set -Eeuo pipefail
MM_SCRIPT_NAME="test-odoo"
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BASELINE=0
case "${1:-}" in
    --baseline) BASELINE=1 ;;
    "") ;;
    *) mm_die "usage: $0 [--baseline]" ;;
esac

# Odoo modules installed beside the addon for their tests. mass_mailing_sms is
# not a dependency of the addon but where campaigns and SMS marketing meet
# (blacklists, phone fields, sms.sms); test_mail_sms and test_base_automation
# are Odoo's test modules that hold most tests of sms and base_automation.
# crm_livechat: the chatbot's create-lead step the addon runs on Zalo.
EXTRA_MODULES=mass_mailing_sms,test_mail_sms,test_base_automation,crm_livechat
# post_install tests (pass 1), by Odoo's --test-tags
POST_INSTALL_TAGS=(
    post_install/sale
    post_install/sms
    post_install/phone_validation
    post_install/base_automation
    post_install/test_base_automation
    post_install/mass_mailing_sms
    post_install/test_mail_sms
    post_install/link_tracker
    post_install/utm
    post_install/rating
    post_install/loyalty
    post_install/sale_loyalty
    post_install/survey
    post_install/im_livechat
    post_install/crm_livechat
)
# Discuss: the tests of discuss.channel and its controllers (the addon adds
# Zalo conversations to it); the tours of test_ui.py are left out (slow, and
# they test the web client, not the models).
for _f in avatar_acl bus_presence discuss_action discuss_attachment_controller \
    discuss_binary_controller discuss_channel discuss_channel_access \
    discuss_channel_as_guest discuss_channel_member \
    discuss_message_update_controller discuss_sub_channels \
    discuss_thread_controller guest_feature load_messages message_controller \
    rtc toggle_upload; do
    POST_INSTALL_TAGS+=("post_install/mail/tests/discuss/test_$_f.py")
done
# Tests that fail in this environment without the addon too (the baseline),
# excluded here with the reason. Keep this list empty unless the baseline
# run shows the same failure, or the reason is data, not behaviour:
# - test_mail_sms's two mass-composer query counts (56 and 59 as employee)
#   hold only while phone.blacklist is EMPTY: the composer's
#   `search([]).mapped('number')` fetches the numbers only when there are
#   some (one more query, 57 > 56). Our demo data has two opted-out
#   customers, and consent lives in Odoo's blacklist, so their numbers are
#   in it. Compared query by query with a database without the addon
#   (2026-12-03): that fetch is the only difference.
# - sale_loyalty's test_gift_card_email_sender calls
#   sale.order._auto_apply_rewards, a method website_sale_loyalty defines
#   (not installed here, nor needed by the addon): AttributeError either way.
# - survey's browser tours (TestUi*) are tours of survey's own pages, which
#   the addon does not change; they take minutes each on 2 cores.
# - im_livechat's ExternalTestSuite runs the JS unit tests of the website
#   live chat (the visitor's widget), which the addon does not change (its
#   chatbot runs on Zalo, not in the widget); the chatbot editor's tour
#   (test_chatbot_form_ui.py) is kept in pass 2.
EXCLUDED_TAGS=(
    -/test_mail_sms:TestSMSMassPerformance.test_sms_composer_mass
    -/test_mail_sms:TestSMSMassPerformance.test_sms_composer_mass_w_log
    -/sale_loyalty:TestBuyGiftCard.test_gift_card_email_sender
    -/survey:TestUi
    -/survey:TestUiSession
    -/survey:TestUiCertification
    -/survey:TestUiFeedback
    -/im_livechat:ExternalTestSuite
)
# Files of these modules holding at_install tests (pass 2), relative to Odoo's
# addons directory.
AT_INSTALL_FILES=(
    sale/tests/test_sale_flow.py
    sale/tests/test_sale_order_cancel.py
    sms/tests/test_sms_composer.py
    phone_validation/tests/test_phonenumbers.py
    phone_validation/tests/test_phonenumbers_blacklist.py
    phone_validation/tests/test_phonenumbers_patch.py
    mass_mailing_sms/tests/test_mailing_controllers.py
    mass_mailing_sms/tests/test_mailing_internals.py
    mass_mailing_sms/tests/test_mailing_list.py
    mass_mailing_sms/tests/test_mailing_retry.py
    link_tracker/tests/test_link_tracker.py
    rating/tests/test_security.py
    survey/tests/test_survey_security.py
    im_livechat/tests/test_get_operator.py
    im_livechat/tests/test_im_livechat_support_page.py
    im_livechat/tests/test_chatbot_form_ui.py
)
for _f in mail_thread_phone phone_blacklist phone_format sms_controller \
    sms_management sms_mixin sms_post sms_server_actions sms_sms sms_template; do
    AT_INSTALL_FILES+=("test_mail_sms/tests/test_$_f.py")
done

DB=${MESSAGING_TEST_DB:-messaging_test}_odoo
HTTP_PORT=${MESSAGING_TEST_HTTP_PORT:-8169}
CONF=$MM_CACHE_DIR/odoo-test-odoo.conf

mm_setup
mm_ensure_chromium
mm_write_config "$CONF" "$HTTP_PORT"

if [ "$BASELINE" = 1 ]; then
    DB=${DB}_baseline
    # the addon's own dependencies, without the addon
    MODULES=$("$MM_PYTHON" -c 'import ast, sys
print(",".join(ast.literal_eval(open(sys.argv[1], encoding="utf-8").read())["depends"]))' \
        "$MM_REPO_ROOT/__manifest__.py")
    MODULES=$MODULES,$EXTRA_MODULES
else
    MODULES=$MM_MODULE,$EXTRA_MODULES
fi

ODOO_ADDONS=$(readlink -f -- "$(dirname -- "$MM_ODOO_PKG_DIR")/addons")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/messaging-test-odoo.XXXXXX")
failed=0

log_re='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]+ [0-9]+ '
# check_log LOG LABEL RC: prints what went wrong, returns 1 if anything did
check_log() {
    local log=$1 label=$2 rc=$3 bad=0 lines
    if [ "$rc" != 0 ]; then
        mm_warn "$label: odoo exited with code $rc"
        bad=1
    fi
    lines=$(grep -E -e "${log_re}(ERROR|CRITICAL) " "$log" | cut -c1-300 || true)
    if [ -n "$lines" ]; then
        mm_warn "$label: errors in the log ($log):"
        printf '%s\n' "$lines" | head -n 60 >&2
        bad=1
    fi
    return "$bad"
}

tests_run() { grep -c -E "${log_re}INFO [^ ]+ odoo\\.addons\\.[a-z_]+\\.tests\\.[a-z_0-9.]+: Starting " "$1" || true; }

# ------------------------------------------------ pass 1: install + post_install
tags=$(IFS=,; printf '%s' "${POST_INSTALL_TAGS[*]}${EXCLUDED_TAGS[*]:+,${EXCLUDED_TAGS[*]}}")
mm_log "Dropping database $DB (if any) and its filestore"
mm_drop_db "$DB"
LOG1=$WORK/install-post_install.log
mm_log "Installing $MODULES in a new database $DB and running --test-tags $tags (log: $LOG1)"
start=$SECONDS
set +e
mm_odoo -c "$CONF" -d "$DB" --db-filter="^${DB}\$" -i "$MODULES" \
    --test-tags "$tags" --stop-after-init --log-level=info >"$LOG1" 2>&1
rc=$?
set -e
summary=$(grep -E -o '[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests' "$LOG1" | tail -n 1 || true)
mm_log "Pass 1 finished in $((SECONDS - start))s (exit code $rc): ${summary:-no summary}"
check_log "$LOG1" "pass 1" "$rc" || failed=1
if ! [[ $summary =~ ^0\ failed,\ 0\ error\(s\)\ of\ [1-9][0-9]*\ tests$ ]]; then
    mm_warn "pass 1: expected '0 failed, 0 error(s) of N tests', got '${summary:-nothing}'"
    failed=1
fi

# ------------------------------------------------ pass 2: at_install files
if [ "$failed" = 0 ]; then
    for file in "${AT_INSTALL_FILES[@]}"; do
        path=$ODOO_ADDONS/$file
        [ -f "$path" ] || mm_die "$path not found: is this Odoo 18.0?"
        log=$WORK/$(tr '/' '_' <<<"$file").log
        start=$SECONDS
        set +e
        mm_odoo -c "$CONF" -d "$DB" --db-filter="^${DB}\$" --test-file "$path" \
            --stop-after-init --log-level=info >"$log" 2>&1
        rc=$?
        set -e
        count=$(tests_run "$log")
        mm_log "Pass 2: $file, $count tests in $((SECONDS - start))s (exit code $rc)"
        check_log "$log" "$file" "$rc" || failed=1
        if [ "$count" = 0 ]; then
            mm_warn "$file: no test ran"
            failed=1
        fi
    done
fi

what="with $MM_MODULE"
[ "$BASELINE" = 1 ] && what="without $MM_MODULE (baseline)"
if [ "$failed" != 0 ]; then
    mm_die "Odoo's own tests failed $what; logs kept in $WORK"
fi
mm_log "Odoo's own tests passed $what: ${summary}, plus ${#AT_INSTALL_FILES[@]} at_install files"
rm -rf -- "$WORK"
