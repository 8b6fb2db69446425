"""Benign services: actors of their own that look like attackers (traps with a knob each).

Partner integrations on API keys, a price-comparison crawler, search-engine bots,
customers' scripts, uptime monitors and a nightly export job. Their events are labelled
``normal`` and carry the trap's name in the ``trap`` column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from apibehave.simulate import agents, network, text
from apibehave.simulate.apis import ENDPOINT_INDEX, PARTNER_HOST
from apibehave.simulate.batch import Batch, concat
from apibehave.simulate.render import CATEGORIES, calls
from apibehave.simulate.timeline import NS_PER_H, NS_PER_S
from apibehave.simulate.world import World


@dataclass(frozen=True)
class Partners:
    """Partner integrations: names, API keys, addresses and agents (one row per partner)."""

    name: list[str]
    api_key: pa.Array
    ips: list[list[str]]
    agent: list[str]


def partner_integrations(world: World) -> tuple[Batch, Partners]:
    """Partners syncing inventory, prices and orders in bursts, around the clock."""
    settings = world.scenario.traps.partner_integrations
    rng = world.rng("partner_integrations")
    count = settings.partners if settings.enabled else 0
    names = [f"partner-{i + 1:02d}" for i in range(count)]
    keys = text.hex_ids(rng, count, 40)
    ips = [network.datacenter_ips(rng, int(rng.integers(1, 4))) for _ in range(count)]
    libs = agents.libraries(rng, count)
    agent_names = [  # half the partners send their HTTP library's bare agent
        lib if i % 2 == 0 else f"{n.title().replace('-', '')}-Connector/{i + 1}.{i * 3} {lib}"
        for i, (n, lib) in enumerate(zip(names, libs, strict=True))
    ]
    partners = Partners(names, keys, ips, agent_names)
    batches = []
    per_sync = world.scaled(settings.calls_per_sync)
    interval = settings.sync_interval_s * NS_PER_S
    mix = [
        "partner.inventory",
        "partner.prices",
        "partner.orders",
        "partner.order_create",
        "partner.feed",
        "partner.export",
    ]
    for p in range(count):
        phase = rng.integers(0, interval)
        syncs = np.arange(
            world.frame.start_ns + phase, world.frame.end_ns, interval, dtype=np.int64
        )
        syncs = syncs + (rng.normal(0, 5, len(syncs)) * NS_PER_S).astype(np.int64)
        size = np.maximum(1, rng.poisson(per_sync, len(syncs)))
        sync = np.repeat(np.arange(len(syncs)), size)
        order_in_sync = np.arange(len(sync)) - np.repeat(np.cumsum(size) - size, size)
        ts = syncs[sync] + (order_in_sync * rng.uniform(60, 220, len(sync)) * 1e6).astype(np.int64)
        kind = rng.choice(6, size=len(ts), p=[0.15, 0.68, 0.1, 0.05, 0.018, 0.002])
        endpoint = np.array([ENDPOINT_INDEX[k] for k in mix])[kind]
        product = 100_000 + rng.integers(0, world.scenario.population.products, len(ts))
        export = rng.integers(20_260_000, 20_269_999, len(ts))
        batch = calls(rng, ts, endpoint, np.where(kind == 5, export, product))
        status = batch.columns["status"]
        status[rng.random(len(ts)) < 0.004] = 429
        status[rng.random(len(ts)) < 0.003] = 404
        batch = batch.with_columns(
            status=status,
            client_ip=text.pick(ips[p], rng.integers(0, len(ips[p]), len(ts))),
            # real integrations have quirks: an explicit port in Host, no User-Agent at all
            host=f"{PARTNER_HOST}:443" if p == 1 else PARTNER_HOST,
            user_agent=None if p == 2 else agent_names[p],
            api_key=text.pick(keys, np.full(len(ts), p)),
            label="normal",
            actor=names[p],
            trap="partner_integrations",
        )
        batches.append(batch)
    return _concat_or_empty(batches), partners


def crawler_partner(world: World) -> Batch:
    """Page through the catalogue at a steady pace, as a price-comparison partner."""
    settings = world.scenario.traps.crawler_partner
    if not settings.enabled:
        return _concat_or_empty([])
    rng = world.rng("crawler_partner")
    hours = world.frame.hours
    n = rng.poisson(settings.pages_per_hour * hours * world.scenario.scale)
    ts = np.sort(rng.integers(world.frame.start_ns, world.frame.end_ns, n))
    endpoint = np.full(n, ENDPOINT_INDEX["catalogue.products"])
    batch = calls(rng, ts, endpoint, with_query=False)
    pages_per_category = 60
    step = np.arange(n)
    category = (step // pages_per_category) % 12
    page = step % pages_per_category + 1
    ips = network.datacenter_ips(rng, settings.ips)
    key = text.hex_ids(rng, 1, 40)[0].as_py()
    query = text.join(
        "category=",
        text.pick(CATEGORIES, category),
        "&page=",
        text.ints(page),
        "&size=100&sort=newest&api_key=",
        key,
    )
    return batch.with_columns(
        query=query,
        resp_bytes=(batch.columns["resp_bytes"] * 4).astype(np.int64),
        client_ip=text.pick(ips, rng.integers(0, len(ips), n)),
        user_agent="PriceCompareBot/2.3 (+https://pricecompare.example.org/bot)",
        api_key=key,
        label="normal",
        actor="partner-pricecompare",
        trap="crawler_partner",
    )


SEARCH_BOTS = (
    ("bot-googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     ("66.249.66.1", "66.249.66.87", "66.249.68.33", "66.249.79.118")),
    ("bot-bingbot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
     "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
     ("157.55.39.12", "40.77.167.54", "207.46.13.91")),
)  # fmt: skip
"""Search engines: actor, agent, addresses."""


def search_engine_bots(world: World) -> Batch:
    """Fetch catalogue pages the way search engines do: evenly, long tail included."""
    settings = world.scenario.traps.search_engine_bots
    if not settings.enabled:
        return _concat_or_empty([])
    rng = world.rng("search_engine_bots")
    n = rng.poisson(settings.pages_per_hour * world.frame.hours * world.scenario.scale)
    ts = np.sort(rng.integers(world.frame.start_ns, world.frame.end_ns, n))
    kind = rng.choice(3, size=n, p=[0.8, 0.15, 0.05])
    endpoint = np.array(
        [
            ENDPOINT_INDEX[k]
            for k in ("catalogue.product", "catalogue.products", "catalogue.categories")
        ]
    )[kind]
    products = world.scenario.population.products
    batch = calls(rng, ts, endpoint, 100_000 + rng.integers(0, int(products * 1.1), n))
    status = np.where((kind == 0) & (rng.random(n) < 0.05), 404, batch.columns["status"])
    bot = rng.choice(len(SEARCH_BOTS), size=n, p=[0.7, 0.3])
    ip_vocab = [ip for _, _, ips in SEARCH_BOTS for ip in ips]
    sizes = np.array([len(ips) for _, _, ips in SEARCH_BOTS])
    ip_code = (np.cumsum(sizes) - sizes)[bot] + rng.integers(0, 1 << 30, n) % sizes[bot]
    return batch.with_columns(
        status=status,
        client_ip=text.pick(ip_vocab, ip_code),
        user_agent=text.pick([agent for _, agent, _ in SEARCH_BOTS], bot),
        label="normal",
        actor=text.pick([name for name, _, _ in SEARCH_BOTS], bot),
        trap="search_engine_bots",
    )


def scripted_users(world: World) -> Batch:
    """Poll one's own orders from home with a script, for a few hours a day."""
    settings = world.scenario.traps.scripted_users
    if not settings.enabled:
        return _concat_or_empty([])
    rng = world.rng("scripted_users")
    users = world.users
    who = rng.choice(len(users), size=min(world.scaled(settings.users), len(users)), replace=False)
    interval = int(settings.poll_interval_s * NS_PER_S)
    parts = []
    for user in who.tolist():
        hours = min(rng.uniform(2, 14), 0.9 * world.frame.hours)
        start = int(rng.integers(world.frame.start_ns, world.frame.end_ns - int(hours * NS_PER_H)))
        polls = np.arange(start, start + int(hours * NS_PER_H), interval, dtype=np.int64)
        polls = polls + rng.integers(0, NS_PER_S, len(polls))
        detail = rng.random(len(polls)) < 0.3
        ts = np.concatenate(
            [polls, polls[detail] + rng.integers(100, 400, int(detail.sum())) * 10**6]
        )
        endpoint = np.concatenate(
            [
                np.full(len(polls), ENDPOINT_INDEX["orders.list"]),
                np.full(int(detail.sum()), ENDPOINT_INDEX["orders.get"]),
            ]
        )
        ids = users.order_base[user] + rng.integers(0, 15, len(ts))
        batch = calls(rng, ts, endpoint, ids)
        parts.append(
            batch.with_columns(
                client_ip=users.home_ip[user].as_py(),
                user_agent=agents.libraries(rng, 1)[0],
                token=text.hex_ids(rng, 1)[0].as_py(),
                username=users.username[user].as_py(),
                label="normal",
                actor=f"user-{user}",
                trap="scripted_users",
            )
        )
    return _concat_or_empty(parts)


MONITOR_AGENTS = (
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Site24x7",
    "kube-probe/1.29",
)


def uptime_monitors(world: World) -> Batch:
    """Check a few public endpoints every minute from monitoring services' addresses."""
    settings = world.scenario.traps.uptime_monitors
    if not settings.enabled:
        return _concat_or_empty([])
    rng = world.rng("uptime_monitors")
    interval = int(settings.interval_s * NS_PER_S)
    targets = np.array(
        [ENDPOINT_INDEX[k] for k in ("catalogue.categories", "catalogue.search", "auth.login")]
    )
    parts = []
    for m in range(settings.monitors):
        ticks = np.arange(world.frame.start_ns + int(rng.integers(0, interval)), world.frame.end_ns,
                          interval, dtype=np.int64)  # fmt: skip
        endpoint = targets[m % len(targets)]
        login = endpoint == targets[2]  # a synthetic login with a test account
        account = text.const("synthetic-monitor" if login else None, len(ticks))
        batch = calls(rng, ticks, np.full(len(ticks), endpoint), username=account)
        ips = network.datacenter_ips(rng, 4)
        batch = batch.with_columns(
            query="q=health" if endpoint == targets[1] else batch.columns["query"],
            username=account,
            client_ip=text.pick(ips, rng.integers(0, 4, len(ticks))),
            user_agent=MONITOR_AGENTS[m % len(MONITOR_AGENTS)],
            label="normal",
            actor=f"monitor-{m + 1}",
            trap="uptime_monitors",
        )
        parts.append(batch)
    return _concat_or_empty(parts)


def nightly_export(world: World) -> Batch:
    """Download huge documents every night from an internal address (a reporting job)."""
    settings = world.scenario.traps.nightly_export
    if not settings.enabled:
        return _concat_or_empty([])
    rng = world.rng("nightly_export")
    day0 = world.frame.start_ns - world.frame.start_ns % (24 * NS_PER_H)
    nights = np.arange(day0, world.frame.end_ns, 24 * NS_PER_H) + int(settings.hour_utc * NS_PER_H)
    nights = nights[(nights >= world.frame.start_ns) & (nights < world.frame.end_ns)]
    per_night = world.scaled(settings.exports)
    ts = (
        np.concatenate(
            [night + np.sort(rng.integers(0, 45 * 60 * NS_PER_S, per_night)) for night in nights]
        )
        if len(nights)
        else np.zeros(0, dtype=np.int64)
    )
    endpoint = np.full(len(ts), ENDPOINT_INDEX["files.download"])
    batch = calls(rng, ts, endpoint, rng.integers(100_000_000, 900_000_000, len(ts)))
    token = text.hex_ids(rng, len(nights), 32)
    night = np.searchsorted(nights, ts, side="right") - 1
    return batch.with_columns(
        resp_bytes=rng.lognormal(np.log(80e6), 0.8, len(ts)).astype(np.int64),
        latency_ms=rng.lognormal(np.log(12_000), 0.5, len(ts)),
        client_ip="10.40.2.15",
        user_agent="ReportingETL/1.9 python-requests/2.31.0",
        token=text.pick(token, night),
        username="svc-reporting",
        label="normal",
        actor="svc-reporting",
        trap="nightly_export",
    )


def _concat_or_empty(batches: list[Batch]) -> Batch:
    return concat(batches)
