r"""nginx and Apache combined access logs: parse into events, render events as log lines.

Layout (nginx ``log_format combined``; Apache ``LogFormat "%h %l %u %t \"%r\" %>s %b
\"%{Referer}i\" \"%{User-agent}i\"" combined``)::

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
        "$http_referer" "$http_user_agent"

Mapping to events:

==================  ============================================================
field               event column
==================  ============================================================
``$remote_addr``    ``client_ip`` (IPv4 or IPv6, as written)
``$remote_user``    ``username`` (null when ``-``)
``[$time_local]``   ``ts``, converted to UTC with the line's own offset
``$request``        ``method``, ``path``, ``query``, ``protocol`` (extra column); an
                    absolute target ``http://host/p?q`` also gives ``host``; a path-less
                    absolute target gives ``/``; an empty query is null
``$status``         ``status``
``$body_bytes_sent``  ``resp_bytes`` (``-`` is 0)
``$http_referer``   ``referer`` (extra column; null when ``-``)
``$http_user_agent``  ``user_agent`` (null when ``-``)
==================  ============================================================

Real-world quirks read: lines wrapped in an extra pair of double quotes, ``\"`` escapes
inside quoted fields (undone, as is ``\\``), trailing extra fields (ignored), missing
referer and user agent (common log format), a user agent cut before its closing quote,
IPv6 addresses, ``-`` sizes, a request line without protocol (HTTP/0.9 style), and
unescaped quotes inside the request line (old Apache) via a slower repair path. Lines out
of time order are kept in file order. Escapes are undone: ``\"``, ``\\``, ``\n``,
``\r``, ``\t``, and ``\xHH`` for ASCII bytes (``\xHH`` above 7F stays as written).

A line that still cannot be read (binary junk in the request line, a bad time, no
status...) becomes a :class:`~apibehave.ingest.chunks.Rejection` with its line number.

Speed: the common path is a compiled byte scanner
(:mod:`apibehave.ingest.formats.combined_scan`) over blocks of lines; only the lines it
refuses go through Python regular expressions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from apibehave.ingest.chunks import Chunk, Rejection
from apibehave.ingest.formats import combined_scan as scan
from apibehave.ingest.frames import canonical_events, string_series
from apibehave.ingest.lines import DEFAULT_BLOCK_BYTES, as_utf8, iter_line_blocks
from apibehave.schema import STRING_DTYPE

EXTRA_COLUMNS = ("referer", "protocol")
"""Columns beyond the contract that the combined parser keeps."""

_STRING_FIELDS = {
    "client_ip": scan.F_IP,
    "method": scan.F_METHOD,
    "path": scan.F_PATH,
    "host": scan.F_HOST,
    "query": scan.F_QUERY,
    "user_agent": scan.F_UA,
    "username": scan.F_USER,
    "referer": scan.F_REFERER,
    "protocol": scan.F_PROTOCOL,
}

_LENIENT_LINE = re.compile(
    r'^"?(?P<ip>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]*)\] '
    r'"(?P<request>.*)" (?P<status>\d{1,3}) (?P<size>\d+|-)'
    r'(?: "(?P<referer>.*?)"(?: "(?P<ua>.*?)"?)?)?(?: .*)?"?$'
)
"""Repair path: a greedy request line tolerates unescaped quotes inside it."""


def read_combined(stream: BinaryIO, *, block_bytes: int = DEFAULT_BLOCK_BYTES) -> Iterator[Chunk]:
    """Read a combined access log block by block.

    Parameters
    ----------
    stream : binary file
        The (decompressed) log.
    block_bytes : int
        About how many bytes to parse at a time; memory use follows this, not the file.

    Yields
    ------
    Chunk
        Events and rejections of one block of lines.
    """
    for first_line, block in iter_line_blocks(stream, block_bytes):
        yield parse_combined_block(block, first_line)


def parse_combined_block(block: bytes, first_line: int = 1) -> Chunk:
    r"""Parse a block of whole combined-log lines.

    Parameters
    ----------
    block : bytes
        Lines separated by ``\n`` (a trailing ``\r`` is ignored).
    first_line : int
        1-based line number of the block's first line, used in rejections.

    Returns
    -------
    Chunk
        Canonical events in line order, rejections, and line counts.
    """
    block = as_utf8(block)
    buf = np.frombuffer(block, dtype=np.uint8)
    starts, ends = _line_bounds(buf)
    n_lines = len(starts)
    blank = ends == starts
    codes, spans, ts, status, size = scan.scan_combined(buf, starts, ends, scan.MONTH_KEYS)
    codes[blank] = scan.OK
    good = np.flatnonzero((codes == scan.OK) & ~blank)
    frame = _frame_from_scan(buf, spans, ts, status, size, good)
    failed = np.flatnonzero(codes != scan.OK)
    rejections: list[Rejection] = []
    if len(failed):
        raw_lines = [block[starts[i] : ends[i]] for i in failed]
        repaired, fixed_rows, rejections = _repair(raw_lines, failed, codes[failed], first_line)
        if len(repaired):
            frame = _merge_in_order(frame, good, repaired, fixed_rows)
    events = canonical_events(dict(frame.items()), len(frame), source="combined log")
    return Chunk(events=events, rejections=rejections, lines=n_lines, blank=int(blank.sum()))


def _line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    newlines = np.flatnonzero(buf == 10)
    ends = newlines
    if len(buf) and (len(newlines) == 0 or newlines[-1] != len(buf) - 1):
        ends = np.append(newlines, len(buf))
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    ends = ends - cr
    return starts.astype(np.int64), ends.astype(np.int64)


def _frame_from_scan(
    buf: np.ndarray,
    spans: np.ndarray,
    ts: np.ndarray,
    status: np.ndarray,
    size: np.ndarray,
    rows: np.ndarray,
) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {
        "ts": pd.Series(pd.to_datetime(ts[rows], unit="ns", utc=True)),
    }
    for name, field in _STRING_FIELDS.items():
        columns[name] = _string_series(buf, spans, field, rows)
    no_path = columns["path"].isna()
    if bool(no_path.any()):
        columns["path"] = columns["path"].mask(no_path, "/")
    columns["status"] = pd.Series(status[rows])
    columns["resp_bytes"] = pd.Series(size[rows])
    return pd.DataFrame(columns)


def _string_series(buf: np.ndarray, spans: np.ndarray, field: int, rows: np.ndarray) -> pd.Series:
    offsets, data, valid = scan.gather(buf, spans, field, rows, field in scan.ESCAPED_FIELDS)
    validity = pa.py_buffer(np.packbits(valid, bitorder="little")) if not valid.all() else None
    array = pa.Array.from_buffers(
        pa.large_string(), len(rows), [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return string_series(array)


def _repair(
    raw_lines: list[bytes], rows: np.ndarray, codes: np.ndarray, first_line: int
) -> tuple[pd.DataFrame, np.ndarray, list[Rejection]]:
    """Rewrite refused lines into the canonical layout and scan them again."""
    rewritten: list[bytes] = []
    kept: list[int] = []
    rejections: list[Rejection] = []
    for k, raw in enumerate(raw_lines):
        fixed = _rewrite(raw.decode("utf-8", "replace"))
        if fixed is None:
            reason = scan.REASONS.get(int(codes[k]), "not a combined log line")
            rejections.append(Rejection.of(first_line + int(rows[k]), reason, raw))
        else:
            rewritten.append(fixed.encode("utf-8"))
            kept.append(k)
    if not rewritten:
        return pd.DataFrame(), np.empty(0, np.int64), rejections
    block = b"\n".join(rewritten)
    buf = np.frombuffer(block, dtype=np.uint8)
    starts, ends = _line_bounds(buf)
    codes2, spans, ts, status, size = scan.scan_combined(buf, starts, ends, scan.MONTH_KEYS)
    ok = np.flatnonzero(codes2 == scan.OK)
    for j in np.flatnonzero(codes2 != scan.OK):
        k = kept[j]
        reason = scan.REASONS.get(int(codes2[j]), "not a combined log line")
        rejections.append(Rejection.of(first_line + int(rows[k]), reason, raw_lines[k]))
    rejections.sort(key=lambda r: r.line)
    frame = _frame_from_scan(buf, spans, ts, status, size, ok)
    fixed_rows = rows[np.asarray(kept, dtype=np.int64)[ok]]
    return frame, fixed_rows, rejections


def _rewrite(line: str) -> str | None:
    match = _LENIENT_LINE.match(line)
    if match is None:
        return None
    parts = match.groupdict()

    def quoted(value: str | None) -> str:
        if value is None:
            return '"-"'
        return '"' + _BARE_QUOTE.sub(lambda m: m.group(1) or '\\"', value) + '"'

    return (
        f"{parts['ip']} {parts['ident']} {parts['user']} [{parts['time']}] "
        f"{quoted(parts['request'])} {parts['status']} {parts['size']} "
        f"{quoted(parts['referer'])} {quoted(parts['ua'])}"
    )


_BARE_QUOTE = re.compile(r'(\\.)|"')
"""An escape pair (kept as it is) or a quote that nothing escapes (to be escaped)."""


def _merge_in_order(
    frame: pd.DataFrame, rows: np.ndarray, extra: pd.DataFrame, extra_rows: np.ndarray
) -> pd.DataFrame:
    order = np.argsort(np.concatenate([rows, extra_rows]), kind="stable")
    merged = pd.concat([frame, extra], ignore_index=True)
    return merged.iloc[order].reset_index(drop=True)


def render_combined(events: pd.DataFrame) -> pd.Series:
    r"""Render canonical events as nginx combined log lines, one per event.

    ``$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    "$http_referer" "$http_user_agent"``, with ``time_local`` in UTC (``+0000``), the
    username as ``remote_user`` when present (else ``-``), the query appended to the path
    with ``?``, protocol ``HTTP/1.1`` unless a ``protocol`` column says otherwise, and
    ``"`` and ``\`` in quoted fields escaped as ``\"`` and ``\\``. Control characters
    are written as ``\xhh``, as nginx does.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events (at least ``ts``, ``client_ip``, ``method``, ``path``,
        ``status``; other columns are used when present).

    Returns
    -------
    pandas.Series
        One string per event (no newline), aligned with ``events``' index.
    """
    n = len(events)
    time_local = _time_local(events["ts"])
    target = _field(events, "path", "/", n)
    query = _field(events, "query", "", n)
    with_query = pc.binary_join_element_wise(_text("?"), query, _text(""))
    target = pc.binary_join_element_wise(
        target, pc.if_else(pc.equal(query, ""), _text(""), with_query), _text("")
    )
    user = pc.replace_substring(_field(events, "username", "-", n), " ", "\\x20")
    parts = [
        _field(events, "client_ip", "-", n, escape=False),
        " - ",
        user,
        " [",
        time_local,
        '] "',
        pc.utf8_upper(_field(events, "method", "GET", n)),
        " ",
        target,
        " ",
        _field(events, "protocol", "HTTP/1.1", n),
        '" ',
        _integers(events, "status", n),
        " ",
        _integers(events, "resp_bytes", n),
        ' "',
        _field(events, "referer", "-", n),
        '" "',
        _field(events, "user_agent", "-", n),
        '"',
    ]
    lines = pc.binary_join_element_wise(
        *[_text(p) if isinstance(p, str) else p for p in parts], _text("")
    )
    rendered = lines.to_pandas(types_mapper={pa.large_string(): STRING_DTYPE}.get)
    return pd.Series(rendered.array, index=events.index, name="line")


def _field(
    events: pd.DataFrame, name: str, default: str, n: int, *, escape: bool = True
) -> pa.Array:
    """Return a text column as Arrow, nulls and empty strings as ``default``, escaped."""
    if name not in events.columns:
        return pa.array([default] * n, type=pa.large_string())
    values = events[name]
    if values.dtype != STRING_DTYPE:
        values = values.astype(object).where(values.notna(), None).astype(STRING_DTYPE)
    array = pa.array(values.array, type=pa.large_string(), from_pandas=True)
    encoded = pc.dictionary_encode(array)  # escape each distinct value once
    distinct = encoded.dictionary
    distinct = pc.if_else(pc.equal(distinct, ""), _text(default), distinct)
    if escape:
        distinct = _escaped(distinct)
    return pc.fill_null(pc.take(distinct, encoded.indices), _text(default))


def _integers(events: pd.DataFrame, name: str, n: int) -> pa.Array:
    if name not in events.columns:
        return pa.array(["0"] * n, type=pa.large_string())
    values = events[name].fillna(0).astype("int64").to_numpy()
    return pa.array(values).cast(pa.large_string())


def _time_local(ts: pd.Series) -> pa.Array:
    """Format times as ``dd/Mon/yyyy:HH:MM:SS +0000`` in UTC (whole seconds, floored)."""
    naive = pd.to_datetime(ts, utc=True).dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    seconds = np.floor_divide(naive.view("int64"), 1_000_000_000)
    data = scan.format_time_local(seconds, scan.MONTH_NAMES)
    offsets = np.arange(len(seconds) + 1, dtype=np.int64) * scan.TIME_LOCAL_WIDTH
    return pa.Array.from_buffers(
        pa.large_string(), len(seconds), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, type=pa.large_string())


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _quote_text(value: str) -> str:
    text = value.replace("\\", "\\\\").replace('"', '\\"')
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02X}", text)
    return text


def _escaped(array: pa.Array) -> pa.Array:
    r"""Escape text for a quoted log field (``\\``, ``"``, control characters as ``\\xHH``)."""
    if pc.any(pc.match_substring_regex(array, r"[\x00-\x1f\x7f]")).as_py():
        return pa.array([_quote_text(v) for v in array.to_pylist()], type=pa.large_string())
    array = pc.replace_substring(array, "\\", "\\\\")
    return pc.replace_substring(array, '"', '\\"')
