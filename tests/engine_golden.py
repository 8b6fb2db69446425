"""Golden engine cases: a small log described in YAML, and the decisions it must produce.

A case file (``tests/golden/engine/*.yaml``) lists traffic ``streams`` added to the test
period of the shared benign world (:mod:`tests.engine_world`), optionally ``train_streams``
added to its training period, and ``expect``: who must be blocked (by which identifier
kinds, attributed to which attack types, from which of its calls on at the latest) and
who must never be. One stream is one client's calls at a fixed pace::

    - actor: scraper            # labels the calls; expectations name actors
      label: content_scraping   # or normal
      calls: 400
      start_s: 600              # seconds after the period starts
      every_s: 0.4
      ip: 66.6.6.6              # identifiers: ip, token, cookie, api_key, username
      method: GET
      path: /v1/products/{i}    # {i} is the call's number from 1; {r} a random id
      status: 200               # or a list, cycled
      resp_bytes: 1500
      req_bytes: 0
      host: shop.example.com    # optional Host header and the API the gateway routed to
      api: shop
      query: "q=shoes&page={i}" # optional query string ({i} as in path) and request body
      body: '{"a": 1}'
"""

from __future__ import annotations

from itertools import cycle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from apibehave.schema import normalize_events
from tests.engine_world import T0, benign

GOLDEN = Path(__file__).parent / "golden" / "engine"
_IDENTIFIERS = {"ip": "client_ip", "token": "token", "cookie": "cookie", "api_key": "api_key",
                "username": "username"}  # fmt: skip


def load_case(path: Path) -> dict[str, Any]:
    """Read one case file."""
    return yaml.safe_load(path.read_text())


def expand(streams: list[dict[str, Any]], start: pd.Timestamp, seed: int) -> list[dict]:
    """Turn stream descriptions into event rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for stream in streams:
        statuses = stream.get("status", 200)
        statuses = cycle(statuses if isinstance(statuses, list) else [statuses])
        for i in range(1, int(stream["calls"]) + 1):
            seconds = float(stream.get("start_s", 0)) + (i - 1) * float(stream.get("every_s", 1))
            path = stream["path"].format(i=i, r=int(rng.integers(1, 100_000)))
            row = {
                "ts": start + pd.Timedelta(seconds=seconds),
                "method": stream.get("method", "GET"),
                "path": path,
                "status": next(statuses),
                "resp_bytes": int(stream.get("resp_bytes", 1500)),
                "req_bytes": int(stream.get("req_bytes", 0)),
                "user_agent": stream.get("user_agent", "Mozilla/5.0"),
                "label": stream.get("label", "normal"),
                "actor": stream["actor"],
            }
            for key in ("host", "api", "query", "body"):
                if key in stream:
                    value = stream[key]
                    row[key] = value.format(i=i) if key == "query" else value
            for key, column in _IDENTIFIERS.items():
                if key in stream:
                    value = stream[key]
                    row[column] = value.format(i=i) if isinstance(value, str) else value
            rows.append(row)
    return rows


def case_logs(case: dict[str, Any], seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and test events of a case: the benign world plus the case's streams."""
    rng = np.random.default_rng(seed)
    train = benign(rng, T0, 6) + expand(case.get("train_streams", []), T0, seed)
    test_start = T0 + pd.Timedelta(hours=6)
    test = benign(rng, test_start, 2, users=70) + expand(case.get("streams", []), test_start, seed)
    return normalize_events(pd.DataFrame(train)), normalize_events(pd.DataFrame(test))


def case_files() -> list[Path]:
    """Every golden case, sorted."""
    return sorted(GOLDEN.glob("*.yaml"))
