"""A bundle logged as an MLflow pyfunc from code loads back by alias and scores as replay."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from apibehave.detect.model import LearningSettings
from apibehave.engine.replay import replay_events
from apibehave.workbench.pyfunc_model import log_bundle_model, model_input, runtime_requirements
from apibehave.workbench.train import export_bundle, train_model
from apibehave.workbench.train_settings import TrainSettings
from tests.engine_world import CATALOGUE, make_logs
from tests.mlflow_store import fresh_store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    """A temporary SQLite tracking store with one trained, logged and registered model."""
    folder = tmp_path_factory.mktemp("pyfunc")
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = fresh_store(folder)
    train, test = make_logs(seed=5)
    settings = TrainSettings(learning=LearningSettings(min_events=100))
    result = train_model(train, catalogue=CATALOGUE, settings=settings)
    bundle = export_bundle(result, folder / "bundle", settings)
    from apibehave.workbench.tracking import tracked_run

    with tracked_run("test-pyfunc", "train") as run:
        info = log_bundle_model(bundle, example_events=test, registered_model_name="shop")
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("shop", "champion", info.registered_model_version)
    yield {"info": info, "run": run, "test": test, "model": result.model, "folder": folder}
    if saved is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved


def test_loaded_by_alias_it_scores_exactly_as_replay(store) -> None:
    """models:/<name>@champion predicts the same decisions as replay_events, event for event."""
    loaded = mlflow.pyfunc.load_model("models:/shop@champion")
    decisions = loaded.predict(model_input(store["test"]))
    expected = replay_events(store["test"], store["model"]).decisions
    assert (decisions["decision"] == "block").sum() > 0
    pd.testing.assert_frame_equal(decisions, expected)


def test_requirements_are_pinned_and_ship_the_wheel(store) -> None:
    """requirements.txt pins every runtime dependency and names the wheel logged beside it."""
    local = Path(mlflow.artifacts.download_artifacts(store["info"].model_uri))
    lines = (local / "requirements.txt").read_text().split()
    wheel_lines = [line for line in lines if line.startswith("artifacts/apibehave-")]
    assert len(wheel_lines) == 1 and (local / wheel_lines[0]).is_file()
    pinned = [line for line in lines if "==" in line]
    assert set(runtime_requirements()) <= set(pinned)
    assert {"numpy", "pandas", "numba", "scikit-learn", "skops"} <= {
        line.split("==")[0].lower() for line in pinned
    }
    assert not any(line.lower().startswith(("optuna", "papermill", "jupyterlab")) for line in lines)
    assert (local / "artifacts" / "bundle" / "manifest.json").is_file()


def test_signature_and_input_example_follow_the_event_schema(store) -> None:
    """The signature lists the event columns in and the decision columns out."""
    info = store["info"]
    inputs = [c.name for c in info.signature.inputs.inputs]
    outputs = [c.name for c in info.signature.outputs.inputs]
    assert inputs[:5] == ["ts", "client_ip", "method", "path", "status"]
    assert outputs == ["event_index", "decision", "attack_type", "identifier_kind",
                       "identifier", "risk"]  # fmt: skip
    assert info.saved_input_example_info is not None


def test_a_tampered_bundle_is_refused_at_load(store, tmp_path) -> None:
    """Loading verifies the bundle's checksums: an edited threshold file is refused."""
    local = Path(mlflow.artifacts.download_artifacts(store["info"].model_uri, dst_path=tmp_path))
    thresholds = local / "artifacts" / "bundle" / "thresholds.json"
    thresholds.write_text(thresholds.read_text().replace("1", "2", 1))
    with pytest.raises(Exception, match=r"(?i)sha-?256|checksum|does not match"):
        mlflow.pyfunc.load_model(str(local))
