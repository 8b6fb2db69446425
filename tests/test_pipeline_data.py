"""Notebook 01's data step: simulate, or ingest a call log and discover its catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from apibehave.common.errors import UserError
from apibehave.schema.catalogue import load_catalogue
from apibehave.schema.event_io import read_events
from apibehave.workbench.data import data_summary, prepare_data
from apibehave.workbench.params import load_params


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory):
    """A tiny simulated data set, as notebook 01 writes it."""
    folder = tmp_path_factory.mktemp("sim")
    p = load_params(None, ["simulate.scale=0.01", f"data.dir={folder}"])
    return p, prepare_data(p, progress=False)


def test_simulation_writes_periods_and_the_simulators_catalogue(simulated) -> None:
    """Training period, held-out test period, the simulator's apis.yaml and a discovery."""
    _, files = simulated
    train, held_out = read_events(files.train), read_events(files.held_out)
    assert set(train["period"]) == {"train"} and set(held_out["period"]) == {"test"}
    assert files.catalogue.endswith("apis.yaml")
    assert "orders" in load_catalogue(files.catalogue)
    assert len(load_catalogue(files.discovered)) > 0
    summary = data_summary(files)
    assert list(summary["set"]) == ["train", "held_out"]
    assert summary.loc[1, "attack_types"] >= 20  # every campaign runs in the test period


def test_a_call_log_is_ingested_and_its_catalogue_discovered(simulated, tmp_path: Path) -> None:
    """Retraining input: a log file is ingested whole; the held-out set is the named file."""
    _, files = simulated
    p = load_params(None, [f"data.source={files.train}", f"data.dir={tmp_path}",
                           f"evaluate.held_out={files.held_out}"])  # fmt: skip
    retrain = prepare_data(p, progress=False)
    assert retrain.train == str(tmp_path / "ingested.parquet")
    assert len(read_events(retrain.train)) == len(read_events(files.train))
    assert retrain.catalogue == retrain.discovered
    assert retrain.held_out == files.held_out


def test_a_missing_held_out_file_is_named(simulated, tmp_path: Path) -> None:
    """A held-out file that does not exist is named."""
    _, files = simulated
    p = load_params(None, [f"data.source={files.train}", f"data.dir={tmp_path}",
                           "evaluate.held_out=nowhere/test.parquet"])  # fmt: skip
    with pytest.raises(UserError, match=r"nowhere/test\.parquet: no such event file"):
        prepare_data(p, progress=False)
