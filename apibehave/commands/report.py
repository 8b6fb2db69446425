"""``apibehave report KIND``: reports over events.

``usage`` (traffic) and ``detection`` (decisions against labels) now; ``attacks`` and
``forensics`` join later, each a sub-subcommand with its own arguments and a ``_report``
function set as the parser default.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare ``apibehave report usage`` (and room for further report kinds)."""
    kinds = parser.add_subparsers(dest="report", parser_class=type(parser))
    kinds.required = True
    usage = kinds.add_parser(
        "usage",
        help="requests per API, source IP, user agent, endpoint and device",
        description="Summarise traffic: totals, status mix, per-API error ratios, busiest "
        "source IPs, top user agents and endpoints, device classes.",
    )
    usage.add_argument(
        "--events", required=True, metavar="E", help="event file (.parquet, .csv or .jsonl)"
    )
    usage.add_argument(
        "--top", type=int, default=10, metavar="N", help="rows per list (default: 10)"
    )
    usage.add_argument(
        "--apis", metavar="A", help="API catalogue (apis.yaml) to resolve calls without an api"
    )
    usage.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    usage.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    usage.set_defaults(_report=_run_usage)
    detection = kinds.add_parser(
        "detection",
        help="how well decisions match labels, per attack type and on benign traffic",
        description="Compare a decisions file with the labels of the same (labelled) events: "
        "actor recall, calls blocked, calls and seconds to the first block, attribution "
        "accuracy per attack type; benign calls and client IPs blocked.",
    )
    detection.add_argument("--events", required=True, metavar="E", help="labelled events")
    detection.add_argument("--decisions", required=True, metavar="D", help="decisions file")
    detection.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    detection.add_argument("--force", action="store_true", help="overwrite an existing --json")
    detection.set_defaults(_report=_run_detection)
    kinds.metavar = "{" + ",".join(kinds.choices) + "}"  # names the kinds in errors too


def run(args: argparse.Namespace) -> int:
    """Run the chosen report; return the exit code."""
    report: Callable[[argparse.Namespace], int] = args._report
    return report(args)


def _run_usage(args: argparse.Namespace) -> int:
    import json

    from apibehave.common.errors import UserError
    from apibehave.common.output import atomic_output, check_output_path
    from apibehave.reports.usage import format_usage_report, usage_report
    from apibehave.schema.catalogue import load_catalogue
    from apibehave.schema.event_io import read_events

    if args.top < 1:
        raise UserError(f"--top must be at least 1, got {args.top}")
    out = check_output_path(args.json, force=args.force) if args.json else None
    catalogue = load_catalogue(args.apis) if args.apis else None
    events = read_events(args.events)
    report = usage_report(events, top=args.top, catalogue=catalogue)
    print(format_usage_report(report))
    if out is not None:
        with atomic_output(out) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {out}")
    return 0


def _run_detection(args: argparse.Namespace) -> int:
    import json

    import pandas as pd
    import pyarrow as pa

    from apibehave.common.errors import UserError
    from apibehave.common.output import atomic_output, check_output_path
    from apibehave.schema.event_io import read_events
    from apibehave.workbench.evaluate import evaluate_decisions, format_evaluation

    out = check_output_path(args.json, force=args.force) if args.json else None
    events = read_events(args.events)
    try:
        reader = pd.read_csv if str(args.decisions).endswith(".csv") else pd.read_parquet
        decisions = reader(args.decisions)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise UserError(f"{args.decisions}: not a readable decisions file ({exc})") from exc
    evaluation = evaluate_decisions(events, decisions)
    print(format_evaluation(evaluation))
    if out is not None:
        with atomic_output(out) as tmp:
            tmp.write_text(json.dumps(evaluation.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {out}")
    return 0
