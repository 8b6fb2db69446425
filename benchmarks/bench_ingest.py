"""Ingest throughput and memory on large combined logs (target: >= 300,000 lines/s).

Generates combined logs of 1M and 5M lines in a temporary folder (synthetic lines from
``render_combined`` mixed with re-timed real lines from ../shared/datasets when present,
including their quirks: quoted lines, escaped quotes, trailing fields, IPv6), then runs
``apibehave.ingest.pipeline.ingest`` on each in a fresh subprocess and records wall time,
lines/s and the subprocess's peak RSS. Writes benchmarks/results/ingest.json.

Run: .venv/bin/python benchmarks/bench_ingest.py [--lines 5000000 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"
DATASETS = Path(os.environ.get("APIBEHAVE_SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
REAL_LOGS = (
    "elastic_apache_logs/apache_logs",
    "almhuette_raith/access_tail.log",
    "scanner_logs/netsparker.log",
)
BASE_LINES = 100_000
TARGET_LINES_PER_S = 300_000
_TIME_FIELD = re.compile(rb"\[[^\]]+\]")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_PEAK_RSS = """
def peak_rss_mb():
    # VmHWM belongs to this process image; ru_maxrss can carry the parent's size over exec
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_CHILD = (
    _PEAK_RSS
    + """
import json, resource, sys, time
started = time.perf_counter()
from apibehave.ingest.pipeline import ingest
report = ingest(sys.argv[1], "combined", sys.argv[2], force=True)
out = report.to_dict()
out["wall_s"] = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
out["peak_rss_mb"] = peak_rss_mb()
out["cpu_s"] = usage.ru_utime + usage.ru_stime
print(json.dumps(out))
"""
)


_BASELINE = (
    _PEAK_RSS
    + """
import json
import apibehave.ingest.pipeline, apibehave.ingest.formats.combined  # noqa: F401
print(json.dumps({"peak_rss_mb": peak_rss_mb()}))
"""
)


def baseline_rss_mb() -> float:
    """Peak RSS of a process that only imports the ingest code (libraries included)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _BASELINE], capture_output=True, text=True, check=True, env=env
    )
    return round(float(json.loads(done.stdout)["peak_rss_mb"]), 1)


def synthetic_block(n: int, seed: int = 7) -> list[bytes]:
    """Render ``n`` synthetic API calls as combined lines."""
    from apibehave.ingest.formats.combined import render_combined
    from apibehave.schema import normalize_events

    rng = np.random.default_rng(seed)
    paths = np.array(
        ["/api/v1/accounts/" + str(i) for i in range(200)]
        + ["/api/v1/products", "/api/v1/login", "/static/app.js", "/api/v1/orders"]
    )
    agents = np.array(
        [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
            "okhttp/4.9.3",
            'curl/8.0 "quoted" \\ agent',
            "python-requests/2.31.0",
        ]
    )
    ips = np.array(
        [f"10.{a}.{b}.{c}" for a, b, c in rng.integers(0, 255, size=(3000, 3))]
        + ["2001:db8::1", "2001:db8::2:1"]
    )
    start = pd.Timestamp("2026-01-01T00:00:00Z").value
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(
                start + np.sort(rng.integers(0, 86_400 * 10**9, n)), unit="ns", utc=True
            ),
            "client_ip": rng.choice(ips, n),
            "method": rng.choice(["GET", "GET", "GET", "POST", "PUT", "DELETE"], n),
            "path": rng.choice(paths, n),
            "status": rng.choice([200, 200, 200, 201, 304, 401, 404, 500], n),
            "query": np.where(rng.random(n) < 0.3, "page=2&size=50", None),
            "resp_bytes": rng.integers(0, 200_000, n),
            "user_agent": rng.choice(agents, n),
            "username": np.where(rng.random(n) < 0.2, "alice", None),
        }
    )
    return [line.encode() for line in render_combined(normalize_events(frame)).tolist()]


def real_lines() -> list[bytes]:
    """Real log lines with their quirks, re-timed into January 2026."""
    lines: list[bytes] = []
    for name in REAL_LOGS:
        path = DATASETS / name
        if path.is_file():
            lines += [line for line in path.read_bytes().split(b"\n") if line]
    rng = np.random.default_rng(11)
    retimed = []
    for line in lines:
        stamp = f"[{rng.integers(1, 29):02d}/Jan/2026:{rng.integers(0, 24):02d}:00:00 +0000]"
        retimed.append(_TIME_FIELD.sub(stamp.encode(), line, count=1))
    return retimed


def write_log(path: Path, n_lines: int) -> None:
    """Write an ``n_lines`` combined log by repeating a re-dated 100k-line base block."""
    real = real_lines()
    synthetic = synthetic_block(BASE_LINES - min(len(real), BASE_LINES // 3))
    base = synthetic + real[: BASE_LINES - len(synthetic)]
    rng = np.random.default_rng(3)
    base = [base[i] for i in rng.permutation(len(base))]
    block = b"\n".join(base) + b"\n"
    written = 0
    with path.open("wb") as out:
        for month in range(n_lines // len(base) + 1):
            take = min(len(base), n_lines - written)
            if take <= 0:
                break
            data = block if take == len(base) else b"\n".join(base[:take]) + b"\n"
            out.write(data.replace(b"/Jan/2026", f"/{_MONTHS[month % 12]}/2026".encode()))
            written += take


def run_child(log: Path, out: Path) -> dict[str, object]:
    """Ingest ``log`` in a fresh interpreter and return its report plus peak RSS."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(log), str(out)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--keep", type=Path, help="folder for the generated logs (kept)")
    args = parser.parse_args()
    folder_cm = tempfile.TemporaryDirectory(prefix="bench_ingest_")
    folder = args.keep or Path(folder_cm.name)
    folder.mkdir(parents=True, exist_ok=True)
    warm = folder / "warm.log"
    write_log(warm, 1000)
    run_child(warm, folder / "warm.parquet")  # compiles (and caches) the scanner once
    runs = []
    for n in args.lines:
        log = folder / f"combined_{n}.log"
        started = time.perf_counter()
        write_log(log, n)
        generated_s = time.perf_counter() - started
        report = run_child(log, folder / f"events_{n}.parquet")
        runs.append(
            {
                "lines": n,
                "file_mb": round(log.stat().st_size / 2**20, 1),
                "generate_s": round(generated_s, 1),
                "events_written": report["events_written"],
                "rejected": report["rejected"],
                "ingest_s": report["elapsed_s"],
                "process_wall_s": round(float(report["wall_s"]), 3),
                "lines_per_s": report["lines_per_s"],
                "process_cpu_s": round(float(report["cpu_s"]), 3),
                "lines_per_cpu_s": round(n / float(report["cpu_s"])),
                "peak_rss_mb": round(float(report["peak_rss_mb"]), 1),
                "meets_target": report["lines_per_s"] >= TARGET_LINES_PER_S,
            }
        )
        log.unlink()
        (folder / f"events_{n}.parquet").unlink()
    result = {
        "benchmark": "ingest combined log -> Parquet",
        "target_lines_per_s": TARGET_LINES_PER_S,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "measured on a shared 2-core machine; other work may have run concurrently "
        "(lines_per_cpu_s counts the ingest process's own CPU time, less sensitive to that)",
        "measured_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "import_only_peak_rss_mb": baseline_rss_mb(),
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    header = ("lines", "MB", "events", "rejected", "s", "lines/s", "lines/cpu-s", "RSS MB")
    print("{:>10} {:>7} {:>10} {:>8} {:>7} {:>9} {:>11} {:>7}".format(*header))
    for run in runs:
        print(
            f"{run['lines']:>10,} {run['file_mb']:>7} {run['events_written']:>10,} "
            f"{run['rejected']:>8,} {run['ingest_s']:>7} {run['lines_per_s']:>9,} "
            f"{run['lines_per_cpu_s']:>11,} {run['peak_rss_mb']:>7}"
        )
    print(
        f"peak RSS of a process that only imports the ingest code: "
        f"{result['import_only_peak_rss_mb']} MB"
    )
    print(f"target >= {TARGET_LINES_PER_S:,} lines/s; {result['note']}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
