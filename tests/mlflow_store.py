"""Temporary MLflow SQLite stores for tests, copied from a migrated template.

Creating a store runs MLflow's schema migrations (seconds of disk syncs each time); the
first test process builds an empty migrated store once per MLflow version and every test
store starts as a copy of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import mlflow

TEMPLATE = Path(tempfile.gettempdir()) / f"apibehave-test-mlflow-{mlflow.__version__}.db"


def fresh_store(folder: Path) -> str:
    """Return the URI of a new, empty SQLite store at ``folder/mlflow.db``."""
    if not TEMPLATE.is_file():
        building = TEMPLATE.with_name(f"{TEMPLATE.name}.{os.getpid()}.tmp")
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{building}")
        client.search_experiments()  # tracking tables
        client.search_registered_models()  # registry tables
        os.replace(building, TEMPLATE)  # atomic: parallel test workers never see half
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEMPLATE, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"
