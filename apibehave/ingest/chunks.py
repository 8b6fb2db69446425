"""What every format reader yields: canonical events plus the lines it could not use."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

MAX_RAW_CHARS = 2000
"""A rejected line's raw text is kept up to this many characters."""


@dataclass(frozen=True)
class Rejection:
    """One input line (or record) that did not become an event.

    Attributes
    ----------
    line : int
        1-based line number in the (decompressed) input; for multi-line records, the
        record's first line.
    reason : str
        Why it was rejected, one short phrase.
    raw : str
        The raw text, cut to :data:`MAX_RAW_CHARS` characters.
    """

    line: int
    reason: str
    raw: str

    @classmethod
    def of(cls, line: int, reason: str, raw: str | bytes) -> Rejection:
        """Build a rejection, decoding bytes leniently and cutting long text."""
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        return cls(line, reason, raw[:MAX_RAW_CHARS])


@dataclass
class Chunk:
    """A slice of the input turned into events.

    Attributes
    ----------
    events : pandas.DataFrame
        Canonical events (see :func:`apibehave.schema.normalize_events`) in input order.
    rejections : list of Rejection
        Lines or records that did not become events, in input order.
    lines : int
        Physical input lines (or records, for formats without lines) consumed.
    blank : int
        Of those, blank lines that carry nothing (neither events nor rejections).
    merged : int
        Of those, lines folded into an event or a rejection counted on another line (the
        header and body lines of a raw HTTP request, a sideband response paired with its
        request). Every line is an event, a rejection, blank or merged.
    """

    events: pd.DataFrame
    rejections: list[Rejection] = field(default_factory=list)
    lines: int = 0
    blank: int = 0
    merged: int = 0
