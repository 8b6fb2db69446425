"""Run the enforcer under uvicorn (uvloop event loop, httptools parser).

One worker serves the application object built here; more workers each build their own
from ``$APIBEHAVE_ENFORCE_SETTINGS`` (the settings without secrets), so each holds its own
features and, unless a shared store is configured, its own deny list.
"""

from __future__ import annotations

import logging
import os

import uvicorn

from apibehave.enforce.app import create_app
from apibehave.enforce.service import load_model
from apibehave.enforce.settings import SETTINGS_ENV, EnforceSettings, resolve_admin_token

APP_FACTORY = "apibehave.enforce.app:create_app"


def banner(settings: EnforceSettings, bundle_id: str, token_source: str) -> str:
    """Return the start-up lines: where it listens and how to point a gateway at it."""
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        f"apibehave enforce: bundle {bundle_id} from {settings.bundle}",
        f"  listening on {base} ({settings.workers} worker(s)), fail mode {settings.fail_mode}"
        + (", trusting X-Event-Time" if settings.trust_event_time else ""),
        f"  nginx: deploy/nginx/apibehave.conf; in short: auth_request /_apibehave; and"
        f" location = /_apibehave {{ internal; proxy_pass {base}/auth;"
        f' proxy_pass_request_body off; proxy_set_header Content-Length "";'
        f" proxy_set_header X-Original-URI $request_uri;"
        f" proxy_set_header X-Original-Method $request_method;"
        f" proxy_set_header X-Original-Host $host; proxy_set_header X-Real-IP $remote_addr;"
        f" proxy_set_header X-Request-ID $request_id; }}",
        f"  ASE sideband policies: {base}/ase/request and {base}/ase/response",
        f"  admin token: {token_source}; metrics: {base}/metrics; docs/enforce.md has the rest",
    ]
    if settings.log_udp_port:
        lines.append(
            f"  responses of /auth calls: nginx access_log "
            f"syslog:server={settings.host}:{settings.log_udp_port} (JSON, see docs/enforce.md)"
        )
    if settings.redis_url:
        lines.append("  deny and allow lists: shared through Redis (docs/fleet.md)")
    if settings.call_log_dir:
        lines.append(f"  call log: {settings.call_log_dir}/calls-*.parquet")
    return "\n".join(lines)


def serve(settings: EnforceSettings) -> None:
    """Verify the bundle, print the banner and serve until interrupted.

    Raises
    ------
    UserError
        When the bundle does not verify or a secret cannot be read.
    """
    _, manifest = load_model(settings.bundle)  # fail fast, with one line, before binding
    _, token_source = resolve_admin_token(settings)
    print(banner(settings, manifest.bundle_id, token_source), flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    common = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_level": "warning",
        "lifespan": "on",
        "timeout_graceful_shutdown": 5,
    }
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **common)
        return
    os.environ[SETTINGS_ENV] = settings.public_json()
    uvicorn.run(APP_FACTORY, factory=True, workers=settings.workers, **common)
