"""Diffing bundles: manifest fields, files, and readable changes inside JSON/YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apibehave.bundle import BundleError, diff_bundles, pack_bundle, reseal_bundle, write_bundle
from apibehave.bundle.diff import ValueChange, render_path, structural_diff

FIELDS = {
    "bundle_id": "diff-1",
    "params_hash": "sha256:params",
    "feature_spec_hash": "sha256:features",
    "training_data_digest": "sha256:data",
    "created_at": "2026-11-22T00:00:00Z",
}
THRESHOLDS = {
    "login": {"rate_1m": {"normal": 10, "extreme": 40}},
    "orders": {"bytes_out": {"normal": 1e6, "extreme": 5e6}},
}


def make(path: Path, files: dict | None = None, **fields: object) -> Path:
    """Write a bundle with the default thresholds unless told otherwise."""
    payload = {"thresholds.json": THRESHOLDS, "models/m.onnx": b"\x08\x01"}
    payload.update(files or {})
    return write_bundle(
        path,
        {k: v for k, v in payload.items() if v is not None},
        {**FIELDS, "apis": {"login": {"status": "learning"}}, **fields},
    )


def test_identical_bundles_have_no_differences(tmp_path):
    """Two bundles written from the same inputs differ in nothing."""
    diff = diff_bundles(make(tmp_path / "a"), make(tmp_path / "b"))
    assert diff.identical
    assert diff.render().endswith("no differences")


def test_diff_shows_a_changed_threshold(tmp_path):
    """A changed threshold is shown with its API, feature, old and new value."""
    changed = json.loads(json.dumps(THRESHOLDS))
    changed["login"]["rate_1m"]["extreme"] = 55
    diff = diff_bundles(
        make(tmp_path / "a"), make(tmp_path / "b", {"thresholds.json": changed}, bundle_id="diff-2")
    )
    (file_change,) = diff.files
    assert file_change.name == "thresholds.json" and file_change.kind == "changed"
    assert [v.render() for v in file_change.values] == ["login.rate_1m.extreme: 40 -> 55"]
    assert "  ~ thresholds.json\n      login.rate_1m.extreme: 40 -> 55" in diff.render()
    assert [c.render() for c in diff.manifest] == ['bundle_id: "diff-1" -> "diff-2"']


def test_diff_after_a_hand_edit_shows_the_edit_record(tmp_path):
    """Diffing a bundle against its re-sealed self shows the threshold and the edit record."""
    original = make(tmp_path / "a")
    archive = pack_bundle(original)
    path = original / "thresholds.json"
    path.write_text(path.read_text().replace("40", "45"))
    reseal_bundle(original)
    diff = diff_bundles(archive, original)
    rendered = diff.render()
    assert "login.rate_1m.extreme: 40 -> 45" in rendered
    assert "edited_by_hand: false -> true" in rendered
    assert "hand_edits[0]: added" in rendered


def test_diff_shows_added_removed_and_binary_files(tmp_path):
    """Files added, removed and changed are listed; binary changes carry no value diff."""
    old = make(tmp_path / "a", {"old.json": {"x": 1}})
    new = make(tmp_path / "b", {"old.json": None, "new.yaml": {"y": 2}, "models/m.onnx": b"\x08"})
    diff = diff_bundles(old, new)
    assert [(c.kind, c.name) for c in diff.files] == [
        ("changed", "models/m.onnx"),
        ("added", "new.yaml"),
        ("removed", "old.json"),
    ]
    assert diff.files[0].values == ()
    assert "  + new.yaml" in diff.render() and "  - old.json" in diff.render()


def test_diff_shows_api_status_changes(tmp_path):
    """A change of an API's status in the manifest is shown by its path."""
    old = make(tmp_path / "a")
    new = make(tmp_path / "b", apis={"login": {"status": "ready"}, "orders": {"status": "ready"}})
    rendered = [c.render() for c in diff_bundles(old, new).manifest]
    assert rendered == [
        'apis.login.status: "learning" -> "ready"',
        'apis.orders: added {"status": "ready"}',
    ]


def test_diff_as_json(tmp_path):
    """The diff converts to JSON data with paths, kinds and values."""
    changed = {**THRESHOLDS, "login": {"rate_1m": {"normal": 10}}}
    diff = diff_bundles(make(tmp_path / "a"), make(tmp_path / "b", {"thresholds.json": changed}))
    data = json.loads(json.dumps(diff.to_dict()))
    assert data["identical"] is False
    assert data["files"][0]["values"] == [
        {"path": "login.rate_1m.extreme", "kind": "removed", "old": 40, "new": None}
    ]


def test_diff_refuses_a_tampered_bundle(tmp_path):
    """Both sides are verified: a tampered bundle cannot be diffed."""
    good, bad = make(tmp_path / "a"), make(tmp_path / "b")
    (bad / "models" / "m.onnx").write_bytes(b"\x08\x02")
    with pytest.raises(BundleError, match=r"checksum mismatch: models/m\.onnx"):
        diff_bundles(good, bad)


def test_structural_diff_of_lists_and_types():
    """Lists compare item by item, extra items are added or removed, types matter."""
    changes = structural_diff({"a": [1, 2, 3], "b": 1}, {"a": [1, 5], "b": "1"})
    assert changes == [
        ValueChange(("a", 1), "changed", 2, 5),
        ValueChange(("a", 2), "removed", old=3),
        ValueChange(("b",), "changed", 1, "1"),
    ]


def test_paths_render_unusual_keys_unambiguously():
    """Keys with dots or spaces are quoted; list indexes are bracketed."""
    assert render_path(("login", "p99.9", 0, "a b")) == 'login["p99.9"][0]["a b"]'
    assert render_path(()) == "(top level)"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-100, 100) | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(old=json_values, new=json_values)
def test_structural_diff_is_empty_exactly_when_equal(old, new):
    """Two JSON values have no differences if and only if they are equal."""
    assert (structural_diff(old, new) == []) == (json.dumps(old) == json.dumps(new))
