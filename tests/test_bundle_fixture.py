"""The committed format-1 bundle keeps loading (legacy compatibility, as PyOD's tests do).

If a change breaks this test, old bundles in the field would break too: make the change
compatible, or raise BUNDLE_FORMAT, keep this fixture, and add a new one beside it with
``tests/fixtures/make_bundle_fixture.py``.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from apibehave.bundle import BUNDLE_FORMAT, load_bundle, verify_bundle

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BUNDLE_DIR = FIXTURES / "bundle_v1" / "tiny-v1"
ARCHIVE = FIXTURES / "bundle_v1" / "tiny-v1.tar.gz"
EXPECTED_FEATURE_SPEC = "sha256:4ca08b21fd3a746e734cc730e58593eb09fa0e54a1fde57a12d9f8e949de3398"


def load_fixture_script():
    """Import tests/fixtures/make_bundle_fixture.py as a module."""
    spec = importlib.util.spec_from_file_location(
        "make_bundle_fixture", FIXTURES / "make_bundle_fixture.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("source", [BUNDLE_DIR, ARCHIVE], ids=["directory", "archive"])
def test_committed_v1_bundle_still_loads(source):
    """The committed bundle verifies against the expected feature spec and reads as written."""
    bundle = load_bundle(source, expected_feature_spec_hash=EXPECTED_FEATURE_SPEC)
    manifest = bundle.manifest
    assert manifest.bundle_format == 1 <= BUNDLE_FORMAT
    assert manifest.bundle_id == "tiny-v1"
    assert manifest.created_at == "2026-11-22T00:00:00Z"
    assert manifest.registry.alias == "champion"
    assert manifest.apis["catalog"]["status"] == "learning"
    assert bundle.names == ["apis.yaml", "models/login.skops", "policy.json", "thresholds.json"]
    assert bundle.read_json("thresholds.json")["login"]["rate_1m"] == {
        "normal": 12.0,
        "extreme": 40.0,
    }
    assert bundle.read_json("policy.json")["mode"] == {"login": "enforce", "catalog": "shadow"}
    assert [api["name"] for api in bundle.read_yaml("apis.yaml")["apis"]] == ["login", "catalog"]


def test_committed_v1_model_still_scores():
    """The committed skops IsolationForest loads with its trusted type and scores its data."""
    script = load_fixture_script()
    bundle = load_bundle(BUNDLE_DIR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a newer scikit-learn may warn; loading must work
        model = bundle.load_skops("models/login.skops", trusted=script.TRUSTED_TYPES)
    assert isinstance(model, IsolationForest)
    scores = model.score_samples(script.training_matrix())
    assert scores.shape == (32,) and np.all(np.isfinite(scores)) and np.all(scores < 0)


def test_fixture_archive_and_directory_hold_the_same_files():
    """The committed archive is the committed directory, packed."""
    assert load_bundle(ARCHIVE).sealed_files == load_bundle(BUNDLE_DIR).sealed_files


def test_regeneration_script_reproduces_the_fixture_content(tmp_path):
    """The regen script writes a bundle with the committed manifest fields and JSON files."""
    script = load_fixture_script()
    fresh = load_bundle(script.make_fixture(tmp_path))
    committed = load_bundle(BUNDLE_DIR)
    for name in ("thresholds.json", "policy.json", "apis.yaml"):
        assert fresh.read_bytes(name) == committed.read_bytes(name)
    keep = ("bundle_id", "created_at", "params_hash", "feature_spec_hash", "training_data_digest")
    assert {k: getattr(fresh.manifest, k) for k in keep} == {
        k: getattr(committed.manifest, k) for k in keep
    }
    assert verify_bundle(tmp_path / "tiny-v1.tar.gz") == fresh.manifest


def test_committed_manifest_is_readable_json():
    """The committed manifest is plain, indented JSON a person can read."""
    text = (BUNDLE_DIR / "manifest.json").read_text()
    assert text.startswith('{\n  "bundle_format": 1,\n')
    assert json.loads(text)["files"]["models/login.skops"]["size"] > 0
