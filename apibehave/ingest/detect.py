"""Tell an input's format from its first lines (``--format auto``).

Rules, in order, on the decompressed head of the file (gzip is recognised by its magic
bytes, never by the name):

1. ``PAR1`` magic: ``parquet``.
2. The first non-blank line is a JSON object: ``ase-sideband`` when the objects carry
   sideband keys (``source_ip``, ``url`` with a ``headers`` list, ``response_code``),
   ``jsonl`` when they carry the contract's ``ts`` and ``client_ip``, ``nginx-json`` when
   they carry nginx variables (``remote_addr``, ``time_iso8601``, ``request_uri``...).
3. The first non-blank line is an HTTP request line (``GET http://... HTTP/1.1``) followed
   by header lines: ``csic``.
4. Most of the first lines read as combined log lines: ``combined``.
5. A comma-separated header naming the contract's required columns: ``csv``.

Anything else is refused with a request to name the format.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from apibehave.common.errors import UserError
from apibehave.ingest.source import read_head
from apibehave.schema import REQUIRED_COLUMNS

SNIFF_LINES = 20
_REQUEST_LINE = re.compile(rb"^[A-Z]{3,10} \S+ HTTP/\d(\.\d)?\r?$")
_HEADER_LINE = re.compile(rb"^[A-Za-z0-9-]+: ")
_SIDEBAND_KEYS = {"source_ip", "response_code", "response_status", "http_version"}
_NGINX_KEYS = {
    "remote_addr",
    "time_iso8601",
    "time_local",
    "msec",
    "request",
    "request_uri",
    "request_method",
    "body_bytes_sent",
    "http_user_agent",
}


def detect_format(path: Path) -> str:
    """Return the format name of ``path`` (see the module docstring for the rules).

    Raises
    ------
    UserError
        When no rule fits.
    """
    with path.open("rb") as stream:
        if stream.read(4) == b"PAR1":
            return "parquet"
    head = read_head(path)
    lines = [line for line in head.split(b"\n")[:-1] or head.split(b"\n") if line.strip()]
    lines = lines[:SNIFF_LINES]
    if not lines:
        raise UserError(f"{path}: is empty; nothing to ingest")
    first = lines[0].lstrip()
    if first.startswith(b"{"):
        return _json_kind(path, lines)
    if _REQUEST_LINE.match(first) and len(lines) > 1 and _HEADER_LINE.match(lines[1]):
        return "csic"
    if _mostly_combined(lines):
        return "combined"
    header = first.decode("utf-8", "replace").strip().lstrip("\ufeff").split(",")
    if set(REQUIRED_COLUMNS) <= {h.strip().strip('"') for h in header}:
        return "csv"
    raise UserError(
        f"{path}: cannot tell the format from its first lines; pass --format "
        "(combined, nginx-json, ase-sideband, csic, csv, jsonl, parquet)"
    )


def _json_kind(path: Path, lines: list[bytes]) -> str:
    keys: set[str] = set()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            keys |= set(record)
            if isinstance(record.get("headers"), list) and "url" in record:
                return "ase-sideband"
    if keys & _SIDEBAND_KEYS:
        return "ase-sideband"
    if {"ts", "client_ip"} <= keys:
        return "jsonl"
    if keys & _NGINX_KEYS:
        return "nginx-json"
    raise UserError(
        f"{path}: JSON lines of an unknown kind; pass --format (nginx-json, ase-sideband, jsonl)"
    )


def _mostly_combined(lines: list[bytes]) -> bool:
    from apibehave.ingest.formats.combined import parse_combined_block

    chunk = parse_combined_block(b"\n".join(lines) + b"\n")
    return len(chunk.events) * 2 > len(lines)
