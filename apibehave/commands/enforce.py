"""``apibehave enforce --bundle B --host H --port N``: serve the sideband enforcer (CONTRACT 5)."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``apibehave enforce``."""
    parser.add_argument("--bundle", required=True, help="bundle directory or .tar.gz")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8090, help="port (default: 8090)")
    parser.add_argument(
        "--trust-event-time",
        action="store_true",
        help="take each call's time from the X-Event-Time header (recorded traffic)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (default: 1)")
    parser.add_argument(
        "--fail-mode",
        choices=("open", "closed"),
        default="open",
        help="answer when the engine errors: allow (open, default) or block (closed)",
    )
    parser.add_argument(
        "--state-dir",
        default="enforce-state",
        help="where the generated admin token and digest key live (default: enforce-state)",
    )
    parser.add_argument(
        "--call-log-dir",
        help="rotating Parquet call log (default: STATE_DIR/calls)",
    )
    parser.add_argument("--no-call-log", action="store_true", help="do not write a call log")
    parser.add_argument(
        "--admin-token-file",
        help="file holding the admin bearer token (else $APIBEHAVE_ADMIN_TOKEN, else "
        "STATE_DIR/admin.token, created on first start)",
    )
    parser.add_argument(
        "--digest-key-file",
        help="HMAC key for identifier digests in the call log (else $APIBEHAVE_DIGEST_KEY, "
        "else STATE_DIR/digest.key)",
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=64 * 1024, help="larger bodies answer 413"
    )
    parser.add_argument(
        "--pending-ttl",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds a request waits for its response before counting as unanswered",
    )
    parser.add_argument(
        "--max-identifiers",
        type=int,
        default=1_000_000,
        metavar="N",
        help="identifier states kept per feature table; the least recently seen are evicted "
        "(default: 1,000,000; about 4 KB each)",
    )
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="share deny and allow lists with other enforcers through Redis "
        "(e.g. redis://127.0.0.1:6379/0; docs/fleet.md); else in memory",
    )
    parser.add_argument(
        "--log-udp-port",
        type=int,
        metavar="PORT",
        help="receive nginx access-log lines (JSON over syslog) for /auth responses",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from apibehave.enforce.server import serve
    from apibehave.enforce.settings import EnforceSettings

    call_log_dir = None if args.no_call_log else (args.call_log_dir or f"{args.state_dir}/calls")
    settings = EnforceSettings(
        bundle=args.bundle,
        host=args.host,
        port=args.port,
        workers=args.workers,
        trust_event_time=args.trust_event_time,
        fail_mode=args.fail_mode,
        state_dir=args.state_dir,
        call_log_dir=call_log_dir,
        admin_token_file=args.admin_token_file,
        digest_key_file=args.digest_key_file,
        max_body_bytes=args.max_body_bytes,
        pending_ttl_s=args.pending_ttl,
        log_udp_port=args.log_udp_port,
        redis_url=args.redis_url,
        max_identifiers=args.max_identifiers,
    )
    serve(settings)
    return 0
