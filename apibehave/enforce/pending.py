"""Requests waiting for their responses, keyed by correlation id; bounded in size and age.

A request that no response pairs with, within ``ttl_s`` seconds or before ``max_size``
newer requests push it out, is handed back as expired: the enforcer then tells the engine
"no response seen" (status 0), as a log line with status 0 would in ``replay``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class PendingCall:
    """One request awaiting its response.

    Attributes
    ----------
    handle : int
        The engine handle the response must carry.
    engine : object
        The engine that decided (a reload does not move pending calls).
    event : dict
        The call event (completed with the response for the call log).
    arrived : float
        Monotonic clock at arrival (for expiry).
    decision : str
        ``allow``, ``block`` or ``shadow`` (for the call log).
    attack_type : str or None
        Why it was blocked.
    """

    handle: int
    engine: Any
    event: dict[str, Any]
    arrived: float
    decision: str
    attack_type: str | None


class PendingTable:
    """Correlation id -> :class:`PendingCall`, oldest first.

    Parameters
    ----------
    max_size : int
        Most calls held; adding past it expires the oldest.
    ttl_s : float
        Calls older than this expire at the next :meth:`add` or :meth:`sweep`.
    on_expire : callable
        Called with each expired call.
    clock : callable
        Monotonic seconds (replaceable in tests).
    """

    def __init__(
        self,
        max_size: int,
        ttl_s: float,
        on_expire: Callable[[PendingCall], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_size = max_size
        self.ttl_s = ttl_s
        self.on_expire = on_expire
        self.clock = clock
        self._calls: OrderedDict[str, PendingCall] = OrderedDict()
        self.expired = 0

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, correlation: str, call: PendingCall) -> None:
        """Hold ``call`` under ``correlation``; an older call with the same id expires."""
        previous = self._calls.pop(correlation, None)
        if previous is not None:
            self._expire(previous)
        self._calls[correlation] = call
        while len(self._calls) > self.max_size:
            self._expire(self._calls.popitem(last=False)[1])
        self.sweep(call.arrived)

    def pop(self, correlation: str) -> PendingCall | None:
        """Remove and return the call waiting under ``correlation``, or None."""
        return self._calls.pop(correlation, None)

    def sweep(self, now: float | None = None) -> int:
        """Expire calls older than the TTL; return how many expired."""
        now = self.clock() if now is None else now
        limit = now - self.ttl_s
        count = 0
        calls = self._calls
        while calls:
            oldest = next(iter(calls.values()))
            if oldest.arrived > limit:
                break
            calls.popitem(last=False)
            self._expire(oldest)
            count += 1
        return count

    def drain(self) -> int:
        """Expire every call (at shutdown); return how many."""
        count = len(self._calls)
        while self._calls:
            self._expire(self._calls.popitem(last=False)[1])
        return count

    def _expire(self, call: PendingCall) -> None:
        self.expired += 1
        self.on_expire(call)
