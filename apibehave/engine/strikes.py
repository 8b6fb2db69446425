"""Strike counting: how many suspicious calls an address made within a sliding window.

A single odd-looking request is often a false alarm (a pasted search string, a typo in a
parameter); several from one address within minutes is an attack. The payload detector
marks calls; the engine blocks an address once its marked calls within ``window_s``
exceed a ceiling. Replay counts with :func:`strike_counts` over the whole log; the live
engine keeps a :class:`StrikeCounter`; both count the calls in ``(t - window, t]``,
the current one included, so they agree call for call.
"""

from __future__ import annotations

from collections import OrderedDict, deque

import numba
import numpy as np


def strike_counts(
    codes: np.ndarray, ts_ns: np.ndarray, marked: np.ndarray, window_ns: int
) -> np.ndarray:
    """Per call, the marked calls of its address within the window ending at it.

    Parameters
    ----------
    codes : ndarray of int64
        Address code per call (-1: none; never counted).
    ts_ns : ndarray of int64
        Call times, epoch nanoseconds (any order).
    marked : ndarray of bool
        Which calls count as strikes.
    window_ns : int
        Window length in nanoseconds.

    Returns
    -------
    ndarray of int64
        0 for unmarked calls; for a marked call, the marked calls of its address in
        ``(ts - window, ts]`` (ties in time count in input order, as the engine sees them).
    """
    order = np.lexsort((np.arange(len(codes)), ts_ns, codes))
    return _counts(
        np.asarray(codes, dtype=np.int64)[order],
        np.asarray(ts_ns, dtype=np.int64)[order],
        np.asarray(marked, dtype=np.bool_)[order],
        int(window_ns),
        order,
    )


@numba.njit(cache=True, nogil=True)
def _counts(codes, ts, marked, window_ns, order):  # pragma: no cover - compiled
    n = codes.size
    out = np.zeros(n, dtype=np.int64)
    start = 0
    for i in range(n):
        if i > 0 and codes[i] != codes[i - 1]:
            start = i
        if codes[i] < 0 or not marked[i]:
            continue
        count = 0
        j = i
        while j >= start and ts[j] > ts[i] - window_ns:
            if marked[j]:
                count += 1
            j -= 1
        out[order[i]] = count
    return out


class StrikeCounter:
    """Marked calls per address within a sliding window, for one call at a time.

    Parameters
    ----------
    window_s : float
        Window length in seconds.
    max_addresses : int
        Cap of tracked addresses; the least recently struck is forgotten first.
    """

    def __init__(self, window_s: float, max_addresses: int = 100_000) -> None:
        self.window_ns = int(window_s * 1e9)
        self.max_addresses = max_addresses
        self._strikes: OrderedDict[str, deque[int]] = OrderedDict()

    def strike(self, address: str, ts_ns: int) -> int:
        """Record a marked call and return the address's marked calls in the window."""
        times = self._strikes.pop(address, None)
        if times is None:
            times = deque()
        times.append(ts_ns)
        while times and times[0] <= ts_ns - self.window_ns:
            times.popleft()
        self._strikes[address] = times
        if len(self._strikes) > self.max_addresses:
            self._strikes.popitem(last=False)
        return len(times)

    def __len__(self) -> int:
        return len(self._strikes)


__all__ = ["StrikeCounter", "strike_counts"]
