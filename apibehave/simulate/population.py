"""The benign user base: names, account ids, devices, time zones, addresses, agents.

Activity per user is heavy-tailed (lognormal), so a few users account for much of the
traffic, as in real shops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from apibehave.simulate import agents, network, text
from apibehave.simulate.scenario import PopulationSettings
from apibehave.simulate.timeline import REGION_OFFSETS_H, REGION_WEIGHTS

_FIRST = (
    "anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "isla", "jack", "kate",
    "liam", "maria", "noah", "olivia", "paul", "quinn", "rosa", "sam", "tom", "uma", "victor",
    "wei", "xena", "yusuf", "zoe", "amir", "bea", "carlos", "dana", "elif", "finn", "gita",
    "hana", "ivan", "jonas", "kim", "lea", "marco", "nina", "omar", "priya", "raj", "sofia",
)  # fmt: skip
_LAST = (
    "smith", "jones", "muller", "garcia", "rossi", "martin", "nowak", "silva", "kim", "chen",
    "brown", "wilson", "schmidt", "lopez", "dubois", "jansen", "novak", "khan", "ali", "ito",
    "berg", "costa", "fischer", "moreau", "perez", "weber", "young", "hall", "evans", "park",
)  # fmt: skip


@dataclass(frozen=True)
class Users:
    """Benign users, one row each; string attributes are Arrow arrays.

    Attributes
    ----------
    username, home_ip, alt_ip, mobile_ip, agent, alt_agent : pyarrow.Array
        Per-user strings: home, elsewhere and carrier addresses; the main device's
        agent and the other device's (web users' phone app, app users' browser).
    account_id, order_base, document_base, address_base : ndarray of int64
        Object ids the user owns start at these.
    mobile : ndarray of bool
        Uses the mobile app rather than a browser.
    multi_device : ndarray of bool
        Also uses the other device now and then, sometimes at the same time.
    activity : ndarray of float
        Relative activity (mean 1, heavy-tailed).
    region : ndarray of int
        Index into :data:`apibehave.simulate.timeline.REGION_OFFSETS_H`.
    """

    username: pa.Array
    home_ip: pa.Array
    alt_ip: pa.Array
    mobile_ip: pa.Array
    agent: pa.Array
    alt_agent: pa.Array
    account_id: np.ndarray
    order_base: np.ndarray
    document_base: np.ndarray
    address_base: np.ndarray
    mobile: np.ndarray
    multi_device: np.ndarray
    activity: np.ndarray
    region: np.ndarray

    def __len__(self) -> int:
        return len(self.account_id)

    def actor_ids(self, index: np.ndarray) -> pa.Array:
        """Return the stable actor id (``user-0000042``) of each user index."""
        return text.join("user-", text.ints(index))


def usernames(rng: np.random.Generator, n: int) -> list[str]:
    """Return ``n`` distinct, realistic user names (handles and e-mail addresses)."""
    first = rng.integers(0, len(_FIRST), n).tolist()
    last = rng.integers(0, len(_LAST), n).tolist()
    style = rng.integers(0, 5, n).tolist()
    number = rng.integers(1, 99, n).tolist()
    year = rng.integers(1955, 2007, n).tolist()
    seen: set[str] = set()
    out = []
    for i in range(n):
        f, la = _FIRST[first[i]], _LAST[last[i]]
        name = (
            f"{f}.{la}",
            f"{f[0]}{la}{number[i]}",
            f"{f}_{year[i]}",
            f"{f}.{la}@mail.example.net",
            f"{la}{f[0]}{number[i]}",
        )[style[i]]
        if name in seen:
            name = f"{name.split('@')[0]}{i}"
        seen.add(name)
        out.append(name)
    return out


def build_users(rng: np.random.Generator, settings: PopulationSettings, n: int) -> Users:
    """Draw ``n`` users from the population settings."""
    mobile = rng.random(n) < settings.mobile_fraction
    sigma = settings.activity_sigma
    activity = rng.lognormal(-0.5 * sigma**2, sigma, n)
    region = rng.choice(len(REGION_OFFSETS_H), size=n, p=REGION_WEIGHTS)
    home = np.empty(n, dtype=object)
    home[~mobile] = network.residential_ips(rng, int((~mobile).sum()), settings.ipv6_fraction)
    home[mobile] = network.mobile_ips(rng, int(mobile.sum()))
    alt = np.array(network.residential_ips(rng, n, settings.ipv6_fraction), dtype=object)
    agent = np.empty(n, dtype=object)
    agent[~mobile] = agents.desktop_browsers(rng, int((~mobile).sum()))
    agent[mobile] = agents.mobile_apps(rng, int(mobile.sum()))
    alt_agent = np.empty(n, dtype=object)
    alt_agent[~mobile] = agents.mobile_apps(rng, int((~mobile).sum()))
    alt_agent[mobile] = agents.desktop_browsers(rng, int(mobile.sum()))
    carrier = network.mobile_ips(rng, n)
    account_id = rng.choice(np.arange(1_000_000, 9_000_000), size=n, replace=False)
    return Users(
        username=pa.array(usernames(rng, n), type=pa.string()),
        home_ip=pa.array(home.tolist(), type=pa.string()),
        alt_ip=pa.array(alt.tolist(), type=pa.string()),
        mobile_ip=pa.array(carrier, type=pa.string()),
        agent=pa.array(agent.tolist(), type=pa.string()),
        alt_agent=pa.array(alt_agent.tolist(), type=pa.string()),
        account_id=account_id.astype(np.int64),
        order_base=rng.integers(10_000_000, 90_000_000, n),
        document_base=rng.integers(100_000_000, 900_000_000, n),
        address_base=rng.integers(10_000, 900_000, n),
        mobile=mobile,
        multi_device=rng.random(n) < settings.multi_device_fraction,
        activity=activity,
        region=region,
    )
