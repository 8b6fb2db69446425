"""Writing, packing and loading bundles: what is written is what is loaded."""

from __future__ import annotations

import hashlib
import json
import pickle
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibehave import __version__
from apibehave.bundle import (
    BUNDLE_FORMAT,
    BundleError,
    Manifest,
    canonical_json_sha256,
    load_bundle,
    pack_bundle,
    verify_bundle,
    write_bundle,
)
from apibehave.common.errors import UserError

FIELDS = {
    "bundle_id": "round-trip-1",
    "params_hash": "sha256:params",
    "feature_spec_hash": "sha256:features",
    "training_data_digest": "sha256:data",
}
THRESHOLDS = {"login": {"rate_1m": {"normal": 12.5, "extreme": 40}}, "orders": {}}
CATALOGUE = {"apis": [{"name": "login", "base_path": "/auth", "hosts": ["a.example"]}]}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def write_sample(out: Path, **fields: object) -> Path:
    return write_bundle(
        out,
        {
            "thresholds.json": THRESHOLDS,
            "apis.yaml": CATALOGUE,
            "notes/readme.txt": "hand-written notes\n",
            "models/raw.onnx": b"\x08\x07fake-onnx-bytes",
        },
        {**FIELDS, **fields},
    )


def test_write_verify_load_round_trip(tmp_path):
    """Every payload reads back exactly as it was given, after verification."""
    bundle = load_bundle(write_sample(tmp_path / "b"))
    assert bundle.names == ["apis.yaml", "models/raw.onnx", "notes/readme.txt", "thresholds.json"]
    assert bundle.read_json("thresholds.json") == THRESHOLDS
    assert bundle.read_yaml("apis.yaml") == CATALOGUE
    assert bundle.read_bytes("notes/readme.txt") == b"hand-written notes\n"
    assert bundle.read_onnx("models/raw.onnx") == b"\x08\x07fake-onnx-bytes"


def test_manifest_records_versions_and_writer_fields(tmp_path):
    """The writer fills in format, creation time (UTC), apibehave and library versions."""
    manifest = verify_bundle(
        write_sample(
            tmp_path / "b",
            apis={"login": {"status": "ready"}, "orders": {"status": "learning"}},
            mlflow_run_id="run-1",
            registry={"model_name": "apibehave", "version": 3, "alias": "champion"},
        )
    )
    assert manifest.bundle_format == BUNDLE_FORMAT
    assert manifest.apibehave_version == __version__
    created = datetime.fromisoformat(manifest.created_at)
    assert created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - created).total_seconds()) < 120
    assert {"python", "numpy", "pandas"} <= set(manifest.libraries)
    assert "onnx" not in manifest.libraries or manifest.libraries["onnx"]
    assert manifest.apis["orders"] == {"status": "learning"}
    assert manifest.registry.version == "3" and manifest.registry.alias == "champion"
    assert manifest.mlflow_run_id == "run-1"
    assert manifest.params_hash == "sha256:params"
    assert not manifest.edited_by_hand


def test_library_versions_follow_the_file_types(tmp_path):
    """scikit-learn and skops are recorded only for a bundle that holds .skops files."""
    plain = verify_bundle(write_sample(tmp_path / "plain"))
    assert "scikit-learn" not in plain.libraries
    with_model = verify_bundle(
        write_bundle(tmp_path / "model", {"m.skops": b"PK\x03\x04x"}, FIELDS)
    )
    assert {"scikit-learn", "skops"} <= set(with_model.libraries)


def test_manifest_lists_every_file_with_its_sum_and_size(tmp_path):
    """Each payload file's SHA-256 and size in the manifest match the file on disk."""
    out = write_sample(tmp_path / "b")
    manifest = verify_bundle(out)
    on_disk = sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.name not in ("manifest.json", "manifest.sha256")
    )
    assert sorted(manifest.files) == on_disk
    for name, entry in manifest.files.items():
        data = (out / name).read_bytes()
        assert entry.size == len(data)
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert (out / "manifest.sha256").read_text() == f"{digest}  manifest.json\n"


def test_thresholds_are_written_as_readable_json(tmp_path):
    """Thresholds are indented JSON a person can read and edit."""
    out = write_sample(tmp_path / "b")
    text = (out / "thresholds.json").read_text()
    assert '\n  "login": {\n' in text
    assert json.loads(text) == THRESHOLDS


def test_existing_bundle_is_kept_unless_forced(tmp_path):
    """Writing over a bundle needs force; with force the new bundle replaces the old."""
    out = write_sample(tmp_path / "b")
    with pytest.raises(UserError, match="already exists"):
        write_sample(out, bundle_id="second")
    assert verify_bundle(out).bundle_id == "round-trip-1"
    write_bundle(out, {"x.json": {}}, {**FIELDS, "bundle_id": "second"}, force=True)
    assert verify_bundle(out).bundle_id == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_failed_write_leaves_nothing_behind(tmp_path):
    """A refused payload leaves no bundle and no temporary directory."""
    with pytest.raises(BundleError, match="pickle-based"):
        write_bundle(tmp_path / "b", {"ok.json": {}, "model.pkl": b"x"}, FIELDS)
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_bundle(tmp_path):
    """A failed forced overwrite leaves the previous bundle intact and verifying."""
    out = write_sample(tmp_path / "b")
    with pytest.raises(BundleError):
        write_bundle(out, {"bad.json": b"{not json"}, FIELDS, force=True)
    assert verify_bundle(out).bundle_id == "round-trip-1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"files": {}}, "set by the writer"),
        ({"bundle_format": 9}, "set by the writer"),
        ({"colour": "blue"}, "unknown manifest field"),
        ({"params_hash": None}, "params_hash"),
    ],
)
def test_writer_refuses_wrong_manifest_fields(tmp_path, fields, message):
    """Unknown, writer-owned or empty manifest fields are refused before writing."""
    with pytest.raises((TypeError, BundleError), match=message):
        write_bundle(tmp_path / "b", {"x.json": {}}, {**FIELDS, **fields})
    assert not (tmp_path / "b").exists()


def test_writer_requires_the_identifying_hashes(tmp_path):
    """A bundle without a feature-spec hash cannot be written."""
    fields = {k: v for k, v in FIELDS.items() if k != "feature_spec_hash"}
    with pytest.raises(TypeError, match="feature_spec_hash"):
        write_bundle(tmp_path / "b", {"x.json": {}}, fields)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("model.pkl", b"data", "pickle-based file refused: model.pkl"),
        ("model.joblib", b"data", "pickle-based file refused: model.joblib"),
        ("notes.txt", pickle.dumps({"a": 1}), "pickle-based file refused: notes.txt"),
        ("../escape.json", {}, "leaving the bundle"),
        ("/abs.json", {}, "absolute path"),
        ("manifest.json", {}, "reserved"),
        ("script.py", b"print()", "unsupported file type"),
        ("m.skops", b"not a zip", "not a skops archive"),
        ("t.json", {"x": float("nan")}, "NaN|JSON"),
    ],
)
def test_writer_refuses_unsafe_payloads(tmp_path, name, content, message):
    """Pickle files, escaping names, reserved names and invalid content are refused."""
    with pytest.raises((BundleError, ValueError), match=message):
        write_bundle(tmp_path / "b", {name: content}, FIELDS)


def test_canonical_json_hash_ignores_key_order():
    """The same settings in another key order give the same params hash."""
    assert canonical_json_sha256({"a": 1, "b": [1, 2]}) == canonical_json_sha256(
        {"b": [1, 2], "a": 1}
    )
    assert canonical_json_sha256({"a": 1}) != canonical_json_sha256({"a": 2})


def test_pack_then_load_archive(tmp_path):
    """A packed .tar.gz loads with the same manifest and files as its directory."""
    out = write_sample(tmp_path / "b")
    archive = pack_bundle(out)
    assert archive == tmp_path / "b.tar.gz"
    from_dir, from_tar = load_bundle(out), load_bundle(archive)
    assert from_tar.manifest == from_dir.manifest
    assert from_tar.sealed_files == from_dir.sealed_files


def test_pack_is_reproducible(tmp_path):
    """Packing the same bundle twice gives byte-identical archives."""
    out = write_sample(tmp_path / "b")
    first = pack_bundle(out, tmp_path / "one.tar.gz").read_bytes()
    second = pack_bundle(out, tmp_path / "two.tar.gz").read_bytes()
    assert first == second


def test_pack_refuses_existing_archive_and_tampered_bundle(tmp_path):
    """Packing needs force to overwrite, and never packs a bundle that fails to verify."""
    out = write_sample(tmp_path / "b")
    archive = pack_bundle(out)
    with pytest.raises(UserError, match="already exists"):
        pack_bundle(out)
    (out / "notes" / "readme.txt").write_text("changed\n")
    with pytest.raises(BundleError, match=r"readme\.txt"):
        pack_bundle(out, force=True)
    assert load_bundle(archive).read_bytes("notes/readme.txt") == b"hand-written notes\n"


def test_reading_an_unlisted_name_or_wrong_type_is_refused(tmp_path):
    """A loaded bundle only serves listed files, each through its own file type."""
    bundle = load_bundle(write_sample(tmp_path / "b"))
    with pytest.raises(BundleError, match=r"no file missing\.json"):
        bundle.read_bytes("missing.json")
    with pytest.raises(BundleError, match=r"manifest\.json"):
        bundle.read_bytes("manifest.json")
    with pytest.raises(BundleError, match=r"not a \.json file"):
        bundle.read_json("apis.yaml")
    with pytest.raises(BundleError, match=r"not a \.onnx file"):
        bundle.read_onnx("thresholds.json")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    apis=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.dictionaries(st.text(max_size=6), json_values, max_size=3),
        max_size=4,
    ),
    extra=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
)
def test_manifest_json_round_trip(apis, extra):
    """Any manifest survives serialisation to manifest.json and back unchanged."""
    manifest = Manifest.from_dict(
        {
            **FIELDS,
            "bundle_format": BUNDLE_FORMAT,
            "created_at": "2026-01-02T03:04:05Z",
            "apibehave_version": __version__,
            "libraries": {"python": "3.11"},
            "files": {"a.json": {"sha256": "0" * 64, "size": 3}},
            "apis": apis,
            "extra": extra,
        }
    )
    assert Manifest.from_json_bytes(manifest.to_json_bytes()) == manifest


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=5))
def test_any_json_payload_round_trips(payload):
    """Any JSON object written as a payload is read back equal after verification."""
    with tempfile.TemporaryDirectory() as folder:
        out = write_bundle(Path(folder) / "b", {"data.json": payload}, FIELDS)
        assert load_bundle(pack_bundle(out)).read_json("data.json") == payload
