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
base, ``tune`` the study, ``pipeline.tuning_seed``/``tuning_scale`` the simulated world),
then ``-p key=value`` overrides, and the options here win.
"""

from __future__ import annotations

import argparse
import sys
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
    data.add_argument("--sim-seed", type=int,
                      help="its seed (default: pipeline.tuning_seed, 1007)")  # fmt: skip
    data.add_argument("--sim-scale", type=float,
                      help="its scale (default: pipeline.tuning_scale, 0.05: about 130,000 "
                      "events)")  # fmt: skip
    data.add_argument("--apis", help="API catalogue (apis.yaml); else each event's api column")
    parser.add_argument("--params", help="params.yaml: train (base settings), tune, simulate")
    parser.add_argument("-p", "--set", metavar="KEY=VALUE", action="append", default=[],
                        help="override a params key (-p tune.n_trials=4); repeatable")  # fmt: skip
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
    _check_sources(args)  # before importing anything heavy: a mistake here answers at once
    import yaml

    from apibehave.common.output import check_output_path
    from apibehave.workbench.params import load_params
    from apibehave.workbench.tune import run_tuning, tune_settings_from_dict

    if args.out:
        check_output_path(args.out, force=args.force)
    params = load_params(args.params, args.set)
    overrides = {
        "storage": args.storage,
        "study_name": args.study,
        "n_trials": args.trials,
        "workers": args.workers,
        "seed": args.seed,
        "max_benign_share_calls_blocked": args.max_benign_share,
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    tune = tune_settings_from_dict({**params.tune.to_dict(), **given}, source="options")
    if not args.no_track:  # a store that cannot be opened fails before any simulation
        from apibehave.workbench.tracking import configure_tracking

        configure_tracking("apibehave-tune")
    train, validation, catalogue = _data(args, params)
    result = run_tuning(
        train, validation, catalogue=catalogue, base=params.train, tune=tune,
        track=not args.no_track,
    )  # fmt: skip
    print(result.summary())
    if result.run_id:
        print(f"MLflow run {result.run_id}", file=sys.stderr)
    if args.out:
        text = yaml.safe_dump({"train": {"learning": result.learning_overrides()}},
                              sort_keys=False)  # fmt: skip
        Path(args.out).write_text(text)
        print(f"chosen settings written to {args.out}")
    return 0


def _check_sources(args: argparse.Namespace) -> None:
    sources = {
        "--validation": args.validation is not None,
        "--split": args.split is not None,
        "--simulate": args.simulate,
    }
    chosen = [name for name, on in sources.items() if on]
    if len(chosen) != 1:
        raise UserError("give exactly one of --validation, --split or --simulate")
    if args.simulate and args.events:
        raise UserError("--simulate makes its own events; drop --events")
    if not args.simulate and not args.events:
        raise UserError(f"{chosen[0]} needs --events")


def _data(args: argparse.Namespace, params: Any) -> tuple[Any, Any, Any]:
    from apibehave.schema import read_events
    from apibehave.schema.catalogue import load_catalogue
    from apibehave.workbench.tune import simulate_tuning_data, split_by_time

    if args.simulate:
        seed = params.pipeline.tuning_seed if args.sim_seed is None else args.sim_seed
        scale = params.pipeline.tuning_scale if args.sim_scale is None else args.sim_scale
        train, validation, catalogue = simulate_tuning_data(params.simulate, seed=seed, scale=scale)
        return train, validation, load_catalogue(args.apis) if args.apis else catalogue
    catalogue = load_catalogue(args.apis) if args.apis else None
    events = read_events(args.events)
    if args.split is not None:
        train, validation = split_by_time(events, args.split)
    else:
        train, validation = events, read_events(args.validation)
    return train, validation, catalogue
