"""The streaming engine alone: request/response halves, bounded memory, eviction."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from apibehave.features import FeatureSet, FeatureSpec, StreamingFeatures, Vocabulary

T0 = 1_772_323_200 * 10**9  # 2026-03-01 UTC, epoch ns
S = 10**9

FEATURES = FeatureSet(
    (
        FeatureSpec("n", "ip", "global", 60, "count"),
        FeatureSpec("err", "ip", "global", 60, "ratio", where="status_error"),
        FeatureSpec("out_max", "ip", "global", 60, "max", "resp_bytes"),
        FeatureSpec("tok_n", "token", "api", 10, "count"),
    )
)


def call(t: float, ip: str = "1.1.1.1", **extra) -> dict:
    """One request at ``t`` seconds after T0."""
    return {"ts": T0 + int(t * S), "client_ip": ip, "method": "GET", "path": "/a", **extra}


def engine(**options) -> StreamingFeatures:
    """A streaming engine over the small feature set."""
    return StreamingFeatures(FEATURES, Vocabulary(), **options)


def test_response_counts_only_after_it_arrives() -> None:
    """A call's status enters the error ratio of the calls that come after its response."""
    features = engine()
    assert features.on_request(call(0), handle="a")[1] == 0.0
    second = features.on_request(call(1), handle="b")
    assert second[1] == 0.0  # the first response has not arrived yet
    assert features.on_response("a", 500, 10)
    third = features.on_request(call(2), handle="c")
    assert third[1] == pytest.approx(1.0)  # one known response, an error
    assert third[2] == 10.0


def test_out_of_order_responses_keep_the_max_exact() -> None:
    """Responses that come back in another order still give the exact windowed maximum."""
    features = engine()
    for i, handle in enumerate("abc"):
        features.on_request(call(i), handle=handle)
    features.on_response("c", 200, 5)
    features.on_response("a", 200, 9)
    features.on_response("b", 200, 7)
    assert features.on_request(call(3))[2] == 9.0
    assert features.on_request(call(60.5))[2] == 7.0  # the first call left the window


def test_unknown_or_repeated_handles_are_ignored() -> None:
    """A response for an unknown handle, or a second one, changes nothing and says so."""
    features = engine()
    features.on_request(call(0), handle="a")
    assert not features.on_response("zzz", 500)
    assert features.on_response("a", 500)
    assert not features.on_response("a", 500)


def test_missing_identifier_gives_nan_for_its_kind_only() -> None:
    """A call without a token has NaN token features and real IP features."""
    vector = engine().on_request(call(0))
    assert vector[0] == 1.0
    assert np.isnan(vector[3])


def test_idle_identifiers_expire_after_the_longest_window() -> None:
    """States of identifiers idle longer than their longest window are dropped."""
    features = engine()
    for i in range(100):
        features.on_request(call(i * 0.01, ip=f"10.0.0.{i}"))
    assert features.tracked_identifiers()["ip/global"] == 100
    for i in range(3):
        features.on_request(call(1000 + i, ip=f"10.9.9.{i}"))
    for i in range(60):
        features.on_request(call(1010 + i, ip=f"10.8.8.{i}"))
    assert features.tracked_identifiers()["ip/global"] <= 63


def test_cap_evicts_least_recently_active_and_it_restarts_empty() -> None:
    """Beyond max_identifiers the least recently active identifier is evicted and restarts."""
    features = engine(max_identifiers=2)
    features.on_request(call(0, ip="a"))
    features.on_request(call(1, ip="b"))
    features.on_request(call(2, ip="a"))  # b is now the least recently active
    features.on_request(call(3, ip="c"))  # evicts b
    assert features.tracked_identifiers()["ip/global"] == 2
    assert features.on_request(call(4, ip="a"))[0] == 3.0
    assert features.on_request(call(5, ip="b"))[0] == 1.0  # evicted: history lost


def test_pending_responses_are_bounded() -> None:
    """Beyond max_pending the oldest waiting request is forgotten first."""
    features = engine(max_pending=2)
    for handle in "abc":
        features.on_request(call(0), handle=handle)
    assert not features.on_response("a", 200)
    assert features.on_response("b", 200)
    assert features.on_response("c", 200)


def test_a_clock_stepping_back_is_taken_at_the_latest_time() -> None:
    """A call earlier than the latest seen is counted at the latest time, not in the past."""
    features = engine()
    features.on_request(call(100))
    assert features.on_request(call(30))[0] == 2.0


def test_datetimes_are_accepted_for_ts() -> None:
    """``ts`` may be an aware datetime instead of epoch nanoseconds."""
    features = engine()
    first = dict(call(0), ts=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    second = dict(call(0), ts=dt.datetime(2026, 3, 1, 0, 0, 30, tzinfo=dt.UTC))
    features.on_request(first)
    assert features.on_request(second)[0] == 2.0


def test_generated_code_is_readable_python() -> None:
    """The per-group code the engine runs is kept for reading, one step per group."""
    source = engine().generated_source
    assert source.count("def step(") == 2
    assert "# ip/global" in source
