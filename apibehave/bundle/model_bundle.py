"""Write a :class:`~apibehave.detect.decision_model.DecisionModel` as a bundle, and load it.

Payload: ``features.json`` (the feature declaration), ``vocabulary.json``,
``thresholds.json`` (per-API normal and extreme thresholds a person may edit and reseal),
``policy.json``, ``apis.yaml`` (the catalogue) and, when trained, ``payload.json`` (the
payload detector). All plain data; nothing that runs code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apibehave.bundle.errors import BundleError
from apibehave.bundle.reader import LoadedBundle, load_bundle
from apibehave.bundle.writer import write_bundle
from apibehave.detect.decision_model import DecisionModel
from apibehave.detect.model import DetectorSet
from apibehave.detect.payload import PayloadDetector
from apibehave.detect.policy import DecisionPolicy
from apibehave.features.spec import FeatureSet
from apibehave.features.vocabulary import Vocabulary
from apibehave.schema.catalogue import Catalogue

FEATURES_FILE = "features.json"
VOCABULARY_FILE = "vocabulary.json"
THRESHOLDS_FILE = "thresholds.json"
POLICY_FILE = "policy.json"
CATALOGUE_FILE = "apis.yaml"
PAYLOAD_FILE = "payload.json"


def write_model_bundle(
    model: DecisionModel,
    out_dir: str | os.PathLike[str],
    manifest_fields: Mapping[str, Any],
    *,
    force: bool = False,
) -> Path:
    """Write ``model`` as a sealed bundle directory.

    Parameters
    ----------
    model : DecisionModel
        What to export.
    out_dir : path-like
        The bundle directory.
    manifest_fields : mapping
        ``bundle_id``, ``params_hash``, ``training_data_digest`` and optional manifest
        fields (see :func:`apibehave.bundle.writer.build_manifest`);
        ``feature_spec_hash`` and per-API status are filled in from the model.
    force : bool
        Replace an existing bundle.
    """
    files = {
        FEATURES_FILE: model.feature_set.to_dict(),
        VOCABULARY_FILE: model.vocabulary.to_dict(),
        THRESHOLDS_FILE: model.detectors.to_dict(),
        POLICY_FILE: model.policy.to_dict(),
        CATALOGUE_FILE: model.catalogue.to_dict(),
    }
    if model.payload is not None:
        files[PAYLOAD_FILE] = model.payload.to_dict()
    apis = {
        api: {"status": d.status, "n_events": d.n_events, "reason": d.reason}
        for api, d in sorted(model.detectors.detectors.items())
    }
    fields = {
        **dict(manifest_fields),
        "feature_spec_hash": model.feature_set.spec_hash,
        "apis": apis,
    }
    return write_bundle(out_dir, files, fields, force=force)


def load_model_bundle(path: str | os.PathLike[str]) -> DecisionModel:
    """Verify a bundle and rebuild its decision model.

    Raises
    ------
    BundleError
        When the bundle does not verify or its files do not make a model.
    """
    bundle = load_bundle(path)
    return model_from_bundle(bundle)


def model_from_bundle(bundle: LoadedBundle) -> DecisionModel:
    """Rebuild the decision model from an already verified bundle."""
    where = str(bundle.path)
    try:
        feature_set = FeatureSet.from_dict(bundle.read_json(FEATURES_FILE))
        if feature_set.spec_hash != bundle.manifest.feature_spec_hash:
            raise BundleError(f"{where}: features.json does not match the manifest's spec hash")
        return DecisionModel(
            feature_set=feature_set,
            vocabulary=Vocabulary.from_dict(bundle.read_json(VOCABULARY_FILE)),
            detectors=DetectorSet.from_dict(bundle.read_json(THRESHOLDS_FILE), feature_set),
            catalogue=Catalogue.from_dict(bundle.read_yaml(CATALOGUE_FILE), source=where),
            policy=DecisionPolicy.from_dict(bundle.read_json(POLICY_FILE)),
            payload=(
                PayloadDetector.from_dict(bundle.read_json(PAYLOAD_FILE))
                if PAYLOAD_FILE in bundle.names
                else None
            ),
        )
    except BundleError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{where}: not a decision-model bundle ({exc})") from exc
