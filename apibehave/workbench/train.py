"""Train a decision model from any event log and export it as a verified bundle."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from apibehave.bundle.model_bundle import write_model_bundle
from apibehave.common.errors import UserError
from apibehave.detect.decision_model import DecisionModel
from apibehave.detect.model import DetectorSet
from apibehave.detect.payload import PayloadDetector
from apibehave.features.batch import compute_features
from apibehave.features.default import DEFAULT_FEATURE_SET
from apibehave.features.prepare import prepare_events
from apibehave.features.spec import FeatureSet
from apibehave.features.vocabulary import Vocabulary
from apibehave.schema.catalogue import Catalogue, resolve_apis
from apibehave.schema.events import IDENTIFIER_COLUMNS
from apibehave.workbench.train_settings import TrainSettings

_DIGEST_COLUMNS = ("ts", "client_ip", "method", "path", "status", "api", "host", "query",
                   "req_bytes", "resp_bytes", "user_agent", "token", "cookie", "api_key",
                   "username")  # fmt: skip


@dataclass
class TrainResult:
    """A trained model and what it was trained on."""

    model: DecisionModel
    training_data_digest: str
    n_events: int
    seconds: float
    api_status: dict[str, dict[str, Any]] = field(default_factory=dict)
    features: np.ndarray | None = None
    api_names: np.ndarray | None = None


def train_model(
    events: pd.DataFrame,
    *,
    catalogue: Catalogue | None = None,
    settings: TrainSettings | None = None,
    feature_set: FeatureSet = DEFAULT_FEATURE_SET,
    keep_features: bool = False,
) -> TrainResult:
    """Learn vocabulary and per-API thresholds from a training log.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events of the training period (labels, if any, are never read).
    catalogue : Catalogue, optional
        The APIs; without one, each event's own ``api`` column names its API.
    settings : TrainSettings, optional
        Learning settings and policy.
    feature_set : FeatureSet
        The features to learn on.
    keep_features : bool
        Also return the training features (``features``, raw batch values in feature-set
        order) and each call's API (``api_names``), e.g. to plot thresholds against them.

    Raises
    ------
    UserError
        When there are no events to train on.
    """
    started = time.perf_counter()
    if len(events) == 0:
        raise UserError("no events to train on (the training set is empty)")
    settings = settings or TrainSettings()
    catalogue = apply_api_overrides(catalogue or Catalogue(), settings)
    events = events.reset_index(drop=True)
    apis = resolve_apis(events, catalogue) if len(catalogue) else events["api"]
    if not len(catalogue):
        _check_override_names(settings, set(apis.dropna().astype(str)))
    resolved = events.assign(api=apis)
    model_shell = DecisionModel(
        feature_set, Vocabulary(), DetectorSet(feature_set, {}, settings.learning), catalogue,
        settings.policy(),
    )  # fmt: skip
    prepared = prepare_events(resolved, model_shell.feature_context())
    vocabulary = Vocabulary.fit(prepared, feature_set)
    features = compute_features(prepared, feature_set, vocabulary).to_numpy()
    if not features.flags.writeable:
        features = features.copy()
    _cross_fit_novelty(features, prepared, feature_set)
    codes = {
        kind: prepared[column].cat.codes.to_numpy(dtype=np.int64)
        for kind, column in IDENTIFIER_COLUMNS.items()
    }
    api_names = prepared["api"].astype(object).to_numpy()
    detectors = DetectorSet.fit(features, api_names, codes, feature_set, settings.learning)
    for api, override in settings.per_api.items():
        rows = np.flatnonzero(api_names == api)
        if override.learning and rows.size:  # its thresholds with its own learning settings
            own = DetectorSet.fit(
                features[rows], api_names[rows], {k: c[rows] for k, c in codes.items()},
                feature_set, settings.learning_for(api),
            )  # fmt: skip
            detectors.detectors[api] = own.detectors[api]
    payload = _fit_payload(resolved, settings) if settings.payload_detector else None
    model = DecisionModel(
        feature_set, vocabulary, detectors, catalogue, settings.policy(), payload=payload
    )
    status = {
        api: {"status": d.status, "n_events": d.n_events, "reason": d.reason}
        for api, d in sorted(detectors.detectors.items())
    }
    return TrainResult(
        model=model,
        training_data_digest=events_digest(events),
        n_events=len(events),
        seconds=time.perf_counter() - started,
        api_status=status,
        features=features if keep_features else None,
        api_names=api_names if keep_features else None,
    )


def _fit_payload(resolved: pd.DataFrame, settings: TrainSettings) -> PayloadDetector | None:
    """Fit the payload detector on the earlier 80% of the calls, calibrate on the rest.

    The threshold is the risk that ``payload_fpr`` of the held-out (later, unseen) normal
    calls exceed, so it reflects requests the detector never learned from.
    """
    if len(resolved) < 10:
        return None
    order = np.argsort(resolved["ts"].to_numpy(), kind="stable")
    cut = int(len(order) * 0.8)
    fit_rows, holdout_rows = order[:cut], order[cut:]
    detector = PayloadDetector().fit(resolved.iloc[fit_rows])
    return detector.calibrate(resolved.iloc[holdout_rows], fpr=settings.payload_fpr)


def _cross_fit_novelty(
    features: np.ndarray, prepared: pd.DataFrame, feature_set: FeatureSet
) -> None:
    """Replace the training calls' novelty features by out-of-sample values, in place.

    Novelty measured against a vocabulary learned from the very calls being measured is
    biased low: every path and query seen in training is "known". Live, the vocabulary
    meets calls it has never seen, so thresholds learned in-sample fire on ordinary
    long-tail traffic. Each half of the training log (split at its median time) is
    therefore measured against the vocabulary of the other half. The bundle's vocabulary
    is still learned from all calls.
    """
    columns = [j for j, spec in enumerate(feature_set) if spec.aggregation == "novelty"]
    if not columns or len(prepared) < 2:
        return
    subset = feature_set.select([feature_set.features[j].name for j in columns])
    ts = prepared["ts_ns"].to_numpy()
    first = ts <= np.median(ts)
    if first.all():
        return
    for half in (first, ~first):
        other = Vocabulary.fit(prepared.loc[~half], feature_set)
        values = compute_features(prepared, subset, other)[subset.names].to_numpy()
        features[np.ix_(np.flatnonzero(half), columns)] = values[half]


def apply_api_overrides(catalogue: Catalogue, settings: TrainSettings) -> Catalogue:
    """Return the catalogue with ``train.per_api`` modes and blocking switches applied.

    Raises
    ------
    UserError
        When an override names an API the catalogue lacks (with a catalogue), or sets a
        mode or blocking switch without one.
    """
    if not settings.per_api:
        return catalogue
    if not len(catalogue):
        for api, override in settings.per_api.items():
            if override.mode is not None or override.enable_blocking is not None:
                raise UserError(
                    f"train.per_api.{api}: mode and enable_blocking need an API catalogue "
                    "(--apis, or data.apis in params.yaml)"
                )
        return catalogue
    _check_override_names(settings, set(catalogue.names))
    apis = []
    for api in catalogue.apis:
        override = settings.per_api.get(api.name)
        if override is not None and override.mode is not None:
            api = replace(api, mode=override.mode)
        if override is not None and override.enable_blocking is not None:
            api = replace(api, enable_blocking=override.enable_blocking)
        apis.append(api)
    return replace(catalogue, apis=tuple(apis))


def _check_override_names(settings: TrainSettings, names: set[str]) -> None:
    for api in settings.per_api:
        if api not in names:
            raise UserError(
                f"train.per_api.{api}: unknown API; the training data has "
                f"{', '.join(sorted(names)) or 'no APIs'}"
            )


def export_bundle(
    result: TrainResult,
    out_dir: str | os.PathLike[str],
    settings: TrainSettings,
    *,
    force: bool = False,
    mlflow_run_id: str | None = None,
) -> Path:
    """Write a trained model as a sealed, verified bundle directory."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    fields: dict[str, Any] = {
        "bundle_id": f"apibehave-{stamp}-{result.training_data_digest[:8]}",
        "params_hash": settings.params_hash,
        "training_data_digest": result.training_data_digest,
        "extra": {"n_training_events": result.n_events},
    }
    if mlflow_run_id:
        fields["mlflow_run_id"] = mlflow_run_id
    return write_model_bundle(result.model, out_dir, fields, force=force)


def events_digest(events: pd.DataFrame) -> str:
    """SHA-256 over the contract columns of every event, in order (labels excluded)."""
    columns = [c for c in _DIGEST_COLUMNS if c in events.columns]
    hashed = pd.util.hash_pandas_object(events[columns], index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(columns).encode())
    return digest.hexdigest()
