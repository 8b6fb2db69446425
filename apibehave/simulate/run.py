"""Run a scenario: benign population, traps, attack campaigns -> labelled events and a summary."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from apibehave.simulate import services
from apibehave.simulate.apis import ENDPOINTS, catalogue_dict
from apibehave.simulate.batch import Batch, concat, to_events
from apibehave.simulate.campaigns import GENERATORS, IDENTIFIER_TO_BLOCK, CampaignContext
from apibehave.simulate.scenario import CampaignSettings, Scenario
from apibehave.simulate.sessions import Sessions, generate_sessions
from apibehave.simulate.world import World, build_world

IDENTIFIER_COLUMNS = {
    "ip": "client_ip",
    "token": "token",
    "cookie": "cookie",
    "api_key": "api_key",
    "username": "username",
}
SHOWN_IDENTIFIERS = 20


@dataclass(frozen=True)
class SimulationResult:
    """What a simulation produced.

    Attributes
    ----------
    events : pandas.DataFrame
        Canonical events, sorted by time, with ``label``, ``actor`` and the extras
        ``period`` (train/test), ``trap`` (which benign trap, if any) and
        ``attack_identifier`` (the identifier kind to block, on attack events).
    catalogue : dict
        The ``apis.yaml`` content of the simulated APIs.
    summary : dict
        Counts per period, label, trap and campaign (JSON-ready).
    scenario : Scenario
        The settings that produced it.
    """

    events: pd.DataFrame
    catalogue: dict[str, Any]
    summary: dict[str, Any]
    scenario: Scenario


def simulate(scenario: Scenario, *, progress: bool | None = None) -> SimulationResult:
    """Simulate a scenario.

    Parameters
    ----------
    scenario : Scenario
        From :func:`apibehave.simulate.load_scenario`.
    progress : bool, optional
        Show a progress bar; by default only when stderr is a terminal.

    Returns
    -------
    SimulationResult
    """
    steps: list[tuple[str, Callable[[], None]]] = []
    state: dict[str, Any] = {"batches": [], "campaigns": []}

    def benign() -> None:
        world = build_world(scenario)
        batch, sessions = generate_sessions(world)
        partner_batch, partners = services.partner_integrations(world)
        state.update(world=world, sessions=sessions, partners=partners)
        state["batches"] += [
            batch,
            partner_batch,
            services.crawler_partner(world),
            services.search_engine_bots(world),
            services.scripted_users(world),
            services.uptime_monitors(world),
            services.nightly_export(world),
        ]

    steps.append(("benign population and traps", benign))
    for campaign in scenario.campaigns:
        steps.append((f"campaign {campaign.name}", _campaign_step(state, scenario, campaign)))
    if scenario.contamination > 0:
        steps.append(("training contamination", lambda: _contaminate(state, scenario)))
    with tqdm(
        total=len(steps) + 1, desc="simulate", unit="step", disable=_disabled(progress)
    ) as bar:
        for name, step in steps:
            bar.set_postfix_str(name)
            step()
            bar.update()
        bar.set_postfix_str("assembling events")
        world: World = state["world"]
        everything = concat(state["batches"] + state["campaigns"])
        state["batches"].clear()
        state["campaigns"].clear()
        events = to_events(everything, world.frame.train_end_ns)
        bar.update()
    summary = summarize(events, scenario, world)
    return SimulationResult(events, catalogue_dict(_endpoint_counts(events)), summary, scenario)


def _disabled(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


def _campaign_step(
    state: dict[str, Any], scenario: Scenario, campaign: CampaignSettings
) -> Callable[[], None]:
    def step() -> None:
        world: World = state["world"]
        batch = run_campaign(
            world,
            state["sessions"],
            state["partners"],
            campaign,
            lo_ns=world.frame.train_end_ns,
            hi_ns=world.frame.end_ns,
            volume=scenario.scale * campaign.intensity,
        )
        state["campaigns"].append(batch)

    return step


def run_campaign(
    world: World,
    sessions: Sessions,
    partners: services.Partners,
    campaign: CampaignSettings,
    *,
    lo_ns: int,
    hi_ns: int,
    volume: float,
    tag: str = "",
) -> Batch:
    """Generate one campaign inside ``[lo_ns, hi_ns)``; events outside are dropped."""
    ctx = CampaignContext(
        world=world,
        sessions=sessions,
        partners=partners,
        settings=campaign,
        stealth=world.scenario.campaign_stealth(campaign),
        volume=volume,
        lo_ns=lo_ns,
        hi_ns=hi_ns,
        rng=world.rng("campaign", campaign.name, tag),
    )
    batch = GENERATORS[campaign.type](ctx)
    ts = np.asarray(batch.columns["ts"])
    inside = (ts >= lo_ns) & (ts < hi_ns)
    return batch if inside.all() else batch.take(np.flatnonzero(inside))


def _contaminate(state: dict[str, Any], scenario: Scenario) -> None:
    """Add scaled-down copies of the campaigns to the training period."""
    world: World = state["world"]
    attack_events = sum(len(b) for b in state["campaigns"])
    train_benign = sum(
        int((np.asarray(b.columns["ts"]) < world.frame.train_end_ns).sum())
        for b in state["batches"]
    )
    if attack_events == 0:
        return
    wanted = scenario.contamination * train_benign / (1.0 - scenario.contamination)
    factor = wanted / attack_events
    for campaign in scenario.campaigns:
        copy = dataclasses.replace(
            campaign,
            name=f"{campaign.name}-train",
            start_h=None,
            bots=None
            if campaign.bots is None
            else max(1, round(campaign.bots * min(1.0, factor**0.5))),
        )
        state["campaigns"].append(
            run_campaign(
                world,
                state["sessions"],
                state["partners"],
                copy,
                lo_ns=world.frame.start_ns,
                hi_ns=world.frame.train_end_ns,
                volume=scenario.scale * campaign.intensity * factor,
                tag="train",
            )
        )


def _endpoint_counts(events: pd.DataFrame) -> dict[str, int]:
    """Benign calls per endpoint key, matched by method and path template."""
    path = pa.array(events["path"].array)
    template = pc.replace_substring_regex(path, r"/[0-9]+(/|$)", r"/{id}\1")
    keys = pd.DataFrame(
        {
            "template": pd.arrays.ArrowStringArray(template.cast(pa.large_string())),
            "method": events["method"].array,
            "normal": (events["label"] == "normal").to_numpy(),
        }
    )
    counts = keys.groupby(["normal", "template", "method"], observed=True).size()
    out: dict[str, int] = {}
    for endpoint in ENDPOINTS:
        key = (True, endpoint.template.replace("{id2}", "{id}"), endpoint.method)
        out[endpoint.key] = int(counts.get(key, 0))
    return out


def summarize(events: pd.DataFrame, scenario: Scenario, world: World) -> dict[str, Any]:
    """Return JSON-ready counts: per period, label, trap and campaign."""
    label = events["label"]
    attacks = events[label != "normal"]
    campaigns = []
    for actor, group in attacks.groupby("actor", observed=True, sort=True):
        attack_type = str(group["label"].iloc[0])
        kind = IDENTIFIER_TO_BLOCK[attack_type]
        values = group[IDENTIFIER_COLUMNS[kind]].dropna().unique()
        campaigns.append(
            {
                "name": str(actor),
                "type": attack_type,
                "period": str(group["period"].iloc[0]),
                "start": group["ts"].min().isoformat(),
                "end": group["ts"].max().isoformat(),
                "events": len(group),
                "identifier_to_block": kind,
                "distinct_identifiers": {
                    k: int(group[c].nunique()) for k, c in IDENTIFIER_COLUMNS.items()
                },
                "identifiers_to_block": [str(v) for v in values[:SHOWN_IDENTIFIERS]],
            }
        )
    stealth = {c.name: world.scenario.campaign_stealth(c) for c in scenario.campaigns}
    for entry in campaigns:
        entry["stealth"] = stealth.get(entry["name"].removesuffix("-train"))
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "scale": scenario.scale,
        "start": pd.Timestamp(world.frame.start_ns, tz="UTC").isoformat(),
        "test_start": pd.Timestamp(world.frame.train_end_ns, tz="UTC").isoformat(),
        "end": pd.Timestamp(world.frame.end_ns, tz="UTC").isoformat(),
        "events": len(events),
        "events_per_period": _counts(events["period"]),
        "events_per_label": _counts(label),
        "actors_per_label": {
            str(k): int(v)
            for k, v in events.groupby("label", observed=True)["actor"].nunique().items()
        },
        "events_per_trap": _counts(events["trap"].dropna()),
        "campaigns": campaigns,
    }


def _counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}
