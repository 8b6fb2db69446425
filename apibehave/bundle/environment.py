"""Versions of Python and the libraries a bundle's files depend on.

Versions are read from installed package metadata, so recording them imports nothing.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata

CORE_DISTRIBUTIONS = ("numpy", "pandas", "pyarrow", "pyyaml")
"""Recorded for every bundle."""

DISTRIBUTIONS_BY_SUFFIX = {
    ".skops": ("scikit-learn", "skops"),
    ".onnx": ("onnx", "onnxruntime"),
    ".parquet": ("pyarrow",),
}
"""Recorded when the bundle holds a file of that type."""


def installed_version(distribution: str) -> str | None:
    """Return the installed version of a distribution, or None when it is absent.

    Parameters
    ----------
    distribution : str
        The package's distribution name, such as ``"scikit-learn"``.

    Returns
    -------
    str or None
        Its version.
    """
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def library_versions(file_names: Iterable[str]) -> dict[str, str]:
    """Versions of Python and of the libraries that matter for these payload files.

    Parameters
    ----------
    file_names : iterable of str
        The bundle's payload file names; their types decide which libraries matter.

    Returns
    -------
    dict
        ``{"python": ..., "numpy": ..., ...}`` for the installed ones, sorted by name.
    """
    wanted = set(CORE_DISTRIBUTIONS)
    for name in file_names:
        for suffix, distributions in DISTRIBUTIONS_BY_SUFFIX.items():
            if name.lower().endswith(suffix):
                wanted.update(distributions)
    versions = {"python": platform.python_version()}
    for distribution in sorted(wanted):
        version = installed_version(distribution)
        if version is not None:
            versions[distribution] = version
    return versions
