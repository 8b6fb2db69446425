"""``apibehave tune``: a shared multi-objective Optuna study over detector settings.

Data to tune on, one of:

- ``--events TRAIN --validation VALIDATION``: learn on one file, score on a labelled other;
- ``--events LABELLED --split 0.6``: learn on the earlier 60 % of a labelled log, score on
  the rest (it must hold attacks);
- ``--simulate``: simulate a separate labelled world (``--sim-seed``, ``--sim-scale``) and
  tune on it, so the held-out test set is never seen (the default simulation's training
  period has no attacks to learn from).

``--workers N`` runs N processes on the same study; another ``apibehave tune`` with the same
``--storage`` and ``--study`` joins it. Settings come from ``--params`` (``train`` is the
base, ``tune`` the study) and the options here win.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apibehave.common.errors import UserError


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``apibehave tune``."""
    data = parser.add_argument_group("data (one of --validation, --split, --simulate)")
    data.add_argument("--events", help="training events (Parquet, CSV, JSONL)")
    data.add_argument("--validation", help="labelled validation events scored by each trial")
    data.add_argument("--split", type=float, metavar="FRACTION",
                      help="learn on this earlier fraction of labelled --events, score on the "
                      "rest")  # fmt: skip
    data.add_argument("--simulate", action="store_true",
                      help="simulate a separate labelled world to tune on")  # fmt: skip
    data.add_argument("--sim-seed", type=int, default=1007, help="its seed (default 1007)")
    data.add_argument("--sim-scale", type=float, default=0.05,
                      help="its scale (default 0.05, about 130,000 events)")  # fmt: skip
    data.add_argument("--apis", help="API catalogue (apis.yaml); else each event's api column")
    parser.add_argument("--params", help="params.yaml: train (base settings), tune, simulate")
    parser.add_argument("--storage", help="Optuna journal file or RDB URL shared by workers")
    parser.add_argument("--study", help="study name (workers with the same name share it)")
    parser.add_argument("--trials", type=int, help="trials to add to the study")
    parser.add_argument("--workers", type=int, help="processes running trials at once")
    parser.add_argument("--seed", type=int, help="sampler seed")
    parser.add_argument("--max-benign-share", type=float, metavar="SHARE",
                        help="choose the best recall blocking at most this share of benign "
                        "calls (0.001 = 0.1%%)")  # fmt: skip
    parser.add_argument("--out", help="write the chosen train.learning settings here (YAML)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")
    parser.add_argument("--no-track", action="store_true", help="do not log to MLflow")


def run(args: argparse.Namespace) -> int:
    """Tune, print the Pareto front and the chosen trial, optionally write it."""
    import yaml

    from apibehave.common.output import check_output_path
    from apibehave.workbench.train_settings import train_settings_from_params
    from apibehave.workbench.tune import run_tuning, tune_settings_from_dict

    if args.out:
        check_output_path(args.out, force=args.force)
    document = _params_document(args.params)
    base = train_settings_from_params(args.params)
    tune = tune_settings_from_dict(document.get("tune"), source=f"{args.params}: tune")
    overrides = {
        "storage": args.storage,
        "study_name": args.study,
        "n_trials": args.trials,
        "workers": args.workers,
        "seed": args.seed,
        "max_benign_share_calls_blocked": args.max_benign_share,
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    tune = tune_settings_from_dict(
        {**tune.to_dict(), **given}, source="options" if given else "tune"
    )
    train, validation, catalogue = _data(args, document)
    result = run_tuning(
        train, validation, catalogue=catalogue, base=base, tune=tune, track=not args.no_track
    )
    print(result.summary())
    if result.run_id:
        print(f"MLflow run {result.run_id}", file=sys.stderr)
    if args.out:
        text = yaml.safe_dump({"train": {"learning": result.learning_overrides()}},
                              sort_keys=False)  # fmt: skip
        Path(args.out).write_text(text)
        print(f"chosen settings written to {args.out}")
    return 0


def _params_document(path: str | None) -> Mapping[str, Any]:
    import yaml

    if path is None:
        return {}
    source = Path(path)
    if not source.is_file():
        raise UserError(f"{source}: no such params file")
    try:
        document = yaml.safe_load(source.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(document, Mapping):
        raise UserError(f"{source}: the top level must be a mapping of sections")
    return document


def _data(args: argparse.Namespace, document: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    from apibehave.schema import read_events
    from apibehave.schema.catalogue import load_catalogue
    from apibehave.workbench.tune import simulate_tuning_data, split_by_time

    sources = {
        "--validation": args.validation is not None,
        "--split": args.split is not None,
        "--simulate": args.simulate,
    }
    chosen = [name for name, on in sources.items() if on]
    if len(chosen) != 1:
        raise UserError("give exactly one of --validation, --split or --simulate")
    if args.simulate:
        if args.events:
            raise UserError("--simulate makes its own events; drop --events")
        simulate = document.get("simulate") or {}
        if not isinstance(simulate, Mapping):
            raise UserError(f"{args.params}: simulate: must be a mapping")
        section = {k: v for k, v in simulate.items() if k not in ("seed", "scale")}
        train, validation, catalogue = simulate_tuning_data(
            section, seed=args.sim_seed, scale=args.sim_scale
        )
        return train, validation, load_catalogue(args.apis) if args.apis else catalogue
    if not args.events:
        raise UserError(f"{chosen[0]} needs --events")
    catalogue = load_catalogue(args.apis) if args.apis else None
    events = read_events(args.events)
    if args.split is not None:
        train, validation = split_by_time(events, args.split)
    else:
        train, validation = events, read_events(args.validation)
    return train, validation, catalogue
