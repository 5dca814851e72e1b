# shellcheck shell=bash
# Shared helpers for the scripts in this directory.
#
# Source it from a script:   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# or call one function alone: bash scripts/lib.sh ensure_debs curl
#                             bash scripts/lib.sh pg_start   (prints the dir)
#                             bash scripts/lib.sh pg_stop <dir>
#
# The functions are written to work under `set -euo pipefail` and also when
# called as an `if` condition (where `set -e` is suspended), so every step
# checks its own result.

# Repository root, derived from this file's location.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '%s\n' "$*" >&2; }

# Run a command as root: directly when already root, otherwise through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "error: need root (or sudo) to run: $*"
        return 1
    fi
}

# ---------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------

_APT_UPDATED=0

# ensure_debs PKG... -- install the listed Debian packages that are missing.
# Does nothing (and never calls apt-get) when all of them are installed.
# `apt-get update` runs at most once per shell, and only when something is
# missing.
ensure_debs() {
    local p status
    local missing=()
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "warning: not a Debian-based system; make sure these are installed: $*"
        return 0
    fi
    for p in "$@"; do
        status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
        case "$status" in
            *" ok installed") ;;
            *) missing+=("$p") ;;
        esac
    done
    [ "${#missing[@]}" -eq 0 ] && return 0

    log "Installing Debian packages: ${missing[*]}"
    # Wait for a dpkg lock held by another apt run instead of failing.
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=900)
    if [ "$_APT_UPDATED" -eq 0 ]; then
        as_root "${apt[@]}" update || return 1
        _APT_UPDATED=1
    fi
    as_root "${apt[@]}" install -y "${missing[@]}" || return 1
}

# ---------------------------------------------------------------------------
# Python virtualenv
# ---------------------------------------------------------------------------

# Print a digest of a requirements file together with the files it pulls in
# via -r/--requirement and -c/--constraint (so a change in requirements.txt
# also invalidates the stamp of requirements-dev.txt).
_req_digest() {
    local file="$1" dir line ref
    dir="$(dirname "$file")"
    {
        sha256sum "$file" | cut -d' ' -f1
        while IFS= read -r line || [ -n "$line" ]; do
            case "$line" in
                -r\ *|-c\ *|--requirement\ *|--constraint\ *|--requirement=*|--constraint=*)
                    ref="${line#*[ =]}"
                    ref="${ref#"${ref%%[![:space:]]*}"}"
                    ref="${ref%%[[:space:]]*}"
                    [[ "$ref" = /* ]] || ref="$dir/$ref"
                    [ -f "$ref" ] && _req_digest "$ref"
                    ;;
            esac
        done <"$file"
    } | sha256sum | cut -d' ' -f1
}

# ensure_venv REQFILE -- create <repo>/.venv if needed and install REQFILE
# into it. The install is skipped when REQFILE (and what it includes) is
# unchanged since the last successful install, recorded in
# .venv/.req-<name>.sha256. Set PYTHON to use another interpreter.
ensure_venv() {
    local req="$1"
    local venv="$REPO_ROOT/.venv"
    local py="${PYTHON:-python3}"
    [[ "$req" = /* ]] || req="$REPO_ROOT/$req"
    if [ ! -f "$req" ]; then
        log "error: requirements file not found: $req"
        return 1
    fi

    # A venv whose interpreter or pip no longer works (moved repo, removed
    # Python, venv created without ensurepip) is rebuilt from scratch.
    if [ -e "$venv" ] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        log "The existing .venv is unusable; recreating it"
        rm -rf "$venv" || return 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        log "Creating virtualenv .venv with $py"
        "$py" -m venv "$venv" || return 1
    fi

    local stamp digest
    stamp="$venv/.req-$(basename "$req").sha256"
    digest="$(_req_digest "$req")" || return 1
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        return 0
    fi
    log "Installing Python packages from $(basename "$req")"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" || return 1
    printf '%s\n' "$digest" >"$stamp"
}

# ensure_dossier_font -- cut the prepared dossier face (Dossier Sans) out of the
# installed Noto Sans CJK SC into instance/fonts (or $DOSSIER_FONT_DIR). Takes
# 15-30 s once; afterwards it only checks that the face is up to date.
ensure_dossier_font() {
    (cd "$REPO_ROOT" && .venv/bin/python -m core.pdf.fonts build) || return 1
}

# ---------------------------------------------------------------------------
# Throw-away PostgreSQL cluster for tests
# ---------------------------------------------------------------------------

PG_DIR="${PG_DIR:-}"

# Print the directory holding initdb/pg_ctl: $PG_BIN if set, else the newest
# /usr/lib/postgresql/<version>/bin, else whatever is on PATH.
pg_bindir() {
    if [ -n "${PG_BIN:-}" ]; then
        printf '%s\n' "$PG_BIN"
        return 0
    fi
    local initdb
    initdb="$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"
    if [ ! -x "$initdb" ]; then
        initdb="$(command -v initdb 2>/dev/null || true)"
    fi
    if [ -z "$initdb" ]; then
        log "error: initdb not found (install the postgresql package or set PG_BIN)"
        return 1
    fi
    dirname "$initdb"
}

# Run a PostgreSQL server tool. The server refuses to run as root, so as root
# the tool runs as the `postgres` system user; otherwise as the current user.
# It runs from / so the tool never trips over an unreadable working dir.
_pg_run() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# pg_start -- start a private cluster in a fresh temporary folder, listening
# only on a unix socket there, with a `kyc_test` database owned by the
# `postgres` superuser (trust auth). Sets PG_DIR and exports
# TEST_DATABASE_URL. Pair it with `trap pg_stop EXIT`.
pg_start() {
    local bin
    bin="$(pg_bindir)" || return 1
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        log "error: the 'postgres' system user does not exist (install postgresql)"
        return 1
    fi

    # Short path on purpose: unix socket paths are limited to ~107 bytes.
    PG_DIR="$(mktemp -d "${PG_TMPDIR:-/tmp}/kyc-pg.XXXXXX")" || return 1
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$PG_DIR" || return 1
    fi

    local locale=C
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
        locale=C.UTF-8
    fi
    if ! _pg_run "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
            -E UTF8 --locale="$locale" >"$PG_DIR/initdb.log" 2>&1; then
        log "error: initdb failed:"
        cat "$PG_DIR/initdb.log" >&2
        return 1
    fi

    # Socket-only, and durability switched off: the data is thrown away.
    cat >>"$PG_DIR/data/postgresql.conf" <<EOF || return 1

# --- throw-away test cluster ---
listen_addresses = ''
unix_socket_directories = '$PG_DIR'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    if ! _pg_run "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
            -w -t 60 start >/dev/null; then
        log "error: PostgreSQL did not start:"
        cat "$PG_DIR/server.log" >&2 2>/dev/null || true
        return 1
    fi
    if ! _pg_run "$bin/createdb" -h "$PG_DIR" -U postgres -O postgres kyc_test; then
        log "error: createdb kyc_test failed"
        return 1
    fi

    export TEST_DATABASE_URL="postgresql+psycopg://postgres@/kyc_test?host=$PG_DIR"
    log "PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') running on socket dir $PG_DIR"
}

# pg_stop [DIR] -- stop the cluster started by pg_start and delete its
# folder. Safe to call more than once, or when nothing was started.
pg_stop() {
    local dir="${1:-$PG_DIR}"
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
        return 0
    fi
    case "$(basename "$dir")" in
        kyc-pg.*) ;;
        *)
            log "error: refusing to remove $dir (not a pg_start folder)"
            return 1
            ;;
    esac
    if [ -f "$dir/data/postmaster.pid" ]; then
        local bin
        if bin="$(pg_bindir)"; then
            _pg_run "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
                _pg_run "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 ||
                true
        fi
    fi
    rm -rf "$dir"
    if [ "$dir" = "$PG_DIR" ]; then
        PG_DIR=""
        unset TEST_DATABASE_URL
    fi
    return 0
}

# Executed rather than sourced: call the named function with its arguments.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    if [ "$#" -eq 0 ]; then
        log "usage: bash scripts/lib.sh FUNCTION [ARGS...]"
        exit 2
    fi
    "$@"
    if [ "$1" = pg_start ]; then
        printf '%s\n' "$PG_DIR"
    fi
fi
