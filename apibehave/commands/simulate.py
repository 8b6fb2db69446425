"""``apibehave simulate``: write labelled traffic, its nginx log, its catalogue and a summary.

``apibehave simulate [--params params.yaml] [--scenario NAME] [--seed N] [--scale X]
--out DIR [--force]`` writes ``DIR/events.parquet`` (and its periods as ``train.parquet``
and ``test.parquet``), ``DIR/access.log`` (nginx combined rendering of the same events),
``DIR/apis.yaml`` and ``DIR/summary.json``; the directory appears only when everything
was written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``apibehave simulate``."""
    parser.add_argument(
        "--params",
        metavar="FILE",
        help="params.yaml whose 'simulate:' section selects and overrides a scenario",
    )
    parser.add_argument(
        "--scenario", metavar="NAME", help="named scenario (default, hard); overrides params"
    )
    parser.add_argument("--seed", type=int, metavar="N", help="random seed; overrides params")
    parser.add_argument(
        "--scale", type=float, metavar="X", help="volume multiplier (1.0 = about 2.5M events)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="directory to write")
    parser.add_argument("--force", action="store_true", help="replace an existing DIR")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Simulate the scenario, write the four outputs, print a short summary."""
    from apibehave.common.output import atomic_output, check_output_path
    from apibehave.simulate import load_scenario, simulate

    out = check_output_path(args.out, force=args.force)
    scenario = load_scenario(
        read_simulate_params(args.params), scenario=args.scenario, seed=args.seed, scale=args.scale
    )
    result = simulate(scenario, progress=False if args.no_progress else None)
    with atomic_output(out, directory=True) as tmp:
        write_outputs(result, tmp)
    print(summary_text(result.summary, out))
    return 0


def read_simulate_params(path: str | None) -> dict[str, Any] | None:
    """Return the ``simulate:`` section of a params file (None when no file is given).

    Raises
    ------
    UserError
        The file is missing, not YAML, or its ``simulate`` section is not a mapping.
    """
    import yaml

    from apibehave.common.errors import UserError

    if path is None:
        return None
    source = Path(path)
    if not source.is_file():
        raise UserError(f"{source}: no such file")
    try:
        data = yaml.safe_load(source.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping at the top level")
    section = data.get("simulate") or {}
    if not isinstance(section, dict):
        raise UserError(f"{source}: simulate: expected a mapping of settings")
    return section


def write_outputs(result: Any, directory: Path) -> None:
    """Write events, their periods, access.log, apis.yaml and summary.json into ``directory``.

    ``events.parquet`` holds every event; ``train.parquet`` and ``test.parquet`` the same
    events split by period, ready for ``apibehave train`` and ``apibehave replay``.
    """
    import yaml

    from apibehave.ingest.formats.combined import render_combined
    from apibehave.schema import write_events

    write_events(result.events, directory / "events.parquet")
    for period in ("train", "test"):
        part = result.events[result.events["period"] == period].reset_index(drop=True)
        write_events(part, directory / f"{period}.parquet")
    lines = render_combined(result.events)
    with open(directory / "access.log", "w", encoding="utf-8", newline="\n") as log:
        for start in range(0, len(lines), 200_000):
            chunk = lines.iloc[start : start + 200_000]
            log.write("\n".join(chunk.tolist()))
            log.write("\n")
    (directory / "apis.yaml").write_text(yaml.safe_dump(result.catalogue, sort_keys=False))
    summary = {**result.summary, "settings": result.scenario.to_params()}
    (directory / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def summary_text(summary: dict[str, Any], out: Path) -> str:
    """Return a few lines for the terminal: volumes per period, labels, traps, campaigns."""
    periods = ", ".join(f"{k} {v:,}" for k, v in summary["events_per_period"].items())
    labels = summary["events_per_label"]
    attacks = sum(v for k, v in labels.items() if k != "normal")
    traps = ", ".join(f"{k} {v:,}" for k, v in summary["events_per_trap"].items()) or "none"
    return "\n".join(
        [
            f"simulated scenario {summary['scenario']} (seed {summary['seed']}, "
            f"scale {summary['scale']}): {summary['events']:,} events into {out}",
            f"  periods: {periods}",
            f"  normal {labels.get('normal', 0):,}; attacks {attacks:,} in "
            f"{len(summary['campaigns'])} campaigns of {len(labels) - ('normal' in labels)} types",
            f"  benign traps: {traps}",
        ]
    )
