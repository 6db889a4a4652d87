#!/usr/bin/env bash
# Lints the addon: ruff check, ruff format --check, pylint + pylint-odoo
# (.pylintrc, OCA-style mandatory checks). Zero findings required.
#
#   bash scripts/lint.sh            # everything
#   bash scripts/lint.sh ruff       # ruff check + ruff format --check
#   bash scripts/lint.sh pylint     # pylint-odoo only
#   bash scripts/lint.sh fix        # ruff check --fix + ruff format (rewrites files)
#   bash scripts/lint.sh ruff-fix   # ruff check --fix only   (pre-commit hook)
#   bash scripts/lint.sh format     # ruff format only        (pre-commit hook)
set -Eeuo pipefail
MM_SCRIPT_NAME=lint
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

what=${1:-all}
case $what in
    all | ruff | pylint | fix | ruff-fix | format) ;;
    *) mm_die "usage: $0 [all|ruff|pylint|fix|ruff-fix|format]" ;;
esac

mm_find_odoo
mm_ensure_dev_deps
mm_make_addons_link

failed=()

run_ruff() {
    cd "$MM_REPO_ROOT"
    mm_log "ruff $("$MM_PYTHON" -m ruff --version | awk '{print $2}'): ruff check ."
    "$MM_PYTHON" -m ruff check --no-cache . || failed+=("ruff check")
    mm_log "ruff format --check ."
    "$MM_PYTHON" -m ruff format --no-cache --check . || failed+=("ruff format --check")
}

run_pylint() {
    # Through the link, so pylint-odoo sees the module under its real name
    # (odoo-addons-relative-import etc.) whatever the clone is called.
    cd "$MM_ADDONS_LINK_DIR"
    mm_log "pylint --rcfile=.pylintrc $MM_MODULE"
    "$MM_PYTHON" -m pylint --rcfile="$MM_REPO_ROOT/.pylintrc" "$MM_MODULE" \
        || failed+=("pylint")
}

case $what in
    fix)
        cd "$MM_REPO_ROOT"
        "$MM_PYTHON" -m ruff check --no-cache --fix . || true
        exec "$MM_PYTHON" -m ruff format --no-cache .
        ;;
    ruff-fix)
        cd "$MM_REPO_ROOT"
        exec "$MM_PYTHON" -m ruff check --no-cache --fix .
        ;;
    format)
        cd "$MM_REPO_ROOT"
        exec "$MM_PYTHON" -m ruff format --no-cache .
        ;;
    ruff) run_ruff ;;
    pylint) run_pylint ;;
    all)
        run_ruff
        run_pylint
        ;;
esac

if [ "${#failed[@]}" -gt 0 ]; then
    mm_die "lint failed: ${failed[*]}"
fi
mm_log "lint OK ($what)"
