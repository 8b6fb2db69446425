"""The report routes' answers, built from what the enforcer remembers.

* attacks: the recent new blocks, filtered by attack type, API and time range;
* forensics: one identifier's recent calls (total, its IPs with counts, methods, URLs,
  APIs, statuses, first and last seen) and the evidence of its blocks and list entries;
* usage: :func:`apibehave.reports.usage.usage_report` over the recent calls;
* training: each API's status in the serving bundle.

Reports cover what is in memory (``recent_calls`` and ``attack_records`` settings); the
call log holds everything for offline reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import pandas as pd

from apibehave.enforce.calllog import LOG_COLUMNS
from apibehave.enforce.digest import Digester, is_digest
from apibehave.enforce.memory import AttackRecord
from apibehave.enforce.timefmt import iso_ns
from apibehave.reports.usage import usage_report
from apibehave.schema.catalogue import Catalogue
from apibehave.schema.events import IDENTIFIER_COLUMNS, normalize_events

_POSITION = {name: i for i, name in enumerate(LOG_COLUMNS)}
TOP_URLS = 50


def attack_report(
    records: Iterable[AttackRecord],
    *,
    attack_type: str | None = None,
    api: str | None = None,
    since_ns: int | None = None,
    until_ns: int | None = None,
    mode: str | None = None,
    limit: int = 1000,
) -> dict[str, Any]:
    """Return recent attacks matching the filters, newest first, with counts by type."""
    chosen = [
        r
        for r in records
        if (attack_type is None or r.attack_type == attack_type)
        and (api is None or r.api == api)
        and (since_ns is None or r.ts_ns >= since_ns)
        and (until_ns is None or r.ts_ns < until_ns)
        and (mode is None or r.mode == mode)
    ]
    by_type = Counter(r.attack_type or "unknown" for r in chosen)
    by_api = Counter(r.api or "(none)" for r in chosen)
    chosen.sort(key=lambda r: r.ts_ns, reverse=True)
    return {
        "total": len(chosen),
        "by_type": dict(by_type.most_common()),
        "by_api": dict(by_api.most_common()),
        "attacks": [r.to_dict() for r in chosen[:limit]],
    }


def forensics_report(
    kind: str,
    value: str,
    calls: Iterable[tuple],
    attacks: Iterable[AttackRecord],
    list_entries: dict[str, Any],
    digester: Digester | None = None,
) -> dict[str, Any]:
    """Return what is known of one identifier.

    Parameters
    ----------
    kind, value : str
        The identifier (``value`` raw, or its digest for token, cookie and API key).
    calls : iterable of tuple
        Recent call-log rows (raw identifiers).
    attacks : iterable of AttackRecord
        Recent attack records.
    list_entries : dict
        ``{"denylist": entry or None, "allowlist": entry or None}``.
    digester : Digester, optional
        Matches a digest query against raw values.
    """
    position = _POSITION[IDENTIFIER_COLUMNS[kind]]
    by_digest = digester is not None and kind != "ip" and is_digest(value)
    ips: Counter[str] = Counter()
    methods: Counter[str] = Counter()
    urls: Counter[str] = Counter()
    apis: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    first = last = None
    raw_value = value
    for row in calls:
        seen = row[position]
        if seen is None:
            continue
        if by_digest:
            if digester(seen) != value:
                continue
            raw_value = seen
        elif seen != value:
            continue
        ts = row[_POSITION["ts"]]
        first = ts if first is None or ts < first else first
        last = ts if last is None or ts > last else last
        ips[row[_POSITION["client_ip"]]] += 1
        methods[row[_POSITION["method"]]] += 1
        query = row[_POSITION["query"]]
        urls[row[_POSITION["path"]] + (f"?{query}" if query else "")] += 1
        apis[row[_POSITION["api"]] or "(none)"] += 1
        statuses[str(row[_POSITION["status"]])] += 1
        decisions[row[_POSITION["decision"]]] += 1
    evidence = [r.to_dict() for r in attacks if r.identifiers.get(kind) == raw_value]
    return {
        "identifier": {"kind": kind, "value": value},
        "total_calls": sum(methods.values()),
        "first_seen": None if first is None else iso_ns(first),
        "last_seen": None if last is None else iso_ns(last),
        "ips": [{"ip": ip, "count": n} for ip, n in ips.most_common()],
        "methods": dict(methods.most_common()),
        "urls": [{"url": u, "count": n} for u, n in urls.most_common(TOP_URLS)],
        "apis": dict(apis.most_common()),
        "statuses": dict(statuses.most_common()),
        "decisions": dict(decisions.most_common()),
        "evidence": evidence,
        **list_entries,
    }


def usage_from_calls(calls: list[tuple], catalogue: Catalogue, top: int = 10) -> dict[str, Any]:
    """Return the usage report of the recent calls."""
    frame = pd.DataFrame.from_records(calls, columns=list(LOG_COLUMNS))
    frame = frame.drop(columns=["decision", "attack_type"])
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="ns", utc=True)
    events = normalize_events(frame, source="recent calls")
    report = usage_report(events, top, catalogue=catalogue)
    report["name"] = "recent calls seen by this enforcer"
    return report


def training_status(manifest: Any, model: Any) -> dict[str, Any]:
    """Return the serving bundle's id and each API's training status and mode."""
    apis: dict[str, Any] = {}
    for name, info in sorted(manifest.apis.items()):
        spec = model.catalogue.get(name)
        apis[name] = {
            **dict(info),
            "mode": None if spec is None else spec.mode,
            "blocks": True if spec is None else spec.blocks,
        }
    for spec in model.catalogue:
        apis.setdefault(
            spec.name,
            {"status": "untrained", "mode": spec.mode, "blocks": spec.blocks},
        )
    return {
        "bundle_id": manifest.bundle_id,
        "created_at": manifest.created_at,
        "feature_spec_hash": manifest.feature_spec_hash,
        "apis": apis,
    }
