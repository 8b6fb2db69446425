"""Replay and train throughput (issue 3 targets), measured end to end in subprocesses.

Targets on this 2-core machine: ``replay`` of a 5M-event log at >= 300,000 events/s end
to end (read, features, scoring, decisions, write), peak memory stated; ``train`` on 2.5M
events in <= 120 s; the live engine's per-call decision rate (the streaming features
alone have a 30,000 events/s budget; the benchmark of the features room measures them).

Data: the simulator's default scenario when it is available (``--source simulate``), else
the features room's synthetic log. Writes benchmarks/results/replay.json.

Run: .venv/bin/python benchmarks/bench_replay.py [--events 5000000] [--source synthetic]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "replay.json"
TARGET_REPLAY_EVENTS_PER_S = 300_000
TARGET_TRAIN_S = 120.0

_CHILD = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
from apibehave.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "wall_s": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_logs(n_events: int, source: str, folder: Path) -> tuple[Path, Path, str]:
    """Write a training log (half the events) and a replay log (``n_events``)."""
    from apibehave.schema import write_events

    if source == "simulate":
        from apibehave.simulate.run import simulate_events

        train = simulate_events(seed=1, target_events=n_events // 2, period="train")
        test = simulate_events(seed=2, target_events=n_events, period="test")
    else:
        from apibehave.features.synthetic import synthetic_events

        train = synthetic_events(n_events // 2, duration_s=12 * 3600, seed=1)
        test = synthetic_events(n_events, duration_s=24 * 3600, seed=2, start="2026-01-02")
    train_path, test_path = folder / "train.parquet", folder / "test.parquet"
    write_events(train, train_path)
    write_events(test, test_path)
    return train_path, test_path, source


def run_cli(*args: str) -> dict:
    """Run an apibehave command in a fresh interpreter; return wall time and peak RSS."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["stdout"] = out.stdout.strip().splitlines()[:-1]
    return result


def live_rate(bundle: Path, events_path: Path, n_calls: int) -> float:
    """Per-call decisions per second of the live engine (features + scoring + lists)."""
    import numpy as np
    import pandas as pd

    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.engine.live import LiveEngine

    model = load_model_bundle(bundle)
    events = pd.read_parquet(events_path).head(n_calls)
    records = events.to_dict(orient="records")
    for record in records:
        record["ts"] = record["ts"].value
    engine = LiveEngine(model)
    started = time.perf_counter()
    for i, record in enumerate(records):
        engine.decide(record, handle=i)
        engine.observe_response(i, record["status"], record["resp_bytes"])
    elapsed = time.perf_counter() - started
    return float(np.round(len(records) / elapsed, 1))


def main() -> None:
    """Generate data, time train and replay, record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--source", choices=["simulate", "synthetic"], default="synthetic")
    parser.add_argument("--live-calls", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        train_path, test_path, source = make_logs(args.events, args.source, folder)
        generate_s = time.perf_counter() - started
        bundle = folder / "bundle"
        train = run_cli("train", "--events", str(train_path), "--out", str(bundle), "--no-track")
        replay = run_cli("replay", "--bundle", str(bundle), "--events", str(test_path),
                         "--out", str(folder / "decisions.parquet"))  # fmt: skip
        live = live_rate(bundle, test_path, args.live_calls)
    replay_rate = args.events / replay["wall_s"]
    results = {
        "machine": {"python": platform.python_version(), "cpus": 2, "note":
                    "measured while other work may share the 2 cores"},
        "source": source,
        "generate_s": round(generate_s, 1),
        "train": {"events": args.events // 2, "wall_s": round(train["wall_s"], 1),
                  "peak_rss_mb": round(train["peak_rss_mb"]), "target_s": TARGET_TRAIN_S,
                  "meets_target": train["wall_s"] <= TARGET_TRAIN_S},
        "replay": {"events": args.events, "wall_s": round(replay["wall_s"], 1),
                   "events_per_s": round(replay_rate), "peak_rss_mb": round(replay["peak_rss_mb"]),
                   "target_events_per_s": TARGET_REPLAY_EVENTS_PER_S,
                   "meets_target": replay_rate >= TARGET_REPLAY_EVENTS_PER_S,
                   "summary": replay["stdout"]},
        "live_engine": {"calls": args.live_calls, "decisions_per_s": live},
    }  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
