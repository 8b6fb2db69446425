"""Tracking helpers: runs nest (pipeline -> step -> trial), datasets and settings are logged."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

from apibehave.common.errors import UserError
from apibehave.workbench.tracking import (
    PARENT_RUN_ENV,
    artifact_root,
    log_events_dataset,
    log_settings,
    tracked_run,
)
from apibehave.workbench.train import events_digest
from tests.engine_world import make_logs
from tests.mlflow_store import fresh_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module (creating its tables takes seconds)."""
    folder = tmp_path_factory.mktemp("tracking")
    uri = fresh_store(folder / "db")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)
        yield folder


def parent_of(run_id: str) -> str | None:
    return mlflow.get_run(run_id).data.tags.get("mlflow.parentRunId")


def test_runs_nest_across_processes_through_the_environment(store, monkeypatch) -> None:
    """Pipeline run -> step (from $APIBEHAVE_PARENT_RUN_ID, same experiment) -> trial."""
    with tracked_run("pipeline", "pipeline") as pipeline:
        pass
    monkeypatch.setenv(PARENT_RUN_ENV, pipeline.info.run_id)
    with (
        tracked_run("a-step-experiment", "train") as step,
        tracked_run("a-step-experiment", "trial-0000") as trial,
    ):
        pass
    assert parent_of(step.info.run_id) == pipeline.info.run_id
    assert parent_of(trial.info.run_id) == step.info.run_id
    experiment = mlflow.get_run(pipeline.info.run_id).info.experiment_id
    assert mlflow.get_run(step.info.run_id).info.experiment_id == experiment
    assert mlflow.get_run(step.info.run_id).data.tags["git_commit"]


def test_an_unknown_parent_is_a_user_error(store, monkeypatch) -> None:
    """A parent run id that does not exist is one clear error."""
    monkeypatch.setenv(PARENT_RUN_ENV, "0" * 32)
    with pytest.raises(UserError, match="cannot nest under MLflow run"), tracked_run("x", "y"):
        pass


def test_datasets_carry_apibehave_digest_and_settings_their_hash(store) -> None:
    """The logged dataset's digest is events_digest; settings are params with their hash."""
    train, _ = make_logs(seed=5)
    with tracked_run("datasets", "train") as run:
        digest = log_events_dataset(train, "train", "training", source="train.parquet")
        log_settings({"learning": {"normal_quantile": 0.99, "contamination": None}}, "abc123")
    logged = mlflow.get_run(run.info.run_id)
    assert digest == events_digest(train)
    inputs = logged.inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].dataset.digest == digest[:16]
    assert logged.data.tags["dataset.train.digest"] == digest
    assert logged.data.params["learning.normal_quantile"] == "0.99"
    assert logged.data.tags["params_hash"] == "abc123"


def test_artifacts_sit_beside_a_sqlite_store(store) -> None:
    """A SQLite store keeps new experiments' artifacts in an artifacts folder beside it."""
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert artifact_root(uri) == (store / "db" / "artifacts").resolve().as_uri()
    assert artifact_root("http://127.0.0.1:5000") is None
    with tracked_run("where", "run") as run:
        mlflow.log_text("x", "x.txt")
    assert Path(store / "db" / "artifacts").is_dir()
    assert run.info.artifact_uri.startswith((store / "db" / "artifacts").resolve().as_uri())
