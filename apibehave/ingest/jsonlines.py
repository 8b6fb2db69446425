"""Read JSON Lines input block by block, one JSON object per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from apibehave.ingest.chunks import Rejection
from apibehave.ingest.lines import iter_line_blocks

JSON_BLOCK_BYTES = 2 << 20
"""Bytes per block for JSON inputs (each line becomes a Python dict, so keep it small)."""


@dataclass
class JsonBlock:
    """The parsed objects of one block of JSON lines.

    Attributes
    ----------
    records : list of (int, bytes, dict)
        Line number, raw line and parsed object for every line holding a JSON object.
    rejections : list of Rejection
        Lines that are not JSON objects.
    lines, blank : int
        Physical lines in the block, and how many of them are blank.
    """

    records: list[tuple[int, bytes, dict[str, Any]]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    lines: int = 0
    blank: int = 0


def iter_json_blocks(stream: BinaryIO, block_bytes: int = JSON_BLOCK_BYTES) -> Iterator[JsonBlock]:
    """Yield the JSON objects of a JSON Lines stream, a block of lines at a time."""
    for first_line, block in iter_line_blocks(stream, block_bytes):
        lines = block.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        parsed = JsonBlock(lines=len(lines))
        for offset, raw in enumerate(lines):
            line_number = first_line + offset
            if not raw.strip():
                parsed.blank += 1
                continue
            try:
                value = json.loads(raw)
            except ValueError as exc:
                reason = f"not JSON ({getattr(exc, 'msg', 'undecodable text')})"
                parsed.rejections.append(Rejection.of(line_number, reason, raw))
                continue
            if not isinstance(value, dict):
                parsed.rejections.append(Rejection.of(line_number, "not a JSON object", raw))
                continue
            parsed.records.append((line_number, raw, value))
        yield parsed


def text_field(record: dict[str, Any], *names: str) -> str | None:
    """Return the first of ``names`` present in ``record`` as text, skipping empty and ``-``."""
    for name in names:
        value = record.get(name)
        if value is None or isinstance(value, dict | list):
            continue
        text = value if isinstance(value, str) else _number_text(value)
        if text and text != "-":
            return text
    return None


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
