"""Build canonical event frames quickly from columns a reader found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from apibehave.schema import EVENT_COLUMNS, STRING_DTYPE, normalize_events

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
