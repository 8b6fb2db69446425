"""The call log: rotating Parquet files in the event schema that ingest and train read back."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
import pytest

from apibehave.cli import main
from apibehave.enforce.app import create_app
from apibehave.enforce.calllog import CallLog, call_row
from apibehave.enforce.digest import Digester
from apibehave.ingest.secrets import digest_value
from apibehave.schema import read_events
from tests.enforce_support import (
    ase_request_body,
    ase_response_body,
    build_world_bundle,
    event_time_header,
    settings_for,
)

KEY = "call-log-test-key"


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """Send the engine world's test calls through an enforcer that logs in 700-row files."""
    root = tmp_path_factory.mktemp("calllog")
    bundle, test = build_world_bundle(root / "bundle")
    test = test.sort_values("ts", kind="stable").reset_index(drop=True)
    (root / "key").write_text(KEY + "\n")
    settings = settings_for(
        bundle, root / "state", trust_event_time=True, call_log_rotate_rows=700,
        digest_key_file=str(root / "key"),
    )  # fmt: skip
    app = create_app(settings)

    async def send() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://e") as client,
        ):
            for n, event in enumerate(test.to_dict(orient="records")):
                headers = {"X-CorrelationID": f"c-{n}",
                           "X-Event-Time": event_time_header(event["ts"])}  # fmt: skip
                await client.post("/ase/request", json=ase_request_body(event), headers=headers)
                await client.post("/ase/response", json=ase_response_body(event), headers=headers)

    asyncio.run(send())  # leaving the lifespan finishes the last file
    return root, bundle, test


def test_every_call_is_logged_in_rotating_files(logged) -> None:
    """Each call is one row; files rotate at 700 rows; no partial file is left at shutdown."""
    root, _, test = logged
    calls = root / "state" / "calls"
    files = sorted(calls.glob("calls-*.parquet"))
    assert len(files) == -(-len(test) // 700)
    assert not list(calls.glob("*.partial"))
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    assert len(frame) == len(test)
    assert frame["correlation_id"].tolist() == [f"c-{n}" for n in range(len(test))]
    assert (frame["ts"].to_numpy() == test["ts"].to_numpy()).all()
    assert (frame["status"].to_numpy() == test["status"].to_numpy()).all()
    assert (frame["client_ip"].to_numpy() == test["client_ip"].to_numpy()).all()
    assert set(frame["decision"]) <= {"allow", "block", "shadow"}
    assert (frame["decision"] == "block").sum() > 0


def test_secret_identifiers_are_hmac_digests_as_ingest_makes_them(logged) -> None:
    """Tokens and API keys are logged as ingest's keyed digests; addresses stay readable."""
    root, _, test = logged
    files = sorted((root / "state" / "calls").glob("calls-*.parquet"))
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    for column in ("token", "api_key"):
        raw = test[column]
        expected = [None if pd.isna(v) else digest_value(v, KEY.encode()) for v in raw]
        got = [None if pd.isna(v) else v for v in frame[column]]
        assert got == expected
        assert not set(raw.dropna()) & set(frame[column].dropna())
    assert frame["body"].isna().all()  # bodies are not logged unless asked


def test_ingest_and_train_read_the_call_log_back(logged, tmp_path, capsys) -> None:
    """`apibehave ingest` reads a call-log file and `apibehave train` trains on the result."""
    root, bundle, _ = logged
    first = sorted((root / "state" / "calls").glob("calls-*.parquet"))[0]
    events = tmp_path / "events.parquet"
    assert main(["ingest", str(first), "--out", str(events)]) == 0
    ingested = read_events(events)
    original = pd.read_parquet(first)
    assert len(ingested) == len(original) == 700
    assert (ingested["token"].fillna("-") == original["token"].fillna("-")).all()
    assert main(["train", "--events", str(events), "--apis", str(bundle / "apis.yaml"),
                 "--out", str(tmp_path / "retrained"), "--no-track"]) == 0  # fmt: skip
    assert (tmp_path / "retrained" / "manifest.json").is_file()
    assert "train" in capsys.readouterr().out.lower()


def test_a_full_buffer_drops_and_counts_instead_of_blocking(tmp_path) -> None:
    """Past buffer_max queued rows, further calls are dropped and counted, never waited on."""
    log = CallLog(tmp_path, Digester(b"k"), buffer_max=3, flush_s=60)
    event = {
        "ts": 1, "client_ip": "1.1.1.1", "method": "GET", "path": "/", "status": 200,
        "api": None, "host": None, "query": None, "req_bytes": 0, "resp_bytes": 0,
        "latency_ms": None, "user_agent": None, "token": "t", "cookie": None, "api_key": None,
        "username": None, "body": None, "correlation_id": None,
    }  # fmt: skip
    for _ in range(5):
        log.append(call_row(event, "allow", None))
    assert log.dropped == 2
    log.close()
    files = log.finished_files()
    assert len(files) == 1
    table = pd.read_parquet(files[0])
    assert len(table) == 3
    assert np.all(table["token"] == Digester(b"k")("t"))
