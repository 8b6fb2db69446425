"""Replace token, cookie and API-key values by keyed digests at ingest.

With a key, each value ``v`` becomes ``h:`` followed by the first 32 hex digits of
HMAC-SHA256(key, v). The same value always gives the same digest under one key, so the
detectors still see identity and reuse, but raw secrets need not be stored. Values that
already look like digests are left alone, so ingesting a digested file again is harmless.
The key itself is never printed or stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

import pandas as pd

from apibehave.common.errors import UserError

SECRET_COLUMNS = ("token", "cookie", "api_key")
DIGEST_PREFIX = "h:"
DIGEST_HEX_DIGITS = 32
DIGEST_KEY_ENV = "APIBEHAVE_DIGEST_KEY"
_DIGEST_PATTERN = re.compile(rf"^{DIGEST_PREFIX}[0-9a-f]{{{DIGEST_HEX_DIGITS}}}$")


def load_digest_key(key_file: str | os.PathLike[str] | None) -> bytes | None:
    """Return the digest key from ``key_file``, else from ``$APIBEHAVE_DIGEST_KEY``, else None.

    A key file's content is used as bytes with one trailing newline removed.

    Raises
    ------
    UserError
        When the file cannot be read or the key is empty.
    """
    if key_file is not None:
        path = Path(key_file)
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise UserError(f"digest key file {path}: cannot be read ({exc.strerror})") from exc
        key = key.removesuffix(b"\n").removesuffix(b"\r")
        if not key:
            raise UserError(f"digest key file {path} is empty")
        return key
    value = os.environ.get(DIGEST_KEY_ENV)
    if value is None:
        return None
    if not value:
        raise UserError(f"{DIGEST_KEY_ENV} is set but empty")
    return value.encode("utf-8")


def digest_value(value: str, key: bytes) -> str:
    """Return the keyed digest of one secret value (``h:`` + 32 hex digits)."""
    mac = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return DIGEST_PREFIX + mac[:DIGEST_HEX_DIGITS]


def is_digest(value: str) -> bool:
    """Tell whether a value already has the digest form."""
    return bool(_DIGEST_PATTERN.match(value))


def digest_secrets(events: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Return ``events`` with token, cookie and API-key values replaced by digests.

    Each distinct value is digested once; nulls stay null.
    """
    out = events.copy(deep=False)
    for name in SECRET_COLUMNS:
        if name not in out.columns:
            continue
        column = out[name]
        present = column.dropna().unique()
        if len(present) == 0:
            continue
        mapping = {v: (v if is_digest(v) else digest_value(v, key)) for v in present}
        out[name] = column.map(mapping).astype(column.dtype)
    return out
