"""Straight-line Python for one group of the streaming engine, generated from its plan.

The streaming engine's budget (tens of thousands of calls a second in pure Python) rules
out interpreting the plan per call: loops over primitives, tuple unpacking and one
function call per feature cost more than the arithmetic itself. So, once per engine, each
group's plan becomes two plain functions, unrolled over its windows, primitives and
features:

- ``step(state, call, out, bigrams) -> seq`` adds a call's request to one identifier's
  state, slides every window, and writes the group's features into ``out``;
- ``respond(state, seq, call)`` adds a call's response to the windows that still hold it.

The generated source is kept on the engine (``StreamingFeatures.generated_source``) for
reading and debugging. The arithmetic is the one of ``plan.finalize_scalar``; the parity
tests hold it equal to the batch engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apibehave.features.plan import (
    GAP_MIN,
    GAP_SQSUM,
    GAP_SUM,
    GroupPlan,
    Primitive,
    Recipe,
    WindowPlan,
)

_NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class CallLayout:
    """Where a call's values sit in the per-call tuples the streaming engine builds.

    Attributes
    ----------
    request : dict
        Request field (``("flag", predicate)`` or ``("sum", "req_bytes")``) -> index in
        ``call.req``.
    response : dict
        Response field (``("one",)``, ``("flag", predicate)``, ``("sum", "resp_bytes")``)
        -> index in ``call.resp``.
    distinct : dict
        Distinct key (a column, ``column@api`` when qualified by API) -> index in
        ``call.distinct``.
    """

    request: dict[tuple, int]
    response: dict[tuple, int]
    distinct: dict[str, int]


def field_of(primitive: Primitive) -> tuple:
    """Return the per-call or per-group field that a count, sum or gap primitive adds up."""
    if primitive.op == GAP_SUM:
        return ("gap",)
    if primitive.op == GAP_SQSUM:
        return ("gap2",)
    if primitive.op == "sum":
        return ("sum", primitive.column)
    return ("one",) if primitive.where is None else ("flag", primitive.where)


def distinct_key(primitive: Primitive, scope: str) -> str:
    """Return the key of a distinct primitive's values (qualified by API where needed)."""
    column = primitive.column or ""
    if scope == "global" and column in ("endpoint", "object_id"):
        return column + "@api"
    return column


def interarrival_cv(gap_sum: int, gap_sqsum: int, calls: int) -> float:
    """Return the coefficient of variation of the gaps (as ``plan.finalize_scalar``)."""
    gaps = calls - 1
    if gaps < 2 or gap_sum <= 0:
        return 0.0
    mean = gap_sum / gaps
    variance = gap_sqsum / gaps - mean * mean
    return (variance if variance > 0.0 else 0.0) ** 0.5 / mean


def insert_max(maxima: Any, seq: int, value: int) -> None:
    """Insert into a monotonic max deque (increasing seq, strictly decreasing value)."""
    if not maxima or maxima[-1][0] < seq:
        while maxima and maxima[-1][1] <= value:
            maxima.pop()
        maxima.append((seq, value))
        return
    items = list(maxima)  # a response that came out of order: rare
    position = next(i for i, (s, _) in enumerate(items) if s > seq)
    if items[position][1] >= value:
        return
    start = position
    while start > 0 and items[start - 1][1] <= value:
        start -= 1
    items[start:position] = [(seq, value)]
    maxima.clear()
    maxima.extend(items)


@dataclass(frozen=True)
class GroupLayout:
    """The state layout of one group: prefix-sum fields and, per window, its slots."""

    cum_fields: tuple[tuple, ...]
    resp_slots: tuple[tuple[int, ...], ...]  # per window: call.resp indices summed
    distinct: tuple[tuple[tuple[int, int | None, bool], ...], ...]  # (key, flag, request)
    maxima: tuple[tuple[tuple[int, bool], ...], ...]  # (value index, request)


class _Source:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def layout_group(plan: GroupPlan, calls: CallLayout) -> GroupLayout:
    """Decide where each primitive of a group lives in its state."""
    needed: list[tuple] = []
    for window in plan.windows:
        for p in window.primitives:
            if p.side == "request" and p.op in ("count", "sum", GAP_SUM, GAP_SQSUM):
                field = field_of(p)
                if field != ("one",) and field not in needed:
                    needed.append(field)
    from_call = sorted((f for f in needed if f in calls.request), key=calls.request.__getitem__)
    cum_fields = tuple(from_call) + tuple(sorted(f for f in needed if f not in calls.request))
    resp_slots, distinct, maxima = [], [], []
    for window in plan.windows:
        resp = sorted(
            {
                calls.response[field_of(p)]
                for p in window.primitives
                if p.side == "response" and p.op in ("count", "sum")
            }
        )
        resp_slots.append(tuple(resp))
        distinct.append(
            tuple(
                (
                    calls.distinct[distinct_key(p, plan.scope)],
                    _flag_index(p, calls),
                    p.side == "request",
                )
                for p in window.primitives
                if p.op == "distinct"
            )
        )
        maxima.append(
            tuple(
                (
                    (calls.request if p.side == "request" else calls.response)[("sum", p.column)],
                    p.side == "request",
                )
                for p in window.primitives
                if p.op == "max"
            )
        )
    return GroupLayout(cum_fields, tuple(resp_slots), tuple(distinct), tuple(maxima))


def _flag_index(p: Primitive, calls: CallLayout) -> int | None:
    if p.where is None:
        return None
    field = ("flag", p.where)
    return calls.request[field] if field in calls.request else calls.response[field]


def generate_group(
    plan: GroupPlan, layout: GroupLayout, calls: CallLayout, sequence_gap_s: int
) -> tuple[str, Callable, Callable]:
    """Return the source and the compiled ``step`` and ``respond`` functions of a group."""
    source = _Source()
    _emit_step(source, plan, layout, calls, sequence_gap_s)
    _emit_respond(source, plan, layout)
    text = source.text()
    namespace: dict[str, Any] = {"_insert_max": insert_max, "_cv": interarrival_cv}
    exec(compile(text, f"<features {plan.kind}/{plan.scope}>", "exec"), namespace)
    return text, namespace["step"], namespace["respond"]


def _emit_step(
    src: _Source, plan: GroupPlan, layout: GroupLayout, calls: CallLayout, gap_s: int
) -> None:
    src.add(0, "def step(state, call, out, bigrams):")
    src.add(1, "ts = call.ts")
    src.add(1, "req = call.req")
    src.add(1, "dist = call.distinct")
    src.add(1, "last_ts = state.last_ts")
    src.add(1, f"gap = 0 if last_ts is None else (ts - last_ts) // {_NS_PER_MS}")
    src.add(1, "cb = state.cum")
    names = []
    for k, field in enumerate(layout.cum_fields):
        if field == ("gap",):
            term = "gap"
        elif field == ("gap2",):
            term = "gap * gap"
        elif field == ("flag", "novel_sequence"):
            src.add(1, "novel = 0")
            src.add(
                1,
                f"if last_ts is not None and ts - last_ts <= {gap_s * _NS_PER_S} and "
                "(state.last_endpoint, call.endpoint) not in bigrams:",
            )
            src.add(2, "novel = 1")
            term = "novel"
        else:
            term = f"req[{calls.request[field]}]"
        src.add(1, f"c{k} = cb[{k}] + {term}")
        names.append(f"c{k}")
    src.add(1, f"state.cum = ({', '.join(names)}{',' if len(names) == 1 else ''})")
    src.add(1, "seq = state.next_seq")
    src.add(1, "state.next_seq = seq + 1")
    src.add(1, "entries = state.entries")
    src.add(1, "entries.append((ts, cb, gap, call))")
    src.add(1, "state.last_ts = ts")
    src.add(1, "state.last_endpoint = call.endpoint")
    src.add(1, "base = state.base")
    src.add(1, "windows = state.windows")
    for w_index, window in enumerate(plan.windows):
        _emit_window(src, layout, calls, w_index, window)
    src.add(1, "return seq")


def _emit_window(
    src: _Source, layout: GroupLayout, calls: CallLayout, w_index: int, window: WindowPlan
) -> None:
    resp_slots = layout.resp_slots[w_index]
    distinct = layout.distinct[w_index]
    maxima = layout.maxima[w_index]
    src.add(1, f"# window {window.window_s} s")
    src.add(1, f"w = windows[{w_index}]")
    src.add(1, "left = w.left")
    if resp_slots:
        src.add(1, "acc = w.resp")
    for j in range(len(distinct)):
        src.add(1, f"d{j} = w.distinct[{j}]")
    for j in range(len(maxima)):
        src.add(1, f"m{j} = w.maxima[{j}]")
    src.add(1, f"bound = ts - {window.window_s * _NS_PER_S}")
    src.add(1, "e = entries[left - base]")
    src.add(1, "while e[0] <= bound:")
    needs_call = bool(distinct) or bool(resp_slots)
    if needs_call:
        src.add(2, "c = e[3]")
    if distinct:
        src.add(2, "cd = c.distinct")
    if any(on_request for _, _, on_request in distinct):
        src.add(2, "cr = c.req")
    for j, (key, flag, on_request) in enumerate(distinct):
        if on_request:
            condition = f"v is not None and cr[{flag}]" if flag is not None else "v is not None"
            src.add(2, f"v = cd[{key}]")
            src.add(2, f"if {condition}:")
            _emit_decrement(src, 3, f"d{j}")
    response_distinct = [(j, k, f) for j, (k, f, on_req) in enumerate(distinct) if not on_req]
    if resp_slots or response_distinct:
        src.add(2, "r = c.resp")
        src.add(2, "if r is not None:")
        for slot, index in enumerate(resp_slots):
            src.add(3, f"acc[{slot}] -= r[{index}]")
        for j, key, flag in response_distinct:
            src.add(3, f"v = cd[{key}]")
            condition = f"v is not None and r[{flag}]" if flag is not None else "v is not None"
            src.add(3, f"if {condition}:")
            _emit_decrement(src, 4, f"d{j}")
    src.add(2, "left += 1")
    src.add(2, "e = entries[left - base]")
    src.add(1, "w.left = left")
    for j, (key, flag, on_request) in enumerate(distinct):
        if on_request:
            condition = f"v is not None and req[{flag}]" if flag is not None else "v is not None"
            src.add(1, f"v = dist[{key}]")
            src.add(1, f"if {condition}:")
            src.add(2, f"d{j}[v] = d{j}.get(v, 0) + 1")
    for j, (index, on_request) in enumerate(maxima):
        if on_request:
            src.add(1, f"v = req[{index}]")
            src.add(1, f"while m{j} and m{j}[-1][1] <= v:")
            src.add(2, f"m{j}.pop()")
            src.add(1, f"m{j}.append((seq, v))")
    if any(p.op == GAP_MIN for p in window.primitives):
        src.add(1, "gm = w.gap_min")
        src.add(1, "while gm and gm[-1][1] >= gap:")
        src.add(2, "gm.pop()")
        src.add(1, "gm.append((seq, gap))")
    src.add(1, "fc = e[1]")
    values = _emit_primitives(src, layout, calls, w_index, window)
    for recipe in window.recipes:
        operands = [values[p] for p in recipe.operands]
        src.add(1, f"out[{recipe.index}] = {_final_expression(recipe, operands)}")


def _emit_decrement(src: _Source, indent: int, counts: str) -> None:
    src.add(indent, f"n_ = {counts}[v] - 1")
    src.add(indent, "if n_:")
    src.add(indent + 1, f"{counts}[v] = n_")
    src.add(indent, "else:")
    src.add(indent + 1, f"del {counts}[v]")


def _emit_primitives(
    src: _Source, layout: GroupLayout, calls: CallLayout, w_index: int, window: WindowPlan
) -> dict[Primitive, str]:
    values: dict[Primitive, str] = {}
    distinct_slot = 0
    max_slot = 0
    cum = {field: k for k, field in enumerate(layout.cum_fields)}
    resp_slot = {index: slot for slot, index in enumerate(layout.resp_slots[w_index])}
    for k, p in enumerate(window.primitives):
        name = f"p{k}"
        if p.op == "count" and p.where is None and p.side == "request":
            expr = "seq - left + 1"
        elif p.op in ("count", "sum") and p.side == "request":
            slot = cum[field_of(p)]
            expr = f"c{slot} - fc[{slot}]"
        elif p.op in ("count", "sum"):
            expr = f"acc[{resp_slot[calls.response[field_of(p)]]}]"
        elif p.op == GAP_SUM:
            slot = cum[("gap",)]
            expr = f"c{slot} - fc[{slot}] - e[2]"
        elif p.op == GAP_SQSUM:
            slot = cum[("gap2",)]
            expr = f"c{slot} - fc[{slot}] - e[2] * e[2]"
        elif p.op == "distinct":
            expr = f"len(d{distinct_slot})"
            distinct_slot += 1
        elif p.op == "max":
            m = f"m{max_slot}"
            max_slot += 1
            src.add(1, f"while {m} and {m}[0][0] < left:")
            src.add(2, f"{m}.popleft()")
            expr = f"{m}[0][1] if {m} else 0"
        elif p.op == GAP_MIN:
            src.add(1, "gm = w.gap_min")
            src.add(1, "while gm and gm[0][0] <= left:")
            src.add(2, "gm.popleft()")
            expr = "gm[0][1] if gm else 0"
        else:
            raise ValueError(f"unknown primitive {p}")
        src.add(1, f"{name} = {expr}")
        values[p] = name
    return values


def _final_expression(recipe: Recipe, operands: list[str]) -> str:
    aggregation = recipe.aggregation
    window_ms = float(recipe.window_s * 1000)
    if aggregation in ("count", "distinct", "sum", "max"):
        return operands[0]  # an int; the engine's float64 vector converts it exactly
    if aggregation in ("ratio", "novelty"):
        a, b = operands
        return f"{a} / {b} if {b} else 0.0"
    if aggregation == "interarrival_mean":
        a, b = operands
        return f"{a} / ({b} - 1) if {b} > 1 else {window_ms!r}"
    if aggregation == "interarrival_min":
        a, b = operands
        return f"{a} if {b} > 1 else {window_ms!r}"
    a, b, c = operands
    return f"_cv({a}, {b}, {c})"


def _emit_respond(src: _Source, plan: GroupPlan, layout: GroupLayout) -> None:
    src.add(0, "")
    src.add(0, "def respond(state, seq, call):")
    src.add(1, "if not state.alive:")
    src.add(2, "return")
    src.add(1, "r = call.resp")
    src.add(1, "cd = call.distinct")
    src.add(1, "windows = state.windows")
    for w_index in range(len(plan.windows)):
        resp_slots = layout.resp_slots[w_index]
        response_distinct = [
            (j, key, flag)
            for j, (key, flag, on_request) in enumerate(layout.distinct[w_index])
            if not on_request
        ]
        response_maxima = [
            (j, index)
            for j, (index, on_request) in enumerate(layout.maxima[w_index])
            if not on_request
        ]
        if not (resp_slots or response_distinct or response_maxima):
            continue
        src.add(1, f"w = windows[{w_index}]")
        src.add(1, "if seq >= w.left:")
        if resp_slots:
            src.add(2, "acc = w.resp")
        for slot, index in enumerate(resp_slots):
            src.add(2, f"acc[{slot}] += r[{index}]")
        for j, key, flag in response_distinct:
            src.add(2, f"v = cd[{key}]")
            condition = f"v is not None and r[{flag}]" if flag is not None else "v is not None"
            src.add(2, f"if {condition}:")
            src.add(3, f"d = w.distinct[{j}]")
            src.add(3, "d[v] = d.get(v, 0) + 1")
        for j, index in response_maxima:
            src.add(2, f"_insert_max(w.maxima[{j}], seq, r[{index}])")
    src.add(1, "return")
