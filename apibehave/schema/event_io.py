"""Read and write event files in the contract schema (Parquet, CSV, JSON Lines)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from apibehave.common.errors import UserError
from apibehave.schema.events import normalize_events

TABULAR_FORMATS = ("parquet", "csv", "jsonl")


def tabular_format_of(path: str | os.PathLike[str]) -> str | None:
    """Return ``parquet``, ``csv`` or ``jsonl`` from a file name (``.gz`` allowed), else None."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix, fmt in (
        (".parquet", "parquet"),
        (".pq", "parquet"),
        (".csv", "csv"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
    ):
        if name.endswith(suffix):
            return fmt
    return None


def read_events(path: str | os.PathLike[str], fmt: str | None = None) -> pd.DataFrame:
    """Read a whole event file and return it in canonical form.

    Parameters
    ----------
    path : path-like
        A Parquet, CSV or JSON Lines file (optionally gzip-compressed for CSV/JSONL).
    fmt : str, optional
        ``parquet``, ``csv`` or ``jsonl``; by default taken from the file name.

    Returns
    -------
    pandas.DataFrame
        Canonical events (see :func:`apibehave.schema.events.normalize_events`).

    Raises
    ------
    UserError
        The file is missing or unreadable, or its content breaks the contract.
    """
    source = Path(path)
    if not source.is_file():
        raise UserError(f"{source}: no such file")
    fmt = fmt or tabular_format_of(source)
    if fmt not in TABULAR_FORMATS:
        raise UserError(
            f"{source}: cannot tell the event format from the name; use .parquet, .csv or .jsonl"
        )
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(source)
        elif fmt == "csv":
            frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
        else:
            frame = pd.read_json(source, lines=True, dtype=False)
    except (OSError, ValueError, pa.ArrowException, UnicodeDecodeError) as exc:
        raise UserError(f"{source}: not a readable {fmt} event file ({_first_line(exc)})") from exc
    return normalize_events(frame, source=str(source))


def write_events(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write canonical events to Parquet, CSV or JSON Lines, chosen by the file name."""
    target = Path(path)
    fmt = tabular_format_of(target)
    if fmt == "parquet":
        pq.write_table(events_to_arrow(frame), target, compression="zstd")
    elif fmt == "csv":
        out = frame.copy()
        out["ts"] = out["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.to_csv(target, index=False)
    elif fmt == "jsonl":
        out = frame.copy()
        out["ts"] = out["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.to_json(target, orient="records", lines=True)
    else:
        raise UserError(f"{target}: unknown output format; use .parquet, .csv or .jsonl")


def events_to_arrow(events: pd.DataFrame) -> pa.Table:
    """Convert canonical events to an Arrow table, ``ts`` as UTC nanoseconds.

    The UTC time column is passed as plain nanoseconds: pyarrow's own conversion of
    tz-aware columns trips a pandas 3.1 deprecation.
    """
    names = list(events.columns)
    position = names.index("ts")
    stamps = events["ts"].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    rest = pa.Table.from_pandas(events.drop(columns="ts"), preserve_index=False)
    ts = pa.array(stamps, type=pa.timestamp("ns", tz="UTC"))
    return rest.add_column(position, pa.field("ts", ts.type, nullable=False), ts)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
