r"""``apibehave pipeline``: run the parameterised notebooks with papermill (CONTRACT 4).

``apibehave pipeline [--params params.yaml] [-p section.key=value ...]`` executes
``notebooks/01_traffic`` .. ``07_forensics`` in order into ``runs/<timestamp>/``, stops at
the first failing notebook (naming its cell; exit 2 for a settings or data mistake, 1
otherwise) without moving ``champion`` or touching the served bundle, and prints a
summary. Retraining on the enforcer's call log is the same command::

    apibehave pipeline -p data.source=/var/log/apibehave/calls.parquet \\
        -p evaluate.held_out=datasets/heldout/test.parquet
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``apibehave pipeline``."""
    parser.add_argument("--params", default="params.yaml", help="settings (default params.yaml)")
    parser.add_argument(
        "-p",
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one setting, e.g. -p simulate.scale=0.1 (value read as YAML); repeatable",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide per-cell progress bars")


def run(args: argparse.Namespace) -> int:
    """Run the pipeline and print its summary."""
    from apibehave.workbench.pipeline import run_pipeline

    result = run_pipeline(args.params, args.overrides, progress=not args.no_progress)
    print()
    print(result.summary)
    return 0
