"""The real-behaviour log: background split in time, attackers re-timed under fresh IPs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from apibehave.common.errors import UserError
from apibehave.workbench.evaluate import actor_outcomes
from apibehave.workbench.realdata import (
    BACKGROUND,
    BRUTE_FORCE,
    BRUTE_FORCE_IPS,
    SCANNER,
    build_mixed_log,
)


def line(ip: str, when: pd.Timestamp, request: str, status: int, size: int = 100) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "{request} HTTP/1.1" {status} {size} "-" "agent"'


def write_logs(root: Path) -> None:
    """A tiny background (10 IPs over 10 h), a scanner and a brute-force log."""
    start = pd.Timestamp("2015-05-17T00:00:00Z")
    background = [
        line(f"10.0.0.{i % 10}", start + pd.Timedelta(minutes=6 * i), f"GET /page/{i % 7}", 200)
        for i in range(100)
    ]
    scan_start = pd.Timestamp("2016-12-22T12:00:00Z")
    scanner = [
        '"' + line("192.168.4.164", scan_start + pd.Timedelta(seconds=i), f"GET /x{i}", 404) + '"'
        for i in range(30)
    ]
    bf_start = pd.Timestamp("2019-10-14T09:00:00Z")
    brute = [line("1.2.3.4", bf_start, "GET /", 200)]
    for ip in BRUTE_FORCE_IPS:
        brute += [
            line(ip, bf_start + pd.Timedelta(seconds=i), "POST /administrator/index.php", 200)
            for i in range(20)
        ]
    brute.append(line(BRUTE_FORCE_IPS[0], bf_start + pd.Timedelta(days=3), "GET /late", 200))
    for name, lines in ((BACKGROUND, background), (SCANNER, scanner), (BRUTE_FORCE, brute)):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("\n".join(lines) + "\n")


def test_background_split_and_injection(tmp_path: Path) -> None:
    """Training holds only early background; attackers land after the split under new IPs."""
    write_logs(tmp_path)
    mixed = build_mixed_log(tmp_path, train_fraction=0.4)
    split = pd.Timestamp(mixed.summary["split"])
    assert len(mixed.train) == 40 and (mixed.train["ts"] < split).all()
    assert set(mixed.train["label"]) == {"normal"}
    assert mixed.test["ts"].is_monotonic_increasing
    attackers = mixed.test[mixed.test["label"] != "normal"]
    assert set(attackers["actor"]) == {c.actor for c in mixed.clients}
    background_ips = set(mixed.train["client_ip"]) | set(
        mixed.test.loc[mixed.test["label"] == "normal", "client_ip"]
    )
    fresh = {c.ip for c in mixed.clients}
    assert len(fresh) == 4 and not fresh & background_ips
    everything = set(mixed.train["client_ip"]) | set(mixed.test["client_ip"])
    assert not everything & {*BRUTE_FORCE_IPS, "192.168.4.164", "1.2.3.4"}
    scanner = next(c for c in mixed.clients if c.actor == "netsparker")
    first = attackers.loc[attackers["actor"] == "netsparker", "ts"].min()
    end = mixed.test["ts"].max()
    assert first == split + (end - split) * 0.15 and scanner.calls == 30
    assert (attackers["ts"] >= split).all()
    bf1 = next(c for c in mixed.clients if c.actor == "almhuette-bf-1")
    assert bf1.login_posts == 20 and bf1.dropped_calls == 1  # its call 3 days later is past the end
    assert mixed.login_post_mask().sum() == 60


def test_missing_folder_is_a_user_error(tmp_path: Path) -> None:
    """A data set folder without the logs gives a one-line user error."""
    with pytest.raises(UserError, match="no such file"):
        build_mixed_log(tmp_path)


def test_actor_outcomes_count_calls_and_login_posts_before_the_first_block(tmp_path: Path) -> None:
    """Per attacker: blocked or not, calls and login POSTs sent before its first block."""
    write_logs(tmp_path)
    mixed = build_mixed_log(tmp_path)
    test = mixed.test
    block = (test["actor"] == "almhuette-bf-2") & (
        test.groupby("actor").cumcount() >= 5
    )  # blocked from its 6th call on
    decisions = pd.DataFrame(
        {"decision": block.map({True: "block", False: "allow"}),
         "attack_type": block.map({True: "login_attack", False: None})}
    )  # fmt: skip
    out = actor_outcomes(test, decisions, counted=mixed.login_post_mask()).set_index("actor")
    assert out.loc["almhuette-bf-2", "blocked"]
    assert out.loc["almhuette-bf-2", "calls_before_first_block"] == 5
    assert out.loc["almhuette-bf-2", "counted_before_first_block"] == 5
    assert out.loc["almhuette-bf-2", "first_block_attack_type"] == "login_attack"
    assert not out.loc["netsparker", "blocked"]
    assert out.loc["almhuette-bf-1", "counted_calls"] == 20


@pytest.mark.realdata
def test_real_mixed_log(shared_datasets: Path) -> None:
    """On the real files: 1,753 background IPs, four attackers, the bursts kept."""
    mixed = build_mixed_log(shared_datasets)
    assert mixed.summary["background_ips"] == 1753
    clients = {c.actor: c for c in mixed.clients}
    assert set(clients) == {"netsparker", "almhuette-bf-1", "almhuette-bf-2", "almhuette-bf-3"}
    assert clients["netsparker"].calls == 7314
    assert clients["almhuette-bf-1"].login_posts > 200
    assert all(c.login_posts > 30 for a, c in clients.items() if a.startswith("almhuette"))
