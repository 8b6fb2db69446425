"""Real nginx in front of an API asks the enforcer about every call (``auth_request``).

nginx (Debian package, installed by ``scripts/install-nginx.sh``) runs the shipped
``deploy/nginx/apibehave.conf``; the enforcer runs as ``apibehave enforce
--trust-event-time`` with the access-log listener; a recorded log is sent through nginx in
time order, each call carrying its recorded time, client address, identifiers and the
status and size the upstream should answer. Attackers get nginx's 403, benign clients the
upstream's answer, and every decision equals ``replay`` on the same calls.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apibehave.detect.model import LearningSettings
from apibehave.engine.replay import replay_events
from apibehave.workbench.train import export_bundle, train_model
from apibehave.workbench.train_settings import TrainSettings
from tests.engine_world import CATALOGUE, make_logs
from tests.gateway_fixture import Enforcer, Nginx, Upstream, free_udp_port, render_conf
from tests.redis_fixture import free_port


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """A bundle trained on the engine world, and its test log in time order."""
    train, test = make_logs(seed=3)
    settings = TrainSettings(learning=LearningSettings(min_events=100))
    result = train_model(train, catalogue=CATALOGUE, settings=settings)
    bundle = export_bundle(result, tmp_path_factory.mktemp("bundle") / "b", settings)
    test = test.sort_values("ts", kind="stable").reset_index(drop=True)
    return result.model, bundle, with_gateway_hosts(test)


def with_gateway_hosts(events: pd.DataFrame) -> pd.DataFrame:
    """The calls as a gateway sees them: every one has a Host header.

    A call without one gets its API's first host (resolved on the path), else a neutral name.
    """
    events = events.copy()
    hosts = []
    for host, path in zip(events["host"], events["path"], strict=True):
        if not isinstance(host, str):
            spec = CATALOGUE.get(CATALOGUE.resolve_api(None, path))
            host = spec.hosts[0] if spec is not None and spec.hosts else "api.example.com"
        hosts.append(host)
    events["host"] = pd.array(hosts, dtype=events["host"].dtype)
    return events


@pytest.fixture(scope="module")
def gateway(world, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Upstream, enforcer (trusting event time) and nginx, all on loopback."""
    _, bundle, _ = world
    root = tmp_path_factory.mktemp("gateway")
    upstream = Upstream()
    upstream.start()
    enforcer = Enforcer(
        bundle, root / "enforcer", trust_event_time=True, log_udp_port=free_udp_port()
    )
    port = free_port()
    nginx = Nginx(
        root / "nginx",
        render_conf(
            listen=port,
            upstream=upstream.port,
            enforcer=enforcer.port,
            log_udp=enforcer.log_udp_port,
            recorded=True,
        ),
    )
    try:
        enforcer.start()
        nginx.start(port)
        yield {"port": port, "enforcer": enforcer, "nginx": nginx}
    finally:
        nginx.stop()
        enforcer.stop()
        upstream.stop()


def event_time(ts: pd.Timestamp) -> str:
    """Exact decimal epoch seconds of a timestamp (the X-Event-Time header)."""
    ns = ts.value
    return f"{ns // 10**9}.{ns % 10**9:09d}"


def call_headers(row: pd.Series) -> dict[str, str]:
    """Headers of one recorded call as a client behind a load balancer sends it."""
    headers = {
        "Host": row["host"],
        "X-Forwarded-For": row["client_ip"],
        "X-Event-Time": event_time(row["ts"]),
        "User-Agent": row["user_agent"] if isinstance(row["user_agent"], str) else "-",
        "X-Test-Status": str(int(row["status"])),
        "X-Test-Bytes": str(int(row["resp_bytes"])),
    }
    if isinstance(row["token"], str):
        headers["Authorization"] = f"Bearer {row['token']}"
    if isinstance(row["api_key"], str):
        headers["X-API-Key"] = row["api_key"]
    if isinstance(row["username"], str):
        headers["X-Username"] = row["username"]
    return headers


def send_log(events: pd.DataFrame, port: int, enforcer: Enforcer) -> tuple[list[int], list[dict]]:
    """Send calls in order through nginx; each waits until its access-log line arrived."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses, blocked_bodies = [], []
    seen = enforcer.metric("apibehave_access_log_lines_total")
    for _, row in events.iterrows():
        target = row["path"] + (f"?{row['query']}" if isinstance(row["query"], str) else "")
        connection.request(row["method"], target, headers=call_headers(row))
        answer = connection.getresponse()
        body = answer.read()
        statuses.append(answer.status)
        if answer.status == 403:
            blocked_bodies.append(json.loads(body))
        # the response reaches the engine through the access log before the next call,
        # as replay assumes (a call's response is known to every later call)
        seen += 1
        deadline = time.monotonic() + 5
        while enforcer.metric("apibehave_access_log_lines_total") < seen:
            if time.monotonic() > deadline:
                raise AssertionError("the access-log line of a call never reached the enforcer")
            time.sleep(0.001)
    connection.close()
    return statuses, blocked_bodies


def test_nginx_blocks_attackers_and_agrees_with_replay(world, gateway) -> None:
    """Attackers get nginx's 403, benign clients pass, decisions equal replay's."""
    model, _, test = world
    statuses, bodies = send_log(test, gateway["port"], gateway["enforcer"])
    live_block = np.array(statuses) == 403
    assert set(statuses) <= {200, 401, 403, 404}, set(statuses)
    replay = replay_events(test, model)
    replayed = replay.decisions
    replay_block = (replayed["decision"] == "block").to_numpy()
    mismatch = np.flatnonzero(live_block != replay_block)
    assert mismatch.size == 0, f"live and replay differ at calls {mismatch[:10]}"
    blocked_actors = set(test.loc[live_block, "actor"])
    assert {"scraper", "bruteforce", "decoy"} <= blocked_actors
    assert "partner-flood" not in blocked_actors  # its API runs in shadow mode
    assert not live_block[test["label"].to_numpy() == "normal"].any(), "a benign call was blocked"
    assert all(b["by"] == "apibehave" for b in bodies)
    assert {b["attack_type"] for b in bodies} <= {"", *replayed["attack_type"].dropna()}
    # nginx answered allowed calls with the upstream's own status
    allowed = ~live_block
    assert (np.array(statuses)[allowed] == test.loc[allowed, "status"].to_numpy()).all()
    # the enforcer's new blocks (its attack report) are replay's: time, type, identifier
    live_new = {
        (a["ts_ns"], a["attack_type"], a["identifier_kind"], a["identifier"])
        for a in attack_report(gateway["enforcer"])["attacks"]
        if a["mode"] == "enforce"
    }
    enforced = replay.new_blocks[replay.new_blocks["mode"] == "enforce"]
    replay_new = {
        (ts.value, attack, kind, value)
        for ts, attack, kind, value in enforced[
            ["ts", "attack_type", "identifier_kind", "identifier"]
        ].itertuples(index=False)
    }
    assert live_new == replay_new


def attack_report(enforcer: Enforcer) -> dict:
    """Return the enforcer's attack report (every new block it made)."""
    request = urllib.request.Request(
        enforcer.url("/reports/attacks?limit=100000"),
        headers={"Authorization": f"Bearer {enforcer.admin_token()}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.mark.parametrize(
    ("auth_status", "fail_closed", "expected"),
    [
        (200, False, 200),  # allow: the upstream answers
        (403, False, 403),  # block: nginx answers 403 itself
        (500, False, 200),  # enforcer failing: fail open
        (503, False, 200),
        (400, False, 500),  # a call the enforcer cannot read: not let through
        (500, True, 500),  # fail closed: the two fail-open lines deleted
        (None, False, 200),  # nothing listens: fail open
        (None, True, 500),
    ],
)
def test_what_nginx_does_with_each_enforcer_answer(
    tmp_path: Path, auth_status: int | None, fail_closed: bool, expected: int
) -> None:
    """The shipped configuration maps each answer of /auth as deploy/nginx/README.md says."""
    upstream, stand_in = Upstream(), Upstream()
    upstream.start()
    stand_in.start()
    port = free_port()
    enforcer_port = stand_in.port if auth_status is not None else free_port()
    nginx = Nginx(
        tmp_path / "nginx",
        render_conf(
            listen=port,
            upstream=upstream.port,
            enforcer=enforcer_port,
            log_udp=None,
            fail_closed=fail_closed,
        ),
    )
    try:
        nginx.start(port)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"X-Test-Status": "200", "X-Test-Bytes": "5"}
        if auth_status is not None:
            headers["X-Test-Auth-Status"] = str(auth_status)
        started = time.perf_counter()
        connection.request("GET", "/v1/products/1", headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        assert answer.status == expected, nginx.errors()[-500:]
        assert time.perf_counter() - started < 2.0  # within the timeouts, no hang
        if expected == 200:
            assert body == b"xxxxx"  # the upstream's own answer
        if expected == 403:
            assert json.loads(body)["by"] == "apibehave"
    finally:
        nginx.stop()
        upstream.stop()
        stand_in.stop()
