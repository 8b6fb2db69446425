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


def test_pipeline_executes_every_notebook(tmp_path: Path, monkeypatch) -> None:
    """One pipeline run on a tiny world: all seven notebooks, a champion, a served bundle.

    One test (not a module fixture) so that ``pytest -n 2`` runs the pipeline once.
    """
    from apibehave.bundle.reader import load_bundle
    from apibehave.workbench.pipeline import run_pipeline

    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("APIBEHAVE_PARENT_RUN_ID", raising=False)
    lines: list[str] = []
    overrides = [*SMOKE, f"pipeline.notebooks_dir={NOTEBOOK_DIR}",
                 "tune.storage=optuna/study.journal"]  # fmt: skip
    result = run_pipeline("params.yaml", overrides, progress=False, echo=lines.append)
    import mlflow

    client = mlflow.MlflowClient()
    run_dir = result.run_dir

    # every notebook executed into the run folder, with outputs
    assert [s.name for s in result.steps] == list(NOTEBOOKS)
    for step in result.steps:
        executed = nbformat.read(step.output, as_version=4)
        assert Path(step.output).parent == run_dir
        assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")

    # step runs nest under the pipeline run, finished, with params hash and metrics
    for step in result.steps:
        run = client.get_run(step.run_id)
        assert run.data.tags.get("mlflow.parentRunId") == result.run_id, step.name
        assert run.info.status == "FINISHED", step.name
        assert run.data.tags.get("params_hash"), step.name
    evaluate_run = client.get_run(result.steps[4].run_id)
    assert "heldout.benign.share_calls_blocked" in evaluate_run.data.metrics
    assert any(k.startswith("heldout.login_attack.") for k in evaluate_run.data.metrics)
    assert client.list_artifacts(evaluate_run.info.run_id, "notebook")

    # the first challenger goes staging -> champion at the end; the bundle names it
    champion = client.get_model_version_by_alias("apibehave", "champion")
    registry = json.loads((run_dir / "registry.json").read_text())
    assert registry["version"] == str(champion.version)
    assert registry["alias"] == "staging" and registry["release_on_success"]
    manifest = load_bundle(tmp_path / "bundles" / "latest").manifest
    assert manifest.registry.version == str(champion.version)
    assert manifest.registry.alias == "champion"

    # figures and forensic reports in the seeds' shape
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

    # the summary: detection table, run ids, registry versions and aliases, bundle path
    summary = result.summary
    assert "attack type" in summary and "benign:" in summary
    assert result.run_id in summary
    assert f"v{champion.version}" in summary and "champion" in summary
    assert "bundles/latest" in summary
