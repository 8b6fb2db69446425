"""``params.yaml``: every run setting in typed, validated sections.

One file drives ``make run``, ``apibehave pipeline``, the notebooks and the CLI commands
that take ``--params``. Sections (units are in key names: ``_s`` seconds, ``_h`` hours):

- ``data``: where events come from (``source: simulate`` or a log/event file such as the
  enforcer's call log), its ``format``, the working ``dir``, the API catalogue;
- ``simulate``: the scenario and its overrides (validated by
  :func:`apibehave.simulate.load_scenario`);
- ``features``: the feature set;
- ``train``: learning settings and policy (:mod:`apibehave.workbench.train_settings`), with
  per-API overrides under ``train.per_api``;
- ``tune``: the Optuna study (:class:`apibehave.workbench.tune.TuneSettings`);
- ``evaluate``: the fixed held-out set promotion compares on, table sizes;
- ``register``: the registered model, the alias a winner moves, the promotion rule;
- ``export``: where the served bundle goes;
- ``pipeline``: notebooks and run folders, whether notebook 04 tunes.

Missing sections and keys keep their defaults; a misspelt key, a wrong type or an unknown
API in a per-API override raises :class:`~apibehave.common.errors.UserError` naming the
file and the key. ``overrides`` (``-p key=value``, the value read as YAML) are applied
before validation, so they are checked the same way.

Usage::

    from apibehave.workbench.params import load_params

    p = load_params("params.yaml", ["simulate.scale=0.05", "tune.n_trials=4"])
    p.train.learning.normal_quantile, p.register.model_name, p.data.dir
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from apibehave.common.errors import UserError
from apibehave.workbench.train_settings import TrainSettings, train_settings_from_dict

SECTIONS = (
    "data", "simulate", "features", "train", "tune", "evaluate", "register", "export",
    "pipeline",
)  # fmt: skip
SIMULATED = "simulate"
"""``data.source`` value: simulate the data instead of reading a log."""
HELD_OUT_SIMULATED = "simulated"
"""``evaluate.held_out`` value: the simulated test period (``data.dir``/test.parquet)."""
FEATURE_SETS = ("default",)
REGISTER_ALIASES = ("champion", "staging")


@dataclass(frozen=True)
class DiscoverParams:
    """How ``apibehave discover`` proposes a catalogue (see its ``--help``)."""

    depth: int = 2
    min_calls: int = 50
    min_2xx: int = 1


@dataclass(frozen=True)
class DataParams:
    """Where the events come from.

    Attributes
    ----------
    source : str
        ``simulate``, or a log or event file (an enforcer call log, a gateway log, Parquet).
    format : str
        ``apibehave ingest`` format of ``source`` (``auto`` detects it).
    dir : str
        Working folder for events, catalogue and decisions.
    apis : str or None
        API catalogue file; None: the simulator's catalogue, or one discovered from the data.
    shared_datasets : str
        Folder of real third-party logs for benchmarks (never committed).
    discover : DiscoverParams
    """

    source: str = SIMULATED
    format: str = "auto"
    dir: str = "datasets/default"
    apis: str | None = None
    shared_datasets: str = "../shared/datasets"
    discover: DiscoverParams = field(default_factory=DiscoverParams)

    @property
    def simulated(self) -> bool:
        """Whether the data is simulated (else read from ``source``)."""
        return self.source == SIMULATED


@dataclass(frozen=True)
class EvaluateParams:
    """What a trained model is evaluated and promoted on.

    Attributes
    ----------
    held_out : str
        ``simulated`` (the simulated test period) or a labelled event file; the same fixed
        set scores the challenger and the champion.
    forensics_events : str
        What notebook 07 replays: ``held_out`` or an event file.
    top_n : int
        Rows in top-N tables (clients, user agents, paths).
    max_forensic_reports : int
        Blocked identifiers given a full forensic report in notebook 07.
    """

    held_out: str = HELD_OUT_SIMULATED
    forensics_events: str = "held_out"
    top_n: int = 10
    max_forensic_reports: int = 20


@dataclass(frozen=True)
class RegisterParams:
    """The MLflow registry step (:mod:`apibehave.workbench.registry`).

    Attributes
    ----------
    model_name : str
        Registered model.
    alias : str
        Where a challenger that beats the champion goes: ``champion`` (moved when the whole
        pipeline succeeds) or ``staging`` (pre-production; ``champion`` stays).
    rule : mapping
        :class:`~apibehave.workbench.registry.PromotionRule` fields.
    production_model : str or None
        Also copy a new champion into this registered model.
    """

    model_name: str = "apibehave"
    alias: str = "champion"
    rule: Mapping[str, float] = field(default_factory=dict)
    production_model: str | None = None

    def promotion_rule(self) -> Any:
        """Return the :class:`~apibehave.workbench.registry.PromotionRule`."""
        from apibehave.workbench.registry import PromotionRule

        return PromotionRule(**dict(self.rule))


@dataclass(frozen=True)
class ExportParams:
    """Where the champion's bundle is served from.

    Attributes
    ----------
    bundle_dir : str
        The bundle an enforcer serves; replaced only when a pipeline succeeds.
    """

    bundle_dir: str = "bundles/latest"


@dataclass(frozen=True)
class PipelineParams:
    """How ``apibehave pipeline`` runs the notebooks.

    Attributes
    ----------
    notebooks_dir : str
        Where ``01_traffic.ipynb`` .. ``07_forensics.ipynb`` live.
    runs_dir : str
        Executed copies go to ``<runs_dir>/<UTC timestamp>/``.
    tune : bool
        Notebook 04 runs the study and the challenger is retrained with the chosen
        settings; false keeps ``train`` as written.
    tuning_seed : int
        Seed of the separate simulated world tuning scores trials on (never the held-out
        set).
    tuning_scale : float
        Its scale.
    experiment : str
        MLflow experiment of pipeline and step runs.
    """

    notebooks_dir: str = "notebooks"
    runs_dir: str = "runs"
    tune: bool = True
    tuning_seed: int = 1007
    tuning_scale: float = 0.05
    experiment: str = "apibehave-pipeline"


@dataclass(frozen=True)
class Params:
    """Every section of ``params.yaml``, validated.

    Attributes
    ----------
    data, features, evaluate, register, export, pipeline : dataclasses
    simulate : dict
        The ``simulate`` section as given (scenario name and overrides).
    train : TrainSettings
    tune : apibehave.workbench.tune.TuneSettings
    source : str
        The file these came from (and the overrides applied), for messages.
    document : dict
        The resolved plain data (what the params hash covers).
    """

    data: DataParams
    simulate: dict[str, Any]
    features: str
    train: TrainSettings
    tune: Any
    evaluate: EvaluateParams
    register: RegisterParams
    export: ExportParams
    pipeline: PipelineParams
    source: str
    document: dict[str, Any]

    @property
    def params_hash(self) -> str:
        """SHA-256 of the canonical JSON of the resolved settings."""
        text = json.dumps(self.document, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def scenario(self) -> Any:
        """Return the :class:`~apibehave.simulate.Scenario` of the ``simulate`` section."""
        from apibehave.simulate import load_scenario

        try:
            return load_scenario(self.simulate)
        except UserError as exc:
            raise UserError(f"{self.source}: {exc}") from exc

    def feature_set(self) -> Any:
        """Return the :class:`~apibehave.features.spec.FeatureSet` named by ``features``."""
        from apibehave.features.default import DEFAULT_FEATURE_SET

        return DEFAULT_FEATURE_SET

    def flat(self) -> dict[str, Any]:
        """Return the resolved settings as ``section.key`` pairs (for ``mlflow.log_params``)."""
        from apibehave.workbench.tracking import flatten

        return {k: "" if v is None else v for k, v in flatten(self.document).items()}


def load_params(
    path: str | os.PathLike[str] | None = "params.yaml",
    overrides: Iterable[str] = (),
) -> Params:
    """Read, override and validate a params file.

    Parameters
    ----------
    path : path-like or None
        The params file; None uses the defaults of every section.
    overrides : iterable of str
        ``section.key=value`` (dotted path; the value is read as YAML: ``3``, ``0.5``,
        ``true``, ``null``, ``[a, b]``, or a string).

    Returns
    -------
    Params

    Raises
    ------
    UserError
        Naming the file and the key of the first mistake.
    """
    overrides = list(overrides)
    source = "defaults" if path is None else str(path)
    document = {} if path is None else read_document(path)
    document = apply_overrides(document, overrides, source=source)
    if overrides:
        source = f"{source} (with -p {' -p '.join(overrides)})"
    return params_from_dict(document, source=source)


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the plain YAML mapping of a params file."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{file}: no such params file")
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{file}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(document, Mapping):
        raise UserError(f"{file}: the top level must be a mapping of sections")
    return dict(document)


def apply_overrides(
    document: Mapping[str, Any], overrides: Sequence[str], *, source: str = "params"
) -> dict[str, Any]:
    """Return a copy of ``document`` with each ``a.b.c=value`` set (value read as YAML)."""
    result = copy.deepcopy(dict(document))
    for item in overrides:
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"-p {item!r}: use SECTION.KEY=VALUE, e.g. simulate.scale=0.1")
        parts = key.split(".")
        if parts[0] not in SECTIONS:
            raise UserError(f"-p {key}: unknown section {parts[0]!r}; one of {list(SECTIONS)}")
        if len(parts) < 2 or not all(parts):
            raise UserError(f"-p {key}: name a key inside the section, e.g. {parts[0]}.KEY")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise UserError(f"-p {key}: value {text!r} is not valid YAML") from exc
        node = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise UserError(f"-p {key}: {source}: {where} is not a mapping")
            node = child
        node[parts[-1]] = value
    return result


def params_from_dict(document: Mapping[str, Any], *, source: str = "params") -> Params:
    """Validate a params document given as plain data."""
    if not isinstance(document, Mapping):
        raise UserError(f"{source}: the top level must be a mapping of sections")
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise UserError(f"{source}: {unknown[0]}: unknown section; expected {list(SECTIONS)}")
    raw = {name: document.get(name) for name in SECTIONS}
    for name, value in raw.items():
        if value is not None and not isinstance(value, Mapping):
            raise UserError(f"{source}: {name}: must be a mapping of settings")
    data = _data(raw["data"] or {}, source)
    simulate = dict(raw["simulate"] or {})
    features = _features(raw["features"] or {}, source)
    train = _train(raw["train"] or {}, source)
    tune = _tune(raw["tune"], source)
    evaluate = _evaluate(raw["evaluate"] or {}, data, source)
    register = _register(raw["register"] or {}, source)
    export = _export(raw["export"] or {}, source)
    pipeline = _pipeline(raw["pipeline"] or {}, source)
    if data.simulated:
        _check_simulate(simulate, source)
    resolved = {
        "data": asdict(data),
        "simulate": simulate,
        "features": {"set": features},
        "train": train.to_dict(),
        "tune": tune.to_dict(),
        "evaluate": asdict(evaluate),
        "register": {**asdict(register), "rule": dict(register.rule)},
        "export": asdict(export),
        "pipeline": asdict(pipeline),
    }
    params = Params(
        data=data, simulate=simulate, features=features, train=train, tune=tune,
        evaluate=evaluate, register=register, export=export, pipeline=pipeline,
        source=source, document=resolved,
    )  # fmt: skip
    known = known_api_names(params)
    if known is not None:
        check_api_overrides(train, known, source=source)
    return params


def known_api_names(params: Params) -> tuple[str, ...] | None:
    """Return the API names overrides may name, when known before the data is read.

    The catalogue file of ``data.apis``; the simulator's APIs when the data is simulated;
    None when the catalogue will be discovered from the data (checked at training).
    """
    if params.data.apis:
        from apibehave.schema.catalogue import load_catalogue

        try:
            return load_catalogue(params.data.apis).names
        except UserError as exc:
            raise UserError(f"{params.source}: data.apis: {exc}") from exc
    if params.data.simulated:
        from apibehave.simulate import APIS

        return tuple(api.name for api in APIS)
    return None


def check_api_overrides(train: TrainSettings, names: Iterable[str], *, source: str) -> None:
    """Raise when ``train.per_api`` names an API that is not in ``names``."""
    names = tuple(names)
    for api in getattr(train, "per_api", {}) or {}:
        if api not in names:
            raise UserError(
                f"{source}: train.per_api.{api}: unknown API; the catalogue has "
                f"{', '.join(sorted(names)) or 'no APIs'}"
            )


# ---- sections ---------------------------------------------------------------------------
def _keys(section: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    known = list(known)
    for key in section:
        if key not in known:
            raise UserError(f"{where}.{key}: unknown key; expected one of {sorted(known)}")


def _string(value: Any, where: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where}: must be a non-empty string{' or null' if optional else ''}")
    return value


def _whole(value: Any, where: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UserError(f"{where}: must be a whole number >= {least}")
    return value


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
        raise UserError(f"{where}: must be a number in ({low:g}, {high:g}]")
    return float(value)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{where}: must be true or false")
    return value


def _data(section: Mapping[str, Any], source: str) -> DataParams:
    from apibehave.ingest.pipeline import FORMATS

    where = f"{source}: data"
    defaults = DataParams()
    _keys(section, ("source", "format", "dir", "apis", "shared_datasets", "discover"), where)
    fmt = _string(section.get("format", defaults.format), f"{where}.format")
    if fmt not in FORMATS:
        raise UserError(f"{where}.format: unknown format {fmt!r}; one of {list(FORMATS)}")
    discover = section.get("discover") or {}
    if not isinstance(discover, Mapping):
        raise UserError(f"{where}.discover: must be a mapping")
    _keys(discover, ("depth", "min_calls", "min_2xx"), f"{where}.discover")
    base = DiscoverParams()
    return DataParams(
        source=_string(section.get("source", defaults.source), f"{where}.source"),
        format=fmt,
        dir=_string(section.get("dir", defaults.dir), f"{where}.dir"),
        apis=_string(section.get("apis"), f"{where}.apis", optional=True),
        shared_datasets=_string(
            section.get("shared_datasets", defaults.shared_datasets), f"{where}.shared_datasets"
        ),
        discover=DiscoverParams(
            depth=_whole(discover.get("depth", base.depth), f"{where}.discover.depth", 1),
            min_calls=_whole(
                discover.get("min_calls", base.min_calls), f"{where}.discover.min_calls", 1
            ),
            min_2xx=_whole(discover.get("min_2xx", base.min_2xx), f"{where}.discover.min_2xx", 0),
        ),
    )


def _check_simulate(section: Mapping[str, Any], source: str) -> None:
    from apibehave.simulate import load_scenario

    try:
        load_scenario(section)
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from exc


def _features(section: Mapping[str, Any], source: str) -> str:
    _keys(section, ("set",), f"{source}: features")
    name = _string(section.get("set", "default"), f"{source}: features.set")
    if name not in FEATURE_SETS:
        raise UserError(f"{source}: features.set: unknown feature set {name!r}; {FEATURE_SETS}")
    return name


def _train(section: Mapping[str, Any], source: str) -> TrainSettings:
    return train_settings_from_dict(section, source=f"{source}: train")


def _tune(section: Any, source: str) -> Any:
    from apibehave.workbench.tune import tune_settings_from_dict

    return tune_settings_from_dict(section, source=f"{source}: tune")


def _evaluate(section: Mapping[str, Any], data: DataParams, source: str) -> EvaluateParams:
    where = f"{source}: evaluate"
    d = EvaluateParams()
    _keys(section, ("held_out", "forensics_events", "top_n", "max_forensic_reports"), where)
    held_out = _string(section.get("held_out", d.held_out), f"{where}.held_out")
    if held_out == HELD_OUT_SIMULATED and not data.simulated:
        raise UserError(
            f"{where}.held_out: data.source is a log ({data.source}), so name a fixed labelled "
            "held-out event file (e.g. the datasets/default/test.parquet of a simulated run)"
        )
    return EvaluateParams(
        held_out=held_out,
        forensics_events=_string(
            section.get("forensics_events", d.forensics_events), f"{where}.forensics_events"
        ),
        top_n=_whole(section.get("top_n", d.top_n), f"{where}.top_n", 1),
        max_forensic_reports=_whole(
            section.get("max_forensic_reports", d.max_forensic_reports),
            f"{where}.max_forensic_reports",
            0,
        ),
    )


def _register(section: Mapping[str, Any], source: str) -> RegisterParams:
    from dataclasses import fields

    from apibehave.workbench.registry import PromotionRule

    where = f"{source}: register"
    d = RegisterParams()
    _keys(section, ("model_name", "alias", "rule", "production_model"), where)
    alias = _string(section.get("alias", d.alias), f"{where}.alias")
    if alias not in REGISTER_ALIASES:
        raise UserError(f"{where}.alias: must be one of {list(REGISTER_ALIASES)}, got {alias!r}")
    rule = section.get("rule") or {}
    if not isinstance(rule, Mapping):
        raise UserError(f"{where}.rule: must be a mapping")
    _keys(rule, [f.name for f in fields(PromotionRule)], f"{where}.rule")
    for key, value in rule.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UserError(f"{where}.rule.{key}: must be a number >= 0")
    return RegisterParams(
        model_name=_string(section.get("model_name", d.model_name), f"{where}.model_name"),
        alias=alias,
        rule={k: float(v) for k, v in rule.items()},
        production_model=_string(
            section.get("production_model"), f"{where}.production_model", optional=True
        ),
    )


def _export(section: Mapping[str, Any], source: str) -> ExportParams:
    where = f"{source}: export"
    _keys(section, ("bundle_dir",), where)
    return ExportParams(
        bundle_dir=_string(
            section.get("bundle_dir", ExportParams.bundle_dir), f"{where}.bundle_dir"
        )
    )


def _pipeline(section: Mapping[str, Any], source: str) -> PipelineParams:
    where = f"{source}: pipeline"
    d = PipelineParams()
    _keys(section, list(asdict(d)), where)
    return PipelineParams(
        notebooks_dir=_string(
            section.get("notebooks_dir", d.notebooks_dir), f"{where}.notebooks_dir"
        ),
        runs_dir=_string(section.get("runs_dir", d.runs_dir), f"{where}.runs_dir"),
        tune=_flag(section.get("tune", d.tune), f"{where}.tune"),
        tuning_seed=_whole(section.get("tuning_seed", d.tuning_seed), f"{where}.tuning_seed", 0),
        tuning_scale=_number(
            section.get("tuning_scale", d.tuning_scale), f"{where}.tuning_scale", 0.0, 10.0
        ),
        experiment=_string(section.get("experiment", d.experiment), f"{where}.experiment"),
    )
