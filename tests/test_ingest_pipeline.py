"""The ingest pipeline: secrets digests, detection, streaming, and fuzzing of every reader."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apibehave.common.errors import UserError
from apibehave.ingest.detect import detect_format
from apibehave.ingest.formats.ase_sideband import read_ase_sideband
from apibehave.ingest.formats.csic import read_csic
from apibehave.ingest.formats.nginx_json import read_nginx_json
from apibehave.ingest.pipeline import LOG_FORMATS, TABULAR_FORMATS, ingest
from apibehave.ingest.secrets import DIGEST_KEY_ENV, digest_value, load_digest_key

GOLDEN = Path(__file__).parent / "golden" / "ingest"
DIGEST = re.compile(r"^h:[0-9a-f]{32}$")


def test_digest_key_replaces_every_secret(tmp_path: Path) -> None:
    """With a key, token, cookie and API key become h:+32 hex digests of their values."""
    key = b"s3cret-key"
    report = ingest(GOLDEN / "nginx.jsonl", "nginx-json", tmp_path / "e.parquet", digest_key=key)
    events = pd.read_parquet(tmp_path / "e.parquet")
    for column in ("token", "cookie", "api_key"):
        present = events[column].dropna()
        assert len(present) > 0
        assert present.str.match(DIGEST).all()
    assert events["token"].dropna().tolist() == [digest_value("tok-123", key)]
    assert report.digested
    assert "s3cret-key" not in report.summary()
    assert "s3cret-key" not in json.dumps(report.to_dict())


def test_digests_depend_on_the_key_and_are_stable() -> None:
    """The same value gives the same digest under one key and another under another key."""
    assert digest_value("tok", b"k1") == digest_value("tok", b"k1")
    assert digest_value("tok", b"k1") != digest_value("tok", b"k2")
    assert digest_value("tok", b"k1") != digest_value("tol", b"k1")


def test_digest_key_comes_from_file_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key file wins (one trailing newline dropped); else the environment; else none."""
    monkeypatch.delenv(DIGEST_KEY_ENV, raising=False)
    assert load_digest_key(None) is None
    monkeypatch.setenv(DIGEST_KEY_ENV, "from-env")
    assert load_digest_key(None) == b"from-env"
    key_file = tmp_path / "key"
    key_file.write_bytes(b"from-file\n")
    assert load_digest_key(key_file) == b"from-file"
    key_file.write_bytes(b"")
    with pytest.raises(UserError):
        load_digest_key(key_file)


def test_ingesting_digests_again_keeps_them(tmp_path: Path) -> None:
    """Digested values are not digested a second time when a digested file is re-ingested."""
    first = tmp_path / "first.parquet"
    ingest(GOLDEN / "ase_sideband.jsonl", "ase-sideband", first, digest_key=b"k")
    ingest(first, "parquet", tmp_path / "second.parquet", digest_key=b"other")
    before = pd.read_parquet(first)[["token", "cookie", "api_key"]]
    after = pd.read_parquet(tmp_path / "second.parquet")[["token", "cookie", "api_key"]]
    pd.testing.assert_frame_equal(before, after)


def test_report_counts_out_of_order_lines_and_time_range(tmp_path: Path) -> None:
    """The report names lines earlier than an earlier line, the time range and the speed."""
    report = ingest(GOLDEN / "combined.log", "combined", tmp_path / "e.parquet")
    assert report.out_of_order == 1
    assert report.time_min == pd.Timestamp("2024-03-01T09:59:59Z")
    assert report.time_max == pd.Timestamp("2024-03-01T10:00:11Z")
    assert report.elapsed_s > 0 and report.lines_per_s > 0


def test_undetectable_input_asks_for_a_format(tmp_path: Path) -> None:
    """Auto detection refuses input it cannot recognise, asking for --format."""
    path = tmp_path / "notes.txt"
    path.write_text("dear diary\ntoday I parsed logs\n")
    with pytest.raises(UserError, match="--format"):
        detect_format(path)


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("csic.txt", lambda s, b: read_csic(s, block_bytes=b)),
        ("nginx.jsonl", lambda s, b: read_nginx_json(s, block_bytes=b)),
        ("ase_sideband.jsonl", lambda s, b: read_ase_sideband(s, block_bytes=b)),
    ],
)
def test_tiny_blocks_give_the_same_events(name: str, read) -> None:
    """Readers give the same events and rejections whatever the block size."""
    data = (GOLDEN / name).read_bytes()

    def collect(block: int) -> tuple[pd.DataFrame, list[int]]:
        chunks = list(read(io.BytesIO(data), block))
        events = pd.concat([c.events for c in chunks], ignore_index=True)
        return events, [r.line for c in chunks for r in c.rejections]

    small, small_rejects = collect(50)
    whole, whole_rejects = collect(1 << 20)
    pd.testing.assert_frame_equal(small, whole)
    assert small_rejects == whole_rejects


def test_unanswered_sideband_request_is_written_after_the_window() -> None:
    """A request whose response never comes is written with status 0 once the window passes."""
    request = {"source_ip": "1.2.3.4", "method": "GET", "url": "/a", "headers": [], "ts": 1.0}
    tagged = dict(request, headers=[{"X-CorrelationID": "never"}])
    lines = [json.dumps(tagged)] + [json.dumps(request)] * 5
    chunks = list(
        read_ase_sideband(io.BytesIO("\n".join(lines).encode()), pairing_window=2, block_bytes=60)
    )
    first_nonempty = next(c for c in chunks if len(c.events))
    assert first_nonempty.events["correlation_id"].iloc[0] == "never"
    assert first_nonempty.events["status"].iloc[0] == 0
    assert sum(len(c.events) for c in chunks) == 6


_REAL_LOOKING = b"".join(
    (GOLDEN / name).read_bytes()
    for name in sorted(p.name for p in GOLDEN.iterdir())
    if not name.endswith(".json")
)


@settings(max_examples=int(os.environ.get("APIBEHAVE_FUZZ_EXAMPLES", "25")), deadline=None)
@given(
    st.sampled_from([*LOG_FORMATS, *TABULAR_FORMATS]),
    st.binary(max_size=600)
    | st.builds(
        lambda a, b: _REAL_LOOKING[a : a + b],
        st.integers(0, len(_REAL_LOOKING)),
        st.integers(0, 800),
    ),
)
def test_any_input_either_ingests_with_every_line_counted_or_fails_cleanly(
    tmp_path_factory: pytest.TempPathFactory, fmt: str, data: bytes
) -> None:
    """Random bytes and slices of real-looking input never crash any reader."""
    folder = tmp_path_factory.mktemp("fuzz")
    source = folder / "input"
    source.write_bytes(data)
    out = folder / "e.parquet"
    try:
        report = ingest(source, fmt, out)
    except UserError:
        assert not out.exists()
        return
    assert report.events_written > 0
    assert (
        report.events_written + report.rejected + report.blank_lines + report.merged_lines
        == report.lines_read
    )
    assert len(pd.read_parquet(out)) == report.events_written


def test_background_write_errors_reach_the_caller() -> None:
    """A failure on the writer thread is raised in the caller on close, never swallowed."""
    from apibehave.ingest.sink import _BackgroundWriter

    written: list[int] = []

    def write(item: object) -> None:
        if item == 2:
            raise OSError("disk full")
        written.append(item)  # type: ignore[arg-type]

    writer = _BackgroundWriter(write)  # type: ignore[arg-type]
    for item in (1, 2, 3):
        try:
            writer.put(item)  # type: ignore[arg-type]
        except OSError:
            break
    with pytest.raises(OSError, match="disk full"):
        writer.close()
    assert written == [1]
