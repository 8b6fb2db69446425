"""The notebooks: thin and output-free in git, and every one executes under papermill.

The executed run is one ``apibehave pipeline`` on a tiny simulated world with a temporary
MLflow store: all seven notebooks run in order, the challenger is registered and becomes
champion, and the served bundle names its registry version.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from apibehave.workbench.pipeline import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"

SMOKE = [
    "simulate.scale=0.02",
    "train.learning.min_events=200",
    "tune.n_trials=2",
    "tune.workers=1",
    "tune.population_size=2",
    "pipeline.tuning_scale=0.01",
    "evaluate.max_forensic_reports=5",
]
"""Small smoke parameters: every step runs, on about 50,000 events."""


def _notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_thin_and_output_free(name: str) -> None:
    """A parameters cell first, no outputs, no def/class, valid Python in every code cell."""
    notebook = _notebook(name)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    for cell in code:
        assert cell.outputs == [], f"{name}: a cell has outputs"
        assert cell.execution_count is None, f"{name}: a cell has an execution count"
        tree = ast.parse(cell.source)
        defined = [n for n in ast.walk(tree) if isinstance(
            n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda)]  # fmt: skip
        assert not defined, f"{name}: defines {type(defined[0]).__name__} in a cell"
    assert "apibehave.workbench" in "\n".join(c.source for c in code)
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_notebooks_match_their_generator() -> None:
    """notebooks/*.ipynb are what scripts/make_notebooks.py writes (edit the script)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "scripts" /
                                                  "make_notebooks.py")  # fmt: skip
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert tuple(module.CELLS) == NOTEBOOKS
    for name, cells in module.CELLS.items():
        expected = nbformat.writes(module.build(name, cells)) + "\n"
        assert (NOTEBOOK_DIR / f"{name}.ipynb").read_text(encoding="utf-8") == expected


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory):
    """One pipeline run of every notebook in a temporary project with its own MLflow store."""
    project = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "params.yaml", project / "params.yaml")
    served = project / "bundles" / "latest"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.delenv("APIBEHAVE_PARENT_RUN_ID", raising=False)
        from apibehave.workbench.pipeline import run_pipeline

        lines: list[str] = []
        overrides = [*SMOKE, f"pipeline.notebooks_dir={NOTEBOOK_DIR}",
                     "tune.storage=optuna/study.journal"]  # fmt: skip
        result = run_pipeline("params.yaml", overrides, progress=False, echo=lines.append)
        import mlflow

        client = mlflow.MlflowClient()
        champion = client.get_model_version_by_alias("apibehave", "champion")
        runs = {
            s.name: client.get_run(s.run_id) for s in result.steps
        }  # read while the store is ours
        yield {"result": result, "project": project, "served": served, "lines": lines,
               "champion": champion, "runs": runs}  # fmt: skip


def test_every_notebook_executes_into_the_run_folder(pipeline_run) -> None:
    """The seven executed copies are in the run folder, with outputs."""
    result = pipeline_run["result"]
    assert [s.name for s in result.steps] == list(NOTEBOOKS)
    for step in result.steps:
        executed = nbformat.read(step.output, as_version=4)
        assert Path(step.output).parent == result.run_dir
        assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")


def test_step_runs_nest_under_the_pipeline_run(pipeline_run) -> None:
    """Each notebook's MLflow run is a child of the pipeline run and finished."""
    result = pipeline_run["result"]
    for name, run in pipeline_run["runs"].items():
        assert run.data.tags.get("mlflow.parentRunId") == result.run_id, name
        assert run.info.status == "FINISHED", name
        assert run.data.tags.get("params_hash"), name
    metrics = pipeline_run["runs"]["05_evaluate_register"].data.metrics
    assert "heldout.benign.share_calls_blocked" in metrics
    assert any(k.startswith("heldout.login_attack.") for k in metrics)


def test_champion_is_served_and_named_in_the_bundle(pipeline_run) -> None:
    """The first run's challenger becomes champion; the served bundle names that version."""
    from apibehave.bundle.reader import load_bundle

    champion = pipeline_run["champion"]
    registry = json.loads((pipeline_run["result"].run_dir / "registry.json").read_text())
    assert registry["version"] == str(champion.version)
    assert registry["alias"] == "staging" and registry["release_on_success"]
    manifest = load_bundle(pipeline_run["served"]).manifest
    assert manifest.registry.version == str(champion.version)
    assert manifest.registry.alias == "champion"


def test_figures_and_records_are_written(pipeline_run) -> None:
    """Plots for traffic, thresholds, tuning and detection; forensic reports in the seeds' shape."""
    run_dir = pipeline_run["result"].run_dir
    figures = {p.name for p in (run_dir / "figures").glob("*.png")}
    for expected in ("traffic_train.png", "top_clients.png", "thresholds_orders.png",
                     "pareto_front.png", "recall_by_type.png", "confusion.png",
                     "calls_to_first_block.png"):  # fmt: skip
        assert expected in figures
    forensics = json.loads((run_dir / "forensics.json").read_text())
    assert forensics["reports"], "no blocked identifier to report"
    report = forensics["reports"][0]
    for key in ("identifier", "identifier_kind", "total_calls", "ips", "methods", "urls",
                "apis", "evidence"):  # fmt: skip
        assert key in report
    assert sum(report["ips"].values()) == report["total_calls"]


def test_summary_names_table_runs_registry_and_bundle(pipeline_run) -> None:
    """The end-of-run summary has the detection table, run ids, versions and the bundle."""
    result = pipeline_run["result"]
    summary = result.summary
    assert "attack type" in summary and "benign:" in summary
    assert result.run_id in summary
    assert f"v{pipeline_run['champion'].version}" in summary and "champion" in summary
    assert "bundles/latest" in summary
