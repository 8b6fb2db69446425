"""Golden engine cases (tests/golden/engine/*.yaml): a log in, asserted decisions out."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from apibehave.detect.model import LearningSettings
from apibehave.engine.replay import replay_events
from apibehave.workbench.train import train_model
from apibehave.workbench.train_settings import TrainSettings
from tests.engine_golden import case_files, case_logs, load_case
from tests.engine_world import CATALOGUE
from tests.test_engine_parity import assert_same_decisions, live_decisions

SETTINGS = TrainSettings(learning=LearningSettings(min_events=100))


@cache
def _trained(train_key: str):
    case = load_case(Path(train_key))
    train, _ = case_logs(case)
    return train_model(train, catalogue=CATALOGUE, settings=SETTINGS).model


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_golden_case(path: Path) -> None:
    """The case's attackers are blocked as specified and its benign clients never are."""
    case = load_case(path)
    _, test = case_logs(case)
    model = _trained(str(path)) if case.get("train_streams") else _trained(str(case_files()[0]))
    decisions = replay_events(test, model).decisions
    test = test.reset_index(drop=True)
    order = np.argsort(test["ts"].to_numpy(), kind="stable")
    expect = case["expect"]
    for rule in expect.get("blocked", []):
        rows = [i for i in order if test.at[i, "actor"] == rule["actor"]]
        blocked = [k for k, i in enumerate(rows) if decisions.at[i, "decision"] == "block"]
        assert blocked, f"{rule['actor']} was never blocked"
        assert blocked[0] < rule["within_calls"], (
            f"{rule['actor']} first blocked at its call {blocked[0]}, "
            f"expected within {rule['within_calls']}"
        )
        first = decisions.loc[rows[blocked[0]]]
        assert first["identifier_kind"] in rule["kind"], first.to_dict()
        if "attack_type" in rule:
            assert first["attack_type"] in rule["attack_type"], first.to_dict()
    for actor in expect.get("never_blocked", []):
        rows = test.index[test["actor"] == actor]
        assert len(rows), f"no calls from {actor}"
        assert (decisions.loc[rows, "decision"] == "allow").all(), f"{actor} was blocked"
    if "benign_blocked_calls_max" in expect:
        benign = test["label"] == "normal"
        blocked = int((decisions.loc[benign, "decision"] == "block").sum())
        assert blocked <= expect["benign_blocked_calls_max"], f"{blocked} benign calls blocked"


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_golden_case_live_equals_replay(path: Path) -> None:
    """The live engine, one call at a time, decides every golden case exactly as replay."""
    case = load_case(path)
    _, test = case_logs(case)
    test = test.reset_index(drop=True)
    model = _trained(str(path)) if case.get("train_streams") else _trained(str(case_files()[0]))
    assert_same_decisions(replay_events(test, model).decisions, live_decisions(model, test))
