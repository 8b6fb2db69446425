"""MLflow tracking for workbench runs: where runs go and what a training run logs.

MLflow is imported only here, and only when tracking is on, so runtime code never pays for
it. The tracking URI is ``MLFLOW_TRACKING_URI`` when set, else the local SQLite store
``sqlite:///mlruns/mlflow.db`` with artifacts under ``mlruns/``.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from apibehave.common.errors import UserError

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEFAULT_ARTIFACT_ROOT = "mlruns/artifacts"


def tracking_uri() -> str:
    """Return ``$MLFLOW_TRACKING_URI``, else the local default store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def artifact_root(uri: str) -> str | None:
    """Where new experiments keep artifacts: beside a SQLite store, else the server's say.

    ``mlruns/artifacts`` for the default store, ``<db folder>/artifacts`` for another
    SQLite file, None (the tracking server decides) otherwise.
    """
    if uri == DEFAULT_TRACKING_URI:
        return Path(DEFAULT_ARTIFACT_ROOT).resolve().as_uri()
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "artifacts").as_uri()
    return None


def connect() -> Any:
    """Import MLflow and point it (tracking and registry) at :func:`tracking_uri`.

    Raises
    ------
    UserError
        When MLflow is not installed.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow
    except ImportError as exc:  # the lean runtime has no MLflow
        raise UserError(
            "MLflow is not installed; install apibehave[workbench] or pass --no-track"
        ) from exc
    uri = tracking_uri()
    if uri == DEFAULT_TRACKING_URI:
        Path("mlruns").mkdir(exist_ok=True)
    mlflow.set_tracking_uri(uri)
    return mlflow


def configure_tracking(experiment: str) -> Any:
    """Point MLflow at the configured store and select (or create) ``experiment``.

    Returns
    -------
    module
        The imported ``mlflow`` module.

    Raises
    ------
    UserError
        When MLflow is not installed or the store cannot be opened.
    """
    mlflow = connect()
    uri = tracking_uri()
    try:
        if mlflow.get_experiment_by_name(experiment) is None:
            mlflow.create_experiment(experiment, artifact_location=artifact_root(uri))
        mlflow.set_experiment(experiment)
    except Exception as exc:  # MLflow raises many kinds; the user needs one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot open the MLflow store {uri}: {first}") from exc
    return mlflow


PARENT_RUN_ENV = "APIBEHAVE_PARENT_RUN_ID"
"""Environment variable naming the run new runs nest under (set by the pipeline for the
notebooks it executes, whose kernels are other processes)."""


@contextmanager
def tracked_run(
    experiment: str,
    run_name: str,
    tags: Mapping[str, str] | None = None,
    *,
    parent_run_id: str | None = None,
) -> Iterator[Any]:
    """Start an MLflow run tagged with the git commit, nested where it belongs.

    Runs nest as pipeline run -> step runs -> tuning trials: a run started while another
    is active nests under it; else under ``parent_run_id``, else under
    ``$APIBEHAVE_PARENT_RUN_ID`` when set. A nested run goes to its parent's experiment
    (MLflow shows nesting within one experiment), else to ``experiment``.
    """
    mlflow = configure_tracking(experiment)
    all_tags = {"git_commit": git_commit() or "unknown", **dict(tags or {})}
    active = mlflow.active_run()
    parent = active.info.run_id if active else parent_run_id or os.environ.get(PARENT_RUN_ENV)
    experiment_id = None
    if parent:
        try:
            experiment_id = mlflow.get_run(parent).info.experiment_id
        except Exception as exc:  # MLflow raises many kinds; the user needs one line
            raise UserError(f"cannot nest under MLflow run {parent}: no such run") from exc
    with mlflow.start_run(
        run_name=run_name,
        nested=parent is not None,
        parent_run_id=parent,
        experiment_id=experiment_id,
        tags=all_tags,
    ) as run:
        yield run


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested settings into ``a.b.c`` keys for ``mlflow.log_params``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat


def git_commit() -> str | None:
    """Return the current git commit of the working directory, if any."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def log_events_dataset(events: Any, name: str, context: str, *, source: str | None = None) -> str:
    """Log an event frame as an MLflow dataset input of the active run.

    The digest is apibehave's own (SHA-256 over the contract columns of every event,
    :func:`apibehave.workbench.train.events_digest`), so the same data has the same digest
    in every run, in bundle manifests and on registry tags.

    Parameters
    ----------
    events : pandas.DataFrame
    name : str
        Such as ``"train"`` or ``"heldout"``.
    context : str
        MLflow's input context: ``"training"``, ``"validation"``, ``"evaluation"``...
    source : str, optional
        Where the events were read from (a path or URI).

    Returns
    -------
    str
        The digest.
    """
    import mlflow

    from apibehave.workbench.train import events_digest

    digest = events_digest(events)
    with warnings.catch_warnings():  # MLflow's hints about source kinds and integer columns
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(events, source=source, name=name, digest=digest[:16])
        mlflow.log_input(dataset, context=context)
    mlflow.set_tag(f"dataset.{name}.digest", digest)
    return digest


def log_settings(settings: Mapping[str, Any], params_hash: str) -> None:
    """Log resolved settings as flattened params of the active run, with their hash as a tag."""
    import mlflow

    flat = {key: ("" if value is None else value) for key, value in flatten(settings).items()}
    mlflow.log_params(flat)
    mlflow.set_tag("params_hash", params_hash)
