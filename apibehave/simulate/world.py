"""What every generator shares: the scenario, the timeframe, the users, seeded streams."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from apibehave.simulate.population import Users, build_users
from apibehave.simulate.scenario import Scenario
from apibehave.simulate.timeline import (
    NS_PER_H,
    REGION_OFFSETS_H,
    REGION_WEIGHTS,
    Timeframe,
    load_curve,
    sample_times,
)


@dataclass
class World:
    """The simulated world a scenario describes.

    Attributes
    ----------
    scenario : Scenario
    frame : Timeframe
    users : Users
    curves : list of (grid, weight)
        Load curve of each user region.
    """

    scenario: Scenario
    frame: Timeframe
    users: Users
    curves: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def rng(self, *names: str | int) -> np.random.Generator:
        """Return a random stream for one named component, independent of the others.

        Adding a campaign or a trap does not change the events of any other component.
        """
        keys = [zlib.crc32(str(n).encode()) for n in names]
        return np.random.default_rng([self.scenario.seed, *keys])

    def scaled(self, count: float, minimum: int = 1) -> int:
        """Scale a count by the scenario's scale, keeping at least ``minimum``."""
        return max(minimum, round(count * self.scenario.scale))

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the whole population's load curve (regions mixed by their user shares)."""
        grid = self.curves[0][0]
        weight = sum(w * share for (_, w), share in zip(self.curves, REGION_WEIGHTS, strict=True))
        return grid, weight

    def busy_times(
        self, rng: np.random.Generator, n: int, lo_ns: int, hi_ns: int, blend: float = 1.0
    ) -> np.ndarray:
        """Draw times in ``[lo_ns, hi_ns)``, following normal load to degree ``blend``.

        ``blend`` 1 follows the population's daily rhythm exactly; 0 is uniform (bots
        that run around the clock, including the night).
        """
        grid, weight = self.load()
        mixed = blend * weight / weight.max() + (1.0 - blend)
        return sample_times(rng, grid, mixed, n, lo_ns, hi_ns)

    @property
    def test_hours(self) -> float:
        """Length of the test period in hours."""
        return (self.frame.end_ns - self.frame.train_end_ns) / NS_PER_H


def build_world(scenario: Scenario) -> World:
    """Build the timeframe, the load curves and the users of a scenario."""
    start = scenario.start_ts.tz_convert("UTC").value
    train_end = start + int(scenario.train_duration_h * NS_PER_H)
    end = train_end + int(scenario.test_duration_h * NS_PER_H)
    frame = Timeframe(start, train_end, end)
    pop = scenario.population
    world = World(scenario, frame, users=None)  # type: ignore[arg-type]
    world.curves = [
        load_curve(frame, offset, pop.peak_to_trough, pop.weekend_factor)
        for offset in REGION_OFFSETS_H
    ]
    world.users = build_users(world.rng("users"), pop, world.scaled(pop.users, 10))
    return world
