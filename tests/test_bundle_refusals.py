"""A bundle directory that is tampered, incomplete or incompatible is refused in one line."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibehave.bundle import (
    BUNDLE_FORMAT,
    BundleError,
    load_bundle,
    verify_bundle,
    write_bundle,
)
from apibehave.common.errors import UserError

FIELDS = {
    "bundle_id": "refusals-1",
    "params_hash": "sha256:params",
    "feature_spec_hash": "sha256:features-v1",
    "training_data_digest": "sha256:data",
}


@pytest.fixture
def bundle(tmp_path) -> Path:
    """A valid bundle directory with JSON, YAML and binary payloads."""
    return write_bundle(
        tmp_path / "b",
        {
            "thresholds.json": {"login": {"rate_1m": {"normal": 10, "extreme": 40}}},
            "apis.yaml": {"apis": [{"name": "login"}]},
            "models/login.onnx": bytes(range(256)) * 4,
        },
        FIELDS,
    )


def refusal(path: Path, **kwargs: object) -> str:
    """Load ``path``, expect a BundleError, and return its one-line message."""
    with pytest.raises(BundleError) as caught:
        load_bundle(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert isinstance(caught.value, UserError)
    return message


def seal_manifest_by_hand(bundle: Path, manifest: object) -> None:
    """Write a manifest and a matching sum, as a forger or a future writer would."""
    data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    (bundle / "manifest.json").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    (bundle / "manifest.sha256").write_text(f"{digest}  manifest.json\n")


def manifest_of(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text())


def test_valid_bundle_verifies(bundle):
    """The untouched bundle verifies (the baseline for every refusal below)."""
    assert verify_bundle(bundle).bundle_id == "refusals-1"


def test_flipped_byte_in_a_payload_is_refused(bundle):
    """One flipped byte in a model file fails its checksum, naming the file."""
    model = bundle / "models" / "login.onnx"
    data = bytearray(model.read_bytes())
    data[100] ^= 0x01
    model.write_bytes(bytes(data))
    assert refusal(bundle) == "checksum mismatch: models/login.onnx was modified or corrupted"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_flipped_bit_in_any_sealed_file_is_refused(bundle, data):
    """Flipping any bit of any payload file or of the manifest makes verification fail."""
    names = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    name = data.draw(st.sampled_from(names))
    path = bundle / name
    original = path.read_bytes()
    index = data.draw(st.integers(0, len(original) - 1))
    bit = data.draw(st.integers(0, 7))
    flipped = bytearray(original)
    flipped[index] ^= 1 << bit
    path.write_bytes(bytes(flipped))
    try:
        with pytest.raises(BundleError):
            load_bundle(bundle)
    finally:
        path.write_bytes(original)


def test_edited_thresholds_are_refused_with_a_reseal_hint(bundle):
    """An edited thresholds file is refused and the message points to reseal."""
    path = bundle / "thresholds.json"
    path.write_text(path.read_text().replace("40", "45"))
    message = refusal(bundle)
    assert message.startswith("checksum mismatch: thresholds.json")
    assert "apibehave bundle reseal" in message


def test_truncated_payload_is_refused(bundle):
    """A file cut short is refused as truncated, with its sizes."""
    model = bundle / "models" / "login.onnx"
    model.write_bytes(model.read_bytes()[:100])
    assert re.fullmatch(
        r"truncated or modified file: models/login\.onnx has 100 of the 1024 bytes .*",
        refusal(bundle),
    )


def test_grown_payload_is_refused(bundle):
    """A file with bytes appended is refused by its size."""
    model = bundle / "models" / "login.onnx"
    model.write_bytes(model.read_bytes() + b"x")
    assert refusal(bundle).startswith("modified file: models/login.onnx has 1025 bytes")


def test_edited_manifest_is_refused(bundle):
    """Changing a value in manifest.json without its sum is detected."""
    path = bundle / "manifest.json"
    path.write_text(path.read_text().replace('"refusals-1"', '"refusals-2"'))
    assert "manifest.json does not match manifest.sha256" in refusal(bundle)


def test_manifest_forged_with_a_new_sum_still_fails_on_the_files(bundle):
    """Re-summing a manifest does not help: its file sums still have to match."""
    manifest = manifest_of(bundle)
    manifest["files"]["thresholds.json"]["sha256"] = "a" * 64
    seal_manifest_by_hand(bundle, manifest)
    assert refusal(bundle).startswith("checksum mismatch: thresholds.json")


def test_missing_manifest_is_refused(bundle):
    """A directory without manifest.json is not a bundle."""
    (bundle / "manifest.json").unlink()
    assert refusal(bundle).startswith("not a bundle: manifest.json is missing")


def test_missing_manifest_sum_is_refused(bundle):
    """A manifest without its sum file is refused as unsealed."""
    (bundle / "manifest.sha256").unlink()
    assert "manifest.sha256 is missing" in refusal(bundle)


def test_malformed_manifest_sum_is_refused(bundle):
    """A sum file that is not one '<sha256>  manifest.json' line is refused."""
    (bundle / "manifest.sha256").write_text("not a sum\n")
    assert refusal(bundle).startswith("malformed manifest.sha256")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "manifest.json is not valid JSON"),
        (b"[1, 2]", "malformed manifest.json: the top level must be an object"),
        (b'{"bundle_format": "one"}', "malformed manifest.json: 'bundle_format' must be"),
        (b"\xff\xfe", "manifest.json is not UTF-8 text"),
    ],
)
def test_malformed_manifest_is_refused(bundle, content, expected):
    """A manifest that is not a well-formed object is refused, even with a valid sum."""
    seal_manifest_by_hand(bundle, content)
    assert refusal(bundle).startswith(expected)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"params_hash": ""}, "field 'params_hash' must be a non-empty string"),
        ({"created_at": "yesterday"}, "field 'created_at' is not an ISO-8601 time"),
        ({"created_at": "2026-01-01T00:00:00+02:00"}, "field 'created_at' must be in UTC"),
        ({"surprise": 1}, "unknown field 'surprise'"),
        ({"apis": {"login": "ready"}}, "apis['login'] must be an object"),
        ({"edited_by_hand": "no"}, "'edited_by_hand' must be true or false"),
        ({"registry": {"model_name": "m"}}, "field 'version' must be a non-empty string"),
    ],
)
def test_manifest_with_a_wrong_field_is_refused(bundle, change, expected):
    """A well-formed manifest with a missing, mistyped or unknown field is refused."""
    seal_manifest_by_hand(bundle, {**manifest_of(bundle), **change})
    message = refusal(bundle)
    assert message.startswith("malformed manifest.json")
    assert expected in message


def test_manifest_with_duplicate_keys_is_refused(bundle):
    """Duplicate keys in the manifest are refused rather than silently resolved."""
    text = (bundle / "manifest.json").read_text()
    forged = text.replace('"bundle_id": "refusals-1",', '"bundle_id": "a", "bundle_id": "b",')
    seal_manifest_by_hand(bundle, forged.encode())
    assert "duplicate key 'bundle_id'" in refusal(bundle)


def test_newer_bundle_format_is_refused(bundle):
    """A bundle of a newer format than this apibehave reads asks for an upgrade."""
    seal_manifest_by_hand(bundle, {**manifest_of(bundle), "bundle_format": BUNDLE_FORMAT + 1})
    assert refusal(bundle) == (
        f"bundle format {BUNDLE_FORMAT + 1} is newer than this apibehave reads "
        f"(format {BUNDLE_FORMAT}); upgrade apibehave to load it"
    )


def test_newer_bundle_format_is_refused_before_its_fields_are_judged():
    """A newer format is named even when its manifest has fields this version lacks."""
    from apibehave.bundle.verify import read_manifest

    manifest = json.dumps({"bundle_format": 99, "whatever": {}}).encode()
    with pytest.raises(BundleError, match="bundle format 99 is newer"):
        read_manifest({"manifest.json": manifest}, "memory")


def test_unsupported_old_bundle_format_is_refused(bundle):
    """A format older than the oldest readable one asks for a re-export."""
    seal_manifest_by_hand(bundle, {**manifest_of(bundle), "bundle_format": 0})
    assert "bundle format 0 is no longer supported" in refusal(bundle)


def test_deleted_file_is_refused(bundle):
    """A file listed in the manifest but missing is refused, naming it."""
    (bundle / "apis.yaml").unlink()
    assert refusal(bundle) == "file listed in manifest.json is missing: apis.yaml"


def test_added_file_is_refused(bundle):
    """A file the manifest does not list is refused, naming it."""
    (bundle / "models" / "extra.json").write_text("{}")
    assert refusal(bundle).startswith("file not listed in manifest.json: models/extra.json")


@pytest.mark.parametrize("name", ["model.pkl", "models/m.joblib", "state.pickle", "w.pt"])
def test_pickle_file_anywhere_is_refused(bundle, name):
    """A pickle-based file type is refused by name, listed or not."""
    target = bundle.joinpath(*name.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pickle.dumps([1, 2, 3]))
    assert refusal(bundle) == f"pickle-based file refused: {name} (use JSON, skops or ONNX)"


def test_pickle_listed_in_a_forged_manifest_is_refused(bundle):
    """A manifest that lists a pickle file is refused even when the sums match."""
    data = pickle.dumps({"a": 1})
    (bundle / "model.pkl").write_bytes(data)
    manifest = manifest_of(bundle)
    manifest["files"]["model.pkl"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": 9}
    seal_manifest_by_hand(bundle, manifest)
    assert refusal(bundle).startswith("pickle-based file refused: model.pkl")


def test_pickle_content_under_an_innocent_name_is_refused(bundle):
    """Pickle bytes are refused whatever the file is called, even with matching sums."""
    data = pickle.dumps({"a": 1})
    (bundle / "models" / "login.onnx").write_bytes(data)
    manifest = manifest_of(bundle)
    manifest["files"]["models/login.onnx"] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    seal_manifest_by_hand(bundle, manifest)
    assert refusal(bundle) == "pickle-based file refused: models/login.onnx holds pickle data"


def test_symbolic_link_in_a_bundle_is_refused(bundle, tmp_path):
    """A symbolic link inside the bundle directory is refused, even to a listed file."""
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (bundle / "apis.yaml").unlink()
    os.symlink(outside, bundle / "apis.yaml")
    assert refusal(bundle) == "symbolic link refused in bundle: apis.yaml"


def test_feature_spec_must_match_when_the_caller_says_which(bundle):
    """A bundle trained on another feature spec is refused; the same spec loads."""
    assert load_bundle(bundle, expected_feature_spec_hash="sha256:features-v1")
    message = refusal(bundle, expected_feature_spec_hash="sha256:features-v2")
    assert message.startswith("feature spec mismatch: bundle refusals-1 was trained on")
    assert "sha256:features-v1" in message and "sha256:features-v2" in message


def test_missing_path_is_refused(tmp_path):
    """A path that does not exist is refused as not found."""
    assert refusal(tmp_path / "nowhere") == f"bundle not found: {tmp_path / 'nowhere'}"


def test_plain_file_is_not_a_bundle(tmp_path):
    """A file that is not a gzip archive is neither a directory nor a bundle archive."""
    path = tmp_path / "thresholds.json"
    path.write_text("{}")
    assert "neither a directory nor a .tar.gz" in refusal(path)


def test_a_copied_bundle_still_verifies(bundle, tmp_path):
    """Copying a bundle elsewhere keeps it valid: nothing depends on its location."""
    copy = shutil.copytree(bundle, tmp_path / "elsewhere" / "renamed")
    assert verify_bundle(copy).bundle_id == "refusals-1"
