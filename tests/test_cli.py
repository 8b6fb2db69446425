"""The command line's contract: help for every command, exit code 2 and one line on misuse."""

from __future__ import annotations

import subprocess
import sys

import pytest

from apibehave.cli import COMMANDS, main

CONTRACT_COMMANDS = [
    "simulate",
    "ingest",
    "discover",
    "train",
    "replay",
    "enforce",
    "bundle",
    "pipeline",
    "report",
]
EXTRA_COMMANDS = ["tune"]  # beyond CONTRACT section 4: issue 7's `apibehave tune --workers N`


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apibehave", *args], capture_output=True, text=True, check=False
    )


def test_every_contract_command_is_listed() -> None:
    """The top-level help lists every command of CONTRACT section 4."""
    assert [c for c in COMMANDS if c in CONTRACT_COMMANDS] == CONTRACT_COMMANDS
    assert set(COMMANDS) == set(CONTRACT_COMMANDS) | set(EXTRA_COMMANDS)
    result = run_cli("--help")
    assert result.returncode == 0
    for name in CONTRACT_COMMANDS:
        assert name in result.stdout


def test_unknown_command_is_one_line_and_exit_2() -> None:
    """An unknown command gets one line on stderr and exit code 2."""
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Calling apibehave with no command shows the help and exits 2."""
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_bad_option_is_one_line() -> None:
    """A bad option on a built command is one stderr line, exit 2, no traceback."""
    result = run_cli("--no-such-option")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
