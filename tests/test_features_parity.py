"""The batch and streaming engines give the same numbers, and both are causal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibehave.features import (
    DEFAULT_FEATURE_SET,
    FeatureContext,
    FeatureSet,
    FeatureSpec,
    StreamingFeatures,
    Vocabulary,
    compute_features,
    prepare_events,
)
from apibehave.features.synthetic import LOGIN_PATH, synthetic_events
from apibehave.schema import normalize_events

T0 = pd.Timestamp("2026-03-01T00:00:00Z").value
PATHS = ["/login", "/u/1", "/u/2", "/u/3", "/items", "/items/abc123def4567890", "/search"]
LOGIN = {"x": ["/login"], "(unknown)": ["/login"]}

SHORT_WINDOW_SET = FeatureSet(
    tuple(
        FeatureSpec(
            s.name,
            s.identifier,
            s.scope,
            max(1, s.window_s // 60),
            s.aggregation,
            s.column,
            s.where,
        )
        for s in DEFAULT_FEATURE_SET
    ),
    sequence_gap_s=20,
)
"""The default features with windows shrunk 60 times, so that short logs slide them."""


def streamed_in_input_order(
    events: pd.DataFrame, feature_set: FeatureSet, vocabulary: Vocabulary, **options
) -> np.ndarray:
    """Run the streaming engine in time order (ties in input order), rows in input order."""
    order = np.argsort(events["ts"].to_numpy(), kind="stable")
    records = events.iloc[order].to_dict("records")
    engine = StreamingFeatures(feature_set, vocabulary, login_paths=LOGIN, **options)
    out = np.empty((len(events), len(feature_set)))
    out[order] = engine.replay(records)
    return out


def batch(events: pd.DataFrame, feature_set: FeatureSet, vocabulary: Vocabulary) -> np.ndarray:
    """Run the batch engine."""
    prepared = prepare_events(events, FeatureContext(LOGIN))
    return compute_features(prepared, feature_set, vocabulary).to_numpy()


def assert_same(a: np.ndarray, b: np.ndarray, names: list[str]) -> None:
    """Equal to floating-point tolerance, NaN where the other is NaN; names the feature."""
    close = np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
    if not close.all():
        row, col = np.argwhere(~close)[0]
        raise AssertionError(f"{names[col]} differs at row {row}: {a[row, col]} vs {b[row, col]}")


def learned_vocabulary(events: pd.DataFrame, feature_set: FeatureSet) -> Vocabulary:
    """A vocabulary learned on the first half of a log (the rest can be novel)."""
    half = events.iloc[: len(events) // 2].reset_index(drop=True)
    return Vocabulary.fit(prepare_events(half, FeatureContext(LOGIN)), feature_set)


maybe = st.one_of(st.none(), st.just(""), st.sampled_from(["a", "b", "c"]))
call = st.fixed_dictionaries(
    {
        "gap_ms": st.one_of(
            st.sampled_from([0, 500, 1_000, 10_000, 60_000, 600_000]),  # window edges, ties
            st.integers(0, 2_000),
            st.integers(0, 90_000),
            st.integers(0, 4_000_000),  # gaps longer than every window
        ),
        "client_ip": st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
        "method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
        "path": st.sampled_from(PATHS),
        "status": st.sampled_from([0, 200, 201, 400, 401, 403, 404, 429, 500, 503]),
        "api": st.sampled_from(["x", "y", None]),
        "query": st.sampled_from([None, "", "a=1", "a=1&b=2", "zz", "b=&c=3"]),
        "req_bytes": st.integers(0, 10_000),
        "resp_bytes": st.integers(0, 10_000_000),
        "user_agent": maybe,
        "token": maybe,
        "cookie": maybe,
        "api_key": maybe,
        "username": maybe,
    }
)


def events_from(calls: list[dict], shuffle_seed: int | None) -> pd.DataFrame:
    """Canonical events from drawn calls (times from cumulative gaps, optionally shuffled)."""
    frame = pd.DataFrame(calls)
    frame["ts"] = pd.to_datetime(T0 + frame.pop("gap_ms").cumsum() * 1_000_000, utc=True)
    if shuffle_seed is not None:
        frame = frame.sample(frac=1.0, random_state=shuffle_seed).reset_index(drop=True)
    return normalize_events(frame)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    calls=st.lists(call, min_size=1, max_size=60), shuffle=st.one_of(st.none(), st.integers(0, 9))
)
def test_engines_agree_on_generated_logs(calls: list[dict], shuffle: int | None) -> None:
    """Batch and streaming features are equal on any log: nulls, ties, bursts, long gaps."""
    events = events_from(calls, shuffle)
    for feature_set in (SHORT_WINDOW_SET, DEFAULT_FEATURE_SET):
        vocabulary = learned_vocabulary(events, feature_set)
        assert_same(
            batch(events, feature_set, vocabulary),
            streamed_in_input_order(events, feature_set, vocabulary),
            feature_set.names,
        )


def test_engines_agree_on_a_realistic_log() -> None:
    """Batch and streaming features are equal on a 20,000-call synthetic log."""
    events = synthetic_events(20_000, duration_s=3 * 3600, seed=7)
    login = {"auth": [LOGIN_PATH]}
    prepared = prepare_events(events, FeatureContext(login))
    vocabulary = Vocabulary.fit(prepared.iloc[:8000].reset_index(drop=True), DEFAULT_FEATURE_SET)
    expected = compute_features(prepared, DEFAULT_FEATURE_SET, vocabulary).to_numpy()
    engine = StreamingFeatures(DEFAULT_FEATURE_SET, vocabulary, login_paths=login)
    assert_same(expected, engine.replay(events.to_dict("records")), DEFAULT_FEATURE_SET.names)
    assert (expected[:, DEFAULT_FEATURE_SET.names.index("ip_endpoint_novelty_10m")] >= 0).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(call, min_size=2, max_size=40), cut=st.integers(1, 39))
def test_appending_future_calls_never_changes_earlier_features(calls: list[dict], cut: int) -> None:
    """The features of a prefix of a log are the same with or without the calls after it."""
    events = events_from(calls, None)
    cut = min(cut, len(events) - 1)
    vocabulary = Vocabulary()
    whole = batch(events, SHORT_WINDOW_SET, vocabulary)
    prefix = batch(events.iloc[:cut].reset_index(drop=True), SHORT_WINDOW_SET, vocabulary)
    assert_same(whole[:cut], prefix, SHORT_WINDOW_SET.names)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(call, min_size=1, max_size=40), data=st.data())
def test_a_call_response_never_changes_its_own_features(calls: list[dict], data) -> None:
    """Changing one call's status and response size leaves that call's features as they were."""
    events = events_from(calls, None)
    row = data.draw(st.integers(0, len(events) - 1))
    changed = events.copy()
    changed.loc[row, "status"] = 500 if events.loc[row, "status"] != 500 else 401
    changed.loc[row, "resp_bytes"] = events.loc[row, "resp_bytes"] + 12345
    vocabulary = Vocabulary()
    names = SHORT_WINDOW_SET.names
    assert_same(
        batch(events, SHORT_WINDOW_SET, vocabulary)[: row + 1],
        batch(changed, SHORT_WINDOW_SET, vocabulary)[: row + 1],
        names,
    )
    streamed = streamed_in_input_order(changed, SHORT_WINDOW_SET, vocabulary)
    assert_same(batch(events, SHORT_WINDOW_SET, vocabulary)[: row + 1], streamed[: row + 1], names)


def test_engines_agree_on_simulated_traffic() -> None:
    """Batch and streaming features are equal on a small simulator run with its catalogue."""
    simulate = pytest.importorskip("apibehave.simulate")
    scenario = simulate.load_scenario(
        {"scale": 0.005, "train_duration_h": 2, "test_duration_h": 2, "seed": 5}
    )
    events = simulate.simulate(scenario, progress=False).events
    events = events.iloc[:30_000].reset_index(drop=True)
    login = {api["name"]: api["login_paths"] for api in simulate.catalogue_dict()["apis"]}
    prepared = prepare_events(events, FeatureContext(login))
    assert prepared["is_login"].any()
    half = prepared.iloc[: len(prepared) // 2].reset_index(drop=True)
    vocabulary = Vocabulary.fit(half, DEFAULT_FEATURE_SET)
    expected = compute_features(prepared, DEFAULT_FEATURE_SET, vocabulary).to_numpy()
    order = np.argsort(events["ts"].to_numpy(), kind="stable")
    engine = StreamingFeatures(DEFAULT_FEATURE_SET, vocabulary, login_paths=login)
    streamed = np.empty_like(expected)
    streamed[order] = engine.replay(events.iloc[order].to_dict("records"))
    assert_same(expected, streamed, DEFAULT_FEATURE_SET.names)


def test_column_order_of_the_declaration_is_kept() -> None:
    """A feature set declared in any order gets its own column order and the same values."""
    events = synthetic_events(3_000, duration_s=1800, seed=11)
    prepared = prepare_events(events, FeatureContext({"auth": [LOGIN_PATH]}))
    vocabulary = Vocabulary.fit(prepared, DEFAULT_FEATURE_SET)
    reversed_set = FeatureSet(
        DEFAULT_FEATURE_SET.features[::-1], DEFAULT_FEATURE_SET.sequence_gap_s
    )
    expected = compute_features(prepared, DEFAULT_FEATURE_SET, vocabulary)
    got = compute_features(prepared, reversed_set, vocabulary)
    assert list(got.columns) == reversed_set.names
    assert_same(expected[reversed_set.names].to_numpy(), got.to_numpy(), reversed_set.names)
