#!/usr/bin/env bash
# Install nginx (Debian package, built with the auth_request module) and, unless
# --no-wrk is given, wrk for the gateway benchmark. Idempotent; the packaged service is not
# started (tests and benchmarks start their own nginx on loopback with deploy/nginx configs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_apt.sh
source "$here/_apt.sh"
apt_install nginx nginx
if [ "${1:-}" != "--no-wrk" ]; then
    apt_install wrk wrk
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
if ! "$nginx_bin" -V 2>&1 | grep -q -- --with-http_auth_request_module; then
    echo "error: $nginx_bin lacks the http_auth_request module" >&2
    exit 2
fi
"$nginx_bin" -v
