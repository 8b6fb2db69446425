"""Simulator invariants: labels, periods, canonical form, determinism, rates and trap sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apibehave.schema import ATTACK_TYPES, STRING_DTYPE, TIMESTAMP_DTYPE, validate_events
from apibehave.simulate import load_scenario, services, simulate
from apibehave.simulate import traps as trap_module
from apibehave.simulate.campaigns import IDENTIFIER_TO_BLOCK
from apibehave.simulate.scenario import merge
from apibehave.simulate.sessions import generate_sessions
from apibehave.simulate.world import build_world

SMALL = {"scale": 0.03}
TINY = {
    "scale": 0.01,
    "train_duration_h": 6,
    "test_duration_h": 6,
    "traps": {"flash_crowd": {"start_h": 8}},
}


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    """About 80,000 events of the default scenario."""
    return simulate(load_scenario(SMALL), progress=False).events


def test_every_attack_type_is_present_with_its_label(small: pd.DataFrame) -> None:
    """Each of the contract's attack types labels some events, all from named actors."""
    labels = set(small["label"].unique())
    assert labels == {"normal", *ATTACK_TYPES}
    assert small["actor"].notna().all()


def test_attack_events_name_the_identifier_to_block(small: pd.DataFrame) -> None:
    """Attack events carry the identifier kind to block; that identifier is always present."""
    attacks = small[small["label"] != "normal"]
    expected = attacks["label"].map(IDENTIFIER_TO_BLOCK)
    assert (attacks["attack_identifier"] == expected).all()
    column = {"ip": "client_ip", "token": "token", "cookie": "cookie", "api_key": "api_key"}
    for kind, group in attacks.groupby("attack_identifier"):
        assert group[column[kind]].notna().mean() > 0.9, kind
    assert small.loc[small["label"] == "normal", "attack_identifier"].isna().all()


def test_training_period_is_clean_by_default(small: pd.DataFrame) -> None:
    """Without contamination every attack event falls in the test period."""
    assert (small.loc[small["period"] == "train", "label"] == "normal").all()
    test_start = small["ts"].min().normalize() + pd.Timedelta(hours=24)
    assert ((small["ts"] >= test_start) == (small["period"] == "test")).all()


def test_contamination_puts_the_asked_share_of_attacks_in_training() -> None:
    """``contamination`` adds roughly that fraction of attack events to the training period."""
    events = simulate(load_scenario({**SMALL, "contamination": 0.02}), progress=False).events
    train = events[events["period"] == "train"]
    share = (train["label"] != "normal").mean()
    assert 0.008 < share < 0.05
    assert set(events.loc[events["period"] == "test", "label"]) == {"normal", *ATTACK_TYPES}


def test_events_are_canonical_and_in_time_order(small: pd.DataFrame) -> None:
    """The frame passes the contract's validation, is sorted by time, and has the extras."""
    validate_events(small)
    assert small["ts"].dtype == TIMESTAMP_DTYPE
    assert small["client_ip"].dtype == STRING_DTYPE
    assert small["ts"].is_monotonic_increasing
    assert {"period", "trap", "attack_identifier"} <= set(small.columns)
    assert set(small["method"].unique()) >= {"GET", "POST", "PUT", "DELETE", "WS"}


def test_benign_traffic_has_realistic_errors_and_identifiers(small: pd.DataFrame) -> None:
    """Normal traffic mixes 401/404/429/5xx with mostly 2xx, and carries tokens and cookies."""
    normal = small[small["label"] == "normal"]
    status = normal["status"]
    assert 0.85 < (status < 400).mean() < 0.995
    for code in (401, 404, 429):
        assert (status == code).sum() > 0, code
    assert (status >= 500).sum() > 0
    assert normal["token"].notna().mean() > 0.3
    assert normal["cookie"].notna().mean() > 0.3
    assert normal["client_ip"].str.contains(":").any()  # IPv6 clients too


def test_same_seed_same_events_and_different_seed_different() -> None:
    """Simulation is a pure function of the scenario and its seed."""
    first = simulate(load_scenario(TINY), progress=False).events
    second = simulate(load_scenario(TINY), progress=False).events
    pd.testing.assert_frame_equal(first, second)
    other = simulate(load_scenario({**TINY, "seed": 8}), progress=False).events
    assert len(other) != len(first) or not first["client_ip"].equals(other["client_ip"])


def test_sessions_per_user_day_match_the_setting() -> None:
    """The number of benign sessions is close to users x sessions per user-day x days."""
    scenario = load_scenario(
        {"population": {"users": 4000}, "traps": {"flash_crowd": {"enabled": False}}}
    )
    world = build_world(scenario)
    _, sessions = generate_sessions(world)
    expected = 4000 * scenario.population.sessions_per_user_day * 2
    assert abs(len(sessions.user) / expected - 1) < 0.1


def test_partner_and_crawler_rates_match_their_settings() -> None:
    """Partner syncs and crawler pages arrive at their configured hourly rates."""
    scenario = load_scenario({"population": {"users": 200}})
    world = build_world(scenario)
    partners_batch, partners = services.partner_integrations(world)
    settings = scenario.traps.partner_integrations
    per_hour = len(partners_batch) / len(partners.name) / world.frame.hours
    assert per_hour == pytest.approx(
        3600 / settings.sync_interval_s * settings.calls_per_sync, rel=0.1
    )
    crawler = services.crawler_partner(world)
    assert len(crawler) / world.frame.hours == pytest.approx(
        scenario.traps.crawler_partner.pages_per_hour, rel=0.1
    )


@pytest.fixture(scope="module")
def trap_world() -> pd.DataFrame:
    """Benign traffic of 3,000 users with the traps turned up."""
    params = merge(
        TINY,
        {
            "scale": 1.0,
            "population": {"users": 3000, "mobile_fraction": 0.5},
            "traps": {"carrier_nat": {"ips": 3, "users_per_ip": 100}},
            "campaigns": None,
        },
    )
    scenario = load_scenario(params)
    return simulate(scenario, progress=False).events


def test_carrier_nat_addresses_are_shared_by_many_users(trap_world: pd.DataFrame) -> None:
    """Each carrier NAT address carries dozens of distinct users."""
    nat = trap_world[trap_world["trap"] == "carrier_nat"]
    users_per_ip = nat.groupby("client_ip")["actor"].nunique().sort_values(ascending=False)
    assert users_per_ip.iloc[:3].min() >= 15
    assert users_per_ip.iloc[3:].max() <= 2  # the rest: NAT users roaming onto home Wi-Fi


def test_roaming_tokens_move_across_addresses(trap_world: pd.DataFrame) -> None:
    """Roaming mobile sessions use one token from two or more addresses."""
    roaming = trap_world[(trap_world["trap"] == "roaming_tokens") & trap_world["token"].notna()]
    ips_per_token = roaming.groupby("token")["client_ip"].nunique()
    assert (ips_per_token >= 2).sum() >= 20


def test_flash_crowd_multiplies_load(trap_world: pd.DataFrame) -> None:
    """During the flash crowd the shop gets several times the load of the hour before it."""
    start = trap_world["ts"].min().normalize() + pd.Timedelta(hours=8)
    window = trap_world["ts"].between(start, start + pd.Timedelta(hours=1.5), inclusive="left")
    before = trap_world["ts"].between(start - pd.Timedelta(hours=1.5), start, inclusive="left")
    assert window.sum() > 2.0 * before.sum()
    assert (trap_world.loc[window, "trap"] == "flash_crowd").mean() > 0.4


def test_password_typos_fail_then_succeed(trap_world: pd.DataFrame) -> None:
    """Mistyped passwords give a few 401 logins, followed by the user's successful login."""
    logins = trap_world[trap_world["path"] == "/v1/auth/login"]
    typos = logins[logins["trap"] == "password_typos"]
    failed = typos[typos["status"] == 401]
    assert len(failed) > 10
    succeeded = set(typos.loc[typos["status"] == 200, "actor"])
    assert np.mean([a in succeeded for a in failed["actor"].unique()]) > 0.8


def test_benign_traps_are_labelled_normal(trap_world: pd.DataFrame) -> None:
    """Every trap event is labelled normal and no benign generator calls a decoy path."""
    assert set(trap_world["label"].unique()) == {"normal"}
    assert set(trap_world["trap"].dropna().unique()) == set(trap_module.TRAPS)
    from apibehave.simulate.apis import DECOY_PATHS

    assert not trap_world["path"].isin([p for _, p in DECOY_PATHS]).any()


def test_some_users_switch_between_web_and_app(trap_world: pd.DataFrame) -> None:
    """Multi-device users appear under one user name with a browser and the app."""
    named = trap_world[trap_world["username"].notna() & (trap_world["trap"] != "password_typos")]
    agents = named.groupby("username")["user_agent"].agg(
        lambda s: {("app" if a.startswith("ShopApp/") else "browser") for a in s.dropna()}
    )
    assert (agents.map(len) == 2).sum() >= 20


def test_failed_calls_are_retried_shortly_after(trap_world: pd.DataFrame) -> None:
    """Most 429 and 5xx answers are followed by the same call from the same user soon after."""
    normal = trap_world[trap_world["actor"].str.startswith("user-")]
    failed = normal[(normal["status"] == 429) | (normal["status"] >= 500)]
    key = ["actor", "method", "path"]
    later = normal[[*key, "ts"]].rename(columns={"ts": "retry_ts"}).sort_values("retry_ts")
    pairs = failed[[*key, "ts"]].sort_values("ts").reset_index(drop=True)
    pairs["after"] = pairs["ts"] + pd.Timedelta(milliseconds=1)
    matched = pd.merge_asof(
        pairs.sort_values("after"), later, left_on="after", right_on="retry_ts", by=key,
        direction="forward", tolerance=pd.Timedelta(seconds=30),
    )  # fmt: skip
    assert len(failed) > 20
    assert matched["retry_ts"].notna().mean() > 0.4


def test_guests_sometimes_reset_their_password(trap_world: pd.DataFrame) -> None:
    """Benign traffic uses every auth endpoint, password reset included."""
    resets = trap_world[trap_world["path"] == "/v1/auth/password/reset"]
    assert len(resets) > 0
    assert resets["body"].str.contains('"email":').all()


def test_tiny_worlds_still_simulate() -> None:
    """A handful of users over an hour still gives canonical events (victimless attacks skip)."""
    params = {"scale": 0.01, "population": {"users": 3}, "train_duration_h": 0.5,
              "test_duration_h": 0.5, "contamination": 0.1}  # fmt: skip
    events = simulate(load_scenario(params), progress=False).events
    validate_events(events)
    assert len(events) > 0
    assert set(events["label"]) <= {"normal", *ATTACK_TYPES}
