"""The decision policy: how long each identifier kind stays blocked, and standing lists.

Which identifier a block names comes from attribution (the identifier of the feature
that crossed); per-API ``mode`` (shadow or enforce) and ``enable_blocking`` come from the
API catalogue. What is left lives here, as plain JSON in the bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apibehave.common.errors import UserError
from apibehave.schema.events import IDENTIFIER_COLUMNS

DEFAULT_TTL_S: dict[str, float] = {
    "ip": 3600.0,
    "token": 3600.0,
    "cookie": 3600.0,
    "api_key": 1800.0,
    "username": 1800.0,
}
"""How long an automatic block lasts, per identifier kind (seconds)."""
DEFAULT_INVALID_API_MAX_CALLS = 5.0
"""Invalid API calls per address and window tolerated before a block."""


@dataclass(frozen=True)
class DecisionPolicy:
    """TTLs per identifier kind and standing allow entries shipped with a bundle.

    Parameters
    ----------
    ttl_s : mapping of str to float
        Block duration per identifier kind, seconds.
    allow : tuple of (str, str)
        ``(kind, value)`` pairs that are never blocked (allow always wins).
    invalid_api_max_calls : float
        Invalid API calls (no API of the catalogue, or a method the API lacks) an address
        may make within the rule's window (an hour by default) before it is blocked;
        ``inf`` turns the rule off (:mod:`apibehave.detect.rules`).
    """

    ttl_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TTL_S))
    allow: tuple[tuple[str, str], ...] = ()
    invalid_api_max_calls: float = DEFAULT_INVALID_API_MAX_CALLS

    def __post_init__(self) -> None:
        ttl = dict(DEFAULT_TTL_S) | {k: float(v) for k, v in dict(self.ttl_s).items()}
        unknown = sorted(set(ttl) - set(IDENTIFIER_COLUMNS))
        if unknown:
            raise UserError(f"policy: unknown identifier kind(s) in ttl_s: {', '.join(unknown)}")
        if any(v <= 0 for v in ttl.values()):
            raise UserError("policy: every ttl_s must be positive")
        if not float(self.invalid_api_max_calls) >= 0:
            raise UserError("policy: invalid_api_max_calls must be 0 or more (inf: off)")
        object.__setattr__(self, "invalid_api_max_calls", float(self.invalid_api_max_calls))
        for kind, _ in self.allow:
            if kind not in IDENTIFIER_COLUMNS:
                raise UserError(f"policy: unknown identifier kind {kind!r} in allow")
        object.__setattr__(self, "ttl_s", ttl)
        object.__setattr__(self, "allow", tuple((k, str(v)) for k, v in self.allow))

    def to_dict(self) -> dict[str, Any]:
        """Return the policy as plain JSON-ready data."""
        return {
            "ttl_s": dict(self.ttl_s),
            "allow": [list(a) for a in self.allow],
            "invalid_api_max_calls": _json_limit(self.invalid_api_max_calls),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionPolicy:
        """Build a policy from :meth:`to_dict` output."""
        limit = data.get("invalid_api_max_calls", DEFAULT_INVALID_API_MAX_CALLS)
        return cls(
            ttl_s=data.get("ttl_s", DEFAULT_TTL_S),
            allow=tuple((k, v) for k, v in data.get("allow", [])),
            invalid_api_max_calls=float("inf") if limit is None else float(limit),
        )


def _json_limit(value: float) -> float | None:
    """JSON has no infinity: an unlimited ceiling is written as null."""
    return None if value == float("inf") else value
