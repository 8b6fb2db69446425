"""The enforcer's settings: one frozen record, from the command line or the environment.

Every setting has a default that suits a single node behind one gateway; ``docs/enforce.md``
lists them. Secrets (the admin token, the ASE sideband token, the digest key) are read from
a setting, an environment variable or a file, and are never logged or shown.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from apibehave.common.errors import UserError

FailMode = Literal["open", "closed"]

ADMIN_TOKEN_ENV = "APIBEHAVE_ADMIN_TOKEN"
ASE_TOKEN_ENV = "APIBEHAVE_ASE_TOKEN"
DIGEST_KEY_ENV = "APIBEHAVE_DIGEST_KEY"
SETTINGS_ENV = "APIBEHAVE_ENFORCE_SETTINGS"
"""Worker processes receive the settings (without secrets) as JSON in this variable."""
ADMIN_TOKEN_FILE = "admin.token"
DIGEST_KEY_FILE = "digest.key"


@dataclass(frozen=True)
class EnforceSettings:
    """How one enforcer runs.

    Attributes
    ----------
    bundle : str
        Bundle directory or ``.tar.gz`` (re-read on reload).
    host, port : str, int
        Where to listen.
    workers : int
        Server processes (each holds its own features and, without a shared store, its
        own deny list).
    trust_event_time : bool
        Take each call's time from the ``X-Event-Time`` header (epoch seconds) instead of
        the clock: recorded traffic gets exactly the decisions of ``replay``.
    fail_mode : {"open", "closed"}
        Answer when the engine raises: allow (open) or block (closed).
    admin_token, admin_token_file : str or None
        Bearer token of the admin and report routes; else ``$APIBEHAVE_ADMIN_TOKEN``,
        else the file, else a new random token written to ``state_dir/admin.token``.
    ase_token : str or None
        When set (or ``$APIBEHAVE_ASE_TOKEN``), sideband calls must carry it in the
        ``ASE-Token`` header.
    state_dir : str
        Where the generated admin token and digest key live.
    max_body_bytes : int
        Larger request bodies answer 413.
    pending_max : int
        Most requests waiting for their response (the oldest is dropped past it).
    pending_ttl_s : float
        A request unanswered for this long counts as "no response seen" (status 0).
    max_identifiers : int
        Tracked identifier states per feature table.
    call_log_dir : str or None
        Directory of the rotating Parquet call log; None disables it.
    call_log_rotate_rows, call_log_rotate_s : int, float
        A call-log file is closed after this many rows or seconds.
    call_log_flush_s : float
        How often buffered calls are written.
    call_log_buffer_max : int
        Calls buffered at most between writes; more are dropped and counted.
    call_log_bodies : bool
        Also log request bodies (they may hold personal data).
    digest_key_file : str or None
        HMAC key for identifier digests in the call log; else ``$APIBEHAVE_DIGEST_KEY``,
        else ``state_dir/digest.key`` (created once).
    recent_calls : int
        Calls kept in memory for the forensics and usage reports.
    attack_records : int
        New blocks kept in memory for the attack report.
    log_udp_port : int or None
        Listen on this loopback UDP port for nginx access-log lines (JSON over syslog)
        that bring the responses of ``/auth`` calls to the engine.
    redis_url : str or None
        Share the deny and allow lists with other enforcers through this Redis
        (:class:`apibehave.engine.redis_store.RedisListStore`); in memory when None.
    """

    bundle: str
    host: str = "127.0.0.1"
    port: int = 8090
    workers: int = 1
    trust_event_time: bool = False
    fail_mode: FailMode = "open"
    admin_token: str | None = dataclasses.field(default=None, repr=False)
    admin_token_file: str | None = None
    ase_token: str | None = dataclasses.field(default=None, repr=False)
    state_dir: str = "enforce-state"
    max_body_bytes: int = 64 * 1024
    pending_max: int = 100_000
    pending_ttl_s: float = 60.0
    max_identifiers: int = 1_000_000
    call_log_dir: str | None = "enforce-state/calls"
    call_log_rotate_rows: int = 1_000_000
    call_log_rotate_s: float = 3600.0
    call_log_flush_s: float = 1.0
    call_log_buffer_max: int = 200_000
    call_log_bodies: bool = False
    digest_key_file: str | None = None
    recent_calls: int = 100_000
    attack_records: int = 10_000
    log_udp_port: int | None = None
    redis_url: str | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.fail_mode not in ("open", "closed"):
            raise UserError(f"fail mode must be 'open' or 'closed', not {self.fail_mode!r}")
        for name in ("max_body_bytes", "pending_max", "max_identifiers", "workers",
                     "call_log_rotate_rows", "call_log_buffer_max", "recent_calls",
                     "attack_records"):  # fmt: skip
            if int(getattr(self, name)) < 1:
                raise UserError(f"{name} must be at least 1")
        for name in ("pending_ttl_s", "call_log_rotate_s", "call_log_flush_s"):
            if not float(getattr(self, name)) > 0:
                raise UserError(f"{name} must be positive")
        if not 0 < int(self.port) < 65536:
            raise UserError(f"port must be 1-65535, not {self.port}")

    def public_json(self) -> str:
        """Return the settings without secrets, as JSON (handed to worker processes)."""
        data = dataclasses.asdict(self)
        data["admin_token"] = None
        data["ase_token"] = None
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> EnforceSettings:
        """Rebuild settings from :meth:`public_json` output."""
        data: dict[str, Any] = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def resolve_admin_token(settings: EnforceSettings) -> tuple[str, str]:
    """Return the admin token and where it came from (never the token in messages).

    Raises
    ------
    UserError
        When a named token file cannot be read or is empty.
    """
    if settings.admin_token:
        return settings.admin_token, "setting"
    env = os.environ.get(ADMIN_TOKEN_ENV)
    if env:
        return env, f"${ADMIN_TOKEN_ENV}"
    if settings.admin_token_file:
        return _read_secret(Path(settings.admin_token_file), "admin token file"), str(
            settings.admin_token_file
        )
    path = Path(settings.state_dir) / ADMIN_TOKEN_FILE
    if not path.exists():
        _write_secret(path, secrets.token_urlsafe(32).encode())
    return _read_secret(path, "admin token file"), str(path)


def resolve_ase_token(settings: EnforceSettings) -> str | None:
    """Return the sideband token that ``ASE-Token`` must match, or None (no check)."""
    return settings.ase_token or os.environ.get(ASE_TOKEN_ENV) or None


def resolve_digest_key(settings: EnforceSettings) -> bytes:
    """Return the HMAC key of the call log's identifier digests (created once if absent)."""
    if settings.digest_key_file:
        return _read_secret(Path(settings.digest_key_file), "digest key file").encode()
    env = os.environ.get(DIGEST_KEY_ENV)
    if env:
        return env.encode()
    path = Path(settings.state_dir) / DIGEST_KEY_FILE
    if not path.exists():
        _write_secret(path, secrets.token_hex(32).encode())
    return _read_secret(path, "digest key file").encode()


def _read_secret(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot be read ({exc.strerror})") from exc
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise UserError(f"{what} {path} is empty")
    return text


def _write_secret(path: Path, value: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another worker wrote it first
    except OSError as exc:
        raise UserError(f"cannot create {path} ({exc.strerror})") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(value + b"\n")
