"""Stolen credentials used in parallel with their real owners.

Access tokens, session cookies and partner API keys, used from a new address and
(unless stealthy) with a new agent.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from apibehave.simulate import text
from apibehave.simulate.apis import ENDPOINT_INDEX
from apibehave.simulate.batch import Batch, concat
from apibehave.simulate.campaigns.base import CampaignContext, label
from apibehave.simulate.render import calls
from apibehave.simulate.sessions import ID1_KIND, object_ids
from apibehave.simulate.timeline import NS_PER_S

LOOT = np.array(
    [
        ENDPOINT_INDEX[k]
        for k in (
            "accounts.get",
            "accounts.profile",
            "accounts.addresses",
            "orders.list",
            "orders.get",
            "orders.invoice",
            "files.list",
            "files.download",
            "catalogue.product",
        )
    ]
)
LOOT_WEIGHTS = np.array([0.12, 0.12, 0.1, 0.14, 0.16, 0.1, 0.08, 0.1, 0.08])
PARTNER_LOOT = np.array(
    [
        ENDPOINT_INDEX[k]
        for k in ("partner.inventory", "partner.prices", "partner.orders", "partner.export")
    ]
)


def _hijack(ctx: CampaignContext, *, credential: str) -> Batch:
    """Call with victims' tokens or cookies while the victims are still active."""
    rng = ctx.rng
    victims = ctx.logged_in_sessions(ctx.count(8, 3), web_only=credential == "cookie")
    per_victim = max(2, round(ctx.mix(300, 12)))
    s = ctx.sessions
    users = ctx.world.users
    parts = []
    for v in victims:
        n = max(2, rng.poisson(per_victim * min(ctx.volume, 1.0) ** 0.5))
        lo = int(s.start_ns[v]) + int(rng.integers(5, 120)) * NS_PER_S
        hi = max(int(s.end_ns[v]) + int(rng.integers(60, 1800)) * NS_PER_S, lo + NS_PER_S)
        hi = min(hi, ctx.hi_ns)
        ts = np.sort(rng.integers(lo, max(hi, lo + 1), n))
        endpoint = rng.choice(LOOT, size=n, p=LOOT_WEIGHTS)
        user = int(s.user[v])
        ids = object_ids(rng, ctx.world, np.full(n, user), ID1_KIND[endpoint])
        batch = calls(rng, ts, endpoint, ids)
        copy_agent = rng.random() < ctx.mix(0.01, 0.9)
        agent = s.agent[v].as_py() if copy_agent else ctx.attacker_agents(1)[0]
        owner = users.username.take(pa.array([user]))[0].as_py()
        columns: dict[str, object] = {
            "client_ip": ctx.attacker_ips(1)[0],
            "user_agent": agent,
            "username": owner,
        }
        if credential == "token":
            columns["token"] = s.token[v].as_py()
        else:
            columns["cookie"] = s.cookie[v].as_py()
        parts.append(batch.with_columns(**columns))
    return concat(parts)


def stolen_token(ctx: CampaignContext) -> Batch:
    """Victims' access tokens replayed from elsewhere during their sessions."""
    return label(ctx, _hijack(ctx, credential="token"), "token")


def stolen_cookie(ctx: CampaignContext) -> Batch:
    """Victims' session cookies replayed from elsewhere during their sessions."""
    return label(ctx, _hijack(ctx, credential="cookie"), "cookie")


def stolen_api_key(ctx: CampaignContext) -> Batch:
    """Use a partner's API key from elsewhere, alongside the partner's own traffic."""
    rng = ctx.rng
    partners = ctx.partners
    start, end = ctx.window(1.0, 8.0)
    n = ctx.count(2000, 60, minimum=3)
    ts = ctx.times(n, start, end)
    endpoint = rng.choice(PARTNER_LOOT, size=n, p=[0.35, 0.45, 0.12, 0.08])
    batch = calls(
        rng,
        ts,
        endpoint,
        np.where(
            endpoint == PARTNER_LOOT[3], rng.integers(20_260_000, 20_269_999, n), ctx.products(n)
        ),
    )
    if partners.name:
        victim = int(rng.integers(0, len(partners.name)))
        key = partners.api_key[victim].as_py()
        copy_agent = rng.random() < ctx.mix(0.01, 0.9)
        agent = partners.agent[victim] if copy_agent else ctx.attacker_agents(1)[0]
    else:
        key, agent = text.hex_ids(rng, 1, 40)[0].as_py(), ctx.attacker_agents(1)[0]
    ips = ctx.attacker_ips(ctx.bots(1, 2))
    batch = batch.with_columns(
        client_ip=text.pick(ips, rng.integers(0, len(ips), n)), user_agent=agent, api_key=key
    )
    return label(ctx, batch, "api_key")


GENERATORS = {
    "stolen_token": stolen_token,
    "stolen_cookie": stolen_cookie,
    "stolen_api_key": stolen_api_key,
}
