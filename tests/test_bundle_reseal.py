"""Re-sealing after a hand edit: deliberate, recorded, and limited to JSON/YAML files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apibehave.bundle import BundleError, load_bundle, pack_bundle, reseal_bundle, verify_bundle
from apibehave.bundle import write_bundle as write

FIELDS = {
    "bundle_id": "reseal-1",
    "params_hash": "sha256:params",
    "feature_spec_hash": "sha256:features",
    "training_data_digest": "sha256:data",
}
EDIT_TIME = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


@pytest.fixture
def bundle(tmp_path) -> Path:
    """A valid bundle with thresholds, a catalogue and a binary model."""
    return write(
        tmp_path / "b",
        {
            "thresholds.json": {"login": {"rate_1m": {"normal": 10, "extreme": 40}}},
            "apis.yaml": {"apis": [{"name": "login", "mode": "shadow"}]},
            "models/login.onnx": b"\x08\x07onnx",
        },
        FIELDS,
    )


def edit_threshold(bundle: Path, value: float) -> None:
    """Change login's extreme rate threshold as a person would, in an editor."""
    path = bundle / "thresholds.json"
    data = json.loads(path.read_text())
    data["login"]["rate_1m"]["extreme"] = value
    path.write_text(json.dumps(data, indent=4))


def test_reseal_accepts_and_records_a_threshold_edit(bundle):
    """After reseal the edited bundle verifies and the manifest records the edit."""
    old_sum = verify_bundle(bundle).files["thresholds.json"].sha256
    edit_threshold(bundle, 55)
    with pytest.raises(BundleError, match=r"thresholds\.json.*apibehave bundle reseal"):
        verify_bundle(bundle)
    result = reseal_bundle(bundle, note="fewer false positives at month end", now=EDIT_TIME)
    assert result.changed == ("thresholds.json",)
    loaded = load_bundle(bundle)
    manifest = loaded.manifest
    assert loaded.read_json("thresholds.json")["login"]["rate_1m"]["extreme"] == 55
    assert manifest.edited_by_hand is True
    (edit,) = manifest.hand_edits
    assert edit.edited_at == "2026-11-22T06:00:00Z"
    assert edit.note == "fewer false positives at month end"
    assert list(edit.files) == ["thresholds.json"]
    assert edit.files["thresholds.json"].old_sha256 == old_sum
    assert edit.files["thresholds.json"].new_sha256 == manifest.files["thresholds.json"].sha256
    assert manifest == result.manifest


def test_reseal_keeps_everything_else(bundle):
    """Re-sealing changes only the edited file's entry and the edit record."""
    before = verify_bundle(bundle)
    edit_threshold(bundle, 55)
    after = reseal_bundle(bundle).manifest
    assert after.bundle_id == before.bundle_id and after.created_at == before.created_at
    assert after.feature_spec_hash == before.feature_spec_hash
    assert {k: v for k, v in after.files.items() if k != "thresholds.json"} == {
        k: v for k, v in before.files.items() if k != "thresholds.json"
    }


def test_each_reseal_is_appended(bundle):
    """Two rounds of edits leave two records, oldest first."""
    edit_threshold(bundle, 55)
    reseal_bundle(bundle, now=EDIT_TIME)
    (bundle / "apis.yaml").write_text("apis:\n- name: login\n  mode: enforce\n")
    reseal_bundle(bundle, now=EDIT_TIME.replace(hour=7))
    edits = verify_bundle(bundle).hand_edits
    assert [list(e.files) for e in edits] == [["thresholds.json"], ["apis.yaml"]]
    assert load_bundle(bundle).read_yaml("apis.yaml")["apis"][0]["mode"] == "enforce"


def test_reseal_of_an_untouched_bundle_changes_nothing(bundle):
    """With no edit, reseal reports nothing changed and leaves the files as they were."""
    manifest_bytes = (bundle / "manifest.json").read_bytes()
    result = reseal_bundle(bundle)
    assert result.changed == ()
    assert (bundle / "manifest.json").read_bytes() == manifest_bytes
    assert not verify_bundle(bundle).edited_by_hand


def test_resealed_bundle_packs_and_loads(bundle):
    """A re-sealed bundle is an ordinary bundle: it packs and loads from the archive."""
    edit_threshold(bundle, 55)
    reseal_bundle(bundle)
    assert load_bundle(pack_bundle(bundle)).manifest.edited_by_hand


def test_reseal_refuses_a_changed_binary_file(bundle):
    """A changed model file is never accepted by reseal; it must be re-exported."""
    (bundle / "models" / "login.onnx").write_bytes(b"\x08\x07other")
    with pytest.raises(BundleError, match="only JSON and YAML files may be edited by hand"):
        reseal_bundle(bundle)
    with pytest.raises(BundleError, match=r"models/login\.onnx"):
        verify_bundle(bundle)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"login": {"rate_1m": {"extreme": 55,}}}', "thresholds.json is not valid JSON"),
        ('{"login": {}, "login": {}}', "duplicate key 'login'"),
        ('{"login": {"rate_1m": {"extreme": NaN}}}', "NaN is not valid JSON"),
    ],
)
def test_reseal_refuses_an_edit_that_does_not_parse(bundle, text, expected):
    """A hand edit that breaks the JSON is refused, naming the file and the problem."""
    (bundle / "thresholds.json").write_text(text)
    with pytest.raises(BundleError, match=expected):
        reseal_bundle(bundle)


def test_reseal_refuses_broken_yaml(bundle):
    """A hand edit that breaks the YAML catalogue is refused."""
    (bundle / "apis.yaml").write_text("apis: [unclosed\n")
    with pytest.raises(BundleError, match=r"apis\.yaml is not valid YAML"):
        reseal_bundle(bundle)


def test_reseal_refuses_an_edited_manifest(bundle):
    """The manifest itself is never edited by hand, not even to change a status."""
    path = bundle / "manifest.json"
    path.write_text(path.read_text().replace('"reseal-1"', '"forged"'))
    with pytest.raises(BundleError, match=r"manifest\.json does not match manifest\.sha256"):
        reseal_bundle(bundle)


def test_reseal_refuses_added_and_removed_files(bundle, tmp_path):
    """Reseal does not add or drop files: an unlisted or missing file is refused."""
    (bundle / "new.json").write_text("{}")
    with pytest.raises(BundleError, match=r"not listed in manifest\.json: new\.json"):
        reseal_bundle(bundle)
    (bundle / "new.json").unlink()
    (bundle / "apis.yaml").unlink()
    with pytest.raises(BundleError, match=r"missing: apis\.yaml"):
        reseal_bundle(bundle)


def test_reseal_needs_a_directory(bundle):
    """An archive cannot be re-sealed in place; the message says to unpack it."""
    with pytest.raises(BundleError, match="reseal works on a bundle directory"):
        reseal_bundle(pack_bundle(bundle))
