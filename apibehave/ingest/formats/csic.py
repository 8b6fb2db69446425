"""Raw HTTP request dumps in the CSIC 2010 layout.

The input is a sequence of HTTP/1.1 requests as sent on the wire (CRLF or LF line ends)::

    POST http://localhost:8080/tienda1/publico/anadir.jsp HTTP/1.1
    User-Agent: Mozilla/5.0 (compatible; Konqueror/3.5; Linux) KHTML/3.5.8 (like Gecko)
    Host: localhost:8080
    Cookie: JSESSIONID=933185092E0B668B90676E0A2B0767AF
    Content-Type: application/x-www-form-urlencoded
    Content-Length: 68
    <blank line>
    id=3&nombre=Vino+Rioja&precio=100&cantidad=55&B1=A%F1adir+al+carrito
    <blank line>

A request line, header lines up to a blank line, then, when ``Content-Length`` is
positive, the body on the following line(s) up to the next blank line or request line.
Blank lines between requests carry nothing.

Mapping: ``method``, ``path``, ``query`` (and ``host`` for absolute targets) from the
request line; ``host`` from the ``Host`` header when present; ``user_agent``; ``cookie``
is the ``JSESSIONID`` value (else the first cookie); ``token``/``api_key``/``username``
by the usual headers (``Authorization: Bearer``, ``X-API-Key`` or ``api_key`` query
parameter, ``X-Username``); ``body``; ``req_bytes`` from ``Content-Length``, else the
body's length in bytes; the extra column ``headers`` holds all headers as a JSON object
and ``protocol`` the HTTP version.

CSIC has neither times nor client addresses nor responses. Convention:

* ``ts``: a synthetic clock, request ``k`` (0-based, in file order, counting every
  request line) at ``start + k * step_s`` seconds, by default
  :data:`apibehave.ingest.timeparse.SYNTHETIC_START` (2010-01-01T00:00:00Z) and one
  request per second;
* ``client_ip``: the placeholder :data:`CSIC_CLIENT_IP` (``192.0.2.1``, a documentation
  address, RFC 5737) for every request;
* ``status``: 0 (no response seen).

A line outside any request that is not a request line, or a request with a malformed
header line, is rejected with its line number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import pandas as pd

from apibehave.ingest.chunks import Chunk, Rejection
from apibehave.ingest.frames import events_from_records
from apibehave.ingest.lines import DEFAULT_BLOCK_BYTES, iter_line_blocks, split_lines
from apibehave.ingest.timeparse import SYNTHETIC_START
from apibehave.schema.http_identifiers import (
    bearer_token,
    cookie_value,
    query_parameter,
    split_target,
)

CSIC_CLIENT_IP = "192.0.2.1"
"""Placeholder client address for inputs without one (RFC 5737 documentation range)."""

RECORDS_PER_CHUNK = 20_000

_REQUEST_LINE = re.compile(r"^([A-Za-z][A-Za-z-]{0,31}) (\S+)(?: (HTTP/\d+(?:\.\d+)?))?$")
_HEADER_LINE = re.compile(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$")


@dataclass
class _Request:
    line: int
    ordinal: int
    raw: str
    method: str
    target: str
    protocol: str | None
    headers: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    body_lines: list[str] = field(default_factory=list)
    problem: str | None = None
    in_body: bool = False

    @property
    def content_length(self) -> int:
        value = self.headers.get("content-length", "").strip()
        return int(value) if value.isdigit() else 0


def read_csic(
    stream: BinaryIO,
    *,
    start: pd.Timestamp = SYNTHETIC_START,
    step_s: float = 1.0,
    client_ip: str = CSIC_CLIENT_IP,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Iterator[Chunk]:
    """Read CSIC 2010 style raw HTTP requests into events.

    Parameters
    ----------
    stream : binary file
        The (decompressed) dump.
    start : pandas.Timestamp
        Time of the first request on the synthetic clock.
    step_s : float
        Seconds between consecutive requests on the synthetic clock.
    client_ip : str
        Address given to every request.
    block_bytes : int
        About how many bytes to read at a time.

    Yields
    ------
    Chunk
        Events and rejections of about :data:`RECORDS_PER_CHUNK` requests.
    """
    parser = _CsicParser(pd.Timestamp(start).value, round(step_s * 1e9), client_ip)
    for first_line, block in iter_line_blocks(stream, block_bytes):
        for offset, raw in enumerate(split_lines(block)):
            parser.feed(first_line + offset, raw.decode("utf-8", "replace"))
            if len(parser.events) + len(parser.rejections) >= RECORDS_PER_CHUNK:
                yield parser.flush()
    parser.finish()
    yield parser.flush()


class _CsicParser:
    """Line-by-line state machine: between requests, in headers, in a body."""

    def __init__(self, start_ns: int, step_ns: int, client_ip: str) -> None:
        self.start_ns = start_ns
        self.step_ns = step_ns
        self.client_ip = client_ip
        self.current: _Request | None = None
        self.ordinal = 0
        self.events: list[dict[str, object]] = []
        self.rejections: list[Rejection] = []
        self.lines = 0
        self.blank = 0
        self.merged = 0

    def feed(self, number: int, text: str) -> None:
        """Take the next line (without its line end)."""
        self.lines += 1
        blank = not text.strip()
        match = None if blank else _REQUEST_LINE.match(text)
        if self.current is not None and match is not None:
            self._complete()  # a request that ended without its blank line
        request = self.current
        if request is None:
            if blank:
                self.blank += 1
            elif match is not None:
                self.current = _Request(
                    number, self.ordinal, text, match.group(1), match.group(2), match.group(3)
                )
                self.ordinal += 1
            else:
                reason = "not an HTTP request line (METHOD TARGET HTTP/x)"
                self.rejections.append(Rejection.of(number, reason, text))
            return
        self.merged += 1
        if not request.in_body:
            if blank:
                request.in_body = True
                if request.content_length == 0:
                    self._complete()
                return
            header = _HEADER_LINE.match(text)
            if header is None:
                request.problem = request.problem or f"malformed header line {number}"
            else:
                name = header.group(1)
                request.names.setdefault(name.lower(), name)
                request.headers.setdefault(name.lower(), header.group(2).strip())
            return
        if blank:
            self._complete()
            return
        request.body_lines.append(text)
        if len("\r\n".join(request.body_lines).encode("utf-8")) >= request.content_length:
            self._complete()

    def _complete(self) -> None:
        request = self.current
        self.current = None
        if request is None:
            return
        if request.problem is not None:
            self.rejections.append(Rejection.of(request.line, request.problem, request.raw))
            return
        self.events.append(self._event(request))

    def _event(self, request: _Request) -> dict[str, object]:
        headers = request.headers
        url_host, path, query = split_target(request.target)
        body = "\r\n".join(request.body_lines) if request.body_lines else None
        length = headers.get("content-length", "")
        if length.isdigit():
            req_bytes = int(length)
        else:
            req_bytes = len(body.encode("utf-8")) if body is not None else 0
        cookies = headers.get("cookie")
        return {
            "ts": self.start_ns + request.ordinal * self.step_ns,
            "client_ip": self.client_ip,
            "method": request.method.upper(),
            "path": path,
            "status": 0,
            "host": headers.get("host") or url_host,
            "query": query,
            "req_bytes": req_bytes,
            "user_agent": headers.get("user-agent"),
            "token": bearer_token(headers.get("authorization")),
            "cookie": cookie_value(cookies, "JSESSIONID") or cookie_value(cookies),
            "api_key": headers.get("x-api-key") or query_parameter(query, "api_key"),
            "username": headers.get("x-username"),
            "body": body,
            "protocol": request.protocol,
            "headers": json.dumps({request.names[k]: v for k, v in headers.items()}),
        }

    def finish(self) -> None:
        """Complete the request still open at the end of the input."""
        self._complete()

    def flush(self) -> Chunk:
        """Return what was read since the last flush (requests still open stay)."""
        chunk = Chunk(
            events=events_from_records(self.events, source="CSIC requests"),
            rejections=sorted(self.rejections, key=lambda r: r.line),
            lines=self.lines,
            blank=self.blank,
            merged=self.merged,
        )
        self.events, self.rejections = [], []
        self.lines = self.blank = self.merged = 0
        return chunk
