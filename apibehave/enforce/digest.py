"""Keyed digests of secret identifiers for the call log.

The same digest as ``apibehave ingest --digest-key-file`` (``h:`` and the first 32 hex
digits of HMAC-SHA256(key, value)), so a call log and an ingested gateway log digested
with one key name a client alike, and ingesting a call log again leaves digests alone.
"""

from __future__ import annotations

import hashlib
import hmac

SECRET_KINDS: tuple[str, ...] = ("token", "cookie", "api_key")
"""Event columns whose values are replaced by digests in the call log."""
DIGEST_PREFIX = "h:"
DIGEST_HEX_DIGITS = 32


class Digester:
    """Digest values under one key, remembering recent ones.

    Parameters
    ----------
    key : bytes
        The HMAC key (never logged).
    cache_size : int
        Distinct values remembered; the memo is cleared when full.
    """

    def __init__(self, key: bytes, cache_size: int = 100_000) -> None:
        self._key = key
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    def __repr__(self) -> str:
        return "Digester(<key hidden>)"

    def __call__(self, value: str | None) -> str | None:
        """Return the digest of ``value`` (None stays None; a digest stays as it is)."""
        if value is None:
            return None
        found = self._cache.get(value)
        if found is not None:
            return found
        if is_digest(value):
            return value
        mac = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        digest = DIGEST_PREFIX + mac[:DIGEST_HEX_DIGITS]
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[value] = digest
        return digest


def is_digest(value: str) -> bool:
    """Tell whether a value already has the digest form."""
    body = value[len(DIGEST_PREFIX) :]
    return (
        value.startswith(DIGEST_PREFIX)
        and len(body) == DIGEST_HEX_DIGITS
        and all(c in "0123456789abcdef" for c in body)
    )
