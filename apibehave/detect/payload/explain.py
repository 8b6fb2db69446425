"""Evidence for a payload verdict, and the attack type it points to.

The evidence of one call is plain data::

    {
      "api": "shop", "learned_api": true,
      "risk": 23.4, "threshold": 9.1, "flagged": true, "deviation_pct": 257.1,
      "attack_type": "injection",
      "findings": [
        {"field": "query", "name": "id", "endpoint": "/items", "value": "1' OR '1'='1",
         "kind": "characters", "cost": 21.8,
         "expected": {"type": "integer", "length": [1, 3], "charset": "0-9", "seen": 2000},
         "parts": [{"kind": "characters", "class": "space", "seen_in": 0, "cost": 8.3}, ...]},
        ...
      ]
    }

``findings`` are the largest deviations first, each naming the field (CONTRACT section 1
column) and parameter, the observed value (truncated), what was learned and the cost in
nats; ``deviation_pct`` is the risk as a percentage of the threshold.

:func:`attack_type_of` maps evidence to one attack type of CONTRACT section 2: tampering
in the User-Agent, cookie or Host is ``header_manipulation``; values that, fully decoded,
carry injection syntax (quotes, tags, statement separators, comments, template or shell
expansions, traversal) are ``injection``; an unknown endpoint or method, a malformed path
or body value is ``probing`` (fuzzing, hidden files, traversal in the path, a NUL byte);
other deviations in the query are ``query_manipulation``. The markers only *name* a deviation
the learned model already found; they decide nothing on their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from apibehave.detect.payload.tokenize import HEADER_FIELDS, PATH, QUERY
from apibehave.schema.attacks import AttackType

SHOWN_CHARS = 80
"""Observed values longer than this are truncated in evidence."""

_INJECTION = re.compile(
    r"['\"`<>;|]|--|/\*|\$\{|\$\(|\{\{|\.\.[/\\]"
    r"|\b(?:select|union|insert|update|delete|drop|sleep|exec|script|alert|onerror|onload"
    r"|javascript|passwd)\b",
    re.IGNORECASE,
)
_TRAVERSAL = re.compile(r"\.\.[/\\]")


def fully_decoded(value: str, rounds: int = 3) -> str:
    """Return a value percent-decoded until it stops changing (at most ``rounds`` times)."""
    for _ in range(rounds):
        decoded = unquote(value.replace("+", " "))
        if decoded == value:
            break
        value = decoded
    return value


def truncate(value: str, limit: int = SHOWN_CHARS) -> str:
    """Return ``value`` cut to ``limit`` characters, saying how long it was."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}... ({len(value)} chars)"


def build_evidence(
    *,
    api: str,
    risk: float,
    threshold: float,
    deviations: list[dict[str, Any]],
    learned: bool,
    top: int = 5,
) -> dict[str, Any]:
    """Assemble the evidence of one call (layout in the module notes).

    Parameters
    ----------
    api : str
        The call's API.
    risk, threshold : float
        The call's risk and the detector's threshold.
    deviations : list of dict
        Every deviation found (``field``, ``name``, ``value``, ``kind``, ``cost``, ...).
    learned : bool
        Whether the API had its own profile (else the pooled one judged it).
    top : int
        How many findings to keep.

    Returns
    -------
    dict
    """
    ranked = sorted(deviations, key=lambda d: -d["cost"])[:top]
    findings = []
    for dev in ranked:
        finding = dict(dev)
        finding["value"] = truncate(str(dev["value"]))
        finding["cost"] = round(float(dev["cost"]), 3)
        for part in finding.get("parts", ()):
            part["cost"] = round(float(part["cost"]), 3)
        findings.append(finding)
    evidence: dict[str, Any] = {
        "api": api,
        "learned_api": learned,
        "risk": float(risk),
        "threshold": float(threshold),
        "flagged": bool(risk > threshold),
        "deviation_pct": round(100.0 * risk / threshold, 1) if threshold > 0 else None,
        "findings": findings,
    }
    # attribution reads the full values, not the truncated ones shown
    evidence["attack_type"] = attack_type_of({"findings": ranked})
    return evidence


def attack_type_of(evidence: Mapping[str, Any]) -> str | None:
    """Return the attack type (CONTRACT section 2) the evidence points to, or None.

    Parameters
    ----------
    evidence : mapping
        Output of :func:`build_evidence` (its ``findings`` are read, largest first).

    Returns
    -------
    str or None
        ``header_manipulation``, ``injection``, ``probing`` or ``query_manipulation``;
        None when there is no finding.
    """
    findings = list(evidence.get("findings") or ())
    if not findings:
        return None
    first = findings[0]
    if first["field"] in HEADER_FIELDS:
        return AttackType.HEADER_MANIPULATION.value
    for finding in findings[:3]:
        if finding["field"] in HEADER_FIELDS:
            continue
        value = fully_decoded(str(finding["value"]))
        if finding["field"] == PATH:
            if _TRAVERSAL.search(value):
                return AttackType.PROBING.value
            if finding["kind"] in ("endpoint", "method"):
                continue
        if _INJECTION.search(value):
            return AttackType.INJECTION.value
    if first["field"] == QUERY:
        return AttackType.QUERY_MANIPULATION.value
    return AttackType.PROBING.value
