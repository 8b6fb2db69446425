"""Responses of ``auth_request`` calls, from nginx's access log sent over syslog (UDP).

``auth_request`` asks the enforcer before the upstream answers, so the response has to
come another way: nginx writes one JSON access-log line per request to
``syslog:server=127.0.0.1:<log_udp_port>`` and this listener pairs each line with the
``/auth`` call of the same ``request_id`` (nginx ``$request_id``, which the auth
subrequest sends as ``X-Request-ID``). A line needs ``request_id`` and ``status``;
``body_bytes_sent`` gives the response size and ``request_time`` (seconds) the latency.
Lines whose request is not pending (already expired, or not decided here) are counted
and ignored. Example ``log_format``: see ``docs/enforce.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

MAX_DATAGRAM = 64 * 1024


class AccessLogProtocol(asyncio.DatagramProtocol):
    """Reads syslog datagrams that end in one JSON object (nginx ``escape=json`` format).

    Parameters
    ----------
    enforcer : Enforcer
        Whose pending ``/auth`` calls the lines answer.
    """

    def __init__(self, enforcer: Any) -> None:
        self.enforcer = enforcer

    def datagram_received(self, data: bytes, addr: Any) -> None:
        """Pair one access-log line with its pending call."""
        fields = parse_access_line(data)
        metrics = self.enforcer.metrics
        if fields is None:
            metrics.count("access_log_lines", "unreadable")
            return
        correlation, status, size, latency_ms = fields
        paired = self.enforcer.on_response(correlation, status, size, latency_ms=latency_ms)
        metrics.count("access_log_lines", "paired" if paired else "unpaired")


def parse_access_line(data: bytes) -> tuple[str, int, int, float | None] | None:
    """Return ``(request_id, status, body_bytes_sent, latency_ms)`` of one line, else None."""
    if len(data) > MAX_DATAGRAM:
        return None
    start = data.find(b"{")
    if start < 0:
        return None
    try:
        record = json.loads(data[start:])
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    correlation = record.get("request_id")
    status = str(record.get("status", ""))
    if not isinstance(correlation, str) or not correlation or not status.isdigit():
        return None
    size = str(record.get("body_bytes_sent", "0"))
    latency = None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        latency = float(record["request_time"]) * 1000.0
    return correlation, int(status), int(size) if size.isdigit() else 0, latency


async def start_access_log_listener(enforcer: Any, host: str, port: int) -> asyncio.BaseTransport:
    """Listen for access-log datagrams on ``host:port``; return the transport (close it)."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: AccessLogProtocol(enforcer), local_addr=(host, port)
    )
    return transport
