"""Misusing the API's logic and surface.

Calls out of order, error storms, calls to APIs and methods that do not exist, hits on
decoy paths, and bursts of deletes.
"""

from __future__ import annotations

import numpy as np

from apibehave.simulate import text
from apibehave.simulate.apis import APIS, DECOY_PATHS, ENDPOINT_INDEX, SHOP_HOST
from apibehave.simulate.batch import Batch, concat
from apibehave.simulate.campaigns.base import CampaignContext, label, pick_strings
from apibehave.simulate.render import calls
from apibehave.simulate.sessions import ID1_KIND, ID2_KIND, object_ids
from apibehave.simulate.timeline import NS_PER_S

OUT_OF_ORDER = (
    ("auth.login", "orders.checkout", "orders.create"),  # checkout with an empty cart
    ("orders.create", "orders.create", "orders.create"),  # order without checkout, replayed
    ("auth.login", "accounts.password_change", "accounts.email_update"),
    ("orders.checkout", "orders.checkout", "orders.checkout"),  # coupon / payment replay
    ("orders.invoice", "orders.cancel", "orders.invoice"),  # never opened the order
)
"""Call sequences no client makes (see apibehave.simulate.journeys for the real order)."""


def _account(ctx: CampaignContext) -> tuple[int, str, str, str, str]:
    users = ctx.world.users
    user = int(ctx.random_users(1)[0])
    stealthy = ctx.rng.random() < ctx.stealth
    ip = users.home_ip[user].as_py() if stealthy else ctx.attacker_ips(1)[0]
    agent = users.agent[user].as_py() if stealthy else ctx.attacker_agents(1)[0]
    return user, users.username[user].as_py(), text.hex_ids(ctx.rng, 1)[0].as_py(), ip, agent


def sequence_attack(ctx: CampaignContext) -> Batch:
    """Business-logic abuse: checkout without a cart, replayed orders, skipped steps."""
    rng = ctx.rng
    start, end = ctx.window(0.5, 4.0)
    runs = ctx.count(200, 10, minimum=2)
    run_start = ctx.times(runs, start, end)
    kind = rng.integers(0, len(OUT_OF_ORDER), runs)
    keys = np.array([[ENDPOINT_INDEX[k] for k in seq] for seq in OUT_OF_ORDER])
    endpoint = keys[kind].ravel()
    run = np.repeat(np.arange(runs), 3)
    ts = run_start[run] + (
        np.tile(np.arange(3), runs)
        * rng.lognormal(np.log(ctx.mix(0.3, 8)), 0.5, 3 * runs)
        * NS_PER_S
    ).astype(np.int64)
    user, name, token, ip, agent = _account(ctx)
    ids = object_ids(rng, ctx.world, np.full(len(ts), user), ID1_KIND[endpoint])
    batch = calls(rng, ts, endpoint, ids, username=text.const(name, len(ts)))
    status = np.where(
        rng.random(len(ts)) < 0.35,
        rng.choice([400, 409, 422], size=len(ts)),
        batch.columns["status"],
    )
    batch = batch.with_columns(
        status=status, client_ip=ip, user_agent=agent, token=token, username=name
    )
    return label(ctx, batch, "token")


ERROR_CALLS = ("orders.get", "accounts.get", "orders.list", "files.download", "orders.checkout")


def excessive_errors(ctx: CampaignContext) -> Batch:
    """Send calls that nearly all fail: bad tokens, wrong methods, bad requests."""
    rng = ctx.rng
    start, end = ctx.window(0.5, 8.0)
    n = ctx.count(3000, 200, minimum=10)
    ts = ctx.times(n, start, end)
    endpoint = np.array([ENDPOINT_INDEX[k] for k in ERROR_CALLS])[rng.integers(0, 5, n)]
    batch = calls(rng, ts, endpoint, rng.integers(1_000_000, 90_000_000, n))
    failing = rng.random(n) < ctx.mix(0.97, 0.6)
    status = np.where(
        failing, rng.choice([400, 401, 403, 404, 405], size=n), batch.columns["status"]
    )
    batch = batch.with_columns(
        status=status,
        resp_bytes=np.where(failing, rng.integers(90, 300, n), batch.columns["resp_bytes"]),
        token=pick_strings(rng, [t.as_py() for t in text.hex_ids(rng, 5)], n),
    )
    bots = ctx.bots(1, 1)
    ips = ctx.attacker_ips(bots)
    batch = batch.with_columns(
        client_ip=text.pick(ips, rng.integers(0, bots, n)), user_agent=ctx.attacker_agents(1)[0]
    )
    return label(ctx, batch, "ip")


INVALID_PATHS = (
    "/v3/accounts/me", "/api/v1/users", "/v1/payments/charge", "/graphql", "/v1/admin/users",
    "/internal/metrics", "/v0/catalogue/products", "/v1/accountz/1", "/soap/ws", "/rpc",
)  # fmt: skip
INVALID_HOSTS = ("admin.shop.example.com", "staging-api.shop.example.com", "api.shop.example.org")
INVALID_METHODS = ("PATCH", "PROPFIND", "TRACE", "CONNECT", "PURGE")


def invalid_api(ctx: CampaignContext) -> Batch:
    """Call APIs, hosts and methods outside every API in the catalogue."""
    rng = ctx.rng
    start, end = ctx.window(0.17, 8.0)
    n = ctx.count(800, 10, minimum=3)
    ts = ctx.times(n, start, end)
    batch = calls(rng, ts, np.full(n, ENDPOINT_INDEX["catalogue.product"]), ctx.products(n))
    kind = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])  # unknown path, unknown method, unknown host
    path = text.where(kind == 0, pick_strings(rng, list(INVALID_PATHS), n), batch.columns["path"])
    method = text.where(kind == 1, pick_strings(rng, list(INVALID_METHODS), n), "GET")
    host = text.where(kind == 2, pick_strings(rng, list(INVALID_HOSTS), n), SHOP_HOST)
    status = np.select([kind == 0, kind == 1], [404, 405], 421)
    batch = batch.with_columns(
        path=path,
        method=method,
        host=host,
        status=status,
        api=None,
        resp_bytes=rng.integers(90, 300, n),
        query=None,
    )
    bots = ctx.bots(1, 5)
    ips = ctx.attacker_ips(bots)
    batch = batch.with_columns(
        client_ip=text.pick(ips, rng.integers(0, bots, n)),
        user_agent=pick_strings(rng, ctx.attacker_agents(bots), n),
    )
    return label(ctx, batch, "ip")


_DECOY_API = {path: api.name for api in APIS for path in api.decoy_paths}


def decoy(ctx: CampaignContext) -> Batch:
    """Hits on decoy paths; quiet: one or two among ordinary-looking browsing."""
    rng = ctx.rng
    start, end = ctx.window(0.1, 6.0)
    n = ctx.count(200, 2, minimum=1)
    bots = ctx.bots(1, 1)
    ts = ctx.times(n, start, end)
    which = rng.integers(0, len(DECOY_PATHS), n)
    hosts = [h for h, _ in DECOY_PATHS]
    paths = [p for _, p in DECOY_PATHS]
    batch = calls(rng, ts, np.full(n, ENDPOINT_INDEX["catalogue.categories"]), with_query=False)
    batch = batch.with_columns(
        host=text.pick(hosts, which),
        path=text.pick(paths, which),
        api=text.pick([_DECOY_API[p] for p in paths], which),
        status=rng.choice([404, 403, 401], size=n),
        resp_bytes=rng.integers(90, 300, n),
    )
    cover_n = round(ctx.stealth * 20 * n)
    parts = [batch]
    if cover_n:
        parts.append(ctx.browsing(ctx.times(cover_n, start, end)))
    ips = ctx.attacker_ips(bots)
    agent = ctx.attacker_agents(1)[0]
    out = concat(parts)
    out = out.with_columns(
        client_ip=text.pick(ips, rng.integers(0, bots, len(out))), user_agent=agent
    )
    return label(ctx, out, "ip")


DELETES = ("files.delete", "accounts.address_delete", "orders.cancel", "orders.cart_remove")


def data_deletion(ctx: CampaignContext) -> Batch:
    """Delete in a burst through one account; quiet: a few dozen over hours."""
    rng = ctx.rng
    start, end = ctx.window(0.1, 3.0)
    n = ctx.count(600, 25, minimum=3)
    ts = ctx.times(n, start, end)
    endpoint = np.array([ENDPOINT_INDEX[k] for k in DELETES])[
        rng.choice(4, size=n, p=[0.5, 0.15, 0.25, 0.1])
    ]
    user, name, token, ip, agent = _account(ctx)
    users = np.full(n, user)
    ids = object_ids(rng, ctx.world, users, ID1_KIND[endpoint]) + np.arange(n) * (
        ID1_KIND[endpoint] == ID1_KIND[ENDPOINT_INDEX["files.delete"]]
    )
    batch = calls(rng, ts, endpoint, ids, object_ids(rng, ctx.world, users, ID2_KIND[endpoint]))
    status = np.where(rng.random(n) < 0.2, rng.choice([403, 404], size=n), batch.columns["status"])
    batch = batch.with_columns(
        status=status, client_ip=ip, user_agent=agent, token=token, username=name
    )
    return label(ctx, batch, "token")


GENERATORS = {
    "sequence_attack": sequence_attack,
    "excessive_errors": excessive_errors,
    "invalid_api": invalid_api,
    "decoy": decoy,
    "data_deletion": data_deletion,
}
