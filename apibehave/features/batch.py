"""The batch engine: every feature of every call of a whole log, causal and vectorised.

For each group of the compiled plan (identifier kind and scope) the calls are laid out
group by group in time order (:mod:`apibehave.features.grouping`); for each window length
the first position of every call's window is found once, and the primitives follow from
prefix sums (counts, sums) or exact sliding kernels (maxima, distinct counts, gaps) in
:mod:`apibehave.features.kernels`. Values go back to input order. The causality rule is
the one of :mod:`apibehave.features.spec`; the numbers equal those of the streaming engine.
"""

from __future__ import annotations

import os
import queue
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import numpy as np
import pandas as pd

from apibehave.features import kernels
from apibehave.features.derive import (
    REQUEST_PREDICATE_FUNCTIONS,
    RESPONSE_PREDICATE_FUNCTIONS,
    query_is_novel,
)
from apibehave.features.grouping import combine_codes, group_layout, time_order
from apibehave.features.kernels import fill_nan_rows, scatter_rows, window_pass
from apibehave.features.plan import (
    GAP_MIN,
    GAP_SQSUM,
    GAP_SUM,
    GroupPlan,
    Plan,
    Primitive,
    WindowPlan,
    compile_plan,
)
from apibehave.features.spec import FeatureSet
from apibehave.features.vocabulary import Vocabulary

_NS_PER_S = 1_000_000_000
_API_QUALIFIED = ("endpoint", "object_id")
_WORKERS = max(1, min(4, os.cpu_count() or 1))
_CHUNK = 1 << 19
"""Calls of one group computed and scattered at a time (bounds the output block)."""


def compute_features(
    prepared: pd.DataFrame, feature_set: FeatureSet, vocabulary: Vocabulary
) -> pd.DataFrame:
    """Compute every feature of every call, causally.

    Parameters
    ----------
    prepared : pandas.DataFrame
        Output of ``prepare_events`` (any time order; ties keep input order).
    feature_set : FeatureSet
        What to compute.
    vocabulary : Vocabulary
        The learned per-API vocabulary the novelty features compare against.

    Returns
    -------
    pandas.DataFrame
        float64, one row per call in input order (index of ``prepared``), one column per
        feature in ``feature_set`` order; NaN where the call's identifier is null.
    """
    matrix = compute_feature_matrix(prepared, feature_set, vocabulary)
    return pd.DataFrame(matrix, index=prepared.index, columns=feature_set.names, copy=False)


def compute_feature_matrix(
    prepared: pd.DataFrame, feature_set: FeatureSet, vocabulary: Vocabulary
) -> np.ndarray:
    """Compute every feature of every call as a writable float64 matrix.

    The same numbers as :func:`compute_features` without the DataFrame around them (a
    caller that edits the matrix in place, like replay, saves a copy of it).

    Parameters
    ----------
    prepared : pandas.DataFrame
        Output of ``prepare_events``.
    feature_set : FeatureSet
        What to compute.
    vocabulary : Vocabulary
        The learned per-API vocabulary.

    Returns
    -------
    numpy.ndarray
        float64 of shape ``(len(prepared), len(feature_set))``, C order, rows in input
        order, columns in ``feature_set`` order.
    """
    plan = compile_plan(feature_set)
    n = len(prepared)
    # rows in input order, columns group by group: a group's features of one call are
    # adjacent, so putting them back in input order moves one short run per call and group
    layout = [r.index for g in plan.groups for w in g.windows for r in w.recipes]
    matrix = np.empty((n, len(feature_set)), dtype=np.float64)
    if n:
        calls = _CallInputs(prepared, vocabulary, feature_set.sequence_gap_s)
        order_in_time = time_order(prepared)
        inputs = _KernelInputs(calls, plan)
        workers = min(len(plan.groups), _WORKERS)
        # large scratch arrays are allocated once per worker and reused by every group:
        # fresh multi-megabyte allocations cost page faults on every use
        scratch: queue.SimpleQueue[_Scratch] = queue.SimpleQueue()
        for _ in range(workers):
            scratch.put(_Scratch(inputs, plan))

        def run(group: GroupPlan) -> None:
            buffers = scratch.get()
            try:
                _compute_group(group, calls, inputs, buffers, order_in_time, matrix)
            finally:
                scratch.put(buffers)

        if workers > 1:
            # the kernels and numpy release the GIL; groups write disjoint columns
            with ThreadPoolExecutor(workers) as pool:
                for future in [pool.submit(run, group) for group in plan.groups]:
                    future.result()
        else:
            for group in plan.groups:
                run(group)
    if layout != list(range(len(layout))):  # back to the feature set's column order
        column_of = np.empty(len(layout), dtype=np.int64)
        column_of[layout] = np.arange(len(layout))
        matrix = np.take(matrix, column_of, axis=1)
    return matrix


class _Scratch:
    """Per-worker buffers: group-ordered inputs (as long as the log) and kernel output.

    The output block holds one chunk of a group (:data:`_CHUNK` calls or one whole
    identifier, whichever is longer), not the whole log: it grows only when needed.
    """

    def __init__(self, inputs: _KernelInputs, plan: Plan) -> None:
        n = len(inputs.numeric)
        self.widest = max(sum(len(w.recipes) for w in g.windows) for g in plan.groups)
        self.ts = np.empty(n, dtype=np.int64)
        self.flags = np.empty_like(inputs.flags)
        self.numeric = np.empty_like(inputs.numeric)
        self.dcodes = np.empty_like(inputs.dcodes)
        self.block = np.empty(self.widest * min(n, _CHUNK), dtype=np.float64)

    def output(self, rows: int, width: int) -> np.ndarray:
        """Return a ``(rows, width)`` view of the output block, growing it if needed."""
        if self.block.size < rows * width:
            self.block = np.empty(rows * self.widest, dtype=np.float64)
        return self.block[: rows * width].reshape(rows, width)


class _CallInputs:
    """Per-call input arrays (input order), each derived once on first use."""

    def __init__(self, prepared: pd.DataFrame, vocabulary: Vocabulary, gap_s: int) -> None:
        self.prepared = prepared
        self.vocabulary = vocabulary
        self.sequence_gap_ns = gap_s * _NS_PER_S
        self.ts = prepared["ts_ns"].to_numpy()
        self._flags: dict[str, np.ndarray] = {}
        self._codes: dict[tuple[str, bool], tuple[np.ndarray, int]] = {}

    def codes(self, column: str) -> tuple[np.ndarray, int]:
        """Category codes of a column (-1 for null) and the number of categories."""
        series = self.prepared[column]
        return series.cat.codes.to_numpy().astype(np.int64), len(series.cat.categories)

    def distinct_codes(self, column: str, qualify_by_api: bool) -> tuple[np.ndarray, int]:
        """Codes to count distinct values of; endpoints and object ids per API if asked."""
        key = (column, qualify_by_api and column in _API_QUALIFIED)
        if key not in self._codes:
            codes, size = self.codes(column)
            if key[1]:
                codes, size = combine_codes(codes, size, self.api_codes, self.n_apis)
            self._codes[key] = (codes, size)
        return self._codes[key]

    @cached_property
    def api_codes(self) -> np.ndarray:
        """API code per call (never null)."""
        return self.codes("api")[0]

    @cached_property
    def n_apis(self) -> int:
        """Number of APIs in the log."""
        return max(self.codes("api")[1], 1)

    @cached_property
    def api_names(self) -> np.ndarray:
        """API name per code."""
        return np.asarray(self.prepared["api"].cat.categories, dtype=object)

    @cached_property
    def templates(self) -> np.ndarray:
        """Endpoint template per code."""
        return np.asarray(self.prepared["endpoint"].cat.categories, dtype=object)

    def numeric(self, column: str) -> np.ndarray:
        """Return an int64 column."""
        return self.prepared[column].to_numpy(dtype=np.int64)

    def flag(self, predicate: str) -> np.ndarray:
        """Boolean per call for a predicate (novel_sequence excepted: it is per group)."""
        if predicate not in self._flags:
            self._flags[predicate] = self._compute_flag(predicate)
        return self._flags[predicate]

    def _compute_flag(self, predicate: str) -> np.ndarray:
        is_login = self.prepared["is_login"].to_numpy()
        if predicate in REQUEST_PREDICATE_FUNCTIONS:
            judge = REQUEST_PREDICATE_FUNCTIONS[predicate]
            methods, _ = self.codes("method")
            names = list(self.prepared["method"].cat.categories)
            table = np.array([[judge(m, False), judge(m, True)] for m in [*names, ""]], dtype=bool)
            return table[methods, is_login.astype(np.int64)]
        if predicate in RESPONSE_PREDICATE_FUNCTIONS:
            judge_status = RESPONSE_PREDICATE_FUNCTIONS[predicate]
            status = self.numeric("status")
            table = np.array(
                [[judge_status(s, False), judge_status(s, True)] for s in range(1000)],
                dtype=bool,
            )
            return table[np.clip(status, 0, 999), is_login.astype(np.int64)]
        if predicate == "novel_endpoint":
            return self._novel_endpoints()
        if predicate == "novel_query":
            return self._novel_queries()
        raise ValueError(f"unknown predicate {predicate!r}")

    def _novel_endpoints(self) -> np.ndarray:
        endpoints, n_templates = self.codes("endpoint")
        known = [
            code * (n_templates + 1) + template
            for code, api in enumerate(self.api_names)
            for template in self._template_codes(self.vocabulary.for_api(api).endpoints)
        ]
        keys = self.api_codes * (n_templates + 1) + endpoints
        return ~np.asarray(pd.Series(keys).isin(known))

    def _novel_queries(self) -> np.ndarray:
        names, n_names = self.codes("query_names")
        joined = np.asarray(self.prepared["query_names"].cat.categories, dtype=object)
        flags = np.zeros(len(names), dtype=bool)
        rows = np.flatnonzero(names >= 0)
        if not len(rows):
            return flags
        pair_codes, pairs = pd.factorize(self.api_codes[rows] * n_names + names[rows])
        judged = np.array(
            [
                query_is_novel(
                    joined[pair % n_names],
                    self.vocabulary.for_api(self.api_names[pair // n_names]).query_names,
                )
                for pair in pairs
            ],
            dtype=bool,
        )
        flags[rows] = judged[pair_codes]
        return flags

    def _template_codes(self, templates: frozenset[str]) -> np.ndarray:
        if not templates:
            return np.empty(0, dtype=np.int64)
        codes = pd.Index(self.templates).get_indexer(list(templates))
        return codes[codes >= 0]

    def novel_sequence(self, order: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Per group position: the call's endpoint bigram (same group) is unknown to its API."""
        endpoints, n_templates = self.codes("endpoint")
        width = n_templates + 1
        if self.n_apis * width * width >= 2**62:
            raise ValueError("too many endpoint templates to encode bigrams in 64 bits")
        ts = self.ts[order]
        positions = np.arange(len(order))
        follows = np.zeros(len(order), dtype=bool)
        follows[1:] = (first[1:] != positions[1:]) & (ts[1:] - ts[:-1] <= self.sequence_gap_ns)
        at = np.flatnonzero(follows)
        api = self.api_codes[order[at]]
        keys = (api * width + endpoints[order[at - 1]]) * width + endpoints[order[at]]
        known: list[int] = []
        lookup = pd.Index(self.templates)
        for code, name in enumerate(self.api_names):
            bigrams = self.vocabulary.for_api(name).bigrams
            if not bigrams:
                continue
            a = lookup.get_indexer([pair[0] for pair in bigrams])
            b = lookup.get_indexer([pair[1] for pair in bigrams])
            ok = (a >= 0) & (b >= 0)
            known.extend(((code * width + a[ok]) * width + b[ok]).tolist())
        novel = np.zeros(len(order), dtype=bool)
        novel[at] = ~np.asarray(pd.Series(keys).isin(known))
        return novel


def _compute_group(
    group: GroupPlan,
    calls: _CallInputs,
    inputs: _KernelInputs,
    scratch: _Scratch,
    order_in_time: np.ndarray,
    matrix: np.ndarray,
) -> None:
    codes, order, first = group_layout(calls.prepared, group.kind, group.scope, order_in_time)
    width = sum(len(w.recipes) for w in group.windows)
    start = inputs.group_start[(group.kind, group.scope)]
    fill_nan_rows(matrix, codes, start, width)
    m = len(order)
    if not m:
        return
    if group.needs_sequence:
        sequence = calls.novel_sequence(order, first).astype(np.uint8)
    else:
        sequence = np.zeros(1, dtype=np.uint8)
    # gathered once into group order, so that the kernel reads memory in sequence
    ts = np.take(calls.ts, order, out=scratch.ts[:m])
    flags = np.take(inputs.flags, order, axis=0, out=scratch.flags[:m])
    numeric = np.take(inputs.numeric, order, axis=0, out=scratch.numeric[:m])
    dcodes = np.take(inputs.dcodes, order, axis=0, out=scratch.dcodes[:m])
    encoded = [inputs.encode(window, group.scope) for window in group.windows]
    # chunk by chunk of whole identifiers (windows never cross one): the output block
    # stays small, and each chunk's rows are scattered while still in cache
    for a, b in _chunks(first, _CHUNK):
        block = scratch.output(b - a, width)
        chunk_first = first[a:b] - a
        chunk_sequence = sequence[a:b] if group.needs_sequence else sequence
        offset = 0
        for window, (prims, n_counts, recipes) in zip(group.windows, encoded, strict=True):
            window_pass(
                ts[a:b],
                chunk_first,
                window.window_s * _NS_PER_S,
                flags[a:b],
                chunk_sequence,
                numeric[a:b],
                dcodes[a:b],
                prims,
                n_counts,
                recipes,
                block,
                offset,
            )
            offset += len(recipes)
        scatter_rows(matrix, order[a:b], block, start)


def _chunks(first: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Split group-ordered positions into runs of about ``size`` that end at a group end.

    A single identifier longer than ``size`` makes a run of its own.
    """
    m = len(first)
    if m <= size:
        return [(0, m)]
    starts = np.flatnonzero(first == np.arange(m))
    bounds = []
    a = 0
    while a < m:
        if a + size >= m:
            bounds.append((a, m))
            break
        b = int(first[a + size])  # start of the identifier holding position a + size
        if b <= a:  # that identifier began at a: take it whole
            i = int(np.searchsorted(starts, a + size, side="right"))
            b = int(starts[i]) if i < len(starts) else m
        bounds.append((a, b))
        a = b
    return bounds


class _KernelInputs:
    """Per-call inputs laid out as the kernel reads them, and the plan encoded as integers."""

    def __init__(self, calls: _CallInputs, plan: Plan) -> None:
        self.group_start: dict[tuple[str, str], int] = {}
        column = 0
        for group in plan.groups:
            self.group_start[(group.kind, group.scope)] = column
            column += sum(len(w.recipes) for w in group.windows)
        flag_names: list[str] = []
        distinct_keys: list[tuple[str, bool]] = []
        for group in plan.groups:
            for window in group.windows:
                for p in window.primitives:
                    where = p.where
                    if where not in (None, "novel_sequence", *flag_names):
                        flag_names.append(where)
                    if p.op == "distinct":
                        key = (p.column or "", group.scope == "global")
                        if key not in distinct_keys:
                            distinct_keys.append(key)
        n = len(calls.ts)
        self.flag_index = {name: j for j, name in enumerate(flag_names)}
        self.flags = np.zeros((n, max(len(flag_names), 1)), dtype=np.uint8)
        for name, j in self.flag_index.items():
            self.flags[:, j] = calls.flag(name)
        self.distinct_index = {key: j for j, key in enumerate(distinct_keys)}
        self.dcodes = np.full((n, max(len(distinct_keys), 1)), -1, dtype=np.int32)
        self.dsizes = []
        for (column, qualified), j in self.distinct_index.items():
            codes, size = calls.distinct_codes(column, qualified)
            self.dcodes[:, j] = codes
            self.dsizes.append(size)
        self.numeric = np.empty((n, 2), dtype=np.int64)
        self.numeric[:, 0] = calls.numeric("req_bytes")
        self.numeric[:, 1] = calls.numeric("resp_bytes")

    def encode(self, window: WindowPlan, scope: str) -> tuple[np.ndarray, int, np.ndarray]:
        """Return the window's primitives and recipes as the integer tables of the kernel."""
        prims = np.zeros((len(window.primitives), 5), dtype=np.int64)
        slot: dict[Primitive, int] = {}
        n_counts = 0
        for k, p in enumerate(window.primitives):
            slot[p] = k
            prims[k, 1] = 1 if p.side == "request" else 0
            prims[k, 3] = -2
            if p.op == "count":
                if p.where is None:
                    prims[k, 0] = kernels.OP_COUNT
                else:
                    prims[k, 0] = kernels.OP_COUNT_FLAG
                    prims[k, 2] = self.flag_index.get(p.where, -1)  # -1: sequence flag
            elif p.op in ("sum", "max"):
                prims[k, 0] = kernels.OP_SUM if p.op == "sum" else kernels.OP_MAX
                prims[k, 2] = _NUMERIC_COLUMNS.index(p.column or "")
            elif p.op == "distinct":
                j = self.distinct_index[(p.column or "", scope == "global")]
                prims[k, 0] = kernels.OP_DISTINCT
                prims[k, 2] = j
                prims[k, 3] = self.flag_index[p.where] if p.where is not None else -2
                prims[k, 4] = n_counts
                n_counts += self.dsizes[j]
            else:
                prims[k, 0] = _GAP_OPS[p.op]
        recipes = np.zeros((len(window.recipes), 6), dtype=np.int64)
        for r, recipe in enumerate(window.recipes):
            recipes[r, 0] = _AGGREGATION_CODES[recipe.aggregation]
            recipes[r, 1] = recipe.index
            for i, operand in enumerate(recipe.operands):
                recipes[r, 2 + i] = slot[operand]
            recipes[r, 5] = recipe.window_s * 1000
        return prims, n_counts, recipes


_NUMERIC_COLUMNS = ("req_bytes", "resp_bytes")
_GAP_OPS = {
    GAP_SUM: kernels.OP_GAP_SUM,
    GAP_SQSUM: kernels.OP_GAP_SQSUM,
    GAP_MIN: kernels.OP_GAP_MIN,
}
_AGGREGATION_CODES = {
    "count": kernels.AGG_VALUE,
    "distinct": kernels.AGG_VALUE,
    "sum": kernels.AGG_VALUE,
    "max": kernels.AGG_VALUE,
    "ratio": kernels.AGG_RATIO,
    "novelty": kernels.AGG_RATIO,
    "interarrival_mean": kernels.AGG_GAP_MEAN,
    "interarrival_min": kernels.AGG_GAP_MIN,
    "interarrival_cv": kernels.AGG_GAP_CV,
}
