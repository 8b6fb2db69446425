"""The API usage report: who calls what, how often, and how it answers.

Shaped like PingIntelligence's API usage and metrics reports: a summary (total requests,
successes, error ratio, time range), the status-class mix, per-API calls and error
ratios, the busiest source IPs with their method and device counts, the top user agents,
the top endpoints (templated paths) and the device mix.

Devices are classified from the ``User-Agent`` by :mod:`apibehave.reports.devices`.

An error is a 4xx or 5xx answer; status 0 (no response seen) and codes outside 100-599
count in the ``other`` status class and not as errors.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from apibehave.reports.devices import DEVICE_CLASSES, classify_devices
from apibehave.schema.catalogue import Catalogue, resolve_apis, status_classes
from apibehave.schema.events import STRING_DTYPE
from apibehave.schema.paths import template_paths

UNRESOLVED_API = "(none)"
"""How calls without an API are listed."""


def usage_report(
    events: pd.DataFrame, top: int = 10, *, catalogue: Catalogue | None = None
) -> dict[str, Any]:
    """Summarise traffic into a JSON-ready usage report.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events.
    top : int, default 10
        How many source IPs, user agents and paths to list.
    catalogue : Catalogue, optional
        Resolves each call's API where the ``api`` column is empty.

    Returns
    -------
    dict
        ``name``, ``earlier_date``, ``later_date``, ``summary`` (``total_requests``,
        ``success``, ``errors``, ``error_ratio``, ``unique_ips``, ``duration_s``,
        ``requests_per_s``, ``most_popular_method``, ``most_popular_device``,
        ``most_popular_ips``), ``status_classes``, ``apis`` (per API: ``api``,
        ``total_requests``, ``success``, ``errors``, ``error_ratio``, ``unique_ips``),
        ``source_ips`` (``ip``, ``total_requests``, ``methods``, ``devices``, ``apis``),
        ``user_agents`` (``user_agent``, ``device``, ``count``), ``paths`` (``path``,
        ``count``) and ``devices`` (class -> count). Lists are sorted by count, largest
        first, ties by name.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    total = len(events)
    status = events["status"].astype("int64")
    classes = status_classes(status)
    is_error = ((status >= 400) & (status <= 599)).to_numpy()
    is_success = ((status >= 200) & (status <= 299)).to_numpy()
    ips = events["client_ip"].astype(STRING_DTYPE).fillna("-")
    methods = events["method"].astype(STRING_DTYPE).fillna("-")
    agents = (
        events["user_agent"].astype(STRING_DTYPE)
        if "user_agent" in events.columns
        else pd.Series(pd.NA, index=events.index, dtype=STRING_DTYPE)
    )
    devices = classify_devices(agents)
    apis = _apis(events, catalogue)
    frame = pd.DataFrame(
        {
            "ip": ips,
            "method": methods,
            "device": devices,
            "api": apis,
            "error": is_error,
            "success": is_success,
        }
    )
    ts = events["ts"]
    earlier = ts.min() if total else None
    later = ts.max() if total else None
    duration = (later - earlier).total_seconds() if total else 0.0
    method_counts = _counts(methods)
    device_counts = _counts(devices)
    ip_counts = _counts(ips)
    errors = int(is_error.sum())
    return {
        "name": "usage",
        "description": "Requests per API, source IP, user agent, endpoint and device",
        "earlier_date": _iso(earlier),
        "later_date": _iso(later),
        "summary": {
            "total_requests": total,
            "success": int(is_success.sum()),
            "errors": errors,
            "error_ratio": _ratio(errors, total),
            "unique_ips": int(ips.nunique()),
            "duration_s": float(duration),
            "requests_per_s": _ratio(total, duration) if duration > 0 else None,
            "most_popular_method": next(iter(method_counts), None),
            "most_popular_device": next(iter(device_counts), None),
            "most_popular_ips": list(ip_counts)[:3],
        },
        "status_classes": {
            k: int(v) for k, v in classes.value_counts().reindex(_STATUS_KEYS, fill_value=0).items()
        },
        "apis": _per_api(frame),
        "source_ips": _per_ip(frame, ip_counts, top),
        "user_agents": _top_agents(agents, devices, top),
        "paths": [
            {"path": path, "count": count}
            for path, count in list(_counts(template_paths(events["path"])).items())[:top]
        ],
        "devices": {d: int(device_counts.get(d, 0)) for d in DEVICE_CLASSES},
    }


_STATUS_KEYS = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]


def _apis(events: pd.DataFrame, catalogue: Catalogue | None) -> pd.Series:
    if catalogue is not None:
        apis = resolve_apis(events, catalogue)
    elif "api" in events.columns:
        apis = events["api"].astype(STRING_DTYPE)
    else:
        apis = pd.Series(pd.NA, index=events.index, dtype=STRING_DTYPE)
    return apis.where(apis.fillna("").str.len() > 0, UNRESOLVED_API).astype(STRING_DTYPE)


def _counts(values: pd.Series) -> dict[str, int]:
    """Count values, largest first, ties by value; nulls are left out."""
    counts = values.dropna().value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    return {str(k): int(v) for k, v in ordered}


def _per_api(frame: pd.DataFrame) -> list[dict[str, Any]]:
    grouped = frame.groupby("api", sort=False).agg(
        total_requests=("ip", "size"),
        success=("success", "sum"),
        errors=("error", "sum"),
        unique_ips=("ip", "nunique"),
    )
    rows = [
        {
            "api": str(api),
            "total_requests": int(row.total_requests),
            "success": int(row.success),
            "errors": int(row.errors),
            "error_ratio": _ratio(int(row.errors), int(row.total_requests)),
            "unique_ips": int(row.unique_ips),
        }
        for api, row in grouped.iterrows()
    ]
    return sorted(rows, key=lambda r: (-r["total_requests"], r["api"]))


def _per_ip(frame: pd.DataFrame, ip_counts: dict[str, int], top: int) -> list[dict[str, Any]]:
    chosen = list(ip_counts)[:top]
    subset = frame[frame["ip"].isin(chosen)]
    nested = {
        column: {ip: _counts(group) for ip, group in subset.groupby("ip", sort=False)[column]}
        for column in ("method", "device", "api")
    }
    return [
        {
            "ip": ip,
            "total_requests": ip_counts[ip],
            "methods": nested["method"].get(ip, {}),
            "devices": nested["device"].get(ip, {}),
            "apis": nested["api"].get(ip, {}),
        }
        for ip in chosen
    ]


def _top_agents(agents: pd.Series, devices: pd.Series, top: int) -> list[dict[str, Any]]:
    counts = _counts(agents.where(agents.fillna("").str.len() > 0))
    device_of = dict(
        zip(agents.to_numpy(dtype=object), devices.to_numpy(dtype=object), strict=True)
    )
    return [
        {"user_agent": agent, "device": str(device_of[agent]), "count": count}
        for agent, count in list(counts.items())[:top]
    ]


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else 0.0


def _iso(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).isoformat()


def format_usage_report(report: dict[str, Any]) -> str:
    """Render a usage report (from :func:`usage_report`) as plain text for a terminal.

    Parameters
    ----------
    report : dict
        The report.

    Returns
    -------
    str
        Several short sections, one table each; no colour codes.
    """
    summary = report["summary"]
    total = summary["total_requests"]
    lines = [
        "API usage report",
        f"  period       {report['earlier_date'] or '-'} .. {report['later_date'] or '-'}",
        f"  requests     {total:,}"
        + (
            f" ({summary['requests_per_s']:.2f}/s)" if summary["requests_per_s"] is not None else ""
        ),
        f"  success      {summary['success']:,} ({_share(summary['success'], total)})",
        f"  errors       {summary['errors']:,} ({summary['error_ratio']:.1%} 4xx/5xx)",
        f"  source IPs   {summary['unique_ips']:,}",
        "  status mix   "
        + "  ".join(f"{k} {v:,}" for k, v in report["status_classes"].items() if v),
        "  devices      " + "  ".join(f"{k} {v:,}" for k, v in report["devices"].items() if v),
    ]
    sections: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "APIs",
            ["api", "requests", "errors", "error ratio", "IPs"],
            [
                [
                    r["api"],
                    f"{r['total_requests']:,}",
                    f"{r['errors']:,}",
                    f"{r['error_ratio']:.1%}",
                    f"{r['unique_ips']:,}",
                ]
                for r in report["apis"]
            ],
        ),
        (
            "Top source IPs",
            ["ip", "requests", "methods", "devices"],
            [
                [
                    r["ip"],
                    f"{r['total_requests']:,}",
                    _inline(r["methods"]),
                    _inline(r["devices"]),
                ]
                for r in report["source_ips"]
            ],
        ),
        (
            "Top user agents",
            ["requests", "device", "user agent"],
            [
                [f"{r['count']:,}", r["device"], _clip(r["user_agent"], 70)]
                for r in report["user_agents"]
            ],
        ),
        (
            "Top endpoints",
            ["requests", "path"],
            [[f"{r['count']:,}", _clip(r["path"], 80)] for r in report["paths"]],
        ),
    ]
    for title, header, rows in sections:
        lines.append("")
        lines.append(title)
        lines.extend(_table(header, rows) if rows else ["  (none)"])
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(header))]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for row in [header, *rows]:
        cells = [
            cell.rjust(w) if numeric[i] else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append(("  " + "  ".join(cells)).rstrip())
    return out


def _is_number(text: str) -> bool:
    return re.fullmatch(r"-?[0-9,]+(?:\.[0-9]+)?%?", text) is not None


def _inline(counts: dict[str, int]) -> str:
    return " ".join(f"{k}:{v:,}" for k, v in counts.items())


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"
