"""Numba kernels of the batch engine: exact sliding windows over grouped, time-sorted calls.

Every kernel walks arrays laid out by :func:`apibehave.features.grouping.group_order`:
position ``p`` is one call, the calls of one group are contiguous and in time order
(ties in input order), and ``first[p]`` is the position where ``p``'s group starts.
``left[p]`` is the first position of ``p``'s window ``(ts_p - W, ts_p]``.
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


@njit(cache=True, nogil=True)
def window_lefts(ts: np.ndarray, first: np.ndarray, window_ns: int) -> np.ndarray:
    """Return the first position of each call's window ``(ts_p - W, ts_p]`` in its group."""
    n = ts.shape[0]
    left = np.empty(n, np.int64)
    lo = 0
    for p in range(n):
        if first[p] == p:
            lo = p
        bound = ts[p] - window_ns
        while ts[lo] <= bound:
            lo += 1
        left[p] = lo
    return left


@njit(cache=True, nogil=True)
def sliding_max(
    values: np.ndarray,
    lower: np.ndarray,
    first: np.ndarray,
    include_self: bool,
    empty: int,
) -> np.ndarray:
    """Return the max of ``values`` over positions ``[lower[p], p]`` (or ``p - 1``).

    A monotonic deque per group; ``empty`` where the range holds no position.
    """
    n = values.shape[0]
    out = np.empty(n, np.int64)
    buf = np.empty(n, np.int64)
    head = 0
    tail = 0
    for p in range(n):
        if first[p] == p:
            head = 0
            tail = 0
        if include_self:
            while tail > head and values[buf[tail - 1]] <= values[p]:
                tail -= 1
            buf[tail] = p
            tail += 1
        while head < tail and buf[head] < lower[p]:
            head += 1
        out[p] = values[buf[head]] if head < tail else empty
        if not include_self:
            while tail > head and values[buf[tail - 1]] <= values[p]:
                tail -= 1
            buf[tail] = p
            tail += 1
    return out


@njit(cache=True, nogil=True)
def sliding_distinct(
    values: np.ndarray,
    left: np.ndarray,
    first: np.ndarray,
    include_self: bool,
    n_values: int,
) -> np.ndarray:
    """Return the number of distinct non-negative codes over ``[left[p], p]`` (or ``p - 1``).

    Exact: a count per code of how often it is in the window, updated as the window slides.
    """
    n = values.shape[0]
    out = np.empty(n, np.int64)
    counts = np.zeros(max(n_values, 1), np.int64)
    distinct = 0
    lo = 0
    hi = 0
    for p in range(n):
        if first[p] == p:
            while lo < hi:
                v = values[lo]
                if v >= 0:
                    counts[v] -= 1
                lo += 1
            distinct = 0
            lo = p
            hi = p
        end = p + 1 if include_self else p
        while hi < end:
            v = values[hi]
            if v >= 0:
                counts[v] += 1
                if counts[v] == 1:
                    distinct += 1
            hi += 1
        while lo < left[p]:
            v = values[lo]
            if v >= 0:
                counts[v] -= 1
                if counts[v] == 0:
                    distinct -= 1
            lo += 1
        out[p] = distinct
    return out


@njit(cache=True, nogil=True)
def gap_sums(gaps: np.ndarray, left: np.ndarray, first: np.ndarray) -> tuple:
    """Return the sum and the sum of squares of ``gaps`` over ``[left[p] + 1, p]``.

    ``gaps[p]`` is the whole-millisecond gap from the previous call of the group; the
    gaps inside a window are those of its calls after the first one.
    """
    n = gaps.shape[0]
    s1 = np.empty(n, np.int64)
    s2 = np.empty(n, np.int64)
    a1 = 0
    a2 = 0
    lo = 0
    for p in range(n):
        if first[p] == p:
            a1 = 0
            a2 = 0
            lo = p
        else:
            a1 += gaps[p]
            a2 += gaps[p] * gaps[p]
        while lo < left[p]:
            lo += 1
            a1 -= gaps[lo]
            a2 -= gaps[lo] * gaps[lo]
        s1[p] = a1
        s2[p] = a2
    return s1, s2
