"""One notebook's step: its settings, its run folder and its MLflow run.

Every notebook starts the same way: its ``parameters`` cell names the params file, the
``-p`` overrides, the run folder and the pipeline's MLflow run, then::

    step = open_step("03_train", params_path, overrides, run_dir, parent_run_id, project_dir)
    p = step.params

:func:`open_step` moves to the project folder, loads and validates ``params.yaml``, opens
the run folder (``runs/manual`` when a notebook is run by hand, so notebooks run one by one
in JupyterLab hand their results to each other) and starts the step's MLflow run, nested
under the pipeline run when there is one, with the resolved params, their hash and the git
commit. Steps hand results on as small JSON records in the run folder
(:meth:`Step.record`, :meth:`Step.load`); :meth:`Step.finish` ends the run.

The pipeline (:mod:`apibehave.workbench.pipeline`) reads ``steps/<name>.json`` to find a
step's run: to attach the executed notebook, and to mark the run failed when the notebook
failed.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apibehave.common.errors import UserError
from apibehave.workbench.params import Params, load_params

MANUAL_RUN = "manual"
"""Run folder (under ``pipeline.runs_dir``) of notebooks run by hand."""
PROJECT_MARKER = "params.yaml"


def find_project(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the nearest folder at or above ``start`` (default: cwd) holding params.yaml.

    Raises
    ------
    UserError
        When no such folder exists.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_MARKER).is_file():
            return folder
    raise UserError(f"no {PROJECT_MARKER} in {here} or above; pass project_dir")


@dataclass(frozen=True)
class SavedFigure:
    """A figure saved as PNG; notebooks display it from the file."""

    path: Path

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()


@dataclass
class Step:
    """A running notebook step.

    Attributes
    ----------
    name : str
        The notebook's name (``03_train``).
    params : Params
    run_dir : Path
        The run folder shared by the steps of one pipeline run.
    run_id : str or None
        The step's MLflow run (None when tracking is off).
    figures : list of str
        Figures saved so far (paths in the run folder).
    """

    name: str
    params: Params
    run_dir: Path
    run_id: str | None = None
    figures: list[str] = field(default_factory=list)
    _context: Any = None

    # ---- handing results on ---------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        """Return a path inside the run folder (its parent folder is created)."""
        target = self.run_dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def record(self, name: str, data: dict[str, Any]) -> Path:
        """Write ``<run_dir>/<name>.json`` (and log it to the step's run)."""
        target = self.path(f"{name}.json")
        target.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        if self.run_id is not None:
            _mlflow().log_artifact(str(target))
        return target

    def load(self, name: str) -> dict[str, Any]:
        """Read the record ``name`` an earlier step wrote.

        Raises
        ------
        UserError
            When the earlier step has not run in this run folder.
        """
        source = self.run_dir / f"{name}.json"
        if not source.is_file():
            raise UserError(
                f"{source}: missing; run the notebook that writes {name!r} first "
                f"(in this run folder, {self.run_dir})"
            )
        return json.loads(source.read_text(encoding="utf-8"))

    # ---- MLflow ---------------------------------------------------------------------------
    def log_figure(self, figure: Any, filename: str) -> SavedFigure:
        """Render a matplotlib figure once to a PNG in the run folder and log it.

        The PNG goes to the step's run under ``figures/`` (the artifact
        ``mlflow.log_figure`` would write, without rendering the figure a second time);
        the returned object shows the PNG when it ends a notebook cell.
        """
        target = self.path("figures", filename)
        figure.savefig(target, dpi=100)
        self.figures.append(str(target))
        if self.run_id is not None:
            _mlflow().log_artifact(str(target), "figures")
        return SavedFigure(target)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """Log finite numeric metrics to the step's run (names made MLflow-safe)."""
        if self.run_id is None:
            return
        clean = {
            _metric_name(k): float(v)
            for k, v in metrics.items()
            if v is not None and v == v and abs(float(v)) != float("inf")
        }
        if clean:
            _mlflow().log_metrics(clean)

    def log_dataset(self, events: Any, *, name: str, source: str, digest: str) -> None:
        """Log an events table as an MLflow dataset input (schema from a sample, full digest)."""
        if self.run_id is None:
            return
        import mlflow.data

        sample = events.head(1000).reset_index(drop=True)
        for column in sample.columns:  # MLflow's schema inference wants plain dtypes
            if str(sample[column].dtype) in ("category", "string"):
                sample[column] = sample[column].astype(object)
        dataset = mlflow.data.from_pandas(sample, source=source, name=name, digest=digest[:32])
        mlflow.log_input(dataset, context=name)

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Set tags on the step's run."""
        if self.run_id is not None:
            _mlflow().set_tags({k: str(v)[:4900] for k, v in tags.items()})

    def finish(self) -> None:
        """End the step's MLflow run (successfully)."""
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None
        print(f"{self.name}: done; run folder {self.run_dir}" + (
            f", MLflow run {self.run_id}" if self.run_id else ""
        ))  # fmt: skip


def open_step(
    name: str,
    params_path: str | None = "params.yaml",
    overrides: list[str] | None = None,
    run_dir: str | None = None,
    parent_run_id: str | None = None,
    project_dir: str | None = None,
    *,
    track: bool = True,
) -> Step:
    """Start a notebook step (see the module docstring).

    Parameters
    ----------
    name : str
        The notebook's name.
    params_path : str or None
        The params file, relative to the project folder.
    overrides : list of str, optional
        ``section.key=value`` overrides.
    run_dir : str, optional
        The run folder; default ``<pipeline.runs_dir>/manual``.
    parent_run_id : str, optional
        The pipeline's MLflow run to nest under.
    project_dir : str, optional
        The project folder; default the nearest folder holding params.yaml.
    track : bool
        Start an MLflow run.
    """
    # text progress bars in notebooks without ipywidgets, without tqdm's warning about it
    warnings.filterwarnings("ignore", message="IProgress not found")
    project = Path(project_dir).resolve() if project_dir else find_project()
    if not project.is_dir():
        raise UserError(f"project_dir {project}: no such folder")
    os.chdir(project)
    params = load_params(params_path, overrides or [])
    folder = Path(run_dir) if run_dir else Path(params.pipeline.runs_dir) / MANUAL_RUN
    folder.mkdir(parents=True, exist_ok=True)
    step = Step(name=name, params=params, run_dir=folder.resolve())
    if track:
        from apibehave.workbench.tracking import tracked_run

        context = tracked_run(
            params.pipeline.experiment,
            name,
            {"step": name, "params_hash": params.params_hash, "params_source": params.source},
            parent_run_id=parent_run_id,
        )
        run = context.__enter__()
        step._context = context
        step.run_id = run.info.run_id
        mlflow = _mlflow()
        flat = params.flat()
        items = list(flat.items())
        for start in range(0, len(items), 90):  # MLflow takes at most 100 params per call
            mlflow.log_params({k: str(v)[:500] for k, v in items[start : start + 90]})
        mlflow.log_dict(params.document, "params.resolved.yaml")
        (folder / "steps").mkdir(exist_ok=True)
        (folder / "steps" / f"{name}.json").write_text(
            json.dumps({"step": name, "run_id": step.run_id}) + "\n", encoding="utf-8"
        )
    print(
        f"{name}: params {params.source} (hash {params.params_hash[:12]}), run folder {folder}"
        + (f", MLflow run {step.run_id}" if step.run_id else "")
    )
    return step


def _metric_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in str(name))


def _mlflow() -> Any:
    import mlflow

    return mlflow
