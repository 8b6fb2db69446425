"""``apibehave ingest SRC --out E``: read a gateway log or event file into the event schema."""

from __future__ import annotations

import argparse

from apibehave.ingest.pipeline import FORMATS


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``apibehave ingest``."""
    parser.add_argument("source", metavar="SRC", help="log or event file (plain or gzip)")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=FORMATS,
        default="auto",
        help="input format (default: auto, detected from the first lines)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="E",
        help="output event file: .parquet (recommended), .csv or .jsonl",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument(
        "--rejects",
        metavar="FILE",
        help="write every rejected line as JSON (line number, reason, raw text)",
    )
    parser.add_argument(
        "--digest-key-file",
        metavar="FILE",
        help="replace token, cookie and api_key values by keyed HMAC-SHA256 digests "
        "using the key in FILE (default: $APIBEHAVE_DIGEST_KEY when set)",
    )


def run(args: argparse.Namespace) -> int:
    """Ingest and print the report summary; return the exit code."""
    from apibehave.ingest.pipeline import ingest
    from apibehave.ingest.secrets import load_digest_key

    report = ingest(
        args.source,
        args.fmt,
        args.out,
        force=args.force,
        rejects_path=args.rejects,
        digest_key=load_digest_key(args.digest_key_file),
    )
    print(report.summary())
    return 0
