"""PingIntelligence-style ASE sideband records, one JSON object per line.

A gateway's sideband policy sends ASE one record per request and one per response; this
reader pairs them into events. Accepted layout (names as in the ASE sideband API):

Request record (it has ``method`` and ``url``)::

    {"source_ip": "10.1.2.3", "source_port": 51234, "method": "GET",
     "url": "/shop/items?page=2", "http_version": "1.1",
     "headers": [{"host": "shop.example"}, {"authorization": "Bearer t0k"},
                 {"x-correlationid": "c-1"}],
     "user_info": [{"username": "ann", "client_id": "app"}],
     "timestamp": "2024-05-01T10:00:00Z"}

Response record (it has ``response_code``)::

    {"response_code": "200", "response_status": "OK", "http_version": "1.1",
     "headers": [{"content-length": "512"}, {"x-correlationid": "c-1"}],
     "timestamp": 1714557600.045}

* ``headers`` is a list of one-key objects (a plain object is accepted too); names are
  matched case-insensitively.
* The correlation id is the ``X-CorrelationID`` header, else a top-level
  ``correlation_id``. A response pairs with the oldest unanswered request of the same id.
* Time: an optional top-level ``timestamp``, ``ts``, ``@timestamp`` or ``time`` (ISO-8601
  or epoch seconds). A request without one gets the synthetic clock
  (:data:`apibehave.ingest.timeparse.SYNTHETIC_START` + its line number - 1, in seconds).
* ``client_ip``: the first ``X-Forwarded-For`` hop, else ``source_ip`` (the peer is kept as
  the extra column ``peer_ip``; ``source_port`` is kept as an extra column).
* ``url`` gives path and query (an absolute URL also gives the host); ``host`` header
  gives the host; ``http_version`` the extra column ``protocol`` (``HTTP/1.1``).
* token from ``Authorization: Bearer``; API key from ``X-API-Key``, else the ``api_key``
  query parameter; cookie: the first cookie value of ``Cookie``; username from
  ``user_info`` (a list of objects or one object; its ``username`` or ``user``), else
  ``X-Username``; ``req_bytes`` from the request's ``Content-Length``; ``body`` from a
  top-level ``body`` or ``payload`` string when the gateway sends one.
* From the response: ``status`` = ``response_code``, ``resp_bytes`` = its
  ``Content-Length``, and ``latency_ms`` = response time - request time when both have
  real times.

Events come out in request order. A request still unanswered after
:data:`PAIRING_WINDOW` further records, or at the end of the input, gets status 0 (no
response seen). A response whose request is not pending is rejected with a reason; a
paired response line is counted as merged into its request's event.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import Any, BinaryIO

from apibehave.ingest.chunks import Chunk, Rejection
from apibehave.ingest.frames import events_from_records
from apibehave.ingest.jsonlines import JSON_BLOCK_BYTES, iter_json_blocks, text_field
from apibehave.ingest.timeparse import SYNTHETIC_START, TIME_FIELDS, parse_time
from apibehave.schema.http_identifiers import (
    bearer_token,
    cookie_value,
    first_forwarded_hop,
    query_parameter,
    split_target,
)

PAIRING_WINDOW = 100_000
"""Records after which an unanswered request is written with status 0."""

_SYNTHETIC_START_NS = SYNTHETIC_START.value
_SECOND_NS = 1_000_000_000


def read_ase_sideband(
    stream: BinaryIO,
    *,
    pairing_window: int = PAIRING_WINDOW,
    block_bytes: int = JSON_BLOCK_BYTES,
) -> Iterator[Chunk]:
    """Read sideband request and response records and pair them into events.

    Parameters
    ----------
    stream : binary file
        The (decompressed) records, one JSON object per line.
    pairing_window : int
        How many records a request waits for its response before it is written with
        status 0; bounds memory.
    block_bytes : int
        About how many bytes to parse at a time.

    Yields
    ------
    Chunk
        Events completed so far (in request order) and the rejections of each block.
    """
    pairer = _Pairer(pairing_window)
    for block in iter_json_blocks(stream, block_bytes):
        rejections = list(block.rejections)
        merged = 0
        for line_number, raw, record in block.records:
            outcome = pairer.add(line_number, record)
            if outcome == "merged":
                merged += 1
            elif outcome is not None:
                rejections.append(Rejection.of(line_number, outcome, raw))
        rejections.sort(key=lambda r: r.line)
        ready = pairer.pop_ready(block.records[-1][0] if block.records else 0)
        yield Chunk(
            events=events_from_records(ready, source="sideband records"),
            rejections=rejections,
            lines=block.lines,
            blank=block.blank,
            merged=merged,
        )
    rest = pairer.pop_ready(None)
    if rest:
        yield Chunk(events=events_from_records(rest, source="sideband records"))


class _Pairer:
    """Requests waiting for their responses, in request order."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.pending: OrderedDict[int, dict[str, object]] = OrderedDict()
        self.answered: set[int] = set()
        self.by_id: dict[str, deque[int]] = {}
        self.request_ids: dict[int, str] = {}
        self.real_time: dict[int, int] = {}

    def add(self, line: int, record: dict[str, Any]) -> str | None:
        """Take one record; return None, ``"merged"`` or a rejection reason."""
        headers = _headers(record)
        if record.get("response_code") is not None and "method" not in record:
            return self._add_response(record, headers)
        if "method" in record or "url" in record:
            return self._add_request(line, record, headers)
        return "neither a request (method, url) nor a response (response_code) record"

    def _add_request(
        self, line: int, record: dict[str, Any], headers: dict[str, str]
    ) -> str | None:
        event = _request_event(line, record, headers)
        if isinstance(event, str):
            return event
        self.pending[line] = event
        real = _record_time(record)
        if real is not None:
            self.real_time[line] = real
        correlation = event.get("correlation_id")
        if isinstance(correlation, str):
            self.by_id.setdefault(correlation, deque()).append(line)
            self.request_ids[line] = correlation
        else:
            self.answered.add(line)
        return None

    def _add_response(self, record: dict[str, Any], headers: dict[str, str]) -> str | None:
        correlation = headers.get("x-correlationid") or text_field(record, "correlation_id")
        if correlation is None:
            return "response without a correlation id (X-CorrelationID)"
        waiting = self.by_id.get(correlation)
        if not waiting:
            return f"response with no pending request for correlation id {correlation}"
        code = text_field(record, "response_code")
        if code is None or not code.isdigit() or int(code) > 999:
            return "response with an invalid response_code"
        line = waiting.popleft()
        if not waiting:
            del self.by_id[correlation]
        del self.request_ids[line]
        event = self.pending[line]
        event["status"] = int(code)
        length = headers.get("content-length", "")
        event["resp_bytes"] = int(length) if length.isdigit() else 0
        sent = self.real_time.pop(line, None)
        answered = _record_time(record)
        if sent is not None and answered is not None:
            event["latency_ms"] = max(answered - sent, 0) / 1e6
        self.answered.add(line)
        return "merged"

    def pop_ready(self, last_line: int | None) -> list[dict[str, object]]:
        """Remove and return leading requests that are answered or waited long enough."""
        ready: list[dict[str, object]] = []
        while self.pending:
            line = next(iter(self.pending))
            expired = last_line is None or last_line - line >= self.window
            if line not in self.answered and not expired:
                break
            event = self.pending.pop(line)
            self.answered.discard(line)
            self.real_time.pop(line, None)
            correlation = self.request_ids.pop(line, None)
            if correlation is not None:
                waiting = self.by_id.get(correlation)
                if waiting:
                    waiting.remove(line)
                    if not waiting:
                        del self.by_id[correlation]
            ready.append(event)
        return ready


def _headers(record: dict[str, Any]) -> dict[str, str]:
    raw = record.get("headers")
    items: list[tuple[Any, Any]] = []
    if isinstance(raw, list):
        for entry in raw:
            if isinstance(entry, dict):
                items.extend(entry.items())
    elif isinstance(raw, dict):
        items.extend(raw.items())
    headers: dict[str, str] = {}
    for name, value in items:
        if isinstance(name, str) and isinstance(value, str | int | float):
            headers.setdefault(name.lower(), str(value))
    return headers


def _record_time(record: dict[str, Any]) -> int | None:
    for name in TIME_FIELDS:
        if record.get(name) not in (None, ""):
            return parse_time(record[name])
    return None


def _request_event(
    line: int, record: dict[str, Any], headers: dict[str, str]
) -> dict[str, object] | str:
    method = text_field(record, "method")
    url = text_field(record, "url")
    if method is None or url is None or not method.replace("-", "").isalpha():
        return "request without a valid method and url"
    peer = text_field(record, "source_ip")
    client_ip = first_forwarded_hop(headers.get("x-forwarded-for")) or peer
    if client_ip is None:
        return "request without source_ip"
    has_time = any(record.get(name) not in (None, "") for name in TIME_FIELDS)
    ts = _record_time(record)
    if has_time and ts is None:
        return "request with an unreadable time"
    if ts is None:
        ts = _SYNTHETIC_START_NS + (line - 1) * _SECOND_NS
    host, path, query = split_target(url)
    version = text_field(record, "http_version")
    length = headers.get("content-length", "")
    body = record.get("body", record.get("payload"))
    return {
        "ts": ts,
        "client_ip": client_ip,
        "method": method.upper(),
        "path": path,
        "status": 0,
        "host": headers.get("host") or host,
        "query": query,
        "req_bytes": int(length) if length.isdigit() else 0,
        "resp_bytes": 0,
        "latency_ms": None,
        "user_agent": headers.get("user-agent"),
        "token": bearer_token(headers.get("authorization")),
        "cookie": cookie_value(headers.get("cookie")),
        "api_key": headers.get("x-api-key") or query_parameter(query, "api_key"),
        "username": _username(record.get("user_info")) or headers.get("x-username"),
        "body": body if isinstance(body, str) else None,
        "correlation_id": headers.get("x-correlationid") or text_field(record, "correlation_id"),
        "protocol": None if version is None else f"HTTP/{version.removeprefix('HTTP/')}",
        "peer_ip": peer,
        "source_port": text_field(record, "source_port"),
    }


def _username(user_info: Any) -> str | None:
    entries = user_info if isinstance(user_info, list) else [user_info]
    for entry in entries:
        if isinstance(entry, dict):
            name = text_field(entry, "username", "user")
            if name is not None:
                return name
    return None
