"""The enforcer alone: decisions/s and latency of ``POST /ase/request`` on loopback (issue 6).

What is measured, each run bounded to ``--seconds`` after a one-second warm-up:

* ``bare_starlette``: a bare Starlette handler (reads the body, answers a constant JSON) under
  the same server (uvicorn, uvloop, httptools, one worker): the framework's own ceiling;
* ``enforce_1w_c32`` / ``enforce_2w_c32``: ``apibehave enforce --trust-event-time`` with 1 and
  2 worker processes at concurrency 32, the full decision path per call (ASE body parsing,
  identifiers, allow and deny lists, streaming features, the bundle's per-API models,
  attack records, call log to Parquet, metrics);
* ``enforce_1w_c1``: one connection, for the latency of an unloaded decision;
* ``app_stub_engine_c32``: the enforcer's application with the engine replaced by a stub
  that allows everything (same server, one worker): HTTP, parsing, the call log and
  metrics without the decision itself, i.e. the ceiling the engine's cost is taken from.

Traffic: the test period of a small simulator run (every attack campaign, benign traps),
rendered as ASE sideband request bodies, sent in time order with ``X-Event-Time`` so the
engine sees the recorded rates (the log is cycled, shifted by its span on each pass). No
``X-CorrelationID``: each call is decided and counted as answered with "no response seen",
so the response-side work is on the measured path too. The bundle is trained on the same
run's training period.

The load generator is a Python asyncio client (uvloop, raw keep-alive HTTP/1.1) in its own
process; it shares the 2 cores with the server and with whatever else runs on the machine,
so CPU seconds per request of the server are recorded beside wall-clock figures (they are
less disturbed by other work). An in-process split of the per-call CPU cost (framework and
parsing vs. the engine) is recorded too.

Also: memory per tracked identifier (a LiveEngine fed calls from distinct addresses and
tokens; resident memory growth over the identifier states held).

Targets (issue 6): 8,000 decisions/s with p99 under 5 ms at concurrency 32; a million
tracked identifiers in 2 GiB. Writes benchmarks/results/enforce.json.

Run: .venv/bin/python benchmarks/bench_enforce.py [--seconds 8] [--scale 0.01]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "enforce.json"
TARGET_DECISIONS_PER_S = 8000
TARGET_P99_MS = 5.0
TARGET_BYTES_FOR_1M = 2 * 1024**3
TICKS = os.sysconf("SC_CLK_TCK")


# ---- traffic -------------------------------------------------------------------------------
def prepare(workdir: Path, scale: float) -> tuple[Path, Path]:
    """Simulate a small run and train a bundle on its training period."""
    cli = [sys.executable, "-m", "apibehave"]
    sim = workdir / "sim"
    subprocess.run([*cli, "simulate", "--scale", str(scale), "--seed", "7", "--out", str(sim),
                    "--no-progress"], check=True, capture_output=True)  # fmt: skip
    params = workdir / "params.yaml"
    params.write_text("train:\n  learning:\n    min_events: 300\n")
    bundle = workdir / "bundle"
    subprocess.run([*cli, "train", "--events", str(sim / "train.parquet"), "--apis",
                    str(sim / "apis.yaml"), "--params", str(params), "--out", str(bundle),
                    "--no-track"], check=True, capture_output=True)  # fmt: skip
    return bundle, sim / "test.parquet"


def render_requests(events_path: Path, out: Path, limit: int) -> int:
    """Write the calls as (event-time ns, HTTP request prefix, body) JSON lines."""
    import pandas as pd

    events = pd.read_parquet(events_path).sort_values("ts", kind="stable").head(limit)
    rows = []
    for event in events.to_dict(orient="records"):
        headers = [{"host": event["host"]}] if isinstance(event.get("host"), str) else []
        for column, name, prefix in (
            ("user_agent", "user-agent", ""),
            ("token", "authorization", "Bearer "),
            ("cookie", "cookie", "sid="),
            ("api_key", "x-api-key", ""),
        ):
            if isinstance(event.get(column), str):
                headers.append({name: prefix + event[column]})  # fmt: skip
        url = event["path"] + (f"?{event['query']}" if isinstance(event.get("query"), str) else "")
        body: dict[str, Any] = {"source_ip": event["client_ip"], "source_port": 40000,
                                "method": event["method"], "url": url, "http_version": "1.1",
                                "headers": headers}  # fmt: skip
        if isinstance(event.get("username"), str):
            body["user_info"] = [{"username": event["username"]}]
        rows.append({"ts": int(event["ts"].value), "body": json.dumps(body)})
    out.write_text("\n".join(json.dumps(r) for r in rows))
    return len(rows)


# ---- load generator (runs in its own process) ---------------------------------------------
async def _connection(host, port, requests, start_index, stop_at, warm_until, latencies, span):
    reader, writer = await asyncio.open_connection(host, port)
    n = len(requests)
    i = start_index
    while True:
        now = time.perf_counter()
        if now >= stop_at:
            break
        ts, body = requests[i % n]
        shifted = ts + (i // n) * span
        seconds = str(Decimal(shifted) / Decimal(1_000_000_000))
        head = (f"POST /ase/request HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\n"
                f"X-Event-Time: {seconds}\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
        writer.write(head.encode() + body)
        sent = time.perf_counter()
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        done = time.perf_counter()
        if sent >= warm_until:
            latencies.append((done - sent, status_line[9:12]))
        i += 32
    writer.close()


def load(host: str, port: int, requests_file: Path, concurrency: int, seconds: float) -> dict:
    """Send requests on ``concurrency`` keep-alive connections; return counts and latencies."""
    import uvloop

    rows = [json.loads(line) for line in requests_file.read_text().splitlines()]
    requests = [(r["ts"], r["body"].encode()) for r in rows]
    span = requests[-1][0] - requests[0][0] + 1_000_000_000
    latencies: list[tuple[float, bytes]] = []

    async def main() -> float:
        start = time.perf_counter()
        warm_until = start + 1.0
        stop_at = warm_until + seconds
        await asyncio.gather(*[
            _connection(host, port, requests, k, stop_at, warm_until, latencies, span)
            for k in range(concurrency)
        ])  # fmt: skip
        return time.perf_counter() - warm_until

    measured = uvloop.run(main())
    values = sorted(lat for lat, _ in latencies)
    statuses: dict[str, int] = {}
    for _, status in latencies:
        statuses[status.decode()] = statuses.get(status.decode(), 0) + 1

    def pct(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 3)

    return {
        "requests": len(values),
        "requests_per_s": round(len(values) / measured, 1),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "statuses": statuses,
        "measured_s": round(measured, 2),
    }


# ---- servers ------------------------------------------------------------------------------
def bare_app():
    """Return a bare Starlette app: read the body, answer a constant JSON."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def handler(request):
        await request.body()
        return Response(b'{"decision":"allow"}', 200, media_type="application/json")

    return Starlette(routes=[Route("/ase/request", handler, methods=["POST"])])


def serve_stub(port: int, bundle: Path, state: Path) -> None:
    """Serve the enforcer's application with an engine that allows every call."""
    import uvicorn

    from apibehave.enforce.app import create_app
    from apibehave.enforce.settings import EnforceSettings
    from apibehave.engine.live import Decision

    settings = EnforceSettings(bundle=str(bundle), trust_event_time=True, state_dir=str(state),
                               call_log_dir=str(state / "calls"), port=port)  # fmt: skip
    app = create_app(settings)
    engine = app.state.enforcer.serving.engine
    engine.decide = lambda event, handle=None: Decision(False, None, None, None, 0.0)
    engine.observe_response = lambda *args, **kwargs: True
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its direct children (worker processes)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def _wait(port: int, process: subprocess.Popen, path: str = "/healthz") -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.communicate()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (the bare app has no such route)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def measure(server_cmd: list[str], port: int, requests_file: Path, concurrency: int,
            seconds: float, ready_path: str = "/healthz") -> dict:  # fmt: skip
    """Start a server, run the load generator against it, stop it; return the figures."""
    server = subprocess.Popen(server_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait(port, server, ready_path)
        time.sleep(0.5)
        cpu_before = _cpu_seconds(server.pid)
        generator = subprocess.run(
            [sys.executable, __file__, "--load", str(port), str(requests_file), str(concurrency),
             str(seconds)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        cpu = _cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.communicate(timeout=30)
    result = json.loads(generator.stdout)
    result["server_cpu_s"] = round(cpu, 2)
    result["server_cpu_ms_per_request"] = round(cpu / max(result["requests"], 1) * 1000, 4)
    result["load_avg_1m_after"] = round(os.getloadavg()[0], 1)
    return result


# ---- in-process cost split and memory -----------------------------------------------------
def cost_split(bundle: Path, requests_file: Path, limit: int = 5000) -> dict:
    """CPU microseconds per call: app layer with a stub engine vs. the full path, in-process."""
    from apibehave.enforce.app import create_app
    from apibehave.enforce.settings import EnforceSettings
    from apibehave.engine.live import Decision

    rows = [json.loads(line) for line in requests_file.read_text().splitlines()][:limit]

    async def call(app, body: bytes, ts: int) -> None:
        seconds = str(Decimal(ts) / Decimal(1_000_000_000)).encode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/ase/request",
                 "raw_path": b"/ase/request", "query_string": b"", "root_path": "",
                 "headers": [(b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode()),
                             (b"x-event-time", seconds)],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8090)}  # fmt: skip
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message) -> None:
            return None

        await app(scope, receive, send)

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("app_layer_stub_engine", "full_path"):
            settings = EnforceSettings(bundle=str(bundle), trust_event_time=True,
                                       state_dir=f"{tmp}/{name}",
                                       call_log_dir=f"{tmp}/{name}/calls")  # fmt: skip
            app = create_app(settings)
            if name.startswith("app_layer"):
                engine = app.state.enforcer.serving.engine
                engine.decide = lambda event, handle=None: Decision(False, None, None, None, 0.0)
                engine.observe_response = lambda *args, **kwargs: True

            async def run(app=app) -> float:
                async with app.router.lifespan_context(app):
                    start = time.process_time()
                    for row in rows:
                        await call(app, row["body"].encode(), row["ts"])
                    return time.process_time() - start

            out[name + "_cpu_us"] = round(asyncio.run(run()) / len(rows) * 1e6, 1)
    out["engine_cpu_us"] = round(out["full_path_cpu_us"] - out["app_layer_stub_engine_cpu_us"], 1)
    out["calls"] = len(rows)
    return out


def memory_per_identifier(bundle: Path, n: int) -> dict:
    """Resident memory growth per identifier state when ``n`` new clients call once each."""
    import gc

    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.engine.live import LiveEngine

    model = load_model_bundle(bundle)
    engine = LiveEngine(model, max_identifiers=2 * n)
    api = next(iter(model.catalogue))
    base = api.base_path.rstrip("/")

    def rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def call(i: int) -> dict:
        return {"ts": 1_772_409_600_000_000_000 + i * 1_000_000, "client_ip":
                f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "method": "GET",
                "path": f"{base}/items/{i % 1000}", "host": None, "query": None,
                "req_bytes": 0, "user_agent": "bench", "token": f"token-{i}", "cookie": None,
                "api_key": None, "username": None, "body": None, "api": None}  # fmt: skip

    for i in range(2000):  # warm caches and code paths before the baseline
        engine.decide(call(10_000_000 + i), i)
        engine.observe_response(i, 200, 100)
    gc.collect()
    before = rss()
    for i in range(n):
        engine.decide(call(i), i)
        engine.observe_response(i, 200, 100)
    gc.collect()
    grown = rss() - before
    states = sum(engine.features.tracked_identifiers().values())
    per_client = grown / n
    return {
        "clients": n,
        "identifiers_per_client": 2,
        "identifier_states": states,
        "rss_growth_bytes": grown,
        "bytes_per_client": round(per_client),
        "bytes_per_identifier": round(grown / (2 * n)),
        "bytes_per_identifier_state": round(grown / max(states, 1)),
        "projected_bytes_1m_identifiers": round(grown / (2 * n) * 1_000_000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--calls", type=int, default=20_000, help="distinct calls to cycle")
    parser.add_argument("--memory-clients", type=int, default=100_000)
    parser.add_argument("--load", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-stub", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        port, path, concurrency, seconds = args.load
        print(json.dumps(load("127.0.0.1", int(port), Path(path), int(concurrency),
                              float(seconds))))  # fmt: skip
        return
    if args.serve_stub:
        serve_stub(int(args.serve_stub[0]), Path(args.serve_stub[1]), Path(args.serve_stub[2]))
        return
    if args.serve_bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.serve_bare, loop="uvloop",
                    http="httptools", access_log=False, log_level="warning")  # fmt: skip
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        bundle, test = prepare(work, args.scale)
        requests_file = work / "requests.jsonl"
        n_calls = render_requests(test, requests_file, args.calls)
        print(f"prepared {n_calls} calls in {time.perf_counter() - started:.0f}s", flush=True)
        runs: dict[str, Any] = {}
        port = _free_port()
        runs["bare_starlette_c32"] = measure(
            [sys.executable, __file__, "--serve-bare", str(port)], port, requests_file, 32,
            args.seconds,
        )  # fmt: skip
        print("bare", runs["bare_starlette_c32"], flush=True)
        port = _free_port()
        runs["app_stub_engine_c32"] = measure(
            [sys.executable, __file__, "--serve-stub", str(port), str(bundle), str(work / "stub")],
            port, requests_file, 32, args.seconds, "/readyz",
        )  # fmt: skip
        print("stub engine", runs["app_stub_engine_c32"], flush=True)
        for workers, concurrency in ((1, 32), (2, 32), (1, 1)):
            port = _free_port()
            name = f"enforce_{workers}w_c{concurrency}"
            cmd = [sys.executable, "-m", "apibehave", "enforce", "--bundle", str(bundle),
                   "--port", str(port), "--workers", str(workers), "--trust-event-time",
                   "--state-dir", str(work / name)]  # fmt: skip
            runs[name] = measure(cmd, port, requests_file, concurrency, args.seconds, "/readyz")
            print(name, runs[name], flush=True)
        split = cost_split(bundle, requests_file)
        print("cost split", split, flush=True)
        memory = memory_per_identifier(bundle, args.memory_clients)
        print("memory", memory, flush=True)

    best = max(runs["enforce_1w_c32"]["requests_per_s"], runs["enforce_2w_c32"]["requests_per_s"])
    p99 = min(runs["enforce_1w_c32"]["p99_ms"], runs["enforce_2w_c32"]["p99_ms"])
    results = {
        "what": "POST /ase/request on loopback, full decision path, recorded simulator traffic "
        "with X-Event-Time; Python asyncio load generator in its own process",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "note": "2 cores shared by the load generator, the server and other "
                    "engineers' jobs; compare CPU ms per request where wall figures vary"},
        "server": "uvicorn (uvloop, httptools), Starlette",
        "seconds_per_run": args.seconds,
        "calls_cycled": n_calls,
        "runs": runs,
        "cost_split_in_process": split,
        "memory": memory,
        "targets": {
            "decisions_per_s": TARGET_DECISIONS_PER_S,
            "p99_ms": TARGET_P99_MS,
            "bytes_for_1m_identifiers": TARGET_BYTES_FOR_1M,
        },
        "meets_target": {
            "decisions_per_s": best >= TARGET_DECISIONS_PER_S,
            "p99_ms": p99 < TARGET_P99_MS,
            "memory": memory["projected_bytes_1m_identifiers"] <= TARGET_BYTES_FOR_1M,
        },
    }  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
