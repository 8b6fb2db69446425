"""Hot reload: a verified bundle is swapped in atomically; a bad one is refused."""

from __future__ import annotations

import asyncio
import json
import shutil

import httpx
import pytest
from starlette.testclient import TestClient

from apibehave.enforce.app import create_app
from tests.enforce_support import ADMIN, build_world_bundle, settings_for

CALL = {
    "source_ip": "10.7.7.7",
    "method": "GET",
    "url": "/v1/products/7",
    "headers": [
        {"host": "shop.example.com"},
        {"user-agent": "Mozilla/5.0"},
        {"authorization": "Bearer tok-7"},
    ],
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("reload")
    first, _ = build_world_bundle(root / "first", seed=3)
    second, _ = build_world_bundle(root / "second", seed=4)
    tampered = root / "tampered"
    shutil.copytree(second, tampered)
    thresholds = tampered / "thresholds.json"
    data = json.loads(thresholds.read_text())
    thresholds.write_text(json.dumps(data) + " ")  # one byte more: the checksum fails
    return first, second, tampered


def _bundle_id(client) -> str:
    return client.get("/readyz").json()["bundle_id"]


def test_reload_swaps_the_bundle_and_keeps_the_deny_list(bundles, tmp_path) -> None:
    """POST /admin/reload verifies and serves the new bundle; deny entries survive."""
    first, second, _ = bundles
    app = create_app(settings_for(first, tmp_path / "s"))
    with TestClient(app) as client:
        old = _bundle_id(client)
        client.post("/denylist", json={"kind": "ip", "value": "10.7.7.7"}, headers=ADMIN)
        client.post("/ase/request", json=dict(CALL, source_ip="10.8.8.8",
                                              url="/v1/products/admin-export"))  # fmt: skip
        before = client.get("/denylist", headers=ADMIN).json()["entries"]
        answer = client.post("/admin/reload", json={"bundle": str(second)}, headers=ADMIN)
        assert answer.status_code == 200
        new = answer.json()["serving"]
        assert new != old and _bundle_id(client) == new
        after = client.get("/denylist", headers=ADMIN).json()["entries"]
        assert [(e["kind"], e["value"]) for e in after] == [(e["kind"], e["value"]) for e in before]
        assert client.post("/ase/request", json=CALL).status_code == 403
        assert f'apibehave_bundle_info{{bundle_id="{new}"}} 1' in client.get("/metrics").text


def test_a_tampered_bundle_is_refused_and_the_old_one_serves_on(bundles, tmp_path) -> None:
    """A bundle that does not verify answers 409 with the reason; nothing changes."""
    first, _, tampered = bundles
    app = create_app(settings_for(first, tmp_path / "s"))
    with TestClient(app) as client:
        old = _bundle_id(client)
        answer = client.post("/admin/reload", json={"bundle": str(tampered)}, headers=ADMIN)
        assert answer.status_code == 409
        assert answer.json()["reloaded"] is False
        assert "thresholds.json" in answer.json()["reason"]
        missing = client.post("/admin/reload", json={"bundle": str(tmp_path / "none")},
                              headers=ADMIN)  # fmt: skip
        assert missing.status_code == 409
        assert _bundle_id(client) == old
        assert client.post("/ase/request", json=CALL).status_code == 200
        assert 'apibehave_reloads_total{reason="refused"} 2' in client.get("/metrics").text


def test_reload_without_a_body_rereads_the_configured_path(bundles, tmp_path) -> None:
    """An empty reload re-reads the --bundle path (e.g. a moved bundles/latest)."""
    first, second, _ = bundles
    live = tmp_path / "latest"
    shutil.copytree(first, live)
    app = create_app(settings_for(live, tmp_path / "s"))
    with TestClient(app) as client:
        old = _bundle_id(client)
        shutil.rmtree(live)
        shutil.copytree(second, live)
        assert client.post("/admin/reload", headers=ADMIN).status_code == 200
        assert _bundle_id(client) != old


def test_reload_under_load_answers_every_call_and_loses_no_entry(bundles, tmp_path) -> None:
    """Calls sent while bundles swap back and forth are all answered; deny entries stay."""
    first, second, tampered = bundles
    app = create_app(settings_for(first, tmp_path / "s"))

    async def scenario() -> tuple[list[int], list[int], int]:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://e") as client,
        ):
            for i in range(50):
                await client.post("/denylist", json={"kind": "ip", "value": f"192.0.2.{i}"},
                                  headers=ADMIN)  # fmt: skip

            async def calls() -> list[int]:
                codes = []
                for i in range(300):
                    body = dict(CALL, source_ip=f"192.0.2.{i % 100}",
                                headers=[{"user-agent": "Mozilla/5.0"},
                                         {"authorization": f"Bearer t-{i}"}])  # fmt: skip
                    answer = await client.post("/ase/request", json=body,
                                               headers={"X-CorrelationID": f"l{i}"})  # fmt: skip
                    codes.append(answer.status_code)
                    await client.post("/ase/response", json={"response_code": 200},
                                      headers={"X-CorrelationID": f"l{i}"})  # fmt: skip
                return codes

            async def reloads() -> list[int]:
                codes = []
                for target in (second, tampered, first, second):
                    answer = await client.post("/admin/reload", json={"bundle": str(target)},
                                               headers=ADMIN)  # fmt: skip
                    codes.append(answer.status_code)
                return codes

            served, swapped = await asyncio.gather(calls(), reloads())
            listing = await client.get("/denylist?kind=ip", headers=ADMIN)
            return served, swapped, listing.json()["count"]

    served, swapped, denied = asyncio.run(scenario())
    assert swapped == [200, 409, 200, 200]
    assert len(served) == 300 and set(served) <= {200, 403}
    assert served.count(403) == 150  # 192.0.2.0-49 are denied, before and after every swap
    assert denied >= 50


def test_redis_url_shares_the_lists_between_two_enforcers(bundles, tmp_path) -> None:
    """With redis_url set, a deny entry made on one enforcer blocks on another."""
    import time

    from tests.redis_fixture import RedisServer

    first, _, _ = bundles
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        apps = [
            create_app(settings_for(first, tmp_path / f"s{i}", redis_url=server.url))
            for i in range(2)
        ]
        with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
            assert one.get("/readyz").json()["lists"]["denylist"]["backend"] == "redis"
            one.post("/denylist", json={"kind": "ip", "value": "10.7.7.7"}, headers=ADMIN)
            deadline = time.monotonic() + 5
            while two.post("/ase/request", json=CALL).status_code != 403:
                assert time.monotonic() < deadline, "the block did not reach the other enforcer"
                time.sleep(0.05)
            metrics = two.get("/metrics").text
            assert 'apibehave_list_store_connected{list="denylist"} 1' in metrics
    finally:
        server.stop()
