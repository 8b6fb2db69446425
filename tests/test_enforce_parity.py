"""A recorded log sent through /ase/request and /ase/response gets replay's decisions."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
import pytest

from apibehave.bundle.model_bundle import load_model_bundle
from apibehave.enforce.app import create_app
from apibehave.engine.replay import replay_events
from tests.enforce_support import (
    ase_request_body,
    ase_response_body,
    build_world_bundle,
    event_time_header,
    settings_for,
)


async def _send_in_time_order(app, events: pd.DataFrame) -> list[tuple[int, dict]]:
    """Send every call and its response in time order; return (status, JSON) per input row."""
    order = np.argsort(events["ts"].to_numpy(), kind="stable")
    records = events.to_dict(orient="records")
    answers: list[tuple[int, dict]] = [(0, {})] * len(events)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://enforcer") as client,
    ):
        for n, i in enumerate(order):
            event = records[i]
            headers = {"X-CorrelationID": f"c-{n}", "X-Event-Time": event_time_header(event["ts"])}
            answer = await client.post(
                "/ase/request", json=ase_request_body(event), headers=headers
            )
            answers[i] = (answer.status_code, answer.json())
            paired = await client.post(
                "/ase/response", json=ase_response_body(event), headers=headers
            )
            assert paired.json() == {"paired": True}
    return answers


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    bundle, test = build_world_bundle(root / "bundle")
    return root, bundle, test.reset_index(drop=True)


def test_sideband_decisions_equal_replay_call_for_call(world) -> None:
    """With --trust-event-time, every call's answer equals replay's decision, type and kind."""
    root, bundle, events = world
    app = create_app(settings_for(bundle, root / "state", trust_event_time=True))
    answers = asyncio.run(_send_in_time_order(app, events))
    replayed = replay_events(events, load_model_bundle(bundle)).decisions

    live_decision = np.array(["block" if s == 403 else "allow" for s, _ in answers])
    assert {s for s, _ in answers} <= {200, 403}
    mismatch = np.flatnonzero(replayed["decision"].to_numpy() != live_decision)
    assert mismatch.size == 0, f"decisions differ at rows {mismatch[:5]}"
    blocked = np.flatnonzero(live_decision == "block")
    assert blocked.size > 0
    for column in ("attack_type", "identifier_kind"):
        expected = replayed[column].astype(object).to_numpy()[blocked]
        got = np.array([answers[i][1][column] for i in blocked], dtype=object)
        assert (expected == got).all(), f"{column} differs"
    labels = set(events.loc[blocked, "label"])
    assert {"content_scraping", "login_attack", "decoy"} <= labels


def test_block_answers_name_their_evidence(world) -> None:
    """A 403 names an evidence id that the attack report lists with the same attack type."""
    root, bundle, events = world
    app = create_app(settings_for(bundle, root / "state-evidence", trust_event_time=True))
    answers = asyncio.run(_send_in_time_order(app, events))
    enforcer = app.state.enforcer
    records = {r.evidence_id: r for r in enforcer.attacks}
    blocks = [body for status, body in answers if status == 403]
    assert blocks
    for body in blocks:
        assert body["evidence_id"] in records
        assert records[body["evidence_id"]].attack_type == body["attack_type"]


def _seen_events(enforcer, n: int) -> pd.DataFrame:
    """The calls as the enforcer read them, back in input order (from its memory)."""
    from apibehave.enforce.calllog import LOG_COLUMNS
    from apibehave.schema import normalize_events

    frame = pd.DataFrame.from_records(list(enforcer.recent), columns=list(LOG_COLUMNS))
    assert len(frame) == n
    frame["row"] = frame["correlation_id"].str.removeprefix("c-").astype(int)
    frame = frame.sort_values("row").reset_index(drop=True)
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="ns", utc=True)
    return normalize_events(frame.drop(columns=["decision", "attack_type"]))


@pytest.mark.slow
def test_simulated_traffic_with_every_attack_type_matches_replay(tmp_path) -> None:
    """A simulator run with every campaign, through the sideband, equals replay call for call."""
    import subprocess
    import sys

    cli = [sys.executable, "-m", "apibehave"]
    sim = tmp_path / "sim"
    subprocess.run([*cli, "simulate", "--scale", "0.005", "--seed", "7", "--out", str(sim),
                    "--no-progress"], check=True, capture_output=True)  # fmt: skip
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  learning:\n    min_events: 100\n")  # more APIs leave learning
    subprocess.run([*cli, "train", "--events", str(sim / "train.parquet"), "--apis",
                    str(sim / "apis.yaml"), "--params", str(params), "--out",
                    str(tmp_path / "bundle"), "--no-track"],
                   check=True, capture_output=True)  # fmt: skip
    test = pd.read_parquet(sim / "test.parquet")
    test = test[~test["actor"].str.startswith("monitor")].reset_index(drop=True)  # fewer calls
    attack_types = set(test["label"]) - {"normal"}
    assert len(attack_types) >= 20
    # the enforcer resolves each call's API from the catalogue, as a gateway sends no API name
    sent = test.assign(api=None)
    ordered = sent.sort_values("ts", kind="stable").reset_index(drop=True)
    app = create_app(settings_for(tmp_path / "bundle", tmp_path / "state", trust_event_time=True))
    answers = asyncio.run(_send_in_time_order(app, ordered))

    seen = _seen_events(app.state.enforcer, len(ordered))
    for column in ("client_ip", "method", "path", "token", "cookie", "api_key", "req_bytes"):
        left = ordered[column].astype(object).where(ordered[column].notna(), None)
        right = seen[column].astype(object).where(seen[column].notna(), None)
        assert (left.to_numpy() == right.to_numpy()).all(), f"{column} read differently"
    known = ordered["username"].notna()
    assert (ordered.loc[known, "username"] == seen.loc[known, "username"]).all()

    replayed = replay_events(seen, load_model_bundle(tmp_path / "bundle")).decisions
    live = np.array(["block" if s == 403 else "allow" for s, _ in answers])
    mismatch = np.flatnonzero(replayed["decision"].to_numpy() != live)
    assert mismatch.size == 0, f"decisions differ at rows {mismatch[:5]}"
    blocked = np.flatnonzero(live == "block")
    for column in ("attack_type", "identifier_kind"):
        expected = replayed[column].astype(object).to_numpy()[blocked]
        got = np.array([answers[i][1][column] for i in blocked], dtype=object)
        assert (expected == got).all(), f"{column} differs"
    assert blocked.size > 0  # blocks to compare (few: a tiny run leaves most APIs learning)
