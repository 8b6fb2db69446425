"""``apibehave pipeline``: run the notebooks in order with papermill, then promote and serve.

One pipeline run:

1. validates ``params.yaml`` (with the ``-p`` overrides) before anything runs;
2. opens a run folder ``<pipeline.runs_dir>/<UTC timestamp>/`` and a parent MLflow run;
3. executes ``01_traffic`` .. ``07_forensics`` with papermill (kernel ``python3``), each
   copy written into the run folder, each notebook's own MLflow run nested under the
   parent (``parent_run_id`` parameter), the executed notebook logged to it;
4. stops at the first failing notebook, naming it and its cell, marks its run failed and
   changes nothing that is served: ``champion`` does not move (notebook 05 gives a winner
   ``staging`` only) and the bundle at ``export.bundle_dir`` stays as it was;
5. when every notebook succeeded: moves ``champion`` to the version 05 promoted (the
   ``staging`` -> ``champion`` step of :mod:`apibehave.workbench.registry`), optionally
   copies it to ``register.production_model``, exports the champion's bundle to a
   temporary folder, verifies it and swaps it into ``export.bundle_dir``;
6. returns a plain-text summary: the detection table, run ids, registry versions and
   aliases, the bundle path.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apibehave.common.errors import UserError
from apibehave.workbench.params import Params, load_params

NOTEBOOKS = (
    "01_traffic", "02_explore", "03_train", "04_tune", "05_evaluate_register", "06_export",
    "07_forensics",
)  # fmt: skip
KERNEL = "python3"


class PipelineFailedError(UserError):
    """A notebook failed: one line naming it, its cell and the error.

    ``exit_code`` is 2 when the notebook raised a :class:`UserError` (a mistake in the
    settings or data), else 1.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class StepResult:
    """One executed notebook."""

    name: str
    output: str
    seconds: float
    run_id: str | None
    ok: bool


@dataclass
class PipelineResult:
    """What a successful pipeline run produced."""

    run_dir: Path
    run_id: str
    steps: list[StepResult] = field(default_factory=list)
    champion: str | None = None
    bundle: str | None = None
    summary: str = ""
    seconds: float = 0.0


def run_pipeline(
    params_path: str | os.PathLike[str] = "params.yaml",
    overrides: Iterable[str] = (),
    *,
    notebooks: Iterable[str] = NOTEBOOKS,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> PipelineResult:
    """Run the notebooks, then promote and serve (see the module docstring).

    Parameters
    ----------
    params_path : path-like
        The params file (relative to the current folder, the project).
    overrides : iterable of str
        ``section.key=value`` overrides, passed on to every notebook.
    notebooks : iterable of str
        Notebook names to run, in order (all seven by default).
    progress : bool
        Show papermill's per-cell progress bars.
    echo : callable
        Where progress lines go.

    Raises
    ------
    PipelineFailedError
        A notebook failed (nothing served was changed).
    UserError
        Bad params, missing notebooks, an MLflow store that cannot be opened.
    """
    import papermill

    from apibehave.workbench.tracking import configure_tracking, tracked_run

    started = time.perf_counter()
    overrides = list(overrides)
    project = Path.cwd().resolve()
    params_file = Path(params_path).resolve()
    params = load_params(params_file, overrides)
    sources = [Path(params.pipeline.notebooks_dir) / f"{name}.ipynb" for name in notebooks]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise UserError(f"pipeline.notebooks_dir: no notebook {missing[0]}")
    mlflow = configure_tracking(params.pipeline.experiment)
    run_dir = _new_run_dir(Path(params.pipeline.runs_dir))
    tags = {"pipeline.run_dir": str(run_dir), "params_hash": params.params_hash}
    with tracked_run(params.pipeline.experiment, f"pipeline {run_dir.name}", tags) as run:
        result = PipelineResult(run_dir=run_dir, run_id=run.info.run_id)
        flat = list(params.flat().items())
        for start in range(0, len(flat), 90):
            mlflow.log_params({k: str(v)[:500] for k, v in flat[start : start + 90]})
        echo(f"pipeline: run folder {run_dir}, MLflow run {run.info.run_id} "
             f"({params.source})")  # fmt: skip
        for index, source in enumerate(sources, 1):
            name = source.stem
            output = run_dir / source.name
            echo(f"[{index}/{len(sources)}] {name} ...")
            step_started = time.perf_counter()
            try:
                papermill.execute_notebook(
                    str(source),
                    str(output),
                    parameters={
                        "params_path": str(params_file),
                        "overrides": overrides,
                        "run_dir": str(run_dir.resolve()),
                        "parent_run_id": run.info.run_id,
                        "project_dir": str(project),
                    },
                    kernel_name=KERNEL,
                    cwd=str(project),
                    progress_bar=progress,
                    request_save_on_cell_execute=True,
                )
            except Exception as exc:
                _close_step(mlflow, run_dir, name, output, ok=False)
                mlflow.set_tag("pipeline.failed_step", name)
                raise _failure(name, output, exc) from exc
            seconds = time.perf_counter() - step_started
            step_run = _close_step(mlflow, run_dir, name, output, ok=True)
            result.steps.append(StepResult(name, str(output), seconds, step_run, True))
            mlflow.log_metric(f"step_seconds.{name}", seconds)
            echo(f"[{index}/{len(sources)}] {name} done in {seconds:.0f} s")
        if len(sources) == len(NOTEBOOKS):
            _finalize(params, run_dir, result, echo)
        result.seconds = time.perf_counter() - started
        mlflow.log_metric("pipeline_seconds", result.seconds)
        result.summary = summary_text(params, result)
        (run_dir / "summary.txt").write_text(result.summary + "\n", encoding="utf-8")
        mlflow.log_artifact(str(run_dir / "summary.txt"))
    return result


def _new_run_dir(root: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = root / stamp
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = root / f"{stamp}-{suffix}"
    folder.mkdir(parents=True)
    return folder


def _step_run_id(run_dir: Path, name: str) -> str | None:
    record = run_dir / "steps" / f"{name}.json"
    if not record.is_file():
        return None
    return json.loads(record.read_text(encoding="utf-8")).get("run_id")


def _close_step(mlflow: Any, run_dir: Path, name: str, output: Path, *, ok: bool) -> str | None:
    """Attach the executed notebook to the step's run; mark the run failed when it failed."""
    run_id = _step_run_id(run_dir, name)
    if run_id is None:
        return None
    client = mlflow.MlflowClient()
    if output.is_file():
        client.log_artifact(run_id, str(output), "notebook")
    if not ok:
        client.set_terminated(run_id, "FAILED")
    return run_id


def _failure(name: str, output: Path, exc: Exception) -> PipelineFailedError:
    """Turn papermill's exception into one line naming the notebook and the cell."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        lines = [line for line in (exc.source or "").splitlines() if line.strip()]
        code = lines[0].strip() if lines else ""
        code = code if len(code) <= 70 else code[:67] + "..."
        value = " ".join(str(exc.evalue).split())
        user = exc.ename in ("UserError", "PipelineFailedError", "BundleError", "CatalogueError")
        return PipelineFailedError(
            f"notebook {name} failed in cell {exc.cell_index} of its executed copy {output} "
            f"(`{code}`): {exc.ename}: {value}",
            exit_code=2 if user else 1,
        )
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return PipelineFailedError(
        f"notebook {name} could not run: {type(exc).__name__}: {first}; executed copy {output}"
    )


def _record(run_dir: Path, name: str) -> dict[str, Any] | None:
    path = run_dir / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _finalize(params: Params, run_dir: Path, result: PipelineResult, echo: Callable) -> None:
    """Move champion to this run's winner, then serve the champion's bundle (swap)."""
    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.common.output import atomic_output
    from apibehave.workbench.registry import (
        CHALLENGER,
        CHAMPION,
        alias_version,
        copy_to_registered_model,
        export_bundle_for,
        release_staging,
    )

    name = params.register.model_name
    registry = _record(run_dir, "registry") or {}
    if registry.get("promoted") and registry.get("release_on_success"):
        version = release_staging(name)
        if alias_version(name, CHALLENGER) == version:  # it is no longer a challenger
            _drop_alias(name, CHALLENGER)
        echo(f"registry: {name} v{version} is now {CHAMPION}")
        if params.register.production_model:
            copied = copy_to_registered_model(name, version, params.register.production_model)
            echo(f"registry: copied to {params.register.production_model} v{copied}")
    result.champion = alias_version(name, CHAMPION)
    if result.champion is None:
        echo(f"registry: no {CHAMPION} for {name}; {params.export.bundle_dir} left as it was")
        return
    staged = run_dir / "bundles" / "served"
    export_bundle_for(name, staged, alias=CHAMPION, force=True)
    load_model_bundle(staged)  # verify before it replaces what is served
    with atomic_output(params.export.bundle_dir, directory=True) as tmp:
        shutil.copytree(staged, tmp, dirs_exist_ok=True)
    result.bundle = params.export.bundle_dir
    echo(f"bundle: {params.export.bundle_dir} now serves {name} v{result.champion}")


def _drop_alias(name: str, alias: str) -> None:
    from apibehave.workbench.tracking import connect

    connect().MlflowClient().delete_registered_model_alias(name, alias)


def registry_lines(name: str, limit: int = 6) -> list[str]:
    """Return one line per recent version of ``name``: its aliases and promotion decision."""
    from apibehave.workbench.tracking import connect

    client = connect().MlflowClient()
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except Exception as exc:  # MLflow raises many kinds; a summary line is enough
        return [f"  (cannot read the registry: {exc})"]
    numbers = sorted((int(v.version) for v in versions), reverse=True)[:limit]
    lines = []
    for number in numbers:
        v = client.get_model_version(name, str(number))  # carries the aliases
        aliases = ", ".join(getattr(v, "aliases", []) or []) or "-"
        decision = (v.tags or {}).get("promotion.decision", "-")
        lines.append(f"  v{v.version:<4} aliases: {aliases:<22} promotion: {decision}")
    return lines


def summary_text(params: Params, result: PipelineResult) -> str:
    """Return the end-of-run summary a terminal user reads."""
    run_dir = result.run_dir
    lines = [f"pipeline finished in {result.seconds:.0f} s; run folder {run_dir}", ""]
    evaluation = _record(run_dir, "evaluation")
    candidate = _record(run_dir, "candidate") or {}
    if evaluation:
        tuned = " (tuned settings)" if candidate.get("tuned") else ""
        lines += [f"detection on the held-out set, candidate{tuned}:", evaluation["text"], ""]
    lines.append(f"MLflow runs (experiment {params.pipeline.experiment}):")
    lines.append(f"  pipeline               {result.run_id}")
    lines += [f"  {s.name:<22} {s.run_id}  ({s.seconds:.0f} s)" for s in result.steps]
    tuning = _record(run_dir, "tuning")
    if tuning:
        lines.append(f"  tune study             {tuning['study']} (trial {tuning['chosen_trial']}"
                     f" chosen), run {tuning['tune_run_id']}")  # fmt: skip
    registry = _record(run_dir, "registry")
    name = params.register.model_name
    lines += ["", f"registry {name}:"]
    if registry:
        lines.append(f"  this run: {registry['summary']}")
        if registry.get("promoted") and registry.get("release_on_success"):
            lines.append(f"  released: v{registry['version']} moved to champion at the end")
    lines += registry_lines(name)
    lines += ["", f"bundle: {result.bundle or 'unchanged (no champion)'}"
              + (f" = {name} v{result.champion} ({Path(result.bundle).resolve()})"
                 if result.bundle else "")]  # fmt: skip
    forensic = _record(run_dir, "forensics")
    if forensic:
        lines.append(f"forensics: {forensic['blocks']} blocks of {forensic['identifiers']} "
                     f"identifiers in {run_dir / 'forensics.json'}")  # fmt: skip
    lines.append(f"executed notebooks: {run_dir}/*.ipynb")
    return "\n".join(lines)
