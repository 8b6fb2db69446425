"""Scoring kernels: the same arithmetic for a whole log (compiled) and for one call (Python).

For each call and feature, with the thresholds of the call's API:
``distance = x - Tn`` (``Tn - x`` for direction low), ``span = Tx - Tn`` (mirrored; 1 when
not positive), severity ``1 + distance / span`` when ``distance > 0`` else 0 (a value
equal to a threshold does not cross it; with ``Tx == Tn`` any excess is extreme); a NaN
value or threshold gives 0. A ratio or novelty feature counts only when its guard count reaches
``min_ratio_calls``. The call's risk is its largest severity; it is flagged above
``EXTREME`` or, when ``min_normal_crossings > 0``, when that many features pointing to the
same attack type rise above ``NORMAL``. The lead feature is the first with the largest
severity. Both kernels perform the same double-precision operations in the same order,
so replay and the live engine agree exactly.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from apibehave.detect.thresholds import EXTREME, NORMAL


@numba.njit(cache=True, nogil=True)
def score_rows(features, api_index, normal, extreme, low, guard, min_guard, types, n_types,
               min_normal_crossings):  # fmt: skip
    """Score every row; return risk, flagged, lead feature, crossed and extreme bit words.

    Parameters
    ----------
    features : float64 array (n, F)
    api_index : int64 array (n,)
        Row of ``normal``/``extreme`` for each call.
    normal, extreme : float64 arrays (n_apis, F)
    low : bool array (F,)
    guard : int64 array (F,)
        Index of the feature whose value must reach ``min_guard`` (-1: no guard).
    min_guard : float
    types : int64 array (F,)
        Attack type index per feature.
    n_types : int
    min_normal_crossings : int
    """
    n, n_features = features.shape
    n_words = (n_features + 63) // 64
    risk = np.zeros(n)
    flagged = np.zeros(n, dtype=np.bool_)
    lead = np.full(n, -1, dtype=np.int64)
    bits = np.zeros((n, n_words), dtype=np.uint64)
    xbits = np.zeros((n, n_words), dtype=np.uint64)
    by_type = np.zeros(n_types, dtype=np.int64)
    for i in range(n):
        a = api_index[i]
        best = 0.0
        best_j = -1
        if min_normal_crossings > 0:
            by_type[:] = 0
        for j in range(n_features):
            s = _severity(features[i, j], normal[a, j], extreme[a, j], low[j])
            g = guard[j]
            if g >= 0 and not features[i, g] >= min_guard:
                s = 0.0
            if s > best:
                best = s
                best_j = j
            if s > NORMAL:
                bits[i, j // 64] |= np.uint64(1) << np.uint64(j % 64)
                if s > EXTREME:
                    xbits[i, j // 64] |= np.uint64(1) << np.uint64(j % 64)
                if min_normal_crossings > 0:
                    by_type[types[j]] += 1
        risk[i] = best
        flag = best > EXTREME
        if not flag and min_normal_crossings > 0:
            for t in range(n_types):
                if by_type[t] >= min_normal_crossings:
                    flag = True
                    break
        flagged[i] = flag
        if flag:
            lead[i] = best_j
    return risk, flagged, lead, bits, xbits


@numba.njit(cache=True, inline="always")
def _severity(x, tn, tx, is_low):
    if math.isnan(x) or math.isnan(tn) or math.isnan(tx):
        return 0.0
    if is_low:
        distance = tn - x
        span = tn - tx
    else:
        distance = x - tn
        span = tx - tn
    if not distance > 0.0:
        return 0.0
    if not span > 0.0:
        return EXTREME + distance
    return 1.0 + distance / span


def severity_one(x: float, tn: float, tx: float, is_low: bool) -> float:
    """Python twin of the compiled severity (identical double-precision steps)."""
    if math.isnan(x) or math.isnan(tn) or math.isnan(tx):
        return 0.0
    if is_low:
        distance = tn - x
        span = tn - tx
    else:
        distance = x - tn
        span = tx - tn
    if not distance > 0.0:
        return 0.0
    if not span > 0.0:
        return EXTREME + distance
    return 1.0 + distance / span


def score_one(
    vector: list[float],
    normal: list[float],
    extreme: list[float],
    low: list[bool],
    guard: list[int],
    min_guard: float,
    types: list[int],
    min_normal_crossings: int,
) -> tuple[float, bool, int, tuple[int, ...], tuple[int, ...]]:
    """Score one call: risk, flagged, lead feature, crossed and extreme features (Python).

    :func:`severity_one` inlined (the live path scores every call): the same
    double-precision steps; a feature whose severity is 0 (NaN, nothing crossed, or a
    guard below ``min_guard``) changes nothing, so it is skipped early.
    """
    best = 0.0
    best_j = -1
    crossed: list[int] = []
    extreme_crossed: list[int] = []
    by_type: dict[int, int] = {}
    j = -1
    for x, tn, tx, is_low in zip(vector, normal, extreme, low, strict=True):
        j += 1
        if x != x or tn != tn or tx != tx:  # a NaN: severity 0
            continue
        if is_low:
            distance = tn - x
            span = tn - tx
        else:
            distance = x - tn
            span = tx - tn
        if not distance > 0.0:
            continue
        g = guard[j]
        if g >= 0 and not vector[g] >= min_guard:
            continue
        s = EXTREME + distance if not span > 0.0 else 1.0 + distance / span
        if s > best:
            best = s
            best_j = j
        if s > NORMAL:
            crossed.append(j)
            if s > EXTREME:
                extreme_crossed.append(j)
            if min_normal_crossings > 0:
                by_type[types[j]] = by_type.get(types[j], 0) + 1
    flag = best > EXTREME
    if not flag and min_normal_crossings > 0:
        flag = any(count >= min_normal_crossings for count in by_type.values())
    return best, flag, best_j if flag else -1, tuple(crossed), tuple(extreme_crossed)
