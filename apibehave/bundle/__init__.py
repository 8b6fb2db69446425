"""Bundles: export, verify and load what the detectors learned, in safe formats only.

A bundle is a directory (or a ``.tar.gz`` of it) holding ``manifest.json``,
``manifest.sha256`` and payload files in formats that never run code when loaded:
JSON (thresholds a person may edit), YAML (the API catalogue), skops with explicit
trusted types, ONNX, Parquet. The manifest records versions, hashes and the SHA-256 of
every file; loading refuses a tampered, truncated, incompatible or pickle-based bundle
with one line naming what failed. This layer stores and verifies files; it does not
know what a model is.
"""

from apibehave.bundle.checksums import canonical_json_sha256, sha256_hex
from apibehave.bundle.diff import BundleDiff, FileChange, ValueChange, diff_bundles, diff_loaded
from apibehave.bundle.errors import BundleError
from apibehave.bundle.layout import MANIFEST_NAME, MANIFEST_SUM_NAME
from apibehave.bundle.manifest import (
    BUNDLE_FORMAT,
    OLDEST_READABLE_FORMAT,
    FileEdit,
    FileEntry,
    HandEdit,
    Manifest,
    RegistryRef,
)
from apibehave.bundle.reader import LibraryVersionWarning, LoadedBundle, load_bundle, verify_bundle
from apibehave.bundle.reseal import ResealResult, reseal_bundle
from apibehave.bundle.skops_io import dump_skops_bytes
from apibehave.bundle.source import DEFAULT_LIMITS, ReadLimits
from apibehave.bundle.writer import pack_bundle, write_bundle

__all__ = [
    "BUNDLE_FORMAT",
    "DEFAULT_LIMITS",
    "MANIFEST_NAME",
    "MANIFEST_SUM_NAME",
    "OLDEST_READABLE_FORMAT",
    "BundleDiff",
    "BundleError",
    "FileChange",
    "FileEdit",
    "FileEntry",
    "HandEdit",
    "LibraryVersionWarning",
    "LoadedBundle",
    "Manifest",
    "ReadLimits",
    "RegistryRef",
    "ResealResult",
    "ValueChange",
    "canonical_json_sha256",
    "diff_bundles",
    "diff_loaded",
    "dump_skops_bytes",
    "load_bundle",
    "pack_bundle",
    "reseal_bundle",
    "sha256_hex",
    "verify_bundle",
    "write_bundle",
]
