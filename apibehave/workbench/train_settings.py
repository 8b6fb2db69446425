"""The ``train`` section of ``params.yaml``: typed, validated, with clear errors."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from apibehave.common.errors import UserError
from apibehave.detect.model import LearningSettings
from apibehave.detect.policy import (
    DEFAULT_INVALID_API_MAX_CALLS,
    DEFAULT_TTL_S,
    DecisionPolicy,
)

PER_API_LEARNING_KEYS = (
    "normal_quantile", "extreme_quantile", "extreme_margin", "min_events", "min_identifiers",
    "min_feature_identifiers", "contamination",
)  # fmt: skip
"""Learning settings an API may override: those read while learning its thresholds (the
ones read while scoring, like ``min_ratio_calls``, are one setting for the whole model)."""


@dataclass(frozen=True)
class ApiOverride:
    """Settings of one API that differ from the rest (``train.per_api.<api>``).

    Attributes
    ----------
    mode : {"enforce", "shadow"} or None
        Replaces the catalogue's mode for this API (``shadow`` logs, never blocks).
    enable_blocking : bool or None
        Replaces the catalogue's ``enable_blocking``.
    learning : mapping
        Values of :data:`PER_API_LEARNING_KEYS` for this API's thresholds.
    """

    mode: str | None = None
    enable_blocking: bool | None = None
    learning: Mapping[str, float | int | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the keys that are set, as plain data."""
        out: dict[str, Any] = {}
        if self.mode is not None:
            out["mode"] = self.mode
        if self.enable_blocking is not None:
            out["enable_blocking"] = self.enable_blocking
        if self.learning:
            out["learning"] = dict(self.learning)
        return out


@dataclass(frozen=True)
class TrainSettings:
    """How to learn a decision model.

    Attributes
    ----------
    learning : LearningSettings
        Threshold quantiles, margins and guards.
    ttl_s : mapping of str to float
        Block duration per identifier kind.
    allow : tuple of (str, str)
        Standing allow entries ``(kind, value)`` shipped in the bundle.
    invalid_api_max_calls : float
        Invalid API calls an address may make within the rule's window before a block
        (``inf``, or null in params, turns the rule off).
    per_api : mapping of str to ApiOverride
        Per-API overrides (mode, blocking, learning), keyed by API name.
    payload_detector : bool
        Train the payload detector (injection, fuzzing, tampering in requests).
    payload_fpr : float
        Share of held-out normal calls the payload detector may mark (its threshold).
    payload_strikes : int
        Marked calls from one address within the strike window before a block.
    """

    learning: LearningSettings = field(default_factory=LearningSettings)
    ttl_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TTL_S))
    allow: tuple[tuple[str, str], ...] = ()
    invalid_api_max_calls: float = DEFAULT_INVALID_API_MAX_CALLS
    per_api: Mapping[str, ApiOverride] = field(default_factory=dict)
    payload_detector: bool = True
    payload_fpr: float = 0.001
    payload_strikes: int = 2

    def learning_for(self, api: str) -> LearningSettings:
        """Return the learning settings of ``api`` (its overrides over the shared ones)."""
        override = self.per_api.get(api)
        if override is None or not override.learning:
            return self.learning
        return replace(self.learning, **dict(override.learning))

    def policy(self) -> DecisionPolicy:
        """Return the decision policy these settings describe."""
        return DecisionPolicy(
            payload_strikes=self.payload_strikes,
            ttl_s=self.ttl_s,
            allow=self.allow,
            invalid_api_max_calls=self.invalid_api_max_calls,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return plain data (what the params hash covers)."""
        limit = self.invalid_api_max_calls
        data = {
            "learning": asdict(self.learning),
            "ttl_s": dict(self.ttl_s),
            "allow": [list(a) for a in self.allow],
            "invalid_api_max_calls": None if limit == float("inf") else limit,
            "payload_detector": self.payload_detector,
            "payload_fpr": self.payload_fpr,
            "payload_strikes": self.payload_strikes,
        }
        if self.per_api:  # absent when unused, so earlier params hashes stay the same
            data["per_api"] = {api: o.to_dict() for api, o in sorted(self.per_api.items())}
        return data

    @property
    def params_hash(self) -> str:
        """SHA-256 of the canonical JSON of these settings."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def train_settings_from_params(path: str | os.PathLike[str] | None) -> TrainSettings:
    """Read the ``train`` section of a params file (defaults when ``path`` is None).

    Raises
    ------
    UserError
        Naming the file and the key of the first mistake.
    """
    if path is None:
        return TrainSettings()
    source = Path(path)
    if not source.is_file():
        raise UserError(f"{source}: no such params file")
    try:
        document = yaml.safe_load(source.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(document, Mapping):
        raise UserError(f"{source}: the top level must be a mapping of sections")
    section = document.get("train") or {}
    return train_settings_from_dict(section, source=f"{source}: train")


def train_settings_from_dict(section: Any, *, source: str = "train") -> TrainSettings:
    """Validate a ``train`` section given as plain data."""
    if not isinstance(section, Mapping):
        raise UserError(f"{source}: must be a mapping")
    known = {"learning", "ttl_s", "allow", "invalid_api_max_calls", "per_api",
             "payload_detector", "payload_fpr", "payload_strikes"}  # fmt: skip
    unknown = sorted(set(section) - known)
    if unknown:
        raise UserError(f"{source}.{unknown[0]}: unknown key; expected one of {sorted(known)}")
    values = _learning_values(section.get("learning") or {}, f"{source}.learning")
    learning = LearningSettings(**values)
    if not 0 < learning.normal_quantile <= learning.extreme_quantile <= 1:
        raise UserError(f"{source}.learning: need 0 < normal_quantile <= extreme_quantile <= 1")
    per_api = _per_api(section.get("per_api") or {}, learning, f"{source}.per_api")
    ttl = section.get("ttl_s") or {}
    if not isinstance(ttl, Mapping):
        raise UserError(f"{source}.ttl_s: must be a mapping of identifier kind to seconds")
    allow = section.get("allow") or []
    if not isinstance(allow, list) or not all(
        isinstance(a, Mapping) and set(a) == {"kind", "value"} for a in allow
    ):
        raise UserError(f"{source}.allow: must be a list of {{kind: ..., value: ...}}")
    limit = section.get("invalid_api_max_calls", DEFAULT_INVALID_API_MAX_CALLS)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | float)):
        raise UserError(f"{source}.invalid_api_max_calls: must be a number or null (off)")
    payload = section.get("payload_detector", True)
    if not isinstance(payload, bool):
        raise UserError(f"{source}.payload_detector: must be true or false")
    fpr = section.get("payload_fpr", 0.001)
    if isinstance(fpr, bool) or not isinstance(fpr, int | float) or not 0 < fpr < 1:
        raise UserError(f"{source}.payload_fpr: must be a share between 0 and 1")
    strikes = section.get("payload_strikes", 2)
    if isinstance(strikes, bool) or not isinstance(strikes, int) or strikes < 1:
        raise UserError(f"{source}.payload_strikes: must be a whole number, 1 or more")
    try:
        settings = TrainSettings(
            learning=learning,
            ttl_s=dict(DEFAULT_TTL_S) | dict(ttl),
            allow=tuple((a["kind"], str(a["value"])) for a in allow),
            invalid_api_max_calls=float("inf") if limit is None else float(limit),
            per_api=per_api,
            payload_detector=payload,
            payload_fpr=float(fpr),
            payload_strikes=strikes,
        )
        settings.policy()
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from exc
    return settings


def _learning_values(learning_data: Any, source: str) -> dict[str, Any]:
    """Validate a mapping of :class:`LearningSettings` values (``source`` names it)."""
    if not isinstance(learning_data, Mapping):
        raise UserError(f"{source}: must be a mapping")
    learning_fields = {f.name: f.type for f in fields(LearningSettings)}
    values: dict[str, Any] = {}
    for key, value in learning_data.items():
        if key not in learning_fields:
            raise UserError(f"{source}.{key}: unknown key")
        kind = str(learning_fields[key])
        if kind == "bool":
            if not isinstance(value, bool):
                raise UserError(f"{source}.{key}: must be true or false")
            values[key] = value
            continue
        if value is None and "None" in kind:
            values[key] = None
            continue
        want_int = kind == "int"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{source}.{key}: must be a number")
        if want_int and not float(value).is_integer():
            raise UserError(f"{source}.{key}: must be a whole number")
        values[key] = int(value) if want_int else float(value)
    return values


def _per_api(section: Any, learning: LearningSettings, source: str) -> dict[str, ApiOverride]:
    """Validate ``train.per_api`` (API names are checked against the catalogue later)."""
    if not isinstance(section, Mapping):
        raise UserError(f"{source}: must be a mapping of API name to overrides")
    out: dict[str, ApiOverride] = {}
    for api, body in section.items():
        where = f"{source}.{api}"
        if not isinstance(body, Mapping):
            raise UserError(f"{where}: must be a mapping (mode, enable_blocking, learning)")
        unknown = sorted(set(body) - {"mode", "enable_blocking", "learning"})
        if unknown:
            raise UserError(
                f"{where}.{unknown[0]}: unknown key; expected mode, enable_blocking, learning"
            )
        mode = body.get("mode")
        if mode is not None and mode not in ("enforce", "shadow"):
            raise UserError(f"{where}.mode: must be enforce or shadow, got {mode!r}")
        blocking = body.get("enable_blocking")
        if blocking is not None and not isinstance(blocking, bool):
            raise UserError(f"{where}.enable_blocking: must be true or false")
        learning_data = body.get("learning") or {}
        if not isinstance(learning_data, Mapping):
            raise UserError(f"{where}.learning: must be a mapping")
        for key in learning_data:
            if key not in PER_API_LEARNING_KEYS:
                raise UserError(
                    f"{where}.learning.{key}: not overridable per API; one of "
                    f"{list(PER_API_LEARNING_KEYS)}"
                )
        values = _learning_values(learning_data, f"{where}.learning")
        merged = replace(learning, **values)
        if not 0 < merged.normal_quantile <= merged.extreme_quantile <= 1:
            raise UserError(f"{where}.learning: need 0 < normal_quantile <= extreme_quantile <= 1")
        out[str(api)] = ApiOverride(mode=mode, enable_blocking=blocking, learning=values)
    return out
