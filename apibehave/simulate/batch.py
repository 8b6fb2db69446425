"""A batch of generated events: numpy numbers and Arrow strings, column by column.

Generators return batches; :func:`to_events` concatenates them, sorts by time and hands
the result to :func:`apibehave.schema.normalize_events`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from apibehave.schema import STRING_DTYPE, TIMESTAMP_DTYPE, normalize_events
from apibehave.simulate import text

NUMERIC_COLUMNS: dict[str, np.dtype] = {
    "ts": np.dtype("int64"),
    "status": np.dtype("int64"),
    "req_bytes": np.dtype("int64"),
    "resp_bytes": np.dtype("int64"),
    "latency_ms": np.dtype("float64"),
}
"""Numeric columns; ``ts`` is held as epoch nanoseconds until the frame is built."""

STRING_COLUMNS: tuple[str, ...] = (
    "client_ip",
    "method",
    "path",
    "api",
    "host",
    "query",
    "user_agent",
    "token",
    "cookie",
    "api_key",
    "username",
    "body",
    "label",
    "actor",
    "trap",
    "attack_identifier",
)
"""String columns: the contract's, the labels, and the simulator's extras."""

EXTRA_COLUMNS: tuple[str, ...] = ("period", "trap", "attack_identifier")
"""Simulator columns beyond the contract and labels (kept, ignored by detectors)."""


@dataclass
class Batch:
    """Equal-length columns of generated events."""

    columns: dict[str, np.ndarray | pa.Array]

    def __post_init__(self) -> None:
        sizes = {name: len(values) for name, values in self.columns.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"batch columns differ in length: {sizes}")
        unknown = set(self.columns) - set(NUMERIC_COLUMNS) - set(STRING_COLUMNS)
        if unknown:
            raise ValueError(f"unknown batch columns: {sorted(unknown)}")

    def __len__(self) -> int:
        return len(self.columns["ts"]) if "ts" in self.columns else 0

    def with_columns(self, **columns: np.ndarray | pa.Array | str | None) -> Batch:
        """Return a batch with some columns replaced; a string or None is broadcast."""
        n = len(self)
        out = dict(self.columns)
        for name, values in columns.items():
            out[name] = (
                text.const(values, n) if values is None or isinstance(values, str) else values
            )
        return Batch(out)

    def take(self, index: np.ndarray) -> Batch:
        """Return the rows at ``index``."""
        idx = pa.array(np.asarray(index, dtype=np.int64))
        return Batch(
            {
                name: values[index] if isinstance(values, np.ndarray) else values.take(idx)
                for name, values in self.columns.items()
            }
        )


def concat(batches: Iterable[Batch]) -> Batch:
    """Concatenate batches; a column missing from one batch is null (or 0) there."""
    parts = [b for b in batches if len(b)]
    if not parts:
        return Batch({"ts": np.zeros(0, dtype=np.int64)})
    columns: dict[str, np.ndarray | pa.Array] = {}
    names = [n for n in (*NUMERIC_COLUMNS, *STRING_COLUMNS) if any(n in b.columns for b in parts)]
    for name in names:
        if name in NUMERIC_COLUMNS:
            dtype = NUMERIC_COLUMNS[name]
            fill = np.nan if dtype.kind == "f" else 0
            columns[name] = np.concatenate(
                [
                    np.asarray(b.columns[name], dtype=dtype)
                    if name in b.columns
                    else np.full(len(b), fill, dtype=dtype)
                    for b in parts
                ]
            )
        else:
            columns[name] = pa.concat_arrays(
                [
                    b.columns[name].cast(pa.string()) if name in b.columns else text.nulls(len(b))
                    for b in parts
                ]
            )
    return Batch(columns)


def to_events(batch: Batch, train_end_ns: int, *, source: str = "simulation") -> pd.DataFrame:
    """Sort a batch by time and return canonical labelled events with a ``period`` column.

    Parameters
    ----------
    batch : Batch
        Everything generated; its columns are consumed (the batch is empty afterwards).
    train_end_ns : int
        Epoch nanoseconds where the test period begins.
    source : str
        Name used in schema error messages.

    Returns
    -------
    pandas.DataFrame
        Canonical events (contract columns, ``label``, ``actor``, then the extras).
    """
    ts = np.asarray(batch.columns["ts"], dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    idx = pa.array(order)
    data: dict[str, pd.Series] = {}
    for name in list(batch.columns):
        values = batch.columns.pop(name)  # release each column once it is converted
        if isinstance(values, np.ndarray):
            data[name] = pd.Series(values[order])
        else:
            arrow = values.take(idx).cast(pa.large_string())
            data[name] = pd.Series(pd.arrays.ArrowStringArray(arrow), dtype=STRING_DTYPE)
    data["ts"] = pd.Series(ts[order].view("datetime64[ns]")).dt.tz_localize("UTC")
    data["ts"] = data["ts"].astype(TIMESTAMP_DTYPE)
    period = np.where(ts[order] < train_end_ns, 0, 1)
    data["period"] = pd.Series(
        pd.arrays.ArrowStringArray(text.pick(["train", "test"], period).cast(pa.large_string())),
        dtype=STRING_DTYPE,
    )
    frame = pd.DataFrame(data)
    return normalize_events(frame, source=source)
