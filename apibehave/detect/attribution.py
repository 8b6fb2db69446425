"""Which attack a crossed feature points to, read from the feature's declaration.

Attribution is derived from what a feature measures (its identifier, aggregation, column
and predicate), not from its name, so a team's own feature sets are attributed too. When
several features of one call cross their thresholds, :func:`attack_type_for_crossing`
settles on one type: the most specific among the extreme crossings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from apibehave.features.spec import FeatureSpec
from apibehave.schema.attacks import AttackType

Direction = Literal["high", "low"]

_STOLEN_BY_IDENTIFIER = {
    "token": AttackType.STOLEN_TOKEN,
    "cookie": AttackType.STOLEN_COOKIE,
    "api_key": AttackType.STOLEN_API_KEY,
    "username": AttackType.ACCOUNT_TAKEOVER,
    # many user agents behind one address: a rotating bot (or a shared address), a
    # symptom of many attacks rather than an attack of its own
    "ip": AttackType.EXTREME_CLIENT_ACTIVITY,
}
_FLOOD_WINDOW_S = 60


def risk_direction(spec: FeatureSpec) -> Direction:
    """Return ``low`` where a small value is suspicious (mean and least inter-arrival time).

    The inter-arrival coefficient of variation reads as burstiness (high is suspicious):
    it is 0 for a client with fewer than two gaps, so "low" would flag every quiet client.
    """
    low = spec.aggregation in ("interarrival_mean", "interarrival_min")
    return "low" if low else "high"


def attack_type_of(spec: FeatureSpec) -> AttackType:
    """Return the attack type a crossing of this feature's threshold points to.

    Parameters
    ----------
    spec : FeatureSpec
        The feature that crossed.

    Returns
    -------
    AttackType
        The contract attack type (section 2).
    """
    aggregation, column, where = spec.aggregation, spec.column, spec.where
    if where in ("login", "login_failure"):
        if aggregation == "distinct" and column == "username":
            return AttackType.CREDENTIAL_STUFFING
        return AttackType.LOGIN_ATTACK
    if aggregation == "distinct":
        if column in ("client_ip", "user_agent"):
            return _STOLEN_BY_IDENTIFIER[spec.identifier]
        if column == "object_id":
            return AttackType.CONTENT_SCRAPING
        if column == "endpoint":
            return AttackType.PROBING
        if column == "username":
            return AttackType.CREDENTIAL_STUFFING
        return AttackType.EXTREME_CLIENT_ACTIVITY
    if aggregation in ("sum", "max"):
        return (
            AttackType.API_MEMORY_ATTACK if column == "req_bytes" else AttackType.DATA_EXFILTRATION
        )
    if aggregation == "novelty":
        return {
            "endpoint": AttackType.PROBING,
            "query": AttackType.QUERY_MANIPULATION,
            "sequence": AttackType.SEQUENCE_ATTACK,
        }[column or "endpoint"]
    if aggregation in ("ratio", "count") and where is not None:
        return {
            "method_delete": AttackType.DATA_DELETION,
            "method_put": AttackType.DATA_POISONING,
            "method_post": AttackType.DATA_POISONING,
            "method_patch": AttackType.DATA_POISONING,
            "method_write": AttackType.DATA_POISONING,
            "status_4xx": AttackType.PROBING,
            "status_404": AttackType.PROBING,
            "status_401_403": AttackType.ENUMERATION,
            "status_5xx": AttackType.EXCESSIVE_ERRORS,
            "status_error": AttackType.EXCESSIVE_ERRORS,
        }.get(where, AttackType.EXCESSIVE_ERRORS)
    return _flood_type(spec)


def _flood_type(spec: FeatureSpec) -> AttackType:
    """Plain call counts and inter-arrival times: floods and extreme activity."""
    if spec.identifier == "cookie":
        return AttackType.COOKIE_DOS
    short = spec.window_s <= _FLOOD_WINDOW_S or spec.aggregation.startswith("interarrival")
    if spec.identifier == "ip" and short:
        return AttackType.API_DOS
    return AttackType.EXTREME_CLIENT_ACTIVITY


SPECIFICITY: tuple[AttackType, ...] = (
    AttackType.DECOY,
    AttackType.INJECTION,
    AttackType.API_MEMORY_ATTACK,
    AttackType.CREDENTIAL_STUFFING,
    AttackType.LOGIN_ATTACK,
    AttackType.LOGIN_DDOS,
    AttackType.STOLEN_TOKEN,
    AttackType.STOLEN_COOKIE,
    AttackType.STOLEN_API_KEY,
    AttackType.ACCOUNT_TAKEOVER,
    AttackType.DATA_EXFILTRATION,
    AttackType.DATA_DELETION,
    AttackType.ENUMERATION,
    AttackType.CONTENT_SCRAPING,
    AttackType.DATA_POISONING,
    AttackType.QUERY_MANIPULATION,
    AttackType.HEADER_MANIPULATION,
    AttackType.SEQUENCE_ATTACK,
    AttackType.INVALID_API,
    AttackType.PROBING,
    AttackType.EXCESSIVE_ERRORS,
    AttackType.COOKIE_DOS,
    AttackType.API_DOS,
    AttackType.API_DDOS,
    AttackType.EXTREME_CLIENT_ACTIVITY,
)
"""Attack types from the most to the least specific: the first one crossed explains a call."""
_RANK = {attack: i for i, attack in enumerate(SPECIFICITY)}


def specificity_rank(attack: str | AttackType) -> int:
    """Position of an attack type in :data:`SPECIFICITY` (0 is the most specific)."""
    return _RANK[AttackType(attack)]


def attack_type_for_crossing(
    crossed: Sequence[tuple[FeatureSpec, bool]],
) -> tuple[AttackType, FeatureSpec]:
    """Settle on one attack type for a call whose features crossed thresholds.

    Parameters
    ----------
    crossed : sequence of (FeatureSpec, bool)
        Each crossed feature and whether it crossed its *extreme* threshold.

    Returns
    -------
    (AttackType, FeatureSpec)
        The attributed type and the feature that carries it (whose identifier is blocked).

    Notes
    -----
    Extreme crossings speak first (normal ones only when nothing is extreme). Among them
    the most specific attack type wins (:data:`SPECIFICITY`: what names a behaviour, such
    as login attempts or object-id breadth, explains a flood better than the volume does),
    ties going to the feature name. Then the whole call is read (crossings at any level):

    - a *symptom* (volume, object-id breadth, error shares, an odd call order: what many
      attacks show) yields to a *behaviour* crossed beside it (login attempts, writes,
      deletes, payloads, a credential shared across addresses): a client deleting objects
      one by one is data deletion before it is scraping;
    - breadth over object ids with many 401/403/404 answers is enumeration, with other
      errors excessive errors;
    - a login attack or credential stuffing that also floods (an extreme rate) is login DDoS.
    """
    if not crossed:
        raise ValueError("attack_type_for_crossing needs at least one crossed feature")
    speaking = [spec for spec, extreme in crossed if extreme] or [spec for spec, _ in crossed]
    carrier = _most_specific(speaking)
    attack = attack_type_of(carrier)
    if attack in _SYMPTOMS:
        behaviour = [spec for spec, _ in crossed if attack_type_of(spec) in _BEHAVIOURS]
        if behaviour:  # a named behaviour explains a symptom (volume, breadth, odd order)
            carrier = _most_specific(behaviour)
            attack = attack_type_of(carrier)
    errors = [spec.where for spec, _ in crossed if spec.where in _ERROR_PREDICATES]
    if attack is AttackType.CONTENT_SCRAPING and errors:
        if any(where in _NOT_FOUND_OR_DENIED for where in errors):
            return AttackType.ENUMERATION, carrier
        return AttackType.EXCESSIVE_ERRORS, carrier
    return attack, carrier


def _most_specific(specs: Sequence[FeatureSpec]) -> FeatureSpec:
    return min(specs, key=lambda spec: (_RANK[attack_type_of(spec)], spec.name))


_SYMPTOMS = (
    AttackType.CONTENT_SCRAPING,
    AttackType.SEQUENCE_ATTACK,
    AttackType.EXTREME_CLIENT_ACTIVITY,
    AttackType.API_DOS,
    AttackType.EXCESSIVE_ERRORS,
    AttackType.PROBING,
    AttackType.ENUMERATION,
)
"""Types read from volume, breadth, error shares or call order: what many attacks show."""
_BEHAVIOURS = (
    AttackType.INJECTION,
    AttackType.API_MEMORY_ATTACK,
    AttackType.CREDENTIAL_STUFFING,
    AttackType.LOGIN_ATTACK,
    AttackType.STOLEN_TOKEN,
    AttackType.STOLEN_COOKIE,
    AttackType.STOLEN_API_KEY,
    AttackType.ACCOUNT_TAKEOVER,
    AttackType.DATA_DELETION,
)
"""Types read from what a client does (logins, writes, payloads, shared credentials)."""
_NOT_FOUND_OR_DENIED = ("status_401_403", "status_404")


_ERROR_PREDICATES = ("status_401_403", "status_404", "status_4xx", "status_5xx", "status_error")
