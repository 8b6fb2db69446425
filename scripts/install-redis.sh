#!/usr/bin/env bash
# Install redis-server (Debian package) for the enforcer fleet's shared deny list and the
# tests. Idempotent; the packaged service is not started (tests start their own on loopback).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_apt.sh
source "$here/_apt.sh"
apt_install redis-server redis-server
redis-server --version
