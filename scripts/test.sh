#!/usr/bin/env bash
# Installs multichannel_messaging (with demo data) in a FRESH database, checks
# the install log, then runs the whole test suite with pytest-odoo.
#
#   bash scripts/test.sh [extra pytest args, e.g. -k campaign -x]
#
# Environment (see also scripts/common.sh):
#   MESSAGING_TEST_DB          database name (default messaging_test)
#   MESSAGING_TEST_HTTP_PORT   http_port written in the test odoo.conf (default 8169;
#                              pytest-odoo --odoo-http picks a free port itself)
#   MESSAGING_TEST_LOG_LEVEL   Odoo log level while pytest runs (default warn;
#                              shown only for failing tests)
#   MESSAGING_TEST_SUMMARY_FILE  where to write pytest's summary line
set -Eeuo pipefail
MM_SCRIPT_NAME="test"
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DB=${MESSAGING_TEST_DB:-messaging_test}
HTTP_PORT=${MESSAGING_TEST_HTTP_PORT:-8169}
CONF=$MM_CACHE_DIR/odoo-test.conf
SUMMARY_FILE=${MESSAGING_TEST_SUMMARY_FILE:-$MM_CACHE_DIR/last-test-summary.txt}

mm_setup
mm_ensure_chromium
mm_write_config "$CONF" "$HTTP_PORT"
rm -f -- "$SUMMARY_FILE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/messaging-test.XXXXXX")
INSTALL_LOG=$WORK/install.log
PYTEST_LOG=$WORK/pytest.log

# ---------------------------------------------------------------- install
mm_log "Dropping database $DB (if any) and its filestore"
mm_drop_db "$DB"

# crm_livechat too: the chatbot's "create lead" step runs only where crm is
# installed, and the suite must show it does
TEST_MODULES="$MM_MODULE,crm_livechat"
mm_log "Installing $TEST_MODULES with demo data in a new database $DB (log: $INSTALL_LOG)"
start=$SECONDS
set +e
mm_odoo -c "$CONF" -d "$DB" --db-filter="^${DB}\$" -i "$TEST_MODULES" \
    --stop-after-init --log-level=info --no-http >"$INSTALL_LOG" 2>&1
install_rc=$?
set -e
mm_log "Install finished in $((SECONDS - start))s (exit code $install_rc)"

failed=0
if [ "$install_rc" != 0 ]; then
    mm_warn "odoo exited with code $install_rc while installing $MM_MODULE; last lines:"
    tail -n 40 "$INSTALL_LOG" >&2
    failed=1
fi

# Odoo log lines: "2025-01-01 10:00:00,123 4242 LEVEL db logger: message".
# Fail on any ERROR/CRITICAL, and on WARNINGs from the addon's own loggers or
# that name the addon (e.g. "models ... have no access rules in module ...").
log_re='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]+ [0-9]+ '
bad_lines=$(grep -E -n \
    -e "${log_re}(ERROR|CRITICAL) " \
    -e "${log_re}WARNING [^ ]+ odoo\\.addons\\.${MM_MODULE}[.:]" \
    -e "${log_re}WARNING .*${MM_MODULE}" \
    "$INSTALL_LOG" || true)
if grep -q -E -e '^Traceback ' "$INSTALL_LOG" && [ -z "$bad_lines" ]; then
    bad_lines=$(grep -n -E -A3 -e '^Traceback ' "$INSTALL_LOG" || true)
fi
if [ -n "$bad_lines" ]; then
    mm_warn "install log of $MM_MODULE has errors/warnings ($INSTALL_LOG):"
    printf '%s\n' "$bad_lines" | head -n 100 >&2
    failed=1
fi

state=$(mm_module_state "$DB")
if [ "$state" != installed ]; then
    mm_warn "module $MM_MODULE is '${state:-absent}' in $DB, expected 'installed'"
    failed=1
fi
if [ "$failed" != 0 ]; then
    mm_die "Installation check failed; full log kept in $INSTALL_LOG"
fi
mm_log "Install OK: $MM_MODULE installed in $DB with demo data, no warnings/errors"

# ------------------------------------------------------------------ pytest
TESTS_DIR=$MM_ADDON_DIR/tests
if [ ! -d "$TESTS_DIR" ]; then
    echo "0 tests collected: $MM_MODULE has no tests/ directory" >"$SUMMARY_FILE"
    mm_die "0 tests collected: $MM_MODULE has no tests/ directory"
fi

# Run from outside the clone and with the path through the link, so that
# pytest-odoo maps tests/test_x.py to odoo.addons.multichannel_messaging.tests.test_x
# whatever the clone's directory is called. Options come before "$@".
mm_log "Running pytest-odoo on $TESTS_DIR (database $DB)"
cd "$MM_CACHE_DIR"
set +e
PYTHONPATH=$MM_REPO_ROOT/scripts${PYTHONPATH:+:$PYTHONPATH} \
    "$MM_PYTHON" -m pytest "$TESTS_DIR" \
    -p pytest_messaging \
    --rootdir="$MM_ADDON_DIR" \
    --odoo-config="$CONF" \
    --odoo-database="$DB" \
    --odoo-log-level="${MESSAGING_TEST_LOG_LEVEL:-warn}" \
    --odoo-http \
    -p no:cacheprovider \
    -o console_output_style=classic \
    -r fEs \
    -W "ignore:'crypt' is deprecated:DeprecationWarning" \
    -W "ignore:'cgi' is deprecated:DeprecationWarning" \
    -W "ignore:the load_module() method is deprecated:DeprecationWarning" \
    "$@" 2>&1 | tee "$PYTEST_LOG"
pytest_rc=${PIPESTATUS[0]}
set -e

summary=$(grep -E '^=+ .*(passed|failed|error|skipped|no tests ran|deselected).* in [0-9.]+s' "$PYTEST_LOG" | tail -n 1 || true)
printf '%s\n' "${summary:-pytest printed no summary line (exit code $pytest_rc)}" >"$SUMMARY_FILE"

if [ "$pytest_rc" = 5 ] || grep -qE '^collected 0 items' "$PYTEST_LOG"; then
    mm_die "0 tests collected (or all deselected) from $TESTS_DIR: ${summary:-no summary}"
fi
if [ "$pytest_rc" != 0 ]; then
    mm_die "pytest failed (exit code $pytest_rc): ${summary:-no summary}"
fi
if ! grep -qE '[0-9]+ passed' <<<"$summary"; then
    mm_die "no test passed: ${summary:-no summary}"
fi
mm_log "All tests passed: $summary"
rm -rf -- "$WORK"
