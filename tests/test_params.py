"""params.yaml: typed sections, overrides, clear errors naming the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from apibehave.common.errors import UserError
from apibehave.workbench.params import SECTIONS, apply_overrides, load_params
from apibehave.workbench.train_settings import train_settings_from_params

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_project_params_load_with_every_section() -> None:
    """The committed params.yaml has every section and validates."""
    document = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(document) == set(SECTIONS)
    p = load_params(ROOT / "params.yaml")
    assert p.data.simulated
    assert p.train.learning.normal_quantile == 0.99
    assert p.tune.n_trials >= 1
    assert p.register.alias == "champion"
    assert p.export.bundle_dir == "bundles/latest"
    assert len(p.params_hash) == 64


def test_train_section_still_read_by_train_settings() -> None:
    """`apibehave train --params` reads the same train section as the pipeline."""
    assert (
        train_settings_from_params(ROOT / "params.yaml") == load_params(ROOT / "params.yaml").train
    )


def test_defaults_without_a_file() -> None:
    """No file: every section keeps its defaults."""
    p = load_params(None)
    assert p.data.dir == "datasets/default"
    assert p.evaluate.held_out == "simulated"


def test_missing_file_is_named(tmp_path: Path) -> None:
    """A missing params file is named."""
    with pytest.raises(UserError, match=re.escape("nope.yaml: no such params file")):
        load_params(tmp_path / "nope.yaml")


def test_malformed_yaml_is_named(tmp_path: Path) -> None:
    """A file that is not YAML is named."""
    path = tmp_path / "params.yaml"
    path.write_text("data: [unclosed\n")
    with pytest.raises(UserError, match=re.escape("params.yaml: not valid YAML")):
        load_params(path)


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"dat": {}}, "dat: unknown section"),
        ({"data": {"sourc": "x"}}, "data.sourc: unknown key"),
        ({"data": {"format": "xml"}}, "data.format: unknown format"),
        ({"data": {"discover": {"depth": 0}}}, "data.discover.depth: must be a whole number"),
        ({"features": {"set": "fancy"}}, "features.set: unknown feature set"),
        ({"train": {"learning": {"normal_quantile": "high"}}},
         "train.learning.normal_quantile: must be a number"),
        ({"train": {"ttl_s": 5}}, "train.ttl_s: must be a mapping"),
        ({"tune": {"n_trials": 0}}, "tune.n_trials: must be a whole number"),
        ({"evaluate": {"top_n": "ten"}}, "evaluate.top_n: must be a whole number"),
        ({"register": {"alias": "prod"}}, "register.alias: must be one of"),
        ({"register": {"rule": {"min_recall_gain": -1}}}, "register.rule.min_recall_gain"),
        ({"register": {"rule": {"speed": 1}}}, "register.rule.speed: unknown key"),
        ({"export": {"bundle_dir": ""}}, "export.bundle_dir: must be a non-empty string"),
        ({"pipeline": {"tune": "yes"}}, "pipeline.tune: must be true or false"),
        ({"simulate": {"scalee": 1}}, "simulate.scalee: unknown key"),
        ({"data": "simulate"}, "data: must be a mapping"),
    ],
)  # fmt: skip
def test_mistakes_name_the_file_and_key(tmp_path: Path, document: dict, key: str) -> None:
    """Each malformed key is refused with the file and the key in the message."""
    path = _write(tmp_path, document)
    with pytest.raises(UserError) as info:
        load_params(path)
    assert str(path) in str(info.value)
    assert key in str(info.value)


def test_overrides_apply_and_are_validated(tmp_path: Path) -> None:
    """`-p key=value` values are read as YAML and checked like the file."""
    path = _write(tmp_path, {"simulate": {"scale": 1.0}})
    p = load_params(path, ["simulate.scale=0.05", "tune.n_trials=3", "pipeline.tune=false",
                           "data.apis=null"])  # fmt: skip
    assert p.simulate["scale"] == 0.05
    assert p.tune.n_trials == 3
    assert p.pipeline.tune is False
    with pytest.raises(UserError, match=r"-p tune\.n_trials=zero.*tune\.n_trials"):
        load_params(path, ["tune.n_trials=zero"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("simulate.scale", "use SECTION.KEY=VALUE"),
        ("scale=1", "unknown section 'scale'"),
        ("simulate=1", "name a key inside the section"),
        ("simulate.scale.x=1", "simulate.scale is not a mapping"),
    ],
)
def test_bad_override_syntax(override: str, message: str) -> None:
    """A malformed override says how to write one."""
    with pytest.raises(UserError, match=message):
        apply_overrides({"simulate": {"scale": 1.0}}, [override])


def test_unknown_api_in_an_override_is_named(tmp_path: Path) -> None:
    """A per-API override for an API the catalogue lacks names the key and the file."""
    path = _write(tmp_path, {"train": {"per_api": {"payments": {"mode": "shadow"}}}})
    with pytest.raises(UserError) as info:
        load_params(path)
    assert str(path) in str(info.value)
    assert "train.per_api.payments: unknown API" in str(info.value)
    assert load_params(path, ["train.per_api={orders: {mode: shadow}}"]).train.per_api


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "block"}, "train.per_api.orders.mode: must be enforce or shadow"),
        ({"learning": {"min_ratio_calls": 3}}, "min_ratio_calls: not overridable per API"),
        ({"learning": {"normal_quantile": 2}}, "need 0 < normal_quantile"),
        ({"colour": "red"}, "train.per_api.orders.colour: unknown key"),
    ],
)
def test_per_api_override_values_are_checked(tmp_path: Path, body: dict, message: str) -> None:
    """Per-API override values are validated like the shared ones."""
    path = _write(tmp_path, {"train": {"per_api": {"orders": body}}})
    with pytest.raises(UserError, match=message):
        load_params(path)


def test_held_out_must_be_named_for_a_log_source(tmp_path: Path) -> None:
    """Training on a log needs a fixed labelled held-out file."""
    path = _write(tmp_path, {"data": {"source": "calls.parquet"}})
    with pytest.raises(UserError, match=re.escape("evaluate.held_out: data.source is a log")):
        load_params(path)
    p = load_params(path, ["evaluate.held_out=heldout.parquet"])
    assert not p.data.simulated


def test_per_api_overrides_reach_the_model(tiny_world) -> None:
    """Mode goes into the bundle's catalogue; learning changes only that API's thresholds."""
    from apibehave.workbench.train import train_model
    from apibehave.workbench.train_settings import train_settings_from_dict

    train, catalogue = tiny_world
    plain = train_settings_from_dict({"learning": {"min_events": 100}})
    base = train_model(train, catalogue=catalogue, settings=plain)
    settings = train_settings_from_dict(
        {"learning": {"min_events": 100},
         "per_api": {"orders": {"mode": "shadow",
                                "learning": {"normal_quantile": 0.9, "extreme_margin": 3.0}}}}
    )  # fmt: skip
    tuned = train_model(train, catalogue=catalogue, settings=settings)
    assert tuned.model.catalogue["orders"].mode == "shadow"
    assert base.model.catalogue["orders"].mode == "enforce"
    before, after = base.model.detectors.detectors, tuned.model.detectors.detectors
    assert np.allclose(_normals(before["catalogue"]), _normals(after["catalogue"]), equal_nan=True)
    changed = ~np.isclose(_normals(before["orders"]), _normals(after["orders"]), equal_nan=True)
    assert changed.any()


def _normals(detector) -> np.ndarray:
    return np.array([t.normal for t in detector.thresholds.values()], dtype=float)


def test_unknown_api_refused_at_training_without_a_catalogue(tiny_world) -> None:
    """With a discovered catalogue the API check happens when training."""
    from apibehave.workbench.train import train_model
    from apibehave.workbench.train_settings import train_settings_from_dict

    train, _ = tiny_world
    settings = train_settings_from_dict({"per_api": {"payments": {"learning": {"min_events": 5}}}})
    with pytest.raises(UserError, match=re.escape("train.per_api.payments: unknown API")):
        train_model(train, settings=settings)


@pytest.fixture(scope="module")
def tiny_world():
    """A small simulated training period and its catalogue."""
    from apibehave.schema.catalogue import load_catalogue
    from apibehave.simulate import load_scenario, simulate

    result = simulate(load_scenario({"scale": 0.01, "seed": 3}), progress=False)
    train = result.events[result.events["period"] == "train"].reset_index(drop=True)
    return train, _catalogue(result.catalogue, load_catalogue)


def _catalogue(data: dict, loader):
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(data, handle)
    return loader(handle.name)
