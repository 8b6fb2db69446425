"""Feature definitions, declared once as data.

A :class:`FeatureSpec` names one number computed for every call: which identifier it is
about (``ip``, ``token``, ``cookie``, ``api_key``, ``username``), over which scope (``api``:
that identifier's calls to the same API; ``global``: its calls to every API), over which
sliding window (seconds, up to hours), and how (an aggregation over a column or a
predicate). Which half of the call it reads (request or response) follows from the column
or predicate and is part of the declaration, never chosen by an engine.

Both engines (:mod:`apibehave.features.batch` and :mod:`apibehave.features.streaming`)
compute every feature of a :class:`FeatureSet` from this declaration alone. A bundle
records :attr:`FeatureSet.spec_hash`; a different declaration gives a different hash.

Causality (both engines): calls are taken in time order, ties in input order. The features
of call *i* read the calls of the same identifier (and API, for scope ``api``) in the window
``(ts_i - W, ts_i]`` that come before it in that order. Request-side aggregates include call
*i*'s own request; response-side aggregates include only the calls strictly before *i*,
because a live sideband learns a call's response after deciding on it.

Values, so that a detector never sees an undefined number except for a missing identifier:

- a call whose identifier is null (or empty) gets NaN for every feature of that kind;
- counts, sums and distinct counts are counts of what is in the window (0 when nothing);
- ``max`` is 0 over an empty window;
- ``ratio`` and ``novelty`` are 0 when their denominator is 0;
- ``interarrival_mean`` and ``interarrival_min`` (milliseconds, from per-gap whole
  milliseconds) are the window length in milliseconds when the window holds no gap;
  ``interarrival_cv`` (standard deviation over mean of the gaps) is 0 with fewer than two
  gaps or a zero mean.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from apibehave.common.errors import UserError
from apibehave.schema import IDENTIFIER_COLUMNS

SPEC_FORMAT_VERSION = 1
"""Version of the declaration format and of the engines' semantics; part of the hash."""

IdentifierKind = Literal["ip", "token", "cookie", "api_key", "username"]
Scope = Literal["api", "global"]
Side = Literal["request", "response"]
Aggregation = Literal[
    "count",
    "ratio",
    "distinct",
    "sum",
    "max",
    "interarrival_mean",
    "interarrival_min",
    "interarrival_cv",
    "novelty",
]

IDENTIFIER_KINDS: tuple[str, ...] = tuple(IDENTIFIER_COLUMNS)
SCOPES: tuple[str, ...] = ("api", "global")
AGGREGATIONS: tuple[str, ...] = (
    "count",
    "ratio",
    "distinct",
    "sum",
    "max",
    "interarrival_mean",
    "interarrival_min",
    "interarrival_cv",
    "novelty",
)

PREDICATES: dict[str, Side] = {
    "login": "request",
    "method_delete": "request",
    "method_put": "request",
    "method_post": "request",
    "method_patch": "request",
    "method_write": "request",
    "status_4xx": "response",
    "status_5xx": "response",
    "status_error": "response",
    "status_401_403": "response",
    "status_404": "response",
    "login_failure": "response",
}
"""Named per-call predicates and the side of the call they read.

``login``: the call's path or endpoint template is one of its API's login paths.
``method_write``: POST, PUT, PATCH or DELETE. ``status_error``: status >= 400.
``login_failure``: a login call answered with a 4xx status.
"""

DISTINCT_COLUMNS: dict[str, Side] = {
    "endpoint": "request",
    "object_id": "request",
    "client_ip": "request",
    "user_agent": "request",
    "username": "request",
    "token": "request",
    "cookie": "request",
    "api_key": "request",
    "method": "request",
    "api": "request",
}
"""Columns whose distinct values can be counted; nulls are never counted.

With scope ``global``, ``endpoint`` and ``object_id`` values are qualified by their API
(the same template in two APIs is two endpoints).
"""

NUMERIC_COLUMNS: dict[str, Side] = {"req_bytes": "request", "resp_bytes": "response"}
"""Integer columns that ``sum`` and ``max`` read."""

NOVELTY_TARGETS: tuple[str, ...] = ("endpoint", "query", "sequence")
"""What ``novelty`` compares with the API's learned vocabulary.

``endpoint``: the call's endpoint template was never seen for its API in training.
``query``: one of its query parameter names was never seen for its API.
``sequence``: the bigram (previous endpoint, this endpoint) of the same identifier in the
same API, the previous call being at most ``FeatureSet.sequence_gap_s`` earlier, was never
seen in training; a call without such a previous call is not novel. Scope ``api`` only.
"""

_WINDOW_MAX_S = 7 * 24 * 3600


class FeatureSpecError(UserError):
    """A feature declaration that cannot be computed; the message names the feature."""


@dataclass(frozen=True)
class FeatureSpec:
    """One feature, declared as data.

    Parameters
    ----------
    name : str
        Unique column name of the feature.
    identifier : {"ip", "token", "cookie", "api_key", "username"}
        Whose calls are aggregated (column map in ``apibehave.schema.IDENTIFIER_COLUMNS``).
    scope : {"api", "global"}
        ``api``: the identifier's calls to the same API; ``global``: to every API.
    window_s : int
        Sliding window length in whole seconds, 1 s to 7 days.
    aggregation : str
        One of :data:`AGGREGATIONS`.
    column : str, optional
        ``distinct``: one of :data:`DISTINCT_COLUMNS`; ``sum``/``max``: one of
        :data:`NUMERIC_COLUMNS`; ``novelty``: one of :data:`NOVELTY_TARGETS`.
    where : str, optional
        A predicate of :data:`PREDICATES`: what ``ratio`` measures (required there), what
        ``count`` counts, or a filter on the values that ``distinct`` counts.
    """

    name: str
    identifier: IdentifierKind
    scope: Scope
    window_s: int
    aggregation: Aggregation
    column: str | None = None
    where: str | None = None

    def __post_init__(self) -> None:
        _check_spec(self)

    @property
    def side(self) -> Side:
        """Which half of the call the feature reads: ``request`` or ``response``."""
        sides = [PREDICATES[self.where]] if self.where else []
        if self.aggregation == "distinct" and self.column:
            sides.append(DISTINCT_COLUMNS[self.column])
        elif self.aggregation in ("sum", "max") and self.column:
            sides.append(NUMERIC_COLUMNS[self.column])
        return "response" if "response" in sides else "request"

    @property
    def group(self) -> tuple[str, str]:
        """The ``(identifier, scope)`` pair whose calls the feature aggregates."""
        return (self.identifier, self.scope)

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical plain-data declaration (``side`` included, derived)."""
        return {
            "name": self.name,
            "identifier": self.identifier,
            "scope": self.scope,
            "window_s": self.window_s,
            "aggregation": self.aggregation,
            "column": self.column,
            "where": self.where,
            "side": self.side,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """Build a spec from :meth:`to_dict` output (``side``, if given, must agree)."""
        known = {"name", "identifier", "scope", "window_s", "aggregation", "column", "where"}
        unknown = set(data) - known - {"side"}
        if unknown:
            raise FeatureSpecError(
                f"feature {data.get('name')!r}: unknown key(s) {sorted(unknown)}"
            )
        spec = cls(**{k: data[k] for k in known if k in data})
        if "side" in data and data["side"] != spec.side:
            raise FeatureSpecError(
                f"feature {spec.name!r}: declared side {data['side']!r} but it reads the "
                f"{spec.side} side"
            )
        return spec


def _check_spec(spec: FeatureSpec) -> None:
    where = f"feature {spec.name!r}"
    if not spec.name or not isinstance(spec.name, str):
        raise FeatureSpecError("a feature needs a non-empty name")
    if spec.identifier not in IDENTIFIER_KINDS:
        raise FeatureSpecError(f"{where}: identifier must be one of {IDENTIFIER_KINDS}")
    if spec.scope not in SCOPES:
        raise FeatureSpecError(f"{where}: scope must be one of {SCOPES}")
    if (
        isinstance(spec.window_s, bool)
        or not isinstance(spec.window_s, int)
        or not 1 <= spec.window_s <= _WINDOW_MAX_S
    ):
        raise FeatureSpecError(f"{where}: window_s must be whole seconds in 1..{_WINDOW_MAX_S}")
    if spec.aggregation not in AGGREGATIONS:
        raise FeatureSpecError(f"{where}: aggregation must be one of {AGGREGATIONS}")
    if spec.where is not None and spec.where not in PREDICATES:
        raise FeatureSpecError(f"{where}: where must be one of {sorted(PREDICATES)}")
    allowed_columns: Mapping[str, Any] | Sequence[str] | None = {
        "distinct": DISTINCT_COLUMNS,
        "sum": NUMERIC_COLUMNS,
        "max": NUMERIC_COLUMNS,
        "novelty": NOVELTY_TARGETS,
    }.get(spec.aggregation)
    if allowed_columns is None:
        if spec.column is not None:
            raise FeatureSpecError(f"{where}: {spec.aggregation} takes no column")
    elif spec.column not in allowed_columns:
        raise FeatureSpecError(
            f"{where}: {spec.aggregation} needs a column among {sorted(allowed_columns)}"
        )
    takes_where = spec.aggregation in ("count", "ratio", "distinct")
    if spec.where is not None and not takes_where:
        raise FeatureSpecError(f"{where}: {spec.aggregation} takes no where predicate")
    if spec.aggregation == "ratio" and spec.where is None:
        raise FeatureSpecError(f"{where}: ratio needs a where predicate")
    if spec.aggregation == "novelty" and spec.column == "sequence" and spec.scope != "api":
        raise FeatureSpecError(f"{where}: sequence novelty needs scope 'api'")


@dataclass(frozen=True)
class FeatureSet:
    """An ordered set of features with a stable hash of its declaration.

    Parameters
    ----------
    features : tuple of FeatureSpec
        The features, in the column order both engines produce.
    sequence_gap_s : int, default 1800
        Longest gap between two calls of one identifier for them to form an endpoint
        bigram (sequence novelty and the learned bigram vocabulary).
    """

    features: tuple[FeatureSpec, ...]
    sequence_gap_s: int = 1800
    _by_name: dict[str, FeatureSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        if not self.features:
            raise FeatureSpecError("a feature set needs at least one feature")
        by_name: dict[str, FeatureSpec] = {}
        for spec in self.features:
            if spec.name in by_name:
                raise FeatureSpecError(f"feature name {spec.name!r} is declared twice")
            by_name[spec.name] = spec
        if (
            isinstance(self.sequence_gap_s, bool)
            or not isinstance(self.sequence_gap_s, int)
            or not 1 <= self.sequence_gap_s <= _WINDOW_MAX_S
        ):
            raise FeatureSpecError(f"sequence_gap_s must be whole seconds in 1..{_WINDOW_MAX_S}")
        object.__setattr__(self, "_by_name", by_name)

    def __len__(self) -> int:
        return len(self.features)

    def __iter__(self) -> Iterator[FeatureSpec]:
        return iter(self.features)

    def __getitem__(self, name: str) -> FeatureSpec:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        """Feature names, in column order."""
        return [spec.name for spec in self.features]

    @property
    def identifier_kinds(self) -> list[str]:
        """Identifier kinds the set reads, in the order of :data:`IDENTIFIER_KINDS`."""
        used = {spec.identifier for spec in self.features}
        return [kind for kind in IDENTIFIER_KINDS if kind in used]

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical plain-data declaration (what the hash covers)."""
        return {
            "format_version": SPEC_FORMAT_VERSION,
            "sequence_gap_s": self.sequence_gap_s,
            "features": [spec.to_dict() for spec in self.features],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSet:
        """Build a feature set from :meth:`to_dict` output.

        Raises
        ------
        FeatureSpecError
            On an unknown format version or an invalid feature.
        """
        if data.get("format_version") != SPEC_FORMAT_VERSION:
            raise FeatureSpecError(
                f"feature spec format {data.get('format_version')!r} is not supported "
                f"(this apibehave reads format {SPEC_FORMAT_VERSION})"
            )
        return cls(
            features=tuple(FeatureSpec.from_dict(item) for item in data["features"]),
            sequence_gap_s=data.get("sequence_gap_s", 1800),
        )

    @property
    def spec_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON declaration; bundles record it."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def in_engine_order(self) -> FeatureSet:
        """Return the same features ordered group by group, then by window length.

        Groups (identifier kind and scope) come in order of first appearance, features of
        one window keep their declared order. The batch engine lays its columns out this
        way, so a set already in this order is returned without reordering columns.
        """
        groups = list(dict.fromkeys(spec.group for spec in self.features))
        ordered = sorted(self.features, key=lambda s: (groups.index(s.group), s.window_s))
        return FeatureSet(tuple(ordered), self.sequence_gap_s)

    def select(self, names: Iterable[str]) -> FeatureSet:
        """Return the subset of features with the given names, in this set's order."""
        wanted = set(names)
        missing = wanted - set(self._by_name)
        if missing:
            raise FeatureSpecError(f"unknown feature(s) {sorted(missing)}")
        return FeatureSet(tuple(s for s in self.features if s.name in wanted), self.sequence_gap_s)
