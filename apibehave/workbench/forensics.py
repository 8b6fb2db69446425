"""Forensics over a replayed log: the attack list and one report per blocked identifier.

A forensic report follows PingIntelligence's shape: the identifier (and its kind), its
total calls in the log, the IPs it came from with counts, the methods, the URLs (paths)
and APIs it called, and the evidence of each block (attack type, when, the thresholds it
crossed). :func:`forensic_reports` returns them as JSON-ready dicts;
:func:`format_forensic_report` renders one as a readable table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from apibehave.common.errors import UserError
from apibehave.schema.events import IDENTIFIER_COLUMNS


def attack_list(new_blocks: pd.DataFrame) -> pd.DataFrame:
    """Return the attacks found: one row per new block, in time order.

    Parameters
    ----------
    new_blocks : pandas.DataFrame
        :attr:`apibehave.engine.replay.ReplayResult.new_blocks`.
    """
    columns = ["ts", "api", "attack_type", "identifier_kind", "identifier", "risk", "mode"]
    return new_blocks[columns].sort_values("ts", kind="stable").reset_index(drop=True)


def forensic_reports(
    events: pd.DataFrame,
    decisions: pd.DataFrame,
    new_blocks: pd.DataFrame,
    *,
    limit: int | None = None,
    top: int = 10,
) -> list[dict[str, Any]]:
    """Build one forensic report per blocked identifier.

    Parameters
    ----------
    events : pandas.DataFrame
        The replayed events.
    decisions : pandas.DataFrame
        Their decisions (CONTRACT section 3), lined up with ``events``.
    new_blocks : pandas.DataFrame
        The blocks replay created (with evidence).
    limit : int, optional
        Report at most this many identifiers (those with the most calls first).
    top : int
        URLs listed per report.

    Returns
    -------
    list of dict
        ``identifier_kind``, ``identifier``, ``total_calls``, ``blocked_calls``,
        ``first_seen``, ``last_seen``, ``ips`` (ip -> calls), ``methods``, ``urls``
        (path -> calls, the ``top`` most called), ``apis``, ``attack_types`` and
        ``evidence`` (one entry per block: ts, api, attack type, risk, crossings).
    """
    if len(events) != len(decisions):
        raise UserError(
            f"{len(events):,} events but {len(decisions):,} decisions; they must line up"
        )
    events = events.reset_index(drop=True)
    blocked = (decisions["decision"] == "block").to_numpy()
    keys = new_blocks[["identifier_kind", "identifier"]].drop_duplicates()
    rows_of: dict[str, dict[str, Any]] = {}
    for kind, group in keys.groupby("identifier_kind"):
        values = events[IDENTIFIER_COLUMNS[kind]].astype(object)
        wanted = values[values.isin(set(group["identifier"]))]
        positions = wanted.index.to_numpy()
        rows_of[kind] = {str(k): positions[v] for k, v in wanted.groupby(wanted).indices.items()}
    chosen = sorted(
        keys.itertuples(index=False),
        key=lambda k: (-len(rows_of[k[0]].get(str(k[1]), ())), k[0], str(k[1])),
    )
    if limit is not None:  # the identifiers with the most calls first
        chosen = chosen[:limit]
    reports = []
    for kind, value in chosen:
        rows = np.sort(np.asarray(rows_of[kind].get(str(value), []), dtype=np.int64))
        calls = events.iloc[rows]
        mine = new_blocks[
            (new_blocks["identifier_kind"] == kind) & (new_blocks["identifier"] == value)
        ]
        reports.append(
            {
                "identifier_kind": kind,
                "identifier": str(value),
                "total_calls": len(rows),
                "blocked_calls": int(blocked[rows].sum()),
                "first_seen": _iso(calls["ts"].min()),
                "last_seen": _iso(calls["ts"].max()),
                "ips": _counts(calls["client_ip"]),
                "methods": _counts(calls["method"]),
                "urls": dict(list(_counts(calls["path"]).items())[:top]),
                "distinct_urls": int(calls["path"].nunique()),
                "apis": _counts(calls["api"]) if "api" in calls.columns else {},
                "attack_types": sorted(set(mine["attack_type"].astype(str))),
                "evidence": [
                    {
                        "ts": _iso(row.ts),
                        "api": row.api,
                        "attack_type": row.attack_type,
                        "risk": round(float(row.risk), 4),
                        "mode": row.mode,
                        "crossed": list(row.evidence),
                    }
                    for row in mine.itertuples(index=False)
                ],
            }
        )
    return reports


def format_forensic_report(report: dict[str, Any], *, width: int = 100) -> str:
    """Render one forensic report as plain text."""
    lines = [
        f"{report['identifier_kind']} {report['identifier']}: {report['total_calls']:,} calls "
        f"({report['blocked_calls']:,} blocked), {report['first_seen']} .. "
        f"{report['last_seen']}; attack types: {', '.join(report['attack_types'])}",
        "  IPs:     " + _inline(report["ips"], width),
        "  methods: " + _inline(report["methods"], width),
        "  APIs:    " + _inline(report["apis"], width),
        f"  URLs ({report['distinct_urls']:,} distinct, most called):",
    ]
    lines += [f"    {calls:>8,}  {url}" for url, calls in report["urls"].items()]
    lines.append("  evidence:")
    for item in report["evidence"]:
        lines.append(
            f"    {item['ts']}  {item['api']}  {item['attack_type']}  risk {item['risk']:g}"
            f"  ({item['mode']})"
        )
        for crossing in item["crossed"][:5]:
            lines.append(f"      {_crossing(crossing)}"[:width])
    return "\n".join(lines)


def reports_table(reports: list[dict[str, Any]]) -> pd.DataFrame:
    """Return one row per report: identifier, calls, IPs, methods, APIs, attack types."""
    return pd.DataFrame(
        [
            {
                "kind": r["identifier_kind"],
                "identifier": r["identifier"],
                "total_calls": r["total_calls"],
                "blocked_calls": r["blocked_calls"],
                "ips": len(r["ips"]),
                "top_ip": next(iter(r["ips"]), None),
                "methods": ", ".join(r["methods"]),
                "apis": ", ".join(r["apis"]),
                "distinct_urls": r["distinct_urls"],
                "attack_types": ", ".join(r["attack_types"]),
            }
            for r in reports
        ]
    )


def _counts(values: pd.Series) -> dict[str, int]:
    counts = values.astype(object).fillna("-").astype(str).value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {k: int(v) for k, v in ordered}


def _iso(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).isoformat()


def _inline(counts: dict[str, int], width: int) -> str:
    text = ", ".join(f"{k} ({v:,})" for k, v in counts.items())
    return text if len(text) <= width else text[: width - 3] + "..."


def _crossing(crossing: Any) -> str:
    if isinstance(crossing, dict):
        return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in crossing.items())  # fmt: skip
    return str(crossing)
