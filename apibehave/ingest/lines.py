"""Cut a byte stream into blocks of whole lines, keeping count of line numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

DEFAULT_BLOCK_BYTES = 8 << 20
"""Bytes read at a time; a block holds roughly 30-60k access-log lines."""

MAX_LINE_BYTES = 64 << 20
"""A line longer than this is cut into pieces of this size, each read as a line of its
own (and, in practice, rejected), so one endless line cannot exhaust memory."""


def iter_line_blocks(
    stream: BinaryIO, block_bytes: int = DEFAULT_BLOCK_BYTES, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes]]:
    """Yield blocks of whole lines with the 1-based number of each block's first line.

    Every block but possibly the last ends with a newline. A line longer than
    ``block_bytes`` is carried over until its newline arrives, so a block always holds
    at least one whole line; past :data:`MAX_LINE_BYTES` the line is cut and the piece
    yielded as a line.

    Parameters
    ----------
    stream : binary file
        The (decompressed) input.
    block_bytes : int
        About how many bytes to read per block.
    max_line_bytes : int
        Longest line kept whole.

    Yields
    ------
    tuple of (int, bytes)
        First line number and the block.
    """
    line_number = 1
    carry = b""
    while True:
        data = stream.read(block_bytes)
        if not data:
            break
        if carry:
            data = carry + data
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            if len(carry) >= max_line_bytes:
                yield line_number, carry + b"\n"
                line_number += 1
                carry = b""
            continue
        block, carry = data[: cut + 1], data[cut + 1 :]
        yield line_number, block
        line_number += block.count(b"\n")
    if carry:
        yield line_number, carry


def split_lines(block: bytes) -> list[bytes]:
    """Split a block into its lines, without newline and trailing carriage return."""
    lines = block.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def as_utf8(block: bytes) -> bytes:
    """Return ``block`` if it is valid UTF-8, else a copy with bad bytes replaced (U+FFFD)."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return block.decode("utf-8", "replace").encode("utf-8")
    return block
