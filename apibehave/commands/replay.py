"""``apibehave replay``: apply a bundle to a log causally and write decisions (CONTRACT 3)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from apibehave.common.errors import UserError
from apibehave.common.output import atomic_output, check_output_path


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``apibehave replay``."""
    parser.add_argument("--bundle", required=True, help="bundle directory or .tar.gz")
    parser.add_argument("--events", required=True, help="events to replay (Parquet, CSV, JSONL)")
    parser.add_argument("--out", required=True, help="decisions file (.parquet or .csv)")
    parser.add_argument("--evidence", help="also write one JSON line per new block, with evidence")
    parser.add_argument("--force", action="store_true", help="replace existing outputs")


def run(args: argparse.Namespace) -> int:
    """Replay and write the decisions file."""
    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.engine.replay import replay_events
    from apibehave.schema import read_events

    out = check_output_path(args.out, force=args.force)
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise UserError(f"{out}: the decisions file must end in .parquet or .csv")
    evidence_path = check_output_path(args.evidence, force=args.force) if args.evidence else None
    model = load_model_bundle(args.bundle)
    events = read_events(args.events)
    result = replay_events(events, model)
    with atomic_output(out) as tmp:
        if suffix == ".csv":
            result.decisions.to_csv(tmp, index=False)
        else:
            result.decisions.to_parquet(tmp, index=False)
    if evidence_path is not None:
        _write_evidence(result.new_blocks, evidence_path)
    stats = result.stats
    print(
        f"replayed {stats['events']:,} events: {stats['blocked']:,} blocked "
        f"({stats['new_blocks']:,} new blocks, {stats['shadow_blocks']:,} shadow), "
        f"{stats['iterations']} pass(es); decisions in {out}"
    )
    return 0


def _write_evidence(new_blocks, path: Path) -> None:
    with atomic_output(path) as tmp, tmp.open("w") as handle:
        for record in new_blocks.to_dict(orient="records"):
            record["ts"] = record["ts"].isoformat()
            handle.write(json.dumps(record, default=str) + "\n")
