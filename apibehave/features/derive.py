"""Per-call derivations shared by both engines, judged one value at a time.

The batch engine applies these functions to the unique values of a column and maps the
answers back; the streaming engine applies them to one call. Either way the same function
decides, so the two engines cannot disagree on what a call is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from apibehave.schema.paths import object_id, template_path

UNKNOWN_API = "(unknown)"
"""The API of a call whose ``api`` is null or empty; a name no catalogue API can have."""

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

LoginPaths = Mapping[str, frozenset[str]]
"""API name -> login paths or endpoint templates of that API."""


def present(value: Any) -> bool:
    """Return whether an identifier or string value is there (not None, NaN or empty)."""
    return value is not None and value == value and value != ""


def api_of(value: Any) -> str:
    """Return the API name of a call, :data:`UNKNOWN_API` when it is null or empty."""
    return value if present(value) else UNKNOWN_API


endpoint_of = template_path
"""The endpoint template of a path (``apibehave.schema.paths.template_path``)."""

object_id_of = object_id
"""The last object id in a path, or None (``apibehave.schema.paths.object_id``)."""


@functools.lru_cache(maxsize=1 << 14)
def query_names_of(query: str | None) -> str | None:
    """Return the sorted distinct parameter names of a raw query, joined by ``&``.

    Parameters
    ----------
    query : str or None
        The raw query string without ``?``, e.g. ``b=2&a=1&a=3&flag``.

    Returns
    -------
    str or None
        ``"a&b&flag"``; None when the query is absent or names no parameter.
    """
    if not present(query):
        return None
    names = sorted({part.split("=", 1)[0] for part in query.split("&")} - {""})
    return "&".join(names) if names else None


def is_login_call(api: str, path: str, endpoint: str, login_paths: LoginPaths) -> bool:
    """Return whether a call is a login: its path or endpoint is one of its API's login paths."""
    paths = login_paths.get(api)
    return bool(paths) and (path in paths or endpoint in paths)


def query_is_novel(names: str | None, known: frozenset[str] | set[str]) -> bool:
    """Return whether a call's query names (from :func:`query_names_of`) include an unknown one."""
    return names is not None and any(name not in known for name in names.split("&"))


def _method(name: str) -> Callable[[str, bool], bool]:
    return lambda method, is_login: method == name


REQUEST_PREDICATE_FUNCTIONS: dict[str, Callable[[str, bool], bool]] = {
    "login": lambda method, is_login: is_login,
    "method_delete": _method("DELETE"),
    "method_put": _method("PUT"),
    "method_post": _method("POST"),
    "method_patch": _method("PATCH"),
    "method_write": lambda method, is_login: method in WRITE_METHODS,
}
"""Request-side predicates of ``spec.PREDICATES``: ``f(method, is_login) -> bool``."""

RESPONSE_PREDICATE_FUNCTIONS: dict[str, Callable[[int, bool], bool]] = {
    "status_4xx": lambda status, is_login: 400 <= status < 500,
    "status_5xx": lambda status, is_login: 500 <= status < 600,
    "status_error": lambda status, is_login: status >= 400,
    "status_401_403": lambda status, is_login: status in (401, 403),
    "status_404": lambda status, is_login: status == 404,
    "login_failure": lambda status, is_login: is_login and 400 <= status < 500,
}
"""Response-side predicates of ``spec.PREDICATES``: ``f(status, is_login) -> bool``."""
