"""Build canonical event frames quickly from columns a reader found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from apibehave.schema import EVENT_COLUMNS, STRING_DTYPE, empty_events, normalize_events

_TO_PANDAS_STRINGS = {pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE}.get


def string_series(array: pa.Array) -> pd.Series:
    """Wrap an Arrow string array as a canonical string column without copying text."""
    return pd.Series(array.to_pandas(types_mapper=_TO_PANDAS_STRINGS))


def null_strings(n: int) -> pd.Series:
    """Return ``n`` nulls as a canonical string column."""
    return string_series(pa.nulls(n, pa.large_string()))


def canonical_events(columns: dict[str, pd.Series], n: int, *, source: str) -> pd.DataFrame:
    """Fill the contract columns a reader did not find, then normalise and validate.

    Parameters
    ----------
    columns : dict of str to pandas.Series
        Columns found by the reader (contract columns and extras), each of length ``n``.
    n : int
        Number of events.
    source : str
        Name used in validation errors.

    Returns
    -------
    pandas.DataFrame
        Canonical events, contract columns first, extras after.
    """
    filled: dict[str, pd.Series] = {}
    for column in EVENT_COLUMNS:
        if column.name in columns:
            filled[column.name] = columns[column.name].reset_index(drop=True)
        elif column.kind == "string":
            filled[column.name] = null_strings(n)
        elif column.default is not None:
            filled[column.name] = pd.Series(np.full(n, column.default), dtype=column.dtype)
    for name, values in columns.items():
        if name not in filled:
            filled[name] = values.reset_index(drop=True)
    return normalize_events(pd.DataFrame(filled), source=source)


def events_from_records(records: list[dict[str, object]], *, source: str) -> pd.DataFrame:
    """Build canonical events from per-event dicts built by a Python-level reader.

    ``ts`` holds UTC epoch nanoseconds; other values are str, int, float or None. Columns
    beyond the contract become strings.
    """
    if not records:
        return normalize_events(empty_events(), source=source)
    frame = pd.DataFrame.from_records(records)
    n = len(frame)
    columns: dict[str, pd.Series] = {
        "ts": pd.Series(pd.to_datetime(frame["ts"].astype("int64"), unit="ns", utc=True))
    }
    kinds = {c.name: c.kind for c in EVENT_COLUMNS}
    for name in frame.columns:
        if name == "ts":
            continue
        kind = kinds.get(name, "string")
        if kind == "string":
            values = frame[name].astype(object)
            columns[name] = values.where(values.notna(), None).astype(STRING_DTYPE)
        else:
            columns[name] = frame[name]
    return canonical_events(columns, n, source=source)
