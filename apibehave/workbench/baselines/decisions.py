"""Build a decisions frame (CONTRACT section 3) from per-call IP blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd

DECISION_COLUMNS: tuple[str, ...] = (
    "event_index", "decision", "attack_type", "identifier_kind", "identifier", "risk",
)  # fmt: skip


def ip_decisions(
    client_ip: pd.Series | np.ndarray,
    blocked: np.ndarray,
    attack_type: np.ndarray,
    risk: np.ndarray,
) -> pd.DataFrame:
    """Return one decision per call, in input order, blocking by client IP.

    Parameters
    ----------
    client_ip : array-like of str
        Each call's client IP, in input order.
    blocked : ndarray of bool
        Whether the call is blocked.
    attack_type : ndarray of object
        The attack type named for blocked calls (ignored for allowed calls).
    risk : ndarray of float
        The baseline's risk for each call (higher is riskier).
    """
    n = len(blocked)
    ips = np.asarray(client_ip, dtype=object)
    none = np.full(n, None, dtype=object)
    return pd.DataFrame(
        {
            "event_index": np.arange(n, dtype=np.int64),
            "decision": np.where(blocked, "block", "allow"),
            "attack_type": np.where(blocked, np.asarray(attack_type, dtype=object), none),
            "identifier_kind": np.where(blocked, "ip", none),
            "identifier": np.where(blocked, ips, none),
            "risk": np.asarray(risk, dtype=np.float64),
        }
    )


def ts_ns(events: pd.DataFrame) -> np.ndarray:
    """Return the ``ts`` column as int64 nanoseconds since the epoch (UTC)."""
    return pd.DatetimeIndex(events["ts"]).as_unit("ns").asi8
