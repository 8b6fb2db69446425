"""Re-seal a bundle after a person edited its thresholds or other JSON/YAML files.

Thresholds stay readable and hand-editable, but an edited bundle no longer verifies:
editing is deliberate, never silently accepted. ``apibehave bundle reseal B`` checks
that only hand-editable files changed and that they still parse, recomputes their sums,
and records the edit in the manifest (``edited_by_hand: true`` and a ``hand_edits``
entry naming each changed file with its sums before and after).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from apibehave.bundle.checksums import sha256_hex
from apibehave.bundle.errors import BundleError
from apibehave.bundle.jsonio import load_json_strict, load_yaml_safe
from apibehave.bundle.layout import HAND_EDITABLE_SUFFIXES, RESERVED_NAMES, check_payload_content
from apibehave.bundle.manifest import FileEdit, FileEntry, HandEdit, Manifest, utc_timestamp
from apibehave.bundle.source import DEFAULT_LIMITS, ReadLimits, read_directory
from apibehave.bundle.verify import read_manifest, refuse_pickle_files
from apibehave.bundle.writer import seal_into
from apibehave.common.output import atomic_output


@dataclass(frozen=True)
class ResealResult:
    """What :func:`reseal_bundle` did.

    Parameters
    ----------
    path : Path
        The bundle directory.
    changed : tuple of str
        The files found edited and re-sealed (empty when nothing had changed).
    manifest : Manifest
        The bundle's manifest after the re-seal.
    """

    path: Path
    changed: tuple[str, ...]
    manifest: Manifest


def _check_edited_file(name: str, data: bytes) -> None:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in HAND_EDITABLE_SUFFIXES:
        raise BundleError(
            f"{name} changed, but only JSON and YAML files may be edited by hand; "
            "re-export the bundle instead"
        )
    check_payload_content(name, data)
    if suffix == ".json":
        load_json_strict(data, name)
    else:
        load_yaml_safe(data, name)


def reseal_bundle(
    path: str | os.PathLike[str],
    *,
    note: str | None = None,
    now: datetime | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> ResealResult:
    """Accept deliberate edits to a bundle's JSON/YAML files and seal it again.

    The manifest itself must be untouched (it still matches ``manifest.sha256``), no
    file may be added or removed, and every changed file must be JSON or YAML that
    still parses. The directory is replaced atomically.

    Parameters
    ----------
    path : path-like
        The bundle directory.
    note : str, optional
        Why the files were edited; kept in the manifest.
    now : datetime, optional
        The time to record; the current time by default.
    limits : ReadLimits, optional
        Bounds on file sizes and counts.

    Returns
    -------
    ResealResult
        The changed files and the new manifest.

    Raises
    ------
    BundleError
        When the path is not a bundle directory, the manifest was edited, a file was
        added or removed, a binary file changed, or an edited file no longer parses.
    """
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"reseal works on a bundle directory, not {root}; unpack it first")
    files = read_directory(root, limits)
    refuse_pickle_files(files)
    manifest = read_manifest(files, str(root))
    missing = sorted(set(manifest.files) - set(files))
    if missing:
        raise BundleError(f"cannot reseal: file listed in manifest.json is missing: {missing[0]}")
    unlisted = sorted(set(files) - set(manifest.files) - RESERVED_NAMES)
    if unlisted:
        raise BundleError(f"cannot reseal: file not listed in manifest.json: {unlisted[0]}")
    changed = tuple(
        name
        for name in sorted(manifest.files)
        if sha256_hex(files[name]) != manifest.files[name].sha256
    )
    if not changed:
        return ResealResult(root, (), manifest)
    for name in changed:
        _check_edited_file(name, files[name])
    new_files = dict(manifest.files)
    edits = {}
    for name in changed:
        new_sum = sha256_hex(files[name])
        edits[name] = FileEdit(old_sha256=manifest.files[name].sha256, new_sha256=new_sum)
        new_files[name] = FileEntry(sha256=new_sum, size=len(files[name]))
    record = HandEdit(edited_at=utc_timestamp(now), files=edits, note=note or None)
    resealed = dataclasses.replace(
        manifest,
        files=new_files,
        edited_by_hand=True,
        hand_edits=(*manifest.hand_edits, record),
    )
    payload = {name: files[name] for name in manifest.files}
    with atomic_output(root, directory=True) as tmp:
        seal_into(tmp, payload, resealed)
    return ResealResult(root, changed, resealed)
