"""Deny and allow lists: entries per identifier kind, with expiry.

The engine checks the allow list first (it always wins), then the deny list. Stores
implement :class:`IdentifierListStore`; :class:`MemoryListStore` keeps entries in this
process, and a Redis store (shared by a fleet of enforcers) implements the same protocol.
Times are epoch seconds supplied by the caller (event time in replay, the clock live),
so expiry behaves identically offline and online.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from apibehave.common.errors import UserError
from apibehave.schema.events import IDENTIFIER_COLUMNS

IDENTIFIER_KINDS: tuple[str, ...] = tuple(IDENTIFIER_COLUMNS)
"""``ip``, ``token``, ``cookie``, ``api_key``, ``username``."""


@dataclass(frozen=True)
class ListEntry:
    """One identifier on a deny or allow list.

    Attributes
    ----------
    kind : str
        Identifier kind, one of :data:`IDENTIFIER_KINDS`.
    value : str
        The identifier's value as it appears in events.
    expires_at : float or None
        Epoch seconds after which the entry no longer applies; None never expires.
    created_at : float
        Epoch seconds when it was added.
    attack_type : str or None
        Why it was denied (deny list entries made by the engine).
    risk : float or None
        The risk of the decision that added it.
    source : str
        ``engine`` for automatic blocks, ``admin`` for entries made by a person.
    evidence : dict
        What the decision that added it saw (free-form, JSON-serialisable).
    """

    kind: str
    value: str
    expires_at: float | None
    created_at: float
    attack_type: str | None = None
    risk: float | None = None
    source: str = "engine"
    evidence: dict[str, Any] = field(default_factory=dict)

    def active(self, now: float) -> bool:
        """Return whether the entry applies at ``now`` (epoch seconds)."""
        return self.expires_at is None or now < self.expires_at

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as a JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ListEntry:
        """Build an entry from :meth:`to_dict` output."""
        return cls(**data)


class IdentifierListStore(Protocol):
    """What the engine needs of a deny or allow list store."""

    def add(self, entry: ListEntry) -> None:
        """Add or replace the entry for ``(entry.kind, entry.value)``."""

    def get(self, kind: str, value: str, now: float) -> ListEntry | None:
        """Return the active entry for an identifier, or None."""

    def remove(self, kind: str, value: str) -> bool:
        """Remove an identifier; return whether it was there."""

    def entries(self, now: float, kind: str | None = None) -> list[ListEntry]:
        """Return the active entries, optionally of one kind."""

    def clear(self, kind: str | None = None) -> int:
        """Remove every entry (of one kind); return how many were removed."""

    def size(self, now: float) -> int:
        """Return the number of active entries."""


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is an identifier kind, else raise a one-line UserError."""
    if kind not in IDENTIFIER_KINDS:
        raise UserError(
            f"unknown identifier kind {kind!r}; use one of {', '.join(IDENTIFIER_KINDS)}"
        )
    return kind


class MemoryListStore:
    """An in-process list store; expired entries are dropped lazily and by :meth:`purge`."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], ListEntry] = {}

    def add(self, entry: ListEntry) -> None:
        """Add or replace the entry for ``(entry.kind, entry.value)``."""
        check_kind(entry.kind)
        self._entries[(entry.kind, entry.value)] = entry

    def get(self, kind: str, value: str, now: float) -> ListEntry | None:
        """Return the active entry for an identifier, or None."""
        entry = self._entries.get((kind, value))
        if entry is None:
            return None
        if not entry.active(now):
            del self._entries[(kind, value)]
            return None
        return entry

    def remove(self, kind: str, value: str) -> bool:
        """Remove an identifier; return whether it was there."""
        return self._entries.pop((kind, value), None) is not None

    def entries(self, now: float, kind: str | None = None) -> list[ListEntry]:
        """Return the active entries, optionally of one kind, oldest first."""
        return sorted(
            (e for e in self._entries.values() if e.active(now) and kind in (None, e.kind)),
            key=lambda e: (e.created_at, e.kind, e.value),
        )

    def clear(self, kind: str | None = None) -> int:
        """Remove every entry (of one kind); return how many were removed."""
        doomed = [key for key in self._entries if kind in (None, key[0])]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def size(self, now: float) -> int:
        """Return the number of active entries."""
        return sum(1 for e in self._entries.values() if e.active(now))

    def purge(self, now: float) -> int:
        """Drop expired entries; return how many were dropped."""
        expired = [key for key, e in self._entries.items() if not e.active(now)]
        for key in expired:
            del self._entries[key]
        return len(expired)

    def __iter__(self) -> Iterator[ListEntry]:
        return iter(list(self._entries.values()))
