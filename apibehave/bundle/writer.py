"""Write bundles atomically, and pack a bundle directory into a ``.tar.gz``.

:func:`write_bundle` takes payload files and the caller's manifest fields, fills in
what the writer knows (format, versions, sums, sizes), writes everything into a
temporary directory, verifies it there with the same code that loads bundles, and
only then moves it into place. A failed write leaves nothing behind, and an existing
bundle survives a failed overwrite.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from apibehave import __version__
from apibehave.bundle.checksums import manifest_sum_text, sha256_hex
from apibehave.bundle.environment import library_versions
from apibehave.bundle.errors import BundleError
from apibehave.bundle.jsonio import (
    dump_json_bytes,
    dump_yaml_bytes,
    load_json_strict,
    load_yaml_safe,
)
from apibehave.bundle.layout import (
    MANIFEST_NAME,
    MANIFEST_SUM_NAME,
    check_payload_content,
    check_payload_name,
)
from apibehave.bundle.manifest import BUNDLE_FORMAT, Manifest, RegistryRef, utc_timestamp
from apibehave.bundle.reader import load_bundle
from apibehave.bundle.source import read_directory
from apibehave.bundle.verify import verify_files
from apibehave.common.output import atomic_output, check_output_path

PayloadContent = bytes | bytearray | memoryview | str | dict[str, Any] | list[Any]
"""What a payload file may be given as: raw bytes, text, or JSON/YAML data."""

REQUIRED_FIELDS = ("bundle_id", "params_hash", "feature_spec_hash", "training_data_digest")
"""Manifest fields every writer must supply."""

OPTIONAL_FIELDS = ("apis", "mlflow_run_id", "registry", "extra", "created_at", "libraries")
"""Manifest fields a writer may supply; ``libraries`` adds to the detected versions."""

WRITER_FIELDS = ("bundle_format", "apibehave_version", "files", "edited_by_hand", "hand_edits")
"""Manifest fields only the writer (or ``reseal``) sets."""


def encode_payload(name: str, content: PayloadContent) -> bytes:
    """Turn one payload into the bytes stored in the bundle, checking name and content.

    Parameters
    ----------
    name : str
        Relative POSIX name with an allowed suffix, such as ``thresholds.json``.
    content : bytes, str, dict or list
        Bytes and text are stored as given (text as UTF-8); a dict or list becomes
        readable JSON for ``.json`` and block YAML for ``.yaml``/``.yml``.

    Returns
    -------
    bytes
        The stored content.

    Raises
    ------
    BundleError
        For an unsafe or unsupported name, pickle data, or JSON/YAML that does not parse.
    TypeError
        For data given to a file type that cannot hold it.
    """
    check_payload_name(name)
    suffix = PurePosixPath(name).suffix.lower()
    if isinstance(content, dict | list):
        if suffix == ".json":
            data = dump_json_bytes(content)
        elif suffix in (".yaml", ".yml"):
            data = dump_yaml_bytes(content)
        else:
            raise TypeError(f"{name}: only .json and .yaml files take dicts or lists")
    elif isinstance(content, str):
        data = content.encode("utf-8")
    elif isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
    else:
        raise TypeError(f"{name}: unsupported content type {type(content).__name__}")
    if suffix == ".json":
        load_json_strict(data, name)
    elif suffix in (".yaml", ".yml"):
        load_yaml_safe(data, name)
    check_payload_content(name, data)
    return data


def build_manifest(payload: Mapping[str, bytes], manifest_fields: Mapping[str, Any]) -> Manifest:
    """Combine the caller's fields with what the writer knows into a checked manifest.

    Parameters
    ----------
    payload : Mapping[str, bytes]
        The encoded payload files.
    manifest_fields : Mapping[str, Any]
        ``bundle_id``, ``params_hash``, ``feature_spec_hash`` and
        ``training_data_digest`` (required); ``apis``, ``mlflow_run_id``, ``registry``,
        ``extra``, ``created_at`` and ``libraries`` (optional).

    Returns
    -------
    Manifest
        The manifest for these files.

    Raises
    ------
    TypeError
        For an unknown field, a writer-owned field, or a missing required one.
    """
    fields = dict(manifest_fields)
    owned = sorted(set(fields) & set(WRITER_FIELDS))
    if owned:
        raise TypeError(f"manifest field {owned[0]!r} is set by the writer, not the caller")
    unknown = sorted(set(fields) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise TypeError(f"unknown manifest field {unknown[0]!r}")
    missing = [key for key in REQUIRED_FIELDS if key not in fields]
    if missing:
        raise TypeError(f"missing manifest field {missing[0]!r}")
    created_at = fields.pop("created_at", None)
    if isinstance(created_at, datetime):
        created_at = utc_timestamp(created_at)
    registry = fields.pop("registry", None)
    if isinstance(registry, RegistryRef):
        registry = {
            "model_name": registry.model_name,
            "version": registry.version,
            "alias": registry.alias,
        }
    libraries = library_versions(payload) | dict(fields.pop("libraries", {}))
    data = {
        "bundle_format": BUNDLE_FORMAT,
        "created_at": created_at or utc_timestamp(),
        "apibehave_version": __version__,
        "libraries": libraries,
        "registry": registry,
        "files": {name: {"sha256": sha256_hex(b), "size": len(b)} for name, b in payload.items()},
        **fields,
    }
    return Manifest.from_dict(data)


def seal_into(directory: Path, payload: Mapping[str, bytes], manifest: Manifest) -> None:
    """Write payload files, ``manifest.json`` and ``manifest.sha256`` into ``directory``.

    Parameters
    ----------
    directory : Path
        An empty (temporary) directory.
    payload : Mapping[str, bytes]
        Payload files by relative name, already checked.
    manifest : Manifest
        Their manifest.
    """
    for name in sorted(payload):
        target = directory.joinpath(*name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload[name])
    manifest_bytes = manifest.to_json_bytes()
    (directory / MANIFEST_NAME).write_bytes(manifest_bytes)
    (directory / MANIFEST_SUM_NAME).write_bytes(manifest_sum_text(manifest_bytes))
    os.chmod(directory, 0o755)
    verify_files(read_directory(directory), str(directory))


def write_bundle(
    out_dir: str | os.PathLike[str],
    files: Mapping[str, PayloadContent],
    manifest_fields: Mapping[str, Any],
    *,
    force: bool = False,
) -> Path:
    """Write a sealed bundle directory atomically.

    Parameters
    ----------
    out_dir : path-like
        The bundle directory to create, such as ``bundles/2026-11-22``.
    files : Mapping[str, bytes | str | dict | list]
        Payload files by relative POSIX name (``thresholds.json``,
        ``models/login.skops``, ``apis.yaml``...). See :func:`encode_payload`.
    manifest_fields : Mapping[str, Any]
        See :func:`build_manifest`.
    force : bool, default False
        Replace an existing bundle directory.

    Returns
    -------
    Path
        The bundle directory.

    Raises
    ------
    UserError
        When ``out_dir`` exists and ``force`` is false.
    BundleError
        For an unsafe file name or content.
    """
    out = check_output_path(out_dir, force=force)
    if out.exists() and not out.is_dir():
        raise BundleError(f"cannot write bundle {out}: it exists and is not a directory")
    payload = {name: encode_payload(name, content) for name, content in files.items()}
    manifest = build_manifest(payload, manifest_fields)
    with atomic_output(out, directory=True) as tmp:
        seal_into(tmp, payload, manifest)
    return out


def default_archive_path(bundle_dir: Path) -> Path:
    """Where :func:`pack_bundle` writes by default: ``<bundle_dir>.tar.gz`` beside it.

    Parameters
    ----------
    bundle_dir : Path
        The bundle directory.

    Returns
    -------
    Path
        The archive path.
    """
    resolved = bundle_dir.resolve()
    return resolved.with_name(resolved.name + ".tar.gz")


def pack_bundle(
    bundle_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
) -> Path:
    """Verify a bundle directory and pack it into a reproducible ``.tar.gz``.

    Members sit under one folder named after the bundle directory, sorted, with fixed
    owners, modes and times, so the same bundle always packs to the same bytes.

    Parameters
    ----------
    bundle_dir : path-like
        The bundle directory (it must verify).
    out : path-like, optional
        The archive to write; ``<bundle_dir>.tar.gz`` by default.
    force : bool, default False
        Replace an existing archive.

    Returns
    -------
    Path
        The archive.

    Raises
    ------
    BundleError
        When ``bundle_dir`` is not a directory or does not verify.
    """
    source = Path(bundle_dir)
    if not source.is_dir():
        raise BundleError(f"pack needs a bundle directory, got {source}")
    bundle = load_bundle(source)
    archive = check_output_path(out or default_archive_path(source), force=force)
    top = source.resolve().name
    mtime = int(datetime.fromisoformat(bundle.manifest.created_at).timestamp())
    with atomic_output(archive) as tmp:
        with tmp.open("wb") as raw:
            _write_tar_gz(raw, top, bundle.sealed_files, mtime)
        os.chmod(tmp, 0o644)
    return archive


def _write_tar_gz(raw: BinaryIO, top: str, files: Mapping[str, bytes], mtime: int) -> None:
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(_tar_info(top, mtime, directory=True))
        folders = sorted({str(PurePosixPath(name).parent) for name in files} - {"."})
        for folder in folders:
            tar.addfile(_tar_info(f"{top}/{folder}", mtime, directory=True))
        for name in sorted(files):
            info = _tar_info(f"{top}/{name}", mtime, size=len(files[name]))
            tar.addfile(info, io.BytesIO(files[name]))


def _tar_info(name: str, mtime: int, *, directory: bool = False, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.size = size
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
