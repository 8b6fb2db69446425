"""Feature engines on a large log: batch against the Parquet read, and streaming per call.

Targets (issue 3): batch features (``prepare_events`` + ``compute_features``) within 4x
of the time to read the same Parquet file with ``read_events``; the streaming engine at
least 30,000 calls/s in pure per-call mode (``on_request`` + ``on_response``). Also
reports batch calls/s and peak RSS. The log is ``apibehave.features.synthetic`` (skewed
client activity, shared NAT addresses, ~60 % tokens, cookies, keys, user names) with the
default feature set and a vocabulary learned on its first fifth.

Figures are measured on a shared 2-core machine where other engineers run jobs at the
same time: they can be slower than on a quiet machine; each timing is the best of
``--repeat`` runs to damp that.

Run: .venv/bin/python benchmarks/bench_features.py [--events 5000000] [--stream-events 200000]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from apibehave.features import (
    DEFAULT_FEATURE_SET,
    FeatureContext,
    StreamingFeatures,
    Vocabulary,
    compute_features,
    prepare_events,
)
from apibehave.features.synthetic import LOGIN_PATH, synthetic_events
from apibehave.schema import read_events, write_events

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "features.json"
TARGET_BATCH_OVER_READ = 4.0
TARGET_STREAM_PER_S = 30_000
CONTEXT = FeatureContext({"auth": [LOGIN_PATH]})


CPU_SECONDS: dict[str, float] = {}
"""Process CPU time (all threads) of the best wall-clock run of each timed step."""


def best_of(repeat: int, run, name: str = ""):
    """Return (best wall seconds, last result) over ``repeat`` runs of ``run()``."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None  # drop the previous run's result (its objects would be scanned by gc)
        start, cpu = time.perf_counter(), time.process_time()
        result = run()
        wall = time.perf_counter() - start
        if wall < best:
            best = wall
            CPU_SECONDS[name] = round(time.process_time() - cpu, 3)
    return best, result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_batch(n_events: int, repeat: int, workdir: Path) -> dict:
    """Time the Parquet read and the batch engine on the same file."""
    start = time.perf_counter()
    events = synthetic_events(n_events, duration_s=12 * 3600, seed=3)
    generated_s = time.perf_counter() - start
    path = workdir / "events.parquet"
    write_events(events, path)
    del events
    read_s, events = best_of(repeat, lambda: read_events(path), "read_events")
    train = events.iloc[: len(events) // 5].reset_index(drop=True)
    vocabulary = Vocabulary.fit(prepare_events(train, CONTEXT), DEFAULT_FEATURE_SET)
    compute_features(prepare_events(train.iloc[:1000], CONTEXT), DEFAULT_FEATURE_SET, vocabulary)
    prepare_s, prepared = best_of(repeat, lambda: prepare_events(events, CONTEXT), "prepare_events")
    compute_s, features = best_of(
        repeat,
        lambda: compute_features(prepared, DEFAULT_FEATURE_SET, vocabulary),
        "compute_features",
    )
    batch_s = prepare_s + compute_s
    return {
        "events": len(events),
        "features": features.shape[1],
        "parquet_mb": round(path.stat().st_size / 2**20, 1),
        "generate_s": round(generated_s, 2),
        "read_events_s": round(read_s, 3),
        "prepare_events_s": round(prepare_s, 3),
        "compute_features_s": round(compute_s, 3),
        "batch_s": round(batch_s, 3),
        "batch_over_read": round(batch_s / read_s, 2),
        "batch_events_per_s": round(len(events) / batch_s),
        "target_batch_over_read": TARGET_BATCH_OVER_READ,
        "meets_batch_target": batch_s / read_s <= TARGET_BATCH_OVER_READ,
        "nan_share": round(float(np.isnan(features.to_numpy()).mean()), 3),
        "cpu_s": dict(CPU_SECONDS),
        # the same ratio in process CPU seconds (all threads): less sensitive to other
        # jobs on the machine than wall-clock, though the engine's threads count in it
        "batch_over_read_cpu": round(
            (CPU_SECONDS["prepare_events"] + CPU_SECONDS["compute_features"])
            / CPU_SECONDS["read_events"],
            2,
        ),
        "wall_over_cpu_read": round(read_s / CPU_SECONDS["read_events"], 2),
    }


def bench_streaming(n_events: int, repeat: int) -> dict:
    """Time the streaming engine call by call (request, then its response)."""
    events = synthetic_events(n_events, duration_s=max(n_events // 400, 600), seed=4)
    prepared = prepare_events(events, CONTEXT)
    vocabulary = Vocabulary.fit(prepared.iloc[: n_events // 5], DEFAULT_FEATURE_SET)
    records = events.assign(ts=prepared["ts_ns"]).to_dict("records")
    del events, prepared
    # the 200,000 input dicts are the benchmark's, not the engine's: keep the collector
    # from rescanning them (a live enforcer does the same with gc.freeze() after start-up)
    gc.collect()
    gc.freeze()

    def run() -> StreamingFeatures:
        engine = StreamingFeatures(DEFAULT_FEATURE_SET, vocabulary, login_paths=CONTEXT.login_paths)
        on_request, on_response = engine.on_request, engine.on_response
        for index, record in enumerate(records):
            on_request(record, index)
            on_response(index, record["status"], record["resp_bytes"])
        return engine

    seconds, engine = best_of(repeat, run, "streaming")
    return {
        "events": n_events,
        "seconds": round(seconds, 3),
        "events_per_s": round(n_events / seconds),
        "microseconds_per_event": round(seconds / n_events * 1e6, 1),
        "cpu_s": CPU_SECONDS.get("streaming"),
        "tracked_identifiers": engine.tracked_identifiers(),
        "target_events_per_s": TARGET_STREAM_PER_S,
        "meets_stream_target": n_events / seconds >= TARGET_STREAM_PER_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--stream-events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    # streaming first, in a fresh process as an enforcer would be (the batch run leaves
    # gigabytes of freed, fragmented heap behind)
    streaming = bench_streaming(args.stream_events, args.repeat)
    gc.unfreeze()
    with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
        batch = bench_batch(args.events, args.repeat, Path(tmp))
    results = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "note": "2-core machine shared with other engineers' jobs: figures may be slowed "
        "by contention; best of --repeat runs",
        "feature_spec_hash": DEFAULT_FEATURE_SET.spec_hash,
        "batch": batch,
        "streaming": streaming,
        "peak_rss_mb": round(peak_rss_mb()),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"features benchmark ({results['note']})")
    print(f"  {'events':<28}{batch['events']:>14,}   ({batch['features']} features)")
    print(f"  {'read_events (Parquet)':<28}{batch['read_events_s']:>13.2f}s")
    print(f"  {'prepare_events':<28}{batch['prepare_events_s']:>13.2f}s")
    print(f"  {'compute_features':<28}{batch['compute_features_s']:>13.2f}s")
    print(
        f"  {'batch / read':<28}{batch['batch_over_read']:>13.2f}x   "
        f"(target <= {TARGET_BATCH_OVER_READ}x)"
    )
    print(f"  {'batch events/s':<28}{batch['batch_events_per_s']:>14,}")
    print(
        f"  {'streaming events/s':<28}{streaming['events_per_s']:>14,}   "
        f"(target >= {TARGET_STREAM_PER_S:,})"
    )
    print(f"  {'peak RSS':<28}{results['peak_rss_mb']:>12,} MiB")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
