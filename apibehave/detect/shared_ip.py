"""Per-principal reading of address features, so a shared address is not one huge client.

Many real users reach an API through one address: a carrier NAT, a corporate proxy, a
campus. Their address-level counts grow with the number of people behind it (and jump in a
flash crowd), while each person behaves normally. An attacker on one address has one or a
handful of sessions and all of the volume. So address features that measure volume or
breadth (counts, sums, distinct counts) are read *per principal*: divided by the number of
distinct server-issued tokens the address carried in the same hour (at least 1). Ratios,
novelty, extremes (``max``) and timing are already per call and stay as they are.

Tokens are used because a client cannot mint them: a bot rotating user agents or cookies
does not grow its principal count, while a credential-stuffing bot only gets the few
tokens of the logins that worked. Where the feature set declares no per-address token
count, nothing is normalised.

The same :meth:`SharedAddressNormalizer.apply` runs in training, in replay and in the live
engine (for one call, the same float64 division), so all three read identical values.
"""

from __future__ import annotations

import numpy as np

from apibehave.features.spec import FeatureSet, FeatureSpec

_VOLUME_AGGREGATIONS = ("count", "sum", "distinct")


def principal_feature(feature_set: FeatureSet) -> int | None:
    """Index of the per-address distinct-token count (the longest window), or None."""
    candidates = [
        (spec.window_s, j)
        for j, spec in enumerate(feature_set)
        if spec.identifier == "ip" and spec.aggregation == "distinct" and spec.column == "token"
    ]
    return max(candidates)[1] if candidates else None


def is_per_principal(spec: FeatureSpec) -> bool:
    """Whether an address feature is read per principal (volume or breadth)."""
    if spec.identifier != "ip" or spec.aggregation not in _VOLUME_AGGREGATIONS:
        return False
    return not (spec.aggregation == "distinct" and spec.column == "token")


class SharedAddressNormalizer:
    """Divide address volume features by the address's principals (distinct tokens, >= 1).

    Parameters
    ----------
    feature_set : FeatureSet
        The features, in matrix column order.
    enabled : bool, default True
        False makes :meth:`apply` return its input unchanged.
    """

    def __init__(self, feature_set: FeatureSet, *, enabled: bool = True) -> None:
        self.principal = principal_feature(feature_set) if enabled else None
        specs = list(feature_set)
        columns = [j for j, s in enumerate(specs) if is_per_principal(s)]
        self.columns = np.array(columns if self.principal is not None else [], dtype=np.int64)
        self.column_set = frozenset(self.columns.tolist())

    @property
    def active(self) -> bool:
        """Whether any feature is normalised."""
        return self.columns.size > 0

    def apply(self, features: np.ndarray) -> np.ndarray:
        """Return the matrix (or one call's vector) with address features per principal.

        Parameters
        ----------
        features : ndarray of shape (n_calls, n_features) or (n_features,)

        Returns
        -------
        ndarray
            A new array when anything is normalised, else ``features`` itself.
        """
        if not self.active:
            return features
        out = np.array(features, dtype=np.float64, copy=True)
        matrix = out.reshape(1, -1) if out.ndim == 1 else out
        principals = matrix[:, self.principal]
        divisor = np.where(principals > 1.0, principals, 1.0)
        if matrix.shape[0] < 4096:
            matrix[:, self.columns] = matrix[:, self.columns] / divisor[:, None]
            return out
        for j in self.columns.tolist():  # in place, column by column: no (n, k) temporaries
            np.divide(matrix[:, j], divisor, out=matrix[:, j])
        return out

    def divisor(self, vector: np.ndarray) -> float:
        """Return the divisor applied to one call's address features (1 when none)."""
        if not self.active:
            return 1.0
        value = float(vector[self.principal])
        return value if value > 1.0 else 1.0


__all__ = ["SharedAddressNormalizer", "is_per_principal", "principal_feature"]
