"""Compare two bundles: manifest fields, files, and the values inside JSON/YAML files.

The diff answers what changed between the bundle an enforcer serves and the next one:
a threshold per API, an API's status, a model file, the training data digest...
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

from apibehave.bundle.errors import BundleError
from apibehave.bundle.jsonio import load_json_strict, load_yaml_safe
from apibehave.bundle.manifest import FileEntry
from apibehave.bundle.reader import LoadedBundle, load_bundle

ChangeKind = Literal["added", "removed", "changed"]
PathPart = str | int

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_MAX_VALUE_CHARS = 120


def render_path(path: tuple[PathPart, ...]) -> str:
    """Render a path into nested data readably: ``login.rate_1m["p99.9"][0]``.

    Parameters
    ----------
    path : tuple of str or int
        Keys and list indexes from the top.

    Returns
    -------
    str
        The path; ``(top level)`` for the empty path.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text or "(top level)"


def render_value(value: Any) -> str:
    """Render a JSON value on one short line.

    Parameters
    ----------
    value : object
        A JSON value.

    Returns
    -------
    str
        Its compact JSON, cut to a readable length.
    """
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


@dataclass(frozen=True)
class ValueChange:
    """One value added, removed or changed at a path inside nested data.

    Parameters
    ----------
    path : tuple of str or int
        Where, from the top.
    kind : {"added", "removed", "changed"}
        What happened.
    old : object
        The value before (None when added).
    new : object
        The value after (None when removed).
    """

    path: tuple[PathPart, ...]
    kind: ChangeKind
    old: Any = None
    new: Any = None

    def render(self) -> str:
        """Return one readable line, such as ``login.extreme: 40 -> 55``."""
        where = render_path(self.path)
        if self.kind == "added":
            return f"{where}: added {render_value(self.new)}"
        if self.kind == "removed":
            return f"{where}: removed (was {render_value(self.old)})"
        return f"{where}: {render_value(self.old)} -> {render_value(self.new)}"

    def to_dict(self) -> dict[str, Any]:
        """Return the change as JSON data."""
        return {"path": render_path(self.path), "kind": self.kind, "old": self.old, "new": self.new}


def structural_diff(old: Any, new: Any, path: tuple[PathPart, ...] = ()) -> list[ValueChange]:
    """List the differences between two JSON-like values, key by key.

    Dicts are compared key by key, lists item by item (extra items are added or
    removed), anything else by equality.

    Parameters
    ----------
    old, new : object
        The values to compare.
    path : tuple, optional
        Where these values sit (for recursion).

    Returns
    -------
    list of ValueChange
        In a stable order: keys sorted, list indexes ascending.
    """
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changes: list[ValueChange] = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in new:
                changes.append(ValueChange((*path, key), "removed", old=old[key]))
            elif key not in old:
                changes.append(ValueChange((*path, key), "added", new=new[key]))
            else:
                changes.extend(structural_diff(old[key], new[key], (*path, key)))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for index in range(max(len(old), len(new))):
            if index >= len(new):
                changes.append(ValueChange((*path, index), "removed", old=old[index]))
            elif index >= len(old):
                changes.append(ValueChange((*path, index), "added", new=new[index]))
            else:
                changes.extend(structural_diff(old[index], new[index], (*path, index)))
        return changes
    if old == new and type(old) is type(new):
        return []
    return [ValueChange(path, "changed", old=old, new=new)]


@dataclass(frozen=True)
class FileChange:
    """One payload file added, removed or changed between two bundles.

    Parameters
    ----------
    name : str
        The file.
    kind : {"added", "removed", "changed"}
        What happened.
    old, new : FileEntry or None
        Its manifest entry before and after.
    values : tuple of ValueChange
        For changed JSON/YAML files, the values that changed inside.
    """

    name: str
    kind: ChangeKind
    old: FileEntry | None = None
    new: FileEntry | None = None
    values: tuple[ValueChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the change as JSON data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "old": None if self.old is None else vars(self.old),
            "new": None if self.new is None else vars(self.new),
            "values": [change.to_dict() for change in self.values],
        }


@dataclass(frozen=True)
class BundleDiff:
    """The differences between two verified bundles.

    Parameters
    ----------
    old, new : str
        The two bundles' identifiers.
    manifest : tuple of ValueChange
        Changed manifest fields (file sums aside).
    files : tuple of FileChange
        Added, removed and changed payload files.
    """

    old: str
    new: str
    manifest: tuple[ValueChange, ...] = ()
    files: tuple[FileChange, ...] = field(default=())

    @property
    def identical(self) -> bool:
        """Whether the bundles have the same manifest fields and files."""
        return not self.manifest and not self.files

    def to_dict(self) -> dict[str, Any]:
        """Return the diff as JSON data."""
        return {
            "old": self.old,
            "new": self.new,
            "identical": self.identical,
            "manifest": [change.to_dict() for change in self.manifest],
            "files": [change.to_dict() for change in self.files],
        }

    def render(self) -> str:
        """Return a readable, line-oriented report of the differences."""
        lines = [f"--- {self.old}", f"+++ {self.new}"]
        if self.identical:
            lines.append("no differences")
            return "\n".join(lines)
        if self.manifest:
            lines.append("manifest:")
            lines.extend(f"  {change.render()}" for change in self.manifest)
        if self.files:
            lines.append("files:")
        marks = {"added": "+", "removed": "-", "changed": "~"}
        for change in self.files:
            lines.append(f"  {marks[change.kind]} {change.name}")
            lines.extend(f"      {value.render()}" for value in change.values)
        return "\n".join(lines)


def _parsed(bundle: LoadedBundle, name: str) -> Any:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".json":
        return load_json_strict(bundle.read_bytes(name), name)
    if suffix in (".yaml", ".yml"):
        return load_yaml_safe(bundle.read_bytes(name), name)
    return None


def _value_changes(old: LoadedBundle, new: LoadedBundle, name: str) -> tuple[ValueChange, ...]:
    try:
        before, after = _parsed(old, name), _parsed(new, name)
    except BundleError:
        return ()
    if before is None and after is None:
        return ()
    return tuple(structural_diff(before, after))


def diff_loaded(old: LoadedBundle, new: LoadedBundle) -> BundleDiff:
    """Compare two loaded (verified) bundles.

    Parameters
    ----------
    old, new : LoadedBundle
        The bundles, typically the one serving and its successor.

    Returns
    -------
    BundleDiff
        The differences.
    """
    old_fields = {k: v for k, v in old.manifest.to_dict().items() if k != "files"}
    new_fields = {k: v for k, v in new.manifest.to_dict().items() if k != "files"}
    files = []
    old_files, new_files = old.manifest.files, new.manifest.files
    for name in sorted(set(old_files) | set(new_files)):
        if name not in new_files:
            files.append(FileChange(name, "removed", old=old_files[name]))
        elif name not in old_files:
            files.append(FileChange(name, "added", new=new_files[name]))
        elif old_files[name] != new_files[name]:
            values = _value_changes(old, new, name)
            files.append(FileChange(name, "changed", old_files[name], new_files[name], values))
    return BundleDiff(
        old=old.manifest.bundle_id,
        new=new.manifest.bundle_id,
        manifest=tuple(structural_diff(old_fields, new_fields)),
        files=tuple(files),
    )


def diff_bundles(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> BundleDiff:
    """Verify two bundles (directories or ``.tar.gz``) and compare them.

    Parameters
    ----------
    a, b : path-like
        The old and the new bundle.

    Returns
    -------
    BundleDiff
        The differences; ``render()`` gives a readable report.

    Raises
    ------
    BundleError
        When either bundle does not verify.
    """
    return diff_loaded(load_bundle(a), load_bundle(b))
