"""Decisions scored against labels: actor recall, time to first block, benign blocking."""

from __future__ import annotations

import pandas as pd
import pytest

from apibehave.common.errors import UserError
from apibehave.schema import normalize_events
from apibehave.workbench.evaluate import evaluate_decisions, format_evaluation


def labelled(rows: list[tuple[int, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {"ts": 1_700_000_000 + t, "client_ip": ip, "method": "GET", "path": "/x",
             "status": 200, "label": label, "actor": actor}
            for t, ip, label, actor in rows
        ]
    )  # fmt: skip
    return normalize_events(frame)


def decisions(blocks: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_index": range(len(blocks)),
            "decision": ["block" if b else "allow" for b in blocks],
            "attack_type": blocks,
        }
    )


def test_attack_figures_per_type() -> None:
    """Recall counts actors; calls and seconds to the first block count from the first call."""
    events = labelled(
        [(0, "1.1.1.1", "probing", "p1"), (5, "1.1.1.1", "probing", "p1"),
         (9, "1.1.1.1", "probing", "p1"), (0, "2.2.2.2", "probing", "p2"),
         (3, "3.3.3.3", "normal", "u1"), (4, "4.4.4.4", "normal", "u2")]
    )  # fmt: skip
    result = evaluate_decisions(events, decisions(
        [None, "probing", "injection", None, "api_dos", None]
    ))  # fmt: skip
    row = result.by_type.set_index("attack_type").loc["probing"]
    assert row["actors"] == 2 and row["actor_recall"] == 0.5
    assert row["share_calls_blocked"] == pytest.approx(0.5)
    assert row["median_calls_to_first_block"] == 1
    assert row["median_seconds_to_first_block"] == 5
    assert row["attribution_accuracy"] == 0.5
    assert result.benign["calls_blocked"] == 1
    assert result.benign["clients_blocked_per_1000"] == 500
    assert "probing" in format_evaluation(result)


def test_unlabelled_or_misaligned_input_is_a_user_error() -> None:
    """Evaluation needs labels and one decision per event."""
    events = labelled([(0, "1.1.1.1", "normal", "u")])
    with pytest.raises(UserError, match="label"):
        evaluate_decisions(events.drop(columns=["label"]), decisions([None]))
    with pytest.raises(UserError, match="line up"):
        evaluate_decisions(events, decisions([None, None]))
