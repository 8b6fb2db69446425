"""The enforcer's routes: sideband, auth_request, lists, reports, health, limits and garbage."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from apibehave.enforce.app import create_app
from tests.enforce_support import (
    ADMIN,
    build_world_bundle,
    settings_for,
)

BENIGN = {
    "source_ip": "10.9.9.9",
    "source_port": 5000,
    "method": "GET",
    "url": "/v1/products/12",
    "http_version": "1.1",
    "headers": [
        {"host": "shop.example.com"},
        {"user-agent": "Mozilla/5.0"},
        {"authorization": "Bearer tok-ann"},
    ],
    "user_info": [{"username": "user12"}],
}
"""Looks like the engine world's users (the payload model learns user agents, query names
and user-name shapes: a call unlike them is not benign)."""
UA = {"User-Agent": "Mozilla/5.0"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path, _ = build_world_bundle(tmp_path_factory.mktemp("routes") / "bundle")
    return path


@pytest.fixture
def client(bundle, tmp_path):
    app = create_app(settings_for(bundle, tmp_path / "state", max_body_bytes=4096))
    with TestClient(app) as c:
        yield c


def test_benign_request_is_allowed_and_its_response_pairs(client) -> None:
    """A benign ASE request answers 200 allow; its response pairs by X-CorrelationID."""
    answer = client.post("/ase/request", json=BENIGN, headers={"X-CorrelationID": "r1"})
    assert answer.status_code == 200
    assert answer.json() == {"decision": "allow"}
    response = {"response_code": "200", "headers": [{"content-length": "512"}]}
    paired = client.post("/ase/response", json=response, headers={"X-CorrelationID": "r1"})
    assert paired.status_code == 200 and paired.json() == {"paired": True}
    again = client.post("/ase/response", json=response, headers={"X-CorrelationID": "r1"})
    assert again.json() == {"paired": False}


def test_decoy_hit_answers_403_with_reason(client) -> None:
    """A decoy path is blocked with attack type, identifier kind and an evidence id."""
    body = dict(BENIGN, source_ip="88.1.1.1", url="/v1/products/admin-export")
    answer = client.post("/ase/request", json=body)
    assert answer.status_code == 403, answer.text
    reason = answer.json()
    assert reason["decision"] == "block"
    assert reason["attack_type"] == "decoy"
    assert reason["identifier_kind"] == "ip"
    assert re.fullmatch(r"ev-\d+", reason["evidence_id"])
    follow = client.post("/ase/request", json=dict(body, url="/v1/products/3"))
    assert follow.status_code == 403
    assert follow.json()["evidence_id"] == reason["evidence_id"]


def test_auth_request_reads_nginx_headers(client) -> None:
    """GET /auth decides from X-Original-URI, method, X-Real-IP and forwarded identifiers."""
    ok = client.get(
        "/auth",
        headers={**UA, "X-Original-URI": "/v1/products/5", "X-Original-Method": "GET",
                 "X-Real-IP": "10.2.2.2", "Authorization": "Bearer tok-x"},
    )  # fmt: skip
    assert ok.status_code == 200
    blocked = client.get(
        "/auth",
        headers={**UA, "X-Original-URI": "/v1/products/admin-export", "X-Real-IP": "10.3.3.3"},
    )
    assert blocked.status_code == 403
    assert blocked.json()["attack_type"] == "decoy"
    again = client.get(
        "/auth",
        headers={"X-Original-URI": "/v1/products/1", "X-Forwarded-For": "10.3.3.3, 1.1.1.1"},
    )
    assert again.status_code == 403
    missing = client.get("/auth")
    assert missing.status_code == 400


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b'{"method": "GET"', 400),
        (b"[1, 2, 3]", 400),
        (b'{"method": "GET", "url": "/x"}', 400),
        (b'{"source_ip": "1.2.3.4", "method": "G E T", "url": "/x"}', 400),
        (b'{"source_ip": "1.2.3.4", "method": "GET", "url": "/x", "headers": 5}', 400),
        (b"\xff\xfe\x00garbage", 400),
        (b"", 400),
        (b"[" * 100_000, 413),
        (b'{"source_ip": "1.2.3.4", "method": "GET", "url": "/' + b"a" * 5000 + b'"}', 413),
    ],
)
def test_garbage_answers_4xx_and_service_goes_on(client, content: bytes, status: int) -> None:
    """Malformed, truncated and oversized bodies answer 400/413; the next call is served."""
    answer = client.post(
        "/ase/request", content=content, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status
    assert "error" in answer.json()
    assert client.post("/ase/request", json=BENIGN).status_code == 200


def test_deeply_nested_json_within_the_limit_answers_400(bundle, tmp_path) -> None:
    """A body nested deeper than the parser's recursion limit is a 400, not a crash."""
    app = create_app(settings_for(bundle, tmp_path / "s", max_body_bytes=1_000_000))
    with TestClient(app) as client:
        answer = client.post("/ase/request", content=b"[" * 200_000)
        assert answer.status_code == 400
        assert client.get("/healthz").status_code == 200


def test_response_without_correlation_or_code_is_400(client) -> None:
    """A sideband response needs X-CorrelationID and a numeric response_code."""
    assert client.post("/ase/response", json={"response_code": "200"}).status_code == 400
    bad = client.post("/ase/response", json={"response_code": "OK"},
                      headers={"X-CorrelationID": "x"})  # fmt: skip
    assert bad.status_code == 400


def test_admin_routes_need_the_bearer_token(client) -> None:
    """Lists, reports and reload answer 401 without the admin token, or with a wrong one."""
    routes = [
        ("GET", "/denylist"), ("POST", "/denylist"), ("DELETE", "/denylist"),
        ("GET", "/allowlist"), ("GET", "/reports/attacks"), ("GET", "/reports/usage"),
        ("GET", "/reports/forensics/ip/1.2.3.4"), ("GET", "/reports/training"),
        ("POST", "/admin/reload"),
    ]  # fmt: skip
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            answer = client.request(method, path, headers=headers)
            assert answer.status_code == 401, (method, path)
            assert answer.headers["www-authenticate"] == "Bearer"


def test_open_routes_need_no_token(client) -> None:
    """Health, readiness, metrics and the OpenAPI description are open."""
    assert client.get("/healthz").json() == {"ok": True}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["call_log"] == "running"
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")
    assert client.get("/openapi.json").json()["openapi"].startswith("3.")


def test_deny_list_add_block_list_remove(client) -> None:
    """An admin deny entry blocks the identifier until removed; GET lists it with its TTL."""
    entry = {"kind": "token", "value": "tok-ann", "ttl_s": 600}
    assert client.post("/denylist", json=entry, headers=ADMIN).status_code == 201
    blocked = client.post("/ase/request", json=BENIGN)
    assert blocked.status_code == 403
    assert blocked.json()["identifier_kind"] == "token"
    listing = client.get("/denylist", headers=ADMIN).json()
    assert listing["count"] == 1
    assert listing["entries"][0]["value"] == "tok-ann"
    assert 590 < listing["entries"][0]["ttl_s"] <= 600
    assert listing["entries"][0]["source"] == "admin"
    assert client.get("/denylist?kind=ip", headers=ADMIN).json()["count"] == 0
    removed = client.request("DELETE", "/denylist", json={"kind": "token", "value": "tok-ann"},
                             headers=ADMIN)  # fmt: skip
    assert removed.json() == {"removed": 1}
    assert client.post("/ase/request", json=BENIGN).status_code == 200
    gone = client.request("DELETE", "/denylist", json={"kind": "token", "value": "tok-ann"},
                          headers=ADMIN)  # fmt: skip
    assert gone.status_code == 404


def test_allow_always_wins(client) -> None:
    """An identifier on both lists is allowed; a decoy hit from an allowed address too."""
    client.post("/denylist", json={"kind": "ip", "value": "10.9.9.9"}, headers=ADMIN)
    client.post("/allowlist", json={"kind": "username", "value": "user12"}, headers=ADMIN)
    assert client.post("/ase/request", json=BENIGN).status_code == 200
    decoy = dict(BENIGN, url="/v1/products/admin-export")
    assert client.post("/ase/request", json=decoy).status_code == 200


def test_bulk_clear_by_kind_and_all(client) -> None:
    """DELETE without a value clears one kind (?kind= or body) or everything."""
    for i in range(3):
        client.post("/denylist", json={"kind": "ip", "value": f"1.1.1.{i}"}, headers=ADMIN)
    client.post("/denylist", json={"kind": "api_key", "value": "k"}, headers=ADMIN)
    assert client.delete("/denylist?kind=ip", headers=ADMIN).json() == {"removed": 3}
    assert client.get("/denylist", headers=ADMIN).json()["count"] == 1
    assert client.delete("/denylist", headers=ADMIN).json() == {"removed": 1}


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "ssn", "value": "x"},
        {"kind": "ip"},
        {"kind": "ip", "value": ""},
        {"kind": "ip", "value": 5},
        {"kind": "ip", "value": "1.2.3.4", "ttl_s": -1},
        {"kind": "ip", "value": "1.2.3.4", "ttl_s": "soon"},
        {"kind": "ip", "value": "1.2.3.4", "ttl_s": True},
        ["ip", "1.2.3.4"],
    ],
)
def test_bad_list_entries_answer_400(client, entry) -> None:
    """Entries with an unknown kind, no value or a bad TTL are refused with a reason."""
    answer = client.post("/denylist", json=entry, headers=ADMIN)
    assert answer.status_code == 400
    assert answer.json()["error"]


def test_entry_ttl_expires(bundle, tmp_path) -> None:
    """A deny entry stops applying after its TTL (event time with --trust-event-time)."""
    settings = settings_for(bundle, tmp_path / "s", trust_event_time=True)
    with TestClient(create_app(settings)) as client:
        at = {"X-Event-Time": "1772500000"}
        assert client.post("/ase/request", json=BENIGN, headers=at).status_code == 200
        client.post("/denylist", json={"kind": "ip", "value": "10.9.9.9", "ttl_s": 60},
                    headers=ADMIN)  # fmt: skip
        soon = {"X-Event-Time": "1772500030"}
        assert client.post("/ase/request", json=BENIGN, headers=soon).status_code == 403
        later = {"X-Event-Time": "1772500061"}
        assert client.post("/ase/request", json=BENIGN, headers=later).status_code == 200
        missing = client.post("/ase/request", json=BENIGN)
        assert missing.status_code == 400
        assert "X-Event-Time" in missing.json()["error"]


def test_ase_token_is_required_when_set(bundle, tmp_path) -> None:
    """With a sideband token, /ase/* and /auth need a matching ASE-Token header."""
    settings = settings_for(bundle, tmp_path / "s", ase_token="side-secret")
    with TestClient(create_app(settings)) as client:
        assert client.post("/ase/request", json=BENIGN).status_code == 401
        wrong = {"ASE-Token": "nope"}
        assert client.post("/ase/request", json=BENIGN, headers=wrong).status_code == 401
        good = {"ASE-Token": "side-secret"}
        assert client.post("/ase/request", json=BENIGN, headers=good).status_code == 200
        auth = {**UA, "X-Original-URI": "/v1/products/1", **good}
        assert client.get("/auth", headers=auth).status_code == 200


@pytest.mark.parametrize(("mode", "status"), [("open", 200), ("closed", 403)])
def test_fail_mode_when_the_engine_raises(bundle, tmp_path, mode: str, status: int) -> None:
    """An engine error answers by the fail mode, counts as an error and the service goes on."""
    settings = settings_for(bundle, tmp_path / "s", fail_mode=mode)
    app = create_app(settings)
    engine = app.state.enforcer.serving.engine

    def broken(event, handle=None):
        raise RuntimeError("engine exploded")

    with TestClient(app) as client:
        original = engine.decide
        engine.decide = broken
        answer = client.post("/ase/request", json=BENIGN)
        assert answer.status_code == status
        assert answer.json()["reason"] == "engine_error"
        engine.decide = original
        assert client.post("/ase/request", json=BENIGN).status_code == 200
        metrics = client.get("/metrics").text
        assert 'apibehave_decisions_total{route="ase",outcome="error",attack_type=""} 1' in metrics
        assert 'apibehave_engine_errors_total{reason="decide"} 1' in metrics


def test_metrics_count_decisions_and_lists(client) -> None:
    """Metrics carry decisions by outcome and type, the latency histogram, list sizes, bundle."""
    client.post("/ase/request", json=BENIGN)
    client.post("/ase/request", json=dict(BENIGN, source_ip="88.2.2.2",
                                          url="/v1/products/admin-export"))  # fmt: skip
    client.post("/denylist", json={"kind": "ip", "value": "9.9.9.9"}, headers=ADMIN)
    text = client.get("/metrics").text
    assert 'apibehave_decisions_total{route="ase",outcome="allow",attack_type=""} 1' in text
    assert 'apibehave_decisions_total{route="ase",outcome="block",attack_type="decoy"} 1' in text
    assert 'apibehave_decision_seconds_bucket{le="+Inf"} 2' in text
    assert "apibehave_decision_seconds_count 2" in text
    assert re.search(r"^apibehave_denylist_entries 4$", text, re.M)  # decoy: ip, token, user
    assert re.search(r'^apibehave_bundle_info\{bundle_id="apibehave-[^"]+"\} 1$', text, re.M)
    for line in text.splitlines():  # every sample line parses as name{labels} value
        if not line.startswith("#"):
            assert re.fullmatch(r'[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? \S+', line)


def test_attack_report_filters(client) -> None:
    """The attack report filters by type, API and time range and counts by type."""
    decoy = dict(BENIGN, source_ip="88.3.3.3", url="/v1/products/admin-export")
    client.post("/ase/request", json=decoy)
    report = client.get("/reports/attacks", headers=ADMIN).json()
    assert report["total"] == 1 and report["by_type"] == {"decoy": 1}
    attack = report["attacks"][0]
    assert attack["api"] == "shop" and attack["identifier"] == "88.3.3.3"
    assert attack["evidence"]["rule"] == "decoy_path"
    assert client.get("/reports/attacks?type=login_attack", headers=ADMIN).json()["total"] == 0
    assert client.get("/reports/attacks?api=auth", headers=ADMIN).json()["total"] == 0
    assert client.get("/reports/attacks?api=shop", headers=ADMIN).json()["total"] == 1
    assert client.get("/reports/attacks?since=2999-01-01", headers=ADMIN).json()["total"] == 0
    assert client.get("/reports/attacks?until=2000-01-01T00:00:00Z",
                      headers=ADMIN).json()["total"] == 0  # fmt: skip
    assert client.get("/reports/attacks?since=0", headers=ADMIN).json()["total"] == 1
    assert client.get("/reports/attacks?type=nonsense", headers=ADMIN).status_code == 400
    assert client.get("/reports/attacks?since=yesterday", headers=ADMIN).status_code == 400


def test_forensics_report_shape(client) -> None:
    """Forensics of an identifier: calls, its IPs with counts, methods, URLs, APIs, evidence."""
    for ip in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):
        client.post("/ase/request", json=dict(BENIGN, source_ip=ip))
    client.post("/ase/request", json=dict(BENIGN, source_ip="10.0.0.2",
                                          url="/v1/products/admin-export"))  # fmt: skip
    report = client.get("/reports/forensics/token/tok-ann", headers=ADMIN).json()
    assert report["identifier"] == {"kind": "token", "value": "tok-ann"}
    assert report["total_calls"] == 4
    assert report["ips"] == [{"ip": "10.0.0.1", "count": 2}, {"ip": "10.0.0.2", "count": 2}]
    assert report["methods"] == {"GET": 4}
    assert {"url": "/v1/products/12", "count": 3} in report["urls"]
    assert report["apis"] == {"shop": 4}
    assert [e["attack_type"] for e in report["evidence"]] == ["decoy"]
    assert report["denylist"]["attack_type"] == "decoy"
    assert report["allowlist"] is None
    assert report["first_seen"] <= report["last_seen"]
    nobody = client.get("/reports/forensics/ip/203.0.113.7", headers=ADMIN).json()
    assert nobody["total_calls"] == 0 and nobody["ips"] == []
    assert client.get("/reports/forensics/ssn/1", headers=ADMIN).status_code == 400


def test_forensics_by_digest(client) -> None:
    """A token can be looked up by its call-log digest as well as by its value."""
    client.post("/ase/request", json=BENIGN)
    digest = client.app.state.enforcer.digester("tok-ann")
    report = client.get(f"/reports/forensics/token/{digest}", headers=ADMIN).json()
    assert report["total_calls"] == 1


def test_usage_and_training_reports(client) -> None:
    """Usage summarises recent calls per API; training lists each API's status and mode."""
    empty = client.get("/reports/usage", headers=ADMIN).json()
    assert empty["summary"]["total_requests"] == 0
    client.post("/ase/request", json=BENIGN)
    client.post("/ase/request", json=dict(BENIGN, url="/v1/auth/login", method="POST"))
    usage = client.get("/reports/usage", headers=ADMIN).json()
    assert usage["summary"]["total_requests"] == 2
    assert {a["api"] for a in usage["apis"]} == {"shop", "auth"}
    training = client.get("/reports/training", headers=ADMIN).json()
    assert training["bundle_id"].startswith("apibehave-")
    assert training["apis"]["partner"]["mode"] == "shadow"
    assert training["apis"]["shop"]["status"] in {"ready", "learning"}


def test_unknown_api_calls_are_decided_and_blocked_past_the_ceiling(client) -> None:
    """Calls to no API of the catalogue are decided (never an error); a prober gets blocked."""
    probe = dict(BENIGN, source_ip="10.5.5.5", headers=[{"user-agent": "Mozilla/5.0"}])
    answers = [client.post("/ase/request", json=dict(probe, url=f"/wp-admin/{i}.php"))
               for i in range(20)]  # fmt: skip
    assert answers[0].status_code == 200
    assert {a.status_code for a in answers} == {200, 403}
    blocked = next(a.json() for a in answers if a.status_code == 403)
    assert blocked["attack_type"] == "invalid_api"
    assert blocked["identifier_kind"] == "ip"
