"""Hand-made normal traffic of one small API for the payload detector tests.

``shop``: product pages by numeric id, a search with free text, a page number and an
enumerated sort order, a JSON sign-up body (name, email, age, a newsletter flag), browser
User-Agents, hex session cookies and one Host. Fully known, so tests can say exactly
what must pass and what must be flagged.
"""

from __future__ import annotations

from urllib.parse import quote_plus

import numpy as np
import pandas as pd

WORDS = (
    "red", "shoes", "lamp", "desk", "cotton", "shirt", "usb", "cable", "phone", "case",
    "garden", "chair", "blue", "kids", "toy", "book", "coffee", "mug", "rain", "jacket",
)  # fmt: skip
NAMES = (
    "Anna", "Ben", "Carla", "David", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Karin", "Lena", "Marco", "Nora", "Omar", "Paula",
)  # fmt: skip
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "ShopApp/5.14.1 (Android 14; Pixel 7) okhttp/4.12.0",
)
HOST = "api.shop.example"


def normal_calls(n: int, seed: int) -> pd.DataFrame:
    """Return ``n`` normal calls of the ``shop`` API (columns of CONTRACT section 1)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        kind = rng.integers(0, 3)
        query = body = None
        if kind == 0:
            method, path = "GET", f"/v1/items/{rng.integers(1000, 99999)}"
        elif kind == 1:
            words = " ".join(rng.choice(WORDS, size=rng.integers(1, 4)))
            sort = rng.choice(["asc", "desc", "relevance"])
            method, path = "GET", "/v1/search"
            query = f"q={quote_plus(words)}&page={rng.integers(1, 6)}&sort={sort}"
        else:
            name = str(rng.choice(NAMES))
            email = f"{name.lower()}.{rng.integers(1, 9999)}@mail.example"
            flag = "true" if rng.random() < 0.5 else "false"
            method, path = "POST", "/v1/users"
            age = rng.integers(18, 90)
            body = f'{{"name":"{name}","email":"{email}","age":{age},"newsletter":{flag}}}'
        rows.append(
            {
                "ts": pd.Timestamp("2026-03-02T00:00:00Z") + pd.Timedelta(seconds=i),
                "client_ip": f"10.0.{i % 50}.{i % 200}",
                "api": "shop",
                "method": method,
                "path": path,
                "query": query,
                "body": body,
                "status": 200,
                "host": HOST,
                "user_agent": str(rng.choice(AGENTS)),
                "cookie": f"{rng.integers(0, 2**62):016x}",
            }
        )
    return pd.DataFrame(rows)


def call(**changes: object) -> dict[str, object]:
    """Return one normal search call with ``changes`` applied."""
    base: dict[str, object] = {
        "api": "shop",
        "method": "GET",
        "path": "/v1/search",
        "query": "q=red+shoes&page=2&sort=asc",
        "body": None,
        "host": HOST,
        "user_agent": AGENTS[0],
        "cookie": "3f2a9c0d11e4b7a5",
    }
    base.update(changes)
    return base
