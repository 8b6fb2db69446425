"""Write outputs so that a failed run leaves nothing half-written behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from apibehave.common.errors import UserError


def check_output_path(path: str | os.PathLike[str], *, force: bool) -> Path:
    """Refuse an existing output unless ``force`` is given; make sure its folder can exist.

    Parameters
    ----------
    path : path-like
        The output file or directory the command will create.
    force : bool
        Whether an existing output may be replaced.

    Returns
    -------
    Path
        The output path.

    Raises
    ------
    UserError
        When the output exists and ``force`` is false, or its parent is not a directory.
    """
    out = Path(path)
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to overwrite it")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"cannot write {out}: {parent} is not a directory")
    return out


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and move it into place only on success.

    On an exception the temporary file or directory is removed and ``path`` is left as
    it was (an existing output survives a failed overwrite).

    Parameters
    ----------
    path : path-like
        Final location.
    directory : bool, default False
        Yield a temporary directory instead of a file path.

    Yields
    ------
    Path
        Where to write.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if directory and final.exists():
        backup = final.with_name(f".{final.name}.old")
        _remove(backup)
        final.rename(backup)
        tmp.rename(final)
        _remove(backup)
    else:
        os.replace(tmp, final)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
