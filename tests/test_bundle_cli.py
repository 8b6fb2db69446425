"""``apibehave bundle``: exit 0 on success, exit 2 with one stderr line for a bad bundle."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from apibehave.bundle import load_bundle, write_bundle
from apibehave.cli import main

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "bundle_v1" / "tiny-v1"
FIELDS = {
    "bundle_id": "cli-1",
    "params_hash": "sha256:params",
    "feature_spec_hash": "sha256:features",
    "training_data_digest": "sha256:data",
}


@pytest.fixture
def bundle(tmp_path) -> Path:
    """A writable copy of the committed fixture bundle."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "tiny-v1"))


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command line in-process and return (exit code, stdout, stderr)."""
    code = main(["bundle", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """Exit 2 with exactly one stderr line containing each fragment, and no traceback."""
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("apibehave bundle: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


def test_verify_reports_ok(capsys, bundle):
    """Verify exits 0 and names the bundle, its format and the files checked."""
    code, out, _ = run_cli(capsys, "verify", bundle)
    assert code == 0
    assert out == f"OK {bundle}: bundle tiny-v1, format 1, 4 files verified\n"


def test_verify_refuses_a_tampered_bundle(capsys, bundle):
    """A flipped byte in a model gives exit 2 and one line naming the file."""
    model = bundle / "models" / "login.skops"
    data = bytearray(model.read_bytes())
    data[-10] ^= 0xFF
    model.write_bytes(bytes(data))
    code, out, err = run_cli(capsys, "verify", bundle)
    assert out == ""
    assert_one_line_error(code, err, "checksum mismatch: models/login.skops")


def test_verify_checks_the_feature_spec_when_asked(capsys, bundle):
    """--feature-spec-hash refuses a bundle trained on another feature spec."""
    code, _, err = run_cli(capsys, "verify", bundle, "--feature-spec-hash", "sha256:other")
    assert_one_line_error(code, err, "feature spec mismatch", "sha256:other")


def test_verify_of_a_missing_bundle(capsys, tmp_path):
    """A path that does not exist gives exit 2 and one line."""
    code, _, err = run_cli(capsys, "verify", tmp_path / "none")
    assert_one_line_error(code, err, "bundle not found")


def test_inspect_shows_the_manifest_summary(capsys, bundle):
    """Inspect shows versions, hashes, per-API status and files."""
    code, out, _ = run_cli(capsys, "inspect", bundle)
    assert code == 0
    assert "tiny-v1 (format 1, verified)" in out
    assert "scikit-learn" in out and "feature spec" in out
    assert "apibehave-fixture version 1 (alias champion)" in out
    assert '  catalog  learning (reason="too little training data")' in out
    assert "  login    ready (events=32)" in out
    assert "models/login.skops" in out and "thresholds.json" in out


def test_inspect_json_is_the_manifest(capsys, bundle):
    """The --json inspection prints the verified manifest as JSON."""
    code, out, _ = run_cli(capsys, "inspect", bundle, "--json")
    data = json.loads(out)
    assert code == 0 and data["verified"] is True
    assert {k: v for k, v in data.items() if k in load_bundle(bundle).manifest.to_dict()} == (
        load_bundle(bundle).manifest.to_dict()
    )


def test_diff_shows_a_changed_threshold(capsys, bundle, tmp_path):
    """Diff between a bundle and its hand-edited, re-sealed copy shows the threshold."""
    edited = Path(shutil.copytree(bundle, tmp_path / "edited"))
    path = edited / "thresholds.json"
    path.write_text(path.read_text().replace('"extreme": 40.0', '"extreme": 48.0'))
    assert run_cli(capsys, "reseal", edited, "--note", "month end")[0] == 0
    code, out, _ = run_cli(capsys, "diff", bundle, edited)
    assert code == 0
    assert "login.rate_1m.extreme: 40.0 -> 48.0" in out
    code, out, _ = run_cli(capsys, "diff", bundle, edited, "--json")
    assert json.loads(out)["files"][0]["name"] == "thresholds.json"


def test_reseal_flow_on_the_command_line(capsys, bundle):
    """Edit -> verify fails (2) -> reseal (0) -> verify passes and says edited by hand."""
    path = bundle / "policy.json"
    path.write_text(path.read_text().replace('"catalog": "shadow"', '"catalog": "enforce"'))
    code, _, err = run_cli(capsys, "verify", bundle)
    assert_one_line_error(code, err, "policy.json", "apibehave bundle reseal")
    code, out, _ = run_cli(capsys, "reseal", bundle)
    assert code == 0 and out == f"resealed {bundle}: policy.json recorded as edited by hand\n"
    code, out, _ = run_cli(capsys, "verify", bundle)
    assert code == 0 and out.endswith("4 files verified, edited by hand\n")
    code, out, _ = run_cli(capsys, "reseal", bundle)
    assert code == 0 and "nothing changed" in out


def test_reseal_refuses_a_binary_edit(capsys, bundle):
    """Reseal of a changed model file exits 2 with one line."""
    model = bundle / "models" / "login.skops"
    model.write_bytes(model.read_bytes() + b"\0")
    code, _, err = run_cli(capsys, "reseal", bundle)
    assert_one_line_error(code, err, "models/login.skops changed", "JSON and YAML")


def test_pack_writes_an_archive_and_refuses_to_overwrite(capsys, bundle, tmp_path):
    """Pack writes a loadable archive; a second pack needs --force."""
    target = tmp_path / "out" / "b.tar.gz"
    code, out, _ = run_cli(capsys, "pack", bundle, "--out", target)
    assert code == 0 and out == f"packed {bundle} -> {target}\n"
    assert load_bundle(target).manifest.bundle_id == "tiny-v1"
    code, _, err = run_cli(capsys, "pack", bundle, "--out", target)
    assert_one_line_error(code, err, "already exists", "--force")
    assert run_cli(capsys, "pack", bundle, "--out", target, "--force")[0] == 0


def test_pack_default_path_is_beside_the_bundle(capsys, tmp_path):
    """Without --out the archive is <bundle>.tar.gz beside the directory."""
    out_dir = write_bundle(tmp_path / "plain", {"t.json": {}}, FIELDS)
    assert run_cli(capsys, "pack", out_dir)[0] == 0
    assert (tmp_path / "plain.tar.gz").is_file()


def test_bundle_without_an_action_exits_2(capsys):
    """`apibehave bundle` alone is a usage error with one line."""
    with pytest.raises(SystemExit) as caught:
        main(["bundle"])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and "ACTION" in err


def test_console_entry_point_exit_code(tmp_path):
    """The installed command exits 2 with one stderr line for a non-bundle, no traceback."""
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b" + b"\0" * 20)
    result = subprocess.run(
        [sys.executable, "-m", "apibehave", "bundle", "verify", str(junk)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "corrupt or truncated" in result.stderr
