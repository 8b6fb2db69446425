"""The rooms of ARCHITECTURE.md import only what they may, and the runtime stays lean."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "apibehave"

ALLOWED: dict[str, set[str]] = {
    "common": {"common"},
    "schema": {"common", "schema"},
    "ingest": {"common", "schema", "ingest"},
    "simulate": {"common", "schema", "simulate"},
    "features": {"common", "schema", "features"},
    "reports": {"common", "schema", "reports"},
    "detect": {"common", "schema", "features", "detect"},
    "bundle": {"common", "schema", "features", "detect", "bundle"},
    "engine": {"common", "schema", "features", "detect", "bundle", "engine"},
    "enforce": {"common", "schema", "features", "detect", "bundle", "engine", "reports",
                "enforce"},
}
"""Room -> rooms it may import. workbench, commands and cli may import any room."""

RESEARCH_LIBRARIES = {"mlflow", "optuna", "papermill", "matplotlib", "jupyterlab", "ipykernel",
                      "nbformat", "IPython"}
"""Never imported by a runtime room: the enforcer's install does not carry them."""


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _room_modules() -> list[tuple[str, Path]]:
    return [
        (room, path)
        for room in ALLOWED
        for path in sorted((PACKAGE / room).rglob("*.py"))
        if (PACKAGE / room).is_dir()
    ]


@pytest.mark.parametrize(
    ("room", "path"), _room_modules(), ids=lambda v: v if isinstance(v, str) else v.name
)
def test_room_imports_only_allowed_rooms(room: str, path: Path) -> None:
    """A module imports only the apibehave rooms its room may use."""
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "apibehave" and len(parts) > 1 and parts[1] != "__init__":
            target = parts[1]
            if target in {"cli", "commands", "workbench"} or target in ALLOWED:
                assert target in ALLOWED[room], f"{path} ({room}) imports {name}"


@pytest.mark.parametrize(
    ("room", "path"), _room_modules(), ids=lambda v: v if isinstance(v, str) else v.name
)
def test_runtime_rooms_import_no_research_library(room: str, path: Path) -> None:
    """No runtime room imports MLflow, Optuna, papermill, matplotlib or Jupyter."""
    for name in _imports(path):
        assert name.split(".")[0] not in RESEARCH_LIBRARIES, f"{path} imports {name}"
