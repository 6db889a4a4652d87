# shellcheck shell=bash
# Shared helpers for scripts/run.sh, scripts/test.sh, scripts/lint.sh and .ci/run.
#
# Source it (". scripts/common.sh"), never execute it. Nothing here fetches
# Odoo: an Odoo 18 installation must already be present, found through
#   ODOO_BIN        path to an `odoo` console script or to `odoo-bin`
#   (or)            an `odoo` executable on PATH
# Optional overrides:
#   ODOO_PYTHON             Python interpreter that runs that Odoo
#                           (default: the odoo script's shebang)
#   ODOO_ADDONS_PATH        extra addons directories (comma separated)
#   MESSAGING_DB_HOST       default 127.0.0.1
#   MESSAGING_DB_PORT       default 5432
#   MESSAGING_DB_USER       default messaging (Odoo refuses "postgres")
#   MESSAGING_DB_PASSWORD   default messaging
#   MESSAGING_CACHE_DIR     default ${XDG_CACHE_HOME:-$HOME/.cache}/multichannel_messaging
#   MESSAGING_SKIP_PIP=1    never pip-install the dev requirements

MM_MODULE=multichannel_messaging
MM_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
MM_CACHE_DIR=${MESSAGING_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/$MM_MODULE}
MM_ADDONS_LINK_DIR=$MM_CACHE_DIR/addons
MM_ADDON_DIR=$MM_ADDONS_LINK_DIR/$MM_MODULE
MM_DATA_DIR=$MM_CACHE_DIR/data
MM_DB_HOST=${MESSAGING_DB_HOST:-127.0.0.1}
MM_DB_PORT=${MESSAGING_DB_PORT:-5432}
MM_DB_USER=${MESSAGING_DB_USER:-messaging}
MM_DB_PASSWORD=${MESSAGING_DB_PASSWORD:-messaging}

mm_log() { printf '[%s] %s\n' "${MM_SCRIPT_NAME:-messaging}" "$*" >&2; }
mm_warn() { printf '[%s] WARNING: %s\n' "${MM_SCRIPT_NAME:-messaging}" "$*" >&2; }
mm_die() {
    printf '[%s] ERROR: %s\n' "${MM_SCRIPT_NAME:-messaging}" "$*" >&2
    exit "${MM_DIE_CODE:-1}"
}
mm_is_root() { [ "$(id -u)" = 0 ]; }

# --------------------------------------------------------------------------
# Odoo and its Python
# --------------------------------------------------------------------------
# Sets MM_ODOO_BIN, MM_PYTHON, MM_ODOO_RUN (array: how to start odoo),
# MM_ODOO_PKG_DIR and MM_ODOO_VERSION.
mm_find_odoo() {
    local candidate=""
    local howto="Install Odoo 18.0 and put its \`odoo\` executable on PATH, or set \
ODOO_BIN=/path/to/odoo-bin (and ODOO_PYTHON=/path/to/its/python if the script's \
shebang is not the right interpreter)."
    if [ -n "${ODOO_BIN:-}" ]; then
        candidate=$ODOO_BIN
        if [ ! -f "$candidate" ]; then
            candidate=$(command -v -- "$ODOO_BIN" 2>/dev/null || true)
        fi
        if [ -z "$candidate" ] || [ ! -f "$candidate" ]; then
            MM_DIE_CODE=2 mm_die "ODOO_BIN=$ODOO_BIN does not exist. $howto"
        fi
    else
        candidate=$(command -v odoo 2>/dev/null || true)
        [ -n "$candidate" ] \
            || MM_DIE_CODE=2 mm_die "No Odoo found: \`odoo\` is not on PATH and ODOO_BIN is not set. $howto"
    fi
    MM_ODOO_BIN=$(readlink -f -- "$candidate")

    local shebang="" interp=""
    IFS= read -r shebang <"$MM_ODOO_BIN" || true
    if [ -n "${ODOO_PYTHON:-}" ]; then
        MM_PYTHON=$(command -v -- "$ODOO_PYTHON" 2>/dev/null || true)
        [ -n "$MM_PYTHON" ] || MM_DIE_CODE=2 mm_die "ODOO_PYTHON=$ODOO_PYTHON is not executable."
    elif [[ $shebang == '#!'* ]]; then
        # "#!/path/python3 -x" or "#!/usr/bin/env python3"
        read -r -a interp <<<"${shebang#\#!}"
        if [ "$(basename -- "${interp[0]}")" = env ]; then
            local i=1
            while [[ ${interp[$i]:-} == -* ]]; do i=$((i + 1)); done
            MM_PYTHON=$(command -v -- "${interp[$i]:-python3}" 2>/dev/null || true)
        else
            MM_PYTHON=${interp[0]}
        fi
    else
        MM_PYTHON=$(command -v python3 2>/dev/null || true)
    fi
    if [ -z "${MM_PYTHON:-}" ] || [ ! -x "$MM_PYTHON" ]; then
        MM_DIE_CODE=2 mm_die "Cannot determine the Python that runs $MM_ODOO_BIN; set ODOO_PYTHON. $howto"
    fi

    if [[ $shebang == '#!'* && $shebang != *python* ]]; then
        MM_ODOO_RUN=("$MM_ODOO_BIN")  # a wrapper script of its own
    else
        MM_ODOO_RUN=("$MM_PYTHON" "$MM_ODOO_BIN")
    fi

    local info
    info=$("$MM_PYTHON" - <<'EOF' 2>/dev/null
import os
import odoo
from odoo import release
print(release.major_version)
print(os.path.dirname(os.path.abspath(odoo.__file__)))
EOF
    ) || MM_DIE_CODE=2 mm_die "$MM_PYTHON cannot import odoo (from $MM_ODOO_BIN). $howto"
    MM_ODOO_VERSION=$(sed -n 1p <<<"$info")
    MM_ODOO_PKG_DIR=$(sed -n 2p <<<"$info")
    if [ "$MM_ODOO_VERSION" != "18.0" ]; then
        MM_DIE_CODE=2 mm_die "Found Odoo $MM_ODOO_VERSION at $MM_ODOO_PKG_DIR, but this addon needs Odoo 18.0. $howto"
    fi
    mm_log "Odoo $MM_ODOO_VERSION: $MM_ODOO_BIN (python: $MM_PYTHON)"
}

# --------------------------------------------------------------------------
# Development requirements (scripts/requirements-dev.txt)
# --------------------------------------------------------------------------
mm_ensure_dev_deps() {
    local reqs=$MM_REPO_ROOT/scripts/requirements-dev.txt
    local missing
    missing=$("$MM_PYTHON" - "$reqs" <<'EOF'
import sys
from importlib import metadata

try:
    from packaging.requirements import Requirement
except ImportError:  # pragma: no cover - very old environments
    Requirement = None

for raw in open(sys.argv[1], encoding="utf-8"):
    line = raw.split("#", 1)[0].strip()
    if not line:
        continue
    if Requirement is None:
        name, spec = line.split(";")[0], None
        for sep in "<>=!~ [":
            name = name.split(sep)[0]
    else:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        name, spec = req.name, req.specifier
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        print(line)
        continue
    if spec is not None and not spec.contains(version, prereleases=True):
        print(line)
EOF
    ) || mm_die "Could not check $reqs with $MM_PYTHON"
    if [ -z "$missing" ]; then
        return 0
    fi
    if [ "${MESSAGING_SKIP_PIP:-0}" = 1 ]; then
        mm_die "Missing Python packages for $MM_PYTHON (MESSAGING_SKIP_PIP=1): $(tr '\n' ' ' <<<"$missing")"
    fi
    mm_log "Installing missing dev requirements into $MM_PYTHON: $(tr '\n' ' ' <<<"$missing")"
    local -a pkgs
    mapfile -t pkgs <<<"$missing"
    "$MM_PYTHON" -m pip install -q --disable-pip-version-check "${pkgs[@]}" \
        || mm_die "pip install failed for: ${pkgs[*]}"
}

# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------
mm_pg_ready() { pg_isready -q -h "$MM_DB_HOST" -p "$MM_DB_PORT" >/dev/null 2>&1; }

mm_as_postgres() {
    if command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

# Run a command with every file descriptor above 2 closed (a daemon started
# here must not inherit our locks or pipes).
mm_without_open_files() {
    (
        local fd
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
        done
        exec "$@"
    )
}

mm_ensure_postgres() {
    command -v psql >/dev/null 2>&1 \
        || mm_die "psql not found: install the PostgreSQL client (Debian: apt-get install postgresql)."
    if mm_pg_ready; then
        return 0
    fi
    if mm_is_root && command -v pg_ctlcluster >/dev/null 2>&1; then
        local ver name port _rest started=0
        while read -r ver name port _rest; do
            [ "$port" = "$MM_DB_PORT" ] || continue
            mm_log "Starting PostgreSQL cluster $ver/$name (port $port)"
            # without our open files: a server started under
            # `flock /tmp/bench.lock ...` would hold that lock for good
            mm_without_open_files pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || true
            started=1
        done < <(pg_lsclusters --no-header 2>/dev/null)
        [ "$started" = 1 ] || mm_warn "no PostgreSQL cluster configured on port $MM_DB_PORT"
        local _i
        for _i in $(seq 1 30); do
            mm_pg_ready && return 0
            sleep 1
        done
    fi
    mm_die "PostgreSQL is not accepting connections on $MM_DB_HOST:$MM_DB_PORT. Start it (as root: pg_ctlcluster --skip-systemctl-redirect 15 main start) or set MESSAGING_DB_HOST/MESSAGING_DB_PORT."
}

# psql as the dedicated role: mm_psql DBNAME SQL
mm_psql() {
    local db=$1
    shift
    PGPASSWORD=$MM_DB_PASSWORD psql -X -q -t -A -v ON_ERROR_STOP=1 \
        -h "$MM_DB_HOST" -p "$MM_DB_PORT" -U "$MM_DB_USER" -d "$db" -c "$1"
}

mm_ensure_role() {
    if [ "$MM_DB_USER" = postgres ]; then
        mm_die "Odoo refuses to run as the 'postgres' database user; set MESSAGING_DB_USER to another role."
    fi
    if mm_psql postgres 'SELECT 1' >/dev/null 2>&1; then
        return 0
    fi
    if ! mm_is_root; then
        mm_die "Cannot connect to PostgreSQL as $MM_DB_USER@$MM_DB_HOST:$MM_DB_PORT. Create the role (CREATEDB, password) or run this script as root once."
    fi
    mm_log "Creating/updating PostgreSQL role $MM_DB_USER (LOGIN CREATEDB)"
    local user_lit pass_lit
    user_lit=${MM_DB_USER//\'/\'\'}
    pass_lit=${MM_DB_PASSWORD//\'/\'\'}
    mm_as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$MM_DB_PORT" -d postgres <<EOF || mm_die "Could not create role $MM_DB_USER"
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$user_lit') THEN
        EXECUTE format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '$user_lit', '$pass_lit');
    ELSE
        EXECUTE format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', '$user_lit', '$pass_lit');
    END IF;
END
\$\$;
EOF
    mm_psql postgres 'SELECT 1' >/dev/null \
        || mm_die "Role $MM_DB_USER exists but cannot log in on $MM_DB_HOST:$MM_DB_PORT (check pg_hba.conf)."
}

mm_db_exists() {
    local db_lit=${1//\'/\'\'}
    [ "$(mm_psql postgres "SELECT 1 FROM pg_database WHERE datname = '$db_lit'")" = 1 ]
}

# Prints the module state in DB ("installed", "uninstalled", ...) or nothing.
mm_module_state() {
    mm_psql "$1" "SELECT state FROM ir_module_module WHERE name = '$MM_MODULE'" 2>/dev/null || true
}

# Drops DB (terminating its connections) and its filestore.
mm_drop_db() {
    local db=$1
    PGPASSWORD=$MM_DB_PASSWORD dropdb --if-exists --force \
        -h "$MM_DB_HOST" -p "$MM_DB_PORT" -U "$MM_DB_USER" "$db" \
        || mm_die "Could not drop database $db"
    rm -rf -- "${MM_DATA_DIR:?}/filestore/$db"
}

# --------------------------------------------------------------------------
# Addons path: a link with the module's real name, wherever the clone lives
# --------------------------------------------------------------------------
mm_make_addons_link() {
    mkdir -p "$MM_ADDONS_LINK_DIR" "$MM_DATA_DIR"
    if [ -L "$MM_ADDON_DIR" ]; then
        if [ "$(readlink -- "$MM_ADDON_DIR")" != "$MM_REPO_ROOT" ]; then
            rm -f -- "$MM_ADDON_DIR"
        fi
    elif [ -e "$MM_ADDON_DIR" ]; then
        mm_die "$MM_ADDON_DIR exists and is not a symlink; remove it."
    fi
    [ -L "$MM_ADDON_DIR" ] || ln -s -- "$MM_REPO_ROOT" "$MM_ADDON_DIR"
}

# Prints the comma-separated addons path.
mm_addons_path() {
    local -a dirs=()
    local d
    for d in "$MM_ODOO_PKG_DIR/addons" "$(dirname -- "$MM_ODOO_PKG_DIR")/addons"; do
        [ -d "$d" ] && dirs+=("$(readlink -f -- "$d")")
    done
    if [ -n "${ODOO_ADDONS_PATH:-}" ]; then
        local -a extra
        IFS=',' read -r -a extra <<<"$ODOO_ADDONS_PATH"
        for d in "${extra[@]}"; do
            d=${d#"${d%%[![:space:]]*}"}
            d=${d%"${d##*[![:space:]]}"}
            [ -z "$d" ] && continue
            [ -d "$d" ] || mm_die "ODOO_ADDONS_PATH entry $d is not a directory"
            dirs+=("$d")
        done
    fi
    dirs+=("$MM_ADDONS_LINK_DIR")
    local IFS=,
    printf '%s\n' "${dirs[*]}"
}

# mm_write_config FILE HTTP_PORT: an odoo.conf for this checkout.
mm_write_config() {
    # $3: cron threads (0 for tests: scheduled jobs must not run under them)
    local file=$1 http_port=$2 cron_threads=${3:-0} tmp
    mkdir -p "$(dirname -- "$file")"
    tmp=$(mktemp "$file.XXXXXX")
    cat >"$tmp" <<EOF
; Generated by scripts/common.sh -- do not edit, it is rewritten on every run.
[options]
addons_path = $(mm_addons_path)
data_dir = $MM_DATA_DIR
db_host = $MM_DB_HOST
db_port = $MM_DB_PORT
db_user = $MM_DB_USER
db_password = $MM_DB_PASSWORD
http_interface = 127.0.0.1
http_port = $http_port
gevent_port = $((http_port + 3))
without_demo = False
workers = 0
max_cron_threads = $cron_threads
list_db = True
EOF
    chmod 600 "$tmp"
    mv -f -- "$tmp" "$file"
}

# Runs the found Odoo with the given arguments.
mm_odoo() { "${MM_ODOO_RUN[@]}" "$@"; }

# Everything a script needs before it can start Odoo.
mm_setup() {
    mm_find_odoo
    mm_ensure_dev_deps
    mm_ensure_postgres
    mm_ensure_role
    mm_make_addons_link
}

mm_ensure_chromium() {
    local b
    for b in google-chrome chromium chromium-browser google-chrome-stable; do
        command -v "$b" >/dev/null 2>&1 && return 0
    done
    if [ "${MESSAGING_SKIP_CHROMIUM:-0}" = 1 ]; then
        mm_warn "no Chromium found; browser tours will be skipped"
        return 0
    fi
    if mm_is_root && command -v apt-get >/dev/null 2>&1; then
        mm_log "Installing Debian's chromium for HttpCase tours"
        export DEBIAN_FRONTEND=noninteractive
        if apt-get install -y -q chromium >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; then
            return 0
        fi
    fi
    mm_warn "Chromium is not installed and could not be installed; browser tours (start_tour) will be skipped or fail."
}
