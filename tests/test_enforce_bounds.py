"""State stays bounded under floods; /auth responses arrive through the access-log listener."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from apibehave.enforce.app import create_app
from tests.enforce_support import build_world_bundle, settings_for


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path, _ = build_world_bundle(tmp_path_factory.mktemp("bounds") / "bundle")
    return path


async def _with_client(app, scenario):
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://e") as client,
    ):
        return await scenario(client)


def test_a_flood_of_distinct_identifiers_keeps_state_bounded(bundle, tmp_path) -> None:
    """Thousands of new addresses and tokens: feature tables, pending calls and memory cap."""
    settings = settings_for(
        bundle, tmp_path / "s", max_identifiers=200, pending_max=50, recent_calls=300,
        call_log_dir=None,
    )  # fmt: skip
    app = create_app(settings)

    async def flood(client):
        for i in range(3000):
            body = {"source_ip": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "method": "GET",
                    "url": f"/v1/products/{i}",
                    "headers": [{"authorization": f"Bearer flood-{i}"}]}  # fmt: skip
            answer = await client.post("/ase/request", json=body,
                                       headers={"X-CorrelationID": f"f{i}"})  # fmt: skip
            assert answer.status_code in (200, 403)
        return (await client.get("/metrics")).text

    metrics = asyncio.run(_with_client(app, flood))
    enforcer = app.state.enforcer
    tables = enforcer.serving.engine.features.tracked_identifiers()
    assert max(tables.values()) <= 200
    assert len(enforcer.pending) <= 50
    assert len(enforcer.recent) == 300
    assert "apibehave_expired_pairings_total" in metrics
    assert enforcer.pending.expired == 3000  # 2950 pushed out, the rest at shutdown


def test_auth_responses_arrive_through_the_access_log_listener(bundle, tmp_path) -> None:
    """An /auth call with X-Request-ID pairs with nginx's JSON access-log line over UDP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = settings_for(bundle, tmp_path / "s", log_udp_port=port, call_log_dir=None)
    app = create_app(settings)

    async def scenario(client):
        for i in range(3):
            headers = {"X-Original-URI": "/v1/products/1", "X-Request-ID": f"req{i}",
                       "User-Agent": "Mozilla/5.0",
                       "X-Real-IP": "10.4.4.4"}  # fmt: skip
            assert (await client.get("/auth", headers=headers)).status_code == 200
        assert len(app.state.enforcer.pending) == 3
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for i in range(2):
                line = (f'<190>Nov 22 10:00:00 gw nginx: {{"request_id":"req{i}","status":"200",'
                        f'"body_bytes_sent":"99","request_time":"0.010"}}')  # fmt: skip
                sender.sendto(line.encode(), ("127.0.0.1", port))
            sender.sendto(b"garbage", ("127.0.0.1", port))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(app.state.enforcer.pending) == 1:
                break
        return (await client.get("/metrics")).text

    metrics = asyncio.run(_with_client(app, scenario))
    assert 'apibehave_access_log_lines_total{reason="paired"} 2' in metrics
    assert 'apibehave_access_log_lines_total{reason="unreadable"} 1' in metrics
    rows = [r for r in app.state.enforcer.recent if r[4] == 200]
    assert len(rows) == 2 and all(r[9] == 99 for r in rows)
