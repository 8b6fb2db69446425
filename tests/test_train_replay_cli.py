"""``apibehave train`` and ``replay`` as CONTRACT sections 3 and 4 say, and their bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from apibehave.schema import write_events
from apibehave.schema.catalogue import save_catalogue
from tests.engine_world import CATALOGUE, make_logs


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "apibehave", *map(str, args)],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


def assert_user_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert fragment in result.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    train, test = make_logs(seed=5)
    paths = {
        "train": folder / "train.parquet",
        "test": folder / "test.csv",
        "apis": folder / "apis.yaml",
        "params": folder / "params.yaml",
        "bundle": folder / "bundle",
    }
    write_events(train, paths["train"])
    write_events(test, paths["test"])
    save_catalogue(CATALOGUE, paths["apis"])
    paths["params"].write_text("train:\n  learning:\n    min_events: 100\n")
    result = cli("train", "--events", paths["train"], "--apis", paths["apis"], "--params",
                 paths["params"], "--out", paths["bundle"], "--no-track")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return paths


def test_train_writes_a_verified_bundle_with_api_status(files) -> None:
    """Train writes a bundle that verifies and records each API's status."""
    manifest = json.loads((files["bundle"] / "manifest.json").read_text())
    assert set(manifest["apis"]) >= {"shop", "auth", "partner"}
    assert manifest["apis"]["shop"]["status"] == "ready"
    assert cli("bundle", "verify", files["bundle"]).returncode == 0


def test_replay_writes_the_contract_decisions_file(files, tmp_path) -> None:
    """Replay writes one row per input event, in input order, with the contract's columns."""
    out = tmp_path / "decisions.csv"
    result = cli("replay", "--bundle", files["bundle"], "--events", files["test"], "--out", out)
    assert result.returncode == 0, result.stderr
    decisions = pd.read_csv(out)
    events = pd.read_csv(files["test"])
    assert list(decisions.columns) == [
        "event_index", "decision", "attack_type", "identifier_kind", "identifier", "risk",
    ]  # fmt: skip
    assert decisions["event_index"].tolist() == list(range(len(events)))
    assert set(decisions["decision"]) == {"allow", "block"}
    blocked = decisions[decisions["decision"] == "block"]
    assert blocked["attack_type"].notna().all() and blocked["identifier"].notna().all()
    assert decisions.loc[decisions["decision"] == "allow", "attack_type"].isna().all()


def test_existing_outputs_are_kept_without_force(files, tmp_path) -> None:
    """An existing decisions file or bundle is not overwritten without --force."""
    out = tmp_path / "d.parquet"
    out.write_text("keep me")
    result = cli("replay", "--bundle", files["bundle"], "--events", files["test"], "--out", out)
    assert_user_error(result, "already exists")
    assert out.read_text() == "keep me"
    result = cli("train", "--events", files["train"], "--out", files["bundle"], "--no-track")
    assert_user_error(result, "already exists")


def test_event_file_missing_a_required_column(files, tmp_path) -> None:
    """An event file without a required column is named and refused."""
    broken = tmp_path / "broken.csv"
    pd.read_csv(files["test"]).drop(columns=["client_ip"]).to_csv(broken, index=False)
    result = cli("replay", "--bundle", files["bundle"], "--events", broken, "--out",
                 tmp_path / "d.parquet")  # fmt: skip
    assert_user_error(result, "client_ip")
    assert not (tmp_path / "d.parquet").exists()


def test_tampered_bundle_is_refused(files, tmp_path) -> None:
    """A bundle whose thresholds were edited without resealing is refused."""
    tampered = tmp_path / "tampered"
    subprocess.run(["cp", "-r", str(files["bundle"]), str(tampered)], check=True)
    thresholds = tampered / "thresholds.json"
    thresholds.write_text(thresholds.read_text().replace('"ready"', '"learning"', 1))
    result = cli("replay", "--bundle", tampered, "--events", files["test"], "--out",
                 tmp_path / "d.parquet")  # fmt: skip
    assert_user_error(result, "thresholds.json")


def test_empty_training_set_and_bad_select(files, tmp_path) -> None:
    """An empty training set and a --select on a missing column are user errors."""
    result = cli("train", "--events", files["train"], "--out", tmp_path / "b", "--no-track",
                 "--select", "label=nothing-like-this")  # fmt: skip
    assert_user_error(result, "no events left")
    result = cli("train", "--events", files["train"], "--out", tmp_path / "b", "--no-track",
                 "--select", "nosuchcolumn=1")  # fmt: skip
    assert_user_error(result, "nosuchcolumn")
    assert not (tmp_path / "b").exists()


def test_bad_params_name_the_key(files, tmp_path) -> None:
    """A wrong key in the train section of params.yaml is named."""
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  learning:\n    normal_quantil: 0.9\n")
    result = cli("train", "--events", files["train"], "--out", tmp_path / "b", "--no-track",
                 "--params", params)  # fmt: skip
    assert_user_error(result, "train.learning.normal_quantil")
