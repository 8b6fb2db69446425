"""The bundle manifest: what a bundle holds, where it came from, and how to check it.

``manifest.json`` records the bundle format, versions of apibehave and the libraries it
was written with, hashes of the parameters, feature specification and training data,
the MLflow run and registry version when known, each API's status, any re-seal after a
hand edit, and the SHA-256 and size of every payload file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apibehave.bundle.checksums import is_sha256_hex
from apibehave.bundle.errors import BundleError
from apibehave.bundle.jsonio import dump_json_bytes, load_json_strict
from apibehave.bundle.layout import MANIFEST_NAME, check_payload_name

BUNDLE_FORMAT = 1
"""The bundle format this apibehave writes; raise it on any incompatible layout change."""

OLDEST_READABLE_FORMAT = 1
"""The oldest bundle format this apibehave still reads."""


def _malformed(detail: str) -> BundleError:
    return BundleError(f"malformed {MANIFEST_NAME}: {detail}")


def _text(data: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _malformed(f"field {key!r} must be a non-empty string")
    return value


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise _malformed(f"field {key!r} must be an object")
    return value


def utc_timestamp(when: datetime | None = None) -> str:
    """Render a moment as a UTC ISO-8601 string with a ``Z`` suffix, to the second.

    Parameters
    ----------
    when : datetime, optional
        A timezone-aware moment; now when omitted.

    Returns
    -------
    str
        Such as ``"2026-11-22T05:03:36Z"``.
    """
    moment = datetime.now(UTC) if when is None else when.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_utc_timestamp(value: str, key: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _malformed(f"field {key!r} is not an ISO-8601 time: {value!r}") from None
    if parsed.utcoffset() is None or parsed.utcoffset().total_seconds() != 0:
        raise _malformed(f"field {key!r} must be in UTC: {value!r}")
    return value


def check_bundle_format(value: object) -> int:
    """Check that this apibehave can read a bundle of format ``value``.

    Parameters
    ----------
    value : object
        The manifest's ``bundle_format``.

    Returns
    -------
    int
        The format.

    Raises
    ------
    BundleError
        When the format is missing or not an integer, newer than :data:`BUNDLE_FORMAT`,
        or older than :data:`OLDEST_READABLE_FORMAT`.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise _malformed(f"'bundle_format' must be an integer, got {value!r}")
    if value > BUNDLE_FORMAT:
        raise BundleError(
            f"bundle format {value} is newer than this apibehave reads (format "
            f"{BUNDLE_FORMAT}); upgrade apibehave to load it"
        )
    if value < OLDEST_READABLE_FORMAT:
        raise BundleError(
            f"bundle format {value} is no longer supported (oldest readable is "
            f"{OLDEST_READABLE_FORMAT}); re-export the bundle with this apibehave"
        )
    return value


@dataclass(frozen=True)
class FileEntry:
    """The recorded identity of one payload file.

    Parameters
    ----------
    sha256 : str
        Its SHA-256, 64 lower-case hex digits.
    size : int
        Its size in bytes.
    """

    sha256: str
    size: int

    @classmethod
    def from_dict(cls, name: str, data: object) -> FileEntry:
        """Read and check one ``files`` entry of the manifest.

        Parameters
        ----------
        name : str
            The file's name (for messages).
        data : object
            The entry, ``{"sha256": ..., "size": ...}``.

        Returns
        -------
        FileEntry
            The checked entry.
        """
        if not isinstance(data, Mapping) or set(data) != {"sha256", "size"}:
            raise _malformed(f"files[{name!r}] must be {{'sha256': ..., 'size': ...}}")
        sha, size = data["sha256"], data["size"]
        if not is_sha256_hex(sha):
            raise _malformed(f"files[{name!r}].sha256 is not a SHA-256 hex digest")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise _malformed(f"files[{name!r}].size must be a non-negative integer")
        return cls(sha256=sha, size=size)


@dataclass(frozen=True)
class RegistryRef:
    """Where the bundle's models are registered (MLflow model registry).

    Parameters
    ----------
    model_name : str
        The registered model's name.
    version : str
        Its version.
    alias : str or None
        The alias it held when the bundle was exported (``champion``, ``challenger``...).
    """

    model_name: str
    version: str
    alias: str | None = None

    @classmethod
    def from_dict(cls, data: object) -> RegistryRef:
        """Read and check the manifest's ``registry`` object.

        Parameters
        ----------
        data : object
            ``{"model_name": ..., "version": ..., "alias": ...}``.

        Returns
        -------
        RegistryRef
            The checked reference.
        """
        if isinstance(data, RegistryRef):
            return data
        if not isinstance(data, Mapping) or not set(data) <= {"model_name", "version", "alias"}:
            raise _malformed("'registry' must be {'model_name': ..., 'version': ..., 'alias': ...}")
        version = data.get("version")
        if isinstance(version, int) and not isinstance(version, bool):
            version = str(version)
        return cls(
            model_name=_text(data, "model_name"),
            version=_text({"version": version}, "version"),
            alias=_text(data, "alias", optional=True),
        )


@dataclass(frozen=True)
class FileEdit:
    """One payload file changed by hand and re-sealed.

    Parameters
    ----------
    old_sha256 : str
        The file's sum before the edit.
    new_sha256 : str
        Its sum after the edit.
    """

    old_sha256: str
    new_sha256: str


@dataclass(frozen=True)
class HandEdit:
    """One re-seal after a person edited payload files (``apibehave bundle reseal``).

    Parameters
    ----------
    edited_at : str
        When the bundle was re-sealed (UTC ISO-8601).
    files : Mapping[str, FileEdit]
        The changed files with their sums before and after.
    note : str or None
        Why, in the editor's words.
    """

    edited_at: str
    files: Mapping[str, FileEdit]
    note: str | None = None

    @classmethod
    def from_dict(cls, data: object) -> HandEdit:
        """Read and check one ``hand_edits`` entry.

        Parameters
        ----------
        data : object
            ``{"edited_at": ..., "files": {name: {"old_sha256", "new_sha256"}}, "note": ...}``.

        Returns
        -------
        HandEdit
            The checked record.
        """
        if not isinstance(data, Mapping) or not set(data) <= {"edited_at", "files", "note"}:
            raise _malformed("each 'hand_edits' entry must be {'edited_at', 'files', 'note'}")
        files = _mapping(data, "files")
        edits = {}
        for name, sums in files.items():
            if (
                not isinstance(sums, Mapping)
                or set(sums) != {"old_sha256", "new_sha256"}
                or not all(is_sha256_hex(v) for v in sums.values())
            ):
                raise _malformed(f"hand_edits files[{name!r}] must hold old and new SHA-256")
            edits[name] = FileEdit(sums["old_sha256"], sums["new_sha256"])
        if not edits:
            raise _malformed("a 'hand_edits' entry must name at least one file")
        return cls(
            edited_at=_check_utc_timestamp(_text(data, "edited_at"), "edited_at"),
            files=edits,
            note=_text(data, "note", optional=True),
        )


@dataclass(frozen=True)
class Manifest:
    """The content of ``manifest.json``.

    Parameters
    ----------
    bundle_format : int
        Layout version (:data:`BUNDLE_FORMAT` when written by this apibehave).
    bundle_id : str
        Name and version of the bundle, such as ``"default-2026-11-22T05"``.
    created_at : str
        When it was written (UTC ISO-8601).
    apibehave_version : str
        The apibehave version that wrote it.
    libraries : Mapping[str, str]
        Versions of Python and the libraries that matter for its files.
    params_hash : str
        Digest of the training and decision parameters.
    feature_spec_hash : str
        Digest of the feature specification the models were trained on; a loader
        refuses the bundle when its own feature specification differs.
    training_data_digest : str
        Digest of the training data.
    files : Mapping[str, FileEntry]
        Every payload file with its SHA-256 and size.
    apis : Mapping[str, Mapping[str, Any]]
        Per-API status supplied by the writer, such as ``{"login": {"status": "ready"}}``.
    mlflow_run_id : str or None
        The MLflow run that produced it, when tracked.
    registry : RegistryRef or None
        The registered model version it belongs to, when registered.
    edited_by_hand : bool
        Whether a person edited payload files and re-sealed the bundle.
    hand_edits : tuple of HandEdit
        Every re-seal, oldest first.
    extra : Mapping[str, Any]
        Further JSON metadata the writer wants to keep (free-form).
    """

    bundle_format: int
    bundle_id: str
    created_at: str
    apibehave_version: str
    libraries: Mapping[str, str]
    params_hash: str
    feature_spec_hash: str
    training_data_digest: str
    files: Mapping[str, FileEntry]
    apis: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    registry: RegistryRef | None = None
    edited_by_hand: bool = False
    hand_edits: tuple[HandEdit, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest as plain JSON data, in a readable field order.

        Returns
        -------
        dict
            What ``manifest.json`` holds; files are sorted by name.
        """
        data = dataclasses.asdict(self)
        data["files"] = {name: data["files"][name] for name in sorted(data["files"])}
        data["hand_edits"] = list(data["hand_edits"])
        order = [
            "bundle_format",
            "bundle_id",
            "created_at",
            "apibehave_version",
            "libraries",
            "params_hash",
            "feature_spec_hash",
            "training_data_digest",
            "mlflow_run_id",
            "registry",
            "apis",
            "edited_by_hand",
            "hand_edits",
            "extra",
            "files",
        ]
        return {key: data[key] for key in order}

    def to_json_bytes(self) -> bytes:
        """Serialise the manifest as the bytes of ``manifest.json``.

        Returns
        -------
        bytes
            Readable UTF-8 JSON.
        """
        return dump_json_bytes(self.to_dict())

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Manifest:
        """Parse and check ``manifest.json``.

        Parameters
        ----------
        data : bytes
            Its content.

        Returns
        -------
        Manifest
            The checked manifest.

        Raises
        ------
        BundleError
            When the JSON is malformed, the format is unknown, or a field is wrong.
        """
        return cls.from_dict(load_json_strict(data, MANIFEST_NAME))

    @classmethod
    def from_dict(cls, data: object) -> Manifest:
        """Check parsed manifest data and build a :class:`Manifest`.

        Parameters
        ----------
        data : object
            The parsed JSON.

        Returns
        -------
        Manifest
            The checked manifest.

        Raises
        ------
        BundleError
            When the format is unknown or any field is missing, mistyped or unknown.
        """
        if not isinstance(data, Mapping):
            raise _malformed("the top level must be an object")
        bundle_format = check_bundle_format(data.get("bundle_format"))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _malformed(f"unknown field {unknown[0]!r} for bundle format {bundle_format}")
        libraries = _mapping(data, "libraries")
        if not all(isinstance(v, str) for v in libraries.values()):
            raise _malformed("'libraries' must map names to version strings")
        files = {}
        for name, entry in _mapping(data, "files").items():
            check_payload_name(name)
            files[name] = FileEntry.from_dict(name, entry)
        apis = _mapping(data, "apis")
        for api, status in apis.items():
            if not isinstance(status, Mapping):
                raise _malformed(f"apis[{api!r}] must be an object")
        edited_by_hand = data.get("edited_by_hand", False)
        if not isinstance(edited_by_hand, bool):
            raise _malformed("'edited_by_hand' must be true or false")
        hand_edits = data.get("hand_edits", [])
        if not isinstance(hand_edits, list):
            raise _malformed("'hand_edits' must be a list")
        registry = data.get("registry")
        return cls(
            bundle_format=bundle_format,
            bundle_id=_text(data, "bundle_id"),
            created_at=_check_utc_timestamp(_text(data, "created_at"), "created_at"),
            apibehave_version=_text(data, "apibehave_version"),
            libraries=dict(libraries),
            params_hash=_text(data, "params_hash"),
            feature_spec_hash=_text(data, "feature_spec_hash"),
            training_data_digest=_text(data, "training_data_digest"),
            files=files,
            apis={api: dict(status) for api, status in apis.items()},
            mlflow_run_id=_text(data, "mlflow_run_id", optional=True),
            registry=None if registry is None else RegistryRef.from_dict(registry),
            edited_by_hand=edited_by_hand,
            hand_edits=tuple(HandEdit.from_dict(edit) for edit in hand_edits),
            extra=dict(_mapping(data, "extra")),
        )
