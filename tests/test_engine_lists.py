"""Deny and allow list stores: entries per identifier kind, expiry by the caller's clock."""

from __future__ import annotations

import pytest

from apibehave.common.errors import UserError
from apibehave.engine.lists import ListEntry, MemoryListStore


def entry(
    kind: str = "ip", value: str = "10.0.0.1", expires_at: float | None = 100.0, **extra: object
) -> ListEntry:
    return ListEntry(kind=kind, value=value, expires_at=expires_at, created_at=0.0, **extra)


def test_entry_applies_until_it_expires() -> None:
    """An entry is found before its expiry and gone at and after it."""
    store = MemoryListStore()
    store.add(entry(expires_at=100.0))
    assert store.get("ip", "10.0.0.1", now=99.9) is not None
    assert store.get("ip", "10.0.0.1", now=100.0) is None
    assert store.size(now=0.0) == 0  # the expired entry was dropped on lookup


def test_entries_without_expiry_stay() -> None:
    """An entry with no expiry applies forever."""
    store = MemoryListStore()
    store.add(entry(expires_at=None))
    assert store.get("ip", "10.0.0.1", now=1e12) is not None


def test_kinds_are_separate_namespaces() -> None:
    """The same value under two kinds is two entries."""
    store = MemoryListStore()
    store.add(entry(kind="token", value="abc"))
    assert store.get("cookie", "abc", now=0) is None
    assert store.get("token", "abc", now=0) is not None


def test_add_replaces_remove_and_clear() -> None:
    """Adding again replaces; remove reports presence; clear counts per kind."""
    store = MemoryListStore()
    store.add(entry(value="a", attack_type="probing"))
    store.add(entry(value="a", attack_type="injection"))
    store.add(entry(kind="token", value="t"))
    assert store.get("ip", "a", now=0).attack_type == "injection"
    assert store.size(now=0) == 2
    assert store.remove("ip", "a") and not store.remove("ip", "a")
    assert store.clear("token") == 1 and store.size(now=0) == 0


def test_listing_filters_expired_and_kind() -> None:
    """Listing returns active entries only, optionally of one kind."""
    store = MemoryListStore()
    store.add(entry(value="old", expires_at=5.0))
    store.add(entry(value="new", expires_at=50.0))
    store.add(entry(kind="username", value="bob", expires_at=None))
    assert [e.value for e in store.entries(now=10.0)] == ["new", "bob"]
    assert [e.value for e in store.entries(now=10.0, kind="ip")] == ["new"]
    assert store.purge(now=10.0) == 1


def test_unknown_kind_is_refused() -> None:
    """An entry of an unknown identifier kind is a user error."""
    with pytest.raises(UserError, match="unknown identifier kind"):
        MemoryListStore().add(entry(kind="mac"))


def test_entry_round_trips_as_dict() -> None:
    """An entry survives to_dict/from_dict unchanged."""
    original = entry(attack_type="probing", risk=3.5, evidence={"rule": "decoy"})
    assert ListEntry.from_dict(original.to_dict()) == original
