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
    payload_strikes : int
        Calls from one address that the payload detector marks within
        ``payload_window_s`` before the address is blocked (one odd request is forgiven).
    payload_window_s : float
        The strike window, seconds.
    payload_instant_factor : float
        A call whose payload risk reaches this many times the detector's threshold blocks
        its address at once.
    payload_mark_factor : float
        A call counts as a strike when its payload risk exceeds this many times the
        detector's threshold (the threshold itself is set at a false-positive rate per
        call; a margin above it keeps ordinary novelty, such as a new id format, from
        adding up to a block).
    """

    ttl_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TTL_S))
    allow: tuple[tuple[str, str], ...] = ()
    invalid_api_max_calls: float = DEFAULT_INVALID_API_MAX_CALLS
    payload_strikes: int = 2
    payload_window_s: float = 600.0
    payload_instant_factor: float = 3.0
    payload_mark_factor: float = 1.5

    def __post_init__(self) -> None:
        ttl = dict(DEFAULT_TTL_S) | {k: float(v) for k, v in dict(self.ttl_s).items()}
        unknown = sorted(set(ttl) - set(IDENTIFIER_COLUMNS))
        if unknown:
            raise UserError(f"policy: unknown identifier kind(s) in ttl_s: {', '.join(unknown)}")
        if any(v <= 0 for v in ttl.values()):
            raise UserError("policy: every ttl_s must be positive")
        if int(self.payload_strikes) < 1 or float(self.payload_window_s) <= 0:
            raise UserError("policy: payload_strikes must be 1 or more, payload_window_s positive")
        if not float(self.payload_instant_factor) >= float(self.payload_mark_factor) >= 1:
            raise UserError("policy: need payload_instant_factor >= payload_mark_factor >= 1")
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
            "payload_strikes": int(self.payload_strikes),
            "payload_window_s": float(self.payload_window_s),
            "payload_instant_factor": float(self.payload_instant_factor),
            "payload_mark_factor": float(self.payload_mark_factor),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionPolicy:
        """Build a policy from :meth:`to_dict` output."""
        limit = data.get("invalid_api_max_calls", DEFAULT_INVALID_API_MAX_CALLS)
        return cls(
            ttl_s=data.get("ttl_s", DEFAULT_TTL_S),
            allow=tuple((k, v) for k, v in data.get("allow", [])),
            invalid_api_max_calls=float("inf") if limit is None else float(limit),
            payload_strikes=int(data.get("payload_strikes", 2)),
            payload_window_s=float(data.get("payload_window_s", 600.0)),
            payload_instant_factor=float(data.get("payload_instant_factor", 3.0)),
            payload_mark_factor=float(data.get("payload_mark_factor", 1.5)),
        )


def _json_limit(value: float) -> float | None:
    """JSON has no infinity: an unlimited ceiling is written as null."""
    return None if value == float("inf") else value
