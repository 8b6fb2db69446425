"""Features computed by hand on tiny logs, through both engines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from apibehave.features import (
    FeatureContext,
    FeatureSet,
    FeatureSpec,
    StreamingFeatures,
    Vocabulary,
    compute_features,
    prepare_events,
)
from apibehave.features.vocabulary import vocabulary_from_lists
from apibehave.schema import normalize_events

T0 = pd.Timestamp("2026-03-01T00:00:00Z")


def log(*calls: dict) -> pd.DataFrame:
    """Canonical events from short dicts: ``t`` (seconds from T0) and any columns."""
    rows = []
    for call in calls:
        row = {"client_ip": "1.1.1.1", "method": "GET", "path": "/a", "status": 200, "api": "x"}
        row.update({k: v for k, v in call.items() if k != "t"})
        row["ts"] = T0 + pd.Timedelta(seconds=call["t"])
        rows.append(row)
    return normalize_events(pd.DataFrame(rows))


def both(
    events: pd.DataFrame,
    *specs: FeatureSpec,
    vocabulary: Vocabulary | None = None,
    login: dict | None = None,
) -> pd.DataFrame:
    """Compute with both engines, check they agree, return the batch frame."""
    feature_set = FeatureSet(specs)
    vocabulary = vocabulary or Vocabulary()
    context = FeatureContext(login or {})
    batch = compute_features(prepare_events(events, context), feature_set, vocabulary)
    engine = StreamingFeatures(feature_set, vocabulary, login_paths=context.login_paths)
    order = np.argsort(events["ts"].to_numpy(), kind="stable")
    records = events.iloc[order].to_dict("records")
    streamed = np.empty_like(batch.to_numpy())
    streamed[order] = engine.replay(records)
    np.testing.assert_allclose(batch.to_numpy(), streamed, rtol=1e-12, atol=0, equal_nan=True)
    return batch


def test_count_window_excludes_its_lower_bound() -> None:
    """A 10 s count holds calls in (t - 10 s, t]: one exactly 10 s earlier is out."""
    events = log({"t": 0}, {"t": 5}, {"t": 10}, {"t": 10.5})
    out = both(events, FeatureSpec("n", "ip", "global", 10, "count"))
    assert out["n"].tolist() == [1, 2, 2, 3]


def test_ties_count_earlier_rows_only() -> None:
    """Calls at the same instant are taken in input order: each sees the ones before it."""
    events = log({"t": 1}, {"t": 1}, {"t": 1})
    out = both(events, FeatureSpec("n", "ip", "global", 60, "count"))
    assert out["n"].tolist() == [1, 2, 3]


def test_unsorted_input_is_taken_in_time_order_and_answered_in_input_order() -> None:
    """Rows out of time order get the features of their time position, in their own row."""
    events = log({"t": 30}, {"t": 10}, {"t": 20})
    out = both(events, FeatureSpec("n", "ip", "global", 60, "count"))
    assert out["n"].tolist() == [3, 1, 2]


def test_response_side_ratio_leaves_out_the_call_itself() -> None:
    """An error ratio reads only earlier calls' statuses; its own status counts later."""
    events = log({"t": 0, "status": 500}, {"t": 1, "status": 200}, {"t": 2, "status": 404})
    spec = FeatureSpec("e", "ip", "global", 60, "ratio", where="status_error")
    out = both(events, spec)
    assert out["e"].tolist() == [0.0, 1.0, 0.5]


def test_scope_api_separates_apis_and_null_api_is_its_own() -> None:
    """Per-API counts keep APIs apart; calls without an API share the unknown API."""
    events = log(
        {"t": 0, "api": "x"},
        {"t": 1, "api": "y"},
        {"t": 2},
        {"t": 3, "api": None},
        {"t": 4, "api": None},
    )
    out = both(events, FeatureSpec("n", "ip", "api", 60, "count"))
    assert out["n"].tolist() == [1, 1, 2, 1, 2]


def test_null_and_empty_identifiers_give_nan() -> None:
    """A call without a token has NaN token features and does not feed other calls'."""
    events = log({"t": 0, "token": "a"}, {"t": 1}, {"t": 2, "token": ""}, {"t": 3, "token": "a"})
    out = both(events, FeatureSpec("n", "token", "global", 60, "count"))
    assert out["n"].iloc[[0, 3]].tolist() == [1, 2]
    assert out["n"].iloc[[1, 2]].isna().all()


def test_distinct_object_ids_and_endpoints() -> None:
    """Distinct counts see templates and ids, and drop values that left the window."""
    events = log(
        {"t": 0, "path": "/u/1"},
        {"t": 1, "path": "/u/2"},
        {"t": 2, "path": "/u/1"},
        {"t": 3, "path": "/items"},
        {"t": 12, "path": "/u/3"},
    )
    out = both(
        events,
        FeatureSpec("ids", "ip", "api", 10, "distinct", "object_id"),
        FeatureSpec("eps", "ip", "api", 10, "distinct", "endpoint"),
    )
    assert out["ids"].tolist() == [1, 2, 2, 2, 1]
    assert out["eps"].tolist() == [1, 1, 1, 2, 2]


def test_login_failures_and_usernames_tried() -> None:
    """Login failures count 4xx answers to login calls; usernames tried count at request."""
    events = log(
        {"t": 0, "path": "/login", "method": "POST", "username": "a", "status": 401},
        {"t": 1, "path": "/login", "method": "POST", "username": "b", "status": 401},
        {"t": 2, "path": "/other", "username": "c", "status": 404},
        {"t": 3, "path": "/login", "method": "POST", "username": "b", "status": 200},
    )
    out = both(
        events,
        FeatureSpec("fail", "ip", "api", 60, "count", where="login_failure"),
        FeatureSpec("users", "ip", "api", 60, "distinct", "username", where="login"),
        login={"x": ["/login"]},
    )
    assert out["fail"].tolist() == [0, 1, 2, 2]
    assert out["users"].tolist() == [1, 2, 2, 2]


def test_distinct_ips_per_token_across_apis() -> None:
    """A token's distinct IPs count every API when the scope is global."""
    events = log(
        {"t": 0, "token": "t", "client_ip": "1", "api": "x"},
        {"t": 1, "token": "t", "client_ip": "2", "api": "y"},
        {"t": 2, "token": "t", "client_ip": "1", "api": "y"},
    )
    out = both(events, FeatureSpec("ips", "token", "global", 60, "distinct", "client_ip"))
    assert out["ips"].tolist() == [1, 2, 2]


def test_bytes_sum_and_max_by_side() -> None:
    """Request bytes count the call itself; response bytes only earlier calls."""
    events = log(
        {"t": 0, "req_bytes": 10, "resp_bytes": 100},
        {"t": 1, "req_bytes": 30, "resp_bytes": 50},
        {"t": 2, "req_bytes": 20, "resp_bytes": 70},
    )
    out = both(
        events,
        FeatureSpec("in_sum", "ip", "global", 60, "sum", "req_bytes"),
        FeatureSpec("in_max", "ip", "global", 60, "max", "req_bytes"),
        FeatureSpec("out_sum", "ip", "global", 60, "sum", "resp_bytes"),
        FeatureSpec("out_max", "ip", "global", 60, "max", "resp_bytes"),
    )
    assert out["in_sum"].tolist() == [10, 40, 60]
    assert out["in_max"].tolist() == [10, 30, 30]
    assert out["out_sum"].tolist() == [0, 100, 150]
    assert out["out_max"].tolist() == [0, 100, 100]


def test_method_counts() -> None:
    """DELETE and write-method counts include the call's own method."""
    events = log(
        {"t": 0, "method": "DELETE"},
        {"t": 1, "method": "put"},
        {"t": 2, "method": "GET"},
        {"t": 3, "method": "DELETE"},
    )
    out = both(
        events,
        FeatureSpec("del", "ip", "global", 60, "count", where="method_delete"),
        FeatureSpec("write", "ip", "global", 60, "ratio", where="method_write"),
    )
    assert out["del"].tolist() == [1, 1, 1, 2]
    assert out["write"].tolist() == [1.0, 1.0, 2 / 3, 3 / 4]


def test_interarrival_statistics() -> None:
    """Gaps are whole milliseconds between calls inside the window; none gives the window."""
    events = log({"t": 0}, {"t": 1}, {"t": 3}, {"t": 3.0005}, {"t": 100})
    out = both(
        events,
        FeatureSpec("mean", "ip", "global", 60, "interarrival_mean"),
        FeatureSpec("min", "ip", "global", 60, "interarrival_min"),
        FeatureSpec("cv", "ip", "global", 60, "interarrival_cv"),
    )
    assert out["mean"].tolist() == [60000.0, 1000.0, 1500.0, 1000.0, 60000.0]
    assert out["min"].tolist() == [60000.0, 1000.0, 1000.0, 0.0, 60000.0]
    gaps = np.array([1000.0, 2000.0, 0.0])
    expected_cv = math.sqrt((gaps**2).mean() - gaps.mean() ** 2) / gaps.mean()
    assert out["cv"].iloc[3] == pytest.approx(expected_cv, rel=1e-12)
    assert out["cv"].iloc[[0, 1, 4]].tolist() == [0.0, 0.0, 0.0]


def test_endpoint_and_query_novelty_against_vocabulary() -> None:
    """Novelty is the share of calls whose template or a query name is unknown to the API."""
    vocabulary = vocabulary_from_lists({"x": {"endpoints": ["/u/{id}"], "query_names": ["p"]}})
    events = log(
        {"t": 0, "path": "/u/1", "query": "p=1"},
        {"t": 1, "path": "/admin", "query": "p=2&debug=1"},
        {"t": 2, "path": "/u/2"},
        {"t": 3, "path": "/u/3", "api": "other"},
    )
    out = both(
        events,
        FeatureSpec("path", "ip", "api", 60, "novelty", "endpoint"),
        FeatureSpec("query", "ip", "api", 60, "novelty", "query"),
        vocabulary=vocabulary,
    )
    assert out["path"].tolist() == [0.0, 0.5, 1 / 3, 1.0]
    assert out["query"].tolist() == [0.0, 0.5, 1 / 3, 0.0]


def test_sequence_novelty_uses_bigrams_within_the_gap() -> None:
    """A bigram unknown to the API is novel; a call after a long pause starts afresh."""
    vocabulary = vocabulary_from_lists({"x": {"bigrams": [["/a", "/b"]]}})
    events = log(
        {"t": 0, "path": "/a"},
        {"t": 1, "path": "/b"},
        {"t": 2, "path": "/c"},
        {"t": 5000, "path": "/a"},
    )
    feature_set_gap = 60
    spec = FeatureSpec("seq", "ip", "api", 10, "novelty", "sequence")
    feature_set = FeatureSet((spec,), sequence_gap_s=feature_set_gap)
    prepared = prepare_events(events)
    out = compute_features(prepared, feature_set, vocabulary)
    assert out["seq"].tolist() == [0.0, 0.0, 1 / 3, 0.0]
    streamed = StreamingFeatures(feature_set, vocabulary).replay(events.to_dict("records"))
    assert streamed[:, 0].tolist() == out["seq"].tolist()


def test_fitted_vocabulary_learns_endpoints_names_and_bigrams() -> None:
    """Fitting on training events learns each API's templates, query names and bigrams."""
    events = log(
        {"t": 0, "path": "/u/1", "query": "a=1&b"},
        {"t": 1, "path": "/items"},
        {"t": 2, "path": "/x", "api": "y"},
    )
    feature_set = FeatureSet(
        (FeatureSpec("seq", "ip", "api", 10, "novelty", "sequence"),), sequence_gap_s=60
    )
    vocabulary = Vocabulary.fit(prepare_events(events), feature_set)
    x = vocabulary.for_api("x")
    assert x.endpoints == {"/u/{id}", "/items"}
    assert x.query_names == {"a", "b"}
    assert x.bigrams == {("/u/{id}", "/items")}
    assert vocabulary.for_api("y").bigrams == frozenset()
    assert Vocabulary.from_json(vocabulary.to_json()) == vocabulary
