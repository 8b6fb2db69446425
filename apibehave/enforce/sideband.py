"""Turn sideband bodies and ``auth_request`` headers into the engine's call events.

ASE request body (PingIntelligence sideband; names as in ASE)::

    {"source_ip": "10.1.2.3", "source_port": 51234, "method": "GET",
     "url": "/shop/items?page=2", "http_version": "1.1",
     "headers": [{"host": "shop.example"}, {"authorization": "Bearer t0k"}],
     "user_info": [{"username": "ann"}]}

ASE response body: ``response_code``, ``response_status``, ``http_version``, ``headers``
(``content-length`` gives the response size). A request and its response are paired by
the ``X-CorrelationID`` HTTP header of the sideband call (or the same header inside the
body's ``headers``).

nginx ``auth_request``: the original request comes in ``X-Original-URI``,
``X-Original-Method``, ``X-Real-IP``/``X-Forwarded-For`` (else the peer address),
``X-Original-Host`` or ``X-Forwarded-Host`` (the subrequest's own ``Host`` names the
enforcer, so it is not read; without either the API is resolved on the path alone), and
the forwarded ``Authorization``, ``Cookie`` and API-key headers; ``X-Request-ID`` (nginx
``$request_id``) pairs it with its access-log line.
"""

from __future__ import annotations

from typing import Any

from apibehave.enforce.identifiers import extract_identifiers
from apibehave.schema.catalogue import Catalogue
from apibehave.schema.http_identifiers import first_forwarded_hop, split_target

MAX_HEADERS = 256
"""Headers read from one sideband body at most."""


class BadCallError(Exception):
    """A sideband body or auth request the enforcer cannot read; answers 400.

    Parameters
    ----------
    reason : str
        One line for the client.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_event_time(text: str) -> int:
    """Return epoch nanoseconds of an ``X-Event-Time`` value (decimal epoch seconds), exactly.

    Raises
    ------
    BadCallError
        When the value is not a non-negative decimal number.
    """
    whole, dot, frac = text.strip().partition(".")
    if not whole.isdigit() or (dot and frac and not frac.isdigit()) or len(whole) > 12:
        raise BadCallError("X-Event-Time must be epoch seconds, e.g. 1767225600.25")
    frac = (frac + "000000000")[:9]
    return int(whole) * 1_000_000_000 + int(frac)


def body_headers(raw: Any) -> dict[str, str]:
    """Return a sideband body's ``headers`` (a list of one-key objects, or an object).

    Names are lower-cased; the first value of a repeated name wins.
    """
    items: list[tuple[Any, Any]] = []
    if isinstance(raw, list):
        for entry in raw[:MAX_HEADERS]:
            if isinstance(entry, dict):
                items.extend(entry.items())
    elif isinstance(raw, dict):
        items.extend(list(raw.items())[:MAX_HEADERS])
    elif raw is not None:
        raise BadCallError("'headers' must be a list of one-key objects")
    headers: dict[str, str] = {}
    for name, value in items:
        if isinstance(name, str) and isinstance(value, str | int | float):
            headers.setdefault(name.lower(), str(value))
    return headers


def ase_request_event(body: Any, catalogue: Catalogue) -> tuple[dict[str, Any], str | None]:
    """Return the call event of an ASE request body and its correlation id from the body.

    The event has every column the engine reads except ``ts``.

    Raises
    ------
    BadCallError
        When the body is not a request record.
    """
    if not isinstance(body, dict):
        raise BadCallError("the body must be a JSON object")
    method = _text(body.get("method"))
    url = _text(body.get("url"))
    if method is None or url is None or not method.replace("-", "").isalpha():
        raise BadCallError("a request needs a 'method' (letters) and a 'url'")
    headers = body_headers(body.get("headers"))
    client_ip = first_forwarded_hop(headers.get("x-forwarded-for")) or _text(body.get("source_ip"))
    if client_ip is None:
        raise BadCallError("a request needs 'source_ip'")
    host, path, query = split_target(url)
    payload = body.get("body", body.get("payload"))
    event = build_event(
        catalogue,
        method=method.upper(),
        path=path,
        query=query,
        host=headers.get("host") or host,
        client_ip=client_ip,
        headers=headers,
        username=_username(body.get("user_info")),
        body=payload if isinstance(payload, str) else None,
        req_bytes=_int(headers.get("content-length")),
    )
    return event, headers.get("x-correlationid") or _text(body.get("correlation_id"))


def ase_response_fields(body: Any) -> tuple[int, int, str | None]:
    """Return status, response size and the body's correlation id of an ASE response body.

    Raises
    ------
    BadCallError
        When the body is not a response record.
    """
    if not isinstance(body, dict):
        raise BadCallError("the body must be a JSON object")
    code = _text(body.get("response_code"))
    if code is None or not code.isdigit() or int(code) > 999:
        raise BadCallError("a response needs a numeric 'response_code'")
    headers = body_headers(body.get("headers"))
    correlation = headers.get("x-correlationid") or _text(body.get("correlation_id"))
    return int(code), _int(headers.get("content-length")), correlation


def auth_event(headers: Any, peer: str | None, catalogue: Catalogue) -> dict[str, Any]:
    """Return the call event of an nginx ``auth_request`` subrequest (without ``ts``).

    Parameters
    ----------
    headers : mapping
        The subrequest's headers (case-insensitive lookup, e.g. Starlette's ``Headers``).
    peer : str or None
        The connecting address, used when no client address header is present.
    catalogue : Catalogue
        Resolves the API and its identifier rules.

    Raises
    ------
    BadCallError
        Without ``X-Original-URI``, or with an unreadable method.
    """
    uri = headers.get("x-original-uri")
    if not uri:
        raise BadCallError("auth requests need the X-Original-URI header")
    method = (headers.get("x-original-method") or "GET").strip()
    if not method.replace("-", "").isalpha():
        raise BadCallError("X-Original-Method must be an HTTP method")
    host, path, query = split_target(uri)
    client_ip = (
        (headers.get("x-real-ip") or "").strip()
        or first_forwarded_hop(headers.get("x-forwarded-for"))
        or peer
        or "-"
    )
    lowered = {k.lower(): v for k, v in headers.items()}
    return build_event(
        catalogue,
        method=method.upper(),
        path=path,
        query=query,
        host=lowered.get("x-original-host") or lowered.get("x-forwarded-host") or host,
        client_ip=client_ip,
        headers=lowered,
        username=None,
        body=None,
        req_bytes=_int(lowered.get("x-original-content-length")),
    )  # fmt: skip


def build_event(
    catalogue: Catalogue,
    *,
    method: str,
    path: str,
    query: str | None,
    host: str | None,
    client_ip: str,
    headers: dict[str, str],
    username: str | None,
    body: str | None,
    req_bytes: int,
) -> dict[str, Any]:
    """Return a call event: API resolved by the catalogue, identifiers by its rules."""
    api = catalogue.resolve_api(host, path) if len(catalogue) else None
    spec = catalogue.get(api) if api is not None else None
    rules = catalogue.identifier_rules(api)
    ids = extract_identifiers(
        headers,
        query,
        rules,
        username=username,
        body=body,
        is_login=spec is not None and spec.is_login_path(path),
    )
    return {
        "ts": 0,
        "client_ip": client_ip,
        "method": method,
        "path": path,
        "status": 0,
        "api": api,
        "host": host,
        "query": query,
        "req_bytes": req_bytes,
        "resp_bytes": 0,
        "latency_ms": None,
        "user_agent": headers.get("user-agent"),
        "token": ids["token"],
        "cookie": ids["cookie"],
        "api_key": ids["api_key"],
        "username": ids["username"],
        "body": body,
        "correlation_id": None,
    }


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list | bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text if text and text != "-" else None


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 19 else 0


def _username(user_info: Any) -> str | None:
    entries = user_info if isinstance(user_info, list) else [user_info]
    for entry in entries[:16]:
        if isinstance(entry, dict):
            name = _text(entry.get("username")) or _text(entry.get("user"))
            if name is not None:
                return name
    return None
