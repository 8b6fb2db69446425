"""A failing notebook stops the pipeline: the cell is named, nothing served changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from apibehave.cli import main
from apibehave.workbench.pipeline import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
PARAMETERS = 'params_path = "params.yaml"\noverrides = []\nrun_dir = None\n' \
    "parent_run_id = None\nproject_dir = None"  # fmt: skip


def _write(folder: Path, name: str, *sources: str) -> None:
    cells = [new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(s) for s in sources]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}  # fmt: skip
    nbformat.write(notebook, folder / f"{name}.ipynb")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with params.yaml, a served bundle and its own MLflow store."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    served = tmp_path / "bundles" / "latest"
    served.mkdir(parents=True)
    (served / "manifest.json").write_text('{"the": "last good bundle"}')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    return tmp_path


def _fake_notebooks(folder: Path, failing: str, *failure: str) -> None:
    """Seven quick notebooks: 05 records a promotion pending release, ``failing`` fails."""
    folder.mkdir()
    for name in NOTEBOOKS:
        body = ["x = 1"]
        if name == "05_evaluate_register":
            body = ["import json, pathlib\n"
                    "pathlib.Path(run_dir, 'registry.json').write_text(json.dumps("
                    "{'promoted': True, 'release_on_success': True, 'version': '1', "
                    "'summary': 'fake'}))"]  # fmt: skip
        if name == failing:
            body = ["y = 2", *failure]
        _write(folder, name, *body)


def test_failing_notebook_is_named_and_nothing_served_moves(project: Path, capsys) -> None:
    """A notebook that raises: exit 1, its name and cell in one line, champion and bundle kept."""
    _fake_notebooks(project / "nb", "07_forensics", "raise ValueError('boom at the end')")
    code = main(["pipeline", "--no-progress", "-p", "pipeline.notebooks_dir=nb"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err[-1].startswith("apibehave pipeline: error: notebook 07_forensics failed in cell 3")
    assert "of its executed copy runs/" in err[-1]
    assert "ValueError: boom at the end" in err[-1]
    assert "raise ValueError" in err[-1]
    assert (project / "bundles/latest/manifest.json").read_text() == '{"the": "last good bundle"}'
    assert sorted(p.name for p in (project / "bundles/latest").iterdir()) == ["manifest.json"]
    import mlflow

    client = mlflow.MlflowClient()
    assert client.search_registered_models() == []  # champion never moved (nothing released)
    failed = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "attributes.status = 'FAILED'"
    )
    assert failed and failed[0].data.tags.get("pipeline.failed_step") == "07_forensics"


def test_a_user_error_in_a_notebook_exits_2(project: Path, capsys) -> None:
    """A settings or data mistake inside a notebook exits 2 with its message."""
    _fake_notebooks(project / "nb", "01_traffic",
                    "from apibehave.common.errors import UserError\n"
                    "raise UserError('data.source: calls.parquet: no such file')")  # fmt: skip
    code = main(["pipeline", "--no-progress", "-p", "pipeline.notebooks_dir=nb"])
    err = capsys.readouterr().err
    assert code == 2
    assert "notebook 01_traffic failed in cell 3" in err  # after papermill's injected cell
    assert "UserError: data.source: calls.parquet: no such file" in err
    assert "Traceback" not in err


def test_bad_params_stop_before_any_notebook(project: Path, capsys) -> None:
    """A malformed override is refused before a run folder exists."""
    code = main(["pipeline", "-p", "tune.n_trials=many"])
    assert code == 2
    assert "tune.n_trials: must be a whole number" in capsys.readouterr().err
    assert not (project / "runs").exists()


def test_missing_notebook_is_named(project: Path, capsys) -> None:
    """A notebooks folder without the seven notebooks is named."""
    (project / "nb").mkdir()
    assert main(["pipeline", "-p", "pipeline.notebooks_dir=nb"]) == 2
    assert "no notebook nb/01_traffic.ipynb" in capsys.readouterr().err


def test_unopenable_mlflow_store_is_named(project: Path, monkeypatch, capsys) -> None:
    """An MLflow store that cannot be opened stops the run with its URI."""
    (project / "nb").mkdir()
    for name in NOTEBOOKS:
        _write(project / "nb", name, "x = 1")
    (project / "broken.db").write_text("this is not an SQLite database\n" * 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'broken.db'}")
    assert main(["pipeline", "-p", "pipeline.notebooks_dir=nb"]) == 2
    err = capsys.readouterr().err
    assert "cannot open the MLflow store sqlite:///" in err and "broken.db" in err
    assert "Traceback" not in err
    assert not (project / "runs").exists()
