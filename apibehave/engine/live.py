"""The live engine: the same decisions as replay, one call at a time.

The enforcer calls :meth:`LiveEngine.decide` with a call's request metadata and, later,
:meth:`LiveEngine.observe_response` with its response. The rules are those of
``docs/engine.md`` and of :mod:`apibehave.engine.replay`, applied in arrival order:
features first (every call's request counts), then the allow list, the deny list, the
decoy rule and the models. A call the engine blocks reports "no response" (status 0) to
the features at once, and its real response, if one comes, is ignored: the enforcer's own
403s never feed detection.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from apibehave.detect.attribution import specificity_rank
from apibehave.detect.decision_model import DecisionModel
from apibehave.detect.rules import DECOY_RISK, INVALID_API_RISK
from apibehave.engine.lists import IdentifierListStore, ListEntry, MemoryListStore
from apibehave.engine.payload_rule import NO_PAYLOAD, PayloadRule, PayloadVerdict
from apibehave.features.derive import UNKNOWN_API, present
from apibehave.features.streaming import StreamingFeatures, epoch_ns
from apibehave.schema.attacks import ATTACK_TYPES, AttackType
from apibehave.schema.catalogue import BAD_HOST, VALID_CALL, call_validity_one
from apibehave.schema.events import IDENTIFIER_COLUMNS

IDENTIFIER_KINDS: tuple[str, ...] = tuple(IDENTIFIER_COLUMNS)
_MAX_BLOCKED_HANDLES = 100_000
"""Blocked calls whose response is still awaited (the oldest are forgotten beyond this)."""


@dataclass(frozen=True)
class Decision:
    """The answer for one call.

    Attributes
    ----------
    block : bool
        Whether the gateway should answer 403.
    attack_type : str or None
        Why (CONTRACT section 2), for blocks.
    identifier_kind, identifier : str or None
        What is blocked.
    risk : float
        Higher is riskier.
    shadow : bool
        The models would have blocked, but the API runs in shadow mode.
    api : str or None
        The call's API.
    new_block : bool
        This call put an identifier on the deny list.
    evidence : dict
        For new blocks: what crossed.
    """

    block: bool
    attack_type: str | None
    identifier_kind: str | None
    identifier: str | None
    risk: float
    shadow: bool = False
    api: str | None = None
    new_block: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)


class LiveEngine:
    """Per-call decisions with streaming features and deny/allow list stores.

    Parameters
    ----------
    model : DecisionModel
        The trained model (from a bundle).
    deny : IdentifierListStore, optional
        Deny list store (in memory by default; Redis for a fleet).
    allow : IdentifierListStore, optional
        Allow list store; the policy's standing allow entries are added to it.
    max_identifiers : int
        Cap of tracked identifiers per feature table (see the streaming engine).
    """

    def __init__(
        self,
        model: DecisionModel,
        *,
        deny: IdentifierListStore | None = None,
        allow: IdentifierListStore | None = None,
        max_identifiers: int = 1_000_000,
    ) -> None:
        self.model = model
        self.deny = deny if deny is not None else MemoryListStore()
        self.allow = allow if allow is not None else MemoryListStore()
        for kind, value in model.policy.allow:
            self.allow.add(ListEntry(kind, value, None, 0.0, source="policy"))
        self.features = StreamingFeatures(
            model.feature_set,
            model.vocabulary,
            login_paths=model.feature_context().login_paths,
            max_identifiers=max_identifiers,
        )
        self._specs = list(model.feature_set)
        self._blocked_handles: OrderedDict[Any, None] = OrderedDict()
        self.payload = PayloadRule(model)

    def decide(self, event: Mapping[str, Any], handle: Any = None) -> Decision:
        """Decide on one call from its request metadata.

        Parameters
        ----------
        event : mapping
            The call's event columns (``ts`` as epoch nanoseconds or a datetime; ``api``
            optional: resolved from the catalogue when absent).
        handle : hashable, optional
            Key that :meth:`observe_response` will bring with the response.
        """
        api = self.model.catalogue.resolve_api(
            event.get("host"), event["path"], event.get("api")
        ) if len(self.model.catalogue) else _own_api(event)  # fmt: skip
        validity = call_validity_one(self.model.catalogue, api, event.get("method"),
                                     event.get("host"))  # fmt: skip
        spec = self.model.catalogue.get(api) if api is not None else None
        decoy = spec is not None and spec.is_decoy_path(event["path"])
        if validity != VALID_CALL:
            api = None  # invalid calls count under the unknown API, as in replay
        call = dict(event)
        call["api"] = api
        now = _seconds(event["ts"])
        vector = self.features.on_request(call, handle)
        ip = call.get("client_ip")
        payload = (
            self.payload.one(call, str(ip) if present(ip) else None, epoch_ns(event["ts"]))
            if validity == VALID_CALL  # invalid calls are the invalid-call rule's alone
            else NO_PAYLOAD
        )
        decision = self._decide(call, api, vector, now, (validity, decoy, payload))
        if decision.block and handle is not None:
            self.features.on_response(handle, 0, 0)
            self._blocked_handles[handle] = None
            if len(self._blocked_handles) > _MAX_BLOCKED_HANDLES:  # responses never seen
                self._blocked_handles.popitem(last=False)
        return decision

    def observe_response(
        self, handle: Any, status: int, resp_bytes: int = 0, latency_ms: float | None = None
    ) -> bool:
        """Add a call's response to the features (ignored for calls the engine blocked)."""
        if handle in self._blocked_handles:
            del self._blocked_handles[handle]
            return False
        return self.features.on_response(handle, status, resp_bytes, latency_ms)

    # ---- the decision ---------------------------------------------------------------
    def _decide(
        self,
        call: dict,
        api: str | None,
        vector: np.ndarray,
        now: float,
        rules: tuple[int, bool, PayloadVerdict],
    ) -> Decision:
        validity, decoy, payload = rules
        identifiers = [(kind, call.get(column)) for kind, column in IDENTIFIER_COLUMNS.items()]
        present_ids = [(k, str(v)) for k, v in identifiers if present(v)]
        risk, attack, kind, lead = self._score(api, vector)
        if any(self.allow.get(k, v, now) is not None for k, v in present_ids):
            return Decision(False, None, None, None, risk, api=api)
        for k, v in present_ids:
            entry = self.deny.get(k, v, now)
            if entry is not None:
                return Decision(
                    True, entry.attack_type, k, v,
                    entry.risk if entry.risk is not None else risk, api=api,
                )  # fmt: skip
        spec = self.model.catalogue.get(api) if api is not None else None
        payload_code, payload_evidence = (
            self.payload.attribute(payload) if payload.block else (-1, None)
        )
        if decoy:
            attack, kind = AttackType.DECOY.value, "ip"
            risk = max(risk, DECOY_RISK)
            evidence = {"rule": "decoy_path", "path": call["path"]}
        elif self.model.invalid_api_rule.fires(vector, validity != VALID_CALL):
            header = validity == BAD_HOST
            attack = (AttackType.HEADER_MANIPULATION if header else AttackType.INVALID_API).value
            kind, risk = "ip", max(risk, INVALID_API_RISK)
            evidence = {"rule": "invalid_api", **self.model.invalid_api_rule.evidence(vector)}
            if header:
                evidence["host"] = call.get("host")
        elif payload.block and not (
            attack is not None
            and specificity_rank(attack) < specificity_rank(ATTACK_TYPES[payload_code])
        ):  # a payload block, unless the models name a more specific attack
            attack, kind = ATTACK_TYPES[payload_code], "ip"
            risk = max(risk, payload.risk)
            evidence = {"rule": "payload", **(payload_evidence or {})}
        elif attack is None:
            return Decision(False, None, None, None, risk, api=api)
        else:
            evidence = self._model_evidence(api, vector, lead)
        enforced = spec is None or spec.blocks
        value = dict(present_ids).get(kind)
        if not enforced:  # shadow: what would have been blocked, and why
            return Decision(False, attack, kind, value, risk, shadow=True, api=api,
                            evidence=evidence)  # fmt: skip
        for k, v in present_ids:
            if k == kind or decoy:
                ttl = self.model.policy.ttl_s[k]
                self.deny.add(
                    ListEntry(k, v, now + ttl, now, attack_type=attack, risk=risk,
                              source="engine", evidence=evidence)
                )  # fmt: skip
        return Decision(True, attack, kind, value, risk, api=api, new_block=True, evidence=evidence)

    def _score(self, api: str | None, vector: np.ndarray):
        """Risk, attributed attack type, identifier kind and lead feature of one call."""
        name = api if api is not None else UNKNOWN_API
        if not self.model.detectors.scores_api(name):
            return 0.0, None, None, -1
        risk, code, kind, lead = self.model.detectors.score_call(vector, name)
        if code < 0:
            return risk, None, None, -1
        return risk, ATTACK_TYPES[code], kind, lead

    def _model_evidence(self, api: str | None, vector: np.ndarray, lead: int) -> dict:
        """Return what crossed, for a new block (not worked out when the lists decide)."""
        name = api if api is not None else UNKNOWN_API
        return {
            "lead_feature": self._specs[lead].name,
            "crossed": self.model.detectors.crossings(vector, name),
        }


def _own_api(event: Mapping[str, Any]) -> str | None:
    api = event.get("api")
    return str(api) if present(api) else None


def _seconds(ts: Any) -> float:
    """Epoch seconds of an epoch-nanosecond int or a datetime (as the deny list counts)."""
    if isinstance(ts, int | np.integer):
        return int(ts) / 1e9
    value = getattr(ts, "value", None)
    if isinstance(value, int):
        return value / 1e9
    return float(ts.timestamp()) if not isinstance(ts, float) else ts


__all__ = ["DECOY_RISK", "Decision", "LiveEngine"]
