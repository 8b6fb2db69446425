"""The payload detector: a scikit-learn style estimator over events, trained on normal calls.

:class:`PayloadDetector` learns, per API, an :class:`~apibehave.detect.payload.profile.ApiProfile`
(endpoints, methods, parameter names, and value models for the path, path ids, query and
form parameters, JSON leaves, User-Agent, cookie, Host and user name) from normal events
only. A call's **risk** is the sum of its deviations in nats: higher is riskier, 0 is a call
with nothing rare in it. ``score_samples`` is its negation (scikit-learn: higher is more
normal). An API not seen in training is judged by the profile of all APIs pooled, and so
are the client fields (User-Agent, cookie, user name) of every call: they describe the
client, whichever API it calls.

The same per-call functions score a whole events frame (on its distinct requests and
distinct field values, mapped back) and one call given as a dict, so the two give
bit-identical risks. The threshold is chosen apart from fitting, on held-out normal calls
at a target false-positive rate (:meth:`PayloadDetector.calibrate`); it never goes below
``min_threshold``.

The fitted detector is plain data: :meth:`PayloadDetector.to_dict` / ``from_dict`` (and
the JSON helpers) round-trip it exactly; nothing is pickled.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from apibehave.common.errors import UserError
from apibehave.detect.payload.explain import build_evidence
from apibehave.detect.payload.profile import ApiProfile, ProfileBuilder
from apibehave.detect.payload.tokenize import CLIENT_FIELDS, SINGLE_FIELDS, text_or_none
from apibehave.features.derive import UNKNOWN_API

FORMAT = "apibehave.payload_detector"
FORMAT_VERSION = 1
POOLED = "*"
"""Key of the profile of all APIs pooled (used for APIs not seen in training)."""

_SETTINGS = ("min_samples", "rare_share", "length_weight", "type_tolerance", "max_values",
             "max_endpoints")  # fmt: skip


class PayloadDetector(BaseEstimator):
    """Detect injection, fuzzing and tampering in a call's path, query, body and headers.

    Parameters
    ----------
    min_samples : int
        Least training values for a value model of its own (else the broader one is used).
    rare_share : float
        A character class, value, shape, type miss, method, name or absence counts as a
        deviation only when its learned probability is below this.
    length_weight : float
        Cost per nat of length ratio outside the learned range.
    type_tolerance : float
        Share of training values allowed outside a parameter's learned type.
    max_values : int
        Distinct values (and shapes) kept per model; beyond it value novelty is off.
    max_endpoints : int
        Distinct endpoints kept per API; beyond it endpoint novelty is off for that API.
    min_threshold : float
        Least risk threshold, whatever the calibration slice says.

    Attributes
    ----------
    profiles_ : dict of str to ApiProfile
        Per API (``apibehave.features.derive.UNKNOWN_API`` for calls without one), plus
        :data:`POOLED` for all APIs together.
    n_calls_ : int
        Training calls.
    threshold_ : float
        Risk above which a call is flagged; set by :meth:`fit` from the training calls
        (optimistic) and replaced by :meth:`calibrate`.
    calibration_ : dict
        How the threshold was chosen.
    """

    def __init__(
        self,
        *,
        min_samples: int = 20,
        rare_share: float = 0.01,
        length_weight: float = 4.0,
        type_tolerance: float = 0.005,
        max_values: int = 256,
        max_endpoints: int = 10_000,
        min_threshold: float = 6.0,
    ) -> None:
        self.min_samples = min_samples
        self.rare_share = rare_share
        self.length_weight = length_weight
        self.type_tolerance = type_tolerance
        self.max_values = max_values
        self.max_endpoints = max_endpoints
        self.min_threshold = min_threshold

    # -- fitting ------------------------------------------------------------------------

    def _settings(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in _SETTINGS}

    def fit(self, X: pd.DataFrame, y: Any = None) -> PayloadDetector:
        """Learn every API's profile from normal events.

        Parameters
        ----------
        X : pandas.DataFrame
            Events (CONTRACT section 1); reads ``api``, ``method``, ``path``, ``query``,
            ``body``, ``user_agent``, ``cookie``, ``host``, ``username`` where present.
        y : None
            Ignored (normal calls only; labels are never read).

        Returns
        -------
        PayloadDetector
            ``self``.

        Raises
        ------
        UserError
            When ``X`` is not an events frame with a ``path`` column, or is empty.
        """
        self._check_params()
        columns = _columns(X)
        if not len(X):
            raise UserError("the payload detector needs at least one training event")
        settings = self._settings()
        builders: dict[str, ProfileBuilder] = {}
        pooled = ProfileBuilder()
        requests = Counter(_request_keys(columns))
        for (api, method, path, query, body), k in requests.items():
            builders.setdefault(api, ProfileBuilder()).add_request(method, path, query, body, k)
            pooled.add_request(method, path, query, body, k)
        for field in SINGLE_FIELDS:
            for (api, value), k in Counter(
                zip(columns["api"], columns[field], strict=True)
            ).items():
                builders[api].add_field(field, value, k)
                pooled.add_field(field, value, k)
        self.profiles_ = {api: b.build(settings) for api, b in builders.items()}
        self.profiles_[POOLED] = pooled.build(settings)
        self.n_calls_ = len(X)
        self.threshold_ = self.min_threshold
        self.calibration_ = {"source": "min_threshold", "threshold": self.threshold_}
        return self

    def _check_params(self) -> None:
        if not 0.0 < self.rare_share < 1.0:
            raise UserError(f"rare_share must be between 0 and 1, not {self.rare_share!r}")
        if self.min_samples < 1 or self.max_values < 1 or self.max_endpoints < 1:
            raise UserError("min_samples, max_values and max_endpoints must be at least 1")
        if self.length_weight < 0 or self.min_threshold < 0 or not 0 <= self.type_tolerance < 1:
            raise UserError("length_weight, min_threshold and type_tolerance must be >= 0")

    def calibrate(
        self, X: pd.DataFrame, fpr: float = 0.001, contamination: float = 0.0
    ) -> PayloadDetector:
        """Choose the threshold on held-out normal events at a target false-positive rate.

        Parameters
        ----------
        X : pandas.DataFrame
            Normal events not used in :meth:`fit`.
        fpr : float
            Target share of those events flagged (the threshold is their ``1 - fpr``
            quantile, never below ``min_threshold``).
        contamination : float
            Share of ``X`` that may be attacks after all (real logs): the threshold is then
            the ``1 - fpr - contamination`` quantile, so the normal calls among them are
            flagged at about ``fpr`` when the attacks score above them.

        Returns
        -------
        PayloadDetector
            ``self``.
        """
        self._check_fitted()
        if not 0.0 <= fpr < 1.0 or not 0.0 <= contamination < 1.0 - fpr:
            raise UserError(
                f"fpr ({fpr!r}) and contamination ({contamination!r}) must be >= 0 "
                "with a sum below 1"
            )
        risks = self.risk(X)
        if not len(risks):
            raise UserError("calibration needs at least one held-out normal event")
        quantile = float(np.quantile(risks, 1.0 - fpr - contamination, method="higher"))
        self.threshold_ = max(self.min_threshold, quantile)
        self.calibration_ = {
            "source": "held-out normal events",
            "target_fpr": fpr,
            "contamination": contamination,
            "calls": len(risks),
            "quantile": quantile,
            "threshold": self.threshold_,
            "flagged_share": float(np.mean(risks > self.threshold_)),
        }
        return self

    # -- scoring ------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "profiles_"):
            raise UserError("the payload detector is not fitted (call fit first)")

    def _profile(self, api: str) -> ApiProfile:
        profile = self.profiles_.get(api)
        return profile if profile is not None else self.profiles_[POOLED]

    def _field_profile(self, api: str, field: str) -> ApiProfile:
        """Client fields are judged against all APIs pooled, the others per API."""
        return self.profiles_[POOLED] if field in CLIENT_FIELDS else self._profile(api)

    def risk(self, X: pd.DataFrame) -> np.ndarray:
        """Return every call's risk (higher is riskier), scoring distinct values once.

        Parameters
        ----------
        X : pandas.DataFrame
            Events.

        Returns
        -------
        numpy.ndarray
            float64, one per row, equal to :meth:`risk_one` on each row.
        """
        self._check_fitted()
        coded = _coded_columns(X)
        request_rows, request_values = _distinct_rows(
            coded, ("api", "method", "path", "query", "body")
        )
        request_cost = np.array(
            [self._profile(key[0]).request_cost(*key[1:]) for key in request_values],
            dtype=np.float64,
        )
        total = request_cost[request_rows]
        for field in SINGLE_FIELDS:  # added in risk_one's order, so the sums are identical
            rows, values = _distinct_rows(coded, ("api", field))
            cost = np.array(
                [self._field_profile(api, field).field_cost(field, value) for api, value in values],
                dtype=np.float64,
            )
            total = total + cost[rows]
        return total

    def risk_one(self, call: Mapping[str, Any]) -> float:
        """Return one call's risk; ``call`` maps event column names to values."""
        self._check_fitted()
        api, method, path, query, body = _request_of(call)
        profile = self._profile(api)
        total = profile.request_cost(method, path, query, body)
        for field in SINGLE_FIELDS:
            value = text_or_none(call.get(field))
            total += self._field_profile(api, field).field_cost(field, value)
        return total

    def explain_one(self, call: Mapping[str, Any], top: int = 5) -> dict[str, Any]:
        """Return the evidence for one call: risk, threshold, attack type and deviations.

        See :func:`apibehave.detect.payload.explain.build_evidence` for the layout.
        """
        self._check_fitted()
        api, method, path, query, body = _request_of(call)
        profile = self._profile(api)
        deviations: list[dict[str, Any]] = []
        profile.request_cost(method, path, query, body, deviations)
        for field in SINGLE_FIELDS:
            value = text_or_none(call.get(field))
            self._field_profile(api, field).field_cost(field, value, deviations)
        return build_evidence(
            api=api,
            risk=self.risk_one(call),
            threshold=self.threshold_,
            deviations=deviations,
            learned=api in self.profiles_,
            top=top,
        )

    def score_samples(self, X: pd.DataFrame) -> np.ndarray:
        """Return ``-risk`` (scikit-learn's direction: higher is more normal)."""
        return -self.risk(X)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Return ``threshold_ - risk``: negative for flagged calls."""
        return self.threshold_ - self.risk(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Return -1 for flagged calls (risk above the threshold) and 1 for the others."""
        return np.where(self.risk(X) > self.threshold_, -1, 1)

    # -- plain data ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return the fitted detector as plain data (JSON-ready, sorted keys)."""
        self._check_fitted()
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "params": self.get_params(),
            "n_calls": self.n_calls_,
            "threshold": self.threshold_,
            "calibration": self.calibration_,
            "profiles": {api: p.to_dict() for api, p in sorted(self.profiles_.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PayloadDetector:
        """Rebuild a fitted detector from :meth:`to_dict` output.

        Raises
        ------
        UserError
            On another format or version.
        """
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise UserError(
                f"not a payload detector of format {FORMAT} v{FORMAT_VERSION} "
                f"(got {data.get('format')!r} v{data.get('format_version')!r})"
            )
        detector = cls(**data["params"])
        settings = detector._settings()
        detector.profiles_ = {
            api: ApiProfile.from_dict(p, settings) for api, p in data["profiles"].items()
        }
        detector.n_calls_ = int(data["n_calls"])
        detector.threshold_ = float(data["threshold"])
        detector.calibration_ = dict(data["calibration"])
        return detector

    def to_json(self) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PayloadDetector:
        """Parse :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))


def _request_of(call: Mapping[str, Any]) -> tuple[str, str, str, str | None, str | None]:
    api = text_or_none(call.get("api")) or UNKNOWN_API
    method = text_or_none(call.get("method")) or ""
    path = text_or_none(call.get("path")) or ""
    return api, method, path, text_or_none(call.get("query")), text_or_none(call.get("body"))


def _columns(X: Any) -> dict[str, list[Any]]:
    """Return the columns the detector reads as lists of str or None (absent: all None)."""
    if not isinstance(X, pd.DataFrame) or "path" not in X.columns:
        raise UserError("the payload detector reads an events DataFrame with a 'path' column")
    n = len(X)
    out: dict[str, list[Any]] = {}
    for name in ("api", "method", "path", "query", "body", *SINGLE_FIELDS):
        if name in X.columns:
            out[name] = [text_or_none(v) for v in X[name].to_numpy(dtype=object)]
        else:
            out[name] = [None] * n
    out["api"] = [v or UNKNOWN_API for v in out["api"]]
    out["method"] = [v or "" for v in out["method"]]
    out["path"] = [v or "" for v in out["path"]]
    return out


def _coded_columns(X: Any) -> dict[str, tuple[np.ndarray, list[Any]]]:
    """Per column the detector reads: integer codes per row and the value of each code.

    Values are as :func:`_columns` gives them (str or None, with the same defaults for
    api, method and path), worked out once per distinct raw value instead of per row.
    """
    if not isinstance(X, pd.DataFrame) or "path" not in X.columns:
        raise UserError("the payload detector reads an events DataFrame with a 'path' column")
    defaults = {"api": UNKNOWN_API, "method": "", "path": ""}
    out: dict[str, tuple[np.ndarray, list[Any]]] = {}
    for name in ("api", "method", "path", "query", "body", *SINGLE_FIELDS):
        if name not in X.columns:
            out[name] = (np.zeros(len(X), dtype=np.int64), [defaults.get(name)])
            continue
        codes, uniques = pd.factorize(X[name].astype(object), use_na_sentinel=True)
        values = [text_or_none(u) for u in uniques] + [None]
        if name in defaults:
            values = [v or defaults[name] for v in values]
        out[name] = (np.where(codes < 0, len(uniques), codes).astype(np.int64), values)
    return out


def _distinct_rows(
    coded: Mapping[str, tuple[np.ndarray, list[Any]]], names: tuple[str, ...]
) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """Per row, the index of its distinct combination of ``names``; and those combinations."""
    rows = coded[names[0]][0]
    for name in names[1:]:  # pair codes step by step; each step stays below n * width
        codes, width = coded[name][0], len(coded[name][1])
        rows, _ = pd.factorize(rows * width + codes)
    first = np.unique(rows, return_index=True)[1]  # one row of each combination, in order
    values = [tuple(coded[name][1][coded[name][0][i]] for name in names) for i in first.tolist()]
    return rows.astype(np.int64), values


def _request_keys(columns: Mapping[str, list[Any]]) -> list[tuple[Any, ...]]:
    """Return ``(api, method, path, query, body)`` per row."""
    names = ("api", "method", "path", "query", "body")
    return list(zip(*(columns[n] for n in names), strict=True))
