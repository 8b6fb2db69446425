"""Check a bundle's files against its manifest: the one place a bundle is trusted.

The checks, in order, each failing with one line that names what failed: no
pickle-based file anywhere; ``manifest.json`` present and well-formed JSON; a bundle
format this apibehave reads; the manifest matching ``manifest.sha256``; every field
valid; every listed file present, of its recorded size and SHA-256, and of safe
content; no file that the manifest does not list; and, when the caller says which,
the feature specification the running code computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from apibehave.bundle.checksums import parse_manifest_sum, sha256_hex
from apibehave.bundle.errors import BundleError
from apibehave.bundle.jsonio import load_json_strict
from apibehave.bundle.layout import (
    HAND_EDITABLE_SUFFIXES,
    MANIFEST_NAME,
    MANIFEST_SUM_NAME,
    PICKLE_SUFFIXES,
    RESERVED_NAMES,
    check_payload_content,
)
from apibehave.bundle.manifest import Manifest, check_bundle_format


def refuse_pickle_files(names: Iterable[str]) -> None:
    """Refuse any pickle-based file type, listed in the manifest or not.

    Parameters
    ----------
    names : iterable of str
        All file names in the bundle.

    Raises
    ------
    BundleError
        Naming the first pickle-based file.
    """
    for name in sorted(names):
        if PurePosixPath(name).suffix.lower() in PICKLE_SUFFIXES:
            raise BundleError(f"pickle-based file refused: {name} (use JSON, skops or ONNX)")


def read_manifest(files: Mapping[str, bytes], origin: str) -> Manifest:
    """Find, parse and authenticate the manifest among a bundle's files.

    Parameters
    ----------
    files : Mapping[str, bytes]
        All files of the bundle by relative name.
    origin : str
        Where the bundle came from, for messages.

    Returns
    -------
    Manifest
        The manifest, matching ``manifest.sha256`` and of a readable format.

    Raises
    ------
    BundleError
        When the manifest or its sum is missing, malformed, of an unknown format, or
        edited since it was sealed.
    """
    manifest_bytes = files.get(MANIFEST_NAME)
    if manifest_bytes is None:
        raise BundleError(f"not a bundle: {MANIFEST_NAME} is missing in {origin}")
    data = load_json_strict(manifest_bytes, MANIFEST_NAME)
    if isinstance(data, Mapping):
        check_bundle_format(data.get("bundle_format"))
    sum_bytes = files.get(MANIFEST_SUM_NAME)
    if sum_bytes is None:
        raise BundleError(f"{MANIFEST_SUM_NAME} is missing in {origin}; the bundle is unsealed")
    if sha256_hex(manifest_bytes) != parse_manifest_sum(sum_bytes):
        raise BundleError(
            f"{MANIFEST_NAME} does not match {MANIFEST_SUM_NAME} in {origin}: it was edited "
            "or corrupted after sealing"
        )
    return Manifest.from_dict(data)


def check_listed_file(name: str, data: bytes | None, manifest: Manifest) -> None:
    """Check one payload file against its manifest entry.

    Parameters
    ----------
    name : str
        The file's name, listed in the manifest.
    data : bytes or None
        Its content, or None when the file is absent.
    manifest : Manifest
        The authenticated manifest.

    Raises
    ------
    BundleError
        When the file is missing, truncated, of another size, of another SHA-256, or of
        unsafe content.
    """
    entry = manifest.files[name]
    if data is None:
        raise BundleError(f"file listed in {MANIFEST_NAME} is missing: {name}")
    hint = _reseal_hint(name)
    if len(data) < entry.size:
        raise BundleError(
            f"truncated or modified file: {name} has {len(data)} of the {entry.size} bytes "
            f"recorded in {MANIFEST_NAME}{hint}"
        )
    if len(data) != entry.size:
        raise BundleError(
            f"modified file: {name} has {len(data)} bytes, {MANIFEST_NAME} records "
            f"{entry.size}{hint}"
        )
    if sha256_hex(data) != entry.sha256:
        raise BundleError(f"checksum mismatch: {name} was modified or corrupted{hint}")
    check_payload_content(name, data)


def _reseal_hint(name: str) -> str:
    if PurePosixPath(name).suffix.lower() in HAND_EDITABLE_SUFFIXES:
        return " (if you edited it on purpose, run 'apibehave bundle reseal')"
    return ""


def check_feature_spec(manifest: Manifest, expected_feature_spec_hash: str | None) -> None:
    """Refuse a bundle trained on another feature specification than the running code's.

    Parameters
    ----------
    manifest : Manifest
        The bundle's manifest.
    expected_feature_spec_hash : str or None
        The running code's feature-spec hash; None skips the check.

    Raises
    ------
    BundleError
        When the hashes differ.
    """
    if expected_feature_spec_hash is None:
        return
    if manifest.feature_spec_hash != expected_feature_spec_hash:
        raise BundleError(
            f"feature spec mismatch: bundle {manifest.bundle_id} was trained on "
            f"{manifest.feature_spec_hash}, expected {expected_feature_spec_hash}; "
            "retrain the bundle for the running feature specification"
        )


def verify_files(
    files: Mapping[str, bytes],
    origin: str,
    *,
    expected_feature_spec_hash: str | None = None,
) -> Manifest:
    """Verify a bundle's complete file set and return its manifest.

    Parameters
    ----------
    files : Mapping[str, bytes]
        All files of the bundle by relative POSIX name.
    origin : str
        Where the bundle came from, for messages.
    expected_feature_spec_hash : str, optional
        The running code's feature-spec hash; the bundle must match it.

    Returns
    -------
    Manifest
        The verified manifest.

    Raises
    ------
    BundleError
        On the first failed check, naming it.
    """
    refuse_pickle_files(files)
    manifest = read_manifest(files, origin)
    for name in sorted(manifest.files):
        check_listed_file(name, files.get(name), manifest)
    unlisted = sorted(set(files) - set(manifest.files) - RESERVED_NAMES)
    if unlisted:
        raise BundleError(f"file not listed in {MANIFEST_NAME}: {unlisted[0]} in {origin}")
    check_feature_spec(manifest, expected_feature_spec_hash)
    return manifest
