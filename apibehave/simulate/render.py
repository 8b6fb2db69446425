"""Turn integer call plans (time, endpoint code, object ids) into event columns.

:func:`calls` is the one funnel every generator uses: it renders method, path, host,
API, the query and body a benign client would send, a successful status and realistic
sizes and latency; the caller then overrides whatever its story changes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from apibehave.simulate import text
from apibehave.simulate.apis import API_BY_NAME, ENDPOINTS
from apibehave.simulate.batch import Batch

SEARCH_TERMS = (
    "running+shoes", "rain+jacket", "usb-c+cable", "coffee+grinder", "yoga+mat", "desk+lamp",
    "wireless+earbuds", "kids+backpack", "phone+case", "standing+desk", "air+fryer",
    "winter+boots", "linen+shirt", "board+games", "led+strip", "water+bottle", "hiking+socks",
    "mechanical+keyboard", "gift+card", "sunglasses", "bed+sheets", "cast+iron+pan",
    "men%27s+boots", "o%27neill+jacket", "union+jack+flag", "drop+earrings",
    "select+comfort+pillow", "script+font+poster", "1%2F2+inch+drill+bit", "100%25+cotton",
    "tom+%26+jerry", "c%2B%2B+book", "rock+%27n%27+roll+vinyl", "where+to+buy+table+salt",
    "or+and+not+logic+puzzle", "%E6%97%A5%E6%9C%AC+tea", "caf%C3%A9+au+lait+mug", "-1+gauge",
    "..%2F", "exec+chair", "admin+desk+organiser", "insert+tool+bit", "delete+key+cap",
)  # fmt: skip
"""Benign searches; some look like injection on purpose (traps for payload detectors)."""

CATEGORIES = (
    "shoes", "outdoor", "electronics", "kitchen", "home", "kids", "sports", "books", "garden",
    "beauty", "toys", "office",
)  # fmt: skip
SORTS = ("relevance", "price_asc", "price_desc", "newest", "rating")


def lognormal(rng: np.random.Generator, median: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Draw lognormal values with the given medians and log-space spreads."""
    return median * np.exp(sigma * rng.standard_normal(len(median)))


def _table(attr: Callable[[object], object], dtype: str) -> np.ndarray:
    return np.array([attr(e) for e in ENDPOINTS], dtype=dtype)


_METHOD = [e.method for e in ENDPOINTS]
_API = [e.api for e in ENDPOINTS]
_HEAD = [e.path_parts()[0] for e in ENDPOINTS]
_MIDDLE = [e.path_parts()[1] for e in ENDPOINTS]
_TAIL = [e.path_parts()[2] for e in ENDPOINTS]
_ID_COUNT = _table(lambda e: len(e.ids), "int64")
_OK = _table(lambda e: e.ok_status, "int64")
_RESP_MEDIAN = _table(lambda e: e.resp.median, "float64")
_RESP_SIGMA = _table(lambda e: e.resp.sigma, "float64")
_REQ_MEDIAN = _table(lambda e: e.req.median if e.req else 0.0, "float64")
_REQ_SIGMA = _table(lambda e: e.req.sigma if e.req else 0.0, "float64")
_LAT_MEDIAN = _table(lambda e: e.latency_ms.median, "float64")
_LAT_SIGMA = _table(lambda e: e.latency_ms.sigma, "float64")
QUERY_KINDS = sorted({e.query for e in ENDPOINTS if e.query})
BODY_KINDS = sorted({e.body for e in ENDPOINTS if e.body})
_QUERY_CODE = _table(lambda e: QUERY_KINDS.index(e.query) if e.query else -1, "int64")
_BODY_CODE = _table(lambda e: BODY_KINDS.index(e.body) if e.body else -1, "int64")


_HOST = [API_BY_NAME[a].host for a in _API]


def paths(endpoint: np.ndarray, id1: np.ndarray, id2: np.ndarray) -> pa.Array:
    """Render the URL path of each call from its endpoint and object ids."""
    count = _ID_COUNT[endpoint]
    return text.join(
        text.pick(_HEAD, endpoint),
        text.where(count >= 1, text.ints(id1), ""),
        text.pick(_MIDDLE, endpoint),
        text.where(count >= 2, text.ints(id2), ""),
        text.pick(_TAIL, endpoint),
    )


def scatter(n: int, pieces: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """Place each piece's strings at its row positions; rows no piece covers are null."""
    covered = np.zeros(n, dtype=bool)
    for rows, _ in pieces:
        covered[rows] = True
    rest = np.flatnonzero(~covered)
    positions = np.concatenate([rows for rows, _ in pieces] + [rest]) if pieces else rest
    values = pa.concat_arrays([v.cast(pa.string()) for _, v in pieces] + [text.nulls(len(rest))])
    inverse = np.empty(n, dtype=np.int64)
    inverse[positions] = np.arange(n)
    return values.take(pa.array(inverse))


def _page(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.geometric(0.55, n)


def benign_queries(rng: np.random.Generator, endpoint: np.ndarray) -> pa.Array:
    """Render the query string a benign client sends to each endpoint (null when none)."""
    code = _QUERY_CODE[endpoint]
    pieces = []
    for k, kind in enumerate(QUERY_KINDS):
        rows = np.flatnonzero(code == k)
        if len(rows):
            pieces.append((rows, _query(kind, rng, len(rows))))
    return scatter(len(endpoint), pieces)


def _query(kind: str, rng: np.random.Generator, n: int) -> pa.Array:
    page = text.ints(_page(rng, n))
    if kind == "products":
        sort = text.where(
            rng.random(n) < 0.5, text.join("&sort=", text.pick(SORTS, rng.integers(0, 5, n))), ""
        )
        category = text.pick(CATEGORIES, rng.integers(0, len(CATEGORIES), n))
        return text.join("category=", category, "&page=", page, "&size=24", sort)
    if kind == "search":
        term = text.pick(SEARCH_TERMS, zipf_codes(rng, n, len(SEARCH_TERMS), 1.1))
        return text.join("q=", term, "&page=", page)
    if kind == "reviews":
        return text.join("page=", page, "&sort=recent")
    if kind == "recommendations":
        return text.join("product=", text.ints(100_000 + zipf_codes(rng, n, 40_000)), "&limit=8")
    if kind in ("orders", "documents"):
        return text.join("page=", page, "&size=", "10" if kind == "orders" else "20")
    if kind == "inventory":
        return text.join("page=", page, "&size=500&updated_since=2026-03-01T00%3A00%3A00Z")
    if kind == "partner_orders":
        return text.const("status=open&limit=100", n)
    if kind == "feed":
        return text.join("page=", page, "&size=200&format=json")
    raise ValueError(f"no renderer for query kind {kind}")  # pragma: no cover


def zipf_codes(rng: np.random.Generator, n: int, size: int, exponent: float = 1.0) -> np.ndarray:
    """Draw ``n`` codes in ``0..size-1`` with Zipf-like popularity (code 0 most popular)."""
    u = rng.random(n)
    if exponent == 1.0:
        codes = np.floor(np.exp(u * np.log(size + 1)) - 1)
    else:
        a = 1.0 - exponent
        codes = np.floor((((size + 1) ** a - 1) * u + 1) ** (1 / a) - 1)
    return np.clip(codes, 0, size - 1).astype(np.int64)


def benign_bodies(
    rng: np.random.Generator, endpoint: np.ndarray, username: pa.Array | None
) -> pa.Array:
    """Render the request body a benign client sends to each endpoint (null when none)."""
    code = _BODY_CODE[endpoint]
    pieces = []
    for k, kind in enumerate(BODY_KINDS):
        rows = np.flatnonzero(code == k)
        if len(rows):
            names = None if username is None else username.take(pa.array(rows))
            pieces.append((rows, _body(kind, rng, len(rows), names)))
    return scatter(len(endpoint), pieces)


def _body(kind: str, rng: np.random.Generator, n: int, names: pa.Array | None) -> pa.Array:
    user = text.const("guest", n) if names is None else pc_fill(names, "guest")
    number = text.ints(rng.integers(100_000, 999_999, n))
    if kind == "login":
        remember = text.pick(["true", "false"], rng.integers(0, 2, n))
        return text.join(
            '{"username":"', user, '","password":"********","remember_me":', remember, "}"
        )
    if kind == "refresh":
        return text.const('{"refresh_token":"<redacted>","grant_type":"refresh_token"}', n)
    if kind == "password_reset":
        return text.join('{"email":"', user, '@mail.example.net"}')
    if kind == "profile":
        return text.join(
            '{"display_name":"',
            user,
            '","phone":"+44 7700 9',
            number,
            '","newsletter":',
            text.pick(["true", "false"], rng.integers(0, 2, n)),
            "}",
        )
    if kind == "email":
        return text.join('{"email":"', user, ".", number, '@mail.example.net"}')
    if kind == "password":
        return text.const('{"current_password":"********","new_password":"********"}', n)
    if kind == "cart_item":
        qty = text.ints(rng.geometric(0.7, n))
        product = text.ints(100_000 + zipf_codes(rng, n, 40_000))
        return text.join('{"product_id":', product, ',"quantity":', qty, "}")
    if kind == "checkout":
        method = text.pick(["card", "paypal", "apple_pay", "klarna"], rng.integers(0, 4, n))
        return text.join('{"payment_method":"', method, '","shipping":"standard","coupon":null}')
    if kind == "order":
        return text.join('{"cart_id":"c-', number, '","confirm":true}')
    if kind == "partner_order":
        qty = text.ints(rng.integers(1, 40, n))
        sku = text.ints(100_000 + zipf_codes(rng, n, 40_000))
        return text.join(
            '{"external_ref":"PO-', number, '","lines":[{"sku":', sku, ',"qty":', qty, "}]}"
        )
    if kind == "ws_message":
        ops = [
            '{"op":"ping"}',
            '{"op":"subscribe","channel":"orders"}',
            '{"op":"ack","id":',
            '{"op":"typing","chat":"support"}',
        ]
        op = rng.choice(4, size=n, p=[0.5, 0.1, 0.3, 0.1])
        tail = text.where(op == 2, text.join(number, "}"), "")
        return text.join(text.pick(ops, op), tail)
    raise ValueError(f"no renderer for body kind {kind}")  # pragma: no cover


def pc_fill(values: pa.Array, fill: str) -> pa.Array:
    """Replace nulls with a literal string."""
    return values.fill_null(fill)


def calls(
    rng: np.random.Generator,
    ts: np.ndarray,
    endpoint: np.ndarray,
    id1: np.ndarray | None = None,
    id2: np.ndarray | None = None,
    *,
    username: pa.Array | None = None,
    with_query: bool = True,
    with_body: bool = True,
) -> Batch:
    """Render successful benign-looking calls; the caller overrides what differs.

    Parameters
    ----------
    rng : numpy.random.Generator
    ts : ndarray of int64
        Epoch nanoseconds of each call.
    endpoint : ndarray of int
        Endpoint codes (:data:`apibehave.simulate.apis.ENDPOINT_INDEX`).
    id1, id2 : ndarray of int, optional
        Object ids for the path placeholders.
    username : pyarrow.Array, optional
        Per-call user names, used in login and profile bodies.
    with_query, with_body : bool
        Render benign query strings and bodies (skip when the caller supplies its own).

    Returns
    -------
    Batch
        ``ts``, ``method``, ``path``, ``host``, ``api``, ``query``, ``body``, ``status``,
        ``req_bytes``, ``resp_bytes``, ``latency_ms``.
    """
    endpoint = np.asarray(endpoint, dtype=np.int64)
    n = len(endpoint)
    zeros = np.zeros(n, dtype=np.int64)
    id1 = zeros if id1 is None else np.asarray(id1, dtype=np.int64)
    id2 = zeros if id2 is None else np.asarray(id2, dtype=np.int64)
    query = benign_queries(rng, endpoint) if with_query else text.nulls(n)
    body = benign_bodies(rng, endpoint, username) if with_body else text.nulls(n)
    req_bytes = text.lengths(body)
    sized = _REQ_MEDIAN[endpoint] > 0
    if sized.any():
        e = endpoint[sized]
        req_bytes[sized] = lognormal(rng, _REQ_MEDIAN[e], _REQ_SIGMA[e]).astype(np.int64)
    resp = lognormal(rng, _RESP_MEDIAN[endpoint], _RESP_SIGMA[endpoint])
    resp = np.where(_RESP_MEDIAN[endpoint] <= 1, 0, resp)
    latency = lognormal(rng, _LAT_MEDIAN[endpoint], _LAT_SIGMA[endpoint])
    return Batch(
        {
            "ts": np.asarray(ts, dtype=np.int64),
            "method": text.pick(_METHOD, endpoint),
            "path": paths(endpoint, id1, id2),
            "host": text.pick(_HOST, endpoint),
            "api": text.pick(_API, endpoint),
            "query": query,
            "body": body,
            "status": _OK[endpoint].copy(),
            "req_bytes": req_bytes,
            "resp_bytes": resp.astype(np.int64),
            "latency_ms": np.round(latency, 2),
        }
    )
