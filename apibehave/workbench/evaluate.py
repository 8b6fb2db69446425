"""Score decisions against labels: per attack type and on the benign side.

An *actor* is who sent a call (the ``actor`` column of labelled data). Per attack type:
actor recall (attack actors with at least one blocked call), share of attack calls
blocked, calls and seconds before the actor's first block, and attribution accuracy
(blocked attack calls whose ``attack_type`` is the label). Benign side: share of benign
calls blocked, and benign clients blocked per 1,000, counted both as source IPs and as
actors (one benign actor may use several IPs; one IP may carry many actors).

:func:`actor_outcomes` gives the same figures per actor (for real logs, where each attack
client is looked at one by one), optionally counting only some of its calls (login POSTs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from apibehave.common.errors import UserError
from apibehave.schema.attacks import NORMAL_LABEL


@dataclass(frozen=True)
class Evaluation:
    """Per-attack-type table and benign-side figures."""

    by_type: pd.DataFrame
    benign: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON-ready data."""
        return {
            "by_type": self.by_type.replace({np.nan: None}).to_dict(orient="records"),
            "benign": self.benign,
        }


def evaluate_decisions(events: pd.DataFrame, decisions: pd.DataFrame) -> Evaluation:
    """Compare replay decisions with the labels of the same events.

    Parameters
    ----------
    events : pandas.DataFrame
        Labelled canonical events (``label`` and ``actor`` columns), in the replayed order.
    decisions : pandas.DataFrame
        The decisions file for them (CONTRACT section 3).

    Raises
    ------
    UserError
        When the events carry no labels or the two files do not line up.
    """
    for column in ("label", "actor"):
        if column not in events.columns:
            raise UserError(f"the events have no {column!r} column; evaluation needs labels")
    if len(events) != len(decisions):
        raise UserError(
            f"{len(events):,} events but {len(decisions):,} decisions; they must line up"
        )
    frame = pd.DataFrame(
        {
            "ts": events["ts"].to_numpy(),
            "label": events["label"].astype(object).fillna(NORMAL_LABEL).to_numpy(),
            "actor": events["actor"].astype(object).fillna("").to_numpy(),
            "client_ip": events["client_ip"].astype(object).to_numpy(),
            "block": (decisions["decision"] == "block").to_numpy(),
            "attack_type": decisions["attack_type"].astype(object).to_numpy(),
        }
    ).sort_values("ts", kind="stable")
    rows = [
        _attack_row(label, group)
        for label, group in frame.groupby("label")
        if label != NORMAL_LABEL
    ]
    by_type = pd.DataFrame(rows, columns=list(_COLUMNS))
    benign = frame[frame["label"] == NORMAL_LABEL]
    ips = benign.groupby("client_ip")["block"].any()
    actors = benign[benign["actor"] != ""].groupby("actor")["block"].any()
    benign_figures = {
        "calls": len(benign),
        "calls_blocked": int(benign["block"].sum()),
        "share_calls_blocked": float(benign["block"].mean()) if len(benign) else 0.0,
        "clients": len(ips),
        "clients_blocked": int(ips.sum()),
        "clients_blocked_per_1000": float(1000 * ips.mean()) if len(ips) else 0.0,
        "actors": len(actors),
        "actors_blocked": int(actors.sum()),
        "actors_blocked_per_1000": float(1000 * actors.mean()) if len(actors) else 0.0,
    }
    return Evaluation(by_type, benign_figures)


def actor_outcomes(
    events: pd.DataFrame,
    decisions: pd.DataFrame,
    actors: list[str] | None = None,
    *,
    counted: pd.Series | np.ndarray | None = None,
) -> pd.DataFrame:
    """Per actor: was it blocked, and after how many of its calls.

    Parameters
    ----------
    events : pandas.DataFrame
        Labelled events (``actor`` column), lined up with ``decisions``.
    decisions : pandas.DataFrame
        The decisions file for them (CONTRACT section 3).
    actors : list of str, optional
        The actors to report (default: every non-benign actor).
    counted : boolean array-like, optional
        Calls to count separately (for example login POSTs): the result then also says
        how many of them the actor sent before its first block.

    Returns
    -------
    pandas.DataFrame
        One row per actor: ``actor``, ``label``, ``calls``, ``blocked`` (any call),
        ``share_calls_blocked``, ``calls_before_first_block``,
        ``seconds_to_first_block``, ``first_block_attack_type``, and with ``counted``
        ``counted_calls`` and ``counted_before_first_block`` (None when never blocked).
    """
    if len(events) != len(decisions):
        raise UserError(
            f"{len(events):,} events but {len(decisions):,} decisions; they must line up"
        )
    frame = pd.DataFrame(
        {
            "ts": events["ts"].to_numpy(),
            "label": events["label"].astype(object).fillna(NORMAL_LABEL).to_numpy(),
            "actor": events["actor"].astype(object).fillna("").to_numpy(),
            "block": (decisions["decision"] == "block").to_numpy(),
            "attack_type": decisions["attack_type"].astype(object).to_numpy(),
            "counted": np.zeros(len(events), dtype=bool)
            if counted is None
            else np.asarray(counted, dtype=bool),
        }
    ).sort_values("ts", kind="stable")
    if actors is None:
        actors = sorted(frame.loc[frame["label"] != NORMAL_LABEL, "actor"].unique())
    rows = []
    for actor in actors:
        calls = frame[frame["actor"] == actor]
        blocked = calls["block"].to_numpy()
        row: dict[str, Any] = {
            "actor": actor,
            "label": calls["label"].iloc[0] if len(calls) else None,
            "calls": len(calls),
            "blocked": bool(blocked.any()),
            "share_calls_blocked": float(blocked.mean()) if len(calls) else 0.0,
            "calls_before_first_block": None,
            "seconds_to_first_block": None,
            "first_block_attack_type": None,
        }
        if counted is not None:
            row["counted_calls"] = int(calls["counted"].sum())
            row["counted_before_first_block"] = None
        if blocked.any():
            first = int(np.argmax(blocked))
            row["calls_before_first_block"] = first
            row["seconds_to_first_block"] = (
                calls["ts"].iloc[first] - calls["ts"].iloc[0]
            ).total_seconds()
            attack = calls["attack_type"].iloc[first]
            row["first_block_attack_type"] = None if pd.isna(attack) else str(attack)
            if counted is not None:
                row["counted_before_first_block"] = int(calls["counted"].iloc[:first].sum())
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in ("calls_before_first_block", "counted_before_first_block"):
        if column in out.columns:
            out[column] = out[column].astype("Int64")
    return out


_COLUMNS = {
    "attack_type": "attack type",
    "actors": "actors",
    "actor_recall": "actor recall",
    "calls": "calls",
    "share_calls_blocked": "calls blocked",
    "median_calls_to_first_block": "calls to 1st block",
    "median_seconds_to_first_block": "s to 1st block",
    "attribution_accuracy": "attribution",
}


def _attack_row(label: str, group: pd.DataFrame) -> dict[str, Any]:
    per_actor = []
    for _, calls in group.groupby("actor"):
        blocked = calls["block"].to_numpy()
        if blocked.any():
            first = int(np.argmax(blocked))
            seconds = (calls["ts"].iloc[first] - calls["ts"].iloc[0]).total_seconds()
            per_actor.append((first, seconds))
    attributed = group.loc[group["block"], "attack_type"]
    return {
        "attack_type": label,
        "actors": int(group["actor"].nunique()),
        "actor_recall": len(per_actor) / max(1, group["actor"].nunique()),
        "calls": len(group),
        "share_calls_blocked": float(group["block"].mean()),
        "median_calls_to_first_block": float(np.median([p[0] for p in per_actor]))
        if per_actor
        else None,
        "median_seconds_to_first_block": float(np.median([p[1] for p in per_actor]))
        if per_actor
        else None,
        "attribution_accuracy": float((attributed == label).mean()) if len(attributed) else None,
    }


def format_evaluation(evaluation: Evaluation) -> str:
    """Return the evaluation as a plain-text table for terminals."""
    table = evaluation.by_type.rename(columns=_COLUMNS)
    formats = {
        "actor recall": "{:.2f}".format,
        "calls blocked": "{:.1%}".format,
        "attribution": lambda v: "-" if v is None or pd.isna(v) else f"{v:.2f}",
        "calls to 1st block": lambda v: "-" if v is None or pd.isna(v) else f"{v:g}",
        "s to 1st block": lambda v: "-" if v is None or pd.isna(v) else f"{v:.0f}",
    }
    text = (
        table.to_string(index=False, formatters=formats, na_rep="-")
        if len(table)
        else "(no attacks)"
    )
    b = evaluation.benign
    return (
        f"{text}\n\nbenign: {b['calls_blocked']:,} of {b['calls']:,} calls blocked "
        f"({b['share_calls_blocked']:.3%}); {b['clients_blocked']:,} of {b['clients']:,} "
        f"client IPs blocked ({b['clients_blocked_per_1000']:.2f} per 1,000)"
        + (
            f"; {b['actors_blocked']:,} of {b['actors']:,} benign actors blocked "
            f"({b['actors_blocked_per_1000']:.2f} per 1,000)"
            if b.get("actors")
            else ""
        )
    )
