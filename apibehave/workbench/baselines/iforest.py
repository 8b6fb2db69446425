"""A plain per-IP IsolationForest over five-minute windows.

Each client IP's calls are cut into fixed five-minute windows (aligned on the epoch). A
window is described by a few counts and shares (below); an IsolationForest learns them
from the training log's windows, and ``contamination`` sets its threshold (the share of
training windows it calls anomalous). Causality: a window is scored once it has ended, so
its verdict applies to the IP's calls in the *next* window; calls in a window right after
an anomalous one are blocked, all others allowed.

The block's attack type is a best guess: the window feature furthest above its training
median (in training interquartile ranges) names the type (:data:`FEATURE_ATTACK`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from apibehave.common.errors import UserError
from apibehave.schema.attacks import AttackType
from apibehave.workbench.baselines.decisions import ip_decisions, ts_ns

WINDOW_S = 300
FEATURES: tuple[str, ...] = (
    "log_calls", "log_distinct_paths", "distinct_path_share", "error_share", "share_401_403",
    "share_404", "share_5xx", "write_share", "delete_share", "log_mean_resp_bytes",
    "log_max_resp_bytes", "log_max_req_bytes", "log_user_agents", "log_mean_query_len",
)  # fmt: skip
"""Window features, in model column order."""

FEATURE_ATTACK: dict[str, str] = {
    "log_calls": AttackType.API_DOS,
    "log_distinct_paths": AttackType.CONTENT_SCRAPING,
    "distinct_path_share": AttackType.CONTENT_SCRAPING,
    "error_share": AttackType.EXCESSIVE_ERRORS,
    "share_401_403": AttackType.LOGIN_ATTACK,
    "share_404": AttackType.PROBING,
    "share_5xx": AttackType.EXCESSIVE_ERRORS,
    "write_share": AttackType.DATA_POISONING,
    "delete_share": AttackType.DATA_DELETION,
    "log_mean_resp_bytes": AttackType.DATA_EXFILTRATION,
    "log_max_resp_bytes": AttackType.DATA_EXFILTRATION,
    "log_max_req_bytes": AttackType.API_MEMORY_ATTACK,
    "log_user_agents": AttackType.HEADER_MANIPULATION,
    "log_mean_query_len": AttackType.INJECTION,
}
"""The attack type guessed when a feature deviates most."""


def window_features(events: pd.DataFrame, window_s: int = WINDOW_S) -> pd.DataFrame:
    """Describe every (client IP, window) of ``events``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``client_ip`` and ``window`` (epoch seconds // ``window_s``), with the
        columns of :data:`FEATURES`.
    """
    ts_s = ts_ns(events) // 1_000_000_000
    status = events["status"].to_numpy()
    method = events["method"].astype(str).to_numpy()
    frame = pd.DataFrame(
        {
            "client_ip": events["client_ip"].astype(object).fillna("").to_numpy(),
            "window": ts_s // window_s,
            "path": events["path"].astype(object).fillna("").to_numpy(),
            "error": status >= 400,
            "auth": np.isin(status, (401, 403)),
            "missing": status == 404,
            "server": status >= 500,
            "write": np.isin(method, ("POST", "PUT", "PATCH")),
            "delete": method == "DELETE",
            "resp": events["resp_bytes"].to_numpy(dtype=np.float64),
            "req": events["req_bytes"].to_numpy(dtype=np.float64),
            "ua": events["user_agent"].astype(object).fillna("").to_numpy(),
            "qlen": events["query"].astype(object).fillna("").str.len().to_numpy(),
        }
    )
    grouped = frame.groupby(["client_ip", "window"], sort=True)
    agg = grouped.agg(
        calls=("path", "size"),
        paths=("path", "nunique"),
        error=("error", "mean"),
        auth=("auth", "mean"),
        missing=("missing", "mean"),
        server=("server", "mean"),
        write=("write", "mean"),
        delete=("delete", "mean"),
        resp_mean=("resp", "mean"),
        resp_max=("resp", "max"),
        req_max=("req", "max"),
        uas=("ua", "nunique"),
        qlen=("qlen", "mean"),
    )
    return pd.DataFrame(
        {
            "log_calls": np.log1p(agg["calls"]),
            "log_distinct_paths": np.log1p(agg["paths"]),
            "distinct_path_share": agg["paths"] / agg["calls"],
            "error_share": agg["error"],
            "share_401_403": agg["auth"],
            "share_404": agg["missing"],
            "share_5xx": agg["server"],
            "write_share": agg["write"],
            "delete_share": agg["delete"],
            "log_mean_resp_bytes": np.log1p(agg["resp_mean"]),
            "log_max_resp_bytes": np.log1p(agg["resp_max"]),
            "log_max_req_bytes": np.log1p(agg["req_max"]),
            "log_user_agents": np.log1p(agg["uas"]),
            "log_mean_query_len": np.log1p(agg["qlen"]),
        },
        index=agg.index,
    )[list(FEATURES)]


class WindowIsolationForest:
    """Per-IP five-minute-window IsolationForest baseline.

    Parameters
    ----------
    contamination : float
        Share of training windows the threshold calls anomalous.
    n_estimators : int
        Trees in the forest.
    window_s : int
        Window length in seconds.
    random_state : int
        Seed of the forest.
    """

    def __init__(
        self,
        contamination: float = 0.001,
        n_estimators: int = 200,
        window_s: int = WINDOW_S,
        random_state: int = 0,
    ) -> None:
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.window_s = window_s
        self.random_state = random_state

    def fit(self, events: pd.DataFrame) -> WindowIsolationForest:
        """Learn normal windows from a training log; return ``self``."""
        if not 0 < self.contamination <= 0.5:
            raise UserError("contamination must be in (0, 0.5]")
        windows = window_features(events, self.window_s)
        if len(windows) < 2:
            raise UserError("too few training windows for the IsolationForest baseline")
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            contamination=self.contamination,
            random_state=self.random_state,
        ).fit(windows.to_numpy())
        self.median_ = windows.median().to_numpy()
        spread = (windows.quantile(0.75) - windows.quantile(0.25)).to_numpy()
        self.scale_ = np.where(spread > 0, spread, windows.std().fillna(0).to_numpy() + 1e-6)
        self.n_training_windows_ = len(windows)
        return self

    def score_windows(self, events: pd.DataFrame) -> pd.DataFrame:
        """Score every (IP, window): ``risk`` (higher riskier), ``anomalous``, ``attack_type``."""
        windows = window_features(events, self.window_s)
        values = windows.to_numpy()
        risk = -self.forest_.score_samples(values)
        anomalous = self.forest_.predict(values) == -1
        deviation = (values - self.median_) / self.scale_
        guessed = np.array([FEATURE_ATTACK[f] for f in FEATURES], dtype=object)[
            np.argmax(deviation, axis=1)
        ]
        return pd.DataFrame(
            {"risk": risk, "anomalous": anomalous, "attack_type": guessed}, index=windows.index
        )

    def decide(self, events: pd.DataFrame) -> pd.DataFrame:
        """Return decisions (CONTRACT section 3): a window's verdict acts on the next one."""
        events = events.reset_index(drop=True)
        scores = self.score_windows(events)
        ts_s = ts_ns(events) // 1_000_000_000
        previous = pd.MultiIndex.from_arrays(
            [events["client_ip"].astype(object).fillna("").to_numpy(), ts_s // self.window_s - 1]
        )
        verdict = scores.reindex(previous)
        blocked = verdict["anomalous"].fillna(False).to_numpy(dtype=bool)
        return ip_decisions(
            events["client_ip"],
            blocked,
            verdict["attack_type"].to_numpy(dtype=object),
            verdict["risk"].fillna(0.0).to_numpy(dtype=np.float64),
        )
