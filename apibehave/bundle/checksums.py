"""SHA-256 sums of payload files and of the manifest, and canonical JSON digests."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from apibehave.bundle.errors import BundleError
from apibehave.bundle.layout import MANIFEST_NAME, MANIFEST_SUM_NAME

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SUM_LINE = re.compile(rb"([0-9a-f]{64}) [ *]" + re.escape(MANIFEST_NAME.encode()) + rb"\n?")


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 of ``data`` as 64 lower-case hex digits.

    Parameters
    ----------
    data : bytes
        The content.

    Returns
    -------
    str
        The hex digest.
    """
    return hashlib.sha256(data).hexdigest()


def is_sha256_hex(value: object) -> bool:
    """Tell whether ``value`` is 64 lower-case hex digits.

    Parameters
    ----------
    value : object
        Anything.

    Returns
    -------
    bool
        True for a well-formed SHA-256 hex digest.
    """
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def canonical_json_sha256(obj: Any) -> str:
    """Digest a JSON-serialisable object independently of key order and whitespace.

    Useful for ``params_hash`` and ``feature_spec_hash``: the same settings always give
    the same digest.

    Parameters
    ----------
    obj : JSON-serialisable
        Settings, a feature specification, ...

    Returns
    -------
    str
        ``"sha256:"`` followed by the hex digest of the canonical JSON text.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + sha256_hex(text.encode("utf-8"))


def manifest_sum_text(manifest_bytes: bytes) -> bytes:
    """Render the content of ``manifest.sha256`` for the given manifest bytes.

    Parameters
    ----------
    manifest_bytes : bytes
        The exact content of ``manifest.json``.

    Returns
    -------
    bytes
        One ``sha256sum``-style line, so ``sha256sum -c manifest.sha256`` also checks it.
    """
    return f"{sha256_hex(manifest_bytes)}  {MANIFEST_NAME}\n".encode("ascii")


def parse_manifest_sum(text: bytes) -> str:
    """Read the manifest's expected SHA-256 from the content of ``manifest.sha256``.

    Parameters
    ----------
    text : bytes
        The content of ``manifest.sha256``.

    Returns
    -------
    str
        The expected hex digest.

    Raises
    ------
    BundleError
        When the file is not exactly one ``<sha256>  manifest.json`` line.
    """
    match = _SUM_LINE.fullmatch(text)
    if match is None:
        raise BundleError(f"malformed {MANIFEST_SUM_NAME}: expected '<sha256>  {MANIFEST_NAME}'")
    return match.group(1).decode("ascii")
