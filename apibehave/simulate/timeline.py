"""Time: the training and test periods, and diurnal, weekly load to draw start times from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NS_PER_S = 1_000_000_000
NS_PER_H = 3600 * NS_PER_S
GRID_S = 60
REGION_OFFSETS_H = (1.0, -5.0, -8.0)
"""Users' time zones: Europe, US East, US West."""
REGION_WEIGHTS = (0.55, 0.3, 0.15)


@dataclass(frozen=True)
class Timeframe:
    """The simulated interval: a training period followed by a test period.

    Attributes
    ----------
    start_ns, train_end_ns, end_ns : int
        Epoch nanoseconds; the test period is ``[train_end_ns, end_ns)``.
    """

    start_ns: int
    train_end_ns: int
    end_ns: int

    @property
    def hours(self) -> float:
        """Length of the whole interval in hours."""
        return (self.end_ns - self.start_ns) / NS_PER_H

    def at_hour(self, hours: float) -> int:
        """Epoch nanoseconds ``hours`` after the start."""
        return self.start_ns + int(hours * NS_PER_H)


def diurnal_shape(local_hour: np.ndarray, peak_to_trough: float) -> np.ndarray:
    """Relative load by local hour: a night trough, a lunch bump and an evening peak.

    Returns values in ``[1 / peak_to_trough, 1]``.
    """

    def bump(centre: float, width: float) -> np.ndarray:
        d = np.abs((local_hour - centre + 12.0) % 24.0 - 12.0)
        return np.exp(-0.5 * (d / width) ** 2)

    shape = 0.25 * bump(9.0, 1.5) + 0.7 * bump(12.5, 3.0) + 1.0 * bump(20.5, 2.4)
    shape = shape / shape.max() if shape.size else shape
    trough = 1.0 / peak_to_trough
    return trough + (1.0 - trough) * shape


def load_curve(
    frame: Timeframe, tz_offset_h: float, peak_to_trough: float, weekend_factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return grid times (epoch ns, one per minute) and the relative load at each."""
    grid = np.arange(frame.start_ns, frame.end_ns, GRID_S * NS_PER_S, dtype=np.int64)
    local_h = grid / NS_PER_H + tz_offset_h
    weight = diurnal_shape(local_h % 24.0, peak_to_trough)
    weekday = ((local_h // 24).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    weight = np.where(weekday >= 5, weight * weekend_factor, weight)
    return grid, weight


def sample_times(
    rng: np.random.Generator,
    grid: np.ndarray,
    weight: np.ndarray,
    n: int,
    lo_ns: int | None = None,
    hi_ns: int | None = None,
) -> np.ndarray:
    """Draw ``n`` times (epoch ns) with density proportional to ``weight`` on ``grid``."""
    mask = np.ones(len(grid), dtype=bool)
    if lo_ns is not None:
        mask &= grid >= lo_ns
    if hi_ns is not None:
        mask &= grid < hi_ns
    g, w = grid[mask], weight[mask]
    if n == 0 or len(g) == 0:
        return np.zeros(0, dtype=np.int64)
    cdf = np.cumsum(w)
    cell = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    cell = np.minimum(cell, len(g) - 1)
    return g[cell] + (rng.random(n) * GRID_S * NS_PER_S).astype(np.int64)


def group_cumsum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum within consecutive groups (``group_start`` marks firsts)."""
    total = np.cumsum(values)
    exclusive = total - values
    first = np.flatnonzero(group_start)
    sizes = np.diff(np.append(first, len(values)))
    return exclusive - np.repeat(exclusive[first], sizes)
