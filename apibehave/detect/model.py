"""Per-API detectors: learned thresholds for every API, scored over whole logs at once.

A :class:`DetectorSet` holds, for each API, a status (``ready`` or ``learning``) and per
feature a normal and an extreme threshold, as plain JSON a person can read and edit
(``source: user`` marks a hand-set value, PingIntelligence's "user" thresholds).
:meth:`DetectorSet.score` turns a feature matrix into risk, a block flag, the attributed
attack type and the identifier kind to block, for millions of calls at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from apibehave.detect.attribution import attack_type_for_crossing, attack_type_of, risk_direction
from apibehave.detect.scoring import score_one, score_rows, severity_one
from apibehave.detect.shared_ip import SharedAddressNormalizer
from apibehave.detect.thresholds import EXTREME, NORMAL, ThresholdDetector
from apibehave.features.spec import FeatureSet, FeatureSpec
from apibehave.schema.attacks import ATTACK_TYPES

STATUS_READY = "ready"
STATUS_LEARNING = "learning"
ACROSS_APIS = "(across APIs)"
"""Detector key of the thresholds of global-scope features, learned over every API's calls.

A feature with ``scope: global`` follows an identifier across all APIs (its rate, its
user agents, its share of errors everywhere), so its thresholds are learned once, from all
training calls, and apply to every call, also to calls of APIs still learning and of
unknown APIs: across-API detection per identifier.
"""

DEFAULT_MIN_STEPS: dict[str, float] = {
    "count": 5.0,
    "distinct": 3.0,
    "ratio": 0.2,
    "novelty": 0.2,
    "sum:req_bytes": 256 * 1024.0,
    "max:req_bytes": 64 * 1024.0,
    "sum:resp_bytes": 4 * 1024 * 1024.0,
    "max:resp_bytes": 1024 * 1024.0,
    "interarrival_mean": 100.0,
    "interarrival_min": 20.0,
    "interarrival_cv": 0.2,
}
"""Least normal threshold and least gap to the extreme one, by aggregation (and column)."""


@dataclass(frozen=True)
class LearningSettings:
    """How thresholds are learned and when a flag becomes a block.

    Attributes
    ----------
    normal_quantile, extreme_quantile, extreme_margin : float
        See :class:`~apibehave.detect.thresholds.ThresholdDetector`.
    min_events : int
        An API with fewer training calls stays in learning mode (rules only).
    min_identifiers : int
        An API whose calls come from fewer distinct clients (the most of its distinct IPs,
        tokens, cookies, API keys or user names) stays in learning mode.
    min_feature_identifiers : int
        A feature learned from fewer identifiers is disabled for that API.
    min_ratio_calls : int
        A ratio, novelty or inter-arrival feature counts only once its window holds this
        many calls (address counts read per principal).
    min_normal_crossings : int
        Without an extreme crossing, this many normal crossings pointing to the same
        attack type make a block; 0 (the default) blocks on extreme crossings only.
    contamination : float or None
        Share of training calls that may be attacks: extreme thresholds cover at least the
        other ``1 - contamination`` of the calls (see ``ThresholdDetector``); None uses
        identifier quantiles only.
    per_principal_addresses : bool
        Read address volume features per principal (distinct tokens behind the address),
        so shared NAT and proxy addresses are judged by what each user does
        (:mod:`apibehave.detect.shared_ip`).
    """

    normal_quantile: float = 0.99
    extreme_quantile: float = 0.999
    extreme_margin: float = 2.0
    min_events: int = 1000
    min_identifiers: int = 5
    min_feature_identifiers: int = 3
    min_ratio_calls: int = 10
    min_normal_crossings: int = 0
    contamination: float | None = 0.01
    per_principal_addresses: bool = True


@dataclass
class FeatureThreshold:
    """The thresholds of one feature on one API."""

    normal: float
    extreme: float
    direction: str = "high"
    source: str = "learned"
    n_identifiers: int = 0


@dataclass
class ApiDetector:
    """Everything learned for one API."""

    api: str
    status: str
    n_events: int
    n_identifiers: int
    thresholds: dict[str, FeatureThreshold] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class Scores:
    """Scores for a batch of calls (one entry per call).

    Attributes
    ----------
    risk : ndarray of float
        Largest severity over the call's features (0 when nothing crossed; 2 = extreme).
    flagged : ndarray of bool
        Whether the models alone would block the call.
    attack_code : ndarray of int
        Index into :data:`~apibehave.schema.ATTACK_TYPES` of the attributed type (-1 none).
    identifier_kind : ndarray of object
        Identifier kind to block (None when not flagged).
    lead_feature : ndarray of int
        Index of the feature that carries the attribution (-1 when not flagged).
    """

    risk: np.ndarray
    flagged: np.ndarray
    attack_code: np.ndarray
    identifier_kind: np.ndarray
    lead_feature: np.ndarray


class DetectorSet:
    """Per-API thresholds over one feature set, with learning settings.

    Parameters
    ----------
    feature_set : FeatureSet
        The features the thresholds are for (columns of the matrices scored).
    detectors : mapping of str to ApiDetector
        One per API seen in training.
    settings : LearningSettings
        How they were learned and how flags are made.
    """

    def __init__(
        self,
        feature_set: FeatureSet,
        detectors: Mapping[str, ApiDetector],
        settings: LearningSettings,
    ) -> None:
        self.feature_set = feature_set
        self.detectors = dict(detectors)
        self.settings = settings
        specs = list(feature_set)
        self._types = np.array([ATTACK_TYPES.index(attack_type_of(s)) for s in specs])
        self._low = np.array([risk_direction(s) == "low" for s in specs])
        guards = _ratio_guards(specs)
        self._guard_index = np.array([guards.get(j, -1) for j in range(len(specs))])
        self._call_tables: dict[str, tuple] = {}
        self._attribution_cache: dict[tuple, tuple[int, str, int]] = {}
        self.normalizer = _normalizer(feature_set, settings)

    # ---- learning -------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        api_names: np.ndarray,
        identifier_codes: Mapping[str, np.ndarray],
        feature_set: FeatureSet,
        settings: LearningSettings | None = None,
    ) -> DetectorSet:
        """Learn thresholds per API from a training log's features.

        Parameters
        ----------
        features : ndarray of shape (n_calls, n_features)
            Batch-engine features of the training calls, columns in ``feature_set`` order.
        api_names : ndarray of str, shape (n_calls,)
            Each call's API.
        identifier_codes : mapping of str to ndarray of int
            Identifier kind -> per-call integer code (-1 when absent).
        feature_set : FeatureSet
        settings : LearningSettings, optional
        """
        settings = settings or LearningSettings()
        features = _normalizer(feature_set, settings).apply(features)
        specs = list(feature_set)
        directions = [risk_direction(s) for s in specs]
        steps = [_min_step(s) for s in specs]
        detectors: dict[str, ApiDetector] = {}
        global_columns = {j for j, spec in enumerate(specs) if spec.scope == "global"}
        groups = [
            (api, np.flatnonzero(api_names == api)) for api in sorted(set(api_names.tolist()))
        ]
        if global_columns:
            groups.append((ACROSS_APIS, np.arange(len(api_names))))
        for api, rows in groups:
            n_clients = max(
                int(np.unique(codes[rows][codes[rows] >= 0]).size)
                for codes in identifier_codes.values()
            )
            if rows.size < settings.min_events or n_clients < settings.min_identifiers:
                detectors[api] = ApiDetector(
                    api, STATUS_LEARNING, int(rows.size), n_clients,
                    reason=f"{rows.size} calls from {n_clients} clients; needs "
                    f"{settings.min_events} calls from {settings.min_identifiers} clients",
                )  # fmt: skip
                continue
            own = np.array(
                [j for j in range(len(specs)) if (j in global_columns) == (api == ACROSS_APIS)],
                dtype=np.int64,
            )  # global features live in the across-API detector only
            model = ThresholdDetector(
                normal_quantile=settings.normal_quantile,
                extreme_quantile=settings.extreme_quantile,
                extreme_margin=settings.extreme_margin,
                min_steps=[steps[j] for j in own],
                directions=[directions[j] for j in own],
                contamination=settings.contamination,
            )
            model.fit(
                features[np.ix_(rows, own)], groups=_row_codes(identifier_codes, specs, own, rows)
            )
            thresholds = {}
            context_only = _normalizer(feature_set, settings).principal
            for k, j in enumerate(own.tolist()):
                spec = specs[j]
                usable = model.n_identifiers_[k] >= settings.min_feature_identifiers
                usable = usable and j != context_only
                thresholds[spec.name] = FeatureThreshold(
                    normal=float(model.normal_[k]) if usable else float("nan"),
                    extreme=float(model.extreme_[k]) if usable else float("nan"),
                    direction=directions[j],
                    n_identifiers=int(model.n_identifiers_[k]),
                )
            detectors[api] = ApiDetector(api, STATUS_READY, int(rows.size), n_clients, thresholds)
        return cls(feature_set, detectors, settings)

    # ---- scoring ----------------------------------------------------------------------
    def threshold_table(self, apis: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(Tn, Tx)`` arrays of shape (len(apis), n_features); NaN = disabled."""
        names = self.feature_set.names
        normal = np.full((len(apis), len(names)), np.nan)
        extreme = np.full_like(normal, np.nan)
        across = self.detectors.get(ACROSS_APIS)
        for i, api in enumerate(apis):
            for detector in (across, self.detectors.get(api)):
                if detector is None or detector.status != STATUS_READY:
                    continue
                for j, name in enumerate(names):
                    t = detector.thresholds.get(name)
                    if t is not None:
                        normal[i, j], extreme[i, j] = t.normal, t.extreme
        return normal, extreme

    def scores_api(self, api: str | None) -> bool:
        """Whether any threshold applies to calls of ``api`` (its own or across APIs)."""
        for name in (api, ACROSS_APIS):
            detector = self.detectors.get(name) if name is not None else None
            if detector is not None and detector.status == STATUS_READY:
                return True
        return False

    def score(self, features: np.ndarray, api_index: np.ndarray, apis: list[str]) -> Scores:
        """Score calls against their API's thresholds (compiled, one pass).

        Parameters
        ----------
        features : ndarray of shape (n_calls, n_features)
        api_index : ndarray of int, shape (n_calls,)
            Each call's position in ``apis``.
        apis : list of str
            API names the index refers to.
        """
        normal, extreme = self.threshold_table(apis)
        if len(apis) == 0:
            normal = extreme = np.full((1, len(self.feature_set)), np.nan)
        risk, flagged, lead, bits, xbits = score_rows(
            np.asarray(self.normalizer.apply(features), dtype=np.float64),
            np.asarray(api_index, dtype=np.int64), normal, extreme, self._low,
            self._guard_index, float(self.settings.min_ratio_calls), self._types,
            len(ATTACK_TYPES), int(self.settings.min_normal_crossings),
        )  # fmt: skip
        n = len(risk)
        attack_code = np.full(n, -1, dtype=np.int64)
        kinds = np.full(n, None, dtype=object)
        rows = np.flatnonzero(flagged)
        if rows.size:
            words = bits.shape[1]
            keys = np.column_stack([bits[rows].view(np.int64), xbits[rows].view(np.int64)])
            unique_keys, inverse = np.unique(keys, axis=0, return_inverse=True)
            answers = [
                self._attribute(tuple(_unpack(k[:words])), tuple(_unpack(k[words:])))
                for k in unique_keys
            ]
            inverse = inverse.ravel()
            attack_code[rows] = np.array([a[0] for a in answers])[inverse]
            kinds[rows] = np.array([a[1] for a in answers], dtype=object)[inverse]
            lead[rows] = np.array([a[2] for a in answers])[inverse]
        return Scores(risk, flagged, attack_code, kinds, lead)

    def score_call(self, vector: np.ndarray, api: str) -> tuple[float, int, str | None, int]:
        """Score one call in pure Python (the live path); same answers as :meth:`score`.

        Returns
        -------
        (risk, attack_code, identifier_kind, lead_feature)
            ``attack_code`` is -1 and the kind None when the call is not flagged.
        """
        table = self._call_tables.get(api)
        if table is None:
            table = self._call_table(api)
        values = self.normalizer.apply(vector).tolist()
        risk, flag, _, crossed, extreme = score_one(values, *table)
        if not flag:
            return risk, -1, None, -1
        key = (crossed, extreme)
        answer = self._attribution_cache.get(key)
        if answer is None:
            answer = self._attribute(crossed, extreme)
            self._attribution_cache[key] = answer
        return risk, answer[0], answer[1], answer[2]

    def crossings(self, vector: np.ndarray, api: str) -> list[dict[str, Any]]:
        """Return the evidence of one call: every feature that crossed, as scored.

        Each entry names the feature, its value, the threshold crossed (``Tn`` or ``Tx``)
        and its value, and the deviation from it in percent (None when the threshold is
        0), like PingIntelligence's ``varA(Tx, 25)`` and ``700%``. Guards apply as in
        scoring, so a ratio over too few calls is not evidence. An address feature read per
        principal (:mod:`apibehave.detect.shared_ip`) also gives its ``raw_value`` and the
        ``principals`` it was divided by.
        """
        table = self._call_tables.get(api) or self._call_table(api)
        normal, extreme, low, guard, min_guard = table[:5]
        raw = np.asarray(vector, dtype=np.float64).tolist()
        values = self.normalizer.apply(vector).tolist()
        principals = self.normalizer.divisor(np.asarray(vector, dtype=np.float64))
        evidence = []
        for j, spec in enumerate(self.feature_set):
            s = severity_one(values[j], normal[j], extreme[j], low[j])
            if guard[j] >= 0 and not values[guard[j]] >= min_guard:
                s = 0.0
            if not s > NORMAL:
                continue
            kind = "Tx" if s > EXTREME else "Tn"
            threshold = extreme[j] if kind == "Tx" else normal[j]
            deviation = (values[j] - threshold) / threshold * 100 if threshold else None
            item = {
                "feature": spec.name,
                "value": values[j],
                "threshold": kind,
                "threshold_value": threshold,
                "deviation_pct": None if deviation is None else round(deviation, 1),
                "severity": round(s, 3),
                "summary": f"{spec.name}({kind}, {threshold:g}) = {values[j]:g}",
            }
            if j in self.normalizer.column_set:
                item["raw_value"] = raw[j]
                item["principals"] = principals
                item["summary"] += f" per principal ({raw[j]:g} over {principals:g})"
            evidence.append(item)
        return evidence

    def _call_table(self, api: str) -> tuple:
        normal, extreme = self.threshold_table([api])
        table = (
            normal[0].tolist(), extreme[0].tolist(), self._low.tolist(),
            self._guard_index.tolist(), float(self.settings.min_ratio_calls),
            self._types.tolist(), int(self.settings.min_normal_crossings),
        )  # fmt: skip
        self._call_tables[api] = table
        return table

    def _attribute(self, crossed: tuple[int, ...], extreme: tuple[int, ...]):
        """Attribute a crossing pattern: (attack code, identifier kind, carrier feature)."""
        specs = list(self.feature_set)
        at_extreme = set(extreme)
        attack, carrier = attack_type_for_crossing([(specs[j], j in at_extreme) for j in crossed])
        return ATTACK_TYPES.index(attack), carrier.identifier, specs.index(carrier)

    # ---- plain data -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return thresholds and settings as plain JSON-ready data (NaN becomes null)."""
        return {
            "feature_spec_hash": self.feature_set.spec_hash,
            "settings": asdict(self.settings),
            "apis": {
                api: {
                    "status": d.status,
                    "n_events": d.n_events,
                    "n_identifiers": d.n_identifiers,
                    "reason": d.reason,
                    "thresholds": {
                        name: {k: _json_number(v) for k, v in asdict(t).items()}
                        for name, t in d.thresholds.items()
                    },
                }
                for api, d in sorted(self.detectors.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], feature_set: FeatureSet) -> DetectorSet:
        """Rebuild from :meth:`to_dict` output for the given feature set."""
        if data.get("feature_spec_hash") != feature_set.spec_hash:
            raise ValueError("thresholds were learned for a different feature spec")
        detectors = {}
        for api, d in data["apis"].items():
            thresholds = {
                name: FeatureThreshold(**{k: _from_json_number(v) for k, v in t.items()})
                for name, t in d.get("thresholds", {}).items()
            }
            detectors[api] = ApiDetector(
                api, d["status"], d["n_events"], d["n_identifiers"], thresholds, d.get("reason", "")
            )
        return cls(feature_set, detectors, LearningSettings(**data["settings"]))


def _row_codes(
    identifier_codes: Mapping[str, np.ndarray], specs: list[FeatureSpec], columns, rows
) -> list[np.ndarray]:
    """Per selected feature, its identifier's codes on ``rows`` (one array per kind, shared)."""
    by_kind = {kind: codes[rows] for kind, codes in identifier_codes.items()}
    return [by_kind[specs[j].identifier] for j in columns]


def _normalizer(feature_set: FeatureSet, settings: LearningSettings) -> SharedAddressNormalizer:
    return SharedAddressNormalizer(feature_set, enabled=settings.per_principal_addresses)


def _min_step(spec: FeatureSpec) -> float:
    return DEFAULT_MIN_STEPS.get(f"{spec.aggregation}:{spec.column}") or DEFAULT_MIN_STEPS.get(
        spec.aggregation, 1.0
    )


_GUARDED_AGGREGATIONS = (
    "ratio",
    "novelty",
    "interarrival_mean",
    "interarrival_min",
    "interarrival_cv",
)


def _ratio_guards(specs: list[FeatureSpec]) -> dict[int, int]:
    """Ratio, novelty or timing feature index -> index of the call count over its calls.

    A share, a novelty rate or an inter-arrival statistic over a handful of calls is noise
    (three calls of one page load are milliseconds apart), not evidence.
    """
    guards = {}
    for j, spec in enumerate(specs):
        if spec.aggregation not in _GUARDED_AGGREGATIONS:
            continue
        counts = [
            (abs(other.window_s - spec.window_s), k)
            for k, other in enumerate(specs)
            if other.aggregation == "count" and other.where is None
            and other.identifier == spec.identifier and other.scope == spec.scope
        ]  # fmt: skip
        if counts:
            guards[j] = min(counts)[1]
    return guards


def _unpack(words: np.ndarray) -> list[int]:
    """Return the indices of the set bits of little-endian 64-bit words."""
    out = []
    for w, word in enumerate(words.view(np.uint64).tolist()):
        bit = 0
        while word:
            if word & 1:
                out.append(w * 64 + bit)
            word >>= 1
            bit += 1
    return out


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _from_json_number(value: Any) -> Any:
    return float("nan") if value is None else value
