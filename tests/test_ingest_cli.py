"""``apibehave ingest`` on bad input: one line on stderr, exit code 2, outputs untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from apibehave.cli import main

GOLDEN = Path(__file__).parent / "golden" / "ingest"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(["ingest", *args])
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code: int, err: str) -> None:
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_ingest_prints_its_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A good run exits 0 and prints lines read, events, rejections and the time range."""
    code, out, _ = _run(
        [str(GOLDEN / "combined.log"), "--out", str(tmp_path / "e.parquet")], capsys
    )
    assert code == 0
    assert "lines read      15 (1 blank)" in out
    assert "events written  10" in out
    assert "rejected        4" in out
    assert "line 10: malformed request line" in out
    assert "out of order    1" in out
    assert "2024-03-01T09:59:59+00:00 .. 2024-03-01T10:00:11+00:00" in out


@pytest.mark.parametrize(
    "make_source",
    [
        lambda d: d / "missing.log",
        lambda d: d,
        lambda d: _write(d / "empty.log", b""),
        lambda d: _write(d / "junk.log", b"no log here\nnor here\n"),
        lambda d: _write(d / "junk.bin", bytes(range(256)) * 4),
        lambda d: _write(d / "bad.gz", b"\x1f\x8b\x08\x00garbage"),
    ],
    ids=["missing", "directory", "empty", "no-valid-line", "binary", "corrupt-gzip"],
)
def test_bad_source_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_source
) -> None:
    """A wrong path, a directory, an empty, junk or corrupt file: exit 2, one line, no output."""
    source = make_source(tmp_path)
    out = tmp_path / "out" / "e.parquet"
    code, _, err = _run([str(source), "--format", "auto", "--out", str(out)], capsys)
    _assert_one_line_error(code, err)
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


@pytest.mark.parametrize(
    "fmt", ["combined", "nginx-json", "ase-sideband", "csic", "csv", "jsonl", "parquet"]
)
def test_wrong_explicit_format_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """Forcing a format on an input of another kind fails cleanly (or reads what fits)."""
    source = GOLDEN / ("csic.txt" if fmt != "csic" else "combined.log")
    code, _, err = _run(
        [str(source), "--format", fmt, "--out", str(tmp_path / "e.parquet")], capsys
    )
    _assert_one_line_error(code, err)


def test_unknown_format_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --format value is refused with exit code 2."""
    code, _, err = _run(
        [str(GOLDEN / "combined.log"), "--format", "syslog", "--out", str(tmp_path / "e.parquet")],
        capsys,
    )
    _assert_one_line_error(code, err)


def test_unknown_output_suffix_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An --out that is not .parquet, .csv or .jsonl is refused before reading."""
    code, _, err = _run([str(GOLDEN / "combined.log"), "--out", str(tmp_path / "e.xlsx")], capsys)
    _assert_one_line_error(code, err)


def test_unreadable_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the process may not read gives exit 2 and one line (even when run as root)."""
    source = _write(tmp_path / "secret.log", (GOLDEN / "combined.log").read_bytes())
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object):
        if self == source:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    code, _, err = _run([str(source), "--out", str(tmp_path / "e.parquet")], capsys)
    _assert_one_line_error(code, err)
    assert "Permission denied" in err or "cannot read" in err


def test_existing_output_is_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing output is refused without --force and left byte for byte."""
    out = _write(tmp_path / "e.parquet", b"precious")
    code, _, err = _run([str(GOLDEN / "combined.log"), "--out", str(out)], capsys)
    _assert_one_line_error(code, err)
    assert out.read_bytes() == b"precious"


def test_failed_forced_run_keeps_the_old_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --force, a run that fails leaves the previous output and no temporary files."""
    out = _write(tmp_path / "e.parquet", b"precious")
    junk = _write(tmp_path / "junk.log", b"nothing valid\n")
    code, _, err = _run([str(junk), "--format", "combined", "--out", str(out), "--force"], capsys)
    _assert_one_line_error(code, err)
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.parquet", "junk.log"]


def test_force_replaces_an_existing_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --force a good run replaces the existing output."""
    out = _write(tmp_path / "e.parquet", b"old")
    code, _, _ = _run([str(GOLDEN / "combined.log"), "--out", str(out), "--force"], capsys)
    assert code == 0
    assert out.read_bytes()[:4] == b"PAR1"


def test_missing_digest_key_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --digest-key-file that cannot be read is refused before any output is written."""
    out = tmp_path / "e.parquet"
    code, _, err = _run(
        [str(GOLDEN / "nginx.jsonl"), "--out", str(out), "--digest-key-file", str(tmp_path / "k")],
        capsys,
    )
    _assert_one_line_error(code, err)
    assert not out.exists()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
