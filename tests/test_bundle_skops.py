"""scikit-learn models in bundles: skops with an explicit trusted-type list, never pickle."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import FunctionTransformer

from apibehave.bundle import (
    BundleError,
    LibraryVersionWarning,
    dump_skops_bytes,
    load_bundle,
    pack_bundle,
    write_bundle,
)

FIELDS = {
    "bundle_id": "skops-1",
    "params_hash": "sha256:params",
    "feature_spec_hash": "sha256:features",
    "training_data_digest": "sha256:data",
}
IFOREST_TRUSTED = ["sklearn.tree._tree.Tree"]


@pytest.fixture(scope="module")
def forest_and_data():
    """A small fitted IsolationForest and the rows it was fitted on."""
    data = np.random.default_rng(3).normal(size=(64, 3))
    return IsolationForest(n_estimators=4, max_samples=32, random_state=3).fit(data), data


@pytest.fixture
def forest_bundle(tmp_path, forest_and_data):
    """A bundle holding the forest as models/login.skops."""
    forest, _ = forest_and_data
    return write_bundle(tmp_path / "b", {"models/login.skops": dump_skops_bytes(forest)}, FIELDS)


def test_isolation_forest_round_trip_with_explicit_trust(forest_bundle, forest_and_data):
    """A skops IsolationForest loads with its one trusted type and scores identically."""
    forest, data = forest_and_data
    for source in (forest_bundle, pack_bundle(forest_bundle)):
        loaded = load_bundle(source).load_skops("models/login.skops", trusted=IFOREST_TRUSTED)
        assert isinstance(loaded, IsolationForest)
        np.testing.assert_array_equal(loaded.score_samples(data), forest.score_samples(data))


def test_untrusted_type_is_refused(forest_bundle):
    """Without sklearn.tree._tree.Tree in the trusted list, the forest is refused by name."""
    bundle = load_bundle(forest_bundle)
    with pytest.raises(BundleError) as caught:
        bundle.load_skops("models/login.skops", trusted=[])
    assert str(caught.value) == (
        "models/login.skops needs types that are not trusted: sklearn.tree._tree.Tree"
    )


def test_model_with_a_function_reference_needs_it_trusted(tmp_path):
    """A model referring to an arbitrary function is refused unless that function is named."""
    model = FunctionTransformer(func=math.exp)
    path = write_bundle(tmp_path / "f", {"f.skops": dump_skops_bytes(model)}, FIELDS)
    bundle = load_bundle(path)
    with pytest.raises(BundleError, match=r"needs types that are not trusted: math\.exp"):
        bundle.load_skops("f.skops", trusted=IFOREST_TRUSTED)
    loaded = bundle.load_skops("f.skops", trusted=["math.exp"])
    assert loaded.func is math.exp


def test_model_calling_os_system_is_refused(tmp_path):
    """A model smuggling in os.system is refused with the default trusted list."""
    model = FunctionTransformer(func=os.system)
    path = write_bundle(tmp_path / "evil", {"evil.skops": dump_skops_bytes(model)}, FIELDS)
    with pytest.raises(
        BundleError, match=r"evil\.skops needs types that are not trusted: .*system"
    ):
        load_bundle(path).load_skops("evil.skops", trusted=IFOREST_TRUSTED)


@pytest.mark.parametrize("trusted", [True, "sklearn.tree._tree.Tree", None, ["Tree"]])
def test_trust_must_be_an_explicit_list_of_type_names(forest_bundle, trusted):
    """trusted=True, a bare string or unqualified names are refused: no wildcards."""
    bundle = load_bundle(forest_bundle)
    with pytest.raises(TypeError, match="trusted must"):
        bundle.load_skops("models/login.skops", trusted=trusted)


def test_unreadable_skops_file_is_refused(tmp_path):
    """A .skops file that is a zip header and garbage is refused with its name."""
    path = write_bundle(tmp_path / "g", {"g.skops": b"PK\x03\x04garbage"}, FIELDS)
    with pytest.raises(BundleError, match=r"g\.skops is not a readable skops file"):
        load_bundle(path).load_skops("g.skops", trusted=IFOREST_TRUSTED)


def test_loading_with_another_library_version_warns(tmp_path, forest_and_data):
    """A model written with another scikit-learn version loads with a clear warning."""
    forest, _ = forest_and_data
    path = write_bundle(
        tmp_path / "old",
        {"m.skops": dump_skops_bytes(forest)},
        {**FIELDS, "libraries": {"scikit-learn": "0.0.1"}},
    )
    bundle = load_bundle(path)
    assert bundle.library_differences()["scikit-learn"][0] == "0.0.1"
    with pytest.warns(LibraryVersionWarning, match="written with scikit-learn 0.0.1"):
        bundle.load_skops("m.skops", trusted=IFOREST_TRUSTED)


def test_load_skops_only_reads_skops_files(forest_bundle, tmp_path):
    """load_skops refuses a file that is not .skops, whatever it holds."""
    path = write_bundle(tmp_path / "j", {"model.json": {}}, FIELDS)
    with pytest.raises(BundleError, match=r"not a \.skops file"):
        load_bundle(path).load_skops("model.json", trusted=IFOREST_TRUSTED)
