"""The call log: every call's metadata, appended to rotating Parquet files.

The request path only appends a tuple to a queue; a writer thread digests the secret
identifiers (:mod:`apibehave.enforce.digest`), writes a row group every ``flush_s`` seconds
to ``calls-<UTC time>-<pid>-<n>.parquet.partial`` and, after ``rotate_rows`` rows or
``rotate_s`` seconds, closes it and renames it to ``.parquet``: only finished files carry
that suffix. Columns are the event contract's (CONTRACT section 1) plus ``decision``
(``allow``, ``block``, ``shadow`` or ``error``) and ``attack_type``; ``apibehave ingest``
and ``train`` read a finished file as they read any event file.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from apibehave.enforce.digest import SECRET_KINDS, Digester

log = logging.getLogger("apibehave.enforce")

LOG_COLUMNS: tuple[str, ...] = (
    "ts", "client_ip", "method", "path", "status", "api", "host", "query", "req_bytes",
    "resp_bytes", "latency_ms", "user_agent", "token", "cookie", "api_key", "username", "body",
    "correlation_id", "decision", "attack_type",
)  # fmt: skip
"""The order of a call-log row (the tuple :meth:`CallLog.append` takes)."""

_TYPES: dict[str, pa.DataType] = {
    "ts": pa.timestamp("ns", tz="UTC"),
    "status": pa.int64(),
    "req_bytes": pa.int64(),
    "resp_bytes": pa.int64(),
    "latency_ms": pa.float64(),
}
SCHEMA = pa.schema([(name, _TYPES.get(name, pa.string())) for name in LOG_COLUMNS])
_SECRET_POSITIONS = [LOG_COLUMNS.index(k) for k in SECRET_KINDS]
_BODY_POSITION = LOG_COLUMNS.index("body")


def call_row(event: dict[str, Any], decision: str, attack_type: str | None) -> tuple:
    """Return the call-log row of a completed call event."""
    return (
        event["ts"], event["client_ip"], event["method"], event["path"], event["status"],
        event["api"], event["host"], event["query"], event["req_bytes"], event["resp_bytes"],
        event["latency_ms"], event["user_agent"], event["token"], event["cookie"],
        event["api_key"], event["username"], event["body"], event["correlation_id"], decision,
        attack_type,
    )  # fmt: skip


class CallLog:
    """A buffered, rotating Parquet call log written by a background thread.

    Parameters
    ----------
    directory : path-like
        Where the files go (created).
    digester : Digester
        Digests token, cookie and API-key values.
    rotate_rows, rotate_s : int, float
        When a file is finished.
    flush_s : float
        How often buffered rows are written.
    buffer_max : int
        Rows buffered at most; further rows are dropped and counted in :attr:`dropped`.
    keep_bodies : bool
        Keep request bodies (else the column is null).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        digester: Digester,
        *,
        rotate_rows: int = 1_000_000,
        rotate_s: float = 3600.0,
        flush_s: float = 1.0,
        buffer_max: int = 200_000,
        keep_bodies: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.digester = digester
        self.rotate_rows = rotate_rows
        self.rotate_s = rotate_s
        self.flush_s = flush_s
        self.buffer_max = buffer_max
        self.keep_bodies = keep_bodies
        self.written = 0
        self.dropped = 0
        self.files_finished = 0
        self.errors = 0
        self._queue: deque[tuple] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: pq.ParquetWriter | None = None
        self._partial: Path | None = None
        self._file_rows = 0
        self._file_opened = 0.0
        self._sequence = 0

    # ---- the request path ---------------------------------------------------------
    def append(self, row: tuple) -> None:
        """Queue one row (cheap; never blocks; drops past ``buffer_max``)."""
        if len(self._queue) >= self.buffer_max:
            self.dropped += 1
            return
        self._queue.append(row)

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="call-log", daemon=True)
            self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def flush(self) -> None:
        """Write everything queued now (in the caller's thread when the writer is stopped)."""
        if self.alive:
            done = threading.Event()
            self._queue.append(("__flush__", done))
            self._wake.set()
            done.wait(30)
        else:
            self._write_queued()

    def close(self) -> None:
        """Write what is queued, finish the current file and stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._write_queued()
        self._finish_file()

    def finished_files(self) -> list[Path]:
        """Return the finished Parquet files, oldest first."""
        return sorted(self.directory.glob("calls-*.parquet"))

    # ---- the writer thread ---------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            try:
                self._write_queued()
                if self._writer is not None and (
                    self._file_rows >= self.rotate_rows
                    or time.monotonic() - self._file_opened >= self.rotate_s
                ):
                    self._finish_file()
            except Exception:  # a full disk must not stop the service; counted and logged
                self.errors += 1
                log.exception("call log: write failed")

    def _write_queued(self) -> None:
        queue = self._queue
        rows: list[tuple] = []
        waiters: list[threading.Event] = []
        for _ in range(len(queue)):
            row = queue.popleft()
            if row and row[0] == "__flush__":
                waiters.append(row[1])
            else:
                rows.append(row)
        start = 0
        while start < len(rows):
            room = max(1, self.rotate_rows - self._file_rows)
            part = rows[start : start + room]
            self._write_rows(part)
            start += len(part)
            if self._file_rows >= self.rotate_rows:
                self._finish_file()
        for done in waiters:
            done.set()

    def _write_rows(self, rows: list[tuple]) -> None:
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        for position in _SECRET_POSITIONS:
            columns[position] = [self.digester(v) for v in columns[position]]
        if not self.keep_bodies:
            columns[_BODY_POSITION] = [None] * len(rows)
        table = pa.Table.from_arrays(
            [pa.array(col, type=field.type) for col, field in zip(columns, SCHEMA, strict=True)],
            schema=SCHEMA,
        )
        if self._writer is None:
            self._open_file()
        assert self._writer is not None
        self._writer.write_table(table)
        self._file_rows += len(rows)
        self.written += len(rows)

    def _open_file(self) -> None:
        self._sequence += 1
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        name = f"calls-{stamp}-{os.getpid()}-{self._sequence:04d}.parquet.partial"
        self._partial = self.directory / name
        self._writer = pq.ParquetWriter(self._partial, SCHEMA, compression="zstd")
        self._file_rows = 0
        self._file_opened = time.monotonic()

    def _finish_file(self) -> None:
        if self._writer is None or self._partial is None:
            return
        self._writer.close()
        self._partial.rename(self._partial.with_suffix(""))
        self._writer = None
        self._partial = None
        self.files_finished += 1
