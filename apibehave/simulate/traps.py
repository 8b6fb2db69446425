"""Benign traps: legitimate traffic that looks like an attack, each behind its own knob.

This module names every trap and holds those that shape the population's own sessions
(carrier NAT, corporate proxy, roaming tokens, a flash crowd, password typos); traps that
are actors of their own live in :mod:`apibehave.simulate.services`. Trap events carry the
trap's name in the extra ``trap`` column and the label ``normal``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apibehave.simulate import network, text
from apibehave.simulate.apis import ENDPOINT_INDEX
from apibehave.simulate.journeys import MOBILE, WEB
from apibehave.simulate.timeline import NS_PER_H, NS_PER_S, REGION_OFFSETS_H
from apibehave.simulate.world import World

TRAPS: tuple[str, ...] = (
    "carrier_nat",
    "corporate_proxy",
    "roaming_tokens",
    "partner_integrations",
    "crawler_partner",
    "search_engine_bots",
    "scripted_users",
    "uptime_monitors",
    "flash_crowd",
    "nightly_export",
    "password_typos",
)
"""Every trap, as named in the ``trap`` column and in the scenario's ``traps`` section."""

LOGIN = ENDPOINT_INDEX["auth.login"]


def code(name: str) -> int:
    """Integer code of a trap name."""
    return TRAPS.index(name)


@dataclass(frozen=True)
class Placement:
    """Where each session's calls come from.

    Attributes
    ----------
    ips : pyarrow.Array
        Address vocabulary.
    ip_code, roam_code : ndarray of int
        Each session's address and, for roaming sessions, its second address (else -1).
    roam_from_ns, roam_until_ns : ndarray of int64
        When a roaming session uses its second address.
    trap : ndarray of int
        Trap code per session (-1 for none).
    """

    ips: pa.Array
    ip_code: np.ndarray
    roam_code: np.ndarray
    roam_from_ns: np.ndarray
    roam_until_ns: np.ndarray
    trap: np.ndarray

    def ip_code_at(self, session: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Address code of each call of ``session`` at time ``ts``."""
        roaming = (
            (self.roam_code[session] >= 0)
            & (ts >= self.roam_from_ns[session])
            & (ts < self.roam_until_ns[session])
        )
        return np.where(roaming, self.roam_code[session], self.ip_code[session])


def place_sessions(
    world: World,
    user: np.ndarray,
    start: np.ndarray,
    persona: np.ndarray,
    other_device: np.ndarray,
) -> Placement:
    """Give each session an address: home, elsewhere, carrier NAT, office proxy, roaming.

    ``other_device`` marks sessions on the user's second device (a web user's phone
    uses a carrier address, an app user's browser the home connection).
    """
    rng = world.rng("placement")
    traps = world.scenario.traps
    users = world.users
    n_users, n = len(users), len(user)
    nat_ips = network.mobile_ips(rng, traps.carrier_nat.ips, ipv6_fraction=0.0)
    proxy_ips = network.corporate_ips(rng, traps.corporate_proxy.ips)
    ips = pa.concat_arrays(
        [
            users.home_ip,
            users.alt_ip,
            users.mobile_ip,
            pa.array(nat_ips + proxy_ips, type=pa.string()),
        ]
    )
    nat_base, proxy_base = 3 * n_users, 3 * n_users + len(nat_ips)
    away = rng.random(n) < 0.2
    ip_code = np.where((persona != MOBILE) & away, n_users + user, user)
    ip_code = np.where(other_device & (persona == MOBILE), 2 * n_users + user, ip_code)
    ip_code = np.where(other_device & (persona == WEB), n_users + user, ip_code)
    trap = np.full(n, -1, dtype=np.int64)

    if traps.carrier_nat.enabled:
        members = _members(
            rng,
            np.flatnonzero(users.mobile),
            world.scaled(traps.carrier_nat.ips * traps.carrier_nat.users_per_ip, 2),
        )
        nat_of_user = np.full(n_users, -1)
        nat_of_user[members] = rng.integers(0, len(nat_ips), len(members))
        behind = (nat_of_user[user] >= 0) & (persona == MOBILE) & ~other_device
        ip_code = np.where(behind, nat_base + nat_of_user[user], ip_code)
        trap[behind] = code("carrier_nat")

    if traps.corporate_proxy.enabled:
        members = _members(
            rng, np.flatnonzero(~users.mobile), world.scaled(traps.corporate_proxy.users, 2)
        )
        proxy_of_user = np.full(n_users, -1)
        proxy_of_user[members] = rng.integers(0, len(proxy_ips), len(members))
        local_h = start / NS_PER_H + np.asarray(REGION_OFFSETS_H)[users.region[user]]
        weekday = ((local_h // 24).astype(np.int64) + 3) % 7 < 5
        office = weekday & (local_h % 24 >= 8) & (local_h % 24 < 18)
        at_work = (proxy_of_user[user] >= 0) & (persona != MOBILE) & office
        ip_code = np.where(at_work, proxy_base + proxy_of_user[user], ip_code)
        trap[at_work] = code("corporate_proxy")

    roam_code = np.full(n, -1, dtype=np.int64)
    roam_from = np.zeros(n, dtype=np.int64)
    roam_until = np.zeros(n, dtype=np.int64)
    if traps.roaming_tokens.enabled:
        roams = (persona == MOBILE) & (
            rng.random(n) < traps.roaming_tokens.fraction_of_mobile_sessions
        )
        roam_code[roams] = n_users + user[roams]  # the user's home Wi-Fi
        roam_from[roams] = start[roams] + (
            rng.exponential(120, int(roams.sum())) * NS_PER_S
        ).astype(np.int64)
        back = rng.random(int(roams.sum())) < 0.3
        stay = np.where(back, rng.exponential(240, len(back)) * NS_PER_S, 1e18).astype(np.int64)
        roam_until[roams] = roam_from[roams] + stay
        trap[roams & (trap < 0)] = code("roaming_tokens")
    return Placement(ips, ip_code, roam_code, roam_from, roam_until, trap)


def _members(rng: np.random.Generator, pool: np.ndarray, k: int) -> np.ndarray:
    return rng.choice(pool, size=min(k, len(pool)), replace=False) if len(pool) else pool


def flash_crowd_sessions(world: World, base_sessions: int) -> tuple[np.ndarray, np.ndarray]:
    """Extra sessions of a sale: users, start times (epoch ns); empty when disabled."""
    settings = world.scenario.traps.flash_crowd
    empty = np.zeros(0, dtype=np.int64)
    lo = world.frame.at_hour(settings.start_h)
    hi = min(lo + int(settings.duration_h * NS_PER_H), world.frame.end_ns)
    if not settings.enabled or lo >= world.frame.end_ns:
        return empty, empty
    rng = world.rng("flash_crowd")
    grid, weight = world.load()
    inside = (grid >= lo) & (grid < hi)
    share = weight[inside].sum() / weight.sum()
    extra = rng.poisson((settings.load_multiplier - 1.0) * base_sessions * share)
    activity = world.users.activity
    user = rng.choice(len(activity), size=extra, p=activity / activity.sum())
    start = lo + (rng.beta(1.3, 2.5, extra) * (hi - lo)).astype(np.int64)
    return user, start


def password_typos(
    world: World, plan: dict[str, np.ndarray], persona: np.ndarray
) -> dict[str, np.ndarray]:
    """Failed logins (401) a few seconds before some successful ones: extra plan rows."""
    settings = world.scenario.traps.password_typos
    logins = np.flatnonzero(plan["endpoint"] == LOGIN)
    if not settings.enabled:
        logins = logins[:0]
    rng = world.rng("password_typos")
    chosen = logins[rng.random(len(logins)) < settings.fraction_of_logins]
    failures = rng.integers(1, settings.max_failures + 1, len(chosen))
    rows = np.repeat(chosen, failures)
    back = np.concatenate([np.arange(1, f + 1) for f in failures]) if len(failures) else rows
    gap = (rng.lognormal(np.log(7.0), 0.5, len(rows)) * NS_PER_S).astype(np.int64)
    extra = {name: values[rows].copy() for name, values in plan.items()}
    extra["ts"] = plan["ts"][rows] - back * gap
    extra["status"][:] = 401
    extra["typo"][:] = True
    plan["typo"][chosen] = True
    return extra


def mistyped_names(world: World, username: pa.Array, typo: np.ndarray) -> pa.Array:
    """Mistype the user name in some failed logins (last character missing)."""
    rng = world.rng("mistyped_names")
    wrong = typo & (rng.random(len(typo)) < 0.25)
    if not wrong.any():
        return username
    shortened = pc.utf8_slice_codeunits(username, 0, -1)
    return text.where(wrong, shortened, username)
