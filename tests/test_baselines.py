"""Baselines: CrowdSec-style leaky buckets and the five-minute IsolationForest, causally."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apibehave.common.errors import UserError
from apibehave.schema import normalize_events
from apibehave.workbench.baselines import CrowdSecRules, WindowIsolationForest
from apibehave.workbench.baselines.decisions import DECISION_COLUMNS

T0 = 1_699_999_800  # a multiple of 300 s: windows are epoch-aligned


def calls(rows: list[tuple[float, str, str, int]], **extra: object) -> pd.DataFrame:
    """Events from (seconds, ip, path, status) rows; ``query``/``method`` via ``extra``."""
    frame = pd.DataFrame(
        [{"ts": T0 + t, "client_ip": ip, "method": "GET", "path": path, "status": status}
         for t, ip, path, status in rows]
    )  # fmt: skip
    for column, value in extra.items():
        frame[column] = value
    return normalize_events(frame)


def blocked(decisions: pd.DataFrame) -> list[bool]:
    return (decisions["decision"] == "block").tolist()


def test_probing_bans_after_the_eleventh_distinct_404_from_the_next_call() -> None:
    """Ten distinct 404 paths fill the bucket; the 11th overflows; the ban starts after it."""
    rows = [(i * 0.5, "9.9.9.9", f"/p{i}", 404) for i in range(11)] + [(6.0, "9.9.9.9", "/", 200)]
    decisions = CrowdSecRules().decide(calls(rows))
    assert blocked(decisions) == [False] * 11 + [True]
    assert decisions["attack_type"].iloc[-1] == "probing"
    assert decisions["identifier_kind"].iloc[-1] == "ip"
    assert decisions["identifier"].iloc[-1] == "9.9.9.9"


def test_probing_ignores_repeats_slow_leaks_and_static_files() -> None:
    """The same path, a pace slower than the leak, or static assets never overflow."""
    repeats = [(i * 0.1, "1.1.1.1", "/same", 404) for i in range(30)]
    slow = [(i * 11.0, "2.2.2.2", f"/p{i}", 404) for i in range(30)]
    static = [(i * 0.1, "3.3.3.3", f"/img/{i}.png", 404) for i in range(30)]
    decisions = CrowdSecRules().decide(
        calls(repeats + slow + static + [(400, "1.1.1.1", "/", 200)])
    )
    assert not any(blocked(decisions))


def test_401_bruteforce_bans_four_hours() -> None:
    """Six quick 401s overflow the capacity-5 bucket; the ban lasts four hours."""
    rows = [(i, "5.5.5.5", "/login", 401) for i in range(6)]
    rows += [(10, "5.5.5.5", "/", 200), (4 * 3600 + 4, "5.5.5.5", "/", 200),
             (4 * 3600 + 6, "5.5.5.5", "/", 200), (10, "6.6.6.6", "/", 200)]  # fmt: skip
    decisions = CrowdSecRules().decide(calls(rows))
    assert blocked(decisions) == [False] * 6 + [True, True, False, False]
    assert decisions["attack_type"].iloc[6] == "login_attack"


def test_crawl_needs_forty_one_distinct_non_static_pages_at_burst_speed() -> None:
    """41 distinct pages before the first leak (0.5 s) overflow the crawl bucket; 40 do not."""
    fast = [(i * 0.01, "7.7.7.7", f"/item/{i}", 200) for i in range(41)]
    under = [(i * 0.01, "8.8.8.8", f"/item/{i}", 200) for i in range(40)]
    after = [(5, "7.7.7.7", "/x", 200), (5, "8.8.8.8", "/x", 200)]
    decisions = CrowdSecRules().decide(calls(fast + under + after))
    assert blocked(decisions)[-2:] == [True, False]
    assert decisions["attack_type"].iloc[-2] == "content_scraping"


def test_sqli_probes_in_the_query_are_injection() -> None:
    """Eleven distinct SQL-injection queries within a second ban the IP as injection."""
    frame = calls([(i * 0.05, "4.4.4.4", "/search", 200) for i in range(12)])
    frame["query"] = [f"q=1%27%20union%20select%20{i}--" for i in range(12)]
    decisions = CrowdSecRules().decide(frame)
    assert blocked(decisions) == [False] * 11 + [True]
    assert decisions["attack_type"].iloc[-1] == "injection"


def test_decisions_follow_input_order_and_contract_shape() -> None:
    """Unsorted input gets one decision per row, in input order, with the contract columns."""
    rows = [(i * 0.5, "9.9.9.9", f"/p{i}", 404) for i in range(11)] + [(6.0, "9.9.9.9", "/", 200)]
    frame = calls(rows).iloc[::-1].reset_index(drop=True)
    decisions = CrowdSecRules().decide(frame)
    assert tuple(decisions.columns) == DECISION_COLUMNS
    assert decisions["event_index"].tolist() == list(range(len(frame)))
    assert blocked(decisions) == [True] + [False] * 11


def benign_log(hours: int, seed: int, start_h: int = 0) -> pd.DataFrame:
    """Twenty clients, each a few calls per five minutes, mixed paths, rare 404s."""
    rng = np.random.default_rng(seed)
    rows = []
    for ip in range(20):
        t = start_h * 3600.0
        while t < (start_h + hours) * 3600:
            t += rng.exponential(60)
            status = 404 if rng.random() < 0.02 else 200
            rows.append((t, f"10.0.0.{ip}", f"/page/{rng.integers(0, 30)}", status))
    return calls(rows)


def test_iforest_flags_a_flood_window_and_blocks_only_the_next_window() -> None:
    """A flooding IP's window is anomalous; its calls in the next window are blocked."""
    model = WindowIsolationForest(contamination=0.01, random_state=0).fit(benign_log(6, 1))
    flood_start = 6 * 3600 + 10 * 300  # at the start of a window
    flood = [(flood_start + i * 0.5, "66.6.6.6", f"/page/{i % 30}", 200) for i in range(800)]
    test = pd.concat([benign_log(1, 2, start_h=6), calls(flood)], ignore_index=True)
    decisions = model.decide(test)
    attacker = test["client_ip"] == "66.6.6.6"
    in_first = attacker & (test["ts"] < pd.Timestamp(T0 + flood_start + 300, unit="s", tz="UTC"))
    assert not decisions.loc[in_first, "decision"].eq("block").any()
    assert decisions.loc[attacker & ~in_first, "decision"].eq("block").all()
    assert set(decisions.loc[attacker & ~in_first, "attack_type"]) == {"api_dos"}
    assert decisions.loc[~attacker, "decision"].eq("block").mean() < 0.05


def test_iforest_refuses_a_bad_contamination() -> None:
    """Contamination outside (0, 0.5] is a user error."""
    with pytest.raises(UserError, match="contamination"):
        WindowIsolationForest(contamination=0.0).fit(benign_log(1, 1))
