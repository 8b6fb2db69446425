"""Path templating, API resolution, discovery and the usage report on large frames.

Target: ``template_paths`` above 1,000,000 paths/s on realistic logs (paths repeat; ids
vary). Measured on 1M-path Series with 1 %, 10 % and 100 % unique paths (the last is the
worst case: every path carries fresh ids), on the real logs in ../shared/datasets repeated
to 1M rows when present, and, for context, the scalar ``template_path`` in a Python loop.
Also times ``resolve_apis``, ``discover`` and ``usage_report`` on 1M synthetic events.
Writes benchmarks/results/paths.json and prints a table.

Run: .venv/bin/python benchmarks/bench_paths.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from apibehave.ingest.discovery import discover
from apibehave.reports.usage import usage_report
from apibehave.schema.catalogue import resolve_apis
from apibehave.schema.events import STRING_DTYPE, normalize_events
from apibehave.schema.paths import template_path, template_paths

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "paths.json"
DATASETS = Path(os.environ.get("APIBEHAVE_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
TARGET_PATHS_PER_S = 1_000_000
SHAPES = (
    "/v1/accounts/{n}",
    "/v1/accounts/{n}/orders/{uuid}",
    "/v2/catalogue/products/{n}/reviews",
    "/v2/catalogue/search",
    "/files/{hex}/download",
    "/v1/users/user{n}@example.com/profile",
    "/static/app.{n}.js",
    "/v1/auth/login",
)


def synthetic_paths(rows: int, unique_share: float, seed: int = 1) -> pd.Series:
    """Return ``rows`` API paths of which about ``unique_share`` are distinct."""
    rng = np.random.default_rng(seed)
    distinct = max(1, int(rows * unique_share))
    ids = rng.permutation(distinct * 4)[:distinct]
    shapes = rng.integers(0, len(SHAPES), distinct)
    pool = [
        SHAPES[s].format(n=i, uuid=f"{i:08x}-0000-4000-8000-{i * 7919:012x}", hex=f"{i * 31:032x}")
        for s, i in zip(shapes, ids, strict=True)
    ]
    picks = rng.integers(0, distinct, rows) if distinct < rows else rng.permutation(rows)
    return pd.Series(np.asarray(pool, dtype=object)[picks], dtype=STRING_DTYPE)


def real_paths(rows: int) -> pd.Series | None:
    """Paths of the real logs (one per request line), repeated to ``rows``."""
    paths: list[str] = []
    for name in ("elastic_apache_logs/apache_logs", "almhuette_raith/access_tail.log"):
        source = DATASETS / name
        if not source.is_file():
            return None
        for line in source.read_text(errors="replace").splitlines():
            parts = line.split('"')
            if len(parts) > 1 and len(parts[1].split(" ")) >= 2:
                paths.append(parts[1].split(" ")[1].split("?")[0])
    repeated = (paths * (rows // len(paths) + 1))[:rows]
    return pd.Series(repeated, dtype=STRING_DTYPE)


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs (the machine is shared; best is least disturbed)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def synthetic_events(rows: int) -> pd.DataFrame:
    """Build API traffic: several APIs, 5 % scanner 404s, a few thousand clients."""
    rng = np.random.default_rng(3)
    paths = synthetic_paths(rows, 0.1)
    status = np.where(rng.random(rows) < 0.9, 200, rng.choice([201, 304, 401, 404, 500], rows))
    scanner = rng.random(rows) < 0.05
    paths = paths.where(~scanner, "/wp-admin/setup-config.php")
    status = np.where(scanner, 404, status)
    agents = np.array(["Mozilla/5.0 (Windows NT 10.0) Chrome/120", "okhttp/4.12", "curl/8"])
    frame = pd.DataFrame(
        {
            "ts": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.integers(0, 86_400_000, rows)), unit="ms"),
            "client_ip": [f"10.0.{i // 256}.{i % 256}" for i in rng.integers(0, 5000, rows)],
            "method": rng.choice(["GET", "GET", "GET", "POST", "PUT"], rows),
            "path": paths,
            "status": status,
            "host": "api.example.com",
            "user_agent": agents[rng.integers(0, 3, rows)],
        }
    )
    return normalize_events(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows

    results: dict[str, dict[str, float]] = {}
    cases = {f"synthetic {share:.0%} unique": synthetic_paths(rows, share) for share in
             (0.01, 0.1, 1.0)}  # fmt: skip
    real = real_paths(rows)
    if real is not None:
        cases["real logs repeated"] = real
    for name, paths in cases.items():
        template_path.cache_clear()
        seconds = timed(lambda p=paths: template_paths(p))
        results[f"template_paths, {name}"] = {
            "rows": len(paths),
            "unique": int(paths.nunique()),
            "seconds": seconds,
            "per_s": len(paths) / seconds,
        }
    sample = cases["synthetic 100% unique"].iloc[:100_000].tolist()
    template_path.cache_clear()
    started = time.perf_counter()
    for path in sample:
        template_path(path)
    seconds = time.perf_counter() - started
    results["template_path (scalar loop, uncached), 100% unique"] = {
        "rows": len(sample),
        "unique": len(set(sample)),
        "seconds": seconds,
        "per_s": len(sample) / seconds,
    }

    events = synthetic_events(rows)
    catalogue = discover(events)
    for name, fn in {
        "discover (depth 2)": lambda: discover(events),
        "resolve_apis": lambda: resolve_apis(events, catalogue),
        "usage_report": lambda: usage_report(events),
    }.items():
        seconds = timed(fn, repeat=2)
        results[f"{name}, events"] = {
            "rows": len(events),
            "unique": int(events["path"].nunique()),
            "seconds": seconds,
            "per_s": len(events) / seconds,
        }

    document = {
        "note": "measured on a shared 2-core machine under possible contention from other "
        "work; best of 2-3 runs",
        "target_template_paths_per_s": TARGET_PATHS_PER_S,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    width = max(len(k) for k in results)
    print(f"{'case':<{width}}  {'rows':>9}  {'unique':>9}  {'seconds':>8}  {'rows/s':>11}")
    for key, r in results.items():
        print(
            f"{key:<{width}}  {r['rows']:>9,}  {r['unique']:>9,}  {r['seconds']:>8.3f}  "
            f"{r['per_s']:>11,.0f}"
        )
    print(f"(target for template_paths: {TARGET_PATHS_PER_S:,}/s; {document['note']})")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
