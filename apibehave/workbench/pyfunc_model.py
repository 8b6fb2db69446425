"""Log a bundle as an MLflow pyfunc model "from code", with pinned requirements.

The logged model is :mod:`apibehave.workbench.mlflow_model_code` (models-from-code: MLflow
copies that file, no pickle) plus two artifacts:

- ``bundle``: the bundle directory, stored as ``artifacts/bundle``; loading verifies its
  checksums (no pickle);
- ``apibehave_wheel``: a wheel of the apibehave that wrote it, built from the source tree.

``requirements.txt`` lists apibehave's runtime dependencies and their dependencies, each
pinned to the version installed here (the versions of ``requirements/constraints.txt`` in a
``make venv`` environment), then the wheel as ``artifacts/apibehave-<version>-...whl``:
MLflow restores a model's environment by running ``pip install -r`` inside the model
directory, so the relative path resolves to the wheel shipped with the model, and the model
needs no package index that knows apibehave. Research libraries (MLflow's own deps aside)
are not listed: scoring needs only the runtime core.

Usage::

    from apibehave.workbench.pyfunc_model import log_bundle_model

    with tracked_run("apibehave-train", "train"):
        info = log_bundle_model("bundles/latest", example_events=events.head(20),
                                registered_model_name="apibehave")
    model = mlflow.pyfunc.load_model(info.model_uri)  # or "models:/apibehave@champion"
    decisions = model.predict(events)                 # = replay_events(events, model)

A wheel is built once per process and source state (about 5 s); set ``APIBEHAVE_WHEEL`` to
a prebuilt wheel to skip the build (needed when apibehave was installed without its source
tree).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from apibehave.common.errors import UserError

MODEL_NAME_IN_RUN = "model"
"""Name of the logged model within its run (``runs:/<id>/model``)."""

BUNDLE_ARTIFACT = "bundle"
WHEEL_ARTIFACT = "apibehave_wheel"
MODEL_CODE = Path(__file__).with_name("mlflow_model_code.py")
WHEEL_ENV = "APIBEHAVE_WHEEL"
_WHEELS: dict[str, Path] = {}


def log_bundle_model(
    bundle_dir: str | os.PathLike[str],
    *,
    example_events: pd.DataFrame,
    name: str = MODEL_NAME_IN_RUN,
    registered_model_name: str | None = None,
    wheel: str | os.PathLike[str] | None = None,
) -> Any:
    """Log a verified bundle as a pyfunc model (in the active run, if any).

    Parameters
    ----------
    bundle_dir : path-like
        A bundle written by :func:`apibehave.workbench.train.export_bundle`.
    example_events : pandas.DataFrame
        A few canonical events: the input example, and with the decisions the model gives
        them, the signature. Label columns are dropped.
    name : str
        The model's name within the run.
    registered_model_name : str, optional
        Also register the model under this name (a new version, no alias).
    wheel : path-like, optional
        A prebuilt apibehave wheel; else ``$APIBEHAVE_WHEEL``, else built from source.

    Returns
    -------
    mlflow.models.model.ModelInfo
        ``model_uri``, ``registered_model_version`` and the rest.

    Raises
    ------
    UserError
        When the bundle does not verify or no wheel can be had.
    """
    from apibehave import __version__
    from apibehave.bundle.errors import BundleError
    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.engine.replay import replay_events
    from apibehave.workbench.tracking import connect

    mlflow = connect()
    bundle = Path(bundle_dir)
    try:
        model = load_model_bundle(bundle)
    except BundleError as exc:
        raise UserError(f"{bundle}: {exc}") from exc
    example = model_input(example_events.head(20))
    # whole seconds: MLflow's JSON serving example parses every time with the first
    # one's format (see docs/mlflow.md); the events are otherwise unchanged
    example["ts"] = example["ts"].dt.floor("s")
    replay_events(example, model)  # the example must score before it is logged
    wheel_path = apibehave_wheel(wheel)
    with tempfile.TemporaryDirectory() as tmp:
        # MLflow keeps a directory artifact's own name: copy it so the model always holds
        # artifacts/bundle, whatever the bundle directory was called
        staged = Path(tmp) / BUNDLE_ARTIFACT
        shutil.copytree(bundle, staged)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(MODEL_CODE),
            artifacts={BUNDLE_ARTIFACT: str(staged), WHEEL_ARTIFACT: str(wheel_path)},
            pip_requirements=pip_requirements(wheel_path.name),
            signature=model_signature(),
            input_example=example,
            model_config={"apibehave_version": __version__},
            registered_model_name=registered_model_name,
            await_registration_for=0 if registered_model_name else 300,
        )


def model_input(events: pd.DataFrame) -> pd.DataFrame:
    """Return events as the model's signature wants them.

    Contract columns only (labels and extras dropped), ``ts`` as timezone-naive UTC
    (MLflow's ``datetime`` type refuses timezone-aware values; the model reads naive
    times as UTC), missing optional columns added empty.

    Raises
    ------
    UserError
        When there are no events or they do not fit the event schema.
    """
    from apibehave.schema import EVENT_COLUMN_NAMES, normalize_events

    if len(events) == 0:
        raise UserError("the model input needs at least one event")
    frame = normalize_events(events.reset_index(drop=True), source="model input")
    frame = frame.reindex(columns=list(EVENT_COLUMN_NAMES))
    frame["ts"] = frame["ts"].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def model_signature() -> Any:
    """Return the pyfunc's signature: the event schema in, the decisions file out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from apibehave.schema import EVENT_COLUMNS

    kinds = {"timestamp": "datetime", "string": "string", "int": "long", "float": "double"}
    inputs = Schema([ColSpec(kinds[c.kind], c.name, required=c.required) for c in EVENT_COLUMNS])
    outputs = Schema(
        [
            ColSpec("long", "event_index"),
            ColSpec("string", "decision"),
            ColSpec("string", "attack_type", required=False),
            ColSpec("string", "identifier_kind", required=False),
            ColSpec("string", "identifier", required=False),
            ColSpec("double", "risk"),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements(wheel_name: str) -> list[str]:
    """Return the model's requirements: pinned runtime closure, then the shipped wheel."""
    return [*runtime_requirements(), f"artifacts/{wheel_name}"]


def runtime_requirements() -> list[str]:
    """Pin apibehave's runtime dependencies and theirs to the installed versions.

    Extras (``enforce``, ``workbench``, ``dev``) are left out; markers are evaluated for
    this interpreter.
    """
    pinned: dict[str, str] = {}
    pending = _runtime_names(metadata.requires("apibehave") or [])
    while pending:
        name = pending.pop()
        key = _canonical(name)
        if key in pinned:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise UserError(f"runtime dependency {name} is not installed") from exc
        pinned[key] = f"{dist.metadata['Name']}=={dist.version}"
        pending.extend(_runtime_names(dist.requires or []))
    return sorted(pinned.values(), key=str.lower)


def _runtime_names(requirements: Iterable[str]) -> list[str]:
    from packaging.requirements import Requirement

    names = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        names.append(req.name)
    return names


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def apibehave_wheel(wheel: str | os.PathLike[str] | None = None) -> Path:
    """Return a wheel of the running apibehave: given, from ``$APIBEHAVE_WHEEL``, or built.

    Raises
    ------
    UserError
        When the given wheel is missing, or there is no source tree to build from.
    """
    given = wheel or os.environ.get(WHEEL_ENV)
    if given:
        path = Path(given)
        if not path.is_file() or path.suffix != ".whl":
            raise UserError(f"{path}: not a wheel file (from --wheel or ${WHEEL_ENV})")
        return path
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise UserError(
            f"no apibehave source tree at {root} to build a wheel from; set ${WHEEL_ENV}"
        )
    digest = _source_digest(root)
    cached = _WHEELS.get(digest)
    if cached is not None and cached.is_file():
        return cached
    _WHEELS[digest] = _build_wheel(root, digest)
    return _WHEELS[digest]


def _source_digest(root: Path) -> str:
    digest = hashlib.sha256()
    files = [root / "pyproject.toml", *sorted((root / "apibehave").rglob("*"))]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _build_wheel(root: Path, digest: str) -> Path:
    """Build from a clean copy of the tree, so no build files land in the work tree."""
    out = Path(tempfile.gettempdir()) / f"apibehave-wheel-{digest}"
    existing = sorted(out.glob("apibehave-*.whl"))
    if existing:
        return existing[0]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "apibehave-src"
        source.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (root / name).is_file():
                shutil.copy2(root / name, source / name)
        shutil.copytree(
            root / "apibehave",
            source / "apibehave",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        built = Path(tmp) / "wheel"
        pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(built)]
        # isolated first (fetches setuptools from the configured index); then offline with
        # the environment's own setuptools, when it can build wheels by itself
        for extra in ([], ["--no-build-isolation"]):
            result = subprocess.run([*pip_wheel, *extra, str(source)],
                                    capture_output=True, text=True, check=False)  # fmt: skip
            wheels = sorted(built.glob("apibehave-*.whl"))
            if result.returncode == 0 and wheels:
                break
        else:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise UserError(f"could not build the apibehave wheel ({last}); set ${WHEEL_ENV}")
        out.mkdir(parents=True, exist_ok=True)
        target = out / wheels[0].name
        partial = out / f".{wheels[0].name}.{os.getpid()}"
        shutil.copy2(wheels[0], partial)
        os.replace(partial, target)  # atomic: a concurrent builder never sees half a wheel
    return target
