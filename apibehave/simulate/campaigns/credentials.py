"""Attacks on the login: credential stuffing, one client hammering one account, login floods."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from apibehave.simulate import text
from apibehave.simulate.apis import ENDPOINT_INDEX
from apibehave.simulate.batch import Batch, concat
from apibehave.simulate.campaigns.base import CampaignContext, burst_times, label, pick_strings
from apibehave.simulate.population import usernames
from apibehave.simulate.render import calls
from apibehave.simulate.timeline import NS_PER_S

LOGIN = ENDPOINT_INDEX["auth.login"]
ACCOUNT = ENDPOINT_INDEX["accounts.get"]
CATEGORIES = ENDPOINT_INDEX["catalogue.categories"]


def _login_calls(ctx: CampaignContext, ts: np.ndarray, names: pa.Array) -> Batch:
    return calls(ctx.rng, ts, np.full(len(ts), LOGIN), username=names).with_columns(username=names)


def _leaked_names(ctx: CampaignContext, n: int, real_share: float) -> pa.Array:
    """Return a combo list: some real users' names, the rest from other breaches."""
    users = ctx.world.users
    real = ctx.rng.random(n) < real_share
    invented = pa.array(usernames(ctx.rng, n), type=pa.string())
    real_names = text.pick(users.username, ctx.rng.integers(0, len(users), n))
    return text.where(real, real_names, invented)


def credential_stuffing(ctx: CampaignContext) -> Batch:
    """Many accounts tried from many addresses; quiet: a few tries per address over hours."""
    rng = ctx.rng
    start, end = ctx.window(1.0, 10.0)
    bots = ctx.bots(300, 3000)
    per_bot = max(1, round(ctx.mix(60, 3)))
    attempts = ctx.count(bots * per_bot, bots * per_bot)
    bot = rng.integers(0, bots, attempts)
    if ctx.stealth < 0.5:
        first = ctx.times(bots, start, end)
        _, ts = burst_times(rng, first, np.bincount(bot, minlength=bots), ctx.mix(1.5, 600))
        bot = np.repeat(np.arange(bots), np.bincount(bot, minlength=bots))
    else:
        ts = ctx.times(attempts, start, end)
    names = _leaked_names(ctx, attempts, 0.35)
    batch = _login_calls(ctx, ts, names)
    status = np.where(rng.random(attempts) < 0.012, 200, 401)
    status[rng.random(attempts) < ctx.mix(0.08, 0.0)] = 429
    ips = ctx.attacker_ips(bots)
    agent_pool = ctx.attacker_agents(max(bots // 3, 1) if ctx.stealth > 0.5 else 3)
    ua = pick_strings(rng, agent_pool, attempts)
    cookies = text.hex_ids(rng, attempts, 24)
    batch = batch.with_columns(
        status=status,
        client_ip=text.pick(ips, bot),
        user_agent=ua,
        cookie=text.where(rng.random(attempts) < ctx.stealth, cookies, text.nulls(attempts)),
    )
    parts = [batch]
    hits = np.flatnonzero(status == 200)
    if len(hits):
        follow = calls(
            rng,
            ts[hits] + rng.integers(1, 5, len(hits)) * NS_PER_S,
            np.full(len(hits), ACCOUNT),
            ctx.world.users.account_id[rng.integers(0, len(ctx.world.users), len(hits))],
        )
        parts.append(
            follow.with_columns(
                client_ip=text.pick(ips, bot[hits]),
                user_agent=ua.take(pa.array(hits)),
                username=names.take(pa.array(hits)),
                token=text.hex_ids(rng, len(hits)),
            )
        )
    return label(ctx, concat(parts), "ip")


def login_attack(ctx: CampaignContext) -> Batch:
    """One client guessing one account's password; quiet: slow and patient."""
    rng = ctx.rng
    start, end = ctx.window(0.5, 8.0)
    attempts = ctx.count(3000, 60, minimum=5)
    ts = ctx.times(attempts, start, end)
    victim = ctx.random_users(1)
    name = ctx.world.users.username.take(pa.array(victim))[0].as_py()
    bots = ctx.bots(1, 1)
    ips = ctx.attacker_ips(bots)
    agent = ctx.attacker_agents(1)[0]
    batch = _login_calls(ctx, ts, text.const(name, attempts))
    status = np.full(attempts, 401)
    throttled = (np.arange(attempts) > 20) & (rng.random(attempts) < ctx.mix(0.4, 0.02))
    status[throttled] = 429
    if rng.random() < 0.3:
        status[-1] = 200
    batch = batch.with_columns(
        status=status, client_ip=text.pick(ips, rng.integers(0, bots, attempts)), user_agent=agent
    )
    return label(ctx, batch, "ip")


def login_ddos(ctx: CampaignContext) -> Batch:
    """Flood the login from a botnet; quiet: more hosts, each slower, for longer."""
    rng = ctx.rng
    start, end = ctx.window(0.33, 2.0)
    requests = ctx.count(70_000, 20_000)
    bots = ctx.bots(1500, 4000)
    ts = np.sort(rng.integers(start, end, requests))
    bot = rng.integers(0, bots, requests)
    names = _leaked_names(ctx, requests, 0.1)
    batch = _login_calls(ctx, ts, names)
    overload = rng.random(requests) < ctx.mix(0.35, 0.05)
    status = np.where(overload, rng.choice([429, 503, 504], size=requests), 401)
    latency = batch.columns["latency_ms"] * np.where(overload, ctx.mix(12, 2), 1.0)
    ips = ctx.attacker_ips(bots)
    batch = batch.with_columns(
        status=status,
        latency_ms=latency,
        client_ip=text.pick(ips, bot),
        user_agent=pick_strings(rng, ctx.attacker_agents(min(bots, 40)), requests),
    )
    return label(ctx, batch, "ip")


GENERATORS = {
    "credential_stuffing": credential_stuffing,
    "login_attack": login_attack,
    "login_ddos": login_ddos,
}
