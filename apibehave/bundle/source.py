"""Read every file of a bundle, from a directory or a ``.tar.gz``, within size limits.

Both readers return the files as ``{relative POSIX name: bytes}`` and refuse anything
that is not a plain file inside the bundle: symbolic and hard links, devices, FIFOs,
absolute paths and ``..``. Verification then works on that mapping only, so what is
checked is exactly what is later loaded.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from apibehave.bundle.errors import BundleError
from apibehave.bundle.layout import MANIFEST_NAME, check_relative_name

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what reading a bundle may take in.

    Parameters
    ----------
    max_file_bytes : int
        Largest single file.
    max_total_bytes : int
        Largest sum of all files.
    max_files : int
        Most files (and archive members).
    """

    max_file_bytes: int = 512 * 1024**2
    max_total_bytes: int = 1024**3
    max_files: int = 10_000


DEFAULT_LIMITS = ReadLimits()
"""Generous for any real bundle, small enough to stop a decompression bomb."""


def read_bundle_files(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Read all files of the bundle at ``path`` (a directory or a ``.tar.gz``).

    Parameters
    ----------
    path : Path
        The bundle directory or archive.
    limits : ReadLimits
        Size and count bounds.

    Returns
    -------
    dict
        ``{relative POSIX name: content}``.

    Raises
    ------
    BundleError
        When the path does not exist, is neither a directory nor a gzip archive, or holds
        anything unsafe or too large.
    """
    if path.is_dir():
        return read_directory(path, limits)
    if path.is_file():
        return read_archive(path, limits)
    raise BundleError(f"bundle not found: {path}")


class _Budget:
    def __init__(self, limits: ReadLimits, origin: Path) -> None:
        self.limits, self.origin = limits, origin
        self.files = 0
        self.total = 0

    def take(self, name: str, size: int) -> None:
        self.files += 1
        self.total += size
        if self.files > self.limits.max_files:
            raise BundleError(f"{self.origin}: more than {self.limits.max_files} files")
        if size > self.limits.max_file_bytes:
            raise BundleError(
                f"{self.origin}: {name} is {size} bytes, over the "
                f"{self.limits.max_file_bytes}-byte limit per file"
            )
        if self.total > self.limits.max_total_bytes:
            raise BundleError(
                f"{self.origin}: files exceed the {self.limits.max_total_bytes}-byte limit"
            )


def read_directory(root: Path, limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Read every file under a bundle directory, refusing links and special files.

    Parameters
    ----------
    root : Path
        The bundle directory.
    limits : ReadLimits
        Size and count bounds.

    Returns
    -------
    dict
        ``{relative POSIX name: content}``.
    """
    budget = _Budget(limits, root)
    files: dict[str, bytes] = {}
    for current, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(current)
        for entry in sorted(dirnames + filenames):
            full = here / entry
            name = full.relative_to(root).as_posix()
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise BundleError(f"symbolic link refused in bundle: {name}")
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise BundleError(f"special file refused in bundle: {name}")
            budget.take(name, full.stat().st_size)
            files[name] = full.read_bytes()
    return files


def _member_name(raw: str) -> str:
    name = raw
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    if not name or name == ".":
        return ""
    return check_relative_name(name)


def _gunzip_to_spool(path: Path, limits: ReadLimits, spool: io.IOBase) -> None:
    # Header blocks and padding need room beyond the file contents themselves.
    ceiling = limits.max_total_bytes + 1024 * (limits.max_files + 32)
    written = 0
    with gzip.open(path, "rb") as stream:
        while chunk := stream.read(1024 * 1024):
            written += len(chunk)
            if written > ceiling:
                raise BundleError(f"{path}: archive expands beyond the size limit")
            spool.write(chunk)
    spool.seek(0)


def read_archive(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Read a bundle from a gzip-compressed tar archive, safely.

    The whole gzip stream is checked (its CRC and length), then every member must be a
    regular file or directory with a safe relative name; links, devices, FIFOs,
    duplicates, absolute paths and ``..`` are refused. Members may sit under one
    top-level directory (the bundle's name), which is stripped.

    Parameters
    ----------
    path : Path
        The ``.tar.gz`` file.
    limits : ReadLimits
        Size and count bounds.

    Returns
    -------
    dict
        ``{relative POSIX name: content}``.

    Raises
    ------
    BundleError
        When the archive is corrupt, truncated, too large, or holds an unsafe member.
    """
    with path.open("rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            raise BundleError(f"not a bundle: {path} is neither a directory nor a .tar.gz")
    budget = _Budget(limits, path)
    files: dict[str, bytes] = {}
    with tempfile.SpooledTemporaryFile(max_size=64 * 1024**2) as spool:
        try:
            _gunzip_to_spool(path, limits, spool)
            with tarfile.open(fileobj=spool, mode="r:") as tar:
                for member in tar:
                    _read_member(tar, member, budget, files, path)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise BundleError(f"corrupt or truncated bundle archive {path}: {detail}") from None
    return _strip_top_directory(files, path)


def _read_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    budget: _Budget,
    files: dict[str, bytes],
    origin: Path,
) -> None:
    name = _member_name(member.name)
    if member.issym() or member.islnk():
        raise BundleError(f"link refused in bundle archive {origin}: {member.name}")
    if member.isdir():
        return
    if not member.isfile():
        raise BundleError(f"special file refused in bundle archive {origin}: {member.name}")
    if not name:
        raise BundleError(f"bad member name in bundle archive {origin}: {member.name!r}")
    if name in files:
        raise BundleError(f"{name} appears twice in bundle archive {origin}")
    budget.take(name, member.size)
    extracted = tar.extractfile(member)
    data = b"" if extracted is None else extracted.read()
    if len(data) != member.size:
        raise BundleError(f"corrupt or truncated bundle archive {origin}: {name} is cut short")
    files[name] = data


def _strip_top_directory(files: dict[str, bytes], origin: Path) -> dict[str, bytes]:
    has_manifest = any(name.rsplit("/", 1)[-1] == MANIFEST_NAME for name in files)
    if not has_manifest or MANIFEST_NAME in files:
        return files  # verification names what is missing
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) != 1 or any("/" not in name for name in files):
        raise BundleError(f"{origin}: the archive must hold one bundle directory")
    prefix = tops.pop() + "/"
    return {name[len(prefix) :]: data for name, data in files.items()}
