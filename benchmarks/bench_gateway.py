"""nginx alone versus nginx + ``auth_request`` to the enforcer (issue 6), with wrk on loopback.

What is measured: requests per second and latency percentiles that wrk sees at concurrency
32 (one wrk thread, keep-alive connections) for ``GET /v1/products/<id>`` through nginx
(one worker process) to a tiny upstream (an nginx server block answering a 3-byte body):

* ``nginx_alone``: the shipped ``deploy/nginx/apibehave.conf`` without ``auth_request`` and
  without the access log;
* ``nginx_enforcer_1w``: the shipped configuration as is: every call asks the enforcer's
  ``GET /auth`` (one uvicorn worker, full decision path: identifiers, allow and deny lists,
  streaming features, the bundle's models) and every response reaches it through the JSON
  access log over syslog/UDP;
* ``nginx_enforcer_2w``: two enforcer workers behind nginx's keep-alive pool, without the
  access log (one UDP listener cannot serve two worker processes; see deploy/nginx/README.md);
* ``python_api_*``: the first two again with a one-process uvicorn app as the API (an
  ordinary API server on the same cores), for context.

Clients: a wrk Lua script spreads calls over 20,000 client addresses (``X-Forwarded-For``,
trusted from loopback as behind a load balancer) and tokens, and 3,000 product ids, so the
engine tracks many identifiers and decides on ordinary-looking traffic; non-2xx answers are
counted and reported, and so are calls that failed open (the enforcer did not answer
within nginx's 500 ms ``proxy_read_timeout``, counted from nginx's error log). The bundle
is trained on the tests' small engine world. Each run lasts ``--seconds`` after a one-second
warm-up; CPU seconds of nginx and the enforcer are recorded beside wall time, because other
work may share the 2 cores.

Also measured: the Redis deny-list store (``apibehave/engine/redis_store.py``) between two
stores on a loopback redis-server: how long a block takes to be honoured by the other store,
and what one lookup costs against the in-memory store.

Target: nginx + enforcer at least half of nginx-alone throughput (``meets_target`` judges the
wall-clock ratio; ``cpu_ratio_to_nginx_alone`` gives the same ratio from CPU per request,
which contention from other work on the machine disturbs less).
Writes benchmarks/results/gateway.json.

Run: .venv/bin/python benchmarks/bench_gateway.py [--seconds 5]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gateway_fixture import (  # noqa: E402 - the repository root goes on sys.path first
    Enforcer,
    Nginx,
    free_udp_port,
    render_conf,
    wait_port,
)
from tests.redis_fixture import RedisServer, ensure_installed, free_port  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "gateway.json"
CONCURRENCY = 32
TARGET_RATIO = 0.5

WRK_SCRIPT = """
math.randomseed(7)
request = function()
  local u = math.random(0, 19999)
  local ip = "10." .. math.floor(u / 256) .. "." .. (u % 256) .. ".9"
  local headers = {}
  headers["Host"] = "shop.example.com"
  headers["X-Forwarded-For"] = ip
  headers["Authorization"] = "Bearer tok-b" .. u
  headers["User-Agent"] = "Mozilla/5.0"
  return wrk.format("GET", "/v1/products/" .. math.random(1, 3000), headers)
end
"""

TINY_API = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"3")]})
    await send({"type": "http.response.body", "body": b"ok\\n"})
"""

UPSTREAM_BLOCK = """
server {{
    listen 127.0.0.1:{port};
    access_log off;
    location / {{ return 200 "ok\\n"; }}
}}
"""


def train_bundle(folder: Path) -> Path:
    """Train the tests' engine world and write its bundle."""
    from apibehave.detect.model import LearningSettings
    from apibehave.workbench.train import export_bundle, train_model
    from apibehave.workbench.train_settings import TrainSettings
    from tests.engine_world import CATALOGUE, make_logs

    train, _ = make_logs(seed=3)
    settings = TrainSettings(learning=LearningSettings(min_events=100))
    result = train_model(train, catalogue=CATALOGUE, settings=settings)
    return export_bundle(result, folder / "bundle", settings)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children still alive."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = {pid}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.add(int(entry.name))
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_wrk(wrk: str, url: str, script: Path, seconds: int) -> dict:
    """Run wrk once (after a one-second warm-up) and parse its report."""
    base = [wrk, "-t1", f"-c{CONCURRENCY}", "-s", str(script), "--latency"]
    subprocess.run([*base, "-d1s", url], capture_output=True, text=True, timeout=60)
    out = subprocess.run(
        [*base, f"-d{seconds}s", "--timeout", "2s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    latency = {}
    for q in ("50", "90", "99"):
        match = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, flags=re.MULTILINE)
        value, unit = float(match.group(1)), match.group(2)
        latency[f"p{q}_ms"] = round(value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit], 3)
    return {
        "requests_per_s": round(rps, 1),
        "requests": total,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else None,
        **latency,
    }


def measure(
    name: str,
    folder: Path,
    bundle: Path,
    wrk: str,
    script: Path,
    seconds: int,
    workers: int | None,
    api: str = "nginx",
) -> dict:
    """Start nginx (and the enforcer with ``workers`` processes, unless None) and load it.

    ``api`` is the upstream: ``nginx`` (a server block of the same nginx) or ``python`` (a
    one-process uvicorn app, standing for an ordinary API server).
    """
    port, upstream = free_port(), free_port()
    api_process = None
    if api == "python":
        (folder / "tiny_api.py").write_text(TINY_API)
        api_process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tiny_api:app", "--app-dir", str(folder),
             "--host", "127.0.0.1", "--port", str(upstream), "--log-level", "warning",
             "--no-access-log"],
        )  # fmt: skip
        wait_port(upstream, process=api_process)
    enforcer = None
    log_udp = None
    if workers is not None:
        log_udp = free_udp_port() if workers == 1 else None
        enforcer = Enforcer(
            bundle,
            folder / f"{name}-enforcer",
            log_udp_port=log_udp,
            extra=["--workers", str(workers)],
        )
        enforcer.start()
    site = render_conf(
        listen=port,
        upstream=upstream,
        enforcer=enforcer.port if enforcer else None,
        log_udp=log_udp,
        trust_forwarded=True,
    ) + (UPSTREAM_BLOCK.format(port=upstream) if api == "nginx" else "")
    nginx = Nginx(folder / f"{name}-nginx", site, workers=1)
    try:
        nginx.start(port)
        cpu_before = {"nginx": cpu_seconds(nginx.process.pid)}
        if enforcer:
            cpu_before["enforcer"] = cpu_seconds(enforcer.process.pid)
        if api_process:
            cpu_before["api"] = cpu_seconds(api_process.pid)
        started = time.perf_counter()
        result = run_wrk(wrk, f"http://127.0.0.1:{port}/", script, seconds)
        result["wall_s"] = round(time.perf_counter() - started, 2)
        result["cpu_s"] = {"nginx": round(cpu_seconds(nginx.process.pid) - cpu_before["nginx"], 2)}
        if enforcer:
            result["cpu_s"]["enforcer"] = round(
                cpu_seconds(enforcer.process.pid) - cpu_before["enforcer"], 2
            )
            result["enforcer_workers"] = workers
            result["access_log_to_enforcer"] = log_udp is not None
        if api_process:
            result["cpu_s"]["api"] = round(cpu_seconds(api_process.pid) - cpu_before["api"], 2)
        cpu_total = sum(result["cpu_s"].values())
        result["server_cpu_ms_per_request"] = round(
            1000 * cpu_total / max(1, result["requests"]), 4
        )
        result["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        # calls that went through unchecked because the enforcer did not answer in time
        result["failed_open"] = len(
            re.findall(r"upstream timed out|connect\(\) failed", nginx.errors())
        )
        return result
    finally:
        nginx.stop()
        if enforcer:
            enforcer.stop()
        if api_process:
            api_process.terminate()
            api_process.wait(timeout=10)


def measure_redis_store(folder: Path, blocks: int = 200, lookups: int = 200_000) -> dict:
    """Propagation delay between two Redis list stores, and the cost of one lookup."""
    from apibehave.engine.lists import ListEntry, MemoryListStore
    from apibehave.engine.redis_store import PROPAGATION_BOUND_MS, RedisListStore

    server = RedisServer(folder / "redis")
    server.start()
    first, second = RedisListStore(server.url), RedisListStore(server.url)
    try:
        assert first.wait_connected() and second.wait_connected()
        delays = []
        for i in range(blocks):
            now = time.time()
            first.add(ListEntry("ip", f"10.200.{i // 256}.{i % 256}", now + 600, now))
            started = time.perf_counter()
            while second.get("ip", f"10.200.{i // 256}.{i % 256}", time.time()) is None:
                if time.perf_counter() - started > 5:
                    raise RuntimeError("a block did not propagate within 5 s")
                time.sleep(0.0002)  # poll without holding the GIL the store's threads need
            delays.append((time.perf_counter() - started) * 1000)
        memory = MemoryListStore()
        for entry in second.entries(time.time()):
            memory.add(entry)
        costs = {}
        for name, store in (("memory", memory), ("redis_mirror", second)):
            now = time.time()
            started = time.perf_counter()
            for i in range(lookups):
                store.get("ip", f"10.201.0.{i & 255}", now)  # misses: the common case
            costs[name] = round((time.perf_counter() - started) / lookups * 1e9)
        delays.sort()
        return {
            "blocks": blocks,
            "propagation_ms": {
                "p50": round(delays[len(delays) // 2], 3),
                "p99": round(delays[int(len(delays) * 0.99) - 1], 3),
                "max": round(delays[-1], 3),
            },
            "stated_bound_ms": PROPAGATION_BOUND_MS,
            "lookup_ns": costs,
            "note": "two stores in one process on a loopback redis-server (append-only, "
            "fsync always); lookups are misses against a list of the blocks above",
        }
    finally:
        first.close()
        second.close()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the three configurations and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="load duration per run")
    args = parser.parse_args(argv)
    ensure = ensure_installed
    ensure("nginx", "install-nginx.sh")
    wrk = ensure("wrk", "install-nginx.sh")
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        folder = Path(tmp)
        script = folder / "calls.lua"
        script.write_text(WRK_SCRIPT)
        bundle = train_bundle(folder)
        runs = {}
        for name, workers, api in (
            ("nginx_alone", None, "nginx"),
            ("nginx_enforcer_1w", 1, "nginx"),
            ("nginx_enforcer_2w", 2, "nginx"),
            ("python_api_nginx_alone", None, "python"),
            ("python_api_nginx_enforcer_1w", 1, "python"),
        ):
            runs[name] = measure(name, folder, bundle, wrk, script, args.seconds, workers, api)
            print(name, json.dumps(runs[name]))
        redis_store = measure_redis_store(folder)
        print("redis_store", json.dumps(redis_store))
    alone = runs["nginx_alone"]["requests_per_s"]
    ratios = {
        name: round(run["requests_per_s"] / alone, 3)
        for name, run in runs.items()
        if name.startswith("nginx_enforcer")
    }
    alone_cpu = runs["nginx_alone"]["server_cpu_ms_per_request"]
    cpu_ratios = {
        name: round(alone_cpu / run["server_cpu_ms_per_request"], 3)
        for name, run in runs.items()
        if name.startswith("nginx_enforcer")
    }
    python_ratio = round(
        runs["python_api_nginx_enforcer_1w"]["requests_per_s"]
        / runs["python_api_nginx_alone"]["requests_per_s"],
        3,
    )
    best = max(ratios.values())
    report = {
        "what": "wrk -t1 -c32 on loopback through nginx (1 worker) to a 3-byte upstream "
        "answer; GET /v1/products/<id> from 20,000 client addresses and tokens",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "note": "2 cores shared by wrk, nginx, the enforcer and possibly other work",
        },
        "seconds_per_run": args.seconds,
        "concurrency": CONCURRENCY,
        "runs": runs,
        "ratio_to_nginx_alone": ratios,
        "cpu_ratio_to_nginx_alone": cpu_ratios,
        "python_api_ratio": python_ratio,
        "python_api_note": "the same comparison with a one-process uvicorn app as the API "
        "(an ordinary API server sharing the cores) instead of nginx answering by itself; "
        "context only: meets_target judges the nginx-answered upstream above",
        "cpu_ratio_note": "server CPU per request of nginx alone / of nginx + enforcer "
        "(nginx and enforcer processes, wrk excluded): what throughput ratio the same cores "
        "would give without contention from other work",
        "target_ratio": TARGET_RATIO,
        "meets_target": best >= TARGET_RATIO,
        "redis_store": redis_store,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"ratios {ratios}; target {TARGET_RATIO}; written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
