"""The enforcer's ASGI application (Starlette): routes of CONTRACT section 5.

Build it with :func:`create_app`; serve it with uvicorn (``apibehave enforce``). Routes:

* sideband: ``POST /ase/request``, ``POST /ase/response``, ``GET /auth``;
* lists (admin): ``GET|POST|DELETE /denylist`` and ``/allowlist``;
* reports (admin): ``GET /reports/attacks``, ``/reports/forensics/{kind}/{value}``,
  ``/reports/usage``, ``/reports/training``; ``POST /admin/reload`` (admin);
* open: ``GET /healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``.

A ``SIGHUP`` reloads the bundle as ``POST /admin/reload`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from apibehave.enforce.accesslog import start_access_log_listener
from apibehave.enforce.calllog import CallLog
from apibehave.enforce.digest import Digester
from apibehave.enforce.httpio import (
    HTTPProblemError,
    check_bearer,
    check_header_token,
    json_response,
    problem_response,
    read_json,
)
from apibehave.enforce.openapi import openapi_document
from apibehave.enforce.reports import (
    attack_report,
    forensics_report,
    training_status,
    usage_from_calls,
)
from apibehave.enforce.service import Enforcer, load_model
from apibehave.enforce.settings import (
    SETTINGS_ENV,
    EnforceSettings,
    resolve_admin_token,
    resolve_ase_token,
    resolve_digest_key,
)
from apibehave.enforce.sideband import (
    BadCallError,
    ase_request_event,
    ase_response_fields,
    auth_event,
    parse_event_time,
)
from apibehave.enforce.timefmt import parse_query_time
from apibehave.engine.lists import IDENTIFIER_KINDS, IdentifierListStore
from apibehave.schema.attacks import ATTACK_TYPES

log = logging.getLogger("apibehave.enforce")

Handler = Callable[[Request], Awaitable[Response]]
SWEEP_EVERY_S = 1.0
ADMIN_BODY_LIMIT = 64 * 1024
MAX_CORRELATION_LENGTH = 200
_ALLOW_BYTES = b'{"decision":"allow"}'
_OK_BYTES = b'{"ok":true}'


def create_app(
    settings: EnforceSettings | None = None,
    *,
    deny: IdentifierListStore | None = None,
    allow: IdentifierListStore | None = None,
) -> Starlette:
    """Build the enforcer application.

    Parameters
    ----------
    settings : EnforceSettings, optional
        How to run; by default read from ``$APIBEHAVE_ENFORCE_SETTINGS`` (worker processes).
    deny, allow : IdentifierListStore, optional
        List stores (a shared Redis store for a fleet); in memory by default.

    Raises
    ------
    UserError
        When the bundle does not verify or a secret file cannot be read.
    """
    if settings is None:
        text = os.environ.get(SETTINGS_ENV)
        if not text:
            raise RuntimeError(f"create_app() without settings needs ${SETTINGS_ENV}")
        settings = EnforceSettings.from_json(text)
    model, manifest = load_model(settings.bundle)
    owned: list[Any] = []
    if settings.redis_url and (deny is None or allow is None):
        from apibehave.engine.redis_store import RedisListStore

        if deny is None:
            deny = RedisListStore(settings.redis_url, namespace="deny")
            owned.append(deny)
        if allow is None:
            allow = RedisListStore(settings.redis_url, namespace="allow")
            owned.append(allow)
    admin_token, _ = resolve_admin_token(settings)
    ase_token = resolve_ase_token(settings)
    digester = Digester(resolve_digest_key(settings))
    call_log = None
    if settings.call_log_dir:
        call_log = CallLog(
            settings.call_log_dir,
            digester,
            rotate_rows=settings.call_log_rotate_rows,
            rotate_s=settings.call_log_rotate_s,
            flush_s=settings.call_log_flush_s,
            buffer_max=settings.call_log_buffer_max,
            keep_bodies=settings.call_log_bodies,
        )
    enforcer = Enforcer(
        settings, model, manifest, deny=deny, allow=allow, call_log=call_log, digester=digester
    )
    routes = _Routes(enforcer, admin_token, ase_token, owned)
    app = Starlette(
        routes=routes.table(),
        lifespan=routes.lifespan,
        exception_handlers={404: _not_found, 405: _not_allowed},
    )
    app.state.enforcer = enforcer
    return app


def _guard(handler: Handler) -> Handler:
    """Turn problems (and garbage from clients) into JSON answers; never into a crash."""

    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except HTTPProblemError as problem:
            return problem_response(problem)
        except BadCallError as bad:
            return problem_response(HTTPProblemError(400, bad.reason))
        except ClientDisconnect:
            return Response(status_code=400)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


class _Routes:
    """The route handlers over one :class:`Enforcer`."""

    def __init__(
        self, enforcer: Enforcer, admin_token: str, ase_token: str | None, owned: list[Any]
    ) -> None:
        self.enforcer = enforcer
        self.owned_stores = owned
        self.settings = enforcer.settings
        self.admin_token = admin_token
        self.ase_token = ase_token
        self.started = time.time()
        self._openapi: bytes | None = None

    def table(self) -> list[Route]:
        g = _guard
        return [
            Route("/ase/request", g(self.ase_request), methods=["POST"]),
            Route("/ase/response", g(self.ase_response), methods=["POST"]),
            Route("/auth", g(self.auth), methods=["GET"]),
            Route("/denylist", g(self.lists), methods=["GET", "POST", "DELETE"]),
            Route("/allowlist", g(self.lists), methods=["GET", "POST", "DELETE"]),
            Route("/reports/attacks", g(self.report_attacks), methods=["GET"]),
            Route(
                "/reports/forensics/{kind}/{value:path}",
                g(self.report_forensics),
                methods=["GET"],
            ),
            Route("/reports/usage", g(self.report_usage), methods=["GET"]),
            Route("/reports/training", g(self.report_training), methods=["GET"]),
            Route("/admin/reload", g(self.admin_reload), methods=["POST"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]

    # ---- lifecycle -------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        enforcer = self.enforcer
        if enforcer.call_log is not None:
            enforcer.call_log.start()
        loop = asyncio.get_running_loop()
        sweeper = asyncio.create_task(self._sweep_forever())
        hup = self._install_sighup(loop)
        transport = None
        if self.settings.log_udp_port:
            transport = await start_access_log_listener(
                enforcer, self.settings.host, self.settings.log_udp_port
            )
        serving = enforcer.serving
        log.info(
            "apibehave enforce: serving bundle %s (%d APIs), fail mode %s",
            serving.manifest.bundle_id, len(serving.model.catalogue), self.settings.fail_mode,
        )  # fmt: skip
        try:
            yield
        finally:
            sweeper.cancel()
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            if transport is not None:
                transport.close()
            enforcer.close()
            for store in self.owned_stores:  # stores this app made (not ones handed in)
                store.close()

    def _install_sighup(self, loop: asyncio.AbstractEventLoop) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False  # in-process test clients run the app off the main thread
        try:
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.enforcer.reload()))
        except (NotImplementedError, RuntimeError, ValueError):
            return False
        return True

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            self.enforcer.sweep()

    # ---- sideband --------------------------------------------------------------------
    def _event_time(self, request: Request) -> int | None:
        if not self.settings.trust_event_time:
            return None
        text = request.headers.get("x-event-time")
        if text is None:
            raise HTTPProblemError(400, "this enforcer trusts event time: send X-Event-Time")
        return parse_event_time(text)

    async def ase_request(self, request: Request) -> Response:
        """Decide on one API call sent by an ASE sideband policy."""
        check_header_token(request, "ase-token", self.ase_token)
        body = await read_json(request, self.settings.max_body_bytes)
        event_time = self._event_time(request)
        event, body_correlation = ase_request_event(body, self.enforcer.serving.model.catalogue)
        correlation = _correlation(request.headers.get("x-correlationid") or body_correlation)
        verdict = self.enforcer.on_request(event, correlation, "ase", event_time)
        return _verdict_response(verdict)

    async def ase_response(self, request: Request) -> Response:
        """Bring the response of an earlier request to the engine."""
        check_header_token(request, "ase-token", self.ase_token)
        body = await read_json(request, self.settings.max_body_bytes)
        event_time = self._event_time(request)
        status, size, body_correlation = ase_response_fields(body)
        correlation = _correlation(request.headers.get("x-correlationid") or body_correlation)
        if not correlation:
            raise HTTPProblemError(400, "a response needs the X-CorrelationID header")
        paired = self.enforcer.on_response(correlation, status, size, event_time)
        return Response(
            b'{"paired":true}' if paired else b'{"paired":false}',
            200,
            media_type="application/json",
        )

    async def auth(self, request: Request) -> Response:
        """Decide on one call for nginx ``auth_request``."""
        check_header_token(request, "ase-token", self.ase_token)
        event_time = self._event_time(request)
        peer = request.client.host if request.client else None
        event = auth_event(request.headers, peer, self.enforcer.serving.model.catalogue)
        headers = request.headers
        correlation = _correlation(headers.get("x-request-id") or headers.get("x-correlationid"))
        verdict = self.enforcer.on_request(event, correlation, "auth", event_time)
        return _verdict_response(verdict)

    # ---- lists -----------------------------------------------------------------------
    async def lists(self, request: Request) -> Response:
        """List, add, remove or clear deny/allow list entries."""
        check_bearer(request, self.admin_token)
        which = request.url.path.strip("/")
        enforcer = self.enforcer
        store = enforcer.store(which)
        kind = request.query_params.get("kind")
        if kind is not None:
            _check_kind(kind)
        if request.method == "GET":
            now = enforcer.now_s()
            entries = [_entry_json(e, now) for e in store.entries(now, kind)]
            return json_response({"count": len(entries), "entries": entries})
        body = await read_json(request, ADMIN_BODY_LIMIT, allow_empty=request.method == "DELETE")
        if request.method == "POST":
            kind, value, ttl = _entry_fields(body)
            entry = enforcer.add_entry(which, kind, value, ttl)
            return json_response({"added": _entry_json(entry, enforcer.now_s())}, 201)
        if body is not None and not isinstance(body, dict):
            raise HTTPProblemError(400, "the body must be a JSON object")
        body = body or {}
        kind = _optional_text(body, "kind") or kind
        value = _optional_text(body, "value")
        if kind is not None:
            _check_kind(kind)
        if value is not None:
            if kind is None:
                raise HTTPProblemError(400, "removing one entry needs its 'kind'")
            if not store.remove(kind, value):
                raise HTTPProblemError(404, "no such entry")
            return json_response({"removed": 1})
        return json_response({"removed": store.clear(kind)})

    # ---- reports ---------------------------------------------------------------------
    async def report_attacks(self, request: Request) -> Response:
        """Answer the recent attacks by type, API and time range."""
        check_bearer(request, self.admin_token)
        params = request.query_params
        attack_type = params.get("type")
        if attack_type is not None and attack_type not in ATTACK_TYPES:
            raise HTTPProblemError(400, f"unknown attack type {attack_type!r}")
        mode = params.get("mode")
        if mode is not None and mode not in ("enforce", "shadow"):
            raise HTTPProblemError(400, "mode must be 'enforce' or 'shadow'")
        report = attack_report(
            self.enforcer.attacks,
            attack_type=attack_type,
            api=params.get("api"),
            since_ns=_query_time(params.get("since"), "since"),
            until_ns=_query_time(params.get("until"), "until"),
            mode=mode,
            limit=_query_int(params.get("limit"), "limit", 1000),
        )
        return json_response(report)

    async def report_forensics(self, request: Request) -> Response:
        """Answer what this enforcer saw of one identifier."""
        check_bearer(request, self.admin_token)
        kind = request.path_params["kind"]
        value = request.path_params["value"]
        _check_kind(kind)
        enforcer = self.enforcer
        now = enforcer.now_s()
        entries = {}
        for which in ("denylist", "allowlist"):
            entry = enforcer.store(which).get(kind, value, now)
            entries[which] = None if entry is None else _entry_json(entry, now)
        report = forensics_report(
            kind, value, enforcer.recent, enforcer.attacks, entries, enforcer.digester
        )
        return json_response(report)

    async def report_usage(self, request: Request) -> Response:
        """Answer the API usage over the recent calls."""
        check_bearer(request, self.admin_token)
        top = _query_int(request.query_params.get("top"), "top", 10)
        calls = list(self.enforcer.recent)
        if not calls:
            return json_response({"name": "recent calls seen by this enforcer", "summary": {
                "total_requests": 0}, "apis": []})  # fmt: skip
        catalogue = self.enforcer.serving.model.catalogue
        report = await asyncio.to_thread(usage_from_calls, calls, catalogue, top)
        return json_response(report)

    async def report_training(self, request: Request) -> Response:
        """Answer each API's training status in the serving bundle."""
        check_bearer(request, self.admin_token)
        serving = self.enforcer.serving
        return json_response(training_status(serving.manifest, serving.model))

    async def admin_reload(self, request: Request) -> Response:
        """Verify a bundle and swap it in (409 and the old bundle serves on when refused)."""
        check_bearer(request, self.admin_token)
        body = await read_json(request, ADMIN_BODY_LIMIT, allow_empty=True)
        path = None
        if body is not None:
            if not isinstance(body, dict):
                raise HTTPProblemError(400, "the body must be a JSON object")
            path = _optional_text(body, "bundle")
        swapped, detail = await self.enforcer.reload(path)
        if not swapped:
            return json_response(
                {"reloaded": False, "reason": detail,
                 "serving": self.enforcer.serving.manifest.bundle_id},
                409,
            )  # fmt: skip
        return json_response({"reloaded": True, "serving": detail})

    # ---- open routes -----------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        """Answer 200 while the process runs."""
        return Response(_OK_BYTES, 200, media_type="application/json")

    async def readyz(self, request: Request) -> Response:
        """Answer 200 when a bundle serves and the call log writer runs (if configured)."""
        enforcer = self.enforcer
        call_log = enforcer.call_log
        ready = call_log is None or call_log.alive
        body = {
            "ready": ready,
            "bundle_id": enforcer.serving.manifest.bundle_id,
            "call_log": None if call_log is None else ("running" if ready else "stopped"),
        }
        stores = _store_status(enforcer)
        if stores:
            body["lists"] = stores  # a shared store away does not make the node unready:
            # lookups answer from its local mirror (the fleet's fail mode, docs/fleet.md)
        return json_response(body, 200 if ready else 503)

    async def metrics(self, request: Request) -> Response:
        """Serve the Prometheus metrics."""
        enforcer = self.enforcer
        enforcer.sweep()
        now = enforcer.now_s()
        serving = enforcer.serving
        gauges: list[tuple[str, str, dict[str, str], float]] = [
            ("apibehave_bundle_info", "The serving bundle.",
             {"bundle_id": serving.manifest.bundle_id}, 1),
            ("apibehave_bundle_loaded_timestamp_seconds", "When the serving bundle was loaded.",
             {}, serving.loaded_at),
            ("apibehave_denylist_entries", "Active deny-list entries.", {},
             enforcer.deny.size(now)),
            ("apibehave_allowlist_entries", "Active allow-list entries.", {},
             enforcer.allow.size(now)),
            ("apibehave_pending_requests", "Requests waiting for their response.", {},
             len(enforcer.pending)),
            ("apibehave_recent_calls", "Calls remembered for reports.", {},
             len(enforcer.recent)),
        ]  # fmt: skip
        for table, n in serving.engine.features.tracked_identifiers().items():
            gauges.append(
                ("apibehave_tracked_identifiers", "Identifier states per feature table.",
                 {"table": table}, n)
            )  # fmt: skip
        call_log = enforcer.call_log
        if call_log is not None:
            gauges += [
                ("apibehave_call_log_rows", "Calls written to the call log.", {},
                 call_log.written),
                ("apibehave_call_log_dropped", "Calls dropped (writer behind).", {},
                 call_log.dropped),
                ("apibehave_call_log_errors", "Failed call-log writes.", {}, call_log.errors),
            ]  # fmt: skip
        for which, status in _store_status(enforcer).items():
            gauges.append(
                ("apibehave_list_store_connected", "Whether the shared list store is connected.",
                 {"list": which}, int(bool(status.get("connected")))),
            )  # fmt: skip
            gauges.append(
                ("apibehave_list_store_pending_writes", "List changes not yet in the store.",
                 {"list": which}, int(status.get("pending_writes") or 0)),
            )  # fmt: skip
        text = enforcer.metrics.render(gauges)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def openapi(self, request: Request) -> Response:
        """Serve the OpenAPI description."""
        if self._openapi is None:
            self._openapi = json_response(openapi_document()).body
        return Response(self._openapi, 200, media_type="application/json")


async def _not_found(request: Request, exc: Exception) -> Response:
    return problem_response(HTTPProblemError(404, "no such route"))


async def _not_allowed(request: Request, exc: Exception) -> Response:
    answer = problem_response(HTTPProblemError(405, "method not allowed on this route"))
    answer.headers.update(getattr(exc, "headers", None) or {})  # Allow: the route's methods
    return answer


def _store_status(enforcer: Enforcer) -> dict[str, dict[str, Any]]:
    """Status of shared list stores (those that report one), by list."""
    out = {}
    for which in ("denylist", "allowlist"):
        status = getattr(enforcer.store(which), "status", None)
        if callable(status):
            out[which] = status()
    return out


def _verdict_response(verdict: Any) -> Response:
    if verdict.status == 200 and verdict.body.get("reason") is None:
        return Response(_ALLOW_BYTES, 200, media_type="application/json")
    return json_response(verdict.body, verdict.status)


def _correlation(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_CORRELATION_LENGTH:
        raise HTTPProblemError(400, f"correlation ids are at most {MAX_CORRELATION_LENGTH} chars")
    return value or None


def _check_kind(kind: str) -> None:
    if kind not in IDENTIFIER_KINDS:
        raise HTTPProblemError(400, f"kind must be one of {', '.join(IDENTIFIER_KINDS)}")


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise HTTPProblemError(400, f"'{name}' must be a non-empty string")
    return value


def _entry_fields(body: Any) -> tuple[str, str, float | None]:
    if not isinstance(body, dict):
        raise HTTPProblemError(400, "the body must be a JSON object")
    kind = _optional_text(body, "kind")
    value = _optional_text(body, "value")
    if kind is None or value is None:
        raise HTTPProblemError(400, "an entry needs 'kind' and 'value'")
    _check_kind(kind)
    ttl = body.get("ttl_s")
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl)
        or ttl < 0 or ttl > 10 * 365 * 86400
    ):  # fmt: skip
        raise HTTPProblemError(400, "'ttl_s' must be a number of seconds (0 or null: no expiry)")
    return kind, value, float(ttl) if ttl else None


def _entry_json(entry: Any, now: float) -> dict[str, Any]:
    data = entry.to_dict()
    data["ttl_s"] = None if entry.expires_at is None else max(entry.expires_at - now, 0.0)
    return data


def _query_time(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_query_time(text)
    except ValueError as exc:
        raise HTTPProblemError(400, f"'{name}' must be epoch seconds or ISO-8601") from exc


def _query_int(text: str | None, name: str, default: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise HTTPProblemError(400, f"'{name}' must be an integer from 1 to 100000")
    return int(text)
