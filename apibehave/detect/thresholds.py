"""Learned normal and extreme thresholds per feature (PingIntelligence's Tn / Tx).

:class:`ThresholdDetector` follows scikit-learn's estimator rules: ``__init__`` stores
arguments, ``fit`` validates and learns, fitted state ends in ``_``. Inside it, scores
follow scikit-learn's direction (higher is more normal); :meth:`ThresholdDetector.severity`
is the one seam where it turns into risk (higher is riskier).

Robust to a little attack traffic in training: when ``groups`` gives each row's identifier
per feature, a feature's thresholds are quantiles over *identifiers* (each identifier's
most extreme value), so one loud client among thousands moves nothing, and a busy benign
client does not outweigh a thousand quiet ones.

Severity of a value ``x`` against ``Tn`` and ``Tx`` (direction ``high``):
``0`` up to ``Tn``; ``1 + (x - Tn) / (Tx - Tn)`` above ``Tn`` (1) and up to ``Tx`` (2);
above ``Tx`` it keeps growing (with ``Tx == Tn``, ``2 + (x - Tx)``). Crossing a threshold
means exceeding it: a value equal to a learned threshold was seen in training. Direction
``low`` mirrors it. NaN (no identifier) is 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

EXTREME = 2.0
"""Severity above which a value crosses the extreme threshold (a value equal to it does not)."""
NORMAL = 1.0
"""Severity above which a value crosses the normal threshold."""


class ThresholdDetector(OutlierMixin, BaseEstimator):
    """Per-feature normal and extreme thresholds learned from (mostly) normal traffic.

    Parameters
    ----------
    normal_quantile : float, default 0.99
        Quantile of the per-identifier extremes that becomes the normal threshold.
    extreme_quantile : float, default 0.999
        Quantile that, times ``extreme_margin``, becomes the extreme threshold.
    extreme_margin : float, default 1.5
        Multiplier (divisor for direction ``low``) from the extreme quantile to ``Tx``.
    min_steps : sequence of float, optional
        Per feature, the least distance between ``Tn`` and ``Tx`` and the least ``Tn``
        (so a feature that was always 0 in training does not fire on a single call).
        Default 1 for every feature.
    directions : sequence of {"high", "low"}, optional
        Per feature, whether large (default) or small values are suspicious.
    contamination : float, optional
        The share of training *calls* that may be attacks. With ``groups``, the extreme
        base is then at least the value that covers ``1 - contamination`` of the calls
        (each identifier's extreme weighted by its number of calls): busy benign
        clients (shared NAT addresses, partner integrations, monitors) carry far more
        than that share together and are covered; attackers within it are not.

    Attributes
    ----------
    normal_ : ndarray of shape (n_features,)
        Learned normal thresholds (``Tn``).
    extreme_ : ndarray of shape (n_features,)
        Learned extreme thresholds (``Tx``).
    n_identifiers_ : ndarray of shape (n_features,)
        How many identifiers (or rows, without ``groups``) each feature learned from.
    offset_ : float
        ``decision_function = score_samples - offset_`` (scikit-learn's outlier rule).
    n_features_in_ : int
        Number of features seen in ``fit``.
    """

    def __init__(
        self,
        normal_quantile: float = 0.99,
        extreme_quantile: float = 0.999,
        extreme_margin: float = 1.5,
        min_steps: Sequence[float] | None = None,
        directions: Sequence[str] | None = None,
        contamination: float | None = None,
    ) -> None:
        self.normal_quantile = normal_quantile
        self.extreme_quantile = extreme_quantile
        self.extreme_margin = extreme_margin
        self.min_steps = min_steps
        self.directions = directions
        self.contamination = contamination

    def fit(self, X, y=None, groups=None):
        """Learn the thresholds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature values; NaN where the feature's identifier is absent.
        y : None
            Ignored.
        groups : array-like of shape (n_samples, n_features), or a list of n_features
            1-D arrays, optional
            Integer identifier codes per row and feature (-1 or NaN rows are skipped);
            thresholds are then quantiles over identifiers. Features sharing one code array
            (the same object in the list) are grouped with a single sort.

        Returns
        -------
        self
        """
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        if not 0 < self.normal_quantile <= self.extreme_quantile <= 1:
            raise ValueError("need 0 < normal_quantile <= extreme_quantile <= 1")
        if self.extreme_margin < 1:
            raise ValueError("extreme_margin must be at least 1")
        if self.contamination is not None and not 0 <= self.contamination < 0.5:
            raise ValueError("contamination must be in [0, 0.5)")
        n_features = X.shape[1]
        steps = self._per_feature(self.min_steps, 1.0, n_features, "min_steps")
        low = self._per_feature(self.directions, "high", n_features, "directions") == "low"
        group_columns = _group_columns(groups, X.shape)
        sorters: dict[int, _IdentifierSort] = {}
        normal = np.zeros(n_features)
        extreme = np.zeros(n_features)
        counts = np.zeros(n_features, dtype=np.int64)
        for j in range(n_features):
            sign = -1.0 if low[j] else 1.0
            codes = None if group_columns is None else group_columns[j]
            if codes is None:
                per_identifier, weights = _per_identifier_max(sign * X[:, j], None)
            else:
                sorter = sorters.get(id(codes))
                if sorter is None:
                    sorter = sorters[id(codes)] = _IdentifierSort(codes)
                per_identifier, weights = sorter.max_and_rows(sign * X[:, j])
            counts[j] = per_identifier.size
            if per_identifier.size == 0:
                normal[j], extreme[j] = np.nan, np.nan
                continue
            tn = float(np.quantile(per_identifier, self.normal_quantile))
            tx_base = float(np.quantile(per_identifier, self.extreme_quantile))
            if self.contamination is not None and groups is not None:
                covered = _weighted_quantile(per_identifier, weights, 1 - self.contamination)
                tx_base = max(tx_base, covered)
            if low[j]:
                tn_pos, tx_pos = -tn, -tx_base / self.extreme_margin
                tx_pos = min(tx_pos, tn_pos - steps[j])
                normal[j], extreme[j] = tn_pos, max(tx_pos, 0.0)
            else:
                tn = max(tn, float(steps[j]))
                normal[j] = tn
                extreme[j] = max(tx_base * self.extreme_margin, tn + steps[j])
        self.normal_ = normal
        self.extreme_ = extreme
        self.n_identifiers_ = counts
        self.low_ = low
        self.offset_ = -NORMAL
        return self

    def severity(self, X) -> np.ndarray:
        """Return per-value risk: 0 below Tn, 1 at Tn, 2 at Tx, growing beyond.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False, ensure_all_finite="allow-nan")
        return threshold_severity(X, self.normal_, self.extreme_, self.low_)

    def score_samples(self, X) -> np.ndarray:
        """Return the opposite of each row's largest severity (higher is more normal)."""
        return -self.severity(X).max(axis=1, initial=0.0)

    def decision_function(self, X) -> np.ndarray:
        """Return ``NORMAL - max severity``: negative for rows beyond a normal threshold."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """Return -1 for rows with a value beyond its normal threshold, else 1."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    @staticmethod
    def _per_feature(values, default, n_features: int, name: str) -> np.ndarray:
        if values is None:
            return np.full(n_features, default)
        array = np.asarray(values)
        if array.shape != (n_features,):
            raise ValueError(f"{name} needs one value per feature ({n_features})")
        return array


def threshold_severity(
    X: np.ndarray,
    normal: np.ndarray,
    extreme: np.ndarray,
    low: np.ndarray,
) -> np.ndarray:
    """Severity of values against thresholds (see the module notes); NaN gives 0.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    normal, extreme : ndarray of shape (n_features,) or (n_samples, n_features)
        ``Tn`` and ``Tx``; NaN thresholds disable a feature.
    low : ndarray of bool, same shape as ``normal``
        Direction ``low`` per feature.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.where(low, normal - X, X - normal)
        span = np.where(low, normal - extreme, extreme - normal)
        severity = np.where(
            distance > 0,
            np.where(span > 0, 1.0 + distance / np.where(span > 0, span, 1.0), EXTREME + distance),
            0.0,
        )
    return np.nan_to_num(severity, nan=0.0, posinf=0.0, neginf=0.0)


def _per_identifier_max(
    values: np.ndarray, codes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Return each identifier's largest value and its number of rows.

    Rows without identifier or value are skipped; without codes, every row is its own
    identifier.
    """
    keep = ~np.isnan(values)
    if codes is not None:
        codes = np.asarray(codes, dtype=np.float64)
        keep &= ~np.isnan(codes) & (codes >= 0)
    values = values[keep]
    if codes is None or values.size == 0:
        return values, np.ones(values.size)
    identifier = codes[keep].astype(np.int64)
    order = np.lexsort((values, identifier))
    sorted_ids = identifier[order]
    last_of_each = np.r_[sorted_ids[1:] != sorted_ids[:-1], True]
    ends = np.flatnonzero(last_of_each)
    rows = np.diff(np.r_[-1, ends]).astype(np.float64)
    return values[order][last_of_each], rows


def _group_columns(groups, shape: tuple[int, int]) -> list[np.ndarray] | None:
    """Per feature, its identifier code array (shared objects kept shared), or None."""
    if groups is None:
        return None
    if isinstance(groups, list | tuple):
        if len(groups) != shape[1]:
            raise ValueError("groups needs one code array per feature")
        converted: dict[int, np.ndarray] = {}
        columns = []
        for codes in groups:
            array = converted.get(id(codes))
            if array is None:
                array = converted[id(codes)] = np.asarray(codes, dtype=np.float64)
                if array.shape != (shape[0],):
                    raise ValueError("each groups array needs one code per row")
            columns.append(array)
        return columns
    matrix = np.asarray(groups, dtype=np.float64)
    if matrix.shape != shape:
        raise ValueError("groups must have the shape of X")
    return [matrix[:, j] for j in range(shape[1])]


class _IdentifierSort:
    """One sort of rows by identifier, reused by every feature of that identifier."""

    def __init__(self, codes: np.ndarray) -> None:
        keep = ~np.isnan(codes) & (codes >= 0)
        rows = np.flatnonzero(keep)
        identifier = codes[rows].astype(np.int64)
        order = np.argsort(identifier, kind="stable")
        self.rows = rows[order]
        sorted_ids = identifier[order]
        self.starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])

    def max_and_rows(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each identifier's largest value and its rows with a value (NaN rows skipped)."""
        if self.rows.size == 0:
            return np.zeros(0), np.zeros(0)
        taken = values[self.rows]
        present = ~np.isnan(taken)
        with np.errstate(invalid="ignore"):
            largest = np.fmax.reduceat(taken, self.starts)
        counts = np.add.reduceat(present.astype(np.float64), self.starts)
        keep = counts > 0
        return largest[keep], counts[keep]


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Return the least value whose cumulative weight (ascending) reaches ``q`` of the total."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    at = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(values[order][min(at, values.size - 1)])
