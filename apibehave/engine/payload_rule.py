"""The payload rule: requests the payload detector marks, turned into blocks.

The payload detector (:mod:`apibehave.detect.payload`) gives every call a risk; a call
above ``payload_mark_factor`` times the detector's threshold is *marked*. An address is
blocked on a marked call when

- the call's risk reaches ``payload_instant_factor`` times the threshold (an injection
  string leaves no doubt), or
- it is the address's ``payload_strikes``-th marked call within ``payload_window_s``
  (one odd request, such as a pasted search string, is forgiven).

The block is attributed to the type the detector's evidence points to (injection,
probing, query or header manipulation), with that evidence. Replay
(:meth:`PayloadRule.batch`) and the live engine (:meth:`PayloadRule.one`) apply the same
arithmetic; the live engine keeps a bounded strike counter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from apibehave.detect.decision_model import DecisionModel
from apibehave.detect.payload import attack_type_of
from apibehave.engine.strikes import StrikeCounter, strike_counts
from apibehave.schema.attacks import ATTACK_TYPES, AttackType

RISK_AT_THRESHOLD = 2.0
"""A payload block's risk: this at the detector's threshold, proportionally above it."""
_FALLBACK = ATTACK_TYPES.index(AttackType.PROBING)


@dataclass(frozen=True)
class PayloadVerdict:
    """The payload rule on one call; :meth:`PayloadRule.attribute` explains a block."""

    block: bool
    risk: float
    call: dict[str, Any] | None = None


NO_PAYLOAD = PayloadVerdict(False, 0.0)
"""The verdict on a call the payload rule does not look at."""


class PayloadRule:
    """Apply a model's payload detector and policy, to a log or one call at a time.

    Parameters
    ----------
    model : DecisionModel
        Its ``payload`` detector (the rule is off without one) and ``policy``.
    max_addresses : int
        Cap of addresses whose strikes the live counter tracks.
    """

    def __init__(self, model: DecisionModel, max_addresses: int = 100_000) -> None:
        self.detector = model.payload
        policy = model.policy
        self.strikes = int(policy.payload_strikes)
        self.window_s = float(policy.payload_window_s)
        self.instant = float(policy.payload_instant_factor)
        self.mark = float(policy.payload_mark_factor)
        self.counter = StrikeCounter(self.window_s, max_addresses)

    @property
    def active(self) -> bool:
        """Whether a payload detector is present."""
        return self.detector is not None

    # ---- a whole log --------------------------------------------------------------
    def batch(
        self,
        calls: pd.DataFrame,
        ip_codes: np.ndarray,
        ts_ns: np.ndarray,
        eligible: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return per call: block flag, attack code (-1 none) and risk (0 when not marked).

        Parameters
        ----------
        calls : pandas.DataFrame
            Events with their resolved ``api``.
        ip_codes : ndarray of int
            Address code per call (-1 none).
        ts_ns : ndarray of int64
            Call times.
        eligible : ndarray of bool, optional
            Calls the rule looks at (the others neither strike nor block).
        """
        n = len(calls)
        flag = np.zeros(n, dtype=bool)
        attack = np.full(n, -1, dtype=np.int64)
        risk = np.zeros(n)
        if self.detector is None or n == 0:
            return flag, attack, risk
        raw = self.detector.risk(calls)
        threshold = float(self.detector.threshold_)
        marked = raw > self.mark * threshold
        if eligible is not None:
            marked &= eligible
        if not marked.any():
            return flag, attack, risk
        counts = strike_counts(ip_codes, ts_ns, marked, int(self.window_s * 1e9))
        instant = raw >= self.instant * threshold
        flag = marked & (instant | (counts >= self.strikes))
        risk[marked] = RISK_AT_THRESHOLD * raw[marked] / threshold
        rows = np.flatnonzero(flag)
        records = calls.iloc[rows].to_dict(orient="records")
        for i, record in zip(rows.tolist(), records, strict=True):
            attack[i] = self._attack_code(self.detector.explain_one(_plain(record)))
        return flag, attack, risk

    def evidence(self, call: Mapping[str, Any]) -> dict[str, Any]:
        """Return the detector's evidence for one call (for a block's record)."""
        assert self.detector is not None
        return self.detector.explain_one(_plain(call))

    # ---- one call -----------------------------------------------------------------
    def one(self, call: Mapping[str, Any], ip: str | None, ts_ns: int) -> PayloadVerdict:
        """Score one call, count its strike, and say whether the rule blocks it."""
        if self.detector is None:
            return NO_PAYLOAD
        plain = _plain(call)
        raw = self.detector.risk_one(plain)
        threshold = float(self.detector.threshold_)
        if not raw > self.mark * threshold:
            return NO_PAYLOAD
        count = self.counter.strike(ip, ts_ns) if ip is not None else 0
        risk = RISK_AT_THRESHOLD * raw / threshold
        if not (raw >= self.instant * threshold or count >= self.strikes):
            return PayloadVerdict(False, risk)
        return PayloadVerdict(True, risk, plain)

    def attribute(self, verdict: PayloadVerdict) -> tuple[int, dict[str, Any]]:
        """Attack code and evidence of a blocking verdict (worked out only when needed)."""
        assert self.detector is not None and verdict.call is not None
        evidence = self.detector.explain_one(verdict.call)
        return self._attack_code(evidence), evidence

    @staticmethod
    def _attack_code(evidence: Mapping[str, Any]) -> int:
        name = attack_type_of(evidence)
        return ATTACK_TYPES.index(name) if name in ATTACK_TYPES else _FALLBACK


def _plain(call: Mapping[str, Any]) -> dict[str, Any]:
    """Missing values as None, whatever pandas or the gateway made of them."""
    return {k: (None if _missing(v) else v) for k, v in call.items()}


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


__all__ = ["NO_PAYLOAD", "RISK_AT_THRESHOLD", "PayloadRule", "PayloadVerdict"]
