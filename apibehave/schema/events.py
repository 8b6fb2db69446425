"""The event: one API call, its request and its response (CONTRACT section 1).

One row per call. :func:`normalize_events` turns any frame with the contract's columns
into the canonical typed form; :func:`validate_events` checks a canonical frame and names
the column and the first bad rows when something is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from apibehave.common.errors import UserError
from apibehave.schema.attacks import LABELS

ColumnKind = Literal["timestamp", "string", "int", "float"]

STRING_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
TIMESTAMP_DTYPE = pd.DatetimeTZDtype("ns", "UTC")
_DTYPES: dict[str, Any] = {
    "timestamp": TIMESTAMP_DTYPE,
    "string": STRING_DTYPE,
    "int": np.dtype("int64"),
    "float": np.dtype("float64"),
}
_JSON_TYPES = {"timestamp": "string", "string": "string", "int": "integer", "float": "number"}


@dataclass(frozen=True)
class Column:
    """One column of the event contract.

    Attributes
    ----------
    name : str
        Column name as it appears in files.
    kind : {"timestamp", "string", "int", "float"}
        Logical type.
    required : bool
        Whether every event file must carry it.
    default : object
        Value used when an optional column is absent (``None`` means null).
    description : str
        What it means, from the contract.
    """

    name: str
    kind: ColumnKind
    required: bool
    default: object
    description: str

    @property
    def dtype(self) -> Any:
        """The pandas dtype of the canonical column."""
        return _DTYPES[self.kind]


EVENT_COLUMNS: tuple[Column, ...] = (
    Column("ts", "timestamp", True, None, "when the request arrived, UTC"),
    Column("client_ip", "string", True, None, "client address (first trusted X-Forwarded-For hop)"),
    Column("method", "string", True, None, "HTTP method, upper case; WS for one WebSocket message"),
    Column("path", "string", True, None, "URL path without the query"),
    Column("status", "int", True, None, "response status; 0 when no response was seen"),
    Column("api", "string", False, None, "API name; resolved from the catalogue when absent"),
    Column("host", "string", False, None, "Host header"),
    Column("query", "string", False, None, "raw query string, without '?'"),
    Column("req_bytes", "int", False, 0, "request body size"),
    Column("resp_bytes", "int", False, 0, "response body size"),
    Column("latency_ms", "float", False, None, "backend time in milliseconds"),
    Column("user_agent", "string", False, None, "User-Agent header"),
    Column("token", "string", False, None, "OAuth access token (or a digest of it)"),
    Column("cookie", "string", False, None, "session cookie value (or a digest of it)"),
    Column("api_key", "string", False, None, "API key (or a digest of it)"),
    Column("username", "string", False, None, "authenticated or attempted user name"),
    Column("body", "string", False, None, "request body, possibly truncated"),
    Column("correlation_id", "string", False, None, "pairs a sideband request with its response"),
)

COLUMNS: dict[str, Column] = {c.name: c for c in EVENT_COLUMNS}
EVENT_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in EVENT_COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in EVENT_COLUMNS if c.required)
LABEL_COLUMNS: tuple[str, ...] = ("label", "actor")
"""Added by labelled data sets; no detector may read them."""

IDENTIFIER_COLUMNS: dict[str, str] = {
    "ip": "client_ip",
    "token": "token",
    "cookie": "cookie",
    "api_key": "api_key",
    "username": "username",
}
"""Identifier kind (as in decisions and deny lists) -> event column."""

_SHOWN_BAD_ROWS = 5


class EventSchemaError(UserError):
    """An event frame breaks the contract; the message names the column and rows."""


def empty_events() -> pd.DataFrame:
    """Return an empty canonical event frame with every contract column."""
    return pd.DataFrame({c.name: pd.Series([], dtype=c.dtype) for c in EVENT_COLUMNS})


def normalize_events(frame: pd.DataFrame, *, source: str = "events") -> pd.DataFrame:
    """Coerce a frame with the contract's columns into canonical types.

    Required columns must be present. Optional columns that are missing get their
    defaults; ``ts`` may hold ISO-8601 strings, epoch seconds or datetimes (naive ones
    are taken as UTC); ``method`` is upper-cased. Unknown extra columns are kept, after
    the contract columns and the label columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Events in any reasonable typing (as read from CSV, JSON Lines or Parquet).
    source : str
        Name used in error messages, e.g. the file the frame came from.

    Returns
    -------
    pandas.DataFrame
        A new frame in canonical form, index reset.

    Raises
    ------
    EventSchemaError
        A required column is missing or a value cannot take the column's type.
    """
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise EventSchemaError(
            f"{source}: missing required column(s) {', '.join(missing)}; "
            f"an event needs {', '.join(REQUIRED_COLUMNS)}"
        )
    frame = frame.reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    n = len(frame)
    for column in EVENT_COLUMNS:
        if column.name in frame.columns:
            out[column.name] = _coerce(frame[column.name], column, source)
        elif column.default is None:
            out[column.name] = pd.Series(np.full(n, np.nan), dtype=column.dtype)
        else:
            out[column.name] = pd.Series(np.full(n, column.default), dtype=column.dtype)
    out["method"] = out["method"].str.upper()
    for name in LABEL_COLUMNS:
        if name in frame.columns:
            out[name] = _coerce(frame[name], Column(name, "string", False, None, ""), source)
    for name in frame.columns:
        if name not in out:
            out[name] = frame[name]
    result = pd.DataFrame(out)
    validate_events(result, source=source)
    return result


def validate_events(frame: pd.DataFrame, *, source: str = "events") -> None:
    """Check a canonical event frame against the contract.

    Parameters
    ----------
    frame : pandas.DataFrame
        Events as returned by :func:`normalize_events`.
    source : str
        Name used in error messages.

    Raises
    ------
    EventSchemaError
        Naming the first broken column and its first bad rows.
    """
    for column in EVENT_COLUMNS:
        if column.name not in frame.columns:
            raise EventSchemaError(f"{source}: missing column {column.name}")
        series = frame[column.name]
        if series.dtype != column.dtype:
            raise EventSchemaError(
                f"{source}: column {column.name} has type {series.dtype}, expected {column.dtype}"
            )
        if column.required:
            bad = series.isna()
            if column.kind == "string":
                bad |= series.fillna("").str.len() == 0
            _raise_if_any(bad, source, column.name, "is empty")
    status = frame["status"]
    _raise_if_any((status < 0) | (status > 999), source, "status", "is not in 0..999")
    for name in ("req_bytes", "resp_bytes"):
        _raise_if_any(frame[name] < 0, source, name, "is negative")
    if "label" in frame.columns:
        labels = frame["label"]
        _raise_if_any(
            labels.notna() & ~labels.isin(LABELS),
            source,
            "label",
            "is not 'normal' or an attack type of the contract",
        )


def event_json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of one event record as in JSON Lines files."""
    properties: dict[str, Any] = {}
    for column in EVENT_COLUMNS:
        json_type: Any = _JSON_TYPES[column.kind]
        if column.kind == "timestamp":
            spec: dict[str, Any] = {
                "description": column.description + " (ISO-8601 string or epoch seconds)",
                "type": ["string", "number"],
            }
        else:
            spec = {"description": column.description, "type": json_type}
            if not column.required:
                spec["type"] = [json_type, "null"]
            if column.default is not None:
                spec["default"] = column.default
        properties[column.name] = spec
    properties["status"].update({"minimum": 0, "maximum": 999})
    properties["label"] = {
        "description": "labelled data only: 'normal' or an attack type",
        "enum": [*LABELS, None],
    }
    properties["actor"] = {
        "description": "labelled data only: who sent it",
        "type": ["string", "null"],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/apibehave/apibehave/schema/event.schema.json",
        "title": "apibehave event",
        "description": "One API call: its request and its response (CONTRACT section 1).",
        "type": "object",
        "required": list(REQUIRED_COLUMNS),
        "properties": properties,
        "additionalProperties": True,
    }


def _coerce(series: pd.Series, column: Column, source: str) -> pd.Series:
    if column.kind == "timestamp":
        return _coerce_timestamp(series, source)
    if column.kind == "string":
        if series.dtype == STRING_DTYPE:
            return series
        values = series.astype(object)
        present = values.notna()
        text = values.where(~present, values[present].map(_to_text))
        return text.astype(STRING_DTYPE)
    numeric = pd.to_numeric(series, errors="coerce")
    bad = numeric.isna() & series.notna()
    if column.kind == "int":
        bad |= numeric.notna() & (numeric != np.floor(numeric.fillna(0)))
        if column.required:
            bad |= series.isna()
    _raise_if_any(bad, source, column.name, f"is not a valid {column.kind}")
    if column.kind == "int":
        fill = 0 if column.default is None else column.default
        return numeric.fillna(fill).astype("int64")
    return numeric.astype("float64")


def _to_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _coerce_timestamp(series: pd.Series, source: str) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        result = series.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(series.dtype):
        result = series.dt.tz_localize("UTC")
    elif pd.api.types.is_numeric_dtype(series.dtype):
        result = pd.to_datetime(series, unit="s", utc=True, errors="coerce")
    else:
        text = series.astype(object)
        numeric = pd.to_numeric(text, errors="coerce")
        as_epoch = pd.to_datetime(numeric, unit="s", utc=True, errors="coerce")
        as_iso = pd.to_datetime(
            text.where(numeric.isna()), utc=True, errors="coerce", format="ISO8601"
        )
        result = as_epoch.where(numeric.notna(), as_iso)
    result = result.astype(TIMESTAMP_DTYPE)
    _raise_if_any(result.isna(), source, "ts", "is not an ISO-8601 time or epoch seconds")
    return result


def _raise_if_any(bad: pd.Series, source: str, column: str, problem: str) -> None:
    if not bool(np.asarray(bad).any()):
        return
    rows = np.flatnonzero(np.asarray(bad))
    shown = ", ".join(str(r) for r in rows[:_SHOWN_BAD_ROWS])
    more = f" and {len(rows) - _SHOWN_BAD_ROWS} more" if len(rows) > _SHOWN_BAD_ROWS else ""
    raise EventSchemaError(f"{source}: column {column} {problem} in row(s) {shown}{more}")


def select_columns(frame: pd.DataFrame, names: Iterable[str]) -> pd.DataFrame:
    """Return the named columns that exist in ``frame``, in the given order."""
    return frame[[n for n in names if n in frame.columns]]
