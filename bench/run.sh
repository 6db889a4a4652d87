#!/usr/bin/env bash
# Queue benchmark: our messaging queue next to Odoo's own SMS pipeline, in one
# run, on a FRESH database without demo data (dropped and re-created each run).
#
#   bash bench/run.sh [driver options, see: bash bench/run.sh --help]
#
# Prints these figures with their goals (PASS/MISS):
#   1. enqueue   a 100,000-recipient campaign -> messaging.message rows
#   2. dispatch  messages/s per worker against a zero-latency eSMS peer
#   3. Odoo SMS  mass composer + sms.sms queue against a loopback IAP peer,
#                500 per request (Odoo's default) and 1 per request
#   4. rate      achieved vs configured rate with a 100 ms-latency peer and
#                several dispatcher processes
#   5. faults    with 2% of answers lost after the peer processed the request
#                (--faults): messages resent / held as unknown / lost, ours
#                and Odoo's sms.sms queue (--skip faults to leave it out)
#   6. receipts  N sent Zalo messages, N delivery + N seen receipts stored as
#                the webhook stores them, the event cron one by one (30 s) then
#                set-wise: receipts/s per cron worker (--receipts N,
#                --receipts-per-event-cap S; --skip receipts to leave it out).
#                Only this figure: --skip enqueue,dispatch,odoo,rate,faults
#   7. grouped   a campaign of one text on SpeedSMS at 60 requests/min, up to
#                100 recipients per request (--grouped-messages N; --skip
#                grouped to leave it out)
#   8. latency   msg/s of one worker with a 0/50/100 ms provider latency, ours
#                (requests in flight) and Odoo's sms.sms at 1 per request
#
# Environment (see also scripts/common.sh):
#   MESSAGING_BENCH_DB        database name (default messaging_bench)
#   MESSAGING_BENCH_KEEP_DB=1 reuse an existing bench database (skip the
#                             drop/install; the driver cleans its own data)
set -Eeuo pipefail
MM_SCRIPT_NAME=bench
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

DB=${MESSAGING_BENCH_DB:-messaging_bench}
CONF=$MM_CACHE_DIR/odoo-bench.conf
LOG_DIR=$MM_CACHE_DIR/bench
INSTALL_LOG=$LOG_DIR/install.log
export TZ=UTC

mm_setup
for arg in "$@"; do
    if [ "$arg" = -h ] || [ "$arg" = --help ]; then
        exec "$MM_PYTHON" "$MM_REPO_ROOT/bench/bench_queue.py" --help
    fi
done
mm_write_config "$CONF" "${MESSAGING_BENCH_HTTP_PORT:-8269}"
mkdir -p "$LOG_DIR"

if [ "${MESSAGING_BENCH_KEEP_DB:-0}" = 1 ] && [ "$(mm_module_state "$DB")" = installed ]; then
    mm_log "Reusing database $DB (MESSAGING_BENCH_KEEP_DB=1)"
else
    mm_log "Dropping database $DB (if any); installing $MM_MODULE and sms without demo data"
    mm_drop_db "$DB"
    start=$SECONDS
    mm_odoo -c "$CONF" -d "$DB" --db-filter="^${DB}\$" -i "$MM_MODULE,sms" \
        --without-demo=all --stop-after-init --no-http --log-level=warn \
        >"$INSTALL_LOG" 2>&1 \
        || { tail -n 40 "$INSTALL_LOG" >&2; mm_die "install failed (log: $INSTALL_LOG)"; }
    [ "$(mm_module_state "$DB")" = installed ] \
        || mm_die "$MM_MODULE is not installed in $DB (log: $INSTALL_LOG)"
    mm_log "Installed in $((SECONDS - start))s"
fi

exec "$MM_PYTHON" "$MM_REPO_ROOT/bench/bench_queue.py" \
    --config "$CONF" --database "$DB" --log-dir "$LOG_DIR" "$@"
