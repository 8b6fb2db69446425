"""The bundle room stays light: the enforcer loads bundles without research libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("mlflow", "optuna", "matplotlib", "papermill", "sklearn", "skops", "onnxruntime")


def test_importing_the_bundle_room_pulls_no_heavy_library():
    """Importing apibehave.bundle and its command imports no research or model library."""
    code = (
        "import sys, apibehave.bundle, apibehave.commands.bundle\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_verifying_a_bundle_imports_no_model_library(tmp_path):
    """Verifying and reading JSON from a bundle needs neither scikit-learn nor skops."""
    code = (
        "import sys\n"
        "from apibehave.bundle import write_bundle, load_bundle, pack_bundle\n"
        f"out = write_bundle({str(tmp_path / 'b')!r}, {{'m.skops': b'PK\\x03\\x04x', "
        "'t.json': {'a': 1}}, {'bundle_id': 'x', 'params_hash': 'p', "
        "'feature_spec_hash': 'f', 'training_data_digest': 'd'})\n"
        "assert load_bundle(pack_bundle(out)).read_json('t.json') == {'a': 1}\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
