"""What a bundle may contain: reserved names, allowed file types, safe relative names.

A bundle is a directory ``<name>/`` with ``manifest.json``, ``manifest.sha256`` (the
SHA-256 of the manifest) and payload files in safe formats only. Pickle-based formats
are refused wherever a bundle is written or read, because loading them runs code.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from apibehave.bundle.errors import BundleError

MANIFEST_NAME = "manifest.json"
"""The manifest: versions, hashes, per-API status and the sum of every payload file."""

MANIFEST_SUM_NAME = "manifest.sha256"
"""The SHA-256 of ``manifest.json`` in ``sha256sum`` format, so editing it is detected."""

RESERVED_NAMES = frozenset({MANIFEST_NAME, MANIFEST_SUM_NAME})
"""Names a payload file may not take."""

PAYLOAD_SUFFIXES = frozenset({".json", ".yaml", ".yml", ".skops", ".onnx", ".parquet", ".txt"})
"""Payload file types a bundle may hold; none of them runs code when it is loaded."""

HAND_EDITABLE_SUFFIXES = frozenset({".json", ".yaml", ".yml"})
"""Payload file types a person may edit and re-seal (``apibehave bundle reseal``)."""

PICKLE_SUFFIXES = frozenset(
    {
        ".pkl",
        ".pickle",
        ".p",
        ".joblib",
        ".jbl",
        ".dill",
        ".cloudpickle",
        ".sav",
        ".pt",
        ".pth",
        ".ckpt",
        ".npy",
        ".npz",
    }
)
"""File types that are (or may be) pickle-based; refused anywhere in a bundle."""

SKOPS_MAGIC = b"PK\x03\x04"
"""A ``.skops`` file is a zip archive."""


def looks_like_pickle(data: bytes) -> bool:
    """Tell whether ``data`` starts like a binary pickle (protocol 2 to 5).

    Parameters
    ----------
    data : bytes
        File content.

    Returns
    -------
    bool
        True when the first two bytes are the pickle ``PROTO`` opcode and a protocol
        number; such content is refused whatever the file is called.
    """
    return len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5


def check_payload_name(name: str) -> str:
    """Check that ``name`` is a safe relative payload name of an allowed file type.

    Parameters
    ----------
    name : str
        A POSIX relative path inside the bundle, such as ``models/login.skops``.

    Returns
    -------
    str
        The same name.

    Raises
    ------
    BundleError
        When the name is absolute, climbs out with ``..``, has empty or ``.`` parts or
        a backslash, is reserved, is pickle-based, or is not an allowed file type.
    """
    check_relative_name(name)
    if name in RESERVED_NAMES:
        raise BundleError(f"{name} is reserved for the bundle itself, not a payload file")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise BundleError(f"pickle-based file refused: {name} (use JSON, skops or ONNX)")
    if suffix not in PAYLOAD_SUFFIXES:
        allowed = ", ".join(sorted(PAYLOAD_SUFFIXES))
        raise BundleError(f"unsupported file type in bundle: {name} (allowed: {allowed})")
    return name


def check_relative_name(name: str) -> str:
    """Check that ``name`` is a plain relative POSIX path that stays inside the bundle.

    Parameters
    ----------
    name : str
        The path to check.

    Returns
    -------
    str
        The same name.

    Raises
    ------
    BundleError
        When the path is empty, absolute, contains a backslash, a NUL, or an empty,
        ``.`` or ``..`` part.
    """
    if not isinstance(name, str) or not name:
        raise BundleError(f"bad file name in bundle: {name!r}")
    if "\\" in name or "\x00" in name:
        raise BundleError(f"bad file name in bundle: {name!r}")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise BundleError(f"absolute path refused in bundle: {name!r}")
    parts = name.split("/")
    if ".." in parts:
        raise BundleError(f"path leaving the bundle refused: {name!r}")
    if any(part in ("", ".") for part in parts):
        raise BundleError(f"bad file name in bundle: {name!r}")
    return name


def check_payload_content(name: str, data: bytes) -> None:
    """Refuse content that is pickle-based or not what its file type promises.

    Parameters
    ----------
    name : str
        The payload's name (its suffix says what the content must be).
    data : bytes
        The content.

    Raises
    ------
    BundleError
        When the content starts like a pickle, or a ``.skops`` file is not a zip.
    """
    if looks_like_pickle(data):
        raise BundleError(f"pickle-based file refused: {name} holds pickle data")
    if name.lower().endswith(".skops") and not data.startswith(SKOPS_MAGIC):
        raise BundleError(f"{name} is not a skops archive (no zip header)")
