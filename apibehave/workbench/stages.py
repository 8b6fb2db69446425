"""What notebooks 03 to 06 do between their tables and plots.

- :func:`train_candidate` (03, and 04 after tuning): train on the run's training events,
  write the sealed bundle under ``<run_dir>/bundles/``, verify it loads, record it as the
  run's candidate;
- :func:`tune_candidate` (04): the Optuna study on a separate simulated world
  (:mod:`apibehave.workbench.tune`), then :func:`train_candidate` with the chosen settings;
- :func:`evaluate_bundle` (05): replay the fixed held-out set, score per attack type;
- :func:`promotion_alias` (05): inside a pipeline a winner first takes ``staging``; the
  pipeline moves ``champion`` only when every notebook succeeded;
- :func:`export_for_run` (06): export the bundle of the version that is (or is about to
  be) champion into the run folder, verify it, diff it against the served bundle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from apibehave.common.errors import UserError
from apibehave.workbench.step import Step
from apibehave.workbench.train_settings import TrainSettings, train_settings_from_dict


@dataclass
class Candidate:
    """The model a run proposes (the ``candidate`` record)."""

    bundle: str
    tuned: bool
    settings: dict[str, Any]
    training_data_digest: str
    n_events: int
    seconds: float
    api_status: dict[str, dict[str, Any]]
    result: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record (without the in-memory result)."""
        return {
            "bundle": self.bundle,
            "tuned": self.tuned,
            "settings": self.settings,
            "training_data_digest": self.training_data_digest,
            "n_events": self.n_events,
            "seconds": round(self.seconds, 2),
            "api_status": self.api_status,
        }

    def threshold_inputs(self) -> tuple[Any, Any]:
        """Return the training features as the thresholds see them, and each call's API.

        Only for a candidate trained here (not tuned), whose features were kept.
        """
        if self.result is None or self.result.features is None:
            raise UserError("this candidate kept no training features (tuned or loaded)")
        model = self.result.model
        return model.detectors.normalizer.apply(self.result.features), self.result.api_names

    def status_table(self) -> pd.DataFrame:
        """Return one row per API: status, training calls, reason."""
        return pd.DataFrame(
            [{"api": api, **status} for api, status in sorted(self.api_status.items())]
        )


def train_candidate(
    step: Step,
    files: dict[str, Any],
    settings: TrainSettings | None = None,
    *,
    tuned: bool = False,
) -> Candidate:
    """Train on ``files['train']``, export and verify the bundle, record the candidate."""
    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.schema.catalogue import load_catalogue
    from apibehave.schema.event_io import read_events
    from apibehave.workbench.params import check_api_overrides
    from apibehave.workbench.train import export_bundle, train_model

    p = step.params
    settings = settings or p.train
    catalogue = load_catalogue(files["catalogue"])
    check_api_overrides(settings, catalogue.names, source=f"{p.source} ({files['catalogue']})")
    events = read_events(files["train"])
    result = train_model(events, catalogue=catalogue, settings=settings,
                         feature_set=p.feature_set(), keep_features=not tuned)  # fmt: skip
    out = step.path("bundles", "tuned" if tuned else "trained")
    export_bundle(result, out, settings, force=True, mlflow_run_id=step.run_id)
    load_model_bundle(out)  # verify what was written loads back
    step.log_dataset(events, name="train", source=files["train"],
                     digest=result.training_data_digest)  # fmt: skip
    ready = sum(1 for s in result.api_status.values() if s["status"] == "ready")
    prefix = "tuned." if tuned else "train."
    step.log_metrics({f"{prefix}n_events": result.n_events, f"{prefix}apis_ready": ready,
                      f"{prefix}seconds": result.seconds})  # fmt: skip
    step.set_tags({"training_data_digest": result.training_data_digest,
                   "feature_spec_hash": result.model.feature_set.spec_hash,
                   f"{prefix}params_hash": settings.params_hash})  # fmt: skip
    candidate = Candidate(
        bundle=str(out),
        tuned=tuned,
        settings=settings.to_dict(),
        training_data_digest=result.training_data_digest,
        n_events=result.n_events,
        seconds=result.seconds,
        api_status=result.api_status,
        result=result,
    )
    step.record("candidate", candidate.to_dict())
    return candidate


def study_name(step: Step, train: pd.DataFrame, validation: pd.DataFrame) -> str:
    """Return the study name for this tuning data and base settings.

    ``tune.study_name`` plus a digest of the data and the base settings: runs on the same
    data join one study (and parallel workers share it); other data starts a new one.
    """
    from apibehave.workbench.train import events_digest

    p = step.params
    text = json.dumps(
        [events_digest(train), events_digest(validation), p.train.to_dict(),
         p.tune.to_dict()["space"]],
        sort_keys=True, default=str,
    )  # fmt: skip
    return f"{p.tune.study_name}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def tune_candidate(step: Step, files: dict[str, Any]) -> tuple[Any, Candidate]:
    """Run or join the study, then train the candidate with the chosen settings.

    Returns
    -------
    (TuneResult, Candidate)
    """
    from apibehave.workbench.tune import run_tuning, simulate_tuning_data

    p = step.params
    train, validation, catalogue = simulate_tuning_data(
        p.simulate, seed=p.pipeline.tuning_seed, scale=p.pipeline.tuning_scale
    )
    tune = replace(p.tune, study_name=study_name(step, train, validation))
    result = run_tuning(
        train, validation, catalogue=catalogue, base=p.train, tune=tune,
        track=step.run_id is not None, experiment=p.pipeline.experiment,
    )  # fmt: skip
    step.log_metrics(
        {
            "tune.chosen_mean_actor_recall": result.choice.mean_actor_recall,
            "tune.chosen_benign_share_calls_blocked": result.choice.benign_share_calls_blocked,
            "tune.trials": len(result.trials),
        }
    )
    step.set_tags({"tune.study": tune.study_name, "tune.chosen_trial": result.choice.number,
                   "tune.reason": result.choice.reason})  # fmt: skip
    candidate = train_candidate(step, files, result.settings, tuned=True)
    step.record("tuning", {"study": tune.study_name, "storage": tune.storage,
                           "chosen_trial": result.choice.number, "reason": result.choice.reason,
                           "learning": result.learning_overrides(),
                           "tune_run_id": result.run_id})  # fmt: skip
    return result, candidate


def candidate_settings(record: dict[str, Any]) -> TrainSettings:
    """Return the train settings a candidate record was trained with."""
    return train_settings_from_dict(record["settings"], source="candidate.settings")


@dataclass
class HeldOutResult:
    """A bundle replayed on the held-out events and scored."""

    evaluation: Any
    decisions: pd.DataFrame
    outcomes: pd.DataFrame
    replay_seconds: float

    def metrics(self) -> dict[str, float]:
        """Return MLflow metrics: benign side and per attack type."""
        out = {f"heldout.benign.{k}": float(v) for k, v in self.evaluation.benign.items()}
        by_type = self.evaluation.by_type
        for row in by_type.to_dict(orient="records"):
            attack = row["attack_type"]
            for key in ("actor_recall", "share_calls_blocked", "median_calls_to_first_block",
                        "attribution_accuracy"):  # fmt: skip
                value = row.get(key)
                if value is not None and value == value:
                    out[f"heldout.{attack}.{key}"] = float(value)
        if len(by_type):
            out["heldout.mean_actor_recall"] = float(by_type["actor_recall"].mean())
        out["heldout.replay_seconds"] = self.replay_seconds
        return out


def evaluate_bundle(bundle: str, held_out: pd.DataFrame) -> HeldOutResult:
    """Replay ``held_out`` with a bundle and score the decisions against the labels."""
    import time

    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.engine.replay import replay_events
    from apibehave.workbench.evaluate import actor_outcomes, evaluate_decisions

    model = load_model_bundle(bundle)
    started = time.perf_counter()
    replayed = replay_events(held_out, model)
    seconds = time.perf_counter() - started
    evaluation = evaluate_decisions(held_out, replayed.decisions)
    outcomes = actor_outcomes(held_out, replayed.decisions)
    return HeldOutResult(evaluation, replayed.decisions, outcomes, seconds)


def promotion_alias(step: Step, in_pipeline: bool) -> tuple[str, bool]:
    """Return the alias a winner takes now, and whether the pipeline releases it later.

    In a pipeline, ``register.alias: champion`` becomes ``staging`` now and ``champion`` at
    the end of a successful run (so a failed run never moves ``champion``). By hand, or
    with ``register.alias: staging``, the alias is the one configured.
    """
    from apibehave.workbench.registry import CHAMPION, STAGING

    configured = step.params.register.alias
    if in_pipeline and configured == CHAMPION:
        return STAGING, True
    return configured, False


def export_for_run(step: Step, registry_record: dict[str, Any]) -> dict[str, Any]:
    """Export the bundle that is (or is about to be) champion into the run folder.

    Returns
    -------
    dict
        The ``export`` record: ``bundle`` (None when there is no champion), ``version``,
        ``alias``, ``manifest``, ``diff`` (text, against ``export.bundle_dir``), ``reason``.
    """
    from apibehave.bundle.diff import diff_bundles
    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.bundle.reader import load_bundle
    from apibehave.workbench.registry import CHAMPION, alias_version, export_bundle_for

    p = step.params
    name = p.register.model_name
    pending = registry_record.get("release_on_success") and registry_record.get("promoted")
    alias = registry_record["alias"] if pending else CHAMPION
    version = alias_version(name, alias)
    if version is None:
        return {"bundle": None, "version": None, "alias": alias, "manifest": None,
                "diff": None, "reason": f"no version of {name} holds {alias!r}; "
                "nothing to export (the challenger was not promoted)"}  # fmt: skip
    out = step.path("bundles", "export")
    export_bundle_for(name, out, alias=alias, force=True)
    load_model_bundle(out)  # verify
    manifest = load_bundle(out).manifest.to_dict()
    served = Path(p.export.bundle_dir)
    if (served / "manifest.json").is_file():
        try:
            diff = diff_bundles(served, out).render()
        except UserError as exc:
            diff = f"(the served bundle {served} does not load: {exc})"
    else:
        diff = f"(no bundle at {served} yet: this is the first)"
    return {"bundle": str(out), "version": version, "alias": alias, "manifest": manifest,
            "diff": diff, "reason": "pending release to champion" if pending
            else f"{alias} of {name}"}  # fmt: skip
