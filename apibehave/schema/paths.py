"""Path templates: collapse object-id-like segments of URL paths into ``{id}``.

``/v1/accounts/12345/orders/3f2a...`` becomes ``/v1/accounts/{id}/orders/{id}``. Every
segment between slashes is judged on its own, by the rules below, in this order:

1. **Kept as they are**: version segments (``v1``, ``V2``, ``v1.2``, ``v2_1``) and dates
   (``2015``-``2099`` style ``YYYY-MM`` or ``YYYY-MM-DD``, optionally followed by ``T`` and a
   time), whatever else they look like.
2. Only segments with a digit, an ``@``, or a JWT's ``eyJ`` start can be ids. Ordinary
   words never are, and neither is an opaque token made only of letters (rare: about 3 %
   of 20-character base64 tokens, less for longer ones).
3. Such a segment is an id when it is any of:

   - **numeric**: ASCII digits only (``7``, ``000123``; pure-digit dates such as
     ``20240501`` and years included);
   - **UUID**: ``8-4-4-4-12`` hex digits, either case;
   - **hex hash**: 16 or more hex digits (MD5, SHA-1, SHA-256, Mongo-style ids are 24);
   - **email**: ``local@domain.tld``, ``@`` possibly percent-encoded as ``%40``;
   - **JWT**: ``eyJ...`` three dot-separated base64url parts;
   - **opaque token**: 20 or more of ``[A-Za-z0-9_+=-]`` with at least 0.4 class changes
     per character, a change being two neighbouring characters of different classes
     among lower case, upper case and digit (random base64 changes about 0.6 times per
     character; ``getUserAccountSettings2024`` 0.27 times);
   - **code**: 8 or more of ``[A-Za-z0-9_-]`` of which at least half are digits
     (``ORD-2024-000123``, ``AB12345678``).

Segments are compared byte-for-byte, without percent-decoding; the empty segments
around slashes are kept, so a path's shape (leading, trailing and doubled slashes) is
kept too.

:func:`template_path` and :func:`object_id` judge one path (cached); :func:`template_paths`
and :func:`object_ids` judge a whole Series with pyarrow compute kernels over the unique
paths and give exactly the same answers. Real logs repeat paths heavily, so the vectorised
functions work on unique values and map the results back.
"""

from __future__ import annotations

import functools
import itertools
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from apibehave.schema.events import STRING_DTYPE

ID_PLACEHOLDER = "{id}"
"""What an id-like segment becomes in a template."""

# Patterns are written for both Python ``re`` (fullmatch/findall) and RE2 (pyarrow):
# ASCII classes only, no lookaround, no ``\d``/``\s`` (they differ between the two).
_CANDIDATE = r"[0-9@]|^eyJ"
_KEEP = (
    r"[vV][0-9]+(?:[._][0-9]+)*"  # version
    r"|(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12][0-9]|3[01]))?(?:T[0-9:.]*Z?)?"
)
_ID_SHAPES = "|".join(
    (
        r"[0-9]+",
        r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
        r"[0-9A-Fa-f]{16,}",
        r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
        r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
    )
)
_TOKEN_MIN_LENGTH = 20
_TOKEN_CHANGES_PER_CHAR = 0.4
_CODE_MIN_LENGTH = 8
_CODE_DIGIT_SHARE = 0.5
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=")
_CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_CHAR_CLASS = {
    **dict.fromkeys("abcdefghijklmnopqrstuvwxyz", 1),
    **dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 2),
    **dict.fromkeys("0123456789", 3),
}

_CANDIDATE_RE = re.compile(_CANDIDATE)
_KEEP_RE = re.compile(_KEEP)
_ID_SHAPES_RE = re.compile(_ID_SHAPES)


def _anchored(pattern: str) -> str:
    return f"^(?:{pattern})$"


def is_id_segment(segment: str) -> bool:
    """Return whether one path segment (no slashes) looks like an object id.

    Parameters
    ----------
    segment : str
        The text between two slashes.

    Returns
    -------
    bool
        True for numeric ids, UUIDs, hex hashes, emails, JWTs, opaque tokens and
        digit-heavy codes; False for versions, dates and words (see the module notes).
    """
    if not _CANDIDATE_RE.search(segment) or _KEEP_RE.fullmatch(segment):
        return False
    if _ID_SHAPES_RE.fullmatch(segment):
        return True
    return _is_token_or_code(segment)


def _is_token_or_code(segment: str) -> bool:
    """Opaque token (long, class changes) or digit-heavy code; see the module notes."""
    length = len(segment)
    if length >= _TOKEN_MIN_LENGTH and all(c in _TOKEN_CHARS for c in segment):
        classes = [_CHAR_CLASS.get(c, 0) for c in segment]
        changes = sum(1 for x, y in itertools.pairwise(classes) if x and y and x != y)
        if changes >= _TOKEN_CHANGES_PER_CHAR * length:
            return True
    if length >= _CODE_MIN_LENGTH and all(c in _CODE_CHARS for c in segment):
        digits = sum(1 for c in segment if "0" <= c <= "9")
        return digits >= _CODE_DIGIT_SHARE * length
    return False


@functools.lru_cache(maxsize=1 << 16)
def template_path(path: str) -> str:
    """Return the template of one path, with id-like segments replaced by ``{id}``.

    Parameters
    ----------
    path : str
        A URL path without the query, e.g. ``/v1/accounts/12345``.

    Returns
    -------
    str
        The template, e.g. ``/v1/accounts/{id}``; the same as :func:`template_paths`.
    """
    return "/".join(ID_PLACEHOLDER if is_id_segment(s) else s for s in path.split("/"))


@functools.lru_cache(maxsize=1 << 16)
def object_id(path: str) -> str | None:
    """Return the last id-like segment of one path, or None when it has none.

    Parameters
    ----------
    path : str
        A URL path without the query.

    Returns
    -------
    str or None
        E.g. ``"12345"`` for ``/v1/accounts/12345/orders``.
    """
    for segment in reversed(path.split("/")):
        if is_id_segment(segment):
            return segment
    return None


def template_paths(paths: pd.Series) -> pd.Series:
    """Template a whole Series of paths at once (vectorised, cached by unique path).

    Parameters
    ----------
    paths : pandas.Series
        Paths; nulls stay null.

    Returns
    -------
    pandas.Series
        Templates (``STRING_DTYPE``), same index; equal to :func:`template_path` per row.
    """
    codes, uniques = _factorize(paths)
    if len(uniques) == 0:
        return pd.Series(
            pd.array([None] * len(paths), dtype=STRING_DTYPE), index=paths.index, name=paths.name
        )
    lists, is_id = _judge_segments(uniques)
    segments = lists.flatten()
    replaced = pc.if_else(is_id, pa.scalar(ID_PLACEHOLDER, segments.type), segments)
    rebuilt = type(lists).from_arrays(lists.offsets, replaced)
    templates = pc.binary_join(rebuilt, pa.scalar("/", segments.type))
    return _expand(templates, codes, paths.index, paths.name)


def object_ids(paths: pd.Series) -> pd.Series:
    """Return the last id-like segment of every path (vectorised), null where none.

    Parameters
    ----------
    paths : pandas.Series
        Paths; nulls stay null.

    Returns
    -------
    pandas.Series
        Object ids (``STRING_DTYPE``), same index; equal to :func:`object_id` per row.
    """
    codes, uniques = _factorize(paths)
    if len(uniques) == 0:
        return pd.Series(
            pd.array([None] * len(paths), dtype=STRING_DTYPE), index=paths.index, name=paths.name
        )
    lists, is_id = _judge_segments(uniques)
    segments = lists.flatten()
    owner = np.repeat(np.arange(len(uniques)), np.diff(lists.offsets.to_numpy()))
    id_positions = np.flatnonzero(is_id.to_numpy(zero_copy_only=False))
    id_owner = owner[id_positions]
    last_of_owner = np.ones(len(id_positions), dtype=bool)
    last_of_owner[:-1] = id_owner[1:] != id_owner[:-1]
    picked = np.full(len(uniques), -1, dtype=np.int64)
    picked[id_owner[last_of_owner]] = id_positions[last_of_owner]
    mask = pa.array(picked < 0)
    ids = pc.if_else(mask, pa.scalar(None, segments.type), segments.take(np.maximum(picked, 0)))
    return _expand(ids, codes, paths.index, paths.name)


def _factorize(paths: pd.Series) -> tuple[np.ndarray, pa.LargeStringArray]:
    codes, uniques = pd.factorize(paths.astype(STRING_DTYPE), use_na_sentinel=True)
    array = pa.array(np.asarray(uniques, dtype=object), type=pa.large_string())
    return codes, array


def _judge_segments(uniques: pa.LargeStringArray) -> tuple[pa.ListArray, pa.BooleanArray]:
    """Split unique paths on ``/`` and mark every id-like segment (as :func:`is_id_segment`)."""
    lists = pc.split_pattern(uniques, "/")
    segments = lists.flatten()
    is_id = np.zeros(len(segments), dtype=bool)
    candidate = pc.match_substring_regex(segments, _CANDIDATE).to_numpy(zero_copy_only=False)
    where = np.flatnonzero(candidate)
    if len(where):
        is_id[where] = _judge_candidates(segments.take(pa.array(where)))
    return lists, pa.array(is_id)


def _judge_candidates(segments: pa.Array) -> np.ndarray:
    """Judge candidate segments: two regex passes, then byte-level counting in numpy."""

    def matches(pattern: str) -> np.ndarray:
        return pc.match_substring_regex(segments, _anchored(pattern)).to_numpy(zero_copy_only=False)

    kept = matches(_KEEP)
    is_id = ~kept & matches(_ID_SHAPES)
    undecided = np.flatnonzero(~kept & ~is_id)
    if len(undecided):
        rest = pc.cast(segments.take(pa.array(undecided)), pa.large_binary())
        is_id[undecided] = _token_or_code(rest)
    return is_id


_BYTE_CLASS = np.zeros(256, dtype=np.int8)
"""Byte -> 1 lower, 2 upper, 3 digit, 4 other token character, 0 anything else."""
_BYTE_CLASS[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)] = 1
_BYTE_CLASS[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = 2
_BYTE_CLASS[np.frombuffer(b"0123456789", dtype=np.uint8)] = 3
_BYTE_CLASS[np.frombuffer(b"_-+=", dtype=np.uint8)] = 4
_NOT_CODE_BYTE = np.ones(256, dtype=bool)
_NOT_CODE_BYTE[np.frombuffer("".join(sorted(_CODE_CHARS)).encode(), dtype=np.uint8)] = False


def _token_or_code(values: pa.LargeBinaryArray) -> np.ndarray:
    """Vectorised twin of :func:`_is_token_or_code` over the bytes of many segments."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)
    offsets = offsets[values.offset : values.offset + len(values) + 1]
    data = values.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    raw = raw[offsets[0] : offsets[-1]]
    starts, ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    length = ends - starts
    cls = _BYTE_CLASS[raw]

    def per_segment(flags: np.ndarray) -> np.ndarray:
        # every segment here holds a digit or an "@", so none is empty
        return np.add.reduceat(flags, starts, dtype=np.int64)

    not_token = per_segment(cls == 0)
    not_code = per_segment(_NOT_CODE_BYTE[raw])
    digits = per_segment(cls == 3)
    alnum = (cls >= 1) & (cls <= 3)
    change = np.zeros(len(raw), dtype=bool)
    change[:-1] = alnum[:-1] & alnum[1:] & (cls[:-1] != cls[1:])
    change[ends[ends > 0] - 1] = False  # a pair never spans two segments
    changes = per_segment(change)
    token = (length >= _TOKEN_MIN_LENGTH) & (not_token == 0)
    token &= changes >= _TOKEN_CHANGES_PER_CHAR * length
    code = (length >= _CODE_MIN_LENGTH) & (not_code == 0)
    code &= digits >= _CODE_DIGIT_SHARE * length
    return token | code


def _expand(values: pa.Array, codes: np.ndarray, index: pd.Index, name: object) -> pd.Series:
    """Map per-unique results back to the rows; code -1 (a null path) gives null."""
    missing = codes < 0
    taken = values.take(pa.array(np.where(missing, 0, codes), type=pa.int64()))
    if missing.any():
        taken = pc.if_else(pa.array(missing), pa.scalar(None, taken.type), taken)
    return pd.Series(
        pd.array(taken.cast(pa.large_string()), dtype=STRING_DTYPE), index=index, name=name
    )
