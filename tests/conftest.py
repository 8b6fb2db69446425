"""Shared fixtures: where the real third-party data sets live, small event frames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(
    os.environ.get("APIBEHAVE_SHARED_DATASETS", PROJECT_ROOT.parent / "shared" / "datasets")
)


@pytest.fixture
def shared_datasets() -> Path:
    """The folder of real third-party logs; the test skips when it is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real data sets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS
