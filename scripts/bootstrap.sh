#!/usr/bin/env bash
# Prepare a machine for `make demo` / `make test`: uv, the locked virtualenv, and the Debian
# packages a profile needs. Idempotent and quick when everything is already there.
#
#   scripts/bootstrap.sh            uv + `uv sync --frozen --compile-bytecode` only
#   scripts/bootstrap.sh demo       ... + fonts-noto-cjk (Chinese bulletins render as boxes without)
#   scripts/bootstrap.sh test       ... + mosquitto, mosquitto-clients, chromium, fonts-noto-cjk,
#                                   postgresql (its binaries: the tests start their own cluster)
#
# Missing Debian packages are installed when running as root; otherwise one line names them and
# the script carries on (tests that need them skip with a reason). Services the packages would
# start (the system mosquitto, PostgreSQL's main cluster) are kept stopped: tests start their own.
set -euo pipefail

UV_VERSION="0.13.9"  # the uv that wrote uv.lock

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'bootstrap: %s\n' "$*" >&2; }

ensure_uv() {
    if command -v uv >/dev/null 2>&1; then
        return
    fi
    log "installing uv ${UV_VERSION} with pip"
    # Debian's python3 is "externally managed" (PEP 668); uv is a self-contained binary, so
    # installing it beside the system packages is harmless.
    python3 -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}" 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
            "uv==${UV_VERSION}"
    hash -r
    if ! command -v uv >/dev/null 2>&1; then
        # pip's scripts dir is not always on PATH (e.g. ~/.local/bin); `python3 -m uv` works.
        uv() { python3 -m uv "$@"; }
    fi
}

packages_for() {
    case "$1" in
        demo) echo "fonts-noto-cjk" ;;
        test) echo "mosquitto mosquitto-clients chromium fonts-noto-cjk postgresql" ;;
        *) log "unknown profile '$1' (expected: demo, test)"; exit 2 ;;
    esac
}

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

ensure_debian_packages() {
    local wanted=() missing=() pkg
    for profile in "$@"; do
        # shellcheck disable=SC2207  # word splitting of a fixed package list is intended
        wanted+=($(packages_for "$profile"))
    done
    [ ${#wanted[@]} -gt 0 ] || return 0
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "not a Debian system; make sure these are installed: ${wanted[*]}"
        return 0
    fi
    for pkg in "${wanted[@]}"; do
        if ! is_installed "$pkg" && [[ " ${missing[*]} " != *" $pkg "* ]]; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    if [ "$(id -u)" -ne 0 ]; then
        log "missing Debian packages (tests needing them will skip): sudo apt-get install ${missing[*]}"
        return 0
    fi
    log "installing ${missing[*]}"
    # Keep package scripts from starting services (the system mosquitto, PostgreSQL's main
    # cluster): tests start their own on free ports (tests/fixtures/brokers.py, postgres.py).
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        created_policy=1
    fi
    local rc=0
    {
        apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${missing[@]}"
    } || rc=$?
    if [ "$created_policy" -eq 1 ]; then
        rm -f "$policy"
    fi
    return "$rc"
}

ensure_uv
# --compile-bytecode: write every dependency's .pyc once, here. Where PYTHONDONTWRITEBYTECODE
# is set (it is on the CI machines), Python never caches what it compiles, so every process
# would compile Great Expectations, Airflow, scikit-learn... from source again: measured, a
# `process daily` spent 20.9 s of its 76 s in compile(); with the .pyc files, none. Once
# compiled, a later sync checks them in ~1 s.
uv sync --frozen --compile-bytecode
ensure_debian_packages "$@"
