"""``apibehave bundle verify | inspect | diff | reseal | pack``: look after bundles.

Every subcommand verifies the bundles it reads; a bad or tampered bundle ends with one
line on stderr naming what failed and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from apibehave.bundle import (
    LoadedBundle,
    diff_loaded,
    load_bundle,
    pack_bundle,
    reseal_bundle,
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``bundle`` subcommands to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``apibehave bundle`` parser.
    """
    sub = parser.add_subparsers(
        dest="bundle_command", metavar="ACTION", required=True, parser_class=type(parser)
    )
    verify = sub.add_parser("verify", help="check a bundle's sums, format and files")
    verify.add_argument("bundle", help="bundle directory or .tar.gz")
    verify.add_argument(
        "--feature-spec-hash",
        help="refuse the bundle unless it was trained on this feature-spec hash",
    )
    verify.set_defaults(_action=_verify)

    inspect = sub.add_parser("inspect", help="show a verified bundle's manifest")
    inspect.add_argument("bundle", help="bundle directory or .tar.gz")
    inspect.add_argument("--json", action="store_true", help="print the manifest as JSON")
    inspect.set_defaults(_action=_inspect)

    diff = sub.add_parser("diff", help="show what changed between two bundles")
    diff.add_argument("old", help="the earlier bundle (directory or .tar.gz)")
    diff.add_argument("new", help="the later bundle (directory or .tar.gz)")
    diff.add_argument("--json", action="store_true", help="print the differences as JSON")
    diff.set_defaults(_action=_diff)

    reseal = sub.add_parser(
        "reseal",
        help="accept hand edits of JSON/YAML files (thresholds) and seal the bundle again",
        description="Recompute the sums after a person edited a bundle's JSON or YAML "
        "files (such as thresholds.json) and record the edit in the manifest "
        "(edited_by_hand, hand_edits). Binary files, the manifest, and added or removed "
        "files are never accepted.",
    )
    reseal.add_argument("bundle", help="bundle directory")
    reseal.add_argument("--note", help="why the files were edited (kept in the manifest)")
    reseal.set_defaults(_action=_reseal)

    pack = sub.add_parser("pack", help="verify a bundle directory and pack it as .tar.gz")
    pack.add_argument("bundle", help="bundle directory")
    pack.add_argument("--out", help="archive to write (default: <bundle>.tar.gz beside it)")
    pack.add_argument("--force", action="store_true", help="overwrite an existing archive")
    pack.set_defaults(_action=_pack)


def run(args: argparse.Namespace) -> int:
    """Run the selected ``bundle`` subcommand.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments.

    Returns
    -------
    int
        0 on success (a bad bundle raises :class:`~apibehave.bundle.BundleError`).
    """
    return args._action(args)


def _verify(args: argparse.Namespace) -> int:
    bundle = load_bundle(args.bundle, expected_feature_spec_hash=args.feature_spec_hash)
    manifest = bundle.manifest
    edited = ", edited by hand" if manifest.edited_by_hand else ""
    print(
        f"OK {args.bundle}: bundle {manifest.bundle_id}, format {manifest.bundle_format}, "
        f"{len(manifest.files)} files verified{edited}"
    )
    return 0


def _inspect(args: argparse.Namespace) -> int:
    bundle = load_bundle(args.bundle)
    if args.json:
        data = {"path": str(args.bundle), "verified": True, **bundle.manifest.to_dict()}
        data["library_differences"] = {
            name: {"recorded": recorded, "installed": installed}
            for name, (recorded, installed) in bundle.library_differences().items()
        }
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(_summary(bundle, str(args.bundle)))
    return 0


def _status_line(status: dict[str, Any]) -> str:
    main = status.get("status", "")
    rest = ", ".join(f"{k}={json.dumps(v)}" for k, v in status.items() if k != "status")
    return " ".join(part for part in (str(main), f"({rest})" if rest else "") if part)


def _summary(bundle: LoadedBundle, path: str) -> str:
    manifest = bundle.manifest
    differences = bundle.library_differences()
    libraries = ", ".join(
        f"{name} {version}"
        + (f" (installed {differences[name][1]})" if name in differences else "")
        for name, version in manifest.libraries.items()
    )
    registry = "-"
    if manifest.registry is not None:
        ref = manifest.registry
        alias = f" (alias {ref.alias})" if ref.alias else ""
        registry = f"{ref.model_name} version {ref.version}{alias}"
    edits = "no"
    if manifest.edited_by_hand:
        last = manifest.hand_edits[-1] if manifest.hand_edits else None
        edits = f"yes, {len(manifest.hand_edits)} re-seal(s)"
        if last is not None:
            edits += f"; last {last.edited_at}: {', '.join(last.files)}"
            if last.note:
                edits += f" ({last.note})"
    rows = [
        ("bundle", f"{manifest.bundle_id} (format {manifest.bundle_format}, verified)"),
        ("path", path),
        ("created", manifest.created_at),
        ("apibehave", manifest.apibehave_version),
        ("libraries", libraries or "-"),
        ("params hash", manifest.params_hash),
        ("feature spec", manifest.feature_spec_hash),
        ("training data", manifest.training_data_digest),
        ("mlflow run", manifest.mlflow_run_id or "-"),
        ("registry", registry),
        ("edited by hand", edits),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines.append(f"apis ({len(manifest.apis)}):")
    api_width = max((len(api) for api in manifest.apis), default=0)
    lines.extend(
        f"  {api:<{api_width}}  {_status_line(dict(status))}"
        for api, status in sorted(manifest.apis.items())
    )
    lines.append(f"files ({len(manifest.files)}):")
    name_width = max((len(name) for name in manifest.files), default=0)
    lines.extend(
        f"  {name:<{name_width}}  {entry.size:>10} B  sha256 {entry.sha256[:16]}"
        for name, entry in sorted(manifest.files.items())
    )
    return "\n".join(lines)


def _diff(args: argparse.Namespace) -> int:
    result = diff_loaded(load_bundle(args.old), load_bundle(args.new))
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write("\n")
    else:
        print(result.render())
    return 0


def _reseal(args: argparse.Namespace) -> int:
    result = reseal_bundle(args.bundle, note=args.note)
    if not result.changed:
        print(f"{args.bundle}: nothing changed; the bundle is already sealed")
    else:
        print(f"resealed {args.bundle}: {', '.join(result.changed)} recorded as edited by hand")
    return 0


def _pack(args: argparse.Namespace) -> int:
    archive = pack_bundle(args.bundle, args.out, force=args.force)
    print(f"packed {args.bundle} -> {archive}")
    return 0
