"""The sequential heart of replay: allow list, deny list with expiry, new blocks.

Everything that can be computed for a whole log at once (features, scores) is computed
before; what is left is inherently sequential (a block changes what later calls meet),
so it runs as one compiled pass over the calls in time order. The live engine applies the
same rules one call at a time (:mod:`apibehave.engine.live`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

ALLOW = 0
BLOCK = 1
SHADOW_BLOCK = 2
"""Decision codes: allowed, blocked, or allowed because the API runs in shadow mode."""


@dataclass(frozen=True)
class LoopResult:
    """Outcome of the pass, per call (input positions).

    Attributes
    ----------
    decision : ndarray of int8
        :data:`ALLOW`, :data:`BLOCK` or :data:`SHADOW_BLOCK`.
    cause : ndarray of int64
        The call whose decision created the deny entry that blocked this call (itself
        for a new block), -1 when allowed.
    kind : ndarray of int8
        Index of the identifier kind blocked (-1 when allowed).
    """

    decision: np.ndarray
    cause: np.ndarray
    kind: np.ndarray


def run_deny_loop(
    order: np.ndarray,
    ts_ns: np.ndarray,
    codes: np.ndarray,
    n_codes: np.ndarray,
    allowed: np.ndarray,
    flagged: np.ndarray,
    block_kind: np.ndarray,
    block_all: np.ndarray,
    enforced: np.ndarray,
    ttl_ns: np.ndarray,
) -> LoopResult:
    """Run the allow/deny pass over calls in ``order``.

    Parameters
    ----------
    order : ndarray of int64
        Call positions in time order (ties in input order).
    ts_ns : ndarray of int64
        Call times, epoch nanoseconds.
    codes : ndarray of int64, shape (n_kinds, n_calls)
        Identifier codes per kind (-1 when the call has none).
    n_codes : ndarray of int64, shape (n_kinds,)
        Number of distinct codes per kind.
    allowed : ndarray of bool
        Calls with an identifier on the allow list.
    flagged : ndarray of bool
        Calls the models (or rules) would block.
    block_kind : ndarray of int8
        For flagged calls, the identifier kind to block.
    block_all : ndarray of bool
        Calls whose block names every identifier they carry (decoy hits).
    enforced : ndarray of bool
        Whether the call's API really blocks (False: shadow or blocking disabled).
    ttl_ns : ndarray of int64, shape (n_kinds,)
        Block duration per kind.
    """
    decision, cause, kind = _deny_loop(
        order, ts_ns, codes, n_codes, allowed, flagged, block_kind, block_all, enforced, ttl_ns
    )
    return LoopResult(decision, cause, kind)


@numba.njit(cache=True, nogil=True)
def _deny_loop(order, ts_ns, codes, n_codes, allowed, flagged, block_kind, block_all, enforced,
               ttl_ns):  # fmt: skip
    n_kinds, n = codes.shape
    max_codes = max(1, n_codes.max())
    until = np.full((n_kinds, max_codes), np.iinfo(np.int64).min, dtype=np.int64)
    origin = np.full((n_kinds, max_codes), -1, dtype=np.int64)
    decision = np.zeros(n, dtype=np.int8)
    cause = np.full(n, -1, dtype=np.int64)
    kind = np.full(n, -1, dtype=np.int8)
    for position in range(order.shape[0]):
        i = order[position]
        if allowed[i]:
            continue
        t = ts_ns[i]
        hit = -1
        for k in range(n_kinds):
            c = codes[k, i]
            if c >= 0 and until[k, c] > t:
                hit = k
                break
        if hit >= 0:
            decision[i] = 1
            cause[i] = origin[hit, codes[hit, i]]
            kind[i] = hit
            continue
        if not flagged[i]:
            continue
        k = block_kind[i]
        if not enforced[i]:
            decision[i] = 2
            kind[i] = k
            cause[i] = i
            continue
        decision[i] = 1
        cause[i] = i
        kind[i] = k
        for kk in range(n_kinds):
            c = codes[kk, i]
            if c >= 0 and (kk == k or block_all[i]):
                until[kk, c] = t + ttl_ns[kk]
                origin[kk, c] = i
    return decision, cause, kind
