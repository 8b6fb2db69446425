"""Replay: apply a decision model to a recorded log, causally, exactly as live.

The semantics are in ``docs/engine.md``. Features and scores are computed for the whole
log at once; the deny list runs as one compiled pass in time order; the responses of
calls the engine blocked are then withheld from the response-side features and the pass
repeats until the set of blocked calls no longer changes (the causal fixed point).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from apibehave.detect.attribution import specificity_rank
from apibehave.detect.decision_model import DecisionModel
from apibehave.detect.model import Scores
from apibehave.detect.rules import DECOY_RISK, INVALID_API_RISK
from apibehave.engine.denyloop import ALLOW, BLOCK, LoopResult, run_deny_loop
from apibehave.engine.payload_rule import PayloadRule
from apibehave.features.batch import compute_feature_matrix
from apibehave.features.derive import UNKNOWN_API
from apibehave.features.grouping import time_order
from apibehave.features.prepare import prepare_events
from apibehave.schema.attacks import ATTACK_TYPES, AttackType
from apibehave.schema.catalogue import BAD_HOST, call_validity, decoy_call_mask, resolve_apis
from apibehave.schema.events import IDENTIFIER_COLUMNS, STRING_DTYPE

IDENTIFIER_KINDS: tuple[str, ...] = tuple(IDENTIFIER_COLUMNS)
DECISION_COLUMNS: tuple[str, ...] = (
    "event_index",
    "decision",
    "attack_type",
    "identifier_kind",
    "identifier",
    "risk",
)
"""The decisions file's columns (CONTRACT section 3)."""

_MAX_ITERATIONS = 20
_SCORE_SLICE = 1 << 18
_SCORE_WORKERS = max(1, min(2, os.cpu_count() or 1))
_DECOY_CODE = ATTACK_TYPES.index(AttackType.DECOY)
_INVALID_API_CODE = ATTACK_TYPES.index(AttackType.INVALID_API)
_HEADER_CODE = ATTACK_TYPES.index(AttackType.HEADER_MANIPULATION)
_RANK_BY_CODE = np.array([specificity_rank(a) for a in ATTACK_TYPES], dtype=np.int64)


@dataclass
class ReplayResult:
    """Decisions for a log, and how they were reached.

    Attributes
    ----------
    decisions : pandas.DataFrame
        One row per input event, in input order, with :data:`DECISION_COLUMNS`.
    shadow_blocks : ndarray of bool
        Calls a shadow-mode API would have blocked (allowed in ``decisions``).
    new_blocks : pandas.DataFrame
        One row per call that created a deny entry: event index, API, attack type,
        identifier, risk and evidence (the crossed thresholds).
    iterations : int
        Passes needed to reach the causal fixed point.
    stats : dict
        Counts for reports.
    """

    decisions: pd.DataFrame
    shadow_blocks: np.ndarray
    new_blocks: pd.DataFrame
    iterations: int
    stats: dict[str, Any] = field(default_factory=dict)


def replay_events(events: pd.DataFrame, model: DecisionModel) -> ReplayResult:
    """Decide on every call of a log as the enforcer would have, in time order.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events (``apibehave.schema.normalize_events``), any order.
    model : DecisionModel
        The trained model (from a bundle).

    Returns
    -------
    ReplayResult
    """
    events = events.reset_index(drop=True)
    n = len(events)
    apis = resolve_apis(events, model.catalogue) if len(model.catalogue) else events["api"]
    decoy = (
        decoy_call_mask(events, model.catalogue, apis).to_numpy(dtype=bool)
        if len(model.catalogue)
        else np.zeros(n, dtype=bool)
    )
    validity = call_validity(events, model.catalogue, apis)
    invalid = validity != 0
    apis = apis.mask(pd.Series(invalid, index=apis.index))  # invalid calls: the unknown API
    resolved = events.assign(api=apis)
    prepared = prepare_events(resolved, model.feature_context())
    api_names = [str(a) for a in prepared["api"].cat.categories]
    api_index = prepared["api"].cat.codes.to_numpy(dtype=np.int64)
    features = compute_feature_matrix(prepared, model.feature_set, model.vocabulary)

    codes = np.vstack(
        [prepared[col].cat.codes.to_numpy(dtype=np.int64) for col in IDENTIFIER_COLUMNS.values()]
    )
    n_codes = np.array([len(prepared[c].cat.categories) for c in IDENTIFIER_COLUMNS.values()])
    order = time_order(prepared)
    rule = _rule_codes(decoy, model.invalid_api_rule.flags(features, invalid), validity)
    payload_flag, payload_attack, payload_risk = PayloadRule(model).batch(
        resolved, codes[0], prepared["ts_ns"].to_numpy(), eligible=~invalid
    )
    # decoy and invalid-call rules come first; invalid calls are theirs alone
    payload_flag &= (rule < 0) & ~invalid
    rule_risk = np.where(rule == _DECOY_CODE, DECOY_RISK, 0.0)
    rule_risk[rule >= 0] = np.maximum(rule_risk[rule >= 0], INVALID_API_RISK)
    rule_risk[rule == _DECOY_CODE] = DECOY_RISK
    payload = (payload_flag, payload_attack, payload_risk)
    enforced = _enforced(api_names, model)[api_index]
    allowed = _allowed(events, model)
    ttl_ns = np.array([int(model.policy.ttl_s[k] * 1e9) for k in IDENTIFIER_KINDS], dtype=np.int64)
    response_features = [j for j, s in enumerate(model.feature_set) if s.side == "response"]

    blocked = np.zeros(n, dtype=bool)
    # every call scored once with no response withheld; later passes rescore only the
    # calls whose response-side features change (their identifiers had a blocked call)
    unmasked_scores = _score(model, features, api_index, api_names)
    scores = unmasked_scores
    masked_rows = masked = None
    iteration = 0
    while True:
        iteration += 1
        rule_now, risk_now, by_payload = _with_payload(rule, rule_risk, payload, scores)
        flagged = scores.flagged | (rule_now >= 0)
        block_kind = _block_kinds(scores, rule_now)
        loop = run_deny_loop(
            order, prepared["ts_ns"].to_numpy(), codes, n_codes, allowed, flagged,
            block_kind, decoy, enforced, ttl_ns,
        )  # fmt: skip
        now_blocked = loop.decision == BLOCK
        if np.array_equal(now_blocked, blocked) or not response_features:
            break
        if iteration == _MAX_ITERATIONS:  # pragma: no cover - guarded by the parity tests
            raise RuntimeError("replay did not reach a fixed point; report this as a bug")
        # the responses of blocked calls are withheld, starting again from the unmasked log
        masked_rows, masked = _masked_response_features(
            features, prepared, codes, now_blocked, model, response_features
        )
        scores = _merge_scores(
            unmasked_scores,
            masked_rows,
            _score(model, masked, api_index[masked_rows], api_names),
        )
        blocked = now_blocked
    if masked_rows is not None:
        features[masked_rows] = masked

    decisions = _decisions_frame(events, loop, scores, rule_now, risk_now)
    new_blocks = _new_blocks(
        events, resolved, loop, scores, (rule_now, risk_now, by_payload), features, model
    )
    stats = {
        "events": n,
        "blocked": int((loop.decision == BLOCK).sum()),
        "shadow_blocks": int((loop.decision == 2).sum()),
        "new_blocks": len(new_blocks),
        "iterations": iteration,
    }
    return ReplayResult(decisions, loop.decision == 2, new_blocks, iteration, stats)


def _enforced(api_names: list[str], model: DecisionModel) -> np.ndarray:
    flags = []
    for name in api_names:
        api = model.catalogue.get(name)
        flags.append(True if api is None else api.blocks)
    return np.array(flags, dtype=bool) if flags else np.zeros(0, dtype=bool)


def _allowed(events: pd.DataFrame, model: DecisionModel) -> np.ndarray:
    allowed = np.zeros(len(events), dtype=bool)
    for kind, value in model.policy.allow:
        allowed |= (events[IDENTIFIER_COLUMNS[kind]] == value).fillna(False).to_numpy(dtype=bool)
    return allowed


def _rule_codes(decoy: np.ndarray, invalid_api: np.ndarray, validity: np.ndarray) -> np.ndarray:
    """Attack code of the real-time rule that fires on each call (-1: none).

    Rules come before the models (docs/engine.md, step 4), decoy first; both block the
    address (a decoy call blocks every identifier of the call, in the deny loop). An
    invalid call with a Host header its API does not serve is header manipulation.
    """
    rule = np.full(len(decoy), -1, dtype=np.int64)
    rule[invalid_api] = _INVALID_API_CODE
    rule[invalid_api & (validity == BAD_HOST)] = _HEADER_CODE
    rule[decoy] = _DECOY_CODE
    return rule


def _with_payload(
    rule: np.ndarray, rule_risk: np.ndarray, payload: tuple, scores: Scores
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge the payload rule into the rule codes, given this pass's model scores.

    A payload block stands unless the models flag the same call with a more specific
    attack type (:data:`~apibehave.detect.attribution.SPECIFICITY`), as in the live engine.
    """
    flag, attack, risk = payload
    model_first = scores.flagged & (scores.attack_code >= 0)
    model_rank = np.where(model_first, _RANK_BY_CODE[np.maximum(scores.attack_code, 0)], 10**6)
    by_payload = flag & ~(model_rank < _RANK_BY_CODE[np.maximum(attack, 0)])
    rule_now = rule.copy()
    rule_now[by_payload] = attack[by_payload]
    risk_now = rule_risk.copy()
    risk_now[by_payload] = risk[by_payload]
    return rule_now, risk_now, by_payload


def _block_kinds(scores: Scores, rule: np.ndarray) -> np.ndarray:
    kinds = np.full(len(rule), 0, dtype=np.int8)  # rules block the address (kind 0, ip)
    flagged = np.flatnonzero(scores.flagged & (rule < 0))
    lookup = {kind: i for i, kind in enumerate(IDENTIFIER_KINDS)}
    if flagged.size:
        kinds[flagged] = np.array([lookup[k] for k in scores.identifier_kind[flagged]])
    return kinds


def _masked_response_features(
    features: np.ndarray,
    prepared: pd.DataFrame,
    codes: np.ndarray,
    blocked: np.ndarray,
    model: DecisionModel,
    columns: list[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Recompute response-side features with the responses of blocked calls withheld.

    Only identifiers that had a blocked call can change: the calls carrying any of them
    are recomputed (each identifier's whole history is among them), and a feature of kind
    *k* is overwritten only on calls whose *k* identifier had a blocked call.

    Returns
    -------
    rows : ndarray of int64
        The calls that can change (input positions, increasing).
    masked : ndarray of float64, shape (len(rows), n_features)
        Their feature rows with the withheld responses; ``features`` is left unmasked.
    """
    kind_index = {kind: i for i, kind in enumerate(IDENTIFIER_KINDS)}
    touched_by_kind = []
    for k in range(codes.shape[0]):
        hit = np.unique(codes[k, blocked & (codes[k] >= 0)])
        touched_by_kind.append(np.isin(codes[k], hit) if hit.size else np.zeros_like(blocked))
    touched = np.logical_or.reduce(touched_by_kind)
    rows = np.flatnonzero(touched)
    masked = features[rows]
    if rows.size == 0:
        return rows, masked
    subset_events = prepared.iloc[rows].copy()
    withheld = blocked[rows]
    for name in ("status", "status_class", "resp_bytes"):
        values = subset_events[name].to_numpy().copy()
        values[withheld] = 0
        subset_events[name] = values
    names = [model.feature_set.names[j] for j in columns]
    subset = model.feature_set.select(names)
    recomputed = compute_feature_matrix(subset_events, subset, model.vocabulary)
    for position, j in enumerate(columns):
        spec = model.feature_set.features[j]
        own = touched_by_kind[kind_index[spec.identifier]][rows]
        masked[own, j] = recomputed[own, position]
    return rows, masked


def _score(
    model: DecisionModel, features: np.ndarray, api_index: np.ndarray, api_names: list[str]
) -> Scores:
    """Score calls in slices of rows, two at a time (rows are scored independently).

    The scorer copies what it scores (per-principal reading): slices keep that copy
    small, and the compiled kernel releases the GIL, so two slices run side by side.
    """
    n = len(features)
    if n <= _SCORE_SLICE:
        return model.detectors.score(features, api_index, api_names)
    bounds = [(start, min(start + _SCORE_SLICE, n)) for start in range(0, n, _SCORE_SLICE)]
    with ThreadPoolExecutor(_SCORE_WORKERS) as pool:
        parts = list(
            pool.map(
                lambda b: model.detectors.score(
                    features[b[0] : b[1]], api_index[b[0] : b[1]], api_names
                ),
                bounds,
            )
        )
    return Scores(
        **{
            f.name: np.concatenate([getattr(part, f.name) for part in parts])
            for f in fields(Scores)
        }
    )


def _merge_scores(base: Scores, rows: np.ndarray, part: Scores) -> Scores:
    """Return ``base`` with the scores of ``rows`` replaced by ``part`` (in row order)."""
    merged = {}
    for f in fields(Scores):
        values = getattr(base, f.name).copy()
        values[rows] = getattr(part, f.name)
        merged[f.name] = values
    return Scores(**merged)


def _decisions_frame(
    events: pd.DataFrame,
    loop: LoopResult,
    scores: Scores,
    rule: np.ndarray,
    rule_risk: np.ndarray,
) -> pd.DataFrame:
    n = len(events)
    block = loop.decision == BLOCK
    cause = np.where(block, loop.cause, 0)
    attack_code = np.where(rule[cause] >= 0, rule[cause], scores.attack_code[cause])
    attack = _strings(np.where(block, attack_code, -1), ATTACK_TYPES)
    kind = _strings(np.where(block, loop.kind, -1), IDENTIFIER_KINDS)
    identifier = _identifier_column(events, block, loop.kind)
    risk = np.where(block, scores.risk[cause], scores.risk)
    by_rule = block & (rule[cause] >= 0)
    risk = np.where(by_rule, np.maximum(risk, rule_risk[cause]), risk)
    return pd.DataFrame(
        {
            "event_index": np.arange(n, dtype=np.int64),
            "decision": _strings(block.astype(np.int64), ("allow", "block")),
            "attack_type": attack,
            "identifier_kind": kind,
            "identifier": identifier,
            "risk": risk.astype(np.float64),
        }
    )


def _strings(codes: np.ndarray, names) -> pd.api.extensions.ExtensionArray:
    """Return ``names[code]`` per row (null where the code is negative) as a string array."""
    table = pa.array([str(name) for name in names], pa.large_string())
    indices = pa.array(codes, mask=codes < 0)
    return STRING_DTYPE.__from_arrow__(pc.take(table, indices))


def _identifier_column(events: pd.DataFrame, block: np.ndarray, kinds: np.ndarray):
    """Return the blocked identifier of every call (null when allowed) as a string array.

    Built in Arrow, column by column: a million-row object array would cost seconds.
    """
    column = pa.nulls(len(events), pa.large_string())
    for k, name in enumerate(IDENTIFIER_COLUMNS.values()):
        rows = block & (kinds == k)
        if rows.any():
            values = pa.array(events[name].array, from_pandas=True)
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            column = pc.if_else(rows, values.cast(pa.large_string()), column)
    return STRING_DTYPE.__from_arrow__(column)


def _new_blocks(events, resolved, loop, scores, rules, features, model) -> pd.DataFrame:
    """One row per call that created a deny entry (or would have, in shadow mode)."""
    rows = np.flatnonzero((loop.decision != ALLOW) & (loop.cause == np.arange(len(events))))
    rule, rule_risk, by_payload = rules
    payload = PayloadRule(model)
    records = []
    for i in rows:
        api = resolved["api"].iloc[i]
        api_name = UNKNOWN_API if pd.isna(api) else str(api)
        kind = IDENTIFIER_KINDS[loop.kind[i]]
        evidence = []
        if rule[i] == _DECOY_CODE:
            attack = AttackType.DECOY.value
            evidence.append({"rule": "decoy_path", "path": events["path"].iloc[i]})
        elif by_payload[i]:
            attack = ATTACK_TYPES[rule[i]]
            call = resolved.iloc[i].to_dict()
            evidence.append({"rule": "payload", **payload.evidence(call)})
        elif rule[i] in (_INVALID_API_CODE, _HEADER_CODE):
            attack = ATTACK_TYPES[rule[i]]
            evidence.append(model.invalid_api_rule.evidence(features[i]))
            if rule[i] == _HEADER_CODE:
                evidence.append({"rule": "host_header", "host": events["host"].iloc[i]})
        else:
            attack = ATTACK_TYPES[scores.attack_code[i]]
        if model.detectors.scores_api(api_name):
            evidence.extend(model.detectors.crossings(features[i], api_name))
        records.append(
            {
                "event_index": int(i),
                "ts": events["ts"].iloc[i],
                "api": None if pd.isna(api) else str(api),
                "attack_type": attack,
                "identifier_kind": kind,
                "identifier": events[IDENTIFIER_COLUMNS[kind]].iloc[i],
                "risk": float(max(scores.risk[i], rule_risk[i])),
                "mode": "enforce" if loop.decision[i] == BLOCK else "shadow",
                "evidence": evidence,
            }
        )
    return pd.DataFrame.from_records(
        records,
        columns=["event_index", "ts", "api", "attack_type", "identifier_kind", "identifier",
                 "risk", "mode", "evidence"],
    )  # fmt: skip
