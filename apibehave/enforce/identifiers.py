"""A call's identifiers from its headers, by the API catalogue's rules (CONTRACT section 5).

Defaults where the catalogue says nothing else: token from ``Authorization: Bearer``, API
key from ``X-API-Key`` or the ``api_key`` query parameter, cookie from the catalogue's
cookie name (else the first cookie), username from ``user_info`` or ``X-Username``. The
same rules as the log readers of :mod:`apibehave.ingest`, so a call logged and ingested
carries the identifiers the enforcer saw.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from apibehave.schema.catalogue import IdentifierRules
from apibehave.schema.http_identifiers import (
    cookie_value,
    query_parameter,
)

DEFAULT_RULES = IdentifierRules()


def extract_identifiers(
    headers: dict[str, str],
    query: str | None,
    rules: IdentifierRules,
    *,
    username: str | None = None,
    body: str | None = None,
    is_login: bool = False,
) -> dict[str, str | None]:
    """Return ``token``, ``cookie``, ``api_key`` and ``username`` of one call.

    Parameters
    ----------
    headers : dict
        Request headers, names in lower case.
    query : str or None
        Raw query string.
    rules : IdentifierRules
        The call's API's rules (the defaults for an unknown API).
    username : str, optional
        A user name the gateway already knows (ASE ``user_info``); it wins.
    body : str, optional
        The request body (read for the login body field on login calls).
    is_login : bool
        Whether the call is a login call of its API.
    """
    token = scheme_token(headers.get(rules.token_header.lower()), rules.token_scheme)
    cookie = cookie_value(headers.get("cookie"), rules.cookie_name)
    api_key = None
    if rules.api_key_header:
        api_key = headers.get(rules.api_key_header.lower()) or None
    if api_key is None and rules.api_key_query:
        api_key = query_parameter(query, rules.api_key_query)
    if not username and rules.username_header:
        username = headers.get(rules.username_header.lower()) or None
    if not username and rules.username_jwt_claim and token:
        username = jwt_claim(token, rules.username_jwt_claim)
    if not username and is_login and rules.username_login_body_field and body:
        username = body_field(body, rules.username_login_body_field)
    return {"token": token, "cookie": cookie, "api_key": api_key, "username": username or None}


def scheme_token(value: str | None, scheme: str) -> str | None:
    """Return the credential of ``<scheme> <credential>`` (scheme case-insensitive), else None."""
    if not value:
        return None
    given, _, token = value.strip().partition(" ")
    token = token.strip()
    if given.lower() != scheme.lower() or not token:
        return None
    return token


def jwt_claim(token: str, claim: str) -> str | None:
    """Return a string claim of a JWT's payload, read without verification, else None."""
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 8192:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    value = payload.get(claim) if isinstance(payload, dict) else None
    return value if isinstance(value, str) and value else None


def body_field(body: str, field: str) -> str | None:
    """Return a string field of a JSON object or form-encoded body, else None."""
    text = body.strip()
    value: Any = None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        value = data.get(field) if isinstance(data, dict) else None
    else:
        value = query_parameter(text, field)
    return value if isinstance(value, str) and value else None
