"""A fast synthetic event log with realistic identifier cardinalities.

For the feature engines' benchmarks and parity tests only: clients with skewed activity,
shared NAT addresses, tokens, cookies, API keys and user names on part of the clients,
several APIs with id-bearing paths, login calls, and a mix of methods and statuses. It is
not a traffic model; ``apibehave.simulate`` is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from apibehave.schema import normalize_events

_APIS = ("accounts", "orders", "catalog", "auth", "payments", "search", "admin")
_RESOURCES = ("users", "orders", "items", "carts", "invoices", "reviews")
_METHODS = np.array(["GET", "POST", "PUT", "DELETE", "PATCH"])
_STATUSES = np.array([200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 503])
LOGIN_PATH = "/auth/login"


def synthetic_events(
    n_events: int, *, duration_s: int = 6 * 3600, seed: int = 0, start: str = "2026-01-01"
) -> pd.DataFrame:
    """Return ``n_events`` canonical events over ``duration_s`` seconds, in time order.

    Parameters
    ----------
    n_events : int
        Number of calls.
    duration_s : int, default 6 hours
        Time span of the log.
    seed : int, default 0
        Random seed; the same seed gives the same log.
    start : str, default "2026-01-01"
        UTC start time.

    Returns
    -------
    pandas.DataFrame
        Canonical events (``apibehave.schema.normalize_events``); the login calls go to
        :data:`LOGIN_PATH` of the ``auth`` API.
    """
    rng = np.random.default_rng(seed)
    n = int(n_events)
    n_clients = max(n // 40, 4)
    n_ips = max(n_clients * 3 // 4, 2)
    client = np.minimum(rng.zipf(1.3, n) - 1, n_clients - 1)
    client = rng.permutation(n_clients)[client]
    ip_of_client = rng.integers(0, n_ips, n_clients)
    ua_of_client = np.minimum(rng.zipf(1.5, n_clients) - 1, 1999)
    has_token = rng.random(n_clients) < 0.6
    has_cookie = rng.random(n_clients) < 0.3
    has_key = rng.random(n_clients) < 0.08
    has_user = rng.random(n_clients) < 0.5

    ts = np.sort(rng.integers(0, duration_s * 1_000_000, n)) * 1000
    burst = rng.random(n) < 0.2
    ts[burst] = (ts[burst] // 1_000_000_000) * 1_000_000_000  # ties on whole seconds
    ts = np.sort(ts) + pd.Timestamp(start, tz="UTC").value

    api = rng.choice(len(_APIS), n, p=[0.2, 0.2, 0.25, 0.1, 0.1, 0.1, 0.05])
    resource = rng.integers(0, len(_RESOURCES), n)
    object_id = np.minimum(rng.zipf(1.2, n), 1_000_000)
    shape = rng.integers(0, 4, n)
    paths = _paths(api, resource, object_id, shape)
    login = (api == _APIS.index("auth")) & (rng.random(n) < 0.5)
    paths = np.where(login, LOGIN_PATH, paths)
    method = _METHODS[rng.choice(len(_METHODS), n, p=[0.7, 0.15, 0.07, 0.05, 0.03])]
    method = np.where(login, "POST", method)
    status = _STATUSES[
        rng.choice(
            len(_STATUSES), n, p=[0.7, 0.05, 0.03, 0.01, 0.03, 0.05, 0.03, 0.06, 0.01, 0.02, 0.01]
        )
    ]
    query = np.array(
        ["", "page=1", "page=2&size=50", "q=shoes", "sort=asc&page=3", "debug=1"], dtype=object
    )[rng.choice(6, n, p=[0.5, 0.2, 0.1, 0.1, 0.09, 0.01])]

    def per_client(flags: np.ndarray, prefix: str) -> np.ndarray:
        values = np.array([f"{prefix}{i:07d}" for i in range(n_clients)], dtype=object)
        return np.where(flags[client], values[client], None)

    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(ts, unit="ns", utc=True),
            "client_ip": _ips(ip_of_client[client]),
            "method": method,
            "path": paths,
            "status": status,
            "api": np.array(_APIS, dtype=object)[api],
            "query": np.where(query == "", None, query),
            "req_bytes": np.where(method == "GET", 0, rng.integers(10, 5000, n)),
            "resp_bytes": rng.integers(0, 200_000, n),
            "user_agent": np.array([f"agent/{i}" for i in range(2000)], dtype=object)[
                ua_of_client[client]
            ],
            "token": per_client(has_token, "tok"),
            "cookie": per_client(has_cookie, "ck"),
            "api_key": per_client(has_key, "key"),
            "username": per_client(has_user, "user"),
        }
    )
    return normalize_events(frame, source="synthetic")


def _ips(codes: np.ndarray) -> np.ndarray:
    unique, inverse = np.unique(codes, return_inverse=True)
    text = np.array(
        [f"10.{(c >> 16) & 255}.{(c >> 8) & 255}.{c & 255}" for c in unique], dtype=object
    )
    return text[inverse]


def _paths(api: np.ndarray, resource: np.ndarray, object_id: np.ndarray, shape: np.ndarray):
    apis = np.array(_APIS, dtype=object)[api]
    resources = np.array(_RESOURCES, dtype=object)[resource]
    base = "/" + apis + "/v1/" + resources
    ids = object_id.astype(str).astype(object)
    return np.select(
        [shape == 0, shape == 1, shape == 2],
        [base, base + "/" + ids, base + "/" + ids + "/history"],
        default=base + "/search",
    )
