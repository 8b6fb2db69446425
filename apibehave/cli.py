"""The ``apibehave`` command line (CONTRACT section 4).

Each subcommand lives in its own module under :mod:`apibehave.commands`, imported only
when that subcommand runs, so ``apibehave enforce`` never imports research libraries.
A module provides ``configure(parser)`` and ``run(args) -> int``.

Exit codes: 0 on success, 2 on a user's mistake (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from apibehave import __version__
from apibehave.common.errors import UserError

COMMANDS: dict[str, str] = {
    "simulate": "simulate labelled API traffic (benign users, traps, attack campaigns)",
    "ingest": "read gateway logs or event files into the event schema",
    "discover": "propose an API catalogue (apis.yaml) from traffic",
    "train": "train per-API models and write a verified bundle",
    "tune": "tune detector settings with a shared multi-objective Optuna study",
    "replay": "apply a bundle to a log causally and write decisions",
    "enforce": "serve the sideband enforcer for gateways",
    "bundle": "verify, inspect or diff a bundle",
    "pipeline": "run the parameterised notebooks with papermill",
    "report": "usage and attack reports",
}
"""Subcommand name -> one-line help; the module is ``apibehave.commands.<name>``."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _load(name: str) -> ModuleType | None:
    module_name = f"apibehave.commands.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None  # not built yet
        raise


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """Build the parser; only the ``selected`` subcommand's module is imported."""
    parser = _Parser(
        prog="apibehave",
        description="Self-learning API behavioural security: simulate or ingest traffic, "
        "train per-API models, replay decisions, enforce through a gateway.",
    )
    parser.add_argument("--version", action="version", version=f"apibehave {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in COMMANDS.items():
        module = _load(name) if name == selected else None
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if module is not None:
            module.configure(command_parser)
            command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if not a.startswith("-")), None)
    if selected is not None and selected in COMMANDS and _load(selected) is None:
        print(f"apibehave {selected}: error: not available in this version", file=sys.stderr)
        return 2
    parser = build_parser(selected if selected in COMMANDS else None)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"apibehave {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"apibehave {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
