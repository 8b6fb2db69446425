"""Strict, readable JSON (and YAML) for bundle files.

Bundles hold thresholds that people edit by hand, so reading is strict: duplicate keys,
``NaN`` and ``Infinity`` are refused instead of silently picking one value. Writing is
readable: two-space indents, UTF-8, one trailing newline.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from apibehave.bundle.errors import BundleError


def dump_json_bytes(obj: Any) -> bytes:
    """Serialise ``obj`` as readable, strict JSON.

    Parameters
    ----------
    obj : JSON-serialisable
        Dicts, lists, strings, finite numbers, booleans and None.

    Returns
    -------
    bytes
        UTF-8 JSON with two-space indents and a trailing newline.

    Raises
    ------
    ValueError
        When ``obj`` holds NaN or infinity (not valid JSON).
    TypeError
        When ``obj`` holds something JSON cannot represent.
    """
    return (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def dump_yaml_bytes(obj: Any) -> bytes:
    """Serialise ``obj`` as block-style YAML with the safe dumper, keeping key order.

    Parameters
    ----------
    obj : YAML-serialisable
        Plain dicts, lists and scalars.

    Returns
    -------
    bytes
        UTF-8 YAML.
    """
    text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text.encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_json_strict(data: bytes, name: str) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys, no NaN or Infinity.

    Parameters
    ----------
    data : bytes
        The file content.
    name : str
        The file's name, for the error message.

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    BundleError
        When the content is not strict JSON; the message names the file and the place.
    """
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
        )
    except UnicodeDecodeError as exc:
        raise BundleError(f"{name} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:
        raise BundleError(f"{name} is not valid JSON: {exc}") from None


def load_yaml_safe(data: bytes, name: str) -> Any:
    """Parse YAML with the safe loader (plain data only, no Python objects).

    Parameters
    ----------
    data : bytes
        The file content.
    name : str
        The file's name, for the error message.

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    BundleError
        When the content is not valid YAML.
    """
    try:
        return yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BundleError(f"{name} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise BundleError(f"{name} is not valid YAML: {detail}") from None
