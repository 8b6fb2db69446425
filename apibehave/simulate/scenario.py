"""Scenarios as data: typed, frozen settings parsed from YAML with errors that name the key.

Named scenarios live in ``scenarios.yaml`` beside this module; a scenario may ``extends``
another and override it key by key. The ``simulate:`` section of ``params.yaml`` selects
one (``scenario: NAME``) and overrides any of its keys the same way; the command line
can override ``scenario``, ``seed`` and ``scale`` last.
"""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from apibehave.common.errors import UserError
from apibehave.schema import ATTACK_TYPES


def _range(low: float | None = None, high: float | None = None, *, above: bool = False) -> Any:
    """Field metadata: allowed numeric range (``above`` makes ``low`` exclusive)."""
    return {"low": low, "high": high, "above": above}


@dataclass(frozen=True)
class PopulationSettings:
    """The benign user base and how it behaves."""

    users: int = field(default=43_000, metadata=_range(1))
    sessions_per_user_day: float = field(default=1.2, metadata=_range(0, above=True))
    activity_sigma: float = field(default=1.3, metadata=_range(0))
    mobile_fraction: float = field(default=0.45, metadata=_range(0, 1))
    multi_device_fraction: float = field(default=0.25, metadata=_range(0, 1))
    guest_session_fraction: float = field(default=0.3, metadata=_range(0, 1))
    ipv6_fraction: float = field(default=0.2, metadata=_range(0, 1))
    mean_actions_per_session: float = field(default=11.0, metadata=_range(1))
    think_time_median_s: float = field(default=6.0, metadata=_range(0, above=True))
    think_time_sigma: float = field(default=1.0, metadata=_range(0))
    peak_to_trough: float = field(default=6.0, metadata=_range(1))
    weekend_factor: float = field(default=0.85, metadata=_range(0, above=True))
    products: int = field(default=40_000, metadata=_range(10))


@dataclass(frozen=True)
class ErrorSettings:
    """The benign error mix."""

    token_expiry_p: float = field(default=0.08, metadata=_range(0, 1))
    stale_id_p: float = field(default=0.012, metadata=_range(0, 1))
    forbidden_p: float = field(default=0.002, metadata=_range(0, 1))
    retry_p: float = field(default=0.6, metadata=_range(0, 1))
    server_error_p: float = field(default=0.001, metadata=_range(0, 1))
    rate_limited_p: float = field(default=0.0015, metadata=_range(0, 1))
    validation_error_p: float = field(default=0.02, metadata=_range(0, 1))
    not_modified_p: float = field(default=0.05, metadata=_range(0, 1))
    incidents_per_day: float = field(default=2.0, metadata=_range(0))
    incident_duration_s: float = field(default=420.0, metadata=_range(0, above=True))
    incident_error_p: float = field(default=0.35, metadata=_range(0, 1))


@dataclass(frozen=True)
class CarrierNatTrap:
    """Many mobile users behind a few carrier-grade NAT addresses."""

    enabled: bool = True
    ips: int = field(default=6, metadata=_range(1))
    users_per_ip: int = field(default=250, metadata=_range(2))


@dataclass(frozen=True)
class CorporateProxyTrap:
    """Employees of one company reaching the shop through one proxy address."""

    enabled: bool = True
    ips: int = field(default=2, metadata=_range(1))
    users: int = field(default=500, metadata=_range(2))


@dataclass(frozen=True)
class RoamingTokenTrap:
    """Mobile sessions whose token moves between networks (Wi-Fi to cellular)."""

    enabled: bool = True
    fraction_of_mobile_sessions: float = field(default=0.3, metadata=_range(0, 1))


@dataclass(frozen=True)
class PartnerTrap:
    """Steady high-volume partner integrations on API keys, syncing in bursts."""

    enabled: bool = True
    partners: int = field(default=4, metadata=_range(1))
    sync_interval_s: float = field(default=300.0, metadata=_range(1))
    calls_per_sync: int = field(default=50, metadata=_range(1))


@dataclass(frozen=True)
class CrawlerTrap:
    """A price-comparison partner paging the public catalogue all day."""

    enabled: bool = True
    pages_per_hour: float = field(default=900.0, metadata=_range(0, above=True))
    ips: int = field(default=3, metadata=_range(1))


@dataclass(frozen=True)
class SearchBotTrap:
    """Search-engine crawlers fetching catalogue pages, long tail included, all day."""

    enabled: bool = True
    pages_per_hour: float = field(default=600.0, metadata=_range(0, above=True))


@dataclass(frozen=True)
class ScriptedUsersTrap:
    """Customers running their own scripts: polling their orders with a library agent."""

    enabled: bool = True
    users: int = field(default=40, metadata=_range(1))
    poll_interval_s: float = field(default=300.0, metadata=_range(1))


@dataclass(frozen=True)
class UptimeMonitorTrap:
    """External uptime monitors checking a few endpoints every minute from hosting ranges."""

    enabled: bool = True
    monitors: int = field(default=3, metadata=_range(1))
    interval_s: float = field(default=60.0, metadata=_range(1))


@dataclass(frozen=True)
class FlashCrowdTrap:
    """A sale that brings several times the normal load for a while."""

    enabled: bool = True
    start_h: float = field(default=43.0, metadata=_range(0))
    duration_h: float = field(default=1.5, metadata=_range(0, above=True))
    load_multiplier: float = field(default=4.0, metadata=_range(1))


@dataclass(frozen=True)
class NightlyExportTrap:
    """An internal reporting job downloading huge exports every night."""

    enabled: bool = True
    hour_utc: float = field(default=2.0, metadata=_range(0, 24))
    exports: int = field(default=300, metadata=_range(1))


@dataclass(frozen=True)
class PasswordTypoTrap:
    """Users who mistype their password a few times before logging in."""

    enabled: bool = True
    fraction_of_logins: float = field(default=0.06, metadata=_range(0, 1))
    max_failures: int = field(default=4, metadata=_range(1))


@dataclass(frozen=True)
class TrapSettings:
    """Every benign trap: legitimate traffic that looks like an attack."""

    carrier_nat: CarrierNatTrap = CarrierNatTrap()
    corporate_proxy: CorporateProxyTrap = CorporateProxyTrap()
    roaming_tokens: RoamingTokenTrap = RoamingTokenTrap()
    partner_integrations: PartnerTrap = PartnerTrap()
    crawler_partner: CrawlerTrap = CrawlerTrap()
    search_engine_bots: SearchBotTrap = SearchBotTrap()
    scripted_users: ScriptedUsersTrap = ScriptedUsersTrap()
    uptime_monitors: UptimeMonitorTrap = UptimeMonitorTrap()
    flash_crowd: FlashCrowdTrap = FlashCrowdTrap()
    nightly_export: NightlyExportTrap = NightlyExportTrap()
    password_typos: PasswordTypoTrap = PasswordTypoTrap()


@dataclass(frozen=True)
class CampaignSettings:
    """One attack campaign.

    Attributes
    ----------
    name : str
        Key of the campaign in the scenario; its actor id.
    type : str
        An attack type of the contract.
    stealth : float
        0 loud (fast, tool user agents, odd hours) to 1 nearly benign.
    start_h : float or None
        Start, in hours after the test period begins; None picks one from the seed.
    duration_h : float or None
        How long it runs; None uses the family's default for the stealth level.
    bots : int or None
        Client addresses used (a botnet when above 1); None uses the family's default.
    intensity : float
        Multiplies the campaign's volume.
    """

    name: str = ""
    type: str = ""
    stealth: float | None = field(default=None, metadata=_range(0, 1))
    enabled: bool = True
    start_h: float | None = field(default=None, metadata=_range(0))
    duration_h: float | None = field(default=None, metadata=_range(0, above=True))
    bots: int | None = field(default=None, metadata=_range(1))
    intensity: float = field(default=1.0, metadata=_range(0, above=True))


@dataclass(frozen=True)
class Scenario:
    """Everything a simulation needs; the same scenario and seed give the same events."""

    name: str = "default"
    seed: int = 7
    scale: float = field(default=1.0, metadata=_range(0, above=True))
    start: str = "2026-03-02T00:00:00Z"
    train_duration_h: float = field(default=24.0, metadata=_range(0, above=True))
    test_duration_h: float = field(default=24.0, metadata=_range(0, above=True))
    contamination: float = field(default=0.0, metadata=_range(0, 0.5))
    stealth: float = field(default=0.3, metadata=_range(0, 1))
    population: PopulationSettings = PopulationSettings()
    errors: ErrorSettings = ErrorSettings()
    traps: TrapSettings = TrapSettings()
    campaigns: tuple[CampaignSettings, ...] = ()

    @property
    def start_ts(self) -> pd.Timestamp:
        """Start of the training period, UTC."""
        return pd.Timestamp(self.start)

    def to_params(self) -> dict[str, Any]:
        """Return the settings as a mapping that :func:`parse_scenario` reads back unchanged.

        Campaigns become a mapping of name -> settings, as in ``scenarios.yaml``, so the
        result can be pasted into the ``simulate:`` section of params.yaml.
        """
        data = dataclasses.asdict(self)
        data["campaigns"] = {c.pop("name"): c for c in (dict(c) for c in data["campaigns"])}
        return data

    def campaign_stealth(self, campaign: CampaignSettings) -> float:
        """Return the campaign's own stealth, else the scenario's."""
        return self.stealth if campaign.stealth is None else campaign.stealth


SCENARIO_FILE = "scenarios.yaml"


def available_scenarios() -> dict[str, dict[str, Any]]:
    """Return the raw named scenarios shipped with apibehave."""
    text = resources.files("apibehave.simulate").joinpath(SCENARIO_FILE).read_text()
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise UserError(f"{SCENARIO_FILE}: expected a mapping of scenario names")
    return data


def load_scenario(
    params: Mapping[str, Any] | None = None,
    *,
    scenario: str | None = None,
    seed: int | None = None,
    scale: float | None = None,
) -> Scenario:
    """Build a scenario from the named scenarios, ``params`` overrides and explicit values.

    Parameters
    ----------
    params : mapping, optional
        The ``simulate:`` section of params.yaml: ``scenario`` selects a named scenario,
        every other key overrides it (nested mappings merge key by key).
    scenario, seed, scale : optional
        Override the selection, the seed and the scale last (command-line options).

    Returns
    -------
    Scenario

    Raises
    ------
    UserError
        Unknown scenario, unknown key or bad value; the message names the key.
    """
    if params is not None and not isinstance(params, Mapping):
        raise UserError("simulate: expected a mapping of settings")
    overrides = dict(params or {})
    name = scenario or overrides.pop("scenario", None) or "default"
    overrides.pop("scenario", None)
    raw = _resolve(name, available_scenarios())
    merged = merge(raw, overrides)
    if seed is not None:
        merged["seed"] = seed
    if scale is not None:
        merged["scale"] = scale
    merged["name"] = name
    return parse_scenario(merged)


def _resolve(name: str, named: Mapping[str, Any], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    if name not in named:
        raise UserError(
            f"simulate.scenario: unknown scenario {name!r}; known: {', '.join(sorted(named))}"
        )
    if name in seen:
        raise UserError(f"simulate.scenario: {name!r} extends itself")
    body = dict(named[name] or {})
    parent = body.pop("extends", None)
    if parent is None:
        return body
    return merge(_resolve(str(parent), named, (*seen, name)), body)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` overridden by ``override``, nested mappings merged key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_scenario(data: Mapping[str, Any]) -> Scenario:
    """Validate a raw scenario mapping and return the typed scenario.

    Raises
    ------
    UserError
        Naming the first bad key as ``simulate.<path>``.
    """
    data = dict(data)
    campaigns_raw = data.pop("campaigns", None) or {}  # null: no campaigns at all
    if not isinstance(campaigns_raw, Mapping):
        raise UserError("simulate.campaigns: expected a mapping of campaign name -> settings")
    parsed = _parse_dataclass(Scenario, data, "simulate")
    campaigns = []
    for name, body in campaigns_raw.items():
        path = f"simulate.campaigns.{name}"
        body = dict(body or {})
        body.setdefault("type", name)
        body["name"] = str(name)
        campaign = _parse_dataclass(CampaignSettings, body, path)
        if campaign.type not in ATTACK_TYPES:
            raise UserError(
                f"{path}.type: {campaign.type!r} is not an attack type of the contract "
                f"(one of {', '.join(ATTACK_TYPES)})"
            )
        if campaign.enabled:
            campaigns.append(campaign)
    try:
        pd.Timestamp(parsed.start).tz_convert("UTC")
    except (ValueError, TypeError) as exc:
        raise UserError(
            f"simulate.start: {parsed.start!r} is not an ISO-8601 time with a zone"
        ) from exc
    return dataclasses.replace(parsed, campaigns=tuple(campaigns))


def _parse_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise UserError(f"{path}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "campaigns"}
    hints = typing.get_type_hints(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise UserError(
            f"{path}.{unknown[0]}: unknown key; known keys: {', '.join(sorted(fields))}"
        )
    values = {}
    for key, value in data.items():
        values[key] = _parse_value(hints[key], value, f"{path}.{key}", fields[key].metadata)
    return cls(**values)


def _parse_value(hint: Any, value: Any, path: str, limits: Mapping[str, Any]) -> Any:
    if dataclasses.is_dataclass(hint):
        return _parse_dataclass(hint, value or {}, path)
    optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
    if optional:
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{path}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if isinstance(value, datetime.date):
            return pd.Timestamp(value).isoformat()
        if not isinstance(value, str):
            raise UserError(f"{path}: expected a string, got {value!r}")
        return str(value)
    if hint in (int, float):
        return _parse_number(hint, value, path, limits)
    raise UserError(f"{path}: unsupported setting")  # pragma: no cover - dataclass typo


def _parse_number(hint: type, value: Any, path: str, limits: Mapping[str, Any]) -> Any:
    kind = "an integer" if hint is int else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(f"{path}: expected {kind}, got {value!r}")
    if hint is int and not float(value).is_integer():
        raise UserError(f"{path}: expected {kind}, got {value!r}")
    number = hint(value)
    low, high = limits.get("low"), limits.get("high")
    if low is not None and (number <= low if limits.get("above") else number < low):
        word = "above" if limits.get("above") else "at least"
        raise UserError(f"{path}: must be {word} {low}, got {value!r}")
    if high is not None and number > high:
        raise UserError(f"{path}: must be at most {high}, got {value!r}")
    return number
