#!/usr/bin/env bash
# Starts Odoo 18 with multichannel_messaging on http://127.0.0.1:8069 using the
# database messaging_demo (created WITH demo data on first run, the module
# installed, or updated when it is already installed). Safe to run again.
#
#   bash scripts/run.sh [extra odoo args, e.g. --dev=xml,reload --log-level=debug]
#
# Environment (see also scripts/common.sh):
#   MESSAGING_RUN_DB         database name (default messaging_demo)
#   MESSAGING_RUN_HTTP_PORT  port (default 8069), bound on 127.0.0.1 only
#   MESSAGING_RUN_NO_UPDATE=1  skip the install/update step, just start
set -Eeuo pipefail
MM_SCRIPT_NAME=run
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DB=${MESSAGING_RUN_DB:-messaging_demo}
HTTP_PORT=${MESSAGING_RUN_HTTP_PORT:-8069}
CONF=$MM_CACHE_DIR/odoo-run.conf

mm_setup
# one cron thread: the queue's cron sends what the demo queues
mm_write_config "$CONF" "$HTTP_PORT" 1

common_args=(-c "$CONF" -d "$DB" --db-filter="^${DB}\$")

if [ "${MESSAGING_RUN_NO_UPDATE:-0}" != 1 ]; then
    if mm_db_exists "$DB"; then
        state=$(mm_module_state "$DB")
        if [ "$state" = installed ]; then
            mm_log "Database $DB exists with $MM_MODULE installed: updating it"
            mode=(-u "$MM_MODULE")
        else
            mm_log "Database $DB exists (module state: ${state:-unknown}): installing $MM_MODULE"
            mode=(-i "$MM_MODULE")
        fi
    else
        mm_log "Creating database $DB with demo data and installing $MM_MODULE"
        mode=(-i "$MM_MODULE")
    fi
    mm_odoo "${common_args[@]}" "${mode[@]}" --stop-after-init --no-http "$@" \
        || mm_die "odoo failed to install/update $MM_MODULE in $DB"
    state=$(mm_module_state "$DB")
    [ "$state" = installed ] \
        || mm_die "$MM_MODULE is '${state:-absent}' in $DB after install/update; see the log above"
    # the admin works in the demo's Vietnamese shop (VND, Vietnam time); the
    # demo data leaves the admin in Odoo's main company, where Odoo's own
    # tests expect it
    printf '%s\n' \
        "shop = env.ref('multichannel_messaging.demo_company_vn', raise_if_not_found=False)" \
        "env.ref('base.user_admin').write({'company_id': shop.id}) if shop else None" \
        "env.cr.commit()" \
        | mm_odoo shell "${common_args[@]}" --no-http --log-level=warn >/dev/null \
        || mm_log "WARNING: could not make the demo shop the admin's company"
fi

cat >&2 <<EOF

  Odoo 18 + $MM_MODULE
  URL:      http://127.0.0.1:$HTTP_PORT/web/login
  Database: $DB
  Login:    admin / admin
  (Ctrl-C to stop)

EOF
exec "${MM_ODOO_RUN[@]}" "${common_args[@]}" \
    --http-interface 127.0.0.1 --http-port "$HTTP_PORT" "$@"
