"""What the enforcer remembers for its reports: recent calls and recent attacks, bounded.

:class:`RecentCalls` keeps the last calls (call-log rows, raw identifiers, in memory only)
for the forensics and usage reports; :class:`AttackLog` keeps the last new blocks (and
shadow-mode would-be blocks) with their evidence and an evidence id that the 403 answer
names. Both are ring buffers: memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from apibehave.enforce.timefmt import iso_ns


class RecentCalls:
    """The last ``size`` call-log rows (see :data:`apibehave.enforce.calllog.LOG_COLUMNS`)."""

    def __init__(self, size: int) -> None:
        self.rows: deque[tuple] = deque(maxlen=size)

    def append(self, row: tuple) -> None:
        """Remember one call."""
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple]:
        return iter(list(self.rows))


@dataclass(frozen=True)
class AttackRecord:
    """One new block (or a shadow-mode would-be block) and why.

    Attributes
    ----------
    evidence_id : str
        Named in the 403 answer and in the forensics report.
    ts_ns : int
        The call's time, epoch nanoseconds.
    api : str or None
        The call's API.
    attack_type : str or None
        CONTRACT section 2.
    identifier_kind, identifier : str or None
        What was blocked.
    risk : float
        The decision's risk.
    mode : str
        ``enforce`` or ``shadow``.
    route : str
        ``ase`` or ``auth``.
    bundle_id : str
        The bundle that decided.
    evidence : dict
        What crossed (from the engine).
    identifiers : dict
        Every identifier the call carried (kind -> value).
    """

    evidence_id: str
    ts_ns: int
    api: str | None
    attack_type: str | None
    identifier_kind: str | None
    identifier: str | None
    risk: float
    mode: str
    route: str
    bundle_id: str
    evidence: dict[str, Any] = field(default_factory=dict)
    identifiers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data (with ``ts`` in ISO-8601)."""
        data = asdict(self)
        data["ts"] = iso_ns(self.ts_ns)
        return data


class AttackLog:
    """The last ``size`` attack records, and the latest evidence id per blocked identifier."""

    def __init__(self, size: int, prefix: str = "ev") -> None:
        self.records: deque[AttackRecord] = deque(maxlen=size)
        self._latest: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(1)
        self._prefix = prefix
        self._size = size

    def new_id(self) -> str:
        """Return a fresh evidence id."""
        return f"{self._prefix}-{next(self._ids)}"

    def add(self, record: AttackRecord) -> None:
        """Remember a record."""
        self.records.append(record)
        if record.mode == "enforce" and record.identifier_kind and record.identifier:
            if len(self._latest) >= 4 * self._size:
                self._latest.clear()
            self._latest[(record.identifier_kind, record.identifier)] = record.evidence_id

    def evidence_id_for(self, kind: str | None, value: str | None) -> str | None:
        """Return the evidence id of the latest block of an identifier, if remembered."""
        if kind is None or value is None:
            return None
        return self._latest.get((kind, value))

    def __iter__(self) -> Iterator[AttackRecord]:
        return iter(list(self.records))
