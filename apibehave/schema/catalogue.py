"""The API catalogue (``apis.yaml``, docs/apis-yaml.md): which APIs sit behind the gateway.

A :class:`Catalogue` holds one :class:`ApiSpec` per API: its hosts and base path (how an
event is resolved to it), how each identifier is found (:class:`IdentifierRules`, with the
defaults of CONTRACT section 5), its login and decoy paths, whether blocking is enabled,
its mode (``enforce`` or ``shadow``) and, when discovery wrote it, per-endpoint traffic
(:class:`EndpointStats`).

:func:`load_catalogue` validates a file and names the file and the key of every mistake;
:func:`save_catalogue` writes one atomically; :func:`resolve_apis` gives every event its API
(vectorised).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from apibehave.common.errors import UserError
from apibehave.common.output import atomic_output
from apibehave.schema.events import STRING_DTYPE
from apibehave.schema.paths import template_path, template_paths

CATALOGUE_VERSION = 1
"""The ``version`` this code reads and writes."""

MODES: tuple[str, ...] = ("enforce", "shadow")
"""``enforce``: block; ``shadow``: only log what would be blocked."""

STATUS_CLASSES: tuple[str, ...] = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
"""Keys of an endpoint's status mix; ``other`` holds 0 (no response) and out-of-range codes."""

Mode = Literal["enforce", "shadow"]
_NAME_RE = re.compile(r"[a-z0-9_-]+")
METHOD_PATTERN = r"[A-Z][A-Z0-9_-]*"
"""What an endpoint's method key must look like (discovery files odd ones under OTHER)."""
_METHOD_RE = re.compile(METHOD_PATTERN)


class CatalogueError(UserError):
    """An ``apis.yaml`` is missing, unreadable or breaks the format; names file and key."""


@dataclass(frozen=True)
class IdentifierRules:
    """Where the enforcer finds each identifier of a call (CONTRACT section 5 defaults).

    Attributes
    ----------
    token_header, token_scheme : str
        Header carrying the access token and its scheme (``Authorization: Bearer ...``).
    cookie_name : str or None
        Session cookie name; None means the first cookie of the ``Cookie`` header.
    api_key_header : str or None
        Header carrying the API key.
    api_key_query : str or None
        Query parameter carrying the API key.
    username_header : str or None
        Header naming the user.
    username_jwt_claim : str or None
        JWT claim naming the user (read from the bearer token, unverified).
    username_login_body_field : str or None
        Field of a login call's body naming the attempted user.
    """

    token_header: str = "Authorization"
    token_scheme: str = "Bearer"
    cookie_name: str | None = None
    api_key_header: str | None = "X-API-Key"
    api_key_query: str | None = "api_key"
    username_header: str | None = "X-Username"
    username_jwt_claim: str | None = None
    username_login_body_field: str | None = None

    def to_dict(self) -> dict[str, dict[str, str | None]]:
        """Return the nested ``identifiers`` mapping of ``apis.yaml``."""
        return {
            "token": {"header": self.token_header, "scheme": self.token_scheme},
            "cookie": {"name": self.cookie_name},
            "api_key": {"header": self.api_key_header, "query": self.api_key_query},
            "username": {
                "header": self.username_header,
                "jwt_claim": self.username_jwt_claim,
                "login_body_field": self.username_login_body_field,
            },
        }


# ``identifiers`` section -> key -> (IdentifierRules attribute, may be null)
_IDENTIFIER_KEYS: dict[str, dict[str, tuple[str, bool]]] = {
    "token": {"header": ("token_header", False), "scheme": ("token_scheme", False)},
    "cookie": {"name": ("cookie_name", True)},
    "api_key": {"header": ("api_key_header", True), "query": ("api_key_query", True)},
    "username": {
        "header": ("username_header", True),
        "jwt_claim": ("username_jwt_claim", True),
        "login_body_field": ("username_login_body_field", True),
    },
}


@dataclass(frozen=True)
class EndpointStats:
    """Traffic seen on one endpoint template (written by discovery; read-only mappings).

    Attributes
    ----------
    template : str
        Path template, e.g. ``/v1/accounts/{id}``.
    methods : Mapping[str, int]
        Calls per HTTP method.
    status : Mapping[str, int]
        Calls per status class (keys from :data:`STATUS_CLASSES`); may be empty.
    """

    template: str
    methods: Mapping[str, int] = field(default_factory=dict)
    status: Mapping[str, int] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(
            (self.template, tuple(sorted(self.methods.items())), tuple(sorted(self.status.items())))
        )

    @property
    def calls(self) -> int:
        """Total calls over all methods."""
        return int(sum(self.methods.values()))

    def to_dict(self) -> dict[str, Any]:
        """Return the ``endpoints`` entry of ``apis.yaml``."""
        out: dict[str, Any] = {"template": self.template, "methods": dict(self.methods)}
        if self.status:
            out["status"] = dict(self.status)
        return out


@dataclass(frozen=True)
class ApiSpec:
    """One API of the catalogue.

    Attributes
    ----------
    name : str
        Unique name, ``[a-z0-9_-]+``.
    base_path : str
        Path prefix of the API (``/`` or starting with ``/``, no trailing slash).
    hosts : tuple of str
        Host headers it answers (lower case); empty means any host.
    extensions : tuple of str
        When given (lower case, with the dot, e.g. ``.css``), the API claims only paths
        whose last segment ends with one of them: how one ``static`` API groups assets
        from every folder.
    identifiers : IdentifierRules
        Where identifiers are found.
    login_paths : tuple of str
        Exact paths or endpoint templates of login calls.
    decoy_paths : tuple of str
        Exact paths or templates no legitimate client calls.
    enable_blocking : bool
        False: detect and report only.
    mode : {"enforce", "shadow"}
        ``shadow`` logs what would be blocked and blocks nothing.
    endpoints : tuple of EndpointStats
        Per-template traffic, when known.
    """

    name: str
    base_path: str = "/"
    hosts: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    identifiers: IdentifierRules = field(default_factory=IdentifierRules)
    login_paths: tuple[str, ...] = ()
    decoy_paths: tuple[str, ...] = ()
    enable_blocking: bool = True
    mode: Mode = "enforce"
    endpoints: tuple[EndpointStats, ...] = ()

    @property
    def shadow(self) -> bool:
        """Whether the API runs in shadow mode."""
        return self.mode == "shadow"

    @property
    def blocks(self) -> bool:
        """Whether a decision to block is really enforced (blocking enabled, not shadow)."""
        return self.enable_blocking and self.mode == "enforce"

    def is_login_path(self, path: str) -> bool:
        """Return whether ``path`` (or its template) is one of the login paths."""
        return _in_paths(path, self.login_paths)

    def is_decoy_path(self, path: str) -> bool:
        """Return whether ``path`` (or its template) is one of the decoy paths."""
        return _in_paths(path, self.decoy_paths)

    @cached_property
    def methods(self) -> frozenset[str]:
        """Methods the API's endpoints answer; empty when the catalogue lists none."""
        return frozenset(m.upper() for e in self.endpoints for m in e.methods)

    def allows_method(self, method: str) -> bool:
        """Return whether a call with ``method`` is valid for the API.

        Any method is valid for an API whose catalogue entry lists no endpoint methods.
        """
        methods = self.methods
        return not methods or str(method).upper() in methods

    def to_dict(self) -> dict[str, Any]:
        """Return this API's entry in ``apis.yaml``."""
        out: dict[str, Any] = {
            "name": self.name,
            "hosts": list(self.hosts),
            "base_path": self.base_path,
        }
        if self.extensions:
            out["extensions"] = list(self.extensions)
        out |= {
            "identifiers": self.identifiers.to_dict(),
            "login_paths": list(self.login_paths),
            "decoy_paths": list(self.decoy_paths),
            "enable_blocking": self.enable_blocking,
            "mode": self.mode,
        }
        if self.endpoints:
            out["endpoints"] = [e.to_dict() for e in self.endpoints]
        return out


@dataclass(frozen=True)
class Catalogue:
    """The APIs behind a gateway, in file order.

    Attributes
    ----------
    apis : tuple of ApiSpec
        One per API; names are unique.
    version : int
        Format version (:data:`CATALOGUE_VERSION`).
    """

    apis: tuple[ApiSpec, ...] = ()
    version: int = CATALOGUE_VERSION

    def __post_init__(self) -> None:
        names = [api.name for api in self.apis]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"API names must be unique; repeated: {', '.join(duplicated)}")

    def __iter__(self) -> Iterator[ApiSpec]:
        return iter(self.apis)

    def __len__(self) -> int:
        return len(self.apis)

    def __contains__(self, name: object) -> bool:
        return any(api.name == name for api in self.apis)

    @property
    def names(self) -> tuple[str, ...]:
        """API names in file order."""
        return tuple(api.name for api in self.apis)

    def get(self, name: str) -> ApiSpec | None:
        """Return the API called ``name``, or None."""
        return next((api for api in self.apis if api.name == name), None)

    def __getitem__(self, name: str) -> ApiSpec:
        api = self.get(name)
        if api is None:
            raise KeyError(name)
        return api

    def identifier_rules(self, name: str | None) -> IdentifierRules:
        """Return the identifier rules of API ``name``; the defaults when it is unknown."""
        api = self.get(name) if name is not None else None
        return api.identifiers if api is not None else IdentifierRules()

    def resolve_api(
        self, host: str | None, path: str | None, own_api: str | None = None
    ) -> str | None:
        """Return the API of one call, by the rules of :func:`resolve_apis` (same answers).

        Parameters
        ----------
        host : str or None
            The call's Host header.
        path : str or None
            The call's path.
        own_api : str or None
            The call's own ``api`` value, which wins when non-empty.
        """
        if isinstance(own_api, str) and own_api.strip():
            return own_api
        if not isinstance(path, str):
            return None
        host_norm = host.strip().lower() if isinstance(host, str) else None
        best: str | None = None
        best_key: tuple[bool, bool, int] | None = None
        for api in self.apis:
            if api.base_path == "/":
                if not path.startswith("/"):
                    continue
            elif path != api.base_path and not path.startswith(api.base_path + "/"):
                continue
            if api.extensions and not path.lower().endswith(api.extensions):
                continue
            if api.hosts and host_norm is not None and not _host_matches(host_norm, api.hosts):
                continue
            named_host = bool(api.hosts) and host_norm is not None
            key = (named_host, bool(api.extensions), len(api.base_path))
            if best_key is None or key > best_key:  # ties: the first listed wins
                best, best_key = api.name, key
        return best

    def to_dict(self) -> dict[str, Any]:
        """Return the ``apis.yaml`` content as plain data."""
        return {"version": self.version, "apis": [api.to_dict() for api in self.apis]}

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "apis.yaml") -> Catalogue:
        """Validate plain data (as loaded from YAML) and build a catalogue.

        Parameters
        ----------
        data : object
            The parsed document.
        source : str
            Name of the file in error messages.

        Raises
        ------
        CatalogueError
            Naming ``source`` and the key of the first mistake.
        """
        return _Reader(source).catalogue(data)


def load_catalogue(path: str | os.PathLike[str]) -> Catalogue:
    """Read and validate an ``apis.yaml`` file.

    Parameters
    ----------
    path : path-like
        The catalogue file.

    Returns
    -------
    Catalogue

    Raises
    ------
    CatalogueError
        The file is missing, unreadable, not YAML, or breaks the format; the message
        names the file and the key.
    """
    source = Path(path)
    if not source.is_file():
        raise CatalogueError(f"{source}: no such file")
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{source}: cannot read it ({exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed"
        raise CatalogueError(f"{source}: not valid YAML{where}: {problem}") from exc
    return Catalogue.from_dict(data, source=str(source))


def save_catalogue(
    catalogue: Catalogue, path: str | os.PathLike[str], *, header: str | None = None
) -> None:
    """Write a catalogue as YAML, atomically (nothing half-written on failure).

    Parameters
    ----------
    catalogue : Catalogue
        What to write.
    path : path-like
        Destination; an existing file is replaced (callers check ``--force``).
    header : str, optional
        Comment lines written at the top of the file (``# `` is added to each line).
    """
    text = yaml.safe_dump(catalogue.to_dict(), sort_keys=False, default_flow_style=None, width=100)
    if header:
        comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
        text = comment + text
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def resolve_apis(events: pd.DataFrame, catalogue: Catalogue) -> pd.Series:
    """Give every event its API name (vectorised).

    An event's own non-empty ``api`` wins. Otherwise the API is the one whose ``hosts``
    contain the event's ``host`` (compared in lower case, with or without its port) or whose
    ``hosts`` is empty, whose ``extensions`` (when it has some) end the path, and whose
    ``base_path`` is the longest prefix of the ``path`` on a segment boundary. Precedence:
    an API naming the host beats one answering any host, whatever the base path lengths;
    then an API with ``extensions`` beats one without; then the longest base path wins;
    then the API listed first. An event without a Host header (combined logs have none)
    is matched on its path alone, as if every API answered any host. No match gives null.

    Parameters
    ----------
    events : pandas.DataFrame
        Events with ``path`` and optionally ``host`` and ``api``.
    catalogue : Catalogue
        The APIs.

    Returns
    -------
    pandas.Series
        API names (``STRING_DTYPE``), index of ``events``.
    """
    n = len(events)
    path_codes, unique_paths = pd.factorize(events["path"].astype(STRING_DTYPE))
    if "host" in events.columns:
        hosts = events["host"].astype(STRING_DTYPE).str.strip().str.lower()
        host_codes, unique_hosts = pd.factorize(hosts)
    else:
        host_codes, unique_hosts = np.full(n, -1, dtype=np.int64), pd.Index([], dtype=object)
    host_list = [str(h) for h in unique_hosts]
    path_array = pd.Series(np.asarray(unique_paths, dtype=object), dtype=STRING_DTYPE)

    resolved = np.full(n, -1, dtype=np.int64)
    # ascending precedence: later assignments overwrite earlier ones
    order = sorted(
        range(len(catalogue.apis)),
        key=lambda i: (
            bool(catalogue.apis[i].hosts),
            bool(catalogue.apis[i].extensions),
            len(catalogue.apis[i].base_path),
            -i,  # ties: the first listed is assigned last, so it wins
        ),
    )
    for index in order:
        api = catalogue.apis[index]
        path_ok = _under_base_path(path_array, api.base_path)
        if api.extensions:
            path_ok = path_ok & _has_extension(path_array, api.extensions)
        rows = np.append(path_ok, False)[path_codes]  # code -1 (null path) -> False
        if api.hosts:
            host_ok = np.array([_host_matches(h, api.hosts) for h in host_list] + [False])
            rows &= host_ok[host_codes]
        resolved[rows] = index
    no_host = host_codes == -1
    if no_host.any():  # no Host header (combined logs): hosts neither help nor exclude
        by_path = sorted(
            range(len(catalogue.apis)),
            key=lambda i: (
                bool(catalogue.apis[i].extensions),
                len(catalogue.apis[i].base_path),
                -i,
            ),
        )
        for index in by_path:
            api = catalogue.apis[index]
            path_ok = _under_base_path(path_array, api.base_path)
            if api.extensions:
                path_ok = path_ok & _has_extension(path_array, api.extensions)
            resolved[np.append(path_ok, False)[path_codes] & no_host] = index
    names = np.array([*catalogue.names, None], dtype=object)
    result = pd.Series(names[resolved], index=events.index, dtype=STRING_DTYPE)
    if "api" in events.columns:
        own = events["api"].astype(STRING_DTYPE)
        has_own = own.notna() & (own.str.strip().str.len() > 0)
        result = result.where(~has_own.fillna(False).to_numpy(dtype=bool), own)
    return result


def login_call_mask(events: pd.DataFrame, catalogue: Catalogue, apis: pd.Series) -> pd.Series:
    """Return, per event, whether it calls a login path of its API (vectorised).

    Parameters
    ----------
    events : pandas.DataFrame
        Events with ``path``.
    catalogue : Catalogue
        The APIs and their login paths.
    apis : pandas.Series
        Each event's API (e.g. from :func:`resolve_apis`).

    Returns
    -------
    pandas.Series
        Booleans, index of ``events``.
    """
    return _path_list_mask(events, catalogue, apis, "login_paths")


def decoy_call_mask(events: pd.DataFrame, catalogue: Catalogue, apis: pd.Series) -> pd.Series:
    """Return, per event, whether it calls a decoy path of its API (vectorised).

    Parameters
    ----------
    events : pandas.DataFrame
        Events with ``path``.
    catalogue : Catalogue
        The APIs and their decoy paths.
    apis : pandas.Series
        Each event's API (e.g. from :func:`resolve_apis`).

    Returns
    -------
    pandas.Series
        Booleans, index of ``events``.
    """
    return _path_list_mask(events, catalogue, apis, "decoy_paths")


VALID_CALL = 0
"""Call validity code: the call reaches an API with a method it answers."""
NO_API = 1
"""Call validity code: the host or path belongs to no API of the catalogue."""
BAD_METHOD = 2
"""Call validity code: the API's endpoints do not answer the call's method."""
BAD_HOST = 3
"""Call validity code: a call routed to an API carries a Host header that API does not serve."""


def call_validity(events: pd.DataFrame, catalogue: Catalogue, apis: pd.Series) -> np.ndarray:
    """Return per event a validity code: :data:`VALID_CALL`, :data:`NO_API`, ...

    PingIntelligence's "invalid API" activity is a host or path outside every API, or a
    method outside those the API's endpoints answer (an API listing no methods accepts
    any). A call that names its API (the event's own ``api``) but carries a Host header
    that API does not serve (``evil.example``, ``169.254.169.254``, a header with a line
    break in it) is a tampered header instead. With an empty catalogue every call is valid
    (there is nothing to compare with); a missing Host header is never held against a call.

    Parameters
    ----------
    events : pandas.DataFrame
        Events with ``method`` (and optionally ``host``).
    catalogue : Catalogue
    apis : pandas.Series
        Each event's API (e.g. from :func:`resolve_apis`); null where none matched.

    Returns
    -------
    numpy.ndarray of int8
    """
    codes = np.zeros(len(events), dtype=np.int8)
    if not len(catalogue):
        return codes
    names = apis.astype(object)
    codes[names.isna().to_numpy(dtype=bool)] = NO_API
    methods = events["method"].astype(object).str.upper()
    hosts = events["host"].astype(object) if "host" in events else None
    for api in catalogue:
        rows = (names == api.name).to_numpy(dtype=bool)
        if not rows.any():
            continue
        if api.hosts and hosts is not None:
            served = hosts[rows].map(
                lambda h, served=api.hosts: not isinstance(h, str) or api_serves_host(h, served)
            )
            codes[np.flatnonzero(rows)[~served.to_numpy(dtype=bool)]] = BAD_HOST
        if api.methods:
            wrong = ~methods[rows].isin(api.methods).to_numpy(dtype=bool)
            codes[np.flatnonzero(rows)[wrong]] = BAD_METHOD
    return codes


def call_validity_one(catalogue: Catalogue, api: str | None, method: Any, host: Any) -> int:
    """Return the validity code of one call (the scalar twin of :func:`call_validity`)."""
    if not len(catalogue):
        return VALID_CALL
    if api is None:
        return NO_API
    spec = catalogue.get(api)
    if spec is None:
        return VALID_CALL
    if not spec.allows_method(str(method)):
        return BAD_METHOD
    if spec.hosts and isinstance(host, str) and not api_serves_host(host, spec.hosts):
        return BAD_HOST
    return VALID_CALL


def api_serves_host(host: str, hosts: tuple[str, ...]) -> bool:
    """Return whether a Host header names one of an API's hosts (case, port, final dot aside)."""
    return _host_matches(host.strip().lower().rstrip("."), hosts)


def invalid_call_mask(events: pd.DataFrame, catalogue: Catalogue, apis: pd.Series) -> pd.Series:
    """Return, per event, whether :func:`call_validity` finds anything wrong with it."""
    return pd.Series(call_validity(events, catalogue, apis) != VALID_CALL, index=events.index)


def status_class(status: int) -> str:
    """Return the status class key (``2xx``...) of one status code; ``other`` for 0."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def status_classes(status: pd.Series) -> pd.Series:
    """Vectorised :func:`status_class`."""
    values = status.to_numpy(dtype=np.int64, na_value=0)
    classes = np.array([*(f"{k}xx" for k in range(1, 6)), "other"], dtype=object)
    index = np.where((values >= 100) & (values <= 599), values // 100 - 1, 5)
    return pd.Series(classes[index], index=status.index, dtype=STRING_DTYPE)


def _in_paths(path: str, paths: Sequence[str]) -> bool:
    return bool(paths) and (path in paths or template_path(path) in paths)


def _path_list_mask(
    events: pd.DataFrame, catalogue: Catalogue, apis: pd.Series, attribute: str
) -> pd.Series:
    mask = np.zeros(len(events), dtype=bool)
    wanted = {api.name: frozenset(getattr(api, attribute)) for api in catalogue.apis}
    if not any(wanted.values()):
        return pd.Series(mask, index=events.index)
    paths = events["path"].astype(STRING_DTYPE)
    templates = template_paths(paths)
    api_values = apis.astype(STRING_DTYPE).to_numpy(dtype=object, na_value=None)
    for name, listed in wanted.items():
        if not listed:
            continue
        rows = api_values == name
        hit = (paths.isin(listed) | templates.isin(listed)).to_numpy(dtype=bool, na_value=False)
        mask |= rows & hit
    return pd.Series(mask, index=events.index)


def _under_base_path(paths: pd.Series, base_path: str) -> np.ndarray:
    if base_path == "/":
        return paths.str.startswith("/").to_numpy(dtype=bool, na_value=False)
    exact = paths == base_path
    below = paths.str.startswith(base_path + "/")
    return (exact | below).to_numpy(dtype=bool, na_value=False)


def _has_extension(paths: pd.Series, extensions: tuple[str, ...]) -> np.ndarray:
    lowered = paths.str.lower()
    hit = np.zeros(len(paths), dtype=bool)
    for extension in extensions:  # no regex: "$" differs between Python and RE2
        hit |= lowered.str.endswith(extension).to_numpy(dtype=bool, na_value=False)
    return hit


def _host_matches(host: str, hosts: tuple[str, ...]) -> bool:
    if host in hosts:
        return True
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return bare in hosts


class _Reader:
    """Validates parsed YAML, naming the source and the key of every mistake."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> CatalogueError:
        where = f"{self.source}: {key}" if key else self.source
        return CatalogueError(f"{where}: {problem}")

    def mapping(self, value: Any, key: str, allowed: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping, not {_kind(value)}")
        for name in value:
            if name not in allowed:
                raise self.fail(
                    _join(key, str(name)),
                    f"unknown key; expected one of {', '.join(allowed)}",
                )
        return value

    def text(self, value: Any, key: str, *, nullable: bool = False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, not {_kind(value)}")
        return value.strip()

    def string_list(self, value: Any, key: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, not {_kind(value)}")
        return [str(self.text(item, f"{key}[{i}]")) for i, item in enumerate(value)]

    def path(self, value: Any, key: str) -> str:
        text = str(self.text(value, key))
        if not text.startswith("/"):
            raise self.fail(key, f"must start with '/', got {text!r}")
        if any(c in text for c in "?# "):
            raise self.fail(key, f"must be a path without query, fragment or spaces: {text!r}")
        return text

    def extension(self, value: str, key: str) -> str:
        if not re.fullmatch(r"\.[A-Za-z0-9_-]+", value):
            raise self.fail(key, f"must be a file extension such as '.css', got {value!r}")
        return value.lower()

    def catalogue(self, data: Any) -> Catalogue:
        if data is None:
            raise self.fail("", "is empty; expected 'version: 1' and a list under 'apis'")
        doc = self.mapping(data, "", ("version", "apis"))
        version = doc.get("version", CATALOGUE_VERSION)
        if version != CATALOGUE_VERSION or isinstance(version, bool):
            raise self.fail("version", f"must be {CATALOGUE_VERSION}, got {version!r}")
        if "apis" not in doc:
            raise self.fail("apis", "missing; list the APIs under 'apis'")
        items = doc["apis"]
        if not isinstance(items, list):
            raise self.fail("apis", f"must be a list, not {_kind(items)}")
        apis: list[ApiSpec] = []
        seen: dict[str, str] = {}
        routes: dict[tuple[str, str, tuple[str, ...]], str] = {}
        for i, item in enumerate(items):
            api = self.api(item, f"apis[{i}]")
            key = f"apis[{i}].name"
            if api.name in seen:
                raise self.fail(key, f"{api.name!r} is already the name of {seen[api.name]}")
            seen[api.name] = f"apis[{i}]"
            apis.append(api)
            for host in api.hosts or ("*",):
                route = (host, api.base_path, api.extensions)
                if route in routes:
                    raise self.fail(
                        f"apis[{i}].base_path",
                        f"{api.base_path!r} on host {host!r} is already served by "
                        f"{routes[route]}; events could not be told apart",
                    )
                routes[route] = f"apis[{i}] ({api.name})"
        return Catalogue(apis=tuple(apis), version=CATALOGUE_VERSION)

    def api(self, item: Any, key: str) -> ApiSpec:
        allowed = [f.name for f in fields(ApiSpec)]
        entry = self.mapping(item, key, allowed)
        if "name" not in entry:
            raise self.fail(f"{key}.name", "missing; every API needs a name")
        name = str(self.text(entry["name"], f"{key}.name"))
        if not _NAME_RE.fullmatch(name):
            raise self.fail(f"{key}.name", f"{name!r} must match [a-z0-9_-]+")
        key = f"{key} ({name})"
        base_path = self.path(entry.get("base_path", "/"), f"{key}.base_path")
        if len(base_path) > 1:
            base_path = base_path.rstrip("/") or "/"
        hosts = tuple(h.lower() for h in self.string_list(entry.get("hosts"), f"{key}.hosts"))
        extensions = tuple(
            self.extension(e, f"{key}.extensions[{i}]")
            for i, e in enumerate(self.string_list(entry.get("extensions"), f"{key}.extensions"))
        )
        mode = entry.get("mode", "enforce")
        if mode not in MODES:
            raise self.fail(f"{key}.mode", f"must be enforce or shadow, got {mode!r}")
        enable_blocking = entry.get("enable_blocking", True)
        if not isinstance(enable_blocking, bool):
            raise self.fail(
                f"{key}.enable_blocking", f"must be true or false, not {enable_blocking!r}"
            )
        return ApiSpec(
            name=name,
            base_path=base_path,
            hosts=hosts,
            extensions=tuple(sorted(set(extensions))),
            identifiers=self.identifiers(entry.get("identifiers"), f"{key}.identifiers"),
            login_paths=tuple(
                self.path(p, f"{key}.login_paths[{i}]")
                for i, p in enumerate(
                    self.string_list(entry.get("login_paths"), f"{key}.login_paths")
                )
            ),
            decoy_paths=tuple(
                self.path(p, f"{key}.decoy_paths[{i}]")
                for i, p in enumerate(
                    self.string_list(entry.get("decoy_paths"), f"{key}.decoy_paths")
                )
            ),
            enable_blocking=enable_blocking,
            mode=mode,
            endpoints=tuple(self.endpoints(entry.get("endpoints"), f"{key}.endpoints")),
        )

    def identifiers(self, value: Any, key: str) -> IdentifierRules:
        if value is None:
            return IdentifierRules()
        sections = self.mapping(value, key, tuple(_IDENTIFIER_KEYS))
        settings: dict[str, str | None] = {}
        for section, entries in sections.items():
            section_key = f"{key}.{section}"
            if entries is None:
                continue
            for name, setting in self.mapping(
                entries, section_key, tuple(_IDENTIFIER_KEYS[section])
            ).items():
                attribute, nullable = _IDENTIFIER_KEYS[section][name]
                settings[attribute] = self.text(setting, f"{section_key}.{name}", nullable=nullable)
        return IdentifierRules(**settings)  # type: ignore[arg-type]

    def endpoints(self, value: Any, key: str) -> list[EndpointStats]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, not {_kind(value)}")
        out = []
        for i, item in enumerate(value):
            item_key = f"{key}[{i}]"
            entry = self.mapping(item, item_key, ("template", "methods", "status"))
            if "template" not in entry:
                raise self.fail(f"{item_key}.template", "missing")
            template = entry["template"]
            if not isinstance(template, str) or not template.startswith("/"):
                raise self.fail(f"{item_key}.template", f"must start with '/', got {template!r}")
            methods = self.counts(entry.get("methods"), f"{item_key}.methods", None)
            status = self.counts(entry.get("status"), f"{item_key}.status", STATUS_CLASSES)
            out.append(EndpointStats(template=template, methods=methods, status=status))
        return out

    def counts(self, value: Any, key: str, allowed: Sequence[str] | None) -> dict[str, int]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping of counts, not {_kind(value)}")
        out: dict[str, int] = {}
        for name, count in value.items():
            label = str(name)
            if allowed is not None and label not in allowed:
                raise self.fail(f"{key}.{label}", f"unknown; expected one of {', '.join(allowed)}")
            if allowed is None and not _METHOD_RE.fullmatch(label):
                raise self.fail(f"{key}.{label}", "must be an upper-case HTTP method")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise self.fail(f"{key}.{label}", f"must be a count >= 0, not {count!r}")
            out[label] = count
        return out


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )
