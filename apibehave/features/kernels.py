"""Numba kernels of the batch engine: exact sliding windows over grouped, time-sorted calls.

Every kernel walks arrays laid out by :func:`apibehave.features.grouping.group_order`:
position ``p`` is one call, the calls of one group are contiguous and in time order
(ties in input order), and ``first[p]`` is the position where ``p``'s group starts.
The window of ``p`` is ``(ts_p - W, ts_p]`` within its group.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def counting_sort(keys: np.ndarray, n_keys: int, time_order: np.ndarray) -> np.ndarray:
    """Return row indices grouped by key (keys < 0 left out), in ``time_order`` within a key.

    Parameters
    ----------
    keys : int64 array
        Dense group code per row, -1 for rows that belong to no group.
    n_keys : int
        Number of distinct codes.
    time_order : int64 array
        Row indices in time order (stable).

    Returns
    -------
    int64 array
        Row indices; a stable counting sort of ``time_order`` by key.
    """
    starts = np.zeros(n_keys + 1, np.int64)
    for i in range(keys.shape[0]):
        k = keys[i]
        if k >= 0:
            starts[k + 1] += 1
    for k in range(n_keys):
        starts[k + 1] += starts[k]
    out = np.empty(starts[n_keys], np.int64)
    for j in range(time_order.shape[0]):
        row = time_order[j]
        k = keys[row]
        if k >= 0:
            out[starts[k]] = row
            starts[k] += 1
    return out


@njit(cache=True, nogil=True)
def group_firsts(sorted_keys: np.ndarray) -> np.ndarray:
    """Return, for each position, the position where its group starts."""
    n = sorted_keys.shape[0]
    first = np.empty(n, np.int64)
    start = 0
    for p in range(n):
        if p > 0 and sorted_keys[p] != sorted_keys[p - 1]:
            start = p
        first[p] = start
    return first


# primitive op codes of window_pass (see apibehave.features.batch)
OP_COUNT = 0  # calls in the window on the primitive's side
OP_COUNT_FLAG = 1  # calls meeting a flag (arg: flag column, -1 = the group's sequence flag)
OP_SUM = 2  # sum of a numeric column (arg: column)
OP_MAX = 3  # max of a numeric column (arg: column); 0 over an empty window
OP_DISTINCT = 4  # distinct codes (arg: code column, arg2: flag column filter or -2)
OP_GAP_SUM = 5
OP_GAP_SQSUM = 6
OP_GAP_MIN = 7

# aggregation codes of the recipes
AGG_VALUE = 0  # count, distinct, sum, max: the primitive itself
AGG_RATIO = 1  # ratio, novelty: a / b, 0 when b is 0
AGG_GAP_MEAN = 2
AGG_GAP_MIN = 3
AGG_GAP_CV = 4


@njit(cache=True, nogil=True)
def _contribute(q, sign, listed, prims, flags, seq_flags, numeric, dcodes, acc, counts, distinct):
    """Add (sign 1) or remove (sign -1) sorted position q's share to the listed primitives."""
    for i in range(listed.shape[0]):
        k = listed[i]
        op = prims[k, 0]
        if op == OP_COUNT:
            acc[k] += sign
        elif op == OP_COUNT_FLAG:
            column = prims[k, 2]
            flag = seq_flags[q] if column < 0 else flags[q, column]
            if flag:
                acc[k] += sign
        elif op == OP_SUM:
            acc[k] += sign * numeric[q, prims[k, 2]]
        elif op == OP_DISTINCT:
            filter_column = prims[k, 3]
            if filter_column >= 0 and not flags[q, filter_column]:
                continue
            code = dcodes[q, prims[k, 2]]
            if code < 0:
                continue
            slot = prims[k, 4] + code
            counts[slot] += sign
            if sign > 0 and counts[slot] == 1:
                distinct[k] += 1
            elif sign < 0 and counts[slot] == 0:
                distinct[k] -= 1


@njit(cache=True, nogil=True)
def _push(buf, d, head, tail, k, values, column, q, start, keep_smaller):
    """Push sorted position q into primitive k's monotonic deque (row d of ``buf``).

    A max deque (``keep_smaller`` false) drops the positions whose value is <= q's; a min
    deque drops those >= q's. Positions are stored relative to the group ``start``.
    """
    t = tail[k]
    value = values[q, column]
    while t > head[k]:
        last = values[start + buf[d, t - 1], column]
        if (last >= value) if keep_smaller else (last <= value):
            t -= 1
        else:
            break
    buf[d, t] = q - start
    tail[k] = t + 1


@njit(cache=True, nogil=True)
def _front(buf, d, head, tail, k, values, column, start, lowest, empty):
    """Return the front value of primitive k's deque after dropping positions < lowest."""
    h = head[k]
    while h < tail[k] and start + buf[d, h] < lowest:
        h += 1
    head[k] = h
    return values[start + buf[d, h], column] if h < tail[k] else empty


@njit(cache=True, nogil=True)
def window_pass(
    ts,
    first,
    window_ns,
    flags,
    seq_flags,
    numeric,
    dcodes,
    prims,
    n_counts,
    recipes,
    out,
    offset,
):
    """Compute one window's features for every call of one group, in group order.

    The window of sorted position ``p`` is ``(ts_p - W, ts_p]`` within its group; request
    primitives read it including ``p``, response primitives only the positions before
    ``p`` (a call's response is known before the next call's request). Running sums,
    per-code counts and monotonic deques slide with it, exactly, in one pass.

    Parameters
    ----------
    ts, first : int64 arrays
        Sorted times and, per sorted position, the position where its group starts.
    window_ns : int
        Window length.
    flags : uint8 2-D array
        Per sorted position, per flag column (request and response predicates).
    seq_flags : uint8 array
        Per sorted position, the group's sequence-novelty flag (or one unused value).
    numeric : int64 2-D array
        Per sorted position: request bytes, response bytes.
    dcodes : int64 2-D array
        Per sorted position, per distinct column: code (-1 for null).
    prims : int64 2-D array
        Per primitive: op, request side (1) or response side (0), column, filter column
        (-2 for none), offset of its per-code counts.
    n_counts : int
        Total size of the per-code counts of the distinct primitives.
    recipes : int64 2-D array
        Per feature: aggregation, unused, three operand primitives, window in ms.
    out : float64 2-D array
        Output: one row per sorted position (written in sequence; the caller puts the
        rows back in input order), the window's features from column ``offset`` on.
    offset : int
        First output column of the window.
    """
    m = ts.shape[0]
    n_prims = prims.shape[0]
    requests = np.flatnonzero(prims[:, 1] == 1)
    responses = np.flatnonzero(prims[:, 1] == 0)
    acc = np.zeros(n_prims, np.int64)
    distinct = np.zeros(n_prims, np.int64)
    counts = np.zeros(max(n_counts, 1), np.int64)
    deque_of = np.full(n_prims, -1, np.int64)
    n_deques = 0
    for k in range(n_prims):
        if prims[k, 0] == OP_MAX or prims[k, 0] == OP_GAP_MIN:
            deque_of[k] = n_deques
            n_deques += 1
    longest = 1
    if n_deques > 0:
        for p in range(m):
            longest = max(longest, p - first[p] + 1)
    buf = np.zeros((max(n_deques, 1), longest), np.int64)
    head = np.zeros(n_prims, np.int64)
    tail = np.zeros(n_prims, np.int64)
    has_gaps = False
    for k in range(n_prims):
        if prims[k, 0] == OP_GAP_SUM or prims[k, 0] == OP_GAP_SQSUM or prims[k, 0] == OP_GAP_MIN:
            has_gaps = True
    # whole ms from the previous call of the group (only kept when a gap primitive reads it)
    gaps = np.zeros((m if has_gaps else 1, 1), np.int64)
    everything = np.arange(n_prims)
    n_responses = responses.shape[0]
    gap_sum = 0
    gap_sqsum = 0
    values = np.zeros(n_prims, np.int64)
    lo = 0
    for p in range(m):
        start = first[p]
        if start == p:
            if p > 0:  # finish the previous group: its last response, then empty the window
                if n_responses:
                    _contribute(
                        p - 1, 1, responses, prims, flags, seq_flags, numeric, dcodes, acc,
                        counts, distinct,
                    )  # fmt: skip
                for q in range(lo, p):
                    _contribute(
                        q, -1, everything, prims, flags, seq_flags, numeric, dcodes, acc,
                        counts, distinct,
                    )  # fmt: skip
            lo = p
            gap_sum = 0
            gap_sqsum = 0
            head[:] = 0
            tail[:] = 0
        else:
            if has_gaps:
                gap = (ts[p] - ts[p - 1]) // 1_000_000
                gaps[p, 0] = gap
                gap_sum += gap
                gap_sqsum += gap * gap
            if n_responses:
                _contribute(
                    p - 1, 1, responses, prims, flags, seq_flags, numeric, dcodes, acc, counts,
                    distinct,
                )  # fmt: skip
            for k in responses:
                if prims[k, 0] == OP_MAX:
                    _push(
                        buf, deque_of[k], head, tail, k, numeric, prims[k, 2], p - 1, start, False
                    )
        _contribute(p, 1, requests, prims, flags, seq_flags, numeric, dcodes, acc, counts, distinct)
        for k in requests:
            if prims[k, 0] == OP_MAX:
                _push(buf, deque_of[k], head, tail, k, numeric, prims[k, 2], p, start, False)
            elif prims[k, 0] == OP_GAP_MIN and p > start:
                _push(buf, deque_of[k], head, tail, k, gaps, 0, p, start, True)
        bound = ts[p] - window_ns
        while ts[lo] <= bound:
            _contribute(
                lo, -1, everything, prims, flags, seq_flags, numeric, dcodes, acc, counts, distinct
            )
            lo += 1
            if has_gaps:
                gap_sum -= gaps[lo, 0]
                gap_sqsum -= gaps[lo, 0] * gaps[lo, 0]
        for k in range(n_prims):
            op = prims[k, 0]
            if op == OP_DISTINCT:
                values[k] = distinct[k]
            elif op == OP_MAX:
                values[k] = _front(
                    buf, deque_of[k], head, tail, k, numeric, prims[k, 2], start, lo, 0
                )
            elif op == OP_GAP_MIN:
                values[k] = _front(buf, deque_of[k], head, tail, k, gaps, 0, start, lo + 1, 0)
            elif op == OP_GAP_SUM:
                values[k] = gap_sum
            elif op == OP_GAP_SQSUM:
                values[k] = gap_sqsum
            else:
                values[k] = acc[k]
        for r in range(recipes.shape[0]):
            out[p, offset + r] = _finalize(recipes, r, values)


@njit(cache=True, nogil=True)
def _finalize(recipes, r, values):
    """One feature value from primitive values (the formulas of ``features.spec``)."""
    agg = recipes[r, 0]
    a = values[recipes[r, 2]]
    if agg == AGG_VALUE:
        return float(a)
    if agg == AGG_RATIO:
        b = values[recipes[r, 3]]
        return float(a) / float(b) if b != 0 else 0.0
    if agg == AGG_GAP_MEAN:
        calls = values[recipes[r, 3]]
        return float(a) / float(calls - 1) if calls > 1 else float(recipes[r, 5])
    if agg == AGG_GAP_MIN:
        calls = values[recipes[r, 3]]
        return float(a) if calls > 1 else float(recipes[r, 5])
    sq = values[recipes[r, 3]]
    n_gaps = values[recipes[r, 4]] - 1
    if n_gaps < 2 or a <= 0:
        return 0.0
    mean = float(a) / float(n_gaps)
    variance = float(sq) / float(n_gaps) - mean * mean
    return np.sqrt(variance if variance > 0.0 else 0.0) / mean


@njit(cache=True, nogil=True)
def pair_codes(first_codes, second_codes, n_second, table_size):
    """Return dense codes of ``(first, second)`` pairs and their number.

    Codes are numbered in order of first appearance; a negative first code gives -1. The
    lookup table has ``table_size`` (>= n_first * n_second) slots.
    """
    table = np.full(table_size, -1, np.int64)
    out = np.empty(first_codes.shape[0], np.int64)
    count = 0
    for i in range(first_codes.shape[0]):
        if first_codes[i] < 0:
            out[i] = -1
            continue
        key = first_codes[i] * n_second + second_codes[i]
        code = table[key]
        if code < 0:
            code = count
            table[key] = code
            count += 1
        out[i] = code
    return out, count


@njit(cache=True, nogil=True)
def scatter_rows(matrix, order, block, start):
    """Copy ``block[p]`` into ``matrix[order[p], start:start + width]`` for every p."""
    width = block.shape[1]
    for p in range(block.shape[0]):
        row = order[p]
        for j in range(width):
            matrix[row, start + j] = block[p, j]


@njit(cache=True, nogil=True)
def fill_nan_rows(matrix, codes, start, width):
    """Set ``matrix[row, start:start + width]`` to NaN where the row's group code is < 0."""
    for row in range(codes.shape[0]):
        if codes[row] < 0:
            for j in range(width):
                matrix[row, start + j] = np.nan
