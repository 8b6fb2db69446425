"""Volume attacks: API floods from one client or a botnet, extreme clients, cookie floods.

One client flooding an API, a botnet flooding it, a client far beyond normal activity,
and one session cookie flooding from many places.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from apibehave.simulate import text
from apibehave.simulate.apis import ENDPOINT_INDEX
from apibehave.simulate.batch import Batch
from apibehave.simulate.campaigns.base import BROWSING, CampaignContext, label, pick_strings
from apibehave.simulate.journeys import ACTIONS, CALL_ENDPOINT
from apibehave.simulate.render import SEARCH_TERMS, calls
from apibehave.simulate.sessions import ID1_KIND, object_ids

SEARCH = ENDPOINT_INDEX["catalogue.search"]
EXPENSIVE_QUERIES = (
    "q=%2A&page=1&size=500", "q=a&page=400", "q=%25%25%25&sort=price_desc", "q=e&size=1000",
    "q=the+and+of+a&page=1&size=250",
)  # fmt: skip


def _overload(ctx: CampaignContext, batch: Batch, severity: float) -> Batch:
    """Make the backend look flooded: slower answers, then 429/503/504."""
    rng = ctx.rng
    n = len(batch)
    failing = rng.random(n) < severity
    status = np.where(
        failing, rng.choice([429, 503, 504], size=n, p=[0.3, 0.5, 0.2]), batch.columns["status"]
    )
    latency = batch.columns["latency_ms"] * (1.0 + 20.0 * severity * rng.random(n))
    resp = np.where(failing, rng.integers(90, 300, n), batch.columns["resp_bytes"])
    return batch.with_columns(status=status, latency_ms=latency, resp_bytes=resp)


def _flood_queries(ctx: CampaignContext, n: int) -> pa.Array:
    rng = ctx.rng
    expensive = pick_strings(rng, list(EXPENSIVE_QUERIES), n)
    busting = text.join(
        "q=",
        pick_strings(rng, list(SEARCH_TERMS), n),
        "&page=1&_=",
        text.ints(rng.integers(1e9, 9e9, n)),
    )
    return text.where(rng.random(n) < 1 - ctx.stealth, expensive, busting)


def api_dos(ctx: CampaignContext) -> Batch:
    """One client flooding the search API; quiet: a few requests a second for an hour."""
    start, end = ctx.window(0.17, 1.0)
    n = ctx.count(48_000, 7_000)
    ts = np.sort(ctx.rng.integers(start, end, n))
    batch = calls(ctx.rng, ts, np.full(n, SEARCH), with_query=False)
    ips = ctx.attacker_ips(ctx.bots(1, 1))
    batch = batch.with_columns(
        query=_flood_queries(ctx, n),
        client_ip=text.pick(ips, ctx.rng.integers(0, len(ips), n)),
        user_agent=ctx.attacker_agents(1)[0],
    )
    return label(ctx, _overload(ctx, batch, ctx.mix(0.45, 0.05)), "ip")


def api_ddos(ctx: CampaignContext) -> Batch:
    """Flood the catalogue from a botnet; quiet: many more hosts, each sending a trickle."""
    rng = ctx.rng
    start, end = ctx.window(0.25, 1.5)
    n = ctx.count(54_000, 27_000)
    bots = ctx.bots(2000, 5000)
    ts = np.sort(rng.integers(start, end, n))
    endpoint = np.where(rng.random(n) < 0.6, SEARCH, BROWSING[rng.integers(0, len(BROWSING), n)])
    batch = calls(rng, ts, endpoint, ctx.products(n))
    query = text.where(endpoint == SEARCH, _flood_queries(ctx, n), batch.columns["query"])
    ips = ctx.attacker_ips(bots)
    batch = batch.with_columns(
        query=query,
        client_ip=text.pick(ips, rng.integers(0, bots, n)),
        user_agent=pick_strings(rng, ctx.attacker_agents(min(bots, 60)), n),
    )
    return label(ctx, _overload(ctx, batch, ctx.mix(0.5, 0.08)), "ip")


_ORDINARY = np.unique(CALL_ENDPOINT[[i for i, a in enumerate(ACTIONS) if a.weights[1] >= 1]])
ORDINARY = _ORDINARY[_ORDINARY >= 0]


def extreme_client_activity(ctx: CampaignContext) -> Batch:
    """Use a real account far beyond any user (a script on a customer's account)."""
    rng = ctx.rng
    users = ctx.world.users
    start, end = ctx.window(2.0, 8.0)
    n = ctx.count(20_000, 1_500)
    ts = np.sort(rng.integers(start, end, n))
    user = int(ctx.random_users(1)[0])
    endpoint = ORDINARY[rng.integers(0, len(ORDINARY), n)]
    ids = object_ids(rng, ctx.world, np.full(n, user), ID1_KIND[endpoint])
    name = users.username[user].as_py()
    batch = calls(rng, ts, endpoint, ids, username=text.const(name, n))
    stealthy = rng.random() < ctx.stealth
    batch = batch.with_columns(
        client_ip=users.home_ip[user].as_py() if stealthy else ctx.attacker_ips(1)[0],
        user_agent=users.agent[user].as_py() if stealthy else ctx.attacker_agents(1)[0],
        token=text.hex_ids(rng, 1)[0].as_py(),
        username=name,
    )
    return label(ctx, batch, "token")


def cookie_dos(ctx: CampaignContext) -> Batch:
    """One session cookie replayed at a high rate, often from many addresses."""
    rng = ctx.rng
    start, end = ctx.window(0.17, 1.0)
    n = ctx.count(18_000, 3_600)
    ts = np.sort(rng.integers(start, end, n))
    endpoint = BROWSING[rng.integers(0, len(BROWSING), n)]
    batch = calls(rng, ts, endpoint, ctx.products(n))
    bots = ctx.bots(50, 3)
    ips = ctx.attacker_ips(bots)
    batch = batch.with_columns(
        client_ip=text.pick(ips, rng.integers(0, bots, n)),
        user_agent=pick_strings(rng, ctx.attacker_agents(min(bots, 10)), n),
        cookie=text.hex_ids(rng, 1, 24)[0].as_py(),
    )
    return label(ctx, _overload(ctx, batch, ctx.mix(0.2, 0.01)), "cookie")


GENERATORS = {
    "api_dos": api_dos,
    "api_ddos": api_ddos,
    "extreme_client_activity": extreme_client_activity,
    "cookie_dos": cookie_dos,
}
