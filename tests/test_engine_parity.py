"""Replay and the live engine give the same decision for every call (docs/engine.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apibehave.detect.model import LearningSettings
from apibehave.engine.live import LiveEngine
from apibehave.engine.replay import DECISION_COLUMNS, replay_events
from apibehave.workbench.train import train_model
from apibehave.workbench.train_settings import TrainSettings
from tests.engine_world import CATALOGUE, make_logs


@pytest.fixture(scope="module")
def world():
    train, test = make_logs(seed=3)
    settings = TrainSettings(learning=LearningSettings(min_events=100))
    model = train_model(train, catalogue=CATALOGUE, settings=settings).model
    return model, test


def live_decisions(model, events: pd.DataFrame) -> pd.DataFrame:
    engine = LiveEngine(model)
    order = np.argsort(events["ts"].to_numpy(), kind="stable")
    rows = [None] * len(events)
    records = events.to_dict(orient="records")
    for i in order:
        event = records[i]
        decision = engine.decide(event, handle=i)
        engine.observe_response(i, event["status"], event["resp_bytes"])
        rows[i] = {
            "event_index": i,
            "decision": "block" if decision.block else "allow",
            # a shadow decision names what it would have blocked; the decisions file does not
            "attack_type": decision.attack_type if decision.block else None,
            "identifier_kind": decision.identifier_kind if decision.block else None,
            "identifier": decision.identifier if decision.block else None,
            "risk": decision.risk,
        }
    return pd.DataFrame(rows)


def assert_same_decisions(replayed: pd.DataFrame, live: pd.DataFrame) -> None:
    """Fail naming the first rows where two decision frames differ."""
    for column in ("decision", "attack_type", "identifier_kind", "identifier"):
        left = replayed[column].astype(object).fillna("<none>").to_numpy()
        right = live[column].astype(object).fillna("<none>").to_numpy()
        mismatch = np.flatnonzero(left != right)
        assert mismatch.size == 0, f"{column} differs at rows {mismatch[:5]}"
    np.testing.assert_allclose(replayed["risk"], live["risk"], rtol=1e-9, atol=1e-9)


def test_replay_and_live_agree_call_for_call(world) -> None:
    """Every call gets the same decision, attack type, identifier and risk live and in replay."""
    model, test = world
    replayed = replay_events(test, model).decisions
    live = live_decisions(model, test.reset_index(drop=True))
    assert list(replayed.columns) == list(DECISION_COLUMNS)
    assert_same_decisions(replayed, live)


def test_known_attackers_are_blocked_and_shadow_api_is_not(world) -> None:
    """The scraper, brute force and decoy client are blocked; the shadow-mode API blocks nobody."""
    model, test = world
    decisions = replay_events(test, model).decisions
    test = test.reset_index(drop=True)
    blocked_actors = set(test.loc[decisions["decision"] == "block", "actor"])
    assert {"scraper", "bruteforce", "decoy"} <= blocked_actors
    assert "partner-flood" not in blocked_actors
    decoy_rows = decisions[test["actor"] == "decoy"]
    assert (decoy_rows["decision"] == "block").all()
    assert set(decoy_rows["attack_type"]) == {"decoy"}
