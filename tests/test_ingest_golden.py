"""Golden files: a small hand-written input per format and the exact events it must give."""

from __future__ import annotations

import gzip
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from apibehave.ingest.pipeline import ingest
from apibehave.schema import EVENT_COLUMNS, read_events

GOLDEN = Path(__file__).parent / "golden" / "ingest"
CASES = [
    ("combined.log", "combined"),
    ("nginx.jsonl", "nginx-json"),
    ("ase_sideband.jsonl", "ase-sideband"),
    ("csic.txt", "csic"),
    ("events.csv", "csv"),
    ("events.jsonl", "jsonl"),
]
_DEFAULT_ZERO = {"req_bytes", "resp_bytes"}


def _expected(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.expected.json").read_text())


def _as_plain(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _assert_events_match(events: pd.DataFrame, expected: list[dict]) -> None:
    assert len(events) == len(expected)
    for row, want in zip(events.to_dict("records"), expected, strict=True):
        for column, value in row.items():
            got = _as_plain(value)
            if column in want:
                assert got == want[column], (column, got, want[column])
            elif column in _DEFAULT_ZERO:
                assert got == 0, (column, got)
            else:
                assert got is None, (column, got)


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_golden_file_gives_exact_events(tmp_path: Path, name: str, fmt: str) -> None:
    """Each format's golden input gives exactly the expected events, in input order."""
    out = tmp_path / "events.parquet"
    ingest(GOLDEN / name, fmt, out)
    _assert_events_match(pd.read_parquet(out), _expected(name)["events"])


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_golden_file_rejects_exact_lines(tmp_path: Path, name: str, fmt: str) -> None:
    """Each golden input rejects exactly the expected lines, with reasons and raw text."""
    rejects = tmp_path / "rejects.jsonl"
    report = ingest(GOLDEN / name, fmt, tmp_path / "e.parquet", rejects_path=rejects)
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    want = _expected(name)
    assert [[r["line"], r["reason"]] for r in written] == want["rejections"]
    assert all(r["raw"] for r in written)
    assert report.rejected == len(want["rejections"])
    assert [[r.line, r.reason] for r in report.first_rejections] == want["rejections"][:5]


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_golden_file_accounts_for_every_line(tmp_path: Path, name: str, fmt: str) -> None:
    """Every input line is an event, a rejection, blank, or merged into another's record."""
    report = ingest(GOLDEN / name, fmt, tmp_path / "e.parquet")
    want = _expected(name)
    assert report.lines_read == want["lines"]
    assert (report.blank_lines, report.merged_lines) == (want["blank"], want["merged"])
    assert (
        report.events_written + report.rejected + report.blank_lines + report.merged_lines
        == report.lines_read
    )


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_auto_detects_each_golden_format(tmp_path: Path, name: str, fmt: str) -> None:
    """Format ``auto`` recognises every golden input by its content."""
    assert ingest(GOLDEN / name, "auto", tmp_path / "e.parquet").fmt == fmt


def test_gzip_input_is_read_by_content_not_name(tmp_path: Path) -> None:
    """A gzip-compressed log named without .gz is decompressed and detected."""
    packed = tmp_path / "access.log"
    with (GOLDEN / "combined.log").open("rb") as raw, gzip.open(packed, "wb") as out:
        shutil.copyfileobj(raw, out)
    report = ingest(packed, "auto", tmp_path / "e.parquet")
    assert report.fmt == "combined"
    _assert_events_match(
        pd.read_parquet(tmp_path / "e.parquet"), _expected("combined.log")["events"]
    )


def test_parquet_input_round_trips_golden_events(tmp_path: Path) -> None:
    """Parquet written by ingest reads back through the parquet reader unchanged."""
    first = tmp_path / "first.parquet"
    ingest(GOLDEN / "events.csv", "csv", first)
    report = ingest(first, "auto", tmp_path / "second.parquet")
    assert report.fmt == "parquet"
    _assert_events_match(
        pd.read_parquet(tmp_path / "second.parquet"), _expected("events.csv")["events"]
    )


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_text_outputs_hold_the_same_events(tmp_path: Path, suffix: str) -> None:
    """CSV and JSON Lines outputs read back to the same canonical events as Parquet."""
    ingest(GOLDEN / "combined.log", "combined", tmp_path / "e.parquet")
    ingest(GOLDEN / "combined.log", "combined", tmp_path / f"e{suffix}")
    contract = [c.name for c in EVENT_COLUMNS]
    pd.testing.assert_frame_equal(
        read_events(tmp_path / f"e{suffix}")[contract],
        read_events(tmp_path / "e.parquet")[contract],
    )
