"""Forensic reports and the attack list, on a hand-made replay."""

from __future__ import annotations

import pandas as pd
import pytest

from apibehave.common.errors import UserError
from apibehave.workbench.forensics import (
    attack_list,
    forensic_reports,
    format_forensic_report,
    reports_table,
)

TS = pd.Timestamp("2026-03-02T00:00:00Z")


def _case():
    events = pd.DataFrame(
        {
            "ts": [TS + pd.Timedelta(seconds=s) for s in range(6)],
            "client_ip": ["1.1.1.1", "1.1.1.1", "2.2.2.2", "1.1.1.1", "3.3.3.3", "2.2.2.2"],
            "method": ["GET", "GET", "POST", "GET", "GET", "DELETE"],
            "path": ["/a/1", "/a/2", "/login", "/a/3", "/a/1", "/a/9"],
            "api": ["a", "a", "auth", "a", "a", "a"],
            "token": ["t1", "t1", None, "t1", "t2", "t1"],
        }
    )
    decisions = pd.DataFrame({"decision": ["allow", "block", "allow", "block", "allow",
                                           "block"]})  # fmt: skip
    new_blocks = pd.DataFrame(
        [
            {"event_index": 1, "ts": TS + pd.Timedelta(seconds=1), "api": "a",
             "attack_type": "enumeration", "identifier_kind": "token", "identifier": "t1",
             "risk": 2.0, "mode": "enforce",
             "evidence": [{"feature": "token_object_ids_10m", "value": 40.0, "extreme": 12.0}]},
            {"event_index": 4, "ts": TS + pd.Timedelta(seconds=4), "api": "a",
             "attack_type": "probing", "identifier_kind": "ip", "identifier": "3.3.3.3",
             "risk": 1.5, "mode": "shadow", "evidence": []},
        ]
    )  # fmt: skip
    return events, decisions, new_blocks


def test_report_per_blocked_identifier_in_the_seeds_shape() -> None:
    """Identifier, total calls, its IPs with counts, methods, URLs, APIs and evidence."""
    events, decisions, new_blocks = _case()
    reports = forensic_reports(events, decisions, new_blocks)
    assert [(r["identifier_kind"], r["identifier"]) for r in reports] == [
        ("token", "t1"), ("ip", "3.3.3.3")]  # fmt: skip
    t1 = reports[0]
    assert t1["total_calls"] == 4
    assert t1["blocked_calls"] == 3
    assert t1["ips"] == {"1.1.1.1": 3, "2.2.2.2": 1}
    assert t1["methods"] == {"GET": 3, "DELETE": 1}
    assert t1["urls"] == {"/a/1": 1, "/a/2": 1, "/a/3": 1, "/a/9": 1}
    assert t1["apis"] == {"a": 4}
    assert t1["attack_types"] == ["enumeration"]
    assert t1["evidence"][0]["crossed"][0]["feature"] == "token_object_ids_10m"
    assert t1["first_seen"].startswith("2026-03-02T00:00:00")
    text = format_forensic_report(t1)
    assert "token t1: 4 calls (3 blocked)" in text and "1.1.1.1 (3)" in text
    assert list(reports_table(reports)["total_calls"]) == [4, 1]


def test_limit_keeps_the_busiest_identifiers() -> None:
    """With a limit, the identifiers with the most calls are reported."""
    events, decisions, new_blocks = _case()
    reports = forensic_reports(events, decisions, new_blocks, limit=1, top=2)
    assert [r["identifier"] for r in reports] == ["t1"]
    assert len(reports[0]["urls"]) == 2 and reports[0]["distinct_urls"] == 4


def test_attack_list_in_time_order() -> None:
    """One row per new block, oldest first."""
    _, _, new_blocks = _case()
    attacks = attack_list(new_blocks.iloc[::-1])
    assert list(attacks["attack_type"]) == ["enumeration", "probing"]


def test_misaligned_decisions_are_refused() -> None:
    """Events and decisions must line up."""
    events, decisions, new_blocks = _case()
    with pytest.raises(UserError, match="must line up"):
        forensic_reports(events, decisions.iloc[:3], new_blocks)
