"""Marked calls per address in a sliding window: batch and live count alike."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from apibehave.engine.strikes import StrikeCounter, strike_counts

S = 1_000_000_000


def test_counts_only_marked_calls_of_the_same_address_in_the_window() -> None:
    """Marked calls 0, 5 and 20 s of one address with a 10 s window count 1, 2, 1."""
    codes = np.array([0, 0, 1, 0, 0])
    ts = np.array([0, 5, 6, 9, 20]) * S
    marked = np.array([True, True, True, False, True])
    assert strike_counts(codes, ts, marked, 10 * S).tolist() == [1, 2, 1, 0, 1]


def test_a_call_exactly_one_window_later_no_longer_counts_the_first() -> None:
    """The window is (t - W, t]: a strike W seconds old has left it."""
    counts = strike_counts(np.array([3, 3]), np.array([0, 10 * S]), np.array([True, True]), 10 * S)
    assert counts.tolist() == [1, 1]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 60), st.booleans()), min_size=1, max_size=80
    )
)
def test_live_counter_equals_the_batch_count(calls) -> None:
    """Fed in time order (ties in input order), the live counter gives the batch numbers."""
    codes = np.array([c for c, _, _ in calls])
    ts = np.array([t for _, t, _ in calls]) * S
    marked = np.array([m for _, _, m in calls])
    batch = strike_counts(codes, ts, marked, 15 * S)
    counter = StrikeCounter(15)
    live = np.zeros(len(calls), dtype=np.int64)
    for i in np.argsort(ts, kind="stable"):
        if marked[i]:
            live[i] = counter.strike(str(codes[i]), int(ts[i]))
    assert live.tolist() == batch.tolist()


def test_counter_forgets_the_least_recent_address_beyond_its_cap() -> None:
    """State stays bounded: a third address evicts the least recently struck."""
    counter = StrikeCounter(60, max_addresses=2)
    for address in ("a", "b", "c"):
        counter.strike(address, 0)
    assert len(counter) == 2 and counter.strike("a", S) == 1
