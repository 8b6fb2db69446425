"""A feature set compiled into the window primitives both engines maintain.

Each feature is a formula over a few primitives of one group (identifier kind and scope)
and one window: counts (of all calls, or of calls meeting a predicate), sums and maxima
of a column, distinct counts, and inter-arrival gap statistics. Features that share a
primitive share its computation. Both engines turn primitive values into feature values
with the same floating-point operations in the same order (``kernels.window_pass`` and
``codegen._final_expression``; the formulas are in the notes of
:mod:`apibehave.features.spec`), and the parity tests hold them together.
"""

from __future__ import annotations

from dataclasses import dataclass

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
