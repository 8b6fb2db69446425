"""Stream any supported input into one event file, counting every line (``apibehave ingest``).

The input is read in chunks (blocks of lines, or record batches for tabular files) and
each chunk is appended to the output at once, so memory follows the chunk size, not the
file size. The output is written to a temporary file beside the target and moved into
place only when the run succeeds. Every input line ends up either as an event, as a
rejection (with line number and reason; all of them go to the optional rejects file as
JSON lines), or as a blank line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa

from apibehave.common.errors import UserError
from apibehave.common.output import atomic_output, check_output_path
from apibehave.ingest.chunks import Chunk, Rejection
from apibehave.ingest.detect import detect_format
from apibehave.ingest.secrets import digest_secrets
from apibehave.ingest.sink import EventSink
from apibehave.ingest.source import check_source, open_source
from apibehave.schema import tabular_format_of

LOG_FORMATS = ("combined", "nginx-json", "ase-sideband", "csic")
TABULAR_FORMATS = ("csv", "jsonl", "parquet")
FORMATS = ("auto", *LOG_FORMATS, *TABULAR_FORMATS)
"""Names accepted by ``--format`` (CONTRACT section 4)."""

SHOWN_REJECTIONS = 5


@dataclass
class IngestReport:
    """What one ingest run read, wrote and refused.

    Attributes
    ----------
    source, out : str
        Input and output paths.
    fmt : str
        The format read (after ``auto`` detection).
    lines_read : int
        Physical input lines (records for Parquet input).
    blank_lines : int
        Blank lines among them (neither events nor rejections).
    merged_lines : int
        Lines folded into an event or rejection counted on another line (headers and
        bodies of raw HTTP requests, sideband responses paired with their requests).
    events_written : int
        Events in the output.
    rejected : int
        Lines or records that did not become events.
    first_rejections : list of Rejection
        The first :data:`SHOWN_REJECTIONS` of them.
    out_of_order : int
        Events earlier than some event before them in the input.
    time_min, time_max : pandas.Timestamp or None
        Time range of the events.
    elapsed_s : float
        Wall time of the run.
    rejects_path : str or None
        Where all rejections were written.
    digested : bool
        Whether token, cookie and API-key values were replaced by keyed digests.
    dropped_columns : list of str
        Extra columns that could not be kept consistently across chunks.
    """

    source: str
    out: str
    fmt: str
    lines_read: int = 0
    blank_lines: int = 0
    merged_lines: int = 0
    events_written: int = 0
    rejected: int = 0
    first_rejections: list[Rejection] = field(default_factory=list)
    out_of_order: int = 0
    time_min: pd.Timestamp | None = None
    time_max: pd.Timestamp | None = None
    elapsed_s: float = 0.0
    rejects_path: str | None = None
    digested: bool = False
    dropped_columns: list[str] = field(default_factory=list)

    @property
    def lines_per_s(self) -> float:
        """Input lines read per second of wall time."""
        return self.lines_read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-friendly values."""
        return {
            "source": self.source,
            "out": self.out,
            "format": self.fmt,
            "lines_read": self.lines_read,
            "blank_lines": self.blank_lines,
            "merged_lines": self.merged_lines,
            "events_written": self.events_written,
            "rejected": self.rejected,
            "first_rejections": [dataclasses.asdict(r) for r in self.first_rejections],
            "out_of_order": self.out_of_order,
            "time_min": None if self.time_min is None else self.time_min.isoformat(),
            "time_max": None if self.time_max is None else self.time_max.isoformat(),
            "elapsed_s": round(self.elapsed_s, 3),
            "lines_per_s": round(self.lines_per_s),
            "rejects_path": self.rejects_path,
            "digested": self.digested,
            "dropped_columns": self.dropped_columns,
        }

    def _line_notes(self) -> str:
        notes = []
        if self.merged_lines:
            notes.append(f"{self.merged_lines:,} merged into events")
        if self.blank_lines:
            notes.append(f"{self.blank_lines:,} blank")
        return f" ({', '.join(notes)})" if notes else ""

    def summary(self) -> str:
        """Return a short human-readable summary, one fact per line."""
        span = (
            f"{self.time_min.isoformat()} .. {self.time_max.isoformat()}"
            if self.time_min is not None and self.time_max is not None
            else "none"
        )
        lines = [
            f"ingested {self.source} ({self.fmt}) -> {self.out}",
            f"  lines read      {self.lines_read:,}" + self._line_notes(),
            f"  events written  {self.events_written:,}",
            f"  rejected        {self.rejected:,}"
            + (f" (all in {self.rejects_path})" if self.rejects_path and self.rejected else ""),
        ]
        lines += [f"    line {r.line}: {r.reason}" for r in self.first_rejections]
        lines += [
            f"  out of order    {self.out_of_order:,}",
            f"  time range      {span}",
            f"  elapsed         {self.elapsed_s:.2f} s ({self.lines_per_s:,.0f} lines/s)",
        ]
        if self.digested:
            lines.append("  secrets         token, cookie, api_key replaced by keyed digests")
        if self.dropped_columns:
            lines.append(f"  dropped columns {', '.join(self.dropped_columns)}")
        return "\n".join(lines)


def ingest(
    source: str | os.PathLike[str],
    fmt: str = "auto",
    out: str | os.PathLike[str] = "events.parquet",
    *,
    force: bool = False,
    rejects_path: str | os.PathLike[str] | None = None,
    digest_key: bytes | None = None,
) -> IngestReport:
    """Read ``source`` in format ``fmt`` and write its events to ``out``.

    Parameters
    ----------
    source : path-like
        Input file, plain or gzip-compressed.
    fmt : str
        One of :data:`FORMATS`; ``auto`` sniffs the first lines.
    out : path-like
        Output event file; ``.parquet``, ``.csv`` or ``.jsonl``.
    force : bool
        Replace existing output (and rejects) files.
    rejects_path : path-like, optional
        Where to write every rejection as a JSON line (``line``, ``reason``, ``raw``).
    digest_key : bytes, optional
        When given, token, cookie and API-key values are replaced by keyed digests.

    Returns
    -------
    IngestReport

    Raises
    ------
    UserError
        Bad path, unknown format, unreadable input, no valid line, or an output that
        exists without ``force``. Nothing is written then.
    """
    started = time.perf_counter()
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    src = check_source(source)
    target = check_output_path(out, force=force)
    out_fmt = tabular_format_of(target)
    if out_fmt is None or target.name.lower().endswith(".gz"):
        raise UserError(f"{target}: output must end in .parquet, .csv or .jsonl")
    rejects_target = None
    if rejects_path is not None:
        rejects_target = check_output_path(rejects_path, force=force)
        if rejects_target.resolve() == target.resolve():
            raise UserError("--rejects must differ from --out")
    if fmt == "auto":
        fmt = detect_format(src)
    report = IngestReport(
        source=str(src),
        out=str(target),
        fmt=fmt,
        rejects_path=None if rejects_target is None else str(rejects_target),
        digested=digest_key is not None,
    )
    with ExitStack() as stack:
        tmp_out = stack.enter_context(atomic_output(target))
        rejects_file = None
        if rejects_target is not None:
            tmp_rejects = stack.enter_context(atomic_output(rejects_target))
            rejects_file = stack.enter_context(tmp_rejects.open("w", encoding="utf-8"))
        try:
            with EventSink(tmp_out, out_fmt) as sink:
                _run(src, fmt, sink, report, rejects_file, digest_key)
        except OSError as exc:  # the output side: disk full, permissions...
            raise UserError(f"cannot write {target} ({exc.strerror or exc})") from exc
        report.dropped_columns = sorted(sink.dropped_columns)
        if report.events_written == 0:
            first = report.first_rejections[0] if report.first_rejections else None
            why = f"; line {first.line}: {first.reason}" if first is not None else ""
            raise UserError(
                f"{src}: no valid {fmt} line among {report.lines_read:,} lines "
                f"({report.rejected:,} rejected{why})"
            )
    report.elapsed_s = time.perf_counter() - started
    return report


def _run(
    src: Path,
    fmt: str,
    sink: EventSink,
    report: IngestReport,
    rejects_file: TextIO | None,
    digest_key: bytes | None,
) -> None:
    latest: np.int64 | None = None
    try:
        for chunk in _chunks(src, fmt):
            events = chunk.events
            report.lines_read += chunk.lines
            report.blank_lines += chunk.blank
            report.merged_lines += chunk.merged
            report.rejected += len(chunk.rejections)
            room = SHOWN_REJECTIONS - len(report.first_rejections)
            if room > 0:
                report.first_rejections.extend(chunk.rejections[:room])
            if rejects_file is not None:
                for rejection in chunk.rejections:
                    rejects_file.write(json.dumps(dataclasses.asdict(rejection)) + "\n")
            if len(events) == 0:
                continue
            if digest_key is not None:
                events = digest_secrets(events, digest_key)
            latest = _track_time(events, report, latest)
            sink.write(events)
            report.events_written += len(events)
    except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        raise UserError(f"{src}: cannot be read past line {report.lines_read:,} ({exc})") from exc


def _track_time(events: pd.DataFrame, report: IngestReport, latest: np.int64 | None) -> np.int64:
    stamps = events["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    running = np.maximum.accumulate(stamps)
    if latest is not None:
        running = np.maximum(running, latest)
        previous = np.concatenate([[latest], running[:-1]])
    else:
        previous = np.concatenate([[stamps[0]], running[:-1]])
    report.out_of_order += int((stamps < previous).sum())
    low = pd.Timestamp(int(stamps.min()), tz="UTC")
    high = pd.Timestamp(int(stamps.max()), tz="UTC")
    report.time_min = low if report.time_min is None else min(report.time_min, low)
    report.time_max = high if report.time_max is None else max(report.time_max, high)
    return np.int64(running[-1])


def _chunks(src: Path, fmt: str) -> Iterator[Chunk]:
    if fmt in TABULAR_FORMATS:
        from apibehave.ingest.formats.tabular import read_tabular

        yield from read_tabular(src, fmt)
        return
    reader = _stream_reader(fmt)
    with open_source(src) as stream:
        yield from reader(stream)


def _stream_reader(fmt: str) -> Callable[[BinaryIO], Iterator[Chunk]]:
    if fmt == "combined":
        from apibehave.ingest.formats.combined import read_combined

        return read_combined
    if fmt == "nginx-json":
        from apibehave.ingest.formats.nginx_json import read_nginx_json

        return read_nginx_json
    if fmt == "ase-sideband":
        from apibehave.ingest.formats.ase_sideband import read_ase_sideband

        return read_ase_sideband
    from apibehave.ingest.formats.csic import read_csic

    return read_csic
