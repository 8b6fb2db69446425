"""Cutting input into blocks of whole lines."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from apibehave.ingest.lines import iter_line_blocks


@given(st.binary(max_size=500), st.integers(1, 64))
def test_blocks_hold_whole_lines_and_number_them(data: bytes, block_bytes: int) -> None:
    """Blocks concatenate to the input, end on newlines, and carry the right line numbers."""
    blocks = list(iter_line_blocks(io.BytesIO(data), block_bytes))
    assert b"".join(block for _, block in blocks) == data
    expected_line = 1
    for number, block in blocks[:-1]:
        assert block.endswith(b"\n")
        assert number == expected_line
        expected_line += block.count(b"\n")


def test_an_endless_line_is_cut_to_bound_memory() -> None:
    """A line longer than the cap comes out in capped pieces, each taken as a line."""
    blocks = list(iter_line_blocks(io.BytesIO(b"x" * 100), block_bytes=8, max_line_bytes=30))
    assert all(len(block) <= 40 for _, block in blocks)
    assert b"".join(block for _, block in blocks).replace(b"\n", b"") == b"x" * 100
    assert [n for n, _ in blocks] == list(range(1, len(blocks) + 1))
