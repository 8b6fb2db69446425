"""nginx JSON access logs (``log_format name escape=json '{...}'``), one object per line.

Field names are nginx variable names without ``$``; the first present, non-empty value
that is not ``-`` wins:

==================  ===========================================================
event column        nginx fields, in order of preference
==================  ===========================================================
``ts``              ``time_iso8601``, ``msec`` (epoch seconds), ``time_local``,
                    ``timestamp``, ``ts``, ``@timestamp``, ``time``
``client_ip``       first hop of ``http_x_forwarded_for``, else ``remote_addr``
                    (the direct peer is kept as the extra column ``peer_ip``)
``method``          ``request_method``, else the first word of ``request``
``path``, ``query`` ``request_uri``, else ``uri`` + ``args``/``query_string``, else
                    the target of ``request`` (absolute targets also give the host)
``status``          ``status`` (a record without it is rejected)
``host``            ``http_host``, ``host``, ``server_name``
``req_bytes``       ``http_content_length``, ``content_length``, else
                    ``request_length`` (which also counts the request line and headers)
``resp_bytes``      ``body_bytes_sent``, else ``bytes_sent``
``latency_ms``      ``request_time`` (s), else ``upstream_response_time`` (s, summed
                    over the comma-separated attempts), times 1000
``user_agent``      ``http_user_agent``
``token``           ``http_authorization`` with the Bearer scheme
``cookie``          first cookie value of ``http_cookie``
``api_key``         ``http_x_api_key``, else the ``api_key`` query parameter
``username``        ``remote_user``, else ``http_x_username``
``body``            ``request_body``
``correlation_id``  ``http_x_correlationid``, else ``request_id``
extra ``referer``   ``http_referer``
extra ``protocol``  ``server_protocol``, else the protocol of ``request``
==================  ===========================================================

A line that is not a JSON object, or lacks a time, an address, a method and path, or a
valid status, is rejected with its line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from apibehave.ingest.chunks import Chunk, Rejection
from apibehave.ingest.frames import events_from_records
from apibehave.ingest.jsonlines import JSON_BLOCK_BYTES, iter_json_blocks, text_field
from apibehave.ingest.timeparse import parse_time
from apibehave.schema.http_identifiers import (
    bearer_token,
    cookie_value,
    first_forwarded_hop,
    query_parameter,
    split_target,
)

TIME_FIELDS = ("time_iso8601", "msec", "time_local", "timestamp", "ts", "@timestamp", "time")


def read_nginx_json(stream: BinaryIO, *, block_bytes: int = JSON_BLOCK_BYTES) -> Iterator[Chunk]:
    """Read an nginx JSON access log block by block.

    Parameters
    ----------
    stream : binary file
        The (decompressed) log.
    block_bytes : int
        About how many bytes to parse at a time.

    Yields
    ------
    Chunk
        Events and rejections of one block of lines.
    """
    for block in iter_json_blocks(stream, block_bytes):
        events: list[dict[str, object]] = []
        rejections = list(block.rejections)
        for line_number, raw, record in block.records:
            event = event_from_nginx_record(record)
            if isinstance(event, str):
                rejections.append(Rejection.of(line_number, event, raw))
            else:
                events.append(event)
        rejections.sort(key=lambda r: r.line)
        yield Chunk(
            events=events_from_records(events, source="nginx JSON log"),
            rejections=rejections,
            lines=block.lines,
            blank=block.blank,
        )


def event_from_nginx_record(record: dict[str, Any]) -> dict[str, object] | str:
    """Map one nginx JSON record to an event dict (``ts`` in epoch ns), or a reject reason."""
    ts = None
    for name in TIME_FIELDS:
        if record.get(name) not in (None, "", "-"):
            ts = parse_time(record[name])
            break
    if ts is None:
        return "no valid time (time_iso8601, msec or time_local)"
    peer = text_field(record, "remote_addr")
    client_ip = first_forwarded_hop(text_field(record, "http_x_forwarded_for")) or peer
    if client_ip is None:
        return "no client address (remote_addr)"
    method, target, protocol = _request_parts(record)
    if method is None or target is None:
        return "no method and target (request_method + request_uri, or request)"
    host, path, query = split_target(target)
    status_text = text_field(record, "status")
    if status_text is None or not status_text.isdigit() or int(status_text) > 999:
        return "no valid status"
    authorization = text_field(record, "http_authorization")
    return {
        "ts": ts,
        "client_ip": client_ip,
        "method": method.upper(),
        "path": path,
        "status": int(status_text),
        "host": text_field(record, "http_host", "host", "server_name") or host,
        "query": query,
        "req_bytes": _count(record, "http_content_length", "content_length", "request_length"),
        "resp_bytes": _count(record, "body_bytes_sent", "bytes_sent"),
        "latency_ms": _latency_ms(record),
        "user_agent": text_field(record, "http_user_agent"),
        "token": bearer_token(authorization),
        "cookie": cookie_value(text_field(record, "http_cookie")),
        "api_key": text_field(record, "http_x_api_key") or query_parameter(query, "api_key"),
        "username": text_field(record, "remote_user", "http_x_username"),
        "body": text_field(record, "request_body"),
        "correlation_id": text_field(record, "http_x_correlationid", "request_id"),
        "referer": text_field(record, "http_referer"),
        "protocol": text_field(record, "server_protocol") or protocol,
        "peer_ip": peer,
    }


def _request_parts(record: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    method = text_field(record, "request_method")
    target = text_field(record, "request_uri")
    if target is None:
        uri = text_field(record, "uri")
        if uri is not None:
            args = text_field(record, "args", "query_string")
            target = f"{uri}?{args}" if args else uri
    protocol = None
    request = text_field(record, "request")
    if request is not None:
        words = request.split()
        if len(words) >= 2 and words[0].isalpha():
            if words[-1].startswith("HTTP/") and len(words) >= 3:
                protocol = words[-1]
                words = words[:-1]
            method = method or words[0]
            target = target or " ".join(words[1:])
    return method, target, protocol


def _count(record: dict[str, Any], *names: str) -> int:
    text = text_field(record, *names)
    return int(text) if text is not None and text.isdigit() else 0


def _latency_ms(record: dict[str, Any]) -> float | None:
    text = text_field(record, "request_time", "upstream_response_time")
    if text is None:
        return None
    total = 0.0
    for part in text.replace(":", ",").split(","):
        try:
            total += float(part.strip())
        except ValueError:
            continue
    return total * 1000.0
