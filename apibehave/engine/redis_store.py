"""A deny or allow list shared by a fleet of enforcers through Redis.

Reads never touch the network. Each :class:`RedisListStore` keeps a local mirror of the
list, filled by a full read at (re)connection and then kept current by Redis pub/sub: every
write is one ``MULTI``/``EXEC`` transaction that sets (or deletes) the entry's key and
publishes the change on the list's channel, so every subscriber sees changes in Redis's
own order. A background writer thread sends this process's changes; the caller's
:meth:`~RedisListStore.add` only updates the local view and queues the change.

Propagation: a change made on one enforcer is applied by the others when its pub/sub
message arrives, typically within a few milliseconds (plus the network round trip); the
stated bound is :data:`PROPAGATION_BOUND_MS`, 1 s (``tests/test_redis_store.py`` and
``tests/test_redis_fleet.py`` hold it; ``benchmarks/bench_gateway.py`` measures it). A periodic full
re-read (``resync_interval_s``) repairs anything a lost message missed.

Fail mode (Redis away): lookups keep answering from the local view; this process's own
changes apply locally at once and wait in an in-memory queue (``max_pending`` long; the
oldest are dropped beyond it and counted in :meth:`~RedisListStore.status`); both threads
keep reconnecting; nothing raises into the caller. On reconnection the queue is written,
the mirror is re-read and pending local changes stay layered over it until Redis has them.

Durability: entries acknowledged by Redis survive a Redis crash when Redis runs with an
append-only file fsynced on every write (``deploy/redis/redis.conf``: ``appendonly yes``,
``appendfsync always``; list writes are rare, one per new block or admin change).

Expiry: entries are judged active against the caller's clock (:meth:`ListEntry.active`),
exactly as :class:`~apibehave.engine.lists.MemoryListStore`. The Redis key also carries a
wall-clock expiry, used only to collect garbage: the later of ``expires_at`` and
now + (``expires_at`` - ``created_at``), so entries made on recorded event time
(``--trust-event-time``) live in Redis for their own duration.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from apibehave.common.errors import UserError
from apibehave.engine.lists import ListEntry, check_kind

log = logging.getLogger(__name__)

PROPAGATION_BOUND_MS = 1000.0
"""A change on one store is visible on every other connected store within this delay.

Typically 1-10 ms on loopback; the bound leaves room for Redis's fsync of every write
(``appendfsync always``) on a busy disk, which delays the publish as well."""

_Key = tuple[str, str]
_BATCH = 500
_RedisDown = (redis.ConnectionError, redis.TimeoutError, OSError)


@dataclass(frozen=True)
class _Op:
    """One local change waiting for Redis: ``add``, ``remove`` or ``clear``."""

    seq: int
    op: str
    entry: ListEntry | None = None
    kind: str | None = None
    value: str | None = None


class RedisListStore:
    """An :class:`~apibehave.engine.lists.IdentifierListStore` shared through Redis.

    Parameters
    ----------
    url : str
        Redis URL, e.g. ``redis://127.0.0.1:6379/0``.
    namespace : str
        Which list: ``deny`` or ``allow`` (any word; stores with the same prefix and
        namespace share entries).
    prefix : str
        Key prefix, so several deployments can share one Redis.
    resync_interval_s : float
        Full re-read of the list from Redis, a safety net behind pub/sub.
    retry_interval_s : float
        Pause between reconnection attempts (both threads).
    max_pending : int
        Local changes kept while Redis is away; beyond it the oldest are dropped.
    socket_timeout_s : float
        Redis socket timeout for commands.
    start : bool
        Start the background threads now (tests may start them later with :meth:`start`).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        namespace: str = "deny",
        prefix: str = "apibehave",
        resync_interval_s: float = 30.0,
        retry_interval_s: float = 0.2,
        max_pending: int = 100_000,
        socket_timeout_s: float = 1.0,
        start: bool = True,
    ) -> None:
        if not namespace.isidentifier():
            raise UserError(f"list namespace must be a word, got {namespace!r}")
        if not prefix or not all(c.isalnum() or c in "_-.:" for c in prefix):
            raise UserError(f"Redis key prefix must be letters, digits, '_-.:', got {prefix!r}")
        self.url = url
        self.namespace = namespace
        self.resync_interval_s = resync_interval_s
        self.retry_interval_s = retry_interval_s
        self.max_pending = max_pending
        self._key_prefix = f"{prefix}:{namespace}:e:"
        self._channel = f"{prefix}:{namespace}:changes"
        self._origin = uuid.uuid4().hex
        try:
            self._redis = redis.Redis.from_url(
                url,
                socket_timeout=socket_timeout_s,
                socket_connect_timeout=socket_timeout_s,
                decode_responses=True,
            )
        except ValueError as error:
            raise UserError(f"bad Redis URL {url!r}: {error}") from None
        # The view: mirror of Redis, overlaid by local changes Redis has not echoed yet.
        self._mirror: dict[_Key, ListEntry] = {}
        self._gc: dict[_Key, float] = {}
        self._overlay: dict[_Key, tuple[int, ListEntry | None]] = {}
        self._clears: dict[str | None, int] = {}
        self._pending: deque[_Op] = deque()
        self._outbox: deque[_Op] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._seq = 0
        self._acked = 0
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._stats = {"dropped_writes": 0, "resyncs": 0, "connects": 0, "messages": 0}
        self._last_error: str | None = None
        self._last_sync: float | None = None
        self._threads: list[threading.Thread] = []
        if start:
            self.start()

    # ---- the IdentifierListStore protocol ---------------------------------------------
    def add(self, entry: ListEntry) -> None:
        """Add or replace the entry for ``(entry.kind, entry.value)`` (Redis: queued)."""
        check_kind(entry.kind)
        self._local(_Op(0, "add", entry=entry, kind=entry.kind, value=entry.value))

    def get(self, kind: str, value: str, now: float) -> ListEntry | None:
        """Return the active entry for an identifier, or None; never waits on Redis."""
        key = (kind, value)
        entry = self._lookup(key) if self._overlay or self._clears else self._mirror.get(key)
        if entry is None or not entry.active(now):
            return None
        return entry

    def remove(self, kind: str, value: str) -> bool:
        """Remove an identifier; return whether this process's view had it."""
        there = self._lookup((kind, value)) is not None
        self._local(_Op(0, "remove", kind=kind, value=value))
        return there

    def entries(self, now: float, kind: str | None = None) -> list[ListEntry]:
        """Return the active entries (optionally of one kind), oldest first."""
        return sorted(
            (e for e in self._view() if e.active(now) and kind in (None, e.kind)),
            key=lambda e: (e.created_at, e.kind, e.value),
        )

    def clear(self, kind: str | None = None) -> int:
        """Remove every entry (of one kind); return how many this process's view had."""
        if kind is not None:
            check_kind(kind)
        count = sum(1 for e in self._view() if kind in (None, e.kind))
        self._local(_Op(0, "clear", kind=kind))
        return count

    def size(self, now: float) -> int:
        """Return the number of active entries."""
        return sum(1 for e in self._view() if e.active(now))

    # ---- life cycle and health --------------------------------------------------------
    def start(self) -> None:
        """Start the writer and the subscriber threads (once)."""
        if self._threads:
            return
        for target, name in ((self._write_loop, "writer"), (self._sync_loop, "sync")):
            thread = threading.Thread(
                target=target, name=f"apibehave-redis-{self.namespace}-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until Redis holds and has echoed every local change; return whether it did."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._pending and not self._outbox:
                return True
            time.sleep(0.005)
        return not self._pending and not self._outbox

    def wait_connected(self, timeout_s: float = 5.0) -> bool:
        """Wait until the mirror has been read from Redis; return whether it was."""
        return self._connected.wait(timeout_s)

    def close(self, timeout_s: float = 1.0) -> None:
        """Try to flush for ``timeout_s``, then stop the threads and the connections."""
        if self._threads:
            self.flush(timeout_s)
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._threads = []
        self._redis.close()

    def status(self) -> dict[str, Any]:
        """Health for ``/readyz`` and metrics: connection, queue, counters, last error."""
        return {
            "backend": "redis",
            "namespace": self.namespace,
            "connected": self._connected.is_set(),
            "pending_writes": len(self._outbox),
            "unconfirmed_writes": len(self._pending),
            "mirrored_entries": len(self._mirror),
            "last_sync_at": self._last_sync,
            "last_error": self._last_error,
            **self._stats,
        }

    # ---- the local view ---------------------------------------------------------------
    def _local(self, op: _Op) -> None:
        """Apply a change to this process's view now and queue it for Redis."""
        with self._wake:
            self._seq += 1
            op = _Op(self._seq, op.op, op.entry, op.kind, op.value)
            if op.op == "clear":
                self._clears[op.kind] = op.seq
            else:
                self._overlay[(op.kind, op.value)] = (op.seq, op.entry)
            self._pending.append(op)
            self._outbox.append(op)
            if len(self._outbox) > self.max_pending:
                lost = self._outbox.popleft()
                self._stats["dropped_writes"] += 1
                self._last_error = f"write queue full: dropped change #{lost.seq}"
            self._wake.notify_all()

    def _lookup(self, key: _Key) -> ListEntry | None:
        """Return the entry of the view (overlay over mirror), ignoring expiry."""
        cleared = max(self._clears.get(None, 0), self._clears.get(key[0], 0))
        local = self._overlay.get(key)
        if local is not None and local[0] > cleared:
            return local[1]
        if cleared:
            return None
        return self._mirror.get(key)

    def _view(self) -> Iterable[ListEntry]:
        """Yield every entry of the view, ignoring expiry."""
        keys = set(self._mirror) | set(self._overlay)
        for key in keys:
            entry = self._lookup(key)
            if entry is not None:
                yield entry

    def _confirm(self, upto: int) -> None:
        """Drop local changes up to ``upto`` from the overlay: the mirror has them."""
        with self._lock:
            while self._pending and self._pending[0].seq <= upto:
                op = self._pending.popleft()
                if op.op == "clear":
                    if self._clears.get(op.kind) == op.seq:
                        del self._clears[op.kind]
                else:
                    key = (op.kind, op.value)
                    local = self._overlay.get(key)
                    if local is not None and local[0] == op.seq:
                        del self._overlay[key]

    # ---- Redis encoding ---------------------------------------------------------------
    def _key(self, kind: str, value: str) -> str:
        return f"{self._key_prefix}{kind}:{value}"

    @staticmethod
    def _gc_at(entry: ListEntry) -> float | None:
        """Wall-clock epoch seconds after which Redis may forget the entry."""
        if entry.expires_at is None:
            return None
        return max(entry.expires_at, time.time() + max(0.0, entry.expires_at - entry.created_at))

    @staticmethod
    def _decode(data: dict[str, Any]) -> tuple[ListEntry, float | None]:
        data = dict(data)
        gc = data.pop("gc", None)
        return ListEntry.from_dict(data), gc

    # ---- the writer thread ------------------------------------------------------------
    def _write_loop(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                while not self._outbox and not self._stop.is_set():
                    self._wake.wait(timeout=1.0)
                if self._stop.is_set():
                    return
                batch = self._next_batch()
            try:
                self._send(batch)
            except _RedisDown as error:
                self._down(error)
                self._stop.wait(self.retry_interval_s)
                continue
            except Exception as error:  # a bug or a refused command: report, skip the batch
                log.exception("redis list store: changes #%s.. not written", batch[0].seq)
                self._last_error = f"changes #{batch[0].seq}..#{batch[-1].seq} not written: {error}"
                self._stats["dropped_writes"] += len(batch)
            with self._lock:
                last = batch[-1].seq
                while self._outbox and self._outbox[0].seq <= last:
                    self._outbox.popleft()
                self._acked = last

    def _next_batch(self) -> list[_Op]:
        """Return the next changes for one transaction: a clear alone, else up to 500."""
        if self._outbox[0].op == "clear":
            return [self._outbox[0]]
        batch = []
        for op in self._outbox:
            if op.op == "clear" or len(batch) == _BATCH:
                break
            batch.append(op)
        return batch

    def _send(self, batch: list[_Op]) -> None:
        """Write changes and publish each, in one transaction."""
        pipe = self._redis.pipeline(transaction=True)
        for op in batch:
            message: dict[str, Any] = {"o": self._origin, "s": op.seq, "op": op.op}
            if op.op == "clear":
                pattern = self._key_prefix + ("*" if op.kind is None else f"{op.kind}:*")
                doomed = list(self._redis.scan_iter(match=pattern, count=1000))
                for start in range(0, len(doomed), 1000):
                    pipe.unlink(*doomed[start : start + 1000])
                message["k"] = op.kind
            elif op.op == "add":
                key = self._key(op.kind, op.value)
                gc = self._gc_at(op.entry)
                data = {**op.entry.to_dict(), "gc": gc}
                if gc is None:
                    pipe.set(key, _dumps(data))
                else:
                    pipe.set(key, _dumps(data), pxat=max(1, math.ceil(gc * 1000)))
                message["e"] = data
            else:
                pipe.delete(self._key(op.kind, op.value))
                message["k"], message["v"] = op.kind, op.value
            pipe.publish(self._channel, _dumps(message))
        pipe.execute()

    # ---- the subscriber thread --------------------------------------------------------
    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            pubsub = self._redis.pubsub()
            try:
                self._follow(pubsub)
            except _RedisDown as error:
                self._down(error)
            except Exception as error:  # never let the mirror thread die
                log.exception("redis list store: subscriber failed")
                self._last_error = f"subscriber: {error}"
            finally:
                self._connected.clear()
                try:
                    pubsub.close()
                except Exception:  # closing a dead connection may fail; nothing to do
                    log.debug("redis list store: closing pubsub failed", exc_info=True)
            self._stop.wait(self.retry_interval_s)

    def _follow(self, pubsub: redis.client.PubSub) -> None:
        """Subscribe, read the whole list, then apply changes as they come."""
        pubsub.subscribe(self._channel)
        while True:  # Redis confirms the subscription before the list is read
            if self._stop.is_set():
                return
            message = pubsub.get_message(timeout=1.0)
            if message is not None and message.get("type") == "subscribe":
                break
        self._resync()
        self._stats["connects"] += 1
        next_resync = time.monotonic() + self.resync_interval_s
        next_purge = time.monotonic() + 1.0
        while not self._stop.is_set():
            message = pubsub.get_message(timeout=0.1)
            if message is not None and message.get("type") == "message":
                self._apply(message["data"])
            now = time.monotonic()
            if now >= next_purge:
                self._purge()
                next_purge = now + 1.0
            if now >= next_resync:
                self._resync()
                next_resync = now + self.resync_interval_s

    def _resync(self) -> None:
        """Replace the mirror with what Redis holds (local unconfirmed changes stay on top)."""
        acked_before = self._acked
        mirror: dict[_Key, ListEntry] = {}
        gcs: dict[_Key, float] = {}
        keys = list(self._redis.scan_iter(match=self._key_prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            for raw in self._redis.mget(keys[start : start + 1000]):
                if raw is None:
                    continue  # expired between SCAN and MGET
                entry, gc = self._decode(json.loads(raw))
                mirror[(entry.kind, entry.value)] = entry
                if gc is not None:
                    gcs[(entry.kind, entry.value)] = gc
        self._mirror, self._gc = mirror, gcs
        self._confirm(acked_before)
        self._stats["resyncs"] += 1
        self._last_sync = time.time()
        self._connected.set()

    def _apply(self, raw: str) -> None:
        """Apply one change message to the mirror."""
        try:
            message = json.loads(raw)
        except ValueError:
            self._last_error = "ignored a change message that is not JSON"
            return
        self._stats["messages"] += 1
        try:
            self._apply_change(message)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            self._last_error = f"ignored a change message it cannot read: {error!r}"

    def _apply_change(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "add":
            entry, gc = self._decode(message["e"])
            key = (entry.kind, entry.value)
            self._mirror[key] = entry
            if gc is not None:
                self._gc[key] = gc
            else:
                self._gc.pop(key, None)
        elif op == "remove":
            key = (message["k"], message["v"])
            self._mirror.pop(key, None)
            self._gc.pop(key, None)
        elif op == "clear":
            kind = message.get("k")
            for key in [k for k in self._mirror if kind in (None, k[0])]:
                self._mirror.pop(key, None)
                self._gc.pop(key, None)
        if message.get("o") == self._origin:
            self._confirm(int(message["s"]))

    def _purge(self) -> None:
        """Forget mirrored entries whose Redis key has expired (wall clock)."""
        now = time.time()
        for key in [k for k, gc in self._gc.items() if gc <= now]:
            self._mirror.pop(key, None)
            self._gc.pop(key, None)

    def _down(self, error: BaseException) -> None:
        if self._connected.is_set() or self._last_error != f"redis unavailable: {error}":
            log.warning("redis list store %s: %s", self.namespace, error)
        self._connected.clear()
        self._last_error = f"redis unavailable: {error}"


def _plain(value: Any) -> Any:
    """JSON fallback for evidence values: numpy scalars and arrays as numbers, else text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _dumps(data: Any) -> str:
    return json.dumps(data, default=_plain, allow_nan=True)


__all__ = ["PROPAGATION_BOUND_MS", "RedisListStore"]
