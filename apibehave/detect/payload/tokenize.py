"""Split one call into the values a payload detector judges: its items.

An *item* is one value at one place of the request: a path, an id-like path segment, a
query or form parameter, a JSON leaf of the body, the User-Agent, the session cookie, the
Host header or the user name. Each carries the field it came from (CONTRACT section 1
column), a parameter name within that field and the value decoded once (percent escapes,
and ``+`` as space in queries and forms; UTF-8, else Latin-1).

Decoding only once is deliberate: what is still encoded after one pass (``%2527``) is
itself a sign of tampering, and the learned character model sees it as a ``%``.

Rules, in order, for the body: text starting with ``{`` or ``[`` that parses as JSON is
flattened to ``a.b[]`` style names; text with ``=`` and no line break is read as a form;
anything else (also JSON too deeply nested to parse) is one item named ``""``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from apibehave.schema.paths import ID_PLACEHOLDER, is_id_segment

PATH = "path"
QUERY = "query"
BODY = "body"
USER_AGENT = "user_agent"
COOKIE = "cookie"
HOST = "host"
USERNAME = "username"

PARAMETER_FIELDS = (QUERY, BODY)
"""Fields whose items are named parameters (they share one value model per name)."""
SINGLE_FIELDS = (USER_AGENT, COOKIE, HOST, USERNAME)
"""Fields that hold one value per call; each has a presence model too."""
HEADER_FIELDS = (USER_AGENT, COOKIE, HOST)
"""Fields that come from request headers."""
CLIENT_FIELDS = (USER_AGENT, COOKIE, USERNAME)
"""Fields that describe the client rather than the API: judged against all APIs pooled,
and a value never seen is no deviation by itself (new clients are normal)."""
COLUMNS = ("api", "method", PATH, QUERY, BODY, *SINGLE_FIELDS)
"""Event columns the detector reads (all optional but ``path``)."""

WHOLE_PATH = ""
"""Name of the item holding the whole decoded path."""
MAX_ITEMS = 200
"""At most this many parameter or JSON items are read from one query or body."""
MAX_DECODE = 65_536
"""Longer texts are decoded only this far (decoding is the costly step on huge inputs)."""
MAX_LIST_ITEMS = 20
"""At most this many elements of one JSON list are read."""
MAX_DEPTH = 16
"""JSON nested deeper than this becomes one item named ``<name>{deep}``."""
DEEP = "{deep}"
MAX_DEEP_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Item:
    """One value of a request.

    Attributes
    ----------
    field : str
        Where it came from: ``path``, ``query``, ``body``, ``user_agent``, ``cookie``,
        ``host`` or ``username``.
    name : str
        Parameter name within the field: the query or form name, the flattened JSON
        name, ``<segment>/{id}`` for an id-like path segment, ``""`` for the whole path
        or a single-valued field.
    value : str
        The value decoded once.
    """

    field: str
    name: str
    value: str


def text_or_none(value: Any) -> str | None:
    """Return ``value`` when it is a string, else None (NaN, None, pandas NA)."""
    return value if isinstance(value, str) else None


def decode_once(text: str, *, plus: bool) -> str:
    """Undo one level of percent-encoding (and ``+`` as space when ``plus``).

    Parameters
    ----------
    text : str
        As sent.
    plus : bool
        Whether ``+`` means a space (queries and forms).

    Returns
    -------
    str
        Decoded as UTF-8 when valid, else as Latin-1; invalid escapes stay as they are.
        Only the first :data:`MAX_DECODE` characters are decoded (the rest is kept as is).
    """
    if plus and "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    rest = ""
    if len(text) > MAX_DECODE:
        text, rest = text[:MAX_DECODE], text[MAX_DECODE:]
    raw = unquote_to_bytes(text)
    try:
        return raw.decode("utf-8") + rest
    except UnicodeDecodeError:
        return raw.decode("latin-1") + rest


@functools.lru_cache(maxsize=1 << 15)
def path_items(path: str) -> tuple[str, tuple[Item, ...]]:
    """Return the endpoint template of a path and its items (cached per path).

    Parameters
    ----------
    path : str
        URL path without the query.

    Returns
    -------
    tuple
        ``(template, items)``: the template as ``apibehave.schema.paths.template_path``
        gives it, then the whole decoded path and one item per id-like segment, named
        after the segment before it (``products/{id}``).
    """
    segments = path.split("/")
    template: list[str] = []
    items = [Item(PATH, WHOLE_PATH, decode_once(path, plus=False))]
    for segment in segments:
        if is_id_segment(segment):
            before = template[-1] if template else ""
            items.append(Item(PATH, f"{before}/{ID_PLACEHOLDER}", decode_once(segment, plus=False)))
            template.append(ID_PLACEHOLDER)
        else:
            template.append(segment)
    return "/".join(template), tuple(items)


def form_items(text: str, field: str) -> list[Item]:
    """Split ``a=1&b=2`` into items (names and values decoded once).

    A piece without ``=`` is a name with an empty value; empty pieces are skipped.
    """
    items: list[Item] = []
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        items.append(Item(field, decode_once(name, plus=True), decode_once(value, plus=True)))
        if len(items) >= MAX_ITEMS:
            break
    return items


def _flatten(node: Any, name: str, out: list[Item], depth: int = 0) -> None:
    if len(out) >= MAX_ITEMS:
        return
    if depth >= MAX_DEPTH and isinstance(node, dict | list):
        out.append(Item(BODY, f"{name}{DEEP}", json.dumps(node)[:MAX_DEEP_CHARS]))
    elif isinstance(node, dict):
        for key, child in node.items():
            _flatten(child, f"{name}.{key}" if name else str(key), out, depth + 1)
    elif isinstance(node, list):
        for child in node[:MAX_LIST_ITEMS]:
            _flatten(child, f"{name}[]", out, depth + 1)
    elif isinstance(node, str):
        out.append(Item(BODY, name, node))
    else:
        out.append(Item(BODY, name, json.dumps(node)))


def body_items(body: str) -> list[Item]:
    """Split a request body into items (JSON leaves, form fields or the whole text)."""
    stripped = body.strip()
    if stripped[:1] in ("{", "["):
        try:
            parsed = json.loads(stripped)
        except (ValueError, RecursionError):
            return [Item(BODY, "", body)]
        out: list[Item] = []
        _flatten(parsed, "", out)
        return out
    if "=" in stripped and "\n" not in stripped:
        return form_items(stripped, BODY)
    return [Item(BODY, "", body)]
