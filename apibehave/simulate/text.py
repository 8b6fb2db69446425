"""Vectorised string columns: Arrow arrays built from vocabularies, integers and joins.

Every string column of a generated batch is a ``pyarrow.StringArray``; none is built
one event at a time in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

StrParts = pa.Array | str


def const(value: str | None, n: int) -> pa.Array:
    """Return ``n`` copies of one string (or ``n`` nulls for None)."""
    if value is None:
        return pa.nulls(n, pa.string())
    return pa.repeat(pa.scalar(value, pa.string()), n)


def nulls(n: int) -> pa.Array:
    """Return ``n`` null strings."""
    return pa.nulls(n, pa.string())


def pick(vocabulary: Sequence[str | None] | pa.Array, codes: np.ndarray) -> pa.Array:
    """Return ``vocabulary[codes]``; a negative code gives null."""
    vocab = (
        vocabulary
        if isinstance(vocabulary, pa.Array)
        else pa.array(list(vocabulary), type=pa.string())
    )
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    if missing.any():
        indices = pa.array(np.where(missing, 0, codes), mask=missing)
    else:
        indices = pa.array(codes)
    return vocab.take(indices)


def ints(values: np.ndarray) -> pa.Array:
    """Return decimal strings of integers."""
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def join(*parts: StrParts) -> pa.Array:
    """Concatenate strings element-wise; a part may be an array or one literal string.

    A null in any array part makes the result null, as in SQL.
    """
    n = next(len(p) for p in parts if isinstance(p, pa.Array))
    arrays = [p if isinstance(p, pa.Array) else const(p, n) for p in parts]
    return pc.binary_join_element_wise(*arrays, "")


def where(mask: np.ndarray, when_true: StrParts, when_false: StrParts) -> pa.Array:
    """Choose element-wise between two string arrays (or literals) by a boolean mask."""
    n = len(mask)
    a = when_true if isinstance(when_true, pa.Array) else const(when_true, n)
    b = when_false if isinstance(when_false, pa.Array) else const(when_false, n)
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), a, b)


def contains(values: pa.Array, needle: str) -> np.ndarray:
    """Return whether each string contains ``needle`` (False for null)."""
    return pc.match_substring(values, needle).fill_null(False).to_numpy(zero_copy_only=False)


def lengths(values: pa.Array) -> np.ndarray:
    """Return the UTF-8 byte length of each string (0 for null)."""
    return pc.binary_length(values).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


_HEX_PAIRS = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


def hex_ids(rng: np.random.Generator, n: int, digits: int = 32) -> pa.Array:
    """Return ``n`` random lower-case hex strings of ``digits`` (even) digits."""
    raw = rng.integers(0, 256, size=(n, digits // 2), dtype=np.uint8)
    data = np.ascontiguousarray(_HEX_PAIRS[raw]).tobytes()
    offsets = (np.arange(n + 1, dtype=np.int32) * digits).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
