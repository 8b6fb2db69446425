"""Verify and load bundles; everything read is what was verified.

:func:`verify_bundle` checks a bundle and returns its manifest; :func:`load_bundle`
checks it and keeps its verified files in memory, so nothing can change between the
check and the use. Both read a directory or a ``.tar.gz`` and refuse, with one line
naming what failed, anything tampered, truncated, incompatible or unsafe.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from apibehave.bundle.environment import installed_version
from apibehave.bundle.errors import BundleError
from apibehave.bundle.jsonio import load_json_strict, load_yaml_safe
from apibehave.bundle.manifest import Manifest
from apibehave.bundle.skops_io import load_skops_bytes
from apibehave.bundle.source import DEFAULT_LIMITS, ReadLimits, read_bundle_files
from apibehave.bundle.verify import verify_files


class LibraryVersionWarning(UserWarning):
    """A model file is loaded with another library version than it was written with."""


class LoadedBundle:
    """A verified bundle held in memory.

    Build it with :func:`load_bundle`.

    Parameters
    ----------
    path : Path
        Where it was read from.
    manifest : Manifest
        Its verified manifest.
    files : Mapping[str, bytes]
        All its verified files, the manifest and its sum included.
    """

    def __init__(self, path: Path, manifest: Manifest, files: Mapping[str, bytes]) -> None:
        self.path = path
        self.manifest = manifest
        self._files = dict(files)

    def __repr__(self) -> str:
        return f"LoadedBundle({self.manifest.bundle_id!r}, files={len(self.names)})"

    @property
    def names(self) -> list[str]:
        """The payload file names, sorted."""
        return sorted(self.manifest.files)

    @property
    def sealed_files(self) -> dict[str, bytes]:
        """Every file of the bundle (manifest and sum included), as verified."""
        return dict(self._files)

    def read_bytes(self, name: str) -> bytes:
        """Return a payload file's verified content.

        Parameters
        ----------
        name : str
            A file listed in the manifest, such as ``"thresholds.json"``.

        Returns
        -------
        bytes
            Its content.

        Raises
        ------
        BundleError
            When the bundle has no such file.
        """
        if name not in self.manifest.files:
            raise BundleError(f"bundle {self.manifest.bundle_id} has no file {name}")
        return self._files[name]

    def read_json(self, name: str) -> Any:
        """Parse a ``.json`` payload file strictly (no duplicate keys, no NaN).

        Parameters
        ----------
        name : str
            The file's name.

        Returns
        -------
        object
            The parsed JSON.
        """
        self._require_suffix(name, (".json",))
        return load_json_strict(self.read_bytes(name), name)

    def read_yaml(self, name: str) -> Any:
        """Parse a ``.yaml`` payload file (such as the API catalogue) with the safe loader.

        Parameters
        ----------
        name : str
            The file's name.

        Returns
        -------
        object
            The parsed YAML.
        """
        self._require_suffix(name, (".yaml", ".yml"))
        return load_yaml_safe(self.read_bytes(name), name)

    def load_skops(self, name: str, trusted: Sequence[str]) -> Any:
        """Load a scikit-learn model from a ``.skops`` file, trusting only named types.

        Parameters
        ----------
        name : str
            The file's name.
        trusted : sequence of str
            Types to trust beyond skops' defaults, such as
            ``["sklearn.tree._tree.Tree"]`` for an ``IsolationForest``. ``True`` or a
            bare string is refused: trust is always an explicit list.

        Returns
        -------
        object
            The model.

        Raises
        ------
        BundleError
            When the file needs an untrusted type or cannot be read.

        Warns
        -----
        LibraryVersionWarning
            When scikit-learn or skops differ from the versions that wrote the bundle.
        """
        self._require_suffix(name, (".skops",))
        self._warn_on_version_change(name, ("scikit-learn", "skops"))
        return load_skops_bytes(self.read_bytes(name), name, trusted)

    def read_onnx(self, name: str) -> bytes:
        """Return an ``.onnx`` model's verified bytes, for ``onnxruntime.InferenceSession``.

        Parameters
        ----------
        name : str
            The file's name.

        Returns
        -------
        bytes
            The serialised ONNX model.
        """
        self._require_suffix(name, (".onnx",))
        return self.read_bytes(name)

    def library_differences(self) -> dict[str, tuple[str, str | None]]:
        """Libraries whose installed version differs from the one that wrote the bundle.

        Returns
        -------
        dict
            ``{name: (recorded version, installed version or None)}``.
        """
        differences = {}
        for library, recorded in self.manifest.libraries.items():
            if library == "python":
                continue
            installed = installed_version(library)
            if installed != recorded:
                differences[library] = (recorded, installed)
        return differences

    def _require_suffix(self, name: str, suffixes: tuple[str, ...]) -> None:
        if PurePosixPath(name).suffix.lower() not in suffixes:
            raise BundleError(f"{name} is not a {' or '.join(suffixes)} file")

    def _warn_on_version_change(self, name: str, libraries: tuple[str, ...]) -> None:
        differences = self.library_differences()
        for library in libraries:
            if library in differences:
                recorded, installed = differences[library]
                warnings.warn(
                    f"{name} was written with {library} {recorded}, loading with {installed}",
                    LibraryVersionWarning,
                    stacklevel=3,
                )


def load_bundle(
    path: str | os.PathLike[str],
    *,
    expected_feature_spec_hash: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> LoadedBundle:
    """Verify a bundle (directory or ``.tar.gz``) and hold its files in memory.

    Parameters
    ----------
    path : path-like
        The bundle.
    expected_feature_spec_hash : str, optional
        The running code's feature-spec hash; a bundle trained on another one is refused.
    limits : ReadLimits, optional
        Bounds on file sizes and counts.

    Returns
    -------
    LoadedBundle
        The verified bundle.

    Raises
    ------
    BundleError
        When the bundle is missing, tampered, truncated, incompatible or unsafe.
    """
    bundle_path = Path(path)
    files = read_bundle_files(bundle_path, limits)
    manifest = verify_files(
        files, str(bundle_path), expected_feature_spec_hash=expected_feature_spec_hash
    )
    return LoadedBundle(bundle_path, manifest, files)


def verify_bundle(
    path: str | os.PathLike[str],
    *,
    expected_feature_spec_hash: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Manifest:
    """Verify a bundle (directory or ``.tar.gz``) and return its manifest.

    Parameters
    ----------
    path : path-like
        The bundle.
    expected_feature_spec_hash : str, optional
        The running code's feature-spec hash; a bundle trained on another one is refused.
    limits : ReadLimits, optional
        Bounds on file sizes and counts.

    Returns
    -------
    Manifest
        The verified manifest.

    Raises
    ------
    BundleError
        When the bundle is missing, tampered, truncated, incompatible or unsafe.
    """
    return load_bundle(
        path, expected_feature_spec_hash=expected_feature_spec_hash, limits=limits
    ).manifest
