"""Tune detector settings with a multi-objective Optuna study that parallel workers share.

Two objectives, evaluated by replaying a labelled validation log:

- maximise the **mean actor recall** (mean over attack types of the share of attack actors
  with at least one blocked call; the same figure promotion uses,
  :class:`apibehave.workbench.registry.Scorecard`);
- minimise the **share of benign calls blocked** (benign client IPs blocked per 1,000 is
  recorded beside it).

The search space (:class:`SearchSpace`) covers the learning settings that shape
thresholds and blocking: ``normal_quantile``, the extreme quantile (as the share of the
normal tail kept beyond it), ``extreme_margin``, ``min_normal_crossings``,
``min_ratio_calls``, ``min_feature_identifiers`` and ``contamination``. Volume guards
(``min_events``, ``min_identifiers``) come from the base settings: they depend on how much
data there is, and a small validation world would pull them down.

The sampler is NSGA-II, named explicitly (``optuna.samplers.NSGAIISampler``; Optuna 5
defaults multi-objective studies to TPE). The study lives on disk: a journal file
(``JournalStorage`` + ``JournalFileBackend``, the default, safe for processes on one
machine or a shared file system) or any RDB URL (``sqlite:///...``, ``postgresql://...``).
``workers=N`` runs N processes on the same study (this one and N-1 spawned ones); any
other process, on any machine that reaches the storage, can join with the same study name.

A new study's first trial is the base settings (clipped into the space), so the front
always holds the untuned reference.

**Which trial** (:func:`choose_trial`): among completed trials that block at most
``max_benign_share_calls_blocked`` of benign validation calls, the highest mean actor
recall (ties: fewer benign calls blocked, then fewer benign clients blocked, then the
earliest). When no trial meets the target, the one blocking the fewest benign calls, and
the reason says so. Either way the chosen trial lies on the Pareto front.

**Validation data**: tuning must not see the held-out test set that promotion uses. The
default simulation's training period is clean (no attacks), so a split of ``train.parquet``
has nothing to catch; :func:`simulate_tuning_data` simulates a separate, smaller labelled
world (another seed) and tunes on it: learn on its training period, evaluate on its test
period. With real labelled logs that contain attacks, :func:`split_by_time` learns on the
earlier part and validates on the later one.

**MLflow**: after the workers finish, :func:`run_tuning` logs one parent run ``tune``
(nested under the active run or ``$APIBEHAVE_PARENT_RUN_ID``) with the settings, the chosen
trial, the Pareto front figure and ``chosen_settings.yaml``, and one nested run per
completed trial of the study (params, both objectives, recall per attack type). Logging
happens from this process only, so concurrent workers never contend for a SQLite store.

Usage (notebook 04, or ``apibehave tune``)::

    from apibehave.workbench.tune import TuneSettings, run_tuning, simulate_tuning_data

    train, validation, catalogue = simulate_tuning_data(seed=1007, scale=0.05)
    result = run_tuning(train, validation, catalogue=catalogue,
                        tune=TuneSettings(n_trials=24, workers=2,
                                          storage="mlruns/optuna/apibehave.journal"))
    print(result.summary())           # the chosen trial and why
    result.figure                     # the Pareto front (a matplotlib Figure; a notebook
                                      # shows it with %matplotlib inline active)
    result.settings                   # TrainSettings to train the real model with
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from apibehave.common.errors import UserError
from apibehave.detect.decision_model import DecisionModel
from apibehave.detect.model import LearningSettings
from apibehave.features.default import DEFAULT_FEATURE_SET
from apibehave.features.spec import FeatureSet
from apibehave.schema.attacks import NORMAL_LABEL
from apibehave.schema.catalogue import Catalogue
from apibehave.workbench.train_settings import TrainSettings

DEFAULT_STORAGE = "mlruns/optuna/apibehave.journal"
DEFAULT_STUDY = "apibehave-tune"
OBJECTIVES = ("mean_actor_recall", "benign_share_calls_blocked")
DIRECTIONS = ("maximize", "minimize")
RDB_PREFIXES = ("sqlite:", "postgresql", "mysql", "oracle", "mssql")


# ---- settings -------------------------------------------------------------------------
_SPACE_LIMITS: dict[str, tuple[float, float]] = {
    "normal_quantile": (0.5, 1.0),
    "extreme_tail_share": (1e-6, 1.0),
    "extreme_margin": (0.0, 100.0),
    "min_normal_crossings": (0, 100),
    "min_ratio_calls": (1, 10_000),
    "min_feature_identifiers": (1, 10_000),
    "contamination": (1e-6, 0.5),
}
"""What a search range may span, per setting."""

_LOG_SCALE = ("extreme_tail_share", "contamination")
_READY_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class SearchSpace:
    """Ranges ``(low, high)`` of the tuned learning settings (equal ends fix a value).

    Attributes
    ----------
    normal_quantile : (float, float)
        Quantile of the training distribution that is still normal.
    extreme_tail_share : (float, float)
        ``(1 - extreme_quantile) / (1 - normal_quantile)``, sampled on a log scale: the
        share of the normal tail that lies beyond the extreme threshold.
    extreme_margin : (float, float)
        Factor on the gap between normal and extreme thresholds.
    min_normal_crossings : (int, int)
        Normal crossings of one attack type that make a block (0: extreme only). Fixed at
        0 by default: in a 24-trial study on the default scenario every trial with 1 to 4
        blocked 0.6 % to 20 % of benign calls; widen it to explore.
    min_ratio_calls : (int, int)
        Calls a ratio or novelty window needs before it counts.
    min_feature_identifiers : (int, int)
        Identifiers a feature must be learned from to stay enabled.
    contamination : (float, float)
        Share of training calls that may be attacks (extreme thresholds cover the rest),
        sampled on a log scale.
    """

    normal_quantile: tuple[float, float] = (0.95, 0.999)
    extreme_tail_share: tuple[float, float] = (0.01, 0.5)
    extreme_margin: tuple[float, float] = (1.0, 3.0)
    min_normal_crossings: tuple[int, int] = (0, 0)
    min_ratio_calls: tuple[int, int] = (5, 30)
    min_feature_identifiers: tuple[int, int] = (2, 8)
    contamination: tuple[float, float] = (0.002, 0.05)

    def learning(self, params: Mapping[str, Any], base: LearningSettings) -> LearningSettings:
        """Return ``base`` with a trial's sampled values applied."""
        normal = float(params["normal_quantile"])
        extreme = 1.0 - float(params["extreme_tail_share"]) * (1.0 - normal)
        return replace(
            base,
            normal_quantile=normal,
            extreme_quantile=min(1.0, max(normal, extreme)),
            extreme_margin=float(params["extreme_margin"]),
            min_normal_crossings=int(params["min_normal_crossings"]),
            min_ratio_calls=int(params["min_ratio_calls"]),
            min_feature_identifiers=int(params["min_feature_identifiers"]),
            contamination=float(params["contamination"]),
        )

    def params_of(self, learning: LearningSettings) -> dict[str, Any]:
        """Return the point of the space closest to ``learning`` (each value clipped)."""
        tail = (1.0 - learning.extreme_quantile) / max(1e-12, 1.0 - learning.normal_quantile)
        contamination = learning.contamination
        values = {
            "normal_quantile": learning.normal_quantile,
            "extreme_tail_share": tail,
            "extreme_margin": learning.extreme_margin,
            "min_normal_crossings": learning.min_normal_crossings,
            "min_ratio_calls": learning.min_ratio_calls,
            "min_feature_identifiers": learning.min_feature_identifiers,
            "contamination": self.contamination[0] if contamination is None else contamination,
        }
        clipped = {}
        for name, value in values.items():
            low, high = getattr(self, name)
            clipped[name] = type(low)(min(high, max(low, value)))
        return clipped

    def distributions(self) -> dict[str, Any]:
        """Return the Optuna distributions :meth:`suggest` samples from."""
        from optuna.distributions import FloatDistribution, IntDistribution

        out: dict[str, Any] = {}
        for f in fields(self):
            low, high = getattr(self, f.name)
            if isinstance(low, int) and isinstance(high, int):
                out[f.name] = IntDistribution(low, high)
            else:
                out[f.name] = FloatDistribution(float(low), float(high),
                                                log=f.name in _LOG_SCALE)  # fmt: skip
        return out

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Sample one point of the space for an Optuna trial."""
        values: dict[str, Any] = {}
        for f in fields(self):
            low, high = getattr(self, f.name)
            if isinstance(low, int) and isinstance(high, int):
                values[f.name] = trial.suggest_int(f.name, low, high)
            else:
                values[f.name] = trial.suggest_float(
                    f.name, float(low), float(high), log=f.name in _LOG_SCALE
                )
        return values

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "tune.space") -> SearchSpace:
        """Validate ``{name: [low, high]}`` (unlisted names keep their default range)."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise UserError(f"{source}: must be a mapping of setting to [low, high]")
        defaults = cls()
        ranges: dict[str, tuple] = {}
        for key, value in data.items():
            if key not in _SPACE_LIMITS:
                raise UserError(f"{source}.{key}: unknown key; expected one of "
                                f"{sorted(_SPACE_LIMITS)}")  # fmt: skip
            if (
                not isinstance(value, list | tuple)
                or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            ):
                raise UserError(f"{source}.{key}: must be [low, high]")
            low, high = value
            lo_limit, hi_limit = _SPACE_LIMITS[key]
            if not lo_limit <= low <= high <= hi_limit:
                raise UserError(
                    f"{source}.{key}: need {lo_limit} <= low <= high <= {hi_limit}, got {value}"
                )
            if isinstance(getattr(defaults, key)[0], int):
                if not (float(low).is_integer() and float(high).is_integer()):
                    raise UserError(f"{source}.{key}: must be whole numbers")
                low, high = int(low), int(high)
            else:
                low, high = float(low), float(high)
            ranges[key] = (low, high)
        return replace(defaults, **ranges)


@dataclass(frozen=True)
class TuneSettings:
    """How to run a tuning study (the ``tune`` section of ``params.yaml``).

    Attributes
    ----------
    n_trials : int
        Trials this call adds to the study (over all workers; a race may add a few).
    workers : int
        Processes running trials at once on the same study.
    storage : str
        A journal file path (default) or an RDB URL.
    study_name : str
        The study; workers and later calls with the same name join it.
    population_size : int
        NSGA-II generation size.
    seed : int
        Sampler seed (worker *i* uses ``seed + i``).
    max_benign_share_calls_blocked : float
        Target for choosing a trial (0.001 = 0.1 % of benign calls).
    space : SearchSpace
    """

    n_trials: int = 24
    workers: int = 1
    storage: str = DEFAULT_STORAGE
    study_name: str = DEFAULT_STUDY
    population_size: int = 8
    seed: int = 0
    max_benign_share_calls_blocked: float = 0.001
    space: SearchSpace = field(default_factory=SearchSpace)

    def to_dict(self) -> dict[str, Any]:
        """Return plain data (logged as run parameters)."""
        data = asdict(self)
        data["space"] = {k: list(v) for k, v in data["space"].items()}
        return data


def tune_settings_from_dict(section: Any, *, source: str = "tune") -> TuneSettings:
    """Validate a ``tune`` section given as plain data (missing keys keep defaults).

    Raises
    ------
    UserError
        Naming the key of the first mistake.
    """
    if section is None:
        return TuneSettings()
    if not isinstance(section, Mapping):
        raise UserError(f"{source}: must be a mapping")
    known = {f.name: f for f in fields(TuneSettings)}
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in known:
            raise UserError(f"{source}.{key}: unknown key; expected one of {sorted(known)}")
        if key == "space":
            values[key] = SearchSpace.from_dict(value, source=f"{source}.space")
        elif key in ("storage", "study_name"):
            if not isinstance(value, str) or not value.strip():
                raise UserError(f"{source}.{key}: must be a non-empty string")
            values[key] = value
        elif key == "max_benign_share_calls_blocked":
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (0 <= value <= 1)
            ):
                raise UserError(f"{source}.{key}: must be a share between 0 and 1")
            values[key] = float(value)
        else:
            least = 0 if key == "seed" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise UserError(f"{source}.{key}: must be a whole number >= {least}")
            values[key] = value
    settings = TuneSettings(**values)
    if settings.population_size < 2:
        raise UserError(f"{source}.population_size: must be at least 2")
    return settings


# ---- data -----------------------------------------------------------------------------
def simulate_tuning_data(
    simulate: Mapping[str, Any] | None = None, *, seed: int = 1007, scale: float = 0.05
) -> tuple[pd.DataFrame, pd.DataFrame, Catalogue]:
    """Simulate a separate labelled world to tune on: (train, validation, catalogue).

    Parameters
    ----------
    simulate : mapping, optional
        The ``simulate`` section of params.yaml (scenario and overrides); its ``seed`` and
        ``scale`` are replaced by the ones below, so the held-out test set is never seen.
    seed : int
        Seed of the tuning world (use one different from the main simulation's).
    scale : float
        Its size (0.05 is about 130,000 events).
    """
    from apibehave.simulate.run import simulate as run_simulation
    from apibehave.simulate.scenario import load_scenario

    section = {k: v for k, v in dict(simulate or {}).items() if k not in ("seed", "scale")}
    result = run_simulation(load_scenario(section, seed=seed, scale=scale), progress=False)
    events = result.events
    train = events[events["period"] == "train"].reset_index(drop=True)
    validation = events[events["period"] == "test"].reset_index(drop=True)
    return train, validation, Catalogue.from_dict(result.catalogue)


def split_by_time(
    events: pd.DataFrame, train_fraction: float = 0.6
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a labelled log in time: the earlier part to learn on, the later to validate.

    Raises
    ------
    UserError
        When the fraction is not in (0, 1), or the later part holds no labelled attack.
    """
    if not 0 < train_fraction < 1:
        raise UserError(f"train_fraction must be between 0 and 1, got {train_fraction}")
    ordered = events.sort_values("ts", kind="stable").reset_index(drop=True)
    cut = ordered["ts"].iloc[0] + (ordered["ts"].iloc[-1] - ordered["ts"].iloc[0]) * train_fraction
    train = ordered[ordered["ts"] < cut].reset_index(drop=True)
    validation = ordered[ordered["ts"] >= cut].reset_index(drop=True)
    check_validation(validation)
    return train, validation


def check_validation(validation: pd.DataFrame) -> None:
    """Refuse a validation log without labels, or without attacks and benign calls."""
    for column in ("label", "actor"):
        if column not in validation.columns:
            raise UserError(f"the validation events have no {column!r} column; tuning needs labels")
    labels = validation["label"].astype(object).fillna(NORMAL_LABEL)
    if not (labels != NORMAL_LABEL).any():
        raise UserError(
            "the validation events hold no labelled attack; tuning has nothing to catch"
        )
    if not (labels == NORMAL_LABEL).any():
        raise UserError("the validation events hold no benign call; tuning needs some")


class TuningData:
    """The events a study learns from and scores on, checked once.

    Each trial trains with :func:`apibehave.workbench.train.train_model` itself, so a
    trial's model is exactly the model the chosen settings will give (thresholds, per-API
    overrides, payload detector and whatever training learns next). That costs the
    training features once per trial (about 2 s of CPU at simulation scale 0.05); an
    earlier shortcut that fitted thresholds on cached features drifted from
    ``train_model`` as training grew, so exactness won.
    """

    def __init__(
        self,
        train: pd.DataFrame,
        validation: pd.DataFrame,
        catalogue: Catalogue | None = None,
        feature_set: FeatureSet = DEFAULT_FEATURE_SET,
    ) -> None:
        if len(train) == 0:
            raise UserError("no events to train on (the tuning training set is empty)")
        check_validation(validation)
        self.train = train.reset_index(drop=True)
        self.validation = validation.reset_index(drop=True)
        self.catalogue = catalogue
        self.feature_set = feature_set

    def model_for(self, settings: TrainSettings) -> DecisionModel:
        """Train the model ``settings`` give on the training events."""
        from apibehave.workbench.train import train_model

        result = train_model(self.train, catalogue=self.catalogue, settings=settings,
                             feature_set=self.feature_set)  # fmt: skip
        return result.model

    def score(self, settings: TrainSettings) -> dict[str, Any]:
        """Train with ``settings``, replay the validation log and return the figures."""
        from apibehave.engine.replay import replay_events
        from apibehave.workbench.evaluate import evaluate_decisions
        from apibehave.workbench.registry import Scorecard

        decisions = replay_events(self.validation, self.model_for(settings)).decisions
        card = Scorecard.from_evaluation("trial", evaluate_decisions(self.validation, decisions))
        return {
            "mean_actor_recall": card.mean_actor_recall,
            "benign_share_calls_blocked": card.benign_share_calls_blocked,
            "benign_clients_blocked_per_1000": card.benign_clients_blocked_per_1000,
            "recall_by_type": card.recall_by_type,
        }


# ---- the study ------------------------------------------------------------------------
def open_storage(spec: str) -> Any:
    """Open a study storage: an RDB URL, else a journal file (its folder is created)."""
    import optuna

    if spec.startswith(RDB_PREFIXES):
        try:
            return optuna.storages.RDBStorage(spec)
        except Exception as exc:  # SQLAlchemy raises many kinds
            raise UserError(f"cannot open the Optuna storage {spec}: {_first_line(exc)}") from exc
    from optuna.storages.journal import JournalFileBackend

    path = Path(spec)
    if path.exists() and not path.is_file():
        raise UserError(f"{path}: the Optuna journal must be a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise UserError(f"cannot open the Optuna journal {path}: {exc.strerror}") from exc


def make_sampler(tune: TuneSettings, worker: int = 0) -> Any:
    """NSGA-II, named explicitly; each worker gets its own seed."""
    import optuna

    return optuna.samplers.NSGAIISampler(
        population_size=tune.population_size, seed=tune.seed + worker
    )


def open_study(tune: TuneSettings, worker: int = 0) -> Any:
    """Create or join the study ``tune.study_name`` in ``tune.storage``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.create_study(
            study_name=tune.study_name,
            storage=open_storage(tune.storage),
            directions=list(DIRECTIONS),
            sampler=make_sampler(tune, worker),
            load_if_exists=True,
        )
    except ValueError as exc:  # e.g. an existing study with other directions
        raise UserError(f"study {tune.study_name!r} in {tune.storage}: {exc}") from exc


def _evaluate_point(
    data: TuningData, base: TrainSettings, tune: TuneSettings, params: Mapping[str, Any],
    worker: int,
) -> tuple[tuple[float, float], dict[str, Any]]:  # fmt: skip
    """Score one point of the space: the two objective values and the trial's records."""
    started = time.perf_counter()
    settings = replace(base, learning=tune.space.learning(params, base.learning))
    figures = data.score(settings)
    attrs = {
        "learning": asdict(settings.learning),
        "recall_by_type": figures["recall_by_type"],
        "benign_clients_blocked_per_1000": figures["benign_clients_blocked_per_1000"],
        "worker": f"{os.uname().nodename}:{os.getpid()}:{worker}",
        "seconds": time.perf_counter() - started,
    }
    return (figures["mean_actor_recall"], figures["benign_share_calls_blocked"]), attrs


def _objective(data: TuningData, base: TrainSettings, tune: TuneSettings, worker: int) -> Any:
    def objective(trial: Any) -> tuple[float, float]:
        values, attrs = _evaluate_point(data, base, tune, tune.space.suggest(trial), worker)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return values

    return objective


def add_baseline(study: Any, data: TuningData, base: TrainSettings, tune: TuneSettings) -> None:
    """Add the base settings (clipped into the space) as a completed trial.

    Scored here and added whole, rather than enqueued: with an RDB storage such as SQLite
    two workers could both pick up one enqueued trial.
    """
    import optuna

    params = tune.space.params_of(base.learning)
    values, attrs = _evaluate_point(data, base, tune, params, 0)
    study.add_trial(
        optuna.trial.create_trial(
            params=params,
            distributions=tune.space.distributions(),
            values=list(values),
            user_attrs={**attrs, "baseline": True},
        )
    )


def run_worker(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    catalogue: Catalogue | Mapping[str, Any] | None,
    base: TrainSettings,
    tune: TuneSettings,
    target_trials: int,
    worker: int = 0,
    ready: Any = None,
    data: TuningData | None = None,
) -> int:
    """Run trials on the shared study until it holds ``target_trials`` trials.

    This is what each worker process runs; a process on another machine that reaches the
    same storage can call it too. ``ready`` is an optional barrier the workers of one call
    pass once their data is prepared, so all start trials together; ``data`` is the
    prepared data when the caller has it already. Returns the number of trials this worker
    ran.
    """
    import optuna

    if isinstance(catalogue, Mapping):
        catalogue = Catalogue.from_dict(catalogue)
    if data is None:
        data = TuningData(train, validation, catalogue)
    study = open_study(tune, worker)
    if ready is not None:
        # a worker that failed aborts the barrier; go on, its exit code is checked
        with contextlib.suppress(threading.BrokenBarrierError):
            ready.wait(timeout=_READY_TIMEOUT_S)
    before = len(study.trials)
    if before >= target_trials:
        return 0
    study.optimize(
        _objective(data, base, tune, worker),
        n_trials=target_trials - before,
        callbacks=[optuna.study.MaxTrialsCallback(target_trials, states=None)],
        gc_after_trial=False,
    )
    return sum(
        1
        for t in study.get_trials(deepcopy=False)[before:]
        if str(t.user_attrs.get("worker", "")).endswith(f":{os.getpid()}:{worker}")
    )


def _spawned_worker(args: tuple) -> None:
    train, validation, catalogue, base, tune, target, worker, ready = args
    try:
        run_worker(train, validation, catalogue, base, tune, target, worker, ready)
    except BaseException:
        ready.abort()  # do not keep the other workers waiting for this one
        raise


# ---- choosing and reporting -------------------------------------------------------------
@dataclass(frozen=True)
class TrialChoice:
    """The chosen trial and why."""

    number: int
    params: dict[str, Any]
    learning: dict[str, Any]
    mean_actor_recall: float
    benign_share_calls_blocked: float
    benign_clients_blocked_per_1000: float
    met_target: bool
    reason: str


def completed_trials(study: Any) -> list[Any]:
    """Return the study's completed trials (both objective values present)."""
    import optuna

    complete = (optuna.trial.TrialState.COMPLETE,)
    return list(study.get_trials(deepcopy=False, states=complete))


def pareto_numbers(trials: list[Any]) -> set[int]:
    """Numbers of the trials no other trial dominates (higher recall, fewer benign blocks)."""
    front = set()
    for t in trials:
        recall, share = t.values
        dominated = any(
            (o.values[0] >= recall and o.values[1] <= share)
            and (o.values[0] > recall or o.values[1] < share)
            for o in trials
        )
        if not dominated:
            front.add(t.number)
    return front


def choose_trial(study: Any, max_benign_share_calls_blocked: float) -> TrialChoice:
    """Pick a trial by the documented rule (module docstring) and say why.

    Raises
    ------
    UserError
        When the study has no completed trial.
    """
    trials = completed_trials(study)
    if not trials:
        raise UserError("the study has no completed trial to choose from")

    def clients(t: Any) -> float:
        return float(t.user_attrs.get("benign_clients_blocked_per_1000", math.inf))

    feasible = [t for t in trials if t.values[1] <= max_benign_share_calls_blocked]
    target = f"{max_benign_share_calls_blocked:.3%}"
    if feasible:
        best = min(feasible, key=lambda t: (-t.values[0], t.values[1], clients(t), t.number))
        reason = (
            f"trial {best.number}: highest mean actor recall ({best.values[0]:.3f}) among "
            f"{len(feasible)} of {len(trials)} trials blocking at most {target} of benign "
            f"calls; it blocks {best.values[1]:.3%} of benign calls and "
            f"{clients(best):.2f} benign clients per 1,000"
        )
    else:
        best = min(trials, key=lambda t: (t.values[1], -t.values[0], clients(t), t.number))
        reason = (
            f"trial {best.number}: no trial blocks at most {target} of benign calls; this one "
            f"blocks the fewest ({best.values[1]:.3%}) with mean actor recall "
            f"{best.values[0]:.3f}; widen the search space or relax the target"
        )
    return TrialChoice(
        number=best.number,
        params=dict(best.params),
        learning=dict(best.user_attrs.get("learning", {})),
        mean_actor_recall=float(best.values[0]),
        benign_share_calls_blocked=float(best.values[1]),
        benign_clients_blocked_per_1000=clients(best),
        met_target=bool(feasible),
        reason=reason,
    )


def trials_frame(study: Any) -> pd.DataFrame:
    """One row per completed trial: objectives, benign clients, Pareto flag, params."""
    trials = completed_trials(study)
    front = pareto_numbers(trials)
    rows = [
        {
            "trial": t.number,
            "mean_actor_recall": t.values[0],
            "benign_share_calls_blocked": t.values[1],
            "benign_clients_blocked_per_1000": t.user_attrs.get("benign_clients_blocked_per_1000"),
            "pareto": t.number in front,
            "baseline": bool(t.user_attrs.get("baseline", False)),
            "worker": t.user_attrs.get("worker"),
            "seconds": t.user_attrs.get("seconds"),
            **t.params,
        }
        for t in trials
    ]
    return pd.DataFrame(rows)


def pareto_figure(frame: pd.DataFrame, choice: TrialChoice, target: float) -> Any:
    """Plot every trial, the Pareto front and the chosen trial (a matplotlib Figure)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.5), layout="constrained")
    ax = figure.subplots()
    x = 100 * frame["benign_share_calls_blocked"]
    ax.scatter(x, frame["mean_actor_recall"], s=18, color="0.65", label="trials")
    front = frame[frame["pareto"]].sort_values("benign_share_calls_blocked")
    ax.step(100 * front["benign_share_calls_blocked"], front["mean_actor_recall"], where="post",
            color="tab:orange", marker="o", label="Pareto front")  # fmt: skip
    ax.axvline(100 * target, color="tab:red", linestyle="--", linewidth=1,
               label=f"target {target:.2%}")  # fmt: skip
    base = frame[frame["baseline"]] if "baseline" in frame else frame.iloc[:0]
    if len(base):
        ax.scatter(100 * base["benign_share_calls_blocked"], base["mean_actor_recall"], s=60,
                   marker="D", facecolor="none", edgecolor="k", zorder=4,
                   label="base settings")  # fmt: skip
    ax.scatter([100 * choice.benign_share_calls_blocked], [choice.mean_actor_recall], s=160,
               marker="*", color="tab:blue", zorder=5,
               label=f"chosen: trial {choice.number}")  # fmt: skip
    ax.set_xscale("symlog", linthresh=0.01)  # linear below 0.01 %, where targets lie
    ax.set_xlabel("benign calls blocked (%, log scale above 0.01 %)")
    ax.set_ylabel("mean actor recall over attack types")
    ax.set_title(f"Tuning: {len(frame)} trials, {int(frame['pareto'].sum())} on the front")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return figure


@dataclass
class TuneResult:
    """What :func:`run_tuning` returns."""

    study_name: str
    storage: str
    choice: TrialChoice
    settings: TrainSettings
    trials: pd.DataFrame
    figure: Any
    ran_here: int
    seconds: float
    run_id: str | None = None

    def summary(self) -> str:
        """Plain text: the Pareto front and the chosen trial with its reason."""
        front = self.trials[self.trials["pareto"]].sort_values("benign_share_calls_blocked")
        lines = [
            f"study {self.study_name!r} ({self.storage}): {len(self.trials)} completed trials, "
            f"{self.ran_here} added by this call in {self.seconds:.0f} s; "
            f"{len(front)} on the Pareto front:",
        ]
        for _, row in front.iterrows():
            mark = "*" if row["trial"] == self.choice.number else " "
            lines.append(
                f" {mark} trial {int(row['trial']):>4}  recall {row['mean_actor_recall']:.3f}  "
                f"benign calls blocked {row['benign_share_calls_blocked']:.3%}  "
                f"benign clients/1000 {row['benign_clients_blocked_per_1000']:.2f}"
            )
        for _, row in self.trials[self.trials["baseline"]].iterrows():
            lines.append(
                f"base settings (trial {int(row['trial'])}): recall "
                f"{row['mean_actor_recall']:.3f}, benign calls blocked "
                f"{row['benign_share_calls_blocked']:.3%}"
            )
        lines.append(f"chosen: {self.choice.reason}")
        learned = ", ".join(f"{k}={v:g}" for k, v in self.learning_overrides().items())
        lines.append(f"settings: {learned}")
        return "\n".join(lines)

    def learning_overrides(self) -> dict[str, float | int]:
        """Return the tuned ``train.learning`` values (to paste into params.yaml)."""
        names = ("normal_quantile", "extreme_quantile", "extreme_margin",
                 "min_normal_crossings", "min_ratio_calls", "min_feature_identifiers",
                 "contamination")  # fmt: skip
        return {name: getattr(self.settings.learning, name) for name in names}


def run_tuning(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    catalogue: Catalogue | None = None,
    base: TrainSettings | None = None,
    tune: TuneSettings | None = None,
    track: bool = True,
    experiment: str = "apibehave-tune",
) -> TuneResult:
    """Run (or join) the study with ``tune.workers`` processes, choose a trial, log it all.

    Parameters
    ----------
    train, validation : pandas.DataFrame
        Events to learn on, and labelled events to score trials on (never the held-out
        test set promotion uses; see the module docstring).
    catalogue : Catalogue, optional
    base : TrainSettings, optional
        Settings the tuned values are applied to (volume guards, TTLs, allow list).
    tune : TuneSettings, optional
    track : bool
        Log the parent run, one nested run per trial and the figure to MLflow.
    experiment : str
        MLflow experiment when not nested under another run.
    """
    base = base or TrainSettings()
    tune = tune or TuneSettings()
    check_validation(validation)
    if track:  # a store that cannot be opened fails now, not after the study
        from apibehave.workbench.tracking import configure_tracking

        configure_tracking(experiment)
    started = time.perf_counter()
    data = TuningData(train, validation, catalogue)
    study = open_study(tune)
    before = len(study.trials)
    if before == 0:  # the base settings are the first trial: a reference on the front
        add_baseline(study, data, base, tune)
    target = before + tune.n_trials
    catalogue_data = catalogue.to_dict() if catalogue is not None else None
    processes = []
    ready = None
    if tune.workers > 1:
        context = multiprocessing.get_context("spawn")
        ready = context.Barrier(tune.workers)
        for worker in range(1, tune.workers):
            args = (train, validation, catalogue_data, base, tune, target, worker, ready)
            process = context.Process(target=_spawned_worker, args=(args,), daemon=False)
            process.start()
            processes.append(process)
    try:
        run_worker(train, validation, catalogue, base, tune, target, 0, ready, data)
    except BaseException:
        if ready is not None:
            ready.abort()
        for process in processes:
            process.terminate()  # the processes this call started, by handle
        raise
    finally:
        for process in processes:
            process.join()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise UserError(f"{len(failed)} tuning worker(s) failed (exit codes {failed})")
    study = open_study(tune)
    choice = choose_trial(study, tune.max_benign_share_calls_blocked)
    frame = trials_frame(study)
    settings = replace(base, learning=tune.space.learning(choice.params, base.learning))
    result = TuneResult(
        study_name=tune.study_name,
        storage=tune.storage,
        choice=choice,
        settings=settings,
        trials=frame,
        figure=pareto_figure(frame, choice, tune.max_benign_share_calls_blocked),
        ran_here=len(study.trials) - before,
        seconds=time.perf_counter() - started,
    )
    if track:
        result.run_id = log_study(study, result, tune, base, experiment=experiment)
    return result


def log_study(
    study: Any,
    result: TuneResult,
    tune: TuneSettings,
    base: TrainSettings,
    *,
    experiment: str = "apibehave-tune",
) -> str:
    """Log a parent ``tune`` run with one nested run per completed trial; return its id."""
    from apibehave.workbench.tracking import flatten, tracked_run

    front = pareto_numbers(completed_trials(study))
    with tracked_run(experiment, "tune", {"optuna.study_name": tune.study_name}) as parent:
        import mlflow

        mlflow.log_params(flatten({"tune": tune.to_dict(), "base": base.to_dict()}))
        mlflow.log_params({"sampler": "NSGAIISampler", "objectives": ",".join(OBJECTIVES)})
        mlflow.log_metrics(
            {
                "chosen.mean_actor_recall": result.choice.mean_actor_recall,
                "chosen.benign_share_calls_blocked": result.choice.benign_share_calls_blocked,
                "chosen.benign_clients_blocked_per_1000":
                    result.choice.benign_clients_blocked_per_1000,
                "trials_completed": float(len(result.trials)),
                "pareto_size": float(len(front)),
                "tune_seconds": result.seconds,
            }
        )  # fmt: skip
        mlflow.set_tags({"chosen_trial": str(result.choice.number),
                         "chosen_reason": result.choice.reason[:4900]})  # fmt: skip
        mlflow.log_figure(result.figure, "pareto_front.png")
        mlflow.log_dict({"train": {"learning": result.learning_overrides()}},
                        "chosen_settings.yaml")  # fmt: skip
        mlflow.log_table(result.trials, "trials.json")
        for trial in completed_trials(study):
            with tracked_run(
                experiment,
                f"trial-{trial.number:04d}",
                {
                    "optuna.trial_number": str(trial.number),
                    "optuna.worker": str(trial.user_attrs.get("worker", "")),
                    "pareto": str(trial.number in front).lower(),
                    "chosen": str(trial.number == result.choice.number).lower(),
                    "baseline": str(bool(trial.user_attrs.get("baseline", False))).lower(),
                },
            ):
                mlflow.log_params(trial.params)
                metrics = {
                    "mean_actor_recall": trial.values[0],
                    "benign_share_calls_blocked": trial.values[1],
                    "benign_clients_blocked_per_1000": float(
                        trial.user_attrs.get("benign_clients_blocked_per_1000", math.nan)
                    ),
                    "seconds": float(trial.user_attrs.get("seconds", math.nan)),
                }
                for attack, recall in trial.user_attrs.get("recall_by_type", {}).items():
                    metrics[f"recall.{attack}"] = recall
                mlflow.log_metrics(metrics)
        return parent.info.run_id


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
