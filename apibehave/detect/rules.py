"""Real-time rules that need no training, beside the learned thresholds.

The decoy rule lives with the catalogue (a decoy path blocks every identifier of the
call at once). This module holds the *invalid API* rule (PingIntelligence's attack 101):
an address that keeps calling hosts or paths outside every API of the catalogue, or
methods its API does not answer, is blocked once those calls exceed a ceiling within the
feature's window. One stray call (a typo, a stale bookmark) is forgiven; a client walking
``/v1/admin``, ``/graphql``, ``PROPFIND`` ... is not.

The count comes from the engine's own features: invalid calls are resolved to the unknown
API, so the address's per-API call count on them *is* its count of invalid calls. Replay
(:meth:`InvalidApiRule.flags`) and the live engine (:meth:`InvalidApiRule.fires`) read the
same number and compare it the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from apibehave.features.spec import FeatureSet

DECOY_RISK = 10.0
"""Risk reported for a decoy hit (at least; a model's own risk may be higher)."""
INVALID_API_RISK = 5.0
"""Risk reported for an invalid-API block (at least; a model's own risk may be higher)."""


def invalid_call_count_feature(feature_set: FeatureSet) -> int | None:
    """Index of the per-address, per-API plain call count with the longest window, or None."""
    candidates = [
        (spec.window_s, j)
        for j, spec in enumerate(feature_set)
        if spec.identifier == "ip"
        and spec.scope == "api"
        and spec.aggregation == "count"
        and spec.where is None
    ]
    return max(candidates)[1] if candidates else None


class InvalidApiRule:
    """Flag invalid calls once their address made more than ``max_calls`` of them.

    Parameters
    ----------
    feature_set : FeatureSet
        The engine's features (the count is read from them).
    max_calls : float
        Ceiling of invalid calls per address within the count's window; the call that
        exceeds it is flagged. ``inf`` disables the rule.
    """

    def __init__(self, feature_set: FeatureSet, max_calls: float) -> None:
        self.column = invalid_call_count_feature(feature_set)
        self.max_calls = float(max_calls)
        self.window_s = None if self.column is None else feature_set.features[self.column].window_s

    @property
    def active(self) -> bool:
        """Whether the rule can fire (a count feature exists and the ceiling is finite)."""
        return self.column is not None and np.isfinite(self.max_calls)

    def flags(self, features: np.ndarray, invalid: np.ndarray) -> np.ndarray:
        """Return per call whether the rule fires (vectorised twin of :meth:`fires`)."""
        if not self.active:
            return np.zeros(len(invalid), dtype=bool)
        counts = features[:, self.column]
        return np.asarray(invalid, dtype=bool) & (counts > self.max_calls)

    def fires(self, vector: np.ndarray, invalid: bool) -> bool:
        """Return whether the rule fires on one call."""
        return bool(invalid and self.active and vector[self.column] > self.max_calls)

    def evidence(self, vector: np.ndarray) -> dict[str, Any]:
        """Return what the rule saw: the address's invalid calls in the window, the ceiling."""
        return {
            "rule": "invalid_api",
            "invalid_calls": float(vector[self.column]),
            "window_s": self.window_s,
            "max_calls": self.max_calls,
            "summary": f"invalid API calls in {self.window_s} s = {float(vector[self.column]):g}"
            f" > {self.max_calls:g}",
        }


__all__ = ["DECOY_RISK", "INVALID_API_RISK", "InvalidApiRule", "invalid_call_count_feature"]
