"""`make run` end to end (target: at most 10 minutes on 2 cores), on a fresh clone.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py``. Clones the repository's HEAD into a
temporary folder, links this virtual environment into it, runs ``make run`` there (a new
MLflow store, no earlier champion) and writes ``benchmarks/results/pipeline.json``: wall
time, CPU time of every process it started (notebook kernels and tuning workers
included), per-notebook seconds from the pipeline's output, and whether a champion was
promoted and the bundle served. Wall times on a shared machine are slower than on an idle
one, never faster; the CPU seconds say how much work there was.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "pipeline.json"
TARGET_S = 600.0


def main() -> None:
    """Clone, run, record."""
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        clone = Path(tmp) / "apibehave"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        (clone / ".venv").symlink_to(ROOT / ".venv")
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            ["make", "-o", ".venv/.installed", "run"],  # the venv is built already
            cwd=clone, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        output = done.stdout + done.stderr
        steps = {m[0]: int(m[1]) for m in re.findall(r"\] (\d\d_\w+) done in (\d+) s", output)}
        served = (clone / "bundles" / "latest" / "manifest.json").is_file()
        result = {
            "benchmark": "make run (apibehave pipeline, notebooks 01-07) on a fresh clone",
            "target": f"at most {TARGET_S:.0f} s wall on 2 cores",
            "exit_code": done.returncode,
            "wall_s": round(wall, 1),
            "cpu_s": round(
                (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1
            ),
            "meets_target": done.returncode == 0 and wall <= TARGET_S,
            "step_wall_s": steps,
            "champion_promoted": "is now champion" in output,
            "bundle_served": served,
            "load_average_1m_after": round(os.getloadavg()[0], 2),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "note": "wall-clock under whatever else shares the machine",
        }
        if done.returncode != 0:
            result["tail"] = output[-2000:]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
