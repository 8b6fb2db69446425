"""Append canonical event chunks to one Parquet, CSV or JSON Lines file."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from apibehave.schema import EVENT_COLUMN_NAMES
from apibehave.schema.event_io import events_to_arrow


class EventSink:
    """Write event chunks one after another with bounded memory.

    Parquet row groups are compressed and written on a background thread while the next
    chunk is parsed (at most :data:`WRITE_QUEUE_DEPTH` chunks wait, so memory stays
    bounded); an error there surfaces on the next :meth:`write` or on :meth:`close`.

    The first chunk fixes the file's columns: later chunks get nulls for columns they
    lack, and extra columns that first appear later are dropped (their names are kept in
    :attr:`dropped_columns`, as are extra columns whose values could not take the
    file's type for that chunk).

    Parameters
    ----------
    path : Path
        Where to write (usually a temporary path that is moved into place later).
    fmt : {"parquet", "csv", "jsonl"}
        Output format.
    """

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self.dropped_columns: set[str] = set()
        self._schema: pa.Schema | None = None
        self._columns: list[str] | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._background: _BackgroundWriter | None = None
        self._text: IO[str] | None = None

    def write(self, events: pd.DataFrame) -> None:
        """Append one chunk of canonical events."""
        if self._columns is None:
            self._columns = list(events.columns)
        else:
            self.dropped_columns |= set(events.columns) - set(self._columns)
            events = events.reindex(columns=self._columns)
        if self.fmt == "parquet":
            self._write_parquet(events)
        else:
            self._write_text(events)

    def _write_parquet(self, events: pd.DataFrame) -> None:
        table = events_to_arrow(events)
        if self._parquet is None:
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(self.path, self._schema, compression="zstd")
            self._background = _BackgroundWriter(self._parquet.write_table)
        else:
            assert self._schema is not None
            table, lost = _conform(table, self._schema)
            self.dropped_columns |= lost
        assert self._background is not None
        self._background.put(table)

    def _write_text(self, events: pd.DataFrame) -> None:
        out = events.copy(deep=False)
        out["ts"] = out["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        first = self._text is None
        if self._text is None:
            self._text = self.path.open("w", encoding="utf-8", newline="")
        if self.fmt == "csv":
            out.to_csv(self._text, index=False, header=first)
        else:
            text = out.to_json(orient="records", lines=True)
            self._text.write(text if text.endswith("\n") or not text else text + "\n")

    def close(self) -> None:
        """Finish the file (an empty Parquet file still gets the contract's columns)."""
        if self.fmt == "parquet" and self._parquet is None:
            from apibehave.schema import empty_events

            self._write_parquet(empty_events())
        if self._parquet is not None:
            try:
                if self._background is not None:
                    self._background.close()
            finally:
                self._background = None
                self._parquet.close()
                self._parquet = None
        if self._text is not None:
            self._text.close()
            self._text = None
        elif self.fmt != "parquet":
            self.path.write_text(",".join(EVENT_COLUMN_NAMES) + "\n" if self.fmt == "csv" else "")

    def __enter__(self) -> EventSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


WRITE_QUEUE_DEPTH = 2


class _BackgroundWriter:
    """Run ``write`` on queued items in order, on one thread, keeping the first error."""

    def __init__(self, write: Callable[[pa.Table], None]) -> None:
        self._write = write
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=WRITE_QUEUE_DEPTH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="apibehave-ingest-writer")
        self._thread.daemon = True
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self._write(item)
                except BaseException as exc:  # handed to the caller's thread
                    self._error = exc

    def put(self, table: pa.Table) -> None:
        """Queue a table (blocks while the queue is full); raise an earlier write error."""
        self._raise_error()
        self._queue.put(table)

    def close(self) -> None:
        """Wait for queued tables to be written; raise the first write error if any."""
        self._queue.put(None)
        self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error


def _conform(table: pa.Table, schema: pa.Schema) -> tuple[pa.Table, set[str]]:
    """Cast a chunk to the file's schema; an extra column that cannot be cast is nulled.

    Returns the cast table and the names of the columns whose values were lost.
    """
    if table.schema.equals(schema):
        return table, set()
    columns = []
    lost: set[str] = set()
    for field in schema:
        column = table.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                column = pa.nulls(len(table), field.type)
                lost.add(field.name)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema), lost
