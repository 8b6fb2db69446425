"""The enforcer's core, without HTTP: decide on requests, pair responses, reload bundles.

One :class:`Enforcer` per process. It runs on one event loop, so the request path needs
no locks: a request is decided, answered and recorded in one go. The serving engine and
its bundle sit in one :class:`Serving` record that a reload replaces in a single
assignment; requests waiting for their response keep the engine that decided them.

Failure policy (``fail_mode``): when the engine raises, the call is allowed (``open``) or
blocked (``closed``), counted under outcome ``error`` and logged; the service goes on.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any

from apibehave.bundle.model_bundle import model_from_bundle
from apibehave.bundle.reader import load_bundle
from apibehave.common.errors import UserError
from apibehave.detect.decision_model import DecisionModel
from apibehave.enforce.calllog import CallLog, call_row
from apibehave.enforce.digest import Digester
from apibehave.enforce.memory import AttackLog, AttackRecord, RecentCalls
from apibehave.enforce.metrics import Metrics
from apibehave.enforce.pending import PendingCall, PendingTable
from apibehave.enforce.settings import EnforceSettings
from apibehave.engine.lists import IdentifierListStore, ListEntry, MemoryListStore, check_kind
from apibehave.engine.live import LiveEngine
from apibehave.schema.events import IDENTIFIER_COLUMNS

log = logging.getLogger("apibehave.enforce")

_NS = 1_000_000_000


@dataclass(frozen=True)
class Serving:
    """What serves now: the engine, its model and bundle manifest."""

    engine: LiveEngine
    model: DecisionModel
    manifest: Any
    path: str
    loaded_at: float


@dataclass(frozen=True)
class Verdict:
    """The answer for one request.

    Attributes
    ----------
    status : int
        200 (allow) or 403 (block).
    body : dict
        The JSON reason.
    """

    status: int
    body: dict[str, Any]


ALLOW_BODY: dict[str, Any] = {"decision": "allow"}


def _identifiers(event: dict[str, Any]) -> dict[str, str]:
    return {
        kind: event[column]
        for kind, column in IDENTIFIER_COLUMNS.items()
        if event.get(column) is not None
    }


def load_model(path: str) -> tuple[DecisionModel, Any]:
    """Verify a bundle and rebuild its model; return the model and its manifest.

    Raises
    ------
    UserError
        (a ``BundleError``) when the bundle does not verify or does not make a model.
    """
    bundle = load_bundle(path)
    return model_from_bundle(bundle), bundle.manifest


class Enforcer:
    """Decisions, pairing, lists, memory for reports, call log and reloads.

    Parameters
    ----------
    settings : EnforceSettings
        How to run.
    model, manifest : DecisionModel, Manifest
        The verified bundle to serve first (see :func:`load_model`).
    deny, allow : IdentifierListStore, optional
        List stores (in memory by default; a shared store for a fleet).
    call_log : CallLog, optional
        Where every call's metadata goes.
    digester : Digester, optional
        Matches digest queries in forensics.
    """

    def __init__(
        self,
        settings: EnforceSettings,
        model: DecisionModel,
        manifest: Any,
        *,
        deny: IdentifierListStore | None = None,
        allow: IdentifierListStore | None = None,
        call_log: CallLog | None = None,
        digester: Digester | None = None,
    ) -> None:
        self.settings = settings
        self.deny = deny if deny is not None else MemoryListStore()
        self.allow = allow if allow is not None else MemoryListStore()
        self.metrics = Metrics()
        self.call_log = call_log
        self.digester = digester
        self.recent = RecentCalls(settings.recent_calls)
        self.attacks = AttackLog(settings.attack_records)
        self.pending = PendingTable(settings.pending_max, settings.pending_ttl_s, self._expired)
        self._handles = itertools.count()
        self._last_event_ns = 0
        self._reload_lock = asyncio.Lock()
        self._error_logged_at = 0.0
        self.serving = self._serve(model, manifest, settings.bundle)

    # ---- time --------------------------------------------------------------------------
    def now_s(self) -> float:
        """Epoch seconds the lists count in: the latest event time in trust mode, else the clock."""
        if self.settings.trust_event_time and self._last_event_ns:
            return self._last_event_ns / _NS
        return time.time()

    # ---- the request path --------------------------------------------------------------
    def on_request(
        self,
        event: dict[str, Any],
        correlation: str | None,
        route: str,
        event_time_ns: int | None = None,
    ) -> Verdict:
        """Decide on one request; keep it pending when a response will pair with it.

        Parameters
        ----------
        event : dict
            The call event from :mod:`apibehave.enforce.sideband` (``ts`` is set here).
        correlation : str or None
            Pairs the response; without it the call counts as "no response seen".
        route : str
            ``ase`` or ``auth`` (metrics and reports).
        event_time_ns : int, optional
            The call's time from ``X-Event-Time`` (only with ``trust_event_time``).
        """
        started = time.perf_counter()
        ts = event_time_ns if event_time_ns is not None else time.time_ns()
        if ts > self._last_event_ns:
            self._last_event_ns = ts
        event["ts"] = ts
        event["correlation_id"] = correlation
        serving = self.serving
        engine = serving.engine
        handle = next(self._handles)
        try:
            decision = engine.decide(event, handle)
        except Exception:
            return self._engine_failed(event, correlation, route, started)
        if decision.block:
            outcome = "block"
        elif decision.shadow:
            outcome = "shadow"
        else:
            outcome = "allow"
        evidence_id = None
        if decision.new_block or decision.shadow:
            evidence_id = self.attacks.new_id()
            self.attacks.add(
                AttackRecord(
                    evidence_id, ts, decision.api, decision.attack_type,
                    decision.identifier_kind, decision.identifier, float(decision.risk),
                    "shadow" if decision.shadow else "enforce", route,
                    serving.manifest.bundle_id, decision.evidence, _identifiers(event),
                )
            )  # fmt: skip
        elif decision.block:
            evidence_id = self.attacks.evidence_id_for(
                decision.identifier_kind, decision.identifier
            )
        if correlation is not None:
            self.pending.add(
                correlation,
                PendingCall(handle, engine, event, time.monotonic(), outcome,
                            decision.attack_type),
            )  # fmt: skip
        else:
            self._respond(engine, handle, 0, 0, None)
            self._record(event, outcome, decision.attack_type)
        self.metrics.decided(route, outcome, decision.attack_type, time.perf_counter() - started)
        if not decision.block:
            return Verdict(200, ALLOW_BODY)
        return Verdict(
            403,
            {
                "decision": "block",
                "attack_type": decision.attack_type,
                "identifier_kind": decision.identifier_kind,
                "evidence_id": evidence_id,
                "risk": round(float(decision.risk), 6),
            },
        )

    def on_response(
        self,
        correlation: str,
        status: int,
        resp_bytes: int,
        event_time_ns: int | None = None,
        latency_ms: float | None = None,
    ) -> bool:
        """Bring a response to the engine; return False when no request waits for it."""
        call = self.pending.pop(correlation)
        if call is None:
            self.metrics.count("unpaired_responses")
            return False
        event = call.event
        if latency_ms is None:
            if event_time_ns is not None:
                latency_ms = max(event_time_ns - event["ts"], 0) / 1e6
            else:
                latency_ms = (time.monotonic() - call.arrived) * 1000.0
        event["status"] = status
        event["resp_bytes"] = resp_bytes
        event["latency_ms"] = latency_ms
        self._respond(call.engine, call.handle, status, resp_bytes, latency_ms)
        self._record(event, call.decision, call.attack_type)
        return True

    def sweep(self) -> int:
        """Expire requests that waited too long for their response."""
        return self.pending.sweep()

    def _expired(self, call: PendingCall) -> None:
        self.metrics.count("expired_pairings")
        self._respond(call.engine, call.handle, 0, 0, None)
        self._record(call.event, call.decision, call.attack_type)

    def _respond(self, engine: LiveEngine, handle: int, status: int, size: int, latency) -> None:
        try:
            engine.observe_response(handle, status, size, latency)
        except Exception:
            self.metrics.count("engine_errors", "response")
            self._log_engine_error()

    def _record(self, event: dict[str, Any], decision: str, attack_type: str | None) -> None:
        row = call_row(event, decision, attack_type)
        self.recent.append(row)
        if self.call_log is not None:
            self.call_log.append(row)

    def _engine_failed(
        self, event: dict[str, Any], correlation: str | None, route: str, started: float
    ) -> Verdict:
        self.metrics.count("engine_errors", "decide")
        self._log_engine_error()
        self._record(event, "error", None)
        closed = self.settings.fail_mode == "closed"
        self.metrics.decided(route, "error", None, time.perf_counter() - started)
        if closed:
            return Verdict(403, {"decision": "block", "reason": "engine_error"})
        return Verdict(200, {"decision": "allow", "reason": "engine_error"})

    def _log_engine_error(self) -> None:
        now = time.monotonic()
        if now - self._error_logged_at > 10.0:  # at most one traceback every 10 s
            self._error_logged_at = now
            log.exception("engine error (fail mode: %s)", self.settings.fail_mode)

    # ---- lists ---------------------------------------------------------------------------
    def store(self, which: str) -> IdentifierListStore:
        """Return the ``denylist`` or ``allowlist`` store."""
        return self.deny if which == "denylist" else self.allow

    def add_entry(self, which: str, kind: str, value: str, ttl_s: float | None) -> ListEntry:
        """Add an admin entry (``ttl_s`` None or 0: no expiry)."""
        check_kind(kind)
        now = self.now_s()
        entry = ListEntry(
            kind, value, now + ttl_s if ttl_s else None, now, source="admin",
            attack_type=None,
        )  # fmt: skip
        self.store(which).add(entry)
        return entry

    # ---- reload --------------------------------------------------------------------------
    async def reload(self, path: str | None = None) -> tuple[bool, str]:
        """Verify a bundle and swap it in; a bad bundle is refused and the old one serves on.

        Returns
        -------
        (bool, str)
            Whether it was swapped, and the new bundle id or the reason for refusal.
        """
        path = path or self.settings.bundle
        async with self._reload_lock:
            try:
                model, manifest = await asyncio.to_thread(load_model, path)
            except (UserError, OSError) as exc:
                self.metrics.count("reloads", "refused")
                log.error("reload refused: %s", exc)
                return False, str(exc)
            self.serving = self._serve(model, manifest, path)
            self.metrics.count("reloads", "done")
            log.info("serving bundle %s from %s", manifest.bundle_id, path)
            return True, manifest.bundle_id

    def _serve(self, model: DecisionModel, manifest: Any, path: str) -> Serving:
        for entry in self.allow.entries(self.now_s()):
            if entry.source == "policy":  # the new bundle's policy replaces the old one's
                self.allow.remove(entry.kind, entry.value)
        engine = LiveEngine(
            model, deny=self.deny, allow=self.allow, max_identifiers=self.settings.max_identifiers
        )
        return Serving(engine, model, manifest, str(path), time.time())

    # ---- shutdown ------------------------------------------------------------------------
    def close(self) -> None:
        """Finish pending calls as unanswered and close the call log."""
        self.pending.drain()
        if self.call_log is not None:
            self.call_log.close()
