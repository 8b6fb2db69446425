"""``apibehave discover --events E --out apis.yaml``: propose an API catalogue from traffic."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apibehave.schema.catalogue import Catalogue


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``apibehave discover``."""
    parser.add_argument(
        "--events", required=True, metavar="E", help="event file (.parquet, .csv or .jsonl)"
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="catalogue to write (YAML)")
    parser.add_argument(
        "--depth",
        type=int,
        default=2,
        metavar="N",
        help="path segments in a base path, e.g. /v1/accounts at 2 (default: 2)",
    )
    parser.add_argument(
        "--min-calls",
        type=int,
        default=50,
        metavar="N",
        help="fewest calls an API needs; smaller ones roll up into their parent (default: 50)",
    )
    parser.add_argument(
        "--min-2xx",
        type=int,
        default=1,
        metavar="N",
        help="fewest 2xx answers an endpoint needs (default: 1); 0 for logs without "
        "responses, which lets probes create endpoints too",
    )
    parser.add_argument(
        "--no-static",
        action="store_true",
        help="leave static assets (.css, .js, images, fonts) out instead of one 'static' API",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    """Discover, write the catalogue, print a table of the proposed APIs."""
    from apibehave.common.output import check_output_path
    from apibehave.ingest.discovery import discover, discovered_calls
    from apibehave.schema.catalogue import save_catalogue
    from apibehave.schema.event_io import read_events

    out = check_output_path(args.out, force=args.force)
    events = read_events(args.events)
    catalogue = discover(
        events,
        depth=args.depth,
        min_calls=args.min_calls,
        min_2xx=args.min_2xx,
        static="exclude" if args.no_static else "group",
    )
    evidence = (
        "Only endpoints that answered 2xx are listed."
        if args.min_2xx > 0
        else "Endpoints come from requests alone (--min-2xx 0): probes count too."
    )
    header = "\n".join(
        [
            f"API catalogue proposed by `apibehave discover` from {args.events}",
            f"({len(events):,} events, depth {args.depth}, min calls {args.min_calls}).",
            evidence,
            "login_paths are GUESSES (POST endpoints named like login, token, session...):",
            "review them. Format: docs/apis-yaml.md",
        ]
    )
    save_catalogue(catalogue, out, header=header)
    print(_table(catalogue, discovered_calls(catalogue), len(events)))
    if len(events) and args.min_2xx > 0 and not (events["status"] > 0).any():
        print(
            "note: no event carries a response (status 0 throughout), so no endpoint "
            "answered 2xx; pass --min-2xx 0 to propose endpoints from requests alone"
        )
    print(f"wrote {out}")
    return 0


def _table(catalogue: Catalogue, calls: dict[str, int], total: int) -> str:
    rows = [("API", "base path", "hosts", "endpoints", "calls")]
    for api in catalogue.apis:
        base = api.base_path + (" (static assets, by extension)" if api.extensions else "")
        if len(base) > 48:
            base = base[:45] + "..."
        rows.append(
            (
                api.name,
                base,
                ", ".join(api.hosts) or "any",
                f"{len(api.endpoints):,}",
                f"{calls[api.name]:,}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [
        "  ".join(
            cell.rjust(w) if i >= 3 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    covered = sum(calls.values())
    share = covered / total if total else 0.0
    lines.append(
        f"{len(catalogue.apis)} API(s); {covered:,} of {total:,} calls ({share:.1%}) "
        "fall on proposed endpoints"
    )
    guesses = [(api.name, p) for api in catalogue.apis for p in api.login_paths]
    if guesses:
        lines.append(
            "login paths guessed (review them): "
            + ", ".join(f"{path} ({name})" for name, path in guesses)
        )
    return "\n".join(lines)
