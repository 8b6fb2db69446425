#!/usr/bin/env bash
# Shared by scripts/install-*.sh: install Debian packages with apt-get, idempotently.
# Usage: source scripts/_apt.sh; apt_install COMMAND PACKAGE...
# COMMAND is the program whose presence means "already installed" (nothing is done then).
# Services are never started by the install: a policy-rc.d that refuses is put in place
# for the duration when none exists (the project starts nginx/redis itself, loopback only).
set -euo pipefail

_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        echo "error: installing needs root or password-less sudo: $*" >&2
        exit 2
    fi
}

apt_install() {
    local probe="$1"
    shift
    if command -v "$probe" >/dev/null 2>&1 || [ -x "/usr/sbin/$probe" ]; then
        echo "$probe already installed: $(command -v "$probe" || echo "/usr/sbin/$probe")"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: $probe is missing and apt-get is not available; install: $*" >&2
        exit 2
    fi
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        _as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        made_policy=1
    fi
    # apt's package lists may be absent on a fresh machine: update when the package is unknown.
    if ! apt-cache show "$1" >/dev/null 2>&1; then
        _as_root apt-get update -q
    fi
    local status=0
    _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
        || status=$?
    if [ "$status" -ne 0 ]; then
        # a stale list can name versions the mirror no longer has: refresh once and retry
        _as_root apt-get update -q
        status=0
        _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "$@" || status=$?
    fi
    if [ "$made_policy" -eq 1 ]; then
        _as_root rm -f "$policy"
    fi
    if [ "$status" -ne 0 ]; then
        echo "error: apt-get install $* failed (exit $status)" >&2
        exit 2
    fi
}
