"""Attack campaigns, one module per family; :data:`GENERATORS` covers every attack type."""

from __future__ import annotations

from collections.abc import Callable

from apibehave.schema import ATTACK_TYPES
from apibehave.simulate.batch import Batch
from apibehave.simulate.campaigns import (
    credentials,
    floods,
    harvesting,
    misuse,
    payloads,
    stolen,
    takeover,
)
from apibehave.simulate.campaigns.base import CampaignContext

GENERATORS: dict[str, Callable[[CampaignContext], Batch]] = {
    **credentials.GENERATORS,
    **stolen.GENERATORS,
    **takeover.GENERATORS,
    **harvesting.GENERATORS,
    **floods.GENERATORS,
    **payloads.GENERATORS,
    **misuse.GENERATORS,
}
"""Attack type -> the function that generates one campaign of it."""

IDENTIFIER_TO_BLOCK: dict[str, str] = {
    "login_attack": "ip",
    "credential_stuffing": "ip",
    "login_ddos": "ip",
    "data_exfiltration": "token",
    "content_scraping": "ip",
    "stolen_token": "token",
    "stolen_cookie": "cookie",
    "stolen_api_key": "api_key",
    "account_takeover": "token",
    "api_memory_attack": "ip",
    "cookie_dos": "cookie",
    "probing": "ip",
    "api_ddos": "ip",
    "api_dos": "ip",
    "extreme_client_activity": "token",
    "data_deletion": "token",
    "data_poisoning": "token",
    "sequence_attack": "token",
    "header_manipulation": "ip",
    "query_manipulation": "ip",
    "injection": "ip",
    "enumeration": "token",
    "excessive_errors": "ip",
    "invalid_api": "ip",
    "decoy": "ip",
}
"""The identifier an enforcer should block for each attack type (``attack_identifier``)."""

_missing = set(ATTACK_TYPES) - set(GENERATORS)
if _missing:  # pragma: no cover - a guard for whoever adds an attack type
    raise ImportError(f"no campaign generator for {sorted(_missing)}")

__all__ = ["GENERATORS", "IDENTIFIER_TO_BLOCK", "CampaignContext"]
