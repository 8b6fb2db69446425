"""Event files already in the contract schema: CSV, JSON Lines and Parquet, read in chunks.

Each chunk is checked row by row before :func:`apibehave.schema.normalize_events` types
it, so one bad row is rejected with its number and reason instead of failing the file:
a required column empty, a ``ts`` that is neither ISO-8601 nor epoch seconds, a status
outside 0..999, a negative or fractional byte count, a non-numeric latency, an unknown
label. A file that lacks a required column altogether is refused as a whole.

Row numbers: CSV rows count from the header (line 1), so the first data row is 2 (exact
unless quoted values span lines); JSON Lines use physical lines; Parquet rows count from
1. CSV values are read as text; JSON Lines extra fields that hold objects or arrays are
kept as JSON text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from apibehave.common.errors import UserError
from apibehave.ingest.chunks import Chunk, Rejection
from apibehave.ingest.jsonlines import iter_json_blocks
from apibehave.ingest.source import open_source, read_head
from apibehave.schema import (
    EVENT_COLUMNS,
    LABELS,
    REQUIRED_COLUMNS,
    STRING_DTYPE,
    EventSchemaError,
    normalize_events,
)

BATCH_ROWS = 65_536
CSV_BLOCK_BYTES = 4 << 20


def read_tabular(path: Path, fmt: str) -> Iterator[Chunk]:
    """Read a CSV, JSON Lines or Parquet event file chunk by chunk.

    Parameters
    ----------
    path : Path
        The file (CSV and JSON Lines may be gzip-compressed).
    fmt : {"csv", "jsonl", "parquet"}
        Its format.

    Yields
    ------
    Chunk
        Canonical events and rejected rows.

    Raises
    ------
    UserError
        The file cannot be read as ``fmt`` or lacks a required column.
    """
    if fmt == "csv":
        yield from _read_csv(path)
    elif fmt == "jsonl":
        yield from _read_jsonl(path)
    elif fmt == "parquet":
        yield from _read_parquet(path)
    else:
        raise UserError(f"not a tabular format: {fmt}")


def _read_csv(path: Path) -> Iterator[Chunk]:
    header_text = read_head(path, 1 << 20).split(b"\n", 1)[0].decode("utf-8", "replace")
    names = next(csv.reader(io.StringIO(header_text.lstrip("\ufeff").rstrip("\r"))), [])
    _require_columns(path, names)
    invalid: list[Rejection] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = row.number if row.number is not None else 0
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        invalid.append(Rejection.of(number, reason, row.text or ""))
        return "skip"

    next_line = 2
    with open_source(path) as stream:
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES),
                parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    null_values=[""],
                    strings_can_be_null=True,
                ),
            )
            for batch in reader:
                frame = batch.to_pandas(types_mapper={pa.string(): STRING_DTYPE}.get)
                lines = _line_numbers(next_line, len(frame), {r.line for r in invalid})
                next_line = int(lines[-1]) + 1 if len(lines) else next_line
                chunk = _checked_chunk(frame, lines, _csv_raw(frame), source=str(path))
                chunk.rejections = sorted(chunk.rejections + invalid, key=lambda r: r.line)
                chunk.lines = len(frame) + len(invalid)
                invalid.clear()
                yield chunk
        except pa.ArrowInvalid as exc:
            raise UserError(f"{path}: not a readable CSV event file ({exc})") from exc
    if invalid:
        yield Chunk(events=_empty(path), rejections=list(invalid), lines=len(invalid))


def _line_numbers(start: int, n: int, skipped: set[int]) -> np.ndarray:
    """Return the first ``n`` line numbers from ``start`` on that are not in ``skipped``."""
    candidates = np.arange(start, start + n + len(skipped), dtype=np.int64)
    if skipped:
        candidates = candidates[~np.isin(candidates, np.fromiter(skipped, np.int64))]
    return candidates[:n]


def _read_jsonl(path: Path) -> Iterator[Chunk]:
    checked_columns = False
    with open_source(path) as stream:
        for block in iter_json_blocks(stream):
            records = [record for _, _, record in block.records]
            frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
            if records and not checked_columns:
                _require_columns(path, list(frame.columns))
                checked_columns = True
            frame = _jsonl_text_extras(frame)
            lines = np.array([number for number, _, _ in block.records], dtype=np.int64)
            raws = [raw for _, raw, _ in block.records]
            chunk = _checked_chunk(frame, lines, raws.__getitem__, source=str(path))
            chunk.rejections = sorted(chunk.rejections + block.rejections, key=lambda r: r.line)
            chunk.lines = block.lines
            chunk.blank = block.blank
            yield chunk


def _read_parquet(path: Path) -> Iterator[Chunk]:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise UserError(f"{path}: not a readable Parquet file ({exc})") from exc
    _require_columns(path, parquet.schema_arrow.names)
    rows_before = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        frame = batch.to_pandas(
            types_mapper={pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE}.get
        )
        lines = np.arange(len(frame)) + rows_before + 1
        rows_before += len(frame)

        def raw(i: int, frame: pd.DataFrame = frame) -> str:
            return frame.iloc[i].to_json(date_format="iso")

        chunk = _checked_chunk(frame, lines, raw, source=str(path))
        chunk.lines = len(frame)
        yield chunk


def _require_columns(path: Path, names: list[str]) -> None:
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise EventSchemaError(
            f"{path}: missing required column(s) {', '.join(missing)}; "
            f"an event needs {', '.join(REQUIRED_COLUMNS)}"
        )


def _checked_chunk(
    frame: pd.DataFrame,
    lines: np.ndarray,
    raw: Callable[[int], str | bytes],
    *,
    source: str,
) -> Chunk:
    if len(frame) == 0:
        return Chunk(events=_empty(source))
    for name in REQUIRED_COLUMNS:
        if name not in frame.columns:
            frame = frame.assign(**{name: None})
    reasons, ts = row_problems(frame)
    bad = np.flatnonzero(reasons.notna().to_numpy())
    rejections = [Rejection.of(int(lines[i]), str(reasons.iloc[i]), raw(int(i))) for i in bad]
    good = frame.assign(ts=ts)[reasons.isna().to_numpy()]
    return Chunk(events=normalize_events(good, source=source), rejections=rejections)


def row_problems(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Find each row's first contract problem.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with (at least) the required columns, in any reasonable typing.

    Returns
    -------
    reasons : pandas.Series
        The first problem of each row, or null for a good row.
    ts : pandas.Series
        The parsed times (NaT where unreadable).
    """
    reasons = pd.Series([None] * len(frame), index=frame.index, dtype=object)

    def mark(bad: pd.Series | np.ndarray, reason: str) -> None:
        mask = np.asarray(bad, dtype=bool) & reasons.isna().to_numpy()
        if mask.any():
            reasons[mask] = reason

    ts = _parse_ts(frame["ts"])
    mark(ts.isna(), "ts is not an ISO-8601 time or epoch seconds")
    for name in ("client_ip", "method", "path"):
        text = frame[name].astype(object)
        mark(text.isna() | (text.astype(str).str.len() == 0), f"{name} is empty")
    status = pd.to_numeric(frame["status"], errors="coerce")
    mark(
        status.isna() | (status != np.floor(status.fillna(0))) | (status < 0) | (status > 999),
        "status is not an integer in 0..999",
    )
    for name in ("req_bytes", "resp_bytes"):
        if name in frame.columns:
            value = pd.to_numeric(frame[name], errors="coerce")
            bad = (value.isna() & frame[name].notna()) | (value < 0)
            bad |= value.notna() & (value != np.floor(value.fillna(0)))
            mark(bad, f"{name} is not a non-negative integer")
    if "latency_ms" in frame.columns:
        value = pd.to_numeric(frame["latency_ms"], errors="coerce")
        mark(value.isna() & frame["latency_ms"].notna(), "latency_ms is not a number")
    if "label" in frame.columns:
        labels = frame["label"].astype(object)
        mark(labels.notna() & ~labels.isin(LABELS), "label is not 'normal' or an attack type")
    return reasons, ts


def _parse_ts(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return series.dt.tz_localize("UTC")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return pd.to_datetime(series, unit="s", utc=True, errors="coerce")
    text = series.astype(object)
    numeric = pd.to_numeric(text, errors="coerce")
    as_epoch = pd.to_datetime(numeric, unit="s", utc=True, errors="coerce")
    iso_text = text.where(numeric.isna() & text.notna())
    as_iso = pd.to_datetime(iso_text, utc=True, errors="coerce", format="ISO8601")
    return as_epoch.where(numeric.notna(), as_iso)


def _csv_raw(frame: pd.DataFrame) -> Callable[[int], str]:
    def raw(i: int) -> str:
        values = ["" if pd.isna(v) else str(v) for v in frame.iloc[i].tolist()]
        out = io.StringIO()
        csv.writer(out).writerow(values)
        return out.getvalue().rstrip("\r\n")

    return raw


_CONTRACT_NAMES = {c.name for c in EVENT_COLUMNS} | {"label", "actor"}


def _jsonl_text_extras(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep extra JSON fields as text so every chunk writes the same column types."""
    for name in frame.columns:
        if name in _CONTRACT_NAMES:
            continue
        values = frame[name].astype(object)
        present = values.notna()
        text = values[present].map(
            lambda v: json.dumps(v) if isinstance(v, dict | list) else str(v)
        )
        frame[name] = values.where(~present, text).astype(STRING_DTYPE)
    return frame


def _empty(source: Path | str) -> pd.DataFrame:
    from apibehave.schema import empty_events

    return normalize_events(empty_events(), source=str(source))
