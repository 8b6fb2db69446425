"""Real third-party logs ingest with the published line counts and almost no rejections."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from apibehave.ingest.pipeline import ingest

pytestmark = pytest.mark.realdata

REAL_FILES = [
    ("elastic_apache_logs/apache_logs", "combined", 10_000),
    ("almhuette_raith/access_tail.log", "combined", 10_000),
    ("scanner_logs/netsparker.log", "combined", 7_314),
    ("csic2010/normalTrafficTraining.txt.gz", "csic", 36_000),
    ("csic2010/normalTrafficTest.txt.gz", "csic", 36_000),
    ("csic2010/anomalousTrafficTest.txt.gz", "csic", 25_065),
]


@pytest.mark.parametrize(("name", "fmt", "expected"), REAL_FILES)
def test_real_file_gives_its_event_count(
    shared_datasets: Path, tmp_path: Path, name: str, fmt: str, expected: int
) -> None:
    """Each real file is detected, gives its known event count and rejects at most 0.1%."""
    report = ingest(shared_datasets / name, "auto", tmp_path / "events.parquet")
    assert report.fmt == fmt
    assert report.events_written == expected
    assert report.rejected <= 0.001 * report.lines_read
    assert len(pd.read_parquet(tmp_path / "events.parquet", columns=["ts"])) == expected


def test_almhuette_keeps_the_admin_login_brute_force(shared_datasets: Path, tmp_path: Path) -> None:
    """The almhuette log's trailing field is ignored and its login bursts stay visible."""
    ingest(shared_datasets / "almhuette_raith/access_tail.log", "combined", tmp_path / "e.parquet")
    events = pd.read_parquet(tmp_path / "e.parquet")
    burst = events[
        (events["client_ip"] == "193.106.31.130")
        & (events["method"] == "POST")
        & (events["path"] == "/administrator/index.php")
    ]
    assert len(burst) > 200
    assert events["ts"].min() >= pd.Timestamp("2019-10-14T00:00:00Z")


def test_netsparker_escaped_quotes_are_unescaped(shared_datasets: Path, tmp_path: Path) -> None:
    """Quoted netsparker lines read, with their escaped quotes restored in the referer."""
    ingest(shared_datasets / "scanner_logs/netsparker.log", "combined", tmp_path / "e.parquet")
    events = pd.read_parquet(tmp_path / "e.parquet")
    assert set(events["client_ip"]) == {"192.168.4.164"}
    referers = events["referer"].dropna()
    assert referers.str.contains('"', regex=False).any()
    assert not referers.str.contains('\\"', regex=False).any()


def test_csic_post_bodies_and_sessions_are_kept(shared_datasets: Path, tmp_path: Path) -> None:
    """CSIC POST requests keep their bodies and every request its JSESSIONID cookie."""
    ingest(shared_datasets / "csic2010/anomalousTrafficTest.txt.gz", "csic", tmp_path / "e.parquet")
    events = pd.read_parquet(tmp_path / "e.parquet")
    posts = events[events["method"] == "POST"]
    assert posts["body"].notna().all()
    assert (posts["req_bytes"] > 0).all()
    assert events["cookie"].str.fullmatch(r"[0-9A-F]{32}").all()
    assert events["ts"].is_monotonic_increasing
