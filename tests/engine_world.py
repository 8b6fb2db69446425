"""A tiny hand-built API world for engine tests: benign users and a few attackers.

Not the simulator: small, fast and fully known, so tests can say exactly who must be
blocked. Three APIs: ``shop`` (products, a decoy path), ``auth`` (a login path) and
``partner`` (API keys, shadow mode).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from apibehave.schema import normalize_events
from apibehave.schema.catalogue import Catalogue

T0 = pd.Timestamp("2026-03-02T00:00:00Z")

CATALOGUE = Catalogue.from_dict(
    {
        "version": 1,
        "apis": [
            {
                "name": "shop",
                "base_path": "/v1/products",
                "hosts": ["shop.example.com"],
                "decoy_paths": ["/v1/products/admin-export"],
            },
            {"name": "auth", "base_path": "/v1/auth", "login_paths": ["/v1/auth/login"]},
            {"name": "partner", "base_path": "/partner", "mode": "shadow"},
        ],
    }
)


def benign(rng: np.random.Generator, start: pd.Timestamp, hours: float, users: int = 200):
    """Benign users: a login, then browsing products; partners on API keys."""
    rows = []
    for u in range(users):
        ip = f"10.1.{u // 200}.{u % 200}"
        token = f"tok-{u}"
        pages = max(1, round(rng.integers(2, 14) * hours / 6))  # the same pace in any period
        page_times = rng.uniform(0, hours * 3600, pages)
        burst = rng.integers(1, 5, pages)  # a page view fires a few calls within a second
        times = np.sort(
            np.concatenate(
                [
                    t + np.cumsum(rng.uniform(0.05, 0.4, k))
                    for t, k in zip(page_times, burst, strict=True)
                ]
            )
        )
        rows.append(
            _row(start, times[0] - 1, ip, "POST", "/v1/auth/login", 200, username=f"user{u}")
        )
        for t in times:
            if rng.random() < 0.15:  # the app refreshes its token now and then
                rows.append(_row(start, t, ip, "POST", "/v1/auth/refresh", 200, token=token))
                continue
            pid = int(rng.integers(1, 3000))
            status = int(rng.choice([200] * 9 + [404]))
            rows.append(_row(start, t, ip, "GET", f"/v1/products/{pid}", status, token=token))
    for p in range(5):
        for t in np.arange(0, hours * 3600, 30.0) + p:
            rows.append(
                _row(start, t, f"172.16.0.{p}", "GET", "/partner/stock", 200, api_key=f"key-{p}")
            )
    return rows


def attacks(start: pd.Timestamp):
    """Known attackers, each labelled with its attack type and actor."""
    rows = []
    for i in range(400):  # a scraper walking product ids quickly
        rows.append(
            _row(
                start,
                600 + i * 0.4,
                "66.6.6.6",
                "GET",
                f"/v1/products/{i + 1}",
                200,
                token="tok-scraper",
                label="content_scraping",
                actor="scraper",
            )
        )
    for i in range(120):  # a brute force on the login (failures answer 401)
        rows.append(
            _row(
                start,
                1800 + i * 0.5,
                "77.7.7.7",
                "POST",
                "/v1/auth/login",
                401,
                username="admin",
                label="login_attack",
                actor="bruteforce",
            )
        )
    for i in range(3):  # a decoy hit, then ordinary-looking calls from the same client
        path = "/v1/products/admin-export" if i == 0 else f"/v1/products/{i}"
        rows.append(
            _row(
                start,
                3000 + i * 20,
                "88.8.8.8",
                "GET",
                path,
                200,
                token="tok-decoy",
                label="decoy",
                actor="decoy",
            )
        )
    for i in range(300):  # a partner-key flood on the shadow-mode API: never blocked
        rows.append(
            _row(
                start,
                3600 + i * 0.2,
                "99.9.9.9",
                "GET",
                "/partner/stock",
                200,
                api_key="key-stolen",
                label="api_dos",
                actor="partner-flood",
            )
        )
    return rows


def _row(start, seconds, ip, method, path, status, *, label="normal", actor=None, **ids):
    return {
        "ts": start + pd.Timedelta(seconds=float(seconds)),
        "client_ip": ip,
        "method": method,
        "path": path,
        "status": status,
        "resp_bytes": 1500,
        "user_agent": "Mozilla/5.0",
        "label": label,
        "actor": actor or ip,
        **ids,
    }


def make_logs(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (training, test) events: 6 h of benign traffic, then 2 h with attacks."""
    rng = np.random.default_rng(seed)
    train = pd.DataFrame(benign(rng, T0, 6))
    test_start = T0 + pd.Timedelta(hours=6)
    test = pd.DataFrame(benign(rng, test_start, 2, users=70) + attacks(test_start))
    test = test.sample(frac=1.0, random_state=seed)  # input order is not time order
    return normalize_events(train), normalize_events(test)
