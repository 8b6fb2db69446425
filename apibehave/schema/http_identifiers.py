"""Pull client identifiers out of HTTP headers and query strings (one definition).

Shared by the ingest readers that see headers (nginx JSON, sideband JSON, CSIC dumps) and
by the enforcer, which reads the same headers live, with the contract's defaults (CONTRACT
section 5): token from ``Authorization: Bearer``, API key from the ``X-API-Key`` header or
the ``api_key`` query parameter, cookie as the first cookie's value (or a named cookie's),
username from the ``X-Username`` header.
"""

from __future__ import annotations

from urllib.parse import parse_qsl


def bearer_token(authorization: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def cookie_value(cookie_header: str | None, name: str | None = None) -> str | None:
    """Return the value of cookie ``name`` (or of the first cookie) in a ``Cookie`` header."""
    if not cookie_header:
        return None
    for part in cookie_header.split(";"):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name is None or key.strip() == name:
            value = value.strip()
            return value or None
    return None


def query_parameter(query: str | None, name: str) -> str | None:
    """Return the first value of parameter ``name`` in a raw query string, else None."""
    if not query or name not in query:
        return None
    for key, value in parse_qsl(query, keep_blank_values=False):
        if key == name:
            return value
    return None


def first_forwarded_hop(forwarded_for: str | None) -> str | None:
    """Return the first address of an ``X-Forwarded-For`` value, else None."""
    if not forwarded_for:
        return None
    hop = forwarded_for.split(",", 1)[0].strip()
    return hop if hop and hop != "-" else None


def split_target(target: str) -> tuple[str | None, str, str | None]:
    """Split a request target into host (absolute form only), path and query.

    ``http://h:80/a/b?x=1`` gives ``("h:80", "/a/b", "x=1")``; ``/a?`` gives
    ``(None, "/a", None)``; a path-less target gives path ``/``.
    """
    host = None
    rest = target
    scheme, sep, after = target.partition("://")
    if sep and scheme and scheme.replace("+", "").isalnum() and "/" not in scheme:
        cut = len(after)
        for mark in "/?":
            pos = after.find(mark)
            if 0 <= pos < cut:
                cut = pos
        host, rest = after[:cut] or None, after[cut:]
    path, _, query = rest.partition("?")
    return host, path or "/", query or None
