"""Small HTTP helpers of the enforcer's routes: bounded JSON bodies, JSON answers, tokens."""

from __future__ import annotations

import hmac
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response


class HTTPProblemError(Exception):
    """An answer other than success, with a one-line JSON reason.

    Parameters
    ----------
    status : int
        HTTP status.
    reason : str
        One line for the client.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def json_response(data: Any, status: int = 200) -> Response:
    """Return ``data`` as a compact JSON answer."""
    try:
        body = json.dumps(data, separators=(",", ":"), default=_plain, allow_nan=False)
    except ValueError:  # NaN or infinity somewhere (e.g. in evidence): JSON has no such numbers
        body = json.dumps(_finite(data), separators=(",", ":"), default=_plain, allow_nan=False)
    return Response(body.encode(), status, media_type="application/json")


def _plain(value: Any) -> Any:
    """JSON form of what ``json`` does not know: numpy scalars and arrays, else text."""
    item = getattr(value, "tolist", None)
    return item() if callable(item) else str(value)


def _finite(data: Any) -> Any:
    """Return ``data`` with every non-finite float replaced by None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    if callable(getattr(data, "tolist", None)):  # numpy scalars and arrays
        return _finite(data.tolist())
    return data


def problem_response(problem: HTTPProblemError) -> Response:
    """Return the JSON answer of a problem."""
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    body = json.dumps({"error": problem.reason}, separators=(",", ":")).encode()
    return Response(body, problem.status, headers=headers, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """Read a request body of at most ``limit`` bytes (413 past it)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPProblemError(400, "bad Content-Length")
        if int(declared) > limit:
            raise HTTPProblemError(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPProblemError(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int, *, allow_empty: bool = False) -> Any:
    """Read and parse a JSON body (400 when it is not JSON, 413 when too large)."""
    raw = await read_body(request, limit)
    if not raw.strip():
        if allow_empty:
            return None
        raise HTTPProblemError(400, "a JSON body is required")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise HTTPProblemError(400, "the body is not valid JSON") from exc


def check_bearer(request: Request, token: str) -> None:
    """Require ``Authorization: Bearer <token>`` (401 otherwise; constant-time compare)."""
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        raise HTTPProblemError(401, "admin routes need Authorization: Bearer <admin token>")


def check_header_token(request: Request, header: str, token: str | None) -> None:
    """Require header ``header`` to equal ``token`` when a token is set (401 otherwise)."""
    if token is None:
        return
    given = request.headers.get(header, "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPProblemError(401, f"sideband calls need the {header} header")
