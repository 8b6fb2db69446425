"""Tuning: a shared Optuna study that parallel workers join, a documented choice, MLflow runs."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import mlflow
import optuna
import pytest
import yaml
from optuna.distributions import FloatDistribution

from apibehave.common.errors import UserError
from apibehave.detect.model import LearningSettings
from apibehave.schema import write_events
from apibehave.schema.catalogue import save_catalogue
from apibehave.workbench.train import train_model
from apibehave.workbench.train_settings import TrainSettings, train_settings_from_dict
from apibehave.workbench.tune import (
    SearchSpace,
    TuneSettings,
    TuningData,
    choose_trial,
    make_sampler,
    open_study,
    pareto_numbers,
    run_tuning,
    split_by_time,
    tune_settings_from_dict,
)
from tests.engine_world import CATALOGUE, make_logs
from tests.mlflow_store import fresh_store

BASE = TrainSettings(learning=LearningSettings(min_events=100))


@pytest.fixture(scope="module")
def logs():
    return make_logs(seed=5)


@pytest.fixture
def tracking_store(tmp_path):
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = fresh_store(tmp_path)
    yield tmp_path
    if saved is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved


def test_two_workers_share_one_study_and_every_trial_is_a_nested_run(logs, tracking_store) -> None:
    """Two processes add trials to one journal-backed study; MLflow gets a run per trial."""
    train, validation = logs
    tune = TuneSettings(n_trials=8, workers=2, population_size=4,
                        storage=str(tracking_store / "study.journal"))  # fmt: skip
    result = run_tuning(train, validation, catalogue=CATALOGUE, base=BASE, tune=tune)
    workers = result.trials["worker"].str.rsplit(":", n=1).str[-1]
    assert len(result.trials) >= 8
    assert set(workers) == {"0", "1"}, "both workers must contribute trials"
    assert result.trials["worker"].str.split(":").str[1].nunique() == 2  # two processes
    assert result.ran_here == len(result.trials)

    client = mlflow.MlflowClient()
    parent = client.get_run(result.run_id)
    assert parent.data.tags["chosen_trial"] == str(result.choice.number)
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    assert len(children) == len(result.trials)
    assert {"mean_actor_recall", "benign_share_calls_blocked"} <= set(children[0].data.metrics)
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"pareto_front.png", "chosen_settings.yaml"} <= artifacts

    # a later call joins the same study and adds to it
    again = run_tuning(train, validation, catalogue=CATALOGUE, base=BASE, track=False,
                       tune=TuneSettings(n_trials=2, population_size=4,
                                         storage=tune.storage))  # fmt: skip
    assert len(again.trials) >= len(result.trials) + 2


def test_the_chosen_settings_reproduce_the_chosen_trial(logs, tmp_path) -> None:
    """Training with result.settings and replaying gives exactly the chosen trial's figures."""
    from apibehave.engine.replay import replay_events
    from apibehave.workbench.evaluate import evaluate_decisions
    from apibehave.workbench.registry import Scorecard

    train, validation = logs
    base = train_settings_from_dict(
        {"learning": {"min_events": 100},
         "per_api": {"shop": {"learning": {"normal_quantile": 0.95}}}}
    )  # fmt: skip
    tune = TuneSettings(n_trials=3, population_size=2, seed=5,
                        storage=str(tmp_path / "s.journal"))  # fmt: skip
    result = run_tuning(train, validation, catalogue=CATALOGUE, base=base, tune=tune,
                        track=False)  # fmt: skip
    assert result.settings.per_api == base.per_api
    model = train_model(train, catalogue=CATALOGUE, settings=result.settings).model
    card = Scorecard.from_evaluation(
        "x", evaluate_decisions(validation, replay_events(validation, model).decisions)
    )
    assert card.mean_actor_recall == result.choice.mean_actor_recall
    assert card.benign_share_calls_blocked == result.choice.benign_share_calls_blocked
    assert result.choice.learning == asdict(result.settings.learning)


def add_trial(study, number_recall: float, share: float, clients: float = 0.0) -> None:
    study.add_trial(
        optuna.trial.create_trial(
            values=[number_recall, share],
            params={"normal_quantile": 0.99},
            distributions={"normal_quantile": FloatDistribution(0.9, 0.999)},
            user_attrs={"benign_clients_blocked_per_1000": clients},
        )
    )


def test_choice_is_the_best_recall_within_the_benign_target() -> None:
    """Highest recall among trials within the target; else the fewest benign blocks."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    add_trial(study, 0.9, 0.004)  # best recall, but blocks too much
    add_trial(study, 0.7, 0.0005)  # the pick
    add_trial(study, 0.7, 0.0008)  # same recall, more benign blocks
    add_trial(study, 0.5, 0.0)
    add_trial(study, 0.4, 0.0002)  # dominated
    choice = choose_trial(study, 0.001)
    assert choice.number == 1 and choice.met_target
    assert "highest mean actor recall (0.700)" in choice.reason
    assert pareto_numbers(study.trials) == {0, 1, 3}
    strict = choose_trial(study, -1.0)
    assert strict.number == 3 and not strict.met_target
    assert "no trial blocks at most" in strict.reason


def test_sampler_is_nsga2_with_a_seed_per_worker(tmp_path) -> None:
    """NSGA-II is named explicitly, and each worker samples from its own seed."""
    tune = TuneSettings(storage=str(tmp_path / "s.journal"), seed=3)
    assert isinstance(make_sampler(tune, 1), optuna.samplers.NSGAIISampler)
    study = open_study(tune)
    assert isinstance(study.sampler, optuna.samplers.NSGAIISampler)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]


def test_search_space_maps_to_consistent_learning_settings() -> None:
    """The extreme quantile always lies between the normal quantile and 1."""
    space = SearchSpace()
    params = {"normal_quantile": 0.99, "extreme_tail_share": 0.1, "extreme_margin": 2.0,
              "min_normal_crossings": 1, "min_ratio_calls": 7, "min_feature_identifiers": 4,
              "contamination": 0.01}  # fmt: skip
    learning = space.learning(params, LearningSettings(min_events=123))
    assert learning.extreme_quantile == pytest.approx(0.999)
    assert learning.min_events == 123 and learning.min_normal_crossings == 1


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ({"n_trial": 3}, "tune.n_trial: unknown key"),
        ({"workers": 0}, "tune.workers: must be a whole number >= 1"),
        ({"space": {"normal_quantile": [0.99, 0.9]}}, "tune.space.normal_quantile"),
        ({"space": {"min_ratio_calls": [1.5, 3]}}, "whole numbers"),
        ({"space": {"colour": [1, 2]}}, "tune.space.colour: unknown key"),
        ({"max_benign_share_calls_blocked": 2}, "share between 0 and 1"),
    ],
)
def test_bad_tune_settings_name_the_key(section, fragment) -> None:
    """A mistake in the tune section is a user error naming the key."""
    with pytest.raises(UserError, match=fragment):
        tune_settings_from_dict(section)


def test_validation_without_attacks_is_refused(logs) -> None:
    """Tuning on a validation log without labelled attacks is a user error."""
    train, validation = logs
    benign_only = validation[validation["label"] == "normal"]
    with pytest.raises(UserError, match="no labelled attack"):
        TuningData(train, benign_only, CATALOGUE)
    with pytest.raises(UserError, match="no labelled attack"):
        split_by_time(train, 0.5)  # the training log is clean


def cli(*args: str | Path, cwd: Path, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin:/bin", **env_vars}
    return subprocess.run(
        [sys.executable, "-m", "apibehave", "tune", *map(str, args)],
        capture_output=True, text=True, check=False, env=env, cwd=cwd,
    )  # fmt: skip


def test_cli_runs_two_workers_and_writes_the_chosen_settings(logs, tmp_path) -> None:
    """`apibehave tune --workers 2` on an RDB (SQLite) study writes train.learning as YAML."""
    train, validation = logs
    write_events(train, tmp_path / "train.parquet")
    write_events(validation, tmp_path / "validation.parquet")
    save_catalogue(CATALOGUE, tmp_path / "apis.yaml")
    (tmp_path / "params.yaml").write_text(
        "train:\n  learning:\n    min_events: 100\ntune:\n  population_size: 4\n"
    )
    result = cli("--events", "train.parquet", "--validation", "validation.parquet",
                 "--apis", "apis.yaml", "--params", "params.yaml", "--trials", "4",
                 "--workers", "2", "--storage", "sqlite:///study.db", "--out", "chosen.yaml",
                 "--no-track", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Pareto front" in result.stdout and "chosen: trial" in result.stdout
    chosen = yaml.safe_load((tmp_path / "chosen.yaml").read_text())
    assert 0.5 < chosen["train"]["learning"]["normal_quantile"] < 1
    assert not (tmp_path / "mlruns").exists()
    study = optuna.load_study(study_name="apibehave-tune", storage="sqlite:///" +
                              str(tmp_path / "study.db"))  # fmt: skip
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) >= 4 and sum(bool(t.user_attrs.get("baseline")) for t in trials) == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "exactly one of --validation, --split or --simulate"),
        (("--split", "0.5"), "--split needs --events"),
        (("--events", "missing.parquet", "--split", "0.5", "--trials", "0"), "n_trials"),
    ],
)
def test_cli_mistakes_are_one_line(args, fragment, tmp_path) -> None:
    """A user's mistake is one line on stderr and exit code 2."""
    result = cli(*args, "--no-track", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert fragment in result.stderr


def test_an_mlflow_store_that_cannot_be_opened_fails_first(tmp_path) -> None:
    """A broken tracking store is one line naming it, before any simulation or trial."""
    (tmp_path / "x.db").write_text("not a database")
    result = cli("--simulate", "--storage", "s.journal", cwd=tmp_path,
                 MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'x.db'}")  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot open the MLflow store" in result.stderr and "x.db" in result.stderr
    assert not (tmp_path / "s.journal").exists()
