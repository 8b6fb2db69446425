"""A feature set compiled into the window primitives both engines maintain.

Each feature is a formula over a few primitives of one group (identifier kind and scope)
and one window: counts (of all calls, or of calls meeting a predicate), sums and maxima
of a column, distinct counts, and inter-arrival gap statistics. Features that share a
primitive share its computation. :func:`finalize_scalar` (streaming) and
:func:`finalize_array` (batch) turn primitive values into feature values with the same
floating-point operations in the same order, so the engines agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from apibehave.features.spec import PREDICATES, FeatureSet

NOVELTY_PREDICATES: dict[str, str] = {
    "endpoint": "novel_endpoint",
    "query": "novel_query",
    "sequence": "novel_sequence",
}
"""Novelty target -> the internal request-side predicate it counts."""

GAP_SUM = "gap_sum"
GAP_SQSUM = "gap_sqsum"
GAP_MIN = "gap_min"


@dataclass(frozen=True, order=True)
class Primitive:
    """One quantity maintained over a window.

    Attributes
    ----------
    op : {"count", "sum", "max", "distinct", "gap_sum", "gap_sqsum", "gap_min"}
        What is maintained.
    side : {"request", "response"}
        ``request``: over the window including the call itself; ``response``: over the
        window's calls strictly before it.
    column : str or None
        Column read by ``sum``, ``max`` and ``distinct``.
    where : str or None
        Predicate (of ``spec.PREDICATES`` or :data:`NOVELTY_PREDICATES`) filtering the calls.
    """

    op: str
    side: str
    column: str | None = None
    where: str | None = None


@dataclass(frozen=True)
class Recipe:
    """How one feature's value comes from primitives of one window."""

    index: int
    name: str
    aggregation: str
    window_s: int
    operands: tuple[Primitive, ...]


@dataclass(frozen=True)
class WindowPlan:
    """One window length of one group: its primitives and the features it yields."""

    window_s: int
    primitives: tuple[Primitive, ...]
    recipes: tuple[Recipe, ...]


@dataclass(frozen=True)
class GroupPlan:
    """One (identifier kind, scope) group: its windows and how long its state matters."""

    kind: str
    scope: str
    windows: tuple[WindowPlan, ...]
    retention_s: int
    needs_sequence: bool


@dataclass(frozen=True)
class Plan:
    """A compiled feature set."""

    feature_set: FeatureSet
    groups: tuple[GroupPlan, ...]


def predicate_side(name: str | None) -> str:
    """Return the side of a predicate (novelty predicates read the request)."""
    if name is None or name in NOVELTY_PREDICATES.values():
        return "request"
    return PREDICATES[name]


def _operands(spec_aggregation: str, side: str, column: str | None, where: str | None) -> tuple:
    everything = Primitive("count", side)
    requests = Primitive("count", "request")
    if spec_aggregation == "count":
        return (Primitive("count", side, None, where),)
    if spec_aggregation == "ratio":
        return (Primitive("count", side, None, where), everything)
    if spec_aggregation == "novelty":
        return (Primitive("count", "request", None, NOVELTY_PREDICATES[column or ""]), requests)
    if spec_aggregation == "distinct":
        return (Primitive("distinct", side, column, where),)
    if spec_aggregation in ("sum", "max"):
        return (Primitive(spec_aggregation, side, column),)
    if spec_aggregation == "interarrival_mean":
        return (Primitive(GAP_SUM, "request"), requests)
    if spec_aggregation == "interarrival_min":
        return (Primitive(GAP_MIN, "request"), requests)
    if spec_aggregation == "interarrival_cv":
        return (Primitive(GAP_SUM, "request"), Primitive(GAP_SQSUM, "request"), requests)
    raise ValueError(f"unknown aggregation {spec_aggregation!r}")


def compile_plan(feature_set: FeatureSet) -> Plan:
    """Compile a feature set into per-group, per-window primitives and recipes."""
    by_group: dict[tuple[str, str], dict[int, list[Recipe]]] = {}
    for index, spec in enumerate(feature_set):
        operands = _operands(spec.aggregation, spec.side, spec.column, spec.where)
        recipe = Recipe(index, spec.name, spec.aggregation, spec.window_s, operands)
        by_group.setdefault(spec.group, {}).setdefault(spec.window_s, []).append(recipe)
    groups = []
    for (kind, scope), windows in by_group.items():
        window_plans = []
        for window_s in sorted(windows):
            recipes = tuple(windows[window_s])
            primitives = tuple(sorted({p for r in recipes for p in r.operands}, key=_sort_key))
            window_plans.append(WindowPlan(window_s, primitives, recipes))
        needs_sequence = any(
            p.where == "novel_sequence" for w in window_plans for p in w.primitives
        )
        retention = max(windows)
        if needs_sequence:
            retention = max(retention, feature_set.sequence_gap_s)
        groups.append(GroupPlan(kind, scope, tuple(window_plans), retention, needs_sequence))
    return Plan(feature_set, tuple(groups))


def _sort_key(p: Primitive) -> tuple[str, str, str, str]:
    return (p.op, p.side, p.column or "", p.where or "")


def finalize_scalar(aggregation: str, window_s: int, values: list) -> float:
    """Return one feature value from its primitive values (streaming engine)."""
    if aggregation in ("count", "distinct", "sum", "max"):
        return float(values[0])
    if aggregation in ("ratio", "novelty"):
        numerator, denominator = values
        return numerator / denominator if denominator else 0.0
    window_ms = float(window_s * 1000)
    if aggregation == "interarrival_mean":
        gap_sum, calls = values
        return gap_sum / (calls - 1) if calls > 1 else window_ms
    if aggregation == "interarrival_min":
        gap_min, calls = values
        return float(gap_min) if calls > 1 else window_ms
    gap_sum, gap_sqsum, calls = values
    gaps = calls - 1
    if gaps < 2 or gap_sum <= 0:
        return 0.0
    mean = gap_sum / gaps
    variance = gap_sqsum / gaps - mean * mean
    return math.sqrt(variance if variance > 0.0 else 0.0) / mean


def finalize_array(aggregation: str, window_s: int, values: list[np.ndarray]) -> np.ndarray:
    """Return a feature column from primitive columns (batch engine); as :func:`finalize_scalar`."""
    if aggregation in ("count", "distinct", "sum", "max"):
        return values[0].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if aggregation in ("ratio", "novelty"):
            numerator, denominator = (v.astype(np.float64) for v in values)
            return np.where(denominator > 0, numerator / denominator, 0.0)
        window_ms = float(window_s * 1000)
        if aggregation == "interarrival_mean":
            gap_sum, calls = values
            gaps = (calls - 1).astype(np.float64)
            return np.where(calls > 1, gap_sum.astype(np.float64) / gaps, window_ms)
        if aggregation == "interarrival_min":
            gap_min, calls = values
            return np.where(calls > 1, gap_min.astype(np.float64), window_ms)
        gap_sum, gap_sqsum, calls = values
        gaps = (calls - 1).astype(np.float64)
        mean = gap_sum.astype(np.float64) / gaps
        variance = gap_sqsum.astype(np.float64) / gaps - mean * mean
        cv = np.sqrt(np.where(variance > 0.0, variance, 0.0)) / mean
        return np.where((calls - 1 >= 2) & (gap_sum > 0), cv, 0.0)
