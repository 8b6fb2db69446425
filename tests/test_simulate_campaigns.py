"""Attack campaigns: every family answers its stealth knob and stays inside its period."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from apibehave.schema import ATTACK_TYPES
from apibehave.simulate import load_scenario, services
from apibehave.simulate.batch import Batch
from apibehave.simulate.campaigns import GENERATORS, IDENTIFIER_TO_BLOCK
from apibehave.simulate.run import IDENTIFIER_COLUMNS, run_campaign
from apibehave.simulate.scenario import CampaignSettings
from apibehave.simulate.sessions import generate_sessions
from apibehave.simulate.world import World, build_world

MINUTE_NS = 60 * 10**9


@pytest.fixture(scope="module")
def world() -> tuple[World, object, object]:
    """A small world with benign sessions and partners to attack."""
    scenario = load_scenario({"scale": 0.05, "campaigns": None})
    built = build_world(scenario)
    _, sessions = generate_sessions(built)
    _, partners = services.partner_integrations(built)
    return built, sessions, partners


def _campaign(world: tuple, attack_type: str, stealth: float, **extra: object) -> Batch:
    built, sessions, partners = world
    settings = CampaignSettings(name=f"{attack_type}-test", type=attack_type, stealth=stealth)
    settings = dataclasses.replace(settings, **extra)
    return run_campaign(built, sessions, partners, settings, lo_ns=built.frame.train_end_ns,
                        hi_ns=built.frame.end_ns, volume=0.2)  # fmt: skip


def _peak_rate(batch: Batch, attack_type: str) -> float:
    """Busiest minute of the busiest value of the identifier to block (calls per minute)."""
    column = IDENTIFIER_COLUMNS[IDENTIFIER_TO_BLOCK[attack_type]]
    frame = pd.DataFrame(
        {
            "who": batch.columns[column].to_pandas(),
            "minute": np.asarray(batch.columns["ts"]) // MINUTE_NS,
        }
    )
    return float(frame.groupby(["who", "minute"]).size().max())


def test_every_attack_type_has_a_generator() -> None:
    """All 25 contract attack types have a campaign family and an identifier to block."""
    assert set(GENERATORS) == set(ATTACK_TYPES)
    assert set(IDENTIFIER_TO_BLOCK) == set(ATTACK_TYPES)


@pytest.mark.parametrize("attack_type", ATTACK_TYPES)
def test_stealth_lowers_the_attackers_rate(world: tuple, attack_type: str) -> None:
    """At stealth 1 the busiest attacker identifier sends fewer calls per minute than at 0."""
    loud = _campaign(world, attack_type, 0.0)
    quiet = _campaign(world, attack_type, 1.0)
    assert len(loud) > 0 and len(quiet) > 0
    assert _peak_rate(quiet, attack_type) < _peak_rate(loud, attack_type)


@pytest.mark.parametrize("attack_type", ATTACK_TYPES)
def test_campaign_labels_and_period(world: tuple, attack_type: str) -> None:
    """Every event of a campaign carries its type, its actor and stays in the test period."""
    built = world[0]
    batch = _campaign(world, attack_type, 0.5)
    assert set(batch.columns["label"].to_pylist()) == {attack_type}
    assert set(batch.columns["actor"].to_pylist()) == {f"{attack_type}-test"}
    ts = np.asarray(batch.columns["ts"])
    assert ts.min() >= built.frame.train_end_ns and ts.max() < built.frame.end_ns


def test_quiet_attackers_disguise_their_agents(world: tuple) -> None:
    """Loud probing uses tool or library agents; quiet probing mostly browser agents."""
    loud = _campaign(world, "probing", 0.0).columns["user_agent"].to_pandas()
    quiet = _campaign(world, "probing", 1.0).columns["user_agent"].to_pandas()
    assert loud.str.startswith("Mozilla/5.0 (").mean() < 0.5
    assert quiet.str.startswith("Mozilla/5.0 (").mean() > 0.9


@pytest.mark.parametrize("attack_type", ["credential_stuffing", "api_ddos", "login_ddos"])
def test_distributed_attacks_use_botnets(world: tuple, attack_type: str) -> None:
    """Distributed families spread over hundreds of addresses (more when quiet)."""
    batch = _campaign(world, attack_type, 0.8, bots=800)
    assert batch.columns["client_ip"].to_pandas().nunique() > 300


def test_low_and_slow_stuffing_makes_few_tries_per_address(world: tuple) -> None:
    """Quiet credential stuffing tries only a few logins per address over hours."""
    batch = _campaign(world, "credential_stuffing", 1.0, bots=2000, duration_h=12.0)
    per_ip = batch.columns["client_ip"].to_pandas().value_counts()
    assert per_ip.median() <= 4
    span_h = np.ptp(np.asarray(batch.columns["ts"])) / 3.6e12
    assert span_h > 6
    assert batch.columns["username"].to_pandas().nunique() > 0.7 * len(batch)


def test_stolen_tokens_are_used_concurrently_with_their_owner(world: tuple) -> None:
    """A stolen token's calls come from a new address while the owner's session is active."""
    sessions = world[1]
    batch = _campaign(world, "stolen_token", 0.5)
    tokens = set(batch.columns["token"].to_pylist())
    owners = {t: i for i, t in enumerate(sessions.token.to_pylist()) if t in tokens}
    assert owners, "stolen tokens belong to real sessions"
    ts = np.asarray(batch.columns["ts"])
    token = batch.columns["token"].to_pylist()
    overlaps = [
        sessions.start_ns[owners[t]] <= ts[i] <= sessions.end_ns[owners[t]] + 3600 * 10**9
        for i, t in enumerate(token)
    ]
    assert np.mean(overlaps) > 0.9
    owner_ips = {sessions.ip[owners[t]].as_py() for t in tokens}
    assert not owner_ips & set(batch.columns["client_ip"].to_pylist())
