"""A fleet of enforcers (processes, or apps in one process) sharing lists through a real Redis."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from apibehave.detect.model import LearningSettings
from apibehave.enforce.app import create_app
from apibehave.enforce.settings import EnforceSettings
from apibehave.engine.redis_store import PROPAGATION_BOUND_MS, RedisListStore
from apibehave.workbench.train import export_bundle, train_model
from apibehave.workbench.train_settings import TrainSettings
from tests.engine_world import CATALOGUE, make_logs
from tests.gateway_fixture import wait_port
from tests.redis_fixture import RedisServer, free_port, redis_server  # noqa: F401 - fixture

ADMIN = {"Authorization": "Bearer fleet-admin"}
SHOP = "shop.example.com"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained on the engine world."""
    train, _ = make_logs(seed=3)
    settings = TrainSettings(learning=LearningSettings(min_events=100))
    result = train_model(train, catalogue=CATALOGUE, settings=settings)
    return export_bundle(result, tmp_path_factory.mktemp("bundle") / "b", settings)


@pytest.fixture
def fleet(bundle: Path, redis_server: RedisServer, tmp_path: Path) -> Iterator[list]:  # noqa: F811
    """Two enforcers, each with its own engine and its own Redis list stores."""
    clients, stores = [], []
    for name in ("a", "b"):
        settings = EnforceSettings(
            bundle=str(bundle),
            admin_token="fleet-admin",
            state_dir=str(tmp_path / name),
            call_log_dir=None,
        )
        deny = RedisListStore(redis_server.url, namespace="deny", retry_interval_s=0.1)
        allow = RedisListStore(redis_server.url, namespace="allow", retry_interval_s=0.1)
        assert deny.wait_connected() and allow.wait_connected()
        stores += [deny, allow]
        clients.append(TestClient(create_app(settings, deny=deny, allow=allow)).__enter__())
    yield clients
    for client in clients:
        client.__exit__(None, None, None)
    for store in stores:
        store.close(timeout_s=0.2)


def auth(client: TestClient, ip: str, path: str, token: str | None = None) -> int:
    """Ask one enforcer about one call, as nginx's auth_request does; return its status."""
    headers = {"X-Original-URI": path, "X-Original-Method": "GET", "X-Real-IP": ip,
               "X-Original-Host": SHOP}  # fmt: skip
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.get("/auth", headers=headers).status_code


def honoured_within(check, bound_ms: float) -> float:
    """Poll ``check()`` until it holds; return the milliseconds it took (fail past the bound)."""
    started = time.perf_counter()
    while not check():
        if (time.perf_counter() - started) * 1000 > bound_ms:
            raise AssertionError(f"not honoured within {bound_ms} ms")
        time.sleep(0.002)
    return (time.perf_counter() - started) * 1000


def test_admin_changes_on_one_enforcer_reach_the_other(fleet) -> None:
    """A manual deny entry, its removal and an allow entry all travel through Redis."""
    a, b = fleet
    added = a.post("/denylist", json={"kind": "token", "value": "tok-9", "ttl_s": 600},
                   headers=ADMIN)  # fmt: skip
    assert added.status_code == 201, added.text
    honoured_within(
        lambda: auth(b, "10.1.0.9", "/v1/products/1", "tok-9") == 403, PROPAGATION_BOUND_MS
    )
    removed = b.request("DELETE", "/denylist", json={"kind": "token", "value": "tok-9"},
                        headers=ADMIN)  # fmt: skip
    assert removed.status_code == 200, removed.text
    honoured_within(
        lambda: auth(a, "10.1.0.9", "/v1/products/1", "tok-9") == 200, PROPAGATION_BOUND_MS
    )
    # allow always wins, fleet-wide: an allowed address passes a decoy on the other enforcer
    assert b.post("/allowlist", json={"kind": "ip", "value": "10.2.0.1"},
                  headers=ADMIN).status_code == 201  # fmt: skip
    honoured_within(
        lambda: auth(a, "10.2.0.1", "/v1/products/admin-export", "tok-y") == 200,
        PROPAGATION_BOUND_MS,
    )


def test_redis_away_and_back_the_fleet_keeps_deciding(fleet, redis_server) -> None:  # noqa: F811
    """Redis away: each enforcer keeps deciding; Redis back: blocks reach the other, none lost.

    While Redis is down both answer from their mirrors and a new block holds where it was
    made; when Redis returns the queued block reaches the other enforcer.
    """
    a, b = fleet
    assert auth(a, "88.8.8.1", "/v1/products/admin-export", "tok-p") == 403
    honoured_within(lambda: auth(b, "88.8.8.1", "/v1/products/3") == 403, PROPAGATION_BOUND_MS)
    redis_server.kill()
    started = time.perf_counter()
    assert auth(b, "88.8.8.1", "/v1/products/4") == 403  # known before the outage
    assert auth(b, "10.1.0.7", "/v1/products/4", "tok-7") == 200
    assert auth(a, "88.8.8.2", "/v1/products/admin-export", "tok-q") == 403  # new, local
    assert auth(a, "88.8.8.2", "/v1/products/5") == 403
    assert time.perf_counter() - started < 2.0  # no call waited on Redis
    assert auth(b, "88.8.8.2", "/v1/products/5") == 200  # not shared while Redis is away
    redis_server.start()
    honoured_within(lambda: auth(b, "88.8.8.2", "/v1/products/6") == 403, 10_000)
    assert auth(b, "88.8.8.1", "/v1/products/7") == 403  # the earlier block survived


LAUNCH = """
import sys, uvicorn
from apibehave.enforce.app import create_app
from apibehave.enforce.settings import EnforceSettings
from apibehave.engine.redis_store import RedisListStore
bundle, port, url, state = sys.argv[1:5]
settings = EnforceSettings(bundle=bundle, port=int(port), admin_token="fleet-admin",
                           state_dir=state, call_log_dir=None)
app = create_app(settings, deny=RedisListStore(url, namespace="deny"),
                 allow=RedisListStore(url, namespace="allow"))
uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
"""


def http_auth(port: int, ip: str, path: str, token: str | None = None) -> int:
    """Ask an enforcer process about one call over TCP; return its status."""
    headers = {"X-Original-URI": path, "X-Original-Method": "GET", "X-Real-IP": ip,
               "X-Original-Host": SHOP}  # fmt: skip
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/auth", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_two_enforcer_processes_share_blocks(bundle, redis_server, tmp_path) -> None:  # noqa: F811
    """Two uvicorn processes, each with its own engine and Redis stores, share a block.

    A decoy hit on enforcer A blocks the client on enforcer B, which never saw the decoy.
    """
    ports, processes = [free_port(), free_port()], []
    try:
        for port, name in zip(ports, "ab", strict=True):
            command = [sys.executable, "-c", LAUNCH, str(bundle), str(port), redis_server.url,
                       str(tmp_path / name)]  # fmt: skip
            processes.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            )
        for port, process in zip(ports, processes, strict=True):
            wait_port(port, 60, process)
        a, b = ports
        assert http_auth(b, "88.8.8.9", "/v1/products/2", "tok-z") == 200
        assert http_auth(a, "88.8.8.9", "/v1/products/admin-export", "tok-z") == 403
        honoured_within(
            lambda: http_auth(b, "88.8.8.9", "/v1/products/3") == 403, PROPAGATION_BOUND_MS
        )
        assert http_auth(b, "10.1.0.5", "/v1/products/8", "tok-5") == 200  # others still pass
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
