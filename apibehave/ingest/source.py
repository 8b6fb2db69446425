"""Open an input file for reading, decompressing gzip transparently (by magic bytes)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import BinaryIO

from apibehave.common.errors import UserError

GZIP_MAGIC = b"\x1f\x8b"


def check_source(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path if it names a readable regular file.

    Raises
    ------
    UserError
        When it does not exist, is a directory, or cannot be opened.
    """
    source = Path(path)
    if not source.exists():
        raise UserError(f"{source}: no such file")
    if source.is_dir():
        raise UserError(f"{source}: is a directory, expected a log or event file")
    try:
        with source.open("rb") as stream:
            stream.read(1)
    except OSError as exc:
        raise UserError(f"{source}: cannot be read ({exc.strerror or exc})") from exc
    return source


def is_gzip(path: Path) -> bool:
    """Tell whether a file starts with the gzip magic bytes, whatever its name."""
    with path.open("rb") as stream:
        return stream.read(2) == GZIP_MAGIC


def open_source(path: Path) -> BinaryIO:
    """Open a file for binary reading, through gzip when its content is gzip."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_head(path: Path, size: int = 64 * 1024) -> bytes:
    """Return the first ``size`` decompressed bytes of a file (less when shorter)."""
    with open_source(path) as stream:
        try:
            return stream.read(size)
        except (OSError, EOFError) as exc:
            raise UserError(f"{path}: cannot be read ({exc})") from exc
