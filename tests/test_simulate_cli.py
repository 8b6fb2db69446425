"""``apibehave simulate``: the four outputs, their agreement, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from apibehave.cli import main
from apibehave.schema import read_events
from apibehave.schema.catalogue import load_catalogue, resolve_apis
from apibehave.simulate.apis import APIS

TINY_PARAMS = {
    "data": {"dir": "unused"},
    "simulate": {
        "scenario": "default",
        "scale": 0.01,
        "train_duration_h": 6,
        "test_duration_h": 6,
        "traps": {"flash_crowd": {"start_h": 9}},
    },
}


def _params(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small simulation written by the command line."""
    tmp = tmp_path_factory.mktemp("simulate")
    params = _params(tmp, TINY_PARAMS)
    out = tmp / "out"
    assert main(["simulate", "--params", str(params), "--out", str(out), "--no-progress"]) == 0
    return out


def test_writes_events_log_catalogue_and_summary(simulated: Path) -> None:
    """The output directory holds exactly the promised files."""
    names = sorted(p.name for p in simulated.iterdir())
    assert names == [
        "access.log", "apis.yaml", "events.parquet", "summary.json", "test.parquet",
        "train.parquet",
    ]  # fmt: skip


def test_period_files_split_the_events(simulated: Path) -> None:
    """train.parquet and test.parquet are the events of each period, in order."""
    events = read_events(simulated / "events.parquet")
    train = read_events(simulated / "train.parquet")
    test = read_events(simulated / "test.parquet")
    assert len(train) + len(test) == len(events)
    assert set(train["period"]) == {"train"} and set(test["period"]) == {"test"}
    assert train["ts"].max() < test["ts"].min()


def test_log_and_summary_agree_with_events(simulated: Path) -> None:
    """The access log has one line per event; the summary counts the same events."""
    events = read_events(simulated / "events.parquet")
    lines = (simulated / "access.log").read_text().splitlines()
    assert len(lines) == len(events)
    summary = json.loads((simulated / "summary.json").read_text())
    assert summary["events"] == len(events)
    assert summary["events_per_label"] == events["label"].value_counts().to_dict()
    assert sum(summary["events_per_period"].values()) == len(events)
    assert summary["settings"]["scale"] == 0.01
    assert {c["identifier_to_block"] for c in summary["campaigns"]} <= {"ip", "token", "cookie",
                                                                      "api_key"}  # fmt: skip


def test_catalogue_names_every_api_and_decoy(simulated: Path) -> None:
    """apis.yaml loads with the catalogue loader and lists every API and decoy path."""
    catalogue = load_catalogue(simulated / "apis.yaml")
    assert set(catalogue.names) == {api.name for api in APIS}
    decoys = {p for spec in catalogue.apis for p in spec.decoy_paths}
    assert decoys == {p for api in APIS for p in api.decoy_paths}
    assert any(spec.login_paths for spec in catalogue.apis)


def test_catalogue_resolves_the_simulated_api_of_benign_calls(simulated: Path) -> None:
    """Resolving events without their api column through apis.yaml gives the same API."""
    events = read_events(simulated / "events.parquet")
    normal = events[events["label"] == "normal"].drop(columns=["api"])
    resolved = resolve_apis(normal, load_catalogue(simulated / "apis.yaml"))
    expected = events.loc[events["label"] == "normal", "api"]
    assert (resolved.to_numpy() == expected.to_numpy()).all()


def test_refuses_existing_output_without_force(
    simulated: Path, capsys: pytest.CaptureFixture
) -> None:
    """An existing output directory is kept unless --force is given (exit code 2)."""
    before = (simulated / "events.parquet").stat().st_mtime_ns
    assert main(["simulate", "--scale", "0.01", "--out", str(simulated)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (simulated / "events.parquet").stat().st_mtime_ns == before


def test_bad_params_key_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A wrong key in params.yaml is one line on stderr naming it, exit 2, nothing written."""
    params = _params(tmp_path, {"simulate": {"population": {"userz": 3}}})
    out = tmp_path / "out"
    assert main(["simulate", "--params", str(params), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "simulate.population.userz" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "nope"], "unknown scenario"),
        (["--scale", "0"], "simulate.scale"),
        (["--params", "/nonexistent/params.yaml"], "no such file"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
                            message: str) -> None:  # fmt: skip
    """Unknown scenarios, bad scales and missing params files are user errors."""
    assert main(["simulate", *args, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_scenario_and_seed_options_override_params(tmp_path: Path) -> None:
    """--seed changes the events; the summary records the seed used."""
    params = _params(tmp_path, TINY_PARAMS)
    out = tmp_path / "seeded"
    assert main(["simulate", "--params", str(params), "--seed", "99", "--out", str(out),
                 "--no-progress"]) == 0  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 99
    assert isinstance(pd.read_parquet(out / "events.parquet"), pd.DataFrame)
