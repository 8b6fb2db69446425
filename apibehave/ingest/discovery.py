"""API discovery: propose an ``apis.yaml`` catalogue from observed traffic.

Works like PingIntelligence's API discovery:

1. Every call's path is templated (:mod:`apibehave.schema.paths`): ``/v1/accounts/7``
   becomes the endpoint ``/v1/accounts/{id}``. Calls are grouped per host and endpoint.
2. Only endpoints that answered 2xx at least ``min_2xx`` times are proposed. Probes and
   scanners, whose calls end in 404s and 405s, create no endpoint and no API. Logs
   without responses (status 0 throughout, e.g. raw request dumps) need ``min_2xx=0``.
3. An endpoint's base path is its first ``depth`` segments, stopping early at an id, an
   empty segment (``//``), a segment with spaces, ``?``, ``#`` or control characters, or a
   final file name (``index.php``): at depth 2
   ``/v1/accounts/{id}`` belongs to ``/v1/accounts`` and ``/DVWA/login.php`` to ``/DVWA``.
4. A base path with fewer than ``min_calls`` calls rolls up into its parent
   (``/blog/2015`` into ``/blog``), down to ``/``; what is still too small at ``/`` is not
   proposed.
5. Static assets (``.css``, ``.js``, images, fonts...) form one ``static`` API per host,
   which claims them wherever they live through its ``extensions`` (it too needs
   ``min_calls``); or are left out.
6. Names come from base paths (``/v1/accounts`` -> ``v1-accounts``, ``/`` -> ``root``),
   made unique; when the same name arises on several hosts, the host's first label leads
   it (``shop-v1-accounts``).
7. Login paths are guessed: POST endpoints whose last named segment (ids skipped) holds
   login, logon, signin, sign-in, auth (not author), token or session, so
   ``/v1/auth/login`` and ``/oauth/token`` are guessed but ``/v1/auth/logout`` and
   ``/v1/auth/password/reset`` are not. They are guesses; review them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from apibehave.common.errors import UserError
from apibehave.schema.catalogue import (
    METHOD_PATTERN,
    STATUS_CLASSES,
    ApiSpec,
    Catalogue,
    EndpointStats,
    status_classes,
)
from apibehave.schema.events import STRING_DTYPE
from apibehave.schema.paths import ID_PLACEHOLDER, template_paths

STATIC_EXTENSIONS: tuple[str, ...] = (
    ".css",
    ".js",
    ".map",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".ico",
    ".svg",
    ".webp",
    ".bmp",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".eot",
)
"""File extensions of static assets (compared in lower case)."""

LOGIN_WORDS = re.compile(r"log-?[io]n|sign-?in|auth(?!or)|token|session", re.IGNORECASE)
"""Words in the last named segment of a POST endpoint that make it a login-path guess."""

StaticMode = Literal["group", "exclude"]
OTHER_METHOD = "OTHER"
_UNSAFE_IN_BASE_PATH = re.compile(r"[?#\s\x00-\x1f\x7f]")
ANY_HOST = ""


@dataclass(frozen=True)
class _Endpoint:
    host: str
    template: str
    prefixes: tuple[str, ...]  # candidate base paths, "/" first, deepest last
    static: bool
    calls: int
    methods: dict[str, int]
    status: dict[str, int]


def discover(
    events: pd.DataFrame,
    *,
    depth: int = 2,
    min_calls: int = 50,
    min_2xx: int = 1,
    static: StaticMode = "group",
    static_extensions: Sequence[str] = STATIC_EXTENSIONS,
) -> Catalogue:
    """Propose a catalogue of the APIs seen in ``events``.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events (``path``, ``method``, ``status``; ``host`` when known).
    depth : int, default 2
        How many leading path segments make a base path (``/v1/accounts`` at 2).
    min_calls : int, default 50
        Fewest calls (to proposed endpoints) an API needs; smaller base paths roll up into
        their parent.
    min_2xx : int, default 1
        Fewest 2xx answers an endpoint needs to be proposed. 0 proposes endpoints from
        requests alone, for logs without responses (status 0), at the price of letting
        probes and scanners create endpoints.
    static : {"group", "exclude"}, default "group"
        Put static assets in one ``static`` API per host, or leave them out.
    static_extensions : sequence of str
        What counts as a static asset (``.css``...).

    Returns
    -------
    Catalogue
        Proposed APIs, largest first; each with its endpoints (methods and status mix),
        guessed login paths, default identifiers, ``mode: enforce``.

    Raises
    ------
    UserError
        A setting is out of range or a required column is missing.
    """
    _check_settings(depth, min_calls, min_2xx, static, static_extensions)
    missing = [c for c in ("path", "method", "status") if c not in events.columns]
    if missing:
        raise UserError(f"discovery needs the event column(s) {', '.join(missing)}")
    extensions = tuple(sorted({e.lower() for e in static_extensions}))
    endpoints = _endpoints(events, depth, min_2xx, extensions)
    if static == "exclude":
        endpoints = [e for e in endpoints if not e.static]
    hosts = sorted({e.host for e in endpoints})
    proposals: list[tuple[str, str, tuple[str, ...], list[_Endpoint]]] = []
    for host in hosts:
        on_host = [e for e in endpoints if e.host == host]
        static_eps = [e for e in on_host if e.static]
        if static_eps and sum(e.calls for e in static_eps) >= min_calls:
            proposals.append((host, "/", extensions, static_eps))
        for base, members in _roll_up([e for e in on_host if not e.static], min_calls):
            proposals.append((host, base, (), members))
    return _catalogue(proposals)


def _check_settings(
    depth: int, min_calls: int, min_2xx: int, static: str, extensions: Sequence[str]
) -> None:
    if depth < 1:
        raise UserError(f"--depth must be at least 1, got {depth}")
    if min_calls < 1:
        raise UserError(f"--min-calls must be at least 1, got {min_calls}")
    if min_2xx < 0:
        raise UserError(f"--min-2xx must be at least 0, got {min_2xx}")
    if static not in ("group", "exclude"):
        raise UserError(f"static must be 'group' or 'exclude', got {static!r}")
    bad = [e for e in extensions if not re.fullmatch(r"\.[A-Za-z0-9_-]+", e)]
    if bad:
        raise UserError(f"static extensions must look like '.css', got {bad[0]!r}")


def _endpoints(
    events: pd.DataFrame, depth: int, min_2xx: int, extensions: tuple[str, ...]
) -> list[_Endpoint]:
    """Group calls per (host, template); keep endpoints with enough 2xx answers."""
    paths = events["path"].astype(STRING_DTYPE)
    usable = paths.str.startswith("/").to_numpy(dtype=bool, na_value=False)
    if "host" in events.columns:
        hosts = events["host"].astype(STRING_DTYPE).str.strip().str.lower().fillna(ANY_HOST)
    else:
        hosts = pd.Series(ANY_HOST, index=events.index, dtype=STRING_DTYPE)
    frame = pd.DataFrame(
        {
            "host": hosts,
            "template": template_paths(paths),
            "method": _method_names(events["method"]),
            "status": status_classes(events["status"]),
        }
    )[usable]
    if frame.empty:
        return []
    by_method = frame.groupby(["host", "template", "method"], sort=False).size()
    by_status = frame.groupby(["host", "template", "status"], sort=False).size()
    if min_2xx == 0:
        valid = set(by_method.droplevel("method").index)
    elif "2xx" in set(frame["status"]):
        ok = by_status.xs("2xx", level="status")
        valid = set(ok[ok >= min_2xx].index)
    else:
        return []
    methods: dict[tuple[str, str], dict[str, int]] = {}
    for (host, template, method), count in by_method.items():
        if (host, template) in valid:
            methods.setdefault((host, template), {})[str(method)] = int(count)
    status: dict[tuple[str, str], dict[str, int]] = {}
    for (host, template, klass), count in by_status.items():
        if (host, template) in valid:
            status.setdefault((host, template), dict.fromkeys(STATUS_CLASSES[1:5], 0))
            status[(host, template)][str(klass)] = int(count)
    pattern = re.compile("(?:" + "|".join(re.escape(e) for e in extensions) + ")$", re.I)
    out = []
    for key in sorted(valid):
        host, template = key
        counts = methods[key]
        out.append(
            _Endpoint(
                host=host,
                template=template,
                prefixes=_base_path_prefixes(template, depth),
                static=bool(extensions) and bool(pattern.search(template)),
                calls=sum(counts.values()),
                methods=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
                status=status[key],
            )
        )
    return out


def _method_names(methods: pd.Series) -> pd.Series:
    """Upper-case method names; anything that is not a method token becomes ``OTHER``."""
    upper = methods.astype(STRING_DTYPE).str.upper()
    valid = upper.str.fullmatch(METHOD_PATTERN).fillna(False).astype(bool)
    return upper.where(valid, OTHER_METHOD)


def _base_path_prefixes(template: str, depth: int) -> tuple[str, ...]:
    """Return ``("/", "/a", "/a/b", ...)`` up to ``depth`` directory-like segments."""
    segments = template.split("/")[1:]
    prefixes = ["/"]
    for position, segment in enumerate(segments[:depth]):
        is_last = position == len(segments) - 1
        if (
            not segment
            or segment == ID_PLACEHOLDER
            or (is_last and "." in segment)
            or _UNSAFE_IN_BASE_PATH.search(segment)
        ):
            break
        prefixes.append(prefixes[-1].rstrip("/") + "/" + segment)
    return tuple(prefixes)


def _roll_up(endpoints: list[_Endpoint], min_calls: int) -> list[tuple[str, list[_Endpoint]]]:
    """Assign endpoints to the deepest base path with enough calls; drop what stays small."""
    level = {id(e): len(e.prefixes) - 1 for e in endpoints}
    deepest = max((len(e.prefixes) - 1 for e in endpoints), default=0)
    for current in range(deepest, -1, -1):
        groups: dict[str, list[_Endpoint]] = {}
        for e in endpoints:
            if level[id(e)] == current:
                groups.setdefault(e.prefixes[current], []).append(e)
        for members in groups.values():
            if sum(e.calls for e in members) < min_calls:
                for e in members:
                    level[id(e)] = current - 1  # -1: not proposed
    final: dict[str, list[_Endpoint]] = {}
    for e in endpoints:
        if level[id(e)] >= 0:
            final.setdefault(e.prefixes[level[id(e)]], []).append(e)
    return list(final.items())


def _catalogue(proposals: list[tuple[str, str, tuple[str, ...], list[_Endpoint]]]) -> Catalogue:
    proposals.sort(key=lambda p: (-sum(e.calls for e in p[3]), p[0], p[1]))
    stems = ["static" if p[2] else _name_from_base_path(p[1]) for p in proposals]
    hosts_of_stem: dict[str, set[str]] = {}
    for stem, proposal in zip(stems, proposals, strict=True):
        hosts_of_stem.setdefault(stem, set()).add(proposal[0])
    taken: set[str] = set()
    apis = []
    for stem, (host, base, extensions, members) in zip(stems, proposals, strict=True):
        shared = host and len(hosts_of_stem[stem]) > 1
        name = _unique(f"{_host_label(host)}-{stem}" if shared else stem, taken)
        members = sorted(members, key=lambda e: (-e.calls, e.template))
        apis.append(
            ApiSpec(
                name=name,
                base_path=base,
                hosts=(host,) if host else (),
                extensions=extensions,
                login_paths=tuple(sorted(_guess_login_templates(members))),
                endpoints=tuple(
                    EndpointStats(template=e.template, methods=e.methods, status=e.status)
                    for e in members
                ),
            )
        )
    return Catalogue(apis=tuple(apis))


def _guess_login_templates(endpoints: Iterable[_Endpoint]) -> list[str]:
    return [e.template for e in endpoints if "POST" in e.methods and _is_login_like(e.template)]


def _is_login_like(template: str) -> bool:
    """Whether the last segment that is not an id names a login (see :data:`LOGIN_WORDS`)."""
    named = [s for s in template.split("/") if s and s != ID_PLACEHOLDER]
    return bool(named) and LOGIN_WORDS.search(named[-1]) is not None


def _name_from_base_path(base_path: str) -> str:
    if base_path == "/":
        return "root"
    name = re.sub(r"[^a-z0-9_]+", "-", base_path.lower()).strip("-_")
    return name[:60].rstrip("-_") or "api"


def _host_label(host: str) -> str:
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    label = bare if re.fullmatch(r"[0-9.]+|\[?[0-9a-f:]+\]?", bare) else bare.split(".")[0]
    return re.sub(r"[^a-z0-9_]+", "-", label.lower()).strip("-_") or "host"


def _unique(stem: str, taken: set[str]) -> str:
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}-{n}", n + 1
    taken.add(name)
    return name


def discovered_calls(catalogue: Catalogue) -> dict[str, int]:
    """Return calls per API as counted by discovery (the sum over its endpoints)."""
    return {api.name: sum(e.calls for e in api.endpoints) for api in catalogue.apis}
