"""Novelty thresholds are learned out of sample, so the long tail of real traffic is normal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from apibehave.detect.model import LearningSettings
from apibehave.schema import normalize_events
from apibehave.workbench.train import train_model
from apibehave.workbench.train_settings import TrainSettings


def _search_log(seed: int, clients: int = 60, calls: int = 40) -> pd.DataFrame:
    """Clients searching with parameters of their own: nearly every parameter name is new."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2026-03-02T00:00:00Z")
    for c in range(clients):
        t0 = rng.uniform(0, 3600 * 6)
        for i in range(calls):
            rows.append({
                "ts": start + pd.Timedelta(seconds=t0 + i * 30),
                "client_ip": f"10.0.{c // 200}.{c % 200}",
                "method": "GET", "path": "/search", "status": 200, "api": "search",
                "query": f"tag{rng.integers(0, 10**9)}=1",
            })  # fmt: skip
    return normalize_events(pd.DataFrame(rows))


def test_query_novelty_threshold_reflects_unseen_queries() -> None:
    """With every parameter name new, learned query novelty is high, not the in-sample 0."""
    settings = TrainSettings(learning=LearningSettings(min_events=100, min_identifiers=5))
    model = train_model(_search_log(1), settings=settings).model
    threshold = model.detectors.detectors["search"].thresholds["ip_query_novelty_10m"]
    assert threshold.normal >= 0.9
