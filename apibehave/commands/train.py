"""``apibehave train``: learn per-API models from an event file and write a bundle."""

from __future__ import annotations

import argparse
import sys

from apibehave.common.errors import UserError
from apibehave.common.output import check_output_path


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``apibehave train``."""
    parser.add_argument("--events", required=True, help="training events (Parquet, CSV, JSONL)")
    parser.add_argument("--out", required=True, help="bundle directory to write")
    parser.add_argument("--apis", help="API catalogue (apis.yaml); else each event's api column")
    parser.add_argument("--params", help="params.yaml whose train section to use")
    parser.add_argument(
        "--select",
        metavar="COLUMN=VALUE",
        action="append",
        default=[],
        help="train only on rows where COLUMN equals VALUE (e.g. period=train); repeatable",
    )
    parser.add_argument("--no-track", action="store_true", help="do not log the run to MLflow")
    parser.add_argument("--force", action="store_true", help="replace an existing bundle")


def run(args: argparse.Namespace) -> int:
    """Train, export, verify and (unless --no-track) log to MLflow."""
    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.schema import read_events
    from apibehave.schema.catalogue import load_catalogue
    from apibehave.workbench.train import export_bundle, train_model
    from apibehave.workbench.train_settings import train_settings_from_params

    check_output_path(args.out, force=args.force)
    settings = train_settings_from_params(args.params)
    catalogue = load_catalogue(args.apis) if args.apis else None
    events = select_rows(read_events(args.events), args.select)
    result = train_model(events, catalogue=catalogue, settings=settings)
    run_id = None
    if not args.no_track:
        run_id = _track(result, settings, args)
    out = export_bundle(result, args.out, settings, force=args.force, mlflow_run_id=run_id)
    load_model_bundle(out)  # verify what was written loads back
    ready = sum(1 for s in result.api_status.values() if s["status"] == "ready")
    print(
        f"trained on {result.n_events:,} events in {result.seconds:.1f} s: "
        f"{ready} of {len(result.api_status)} APIs ready; bundle {out}"
    )
    for api, status in result.api_status.items():
        note = f"  ({status['reason']})" if status["reason"] else ""
        print(f"  {api:<24} {status['status']:<9} {status['n_events']:>10,} events{note}")
    return 0


def select_rows(events, selections: list[str]):
    """Keep the rows where each ``COLUMN=VALUE`` holds."""
    for selection in selections:
        column, sep, value = selection.partition("=")
        if not sep or not column:
            raise UserError(f"--select {selection!r}: use COLUMN=VALUE")
        if column not in events.columns:
            raise UserError(f"--select {selection!r}: the events have no column {column!r}")
        events = events[events[column].astype(str) == value]
    if len(events) == 0:
        raise UserError("no events left to train on after --select")
    return events.reset_index(drop=True)


def _track(result, settings, args) -> str:
    from apibehave.workbench.tracking import flatten, tracked_run

    with tracked_run("apibehave-train", "train") as run:
        import mlflow

        mlflow.log_params(flatten(settings.to_dict()))
        mlflow.log_params({"events": args.events, "apis": args.apis or ""})
        mlflow.set_tags(
            {
                "training_data_digest": result.training_data_digest,
                "feature_spec_hash": result.model.feature_set.spec_hash,
                "params_hash": settings.params_hash,
            }
        )
        ready = sum(1 for s in result.api_status.values() if s["status"] == "ready")
        mlflow.log_metrics(
            {"n_events": result.n_events, "apis_ready": ready, "train_seconds": result.seconds}
        )
        print(f"MLflow run {run.info.run_id}", file=sys.stderr)
        return run.info.run_id
