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
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import numpy as np
import pandas as pd

from apibehave.features.derive import (
    REQUEST_PREDICATE_FUNCTIONS,
    RESPONSE_PREDICATE_FUNCTIONS,
    query_is_novel,
)
from apibehave.features.grouping import group_order, time_order
from apibehave.features.kernels import gap_sums, sliding_distinct, sliding_max, window_lefts
from apibehave.features.plan import (
    GAP_MIN,
    GAP_SQSUM,
    GAP_SUM,
    GroupPlan,
    Plan,
    Primitive,
    compile_plan,
    finalize_array,
)
from apibehave.features.spec import FeatureSet
from apibehave.features.vocabulary import Vocabulary

_NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000
_API_QUALIFIED = ("endpoint", "object_id")
_WORKERS = max(1, min(4, os.cpu_count() or 1))


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
    plan = compile_plan(feature_set)
    n = len(prepared)
    matrix = np.full((n, len(feature_set)), np.nan, dtype=np.float64, order="F")
    if n:
        calls = _CallInputs(prepared, vocabulary, feature_set.sequence_gap_s)
        order_in_time = time_order(prepared)
        calls.warm(plan)
        workers = min(len(plan.groups), _WORKERS)
        if workers > 1:
            # numba kernels and numpy release the GIL; groups write disjoint columns
            with ThreadPoolExecutor(workers) as pool:
                done = [
                    pool.submit(_compute_group, group, calls, order_in_time, matrix)
                    for group in plan.groups
                ]
                for future in done:
                    future.result()
        else:
            for group in plan.groups:
                _compute_group(group, calls, order_in_time, matrix)
    return pd.DataFrame(matrix, index=prepared.index, columns=feature_set.names, copy=False)


class _CallInputs:
    """Per-call input arrays (input order), each derived once on first use."""

    def __init__(self, prepared: pd.DataFrame, vocabulary: Vocabulary, gap_s: int) -> None:
        self.prepared = prepared
        self.vocabulary = vocabulary
        self.sequence_gap_ns = gap_s * _NS_PER_S
        self.ts = prepared["ts_ns"].to_numpy()
        self._flags: dict[str, np.ndarray] = {}
        self._codes: dict[tuple[str, bool], tuple[np.ndarray, int]] = {}

    def warm(self, plan: Plan) -> None:
        """Derive, before groups run in parallel, every per-call input the plan reads."""
        _ = self.api_codes, self.n_apis, self.api_names, self.templates
        for group in plan.groups:
            for window in group.windows:
                for primitive in window.primitives:
                    if primitive.where is not None and primitive.where != "novel_sequence":
                        self.flag(primitive.where)
                    if primitive.op == "distinct":
                        self.distinct_codes(primitive.column or "", group.scope == "global")

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
                present = codes >= 0
                combined = np.where(present, codes * self.n_apis + self.api_codes, -1)
                dense, uniques = pd.factorize(combined[present])
                codes = np.full(len(codes), -1, dtype=np.int64)
                codes[present] = dense
                size = len(uniques)
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
    group: GroupPlan, calls: _CallInputs, order_in_time: np.ndarray, matrix: np.ndarray
) -> None:
    order, first = group_order(calls.prepared, group.kind, group.scope, order_in_time)
    if not len(order):
        return
    sorted_inputs = _SortedInputs(calls, group, order, first)
    for window in group.windows:
        left = window_lefts(sorted_inputs.ts, first, window.window_s * _NS_PER_S)
        values = {p: sorted_inputs.primitive(p, left, window.window_s) for p in window.primitives}
        for recipe in window.recipes:
            column = finalize_array(
                recipe.aggregation, recipe.window_s, [values[p] for p in recipe.operands]
            )
            matrix[:, recipe.index][order] = column


class _SortedInputs:
    """The inputs of one group, laid out in group order, each on first use."""

    def __init__(
        self, calls: _CallInputs, group: GroupPlan, order: np.ndarray, first: np.ndarray
    ) -> None:
        self.calls = calls
        self.group = group
        self.order = order
        self.first = first
        self.ts = calls.ts[order]
        self.positions = np.arange(len(order), dtype=np.int64)
        self._prefix: dict[tuple[str, str | None], np.ndarray] = {}
        self._gaps: np.ndarray | None = None

    def prefix(self, op: str, column: str | None, where: str | None) -> np.ndarray:
        """Prefix sums (leading 0) of a flag (count) or a column (sum) in group order."""
        key = (op, column if op == "sum" else where)
        if key not in self._prefix:
            if op == "sum":
                values = self.calls.numeric(column or "")[self.order]
            elif where == "novel_sequence":
                values = self.calls.novel_sequence(self.order, self.first).astype(np.int64)
            else:
                values = self.calls.flag(where or "")[self.order].astype(np.int64)
            prefix = np.zeros(len(values) + 1, dtype=np.int64)
            np.cumsum(values, out=prefix[1:])
            self._prefix[key] = prefix
        return self._prefix[key]

    @property
    def gaps(self) -> np.ndarray:
        """Whole-millisecond gap from the previous call of the group (0 for a first call)."""
        if self._gaps is None:
            gaps = np.zeros(len(self.ts), dtype=np.int64)
            gaps[1:] = (self.ts[1:] - self.ts[:-1]) // _NS_PER_MS
            gaps[self.first == self.positions] = 0
            self._gaps = gaps
        return self._gaps

    def primitive(self, primitive: Primitive, left: np.ndarray, window_s: int) -> np.ndarray:
        """Return one primitive at every position, for windows starting at ``left``."""
        op, side = primitive.op, primitive.side
        request = side == "request"
        end = self.positions + 1 if request else self.positions
        if op == "count" and primitive.where is None:
            return end - left
        if op in ("count", "sum"):
            prefix = self.prefix(op, primitive.column, primitive.where)
            return prefix[end] - prefix[left]
        if op == "max":
            values = self.calls.numeric(primitive.column or "")[self.order]
            return sliding_max(values, left, self.first, request, 0)
        if op == "distinct":
            codes, size = self.calls.distinct_codes(
                primitive.column or "", self.group.scope == "global"
            )
            values = codes[self.order]
            if primitive.where is not None:
                values = np.where(self.calls.flag(primitive.where)[self.order], values, -1)
            return sliding_distinct(values, left, self.first, request, size)
        if op in (GAP_SUM, GAP_SQSUM):
            s1, s2 = gap_sums(self.gaps, left, self.first)
            return s1 if op == GAP_SUM else s2
        if op == GAP_MIN:
            empty = -window_s * 1000
            return -sliding_max(-self.gaps, left + 1, self.first, True, empty)
        raise ValueError(f"unknown primitive {primitive}")
