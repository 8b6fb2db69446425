"""The Redis list store: the list protocol, sharing between processes, expiry, Redis failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import redis

from apibehave.common.errors import UserError
from apibehave.engine.lists import ListEntry
from apibehave.engine.redis_store import PROPAGATION_BOUND_MS, RedisListStore
from tests.redis_fixture import RedisServer, free_port, redis_server  # noqa: F401 - fixture


def entry(value: str, kind: str = "ip", ttl: float | None = 3600.0, **extra) -> ListEntry:
    now = time.time()
    return ListEntry(kind, value, None if ttl is None else now + ttl, now, **extra)


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> float:
    """Wait until ``condition()`` holds; return the seconds it took (fail past the timeout)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.001)
    return time.perf_counter() - start


@pytest.fixture
def stores(redis_server: RedisServer) -> Iterator[Callable[..., RedisListStore]]:  # noqa: F811
    """Make connected stores on the test's Redis; all are closed afterwards."""
    made: list[RedisListStore] = []

    def make(**options) -> RedisListStore:
        store = RedisListStore(redis_server.url, retry_interval_s=0.1, **options)
        made.append(store)
        assert store.wait_connected(5.0), store.status()
        return store

    yield make
    for store in made:
        store.close(timeout_s=0.2)


def test_store_follows_the_list_protocol(stores) -> None:
    """Add, replace, get with the caller's clock, remove, list, clear and size, as in memory."""
    store = stores()
    now = time.time()
    store.add(ListEntry("ip", "10.0.0.1", now + 100, now, attack_type="probing"))
    store.add(ListEntry("ip", "10.0.0.1", now + 100, now, attack_type="injection"))
    store.add(ListEntry("token", "t", None, now + 1))
    store.add(ListEntry("ip", "old", now + 5, now - 10))
    assert store.get("ip", "10.0.0.1", now).attack_type == "injection"
    assert store.get("ip", "10.0.0.1", now + 100) is None  # expiry by the caller's clock
    assert store.get("cookie", "t", now) is None  # kinds are separate
    assert [e.value for e in store.entries(now + 10)] == ["10.0.0.1", "t"]
    assert [e.value for e in store.entries(now, kind="token")] == ["t"]
    assert store.size(now) == 3
    assert store.flush()
    assert store.remove("ip", "10.0.0.1") and not store.remove("ip", "10.0.0.1")
    assert store.clear("token") == 1
    assert store.size(now) == 1
    assert store.flush()
    assert store.size(now) == 1 and store.get("ip", "old", now).value == "old"


def test_a_block_on_one_store_is_honoured_by_another_within_the_stated_delay(stores) -> None:
    """Two enforcers' stores: each block made on one is seen by the other within the bound."""
    first, second = stores(), stores()
    delays = []
    for i in range(40):
        writer, reader = (first, second) if i % 2 == 0 else (second, first)
        writer.add(entry(f"10.9.0.{i}", attack_type="probing"))
        delays.append(wait_for(lambda r=reader, i=i: r.get("ip", f"10.9.0.{i}", time.time())))
    worst_ms = max(delays) * 1000
    assert worst_ms <= PROPAGATION_BOUND_MS, f"slowest propagation {worst_ms:.1f} ms"
    assert second.get("ip", "10.9.0.0", time.time()).attack_type == "probing"
    # removals and clears travel the same way
    first.remove("ip", "10.9.0.1")
    wait_for(lambda: second.get("ip", "10.9.0.1", time.time()) is None, PROPAGATION_BOUND_MS / 1e3)
    second.clear()
    wait_for(lambda: first.size(time.time()) == 0, PROPAGATION_BOUND_MS / 1e3)


def test_entries_keep_their_evidence_and_odd_values(stores) -> None:
    """Evidence with numpy numbers, and values with separators, arrive intact elsewhere."""
    first, second = stores(), stores()
    evidence = {"lead_feature": "calls_1m", "crossed": [{"value": np.float32(42.5)}]}
    first.add(entry("tok:with:colons*", kind="token", evidence=evidence, risk=3.5))
    first.add(entry("10.3.0.1"))
    wait_for(lambda: second.size(time.time()) == 2)
    got = second.get("token", "tok:with:colons*", time.time())
    assert got.evidence == {"lead_feature": "calls_1m", "crossed": [{"value": 42.5}]}
    assert got.risk == 3.5 and first.status()["dropped_writes"] == 0


def test_garbage_on_the_channel_is_ignored(stores, redis_server) -> None:  # noqa: F811
    """A message the store cannot read is counted as an error; the store keeps following."""
    first, second = stores(), stores()
    client = redis.Redis.from_url(redis_server.url)
    client.publish("apibehave:deny:changes", "not json")
    client.publish("apibehave:deny:changes", '{"op": "add", "e": {"kind": "ip"}}')
    client.close()
    first.add(entry("10.3.0.2"))
    wait_for(lambda: second.get("ip", "10.3.0.2", time.time()) is not None)
    assert "cannot read" in second.status()["last_error"]


def test_a_store_started_later_reads_the_whole_list(stores) -> None:
    """A new enforcer joining the fleet starts with every active entry."""
    first = stores()
    for i in range(2500):
        first.add(entry(f"tok-{i}", kind="token"))
    assert first.flush(10.0)
    late = stores()
    assert late.size(time.time()) == 2500
    assert late.get("token", "tok-2499", time.time()) is not None


def test_deny_and_allow_lists_are_separate_namespaces(stores) -> None:
    """The same identifier on the allow list is not on the deny list."""
    deny, allow = stores(namespace="deny"), stores(namespace="allow")
    other_allow = stores(namespace="allow")
    allow.add(entry("partner-key", kind="api_key", ttl=None))
    wait_for(lambda: other_allow.get("api_key", "partner-key", time.time()) is not None)
    assert deny.get("api_key", "partner-key", time.time()) is None


def test_redis_forgets_expired_entries_and_so_do_the_mirrors(stores, redis_server) -> None:  # noqa: F811
    """An entry's Redis key expires with the entry, and every mirror drops it."""
    first, second = stores(), stores()
    first.add(entry("10.7.0.1", ttl=0.6))
    first.add(entry("10.7.0.2", ttl=None))
    wait_for(lambda: second.get("ip", "10.7.0.1", time.time()) is not None)
    client = redis.Redis.from_url(redis_server.url)
    assert 0 < client.pttl("apibehave:deny:e:ip:10.7.0.1") <= 600
    assert client.pttl("apibehave:deny:e:ip:10.7.0.2") == -1  # no expiry
    wait_for(lambda: not client.exists("apibehave:deny:e:ip:10.7.0.1"), 3.0)
    wait_for(lambda: second.status()["mirrored_entries"] == 1, 3.0)  # purged, not only inactive
    client.close()


def test_event_time_entries_live_in_redis_for_their_own_duration(stores, redis_server) -> None:  # noqa: F811
    """An entry made on recorded (past) event time is not dropped by Redis at once."""
    store = stores()
    past = 1_700_000_000.0
    store.add(ListEntry("ip", "10.7.1.1", past + 300, past))
    assert store.flush()
    client = redis.Redis.from_url(redis_server.url)
    assert 290_000 < client.pttl("apibehave:deny:e:ip:10.7.1.1") <= 300_000
    assert store.get("ip", "10.7.1.1", past + 299) is not None
    assert store.get("ip", "10.7.1.1", past + 300) is None
    client.close()


def test_redis_killed_and_restarted_loses_nothing(stores, redis_server) -> None:  # noqa: F811
    """Redis killed: mirrors answer, writes queue; restarted: nothing written is lost.

    Entries acknowledged before the kill come back from the append-only file; the changes
    queued during the outage reach Redis and the other store.
    """
    first, second = stores(), stores()
    for i in range(50):
        first.add(entry(f"10.8.0.{i}"))
    assert first.flush()
    wait_for(lambda: second.size(time.time()) == 50)
    redis_server.kill()
    wait_for(lambda: not first.status()["connected"] and not second.status()["connected"])
    # reads during the outage: from the mirror, fast, no exception
    started = time.perf_counter()
    for i in range(50):
        assert second.get("ip", f"10.8.0.{i}", time.time()) is not None
    assert time.perf_counter() - started < 0.5  # no call waits on the dead server
    # writes during the outage: applied locally at once, queued for Redis
    first.add(entry("10.8.1.1", attack_type="injection"))
    first.remove("ip", "10.8.0.0")
    assert first.get("ip", "10.8.1.1", time.time()) is not None
    assert first.get("ip", "10.8.0.0", time.time()) is None
    assert first.status()["pending_writes"] == 2
    time.sleep(0.5)  # the threads keep retrying without crashing
    redis_server.start()
    assert first.wait_connected(10.0) and second.wait_connected(10.0)
    assert first.flush(10.0)
    wait_for(lambda: second.get("ip", "10.8.1.1", time.time()) is not None, 5.0)
    wait_for(lambda: second.get("ip", "10.8.0.0", time.time()) is None, 5.0)
    client = redis.Redis.from_url(redis_server.url)
    kept = {k.decode() for k in client.scan_iter(match="apibehave:deny:e:*")}
    client.close()
    assert kept == {f"apibehave:deny:e:ip:10.8.0.{i}" for i in range(1, 50)} | {
        "apibehave:deny:e:ip:10.8.1.1"
    }
    assert second.size(time.time()) == 50
    assert first.status()["connects"] >= 2 and first.status()["dropped_writes"] == 0


def test_a_store_without_redis_serves_its_own_view_and_never_raises(tmp_path) -> None:
    """No Redis at all: the store works as a local list and reports itself disconnected."""
    store = RedisListStore(f"redis://127.0.0.1:{free_port()}/0", retry_interval_s=0.05)
    try:
        assert not store.wait_connected(0.3)
        store.add(entry("10.6.0.1"))
        assert store.get("ip", "10.6.0.1", time.time()) is not None
        assert store.size(time.time()) == 1
        status = store.status()
        assert not status["connected"] and status["pending_writes"] == 1
        assert "redis unavailable" in status["last_error"]
    finally:
        store.close(timeout_s=0.1)


def test_bad_settings_are_one_line_user_errors() -> None:
    """A namespace or prefix that would not make clean Redis keys, or a bad URL, is refused."""
    for options in ({"namespace": "deny list"}, {"prefix": "a*b"}, {"prefix": ""}):
        with pytest.raises(UserError):
            RedisListStore("redis://127.0.0.1:1/0", start=False, **options)
    with pytest.raises(UserError):
        RedisListStore("http://nowhere", start=False)


def test_the_write_queue_is_bounded(tmp_path) -> None:
    """Past max_pending queued changes, the oldest are dropped and counted."""
    store = RedisListStore(f"redis://127.0.0.1:{free_port()}/0", max_pending=3, start=False)
    for i in range(5):
        store.add(entry(f"10.5.0.{i}"))
    status = store.status()
    assert status["pending_writes"] == 3 and status["dropped_writes"] == 2
    assert store.size(time.time()) == 5  # the local view keeps them all
    store.close(timeout_s=0.0)
