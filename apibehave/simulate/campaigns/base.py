"""What every attack campaign shares: its window, its stealth dial, its attackers, its labels.

Stealth ``s`` in [0, 1] moves every knob from a loud value to a quiet one on a log
scale (:meth:`CampaignContext.mix`): rates, volumes and durations; attackers' addresses
move from hosting ranges to residential proxies, their agents from tools to browsers, and
their timing from around the clock to the population's daily rhythm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from apibehave.simulate import agents, network, text
from apibehave.simulate.apis import ENDPOINT_INDEX
from apibehave.simulate.batch import Batch
from apibehave.simulate.render import calls, zipf_codes
from apibehave.simulate.scenario import CampaignSettings
from apibehave.simulate.services import Partners
from apibehave.simulate.sessions import PRODUCT_BASE, Sessions
from apibehave.simulate.timeline import NS_PER_H, NS_PER_S
from apibehave.simulate.world import World

BROWSING = np.array(
    [
        ENDPOINT_INDEX["catalogue.products"],
        ENDPOINT_INDEX["catalogue.product"],
        ENDPOINT_INDEX["catalogue.search"],
        ENDPOINT_INDEX["catalogue.categories"],
        ENDPOINT_INDEX["catalogue.reviews"],
    ]
)


@dataclass
class CampaignContext:
    """One campaign's settings plus the world it attacks.

    Attributes
    ----------
    world : World
    sessions : Sessions
        Benign sessions (victims of stolen tokens and cookies come from here).
    partners : Partners
        Partner integrations (victims of stolen API keys).
    settings : CampaignSettings
    stealth : float
    volume : float
        Multiplies event counts (scenario scale times the campaign's intensity).
    lo_ns, hi_ns : int
        The period the campaign must stay in.
    rng : numpy.random.Generator
    """

    world: World
    sessions: Sessions
    partners: Partners
    settings: CampaignSettings
    stealth: float
    volume: float
    lo_ns: int
    hi_ns: int
    rng: np.random.Generator

    def mix(self, loud: float, quiet: float) -> float:
        """Interpolate from loud (stealth 0) to quiet (stealth 1) on a log scale."""
        return float(loud * (quiet / loud) ** self.stealth)

    def count(self, loud: float, quiet: float, minimum: int = 1) -> int:
        """Return an event or victim count for this stealth, scaled by the campaign's volume."""
        return max(minimum, round(self.mix(loud, quiet) * self.volume))

    def bots(self, loud: float, quiet: float) -> int:
        """How many client addresses: the ``bots`` setting, else the family's default."""
        if self.settings.bots is not None:
            return self.settings.bots
        return max(1, round(self.mix(loud, quiet) * min(1.0, self.volume) ** 0.5))

    def window(self, loud_h: float, quiet_h: float) -> tuple[int, int]:
        """Start and end (epoch ns) of the campaign inside its period."""
        span = self.hi_ns - self.lo_ns
        duration_h = self.settings.duration_h or self.mix(loud_h, quiet_h)
        duration = min(int(duration_h * NS_PER_H), span)
        if self.settings.start_h is not None:
            start = min(self.lo_ns + int(self.settings.start_h * NS_PER_H), self.hi_ns - duration)
        else:
            latest = self.hi_ns - duration
            start = int(
                self.world.busy_times(
                    self.rng, 1, self.lo_ns, max(latest, self.lo_ns + 1), blend=self.stealth
                )[0]
            )
            start = min(start, latest)
        return start, start + duration

    def times(self, n: int, start: int, end: int) -> np.ndarray:
        """``n`` sorted arrival times in ``[start, end)``, following daily load as stealth rises."""
        if end - start < 3600 * NS_PER_S:
            return np.sort(self.rng.integers(start, max(end, start + 1), n))
        return np.sort(self.world.busy_times(self.rng, n, start, end, blend=self.stealth))

    def attacker_ips(self, n: int) -> list[str]:
        """Attacker addresses for this stealth."""
        return network.attacker_ips(self.rng, n, self.stealth)

    def attacker_agents(self, n: int) -> list[str]:
        """Attacker agents for this stealth."""
        return agents.attacker_agents(self.rng, n, self.stealth)

    def logged_in_sessions(
        self, k: int, *, web_only: bool = False, min_s: float = 120
    ) -> np.ndarray:
        """Pick ``k`` benign logged-in sessions inside the campaign's period (victims)."""
        s = self.sessions
        ok = (s.start_ns >= self.lo_ns) & (s.end_ns < self.hi_ns) & (s.persona != 0)
        ok &= (s.end_ns - s.start_ns) >= min_s * NS_PER_S
        if web_only:
            ok &= s.persona == 1
        pool = np.flatnonzero(ok)
        if not len(pool):
            pool = np.flatnonzero(s.persona != 0)
        return self.rng.choice(pool, size=min(k, len(pool)), replace=False)

    def random_users(self, k: int) -> np.ndarray:
        """Pick ``k`` distinct benign users (victims of account attacks)."""
        n = len(self.world.users)
        return self.rng.choice(n, size=min(k, n), replace=False)

    def products(self, n: int) -> np.ndarray:
        """Product ids with the shop's popularity."""
        return PRODUCT_BASE + zipf_codes(self.rng, n, self.world.scenario.population.products, 1.05)

    def browsing(self, ts: np.ndarray) -> Batch:
        """Benign-looking catalogue calls at ``ts`` (an attacker's cover traffic)."""
        endpoint = BROWSING[self.rng.integers(0, len(BROWSING), len(ts))]
        return calls(self.rng, ts, endpoint, self.products(len(ts)))


def burst_times(
    rng: np.random.Generator, start: np.ndarray, count: np.ndarray, gap_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Expand per-group starts into ``count`` calls each, ``gap_s`` apart on average.

    Returns the group of each call and its time (epoch ns).
    """
    group = np.repeat(np.arange(len(start)), count)
    gaps = rng.exponential(gap_s, len(group)) * NS_PER_S
    exclusive = np.cumsum(gaps) - gaps
    busy = count > 0
    first = (np.cumsum(count) - count)[busy]
    within = exclusive - np.repeat(exclusive[first], count[busy])
    return group, start[group] + within.astype(np.int64)


def label(ctx: CampaignContext, batch: Batch, identifier: str) -> Batch:
    """Stamp a campaign's batch with its label, actor and the identifier to block."""
    return batch.with_columns(
        label=ctx.settings.type,
        actor=ctx.settings.name,
        trap=None,
        attack_identifier=identifier,
    )


def pick_strings(rng: np.random.Generator, values: list[str], n: int) -> pa.Array:
    """``n`` draws from a list of strings."""
    return text.pick(values, rng.integers(0, len(values), n))
