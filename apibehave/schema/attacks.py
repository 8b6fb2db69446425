"""The attack vocabulary (CONTRACT section 2): one definition used everywhere.

The values of ``label`` in labelled data and of ``attack_type`` in decisions come from
here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AttackType(StrEnum):
    """Every attack type apibehave names, as it appears in files."""

    LOGIN_ATTACK = "login_attack"
    CREDENTIAL_STUFFING = "credential_stuffing"
    LOGIN_DDOS = "login_ddos"
    DATA_EXFILTRATION = "data_exfiltration"
    CONTENT_SCRAPING = "content_scraping"
    STOLEN_TOKEN = "stolen_token"
    STOLEN_COOKIE = "stolen_cookie"
    STOLEN_API_KEY = "stolen_api_key"
    ACCOUNT_TAKEOVER = "account_takeover"
    API_MEMORY_ATTACK = "api_memory_attack"
    COOKIE_DOS = "cookie_dos"
    PROBING = "probing"
    API_DDOS = "api_ddos"
    API_DOS = "api_dos"
    EXTREME_CLIENT_ACTIVITY = "extreme_client_activity"
    DATA_DELETION = "data_deletion"
    DATA_POISONING = "data_poisoning"
    SEQUENCE_ATTACK = "sequence_attack"
    HEADER_MANIPULATION = "header_manipulation"
    QUERY_MANIPULATION = "query_manipulation"
    INJECTION = "injection"
    ENUMERATION = "enumeration"
    EXCESSIVE_ERRORS = "excessive_errors"
    INVALID_API = "invalid_api"
    DECOY = "decoy"


@dataclass(frozen=True)
class AttackInfo:
    """What an attack type means and its nearest PingIntelligence attack IDs."""

    attack_type: AttackType
    pingintelligence_ids: tuple[int, ...]
    summary: str


ATTACKS: dict[AttackType, AttackInfo] = {
    info.attack_type: info
    for info in (
        AttackInfo(AttackType.LOGIN_ATTACK, (2,), "one client hammering a login"),
        AttackInfo(AttackType.CREDENTIAL_STUFFING, (), "many accounts tried, often from many IPs"),
        AttackInfo(AttackType.LOGIN_DDOS, (3,), "login flooded from many clients"),
        AttackInfo(AttackType.DATA_EXFILTRATION, (1, 21, 39), "unusually large data pulled out"),
        AttackInfo(AttackType.CONTENT_SCRAPING, (25, 26, 27, 28), "systematic copying of content"),
        AttackInfo(AttackType.STOLEN_TOKEN, (4, 16), "an access token used by someone else"),
        AttackInfo(AttackType.STOLEN_COOKIE, (4, 17), "a session cookie used by someone else"),
        AttackInfo(AttackType.STOLEN_API_KEY, (31,), "an API key used by someone else"),
        AttackInfo(AttackType.ACCOUNT_TAKEOVER, (34, 35), "an account used from a new origin"),
        AttackInfo(AttackType.API_MEMORY_ATTACK, (5, 6, 40), "oversized or flooding payloads"),
        AttackInfo(AttackType.COOKIE_DOS, (7,), "one cookie flooding the API"),
        AttackInfo(AttackType.PROBING, (8, 18, 19, 20, 32, 33), "probing, fuzzing, replay"),
        AttackInfo(AttackType.API_DDOS, (9, 13), "distributed flood of an API"),
        AttackInfo(AttackType.API_DOS, (12,), "one client flooding an API"),
        AttackInfo(
            AttackType.EXTREME_CLIENT_ACTIVITY, (10, 11), "a client far beyond normal activity"
        ),
        AttackInfo(AttackType.DATA_DELETION, (14,), "unusual deletes"),
        AttackInfo(AttackType.DATA_POISONING, (15,), "unusual writes of bad data"),
        AttackInfo(AttackType.SEQUENCE_ATTACK, (36,), "calls in an order no client uses"),
        AttackInfo(AttackType.HEADER_MANIPULATION, (37,), "tampered or abnormal headers"),
        AttackInfo(AttackType.QUERY_MANIPULATION, (41,), "tampered query parameters"),
        AttackInfo(AttackType.INJECTION, (), "SQL, command, XSS or traversal payloads"),
        AttackInfo(AttackType.ENUMERATION, (), "object-ID walking (BOLA)"),
        AttackInfo(AttackType.EXCESSIVE_ERRORS, (), "a client causing many errors"),
        AttackInfo(AttackType.INVALID_API, (101,), "calls to APIs or methods that do not exist"),
        AttackInfo(AttackType.DECOY, (100,), "a call to a decoy path"),
    )
}

ATTACK_TYPES: tuple[str, ...] = tuple(a.value for a in AttackType)
"""All attack type names, in contract order."""

NORMAL_LABEL = "normal"
LABELS: tuple[str, ...] = (NORMAL_LABEL, *ATTACK_TYPES)
"""Every allowed value of the ``label`` column."""


def is_attack_type(value: object) -> bool:
    """Return whether ``value`` names an attack type of the contract."""
    return isinstance(value, str) and value in ATTACK_TYPES
