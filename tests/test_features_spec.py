"""Feature declarations: validation, the side of the call they read, the stable hash."""

from __future__ import annotations

import json

import pytest

from apibehave.features import DEFAULT_FEATURE_SET, FeatureSet, FeatureSpec, FeatureSpecError
from apibehave.features.derive import REQUEST_PREDICATE_FUNCTIONS, RESPONSE_PREDICATE_FUNCTIONS
from apibehave.features.spec import IDENTIFIER_KINDS, PREDICATES


def test_predicate_registry_matches_the_judging_functions() -> None:
    """Every declared predicate is judged by a function of its own side, and only those."""
    request = {name for name, side in PREDICATES.items() if side == "request"}
    response = {name for name, side in PREDICATES.items() if side == "response"}
    assert request == set(REQUEST_PREDICATE_FUNCTIONS)
    assert response == set(RESPONSE_PREDICATE_FUNCTIONS)


@pytest.mark.parametrize(
    ("spec", "side"),
    [
        (FeatureSpec("a", "ip", "api", 60, "count"), "request"),
        (FeatureSpec("b", "ip", "api", 60, "ratio", where="status_4xx"), "response"),
        (FeatureSpec("c", "ip", "api", 60, "sum", "resp_bytes"), "response"),
        (FeatureSpec("d", "ip", "api", 60, "max", "req_bytes"), "request"),
        (FeatureSpec("e", "ip", "api", 60, "distinct", "username", where="login"), "request"),
        (
            FeatureSpec("f", "ip", "api", 60, "distinct", "username", where="login_failure"),
            "response",
        ),
        (FeatureSpec("g", "ip", "api", 60, "novelty", "sequence"), "request"),
    ],
)
def test_side_follows_from_columns_and_predicates(spec: FeatureSpec, side: str) -> None:
    """A feature reads the response side exactly when a column or predicate it uses does."""
    assert spec.side == side


@pytest.mark.parametrize(
    "kwargs",
    [
        {"identifier": "mac"},
        {"scope": "world"},
        {"window_s": 0},
        {"window_s": 1.5},
        {"aggregation": "median"},
        {"aggregation": "ratio"},
        {"aggregation": "sum", "column": "status"},
        {"aggregation": "distinct", "column": "body"},
        {"aggregation": "count", "column": "endpoint"},
        {"aggregation": "max", "column": "req_bytes", "where": "login"},
        {"aggregation": "novelty", "column": "sequence", "scope": "global"},
        {"where": "is_admin"},
    ],
)
def test_invalid_declarations_are_refused_with_the_feature_name(kwargs: dict) -> None:
    """A declaration the engines cannot compute is refused, naming the feature."""
    base = {
        "name": "bad_one",
        "identifier": "ip",
        "scope": "api",
        "window_s": 60,
        "aggregation": "count",
    }
    with pytest.raises(FeatureSpecError, match="bad_one"):
        FeatureSpec(**{**base, **kwargs})


def test_duplicate_names_are_refused() -> None:
    """Two features with one name cannot form a set."""
    spec = FeatureSpec("n", "ip", "api", 60, "count")
    with pytest.raises(FeatureSpecError, match="twice"):
        FeatureSet((spec, spec))


def test_declaration_round_trips_through_json_with_the_same_hash() -> None:
    """A feature set written as JSON and read back is equal and hashes the same."""
    text = json.dumps(DEFAULT_FEATURE_SET.to_dict())
    again = FeatureSet.from_dict(json.loads(text))
    assert again == DEFAULT_FEATURE_SET
    assert again.spec_hash == DEFAULT_FEATURE_SET.spec_hash


def test_hash_changes_with_any_part_of_the_declaration() -> None:
    """Changing a window, the order of features or the bigram gap changes the hash."""
    features = DEFAULT_FEATURE_SET.features
    first = features[0]
    longer = FeatureSpec(
        first.name,
        first.identifier,
        first.scope,
        first.window_s + 1,
        first.aggregation,
        first.column,
        first.where,
    )
    variants = [
        FeatureSet((longer, *features[1:])),
        FeatureSet((features[1], features[0], *features[2:])),
        FeatureSet(features, sequence_gap_s=DEFAULT_FEATURE_SET.sequence_gap_s + 1),
    ]
    hashes = {v.spec_hash for v in variants} | {DEFAULT_FEATURE_SET.spec_hash}
    assert len(hashes) == 4


DEFAULT_SPEC_HASH = "a937902d839b0c5483f4e87848eacd8aa9b7440af0eb94fdcab6db347b360d79"


def test_hash_is_pinned_for_the_default_set() -> None:
    """The default set's hash is pinned: changing it breaks old bundles, so it is deliberate."""
    assert DEFAULT_FEATURE_SET.spec_hash == DEFAULT_SPEC_HASH


def test_a_declared_side_that_disagrees_is_refused() -> None:
    """Reading a declaration whose stated side is wrong fails instead of guessing."""
    data = FeatureSpec("e", "ip", "api", 60, "ratio", where="status_5xx").to_dict()
    data["side"] = "request"
    with pytest.raises(FeatureSpecError, match="side"):
        FeatureSpec.from_dict(data)


def test_unknown_format_version_is_refused() -> None:
    """A declaration from another format version is refused with a clear message."""
    data = DEFAULT_FEATURE_SET.to_dict()
    data["format_version"] = 99
    with pytest.raises(FeatureSpecError, match="format"):
        FeatureSet.from_dict(data)


def test_default_set_covers_every_identifier_and_stays_small() -> None:
    """The default set reads all five identifier kinds with a few dozen features."""
    assert DEFAULT_FEATURE_SET.identifier_kinds == list(IDENTIFIER_KINDS)
    assert 30 <= len(DEFAULT_FEATURE_SET) <= 60
    aggregations = {s.aggregation for s in DEFAULT_FEATURE_SET}
    assert {"count", "ratio", "distinct", "sum", "max", "novelty"} <= aggregations
    assert {"interarrival_mean", "interarrival_min", "interarrival_cv"} <= aggregations
