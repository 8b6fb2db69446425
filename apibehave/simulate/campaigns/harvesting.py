"""Taking data out: bulk exfiltration, catalogue scraping, object-id enumeration.

Bulk exfiltration through an account, systematic scraping of the catalogue, and
enumeration of object ids that belong to others (BOLA).
"""

from __future__ import annotations

import numpy as np

from apibehave.simulate import text
from apibehave.simulate.apis import ENDPOINT_INDEX
from apibehave.simulate.batch import Batch, concat
from apibehave.simulate.campaigns.base import CampaignContext, label, pick_strings
from apibehave.simulate.render import CATEGORIES, calls
from apibehave.simulate.sessions import ID1_KIND, PRODUCT_BASE, object_ids

EXFIL = np.array(
    [
        ENDPOINT_INDEX[k]
        for k in ("files.download", "accounts.export", "orders.invoice", "files.list")
    ]
)


def _account_holder(ctx: CampaignContext) -> tuple[int, str, str, str, str]:
    """Pick a real user whose account the attacker uses: user, username, token, address, agent."""
    users = ctx.world.users
    user = int(ctx.random_users(1)[0])
    stealthy = ctx.rng.random() < ctx.stealth
    ip = users.home_ip[user].as_py() if stealthy else ctx.attacker_ips(1)[0]
    agent = users.agent[user].as_py() if stealthy else ctx.attacker_agents(1)[0]
    return user, users.username[user].as_py(), text.hex_ids(ctx.rng, 1)[0].as_py(), ip, agent


def data_exfiltration(ctx: CampaignContext) -> Batch:
    """Many large downloads and exports through one account; quiet: spread over a day."""
    rng = ctx.rng
    start, end = ctx.window(0.5, 8.0)
    n = ctx.count(1500, 60, minimum=5)
    ts = ctx.times(n, start, end)
    endpoint = rng.choice(EXFIL, size=n, p=[0.6, 0.1, 0.2, 0.1])
    user, name, token, ip, agent = _account_holder(ctx)
    ids = object_ids(rng, ctx.world, np.full(n, user), ID1_KIND[endpoint])
    ids = np.where(endpoint == EXFIL[0], ids + rng.integers(0, 5000, n), ids)
    batch = calls(rng, ts, endpoint, ids)
    resp = batch.columns["resp_bytes"] * ctx.mix(8.0, 1.5)
    batch = batch.with_columns(
        resp_bytes=resp.astype(np.int64),
        client_ip=ip,
        user_agent=agent,
        token=token,
        username=name,
    )
    return label(ctx, batch, "token")


def content_scraping(ctx: CampaignContext) -> Batch:
    """Every catalogue page and product in order; quiet: a botnet, each host a little."""
    rng = ctx.rng
    start, end = ctx.window(1.5, 20.0)
    n = ctx.count(20_000, 6_000)
    bots = ctx.bots(3, 300)
    ts = ctx.times(n, start, end)
    step = np.arange(n)
    is_page = step % 4 == 0  # a listing page, then details of products on it
    page = step // 4
    product = PRODUCT_BASE + (step - step // 4 - 1).clip(0)
    endpoint = np.where(
        is_page, ENDPOINT_INDEX["catalogue.products"], ENDPOINT_INDEX["catalogue.product"]
    )
    batch = calls(rng, ts, endpoint, product, with_query=False)
    query = text.join(
        "category=",
        text.pick(CATEGORIES, (page // 200) % len(CATEGORIES)),
        "&page=",
        text.ints(page % 200 + 1),
        "&size=",
        "100" if ctx.stealth < 0.5 else "24",
    )
    ips = ctx.attacker_ips(bots)
    bot = (step * bots // max(n, 1)).clip(0, bots - 1)  # each host takes a slice
    batch = batch.with_columns(
        query=text.where(is_page, query, text.nulls(n)),
        client_ip=text.pick(ips, bot),
        user_agent=pick_strings(rng, ctx.attacker_agents(max(1, bots // 10)), n),
        cookie=text.pick(text.hex_ids(rng, bots, 24), bot) if ctx.stealth > 0.5 else None,
    )
    return label(ctx, batch, "ip")


def enumeration(ctx: CampaignContext) -> Batch:
    """Walk, logged in, object ids that are not its own (403 and 404 mostly)."""
    rng = ctx.rng
    start, end = ctx.window(0.33, 6.0)
    n = ctx.count(3000, 150, minimum=10)
    ts = ctx.times(n, start, end)
    users = ctx.world.users
    user, name, token, ip, agent = _account_holder(ctx)
    target = rng.choice(["orders.get", "accounts.get", "files.download"], p=[0.5, 0.3, 0.2])
    base = {
        "orders.get": users.order_base,
        "accounts.get": users.account_id,
        "files.download": users.document_base,
    }[target][user]
    stride = np.where(rng.random(n) < ctx.stealth, rng.integers(2, 40, n), 1)
    ids = base - n // 2 + np.cumsum(stride)
    batch = calls(rng, ts, np.full(n, ENDPOINT_INDEX[target]), ids)
    u = rng.random(n)
    status = np.where(u < 0.55, 404, 403)
    status = np.where(u > 0.96, 200, status)  # some objects leak: the BOLA finding
    status[ids == base] = 200
    resp = np.where(status == 200, batch.columns["resp_bytes"], rng.integers(90, 300, n))
    batch = batch.with_columns(
        status=status,
        resp_bytes=resp,
        client_ip=ip,
        user_agent=agent,
        token=token,
        username=name,
    )
    if ctx.stealth > 0.5:
        cover = ctx.browsing(ctx.times(n, start, end)).with_columns(
            client_ip=ip, user_agent=agent, token=token, username=name
        )
        batch = concat([batch, cover])
    return label(ctx, batch, "token")


GENERATORS = {
    "data_exfiltration": data_exfiltration,
    "content_scraping": content_scraping,
    "enumeration": enumeration,
}
