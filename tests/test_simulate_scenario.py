"""Scenarios as data: named scenarios, key-by-key overrides, and errors that name the key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apibehave.common.errors import UserError
from apibehave.schema import ATTACK_TYPES
from apibehave.simulate import available_scenarios, load_scenario
from apibehave.simulate.scenario import merge, parse_scenario


def test_default_scenario_runs_every_attack_type() -> None:
    """The default scenario has at least one campaign of every attack type of the contract."""
    scenario = load_scenario()
    assert {c.type for c in scenario.campaigns} == set(ATTACK_TYPES)
    assert scenario.name == "default"
    assert scenario.train_duration_h == 24 and scenario.test_duration_h == 24


def test_hard_is_stealthier_with_more_traps() -> None:
    """The hard scenario hides its campaigns better and sets more benign traps."""
    default, hard = load_scenario(), load_scenario(scenario="hard")
    mean = lambda s: sum(s.campaign_stealth(c) for c in s.campaigns) / len(s.campaigns)  # noqa: E731
    assert mean(hard) > mean(default) + 0.2
    assert hard.traps.carrier_nat.users_per_ip > default.traps.carrier_nat.users_per_ip
    assert hard.traps.flash_crowd.load_multiplier > default.traps.flash_crowd.load_multiplier
    assert {c.type for c in hard.campaigns} == set(ATTACK_TYPES)
    assert {c.name for c in hard.campaigns} != {c.name for c in default.campaigns}


def test_params_override_key_by_key() -> None:
    """A nested override changes one key and keeps its siblings from the named scenario."""
    scenario = load_scenario(
        {"population": {"users": 123}, "traps": {"flash_crowd": {"enabled": False}}}
    )
    default = load_scenario()
    assert scenario.population.users == 123
    assert scenario.population.mobile_fraction == default.population.mobile_fraction
    assert not scenario.traps.flash_crowd.enabled
    assert scenario.traps.flash_crowd.load_multiplier == default.traps.flash_crowd.load_multiplier


def test_explicit_values_win_over_params() -> None:
    """Scenario, seed and scale given explicitly (the command line) override params."""
    scenario = load_scenario({"scenario": "default", "seed": 1, "scale": 2.0}, scenario="hard",
                             seed=5, scale=0.5)  # fmt: skip
    assert (scenario.name, scenario.seed, scenario.scale) == ("hard", 5, 0.5)


def test_campaigns_can_be_disabled_or_added() -> None:
    """``enabled: false`` drops a campaign; a new name with a type adds one."""
    scenario = load_scenario(
        {
            "campaigns": {
                "decoy": {"enabled": False},
                "extra_probe": {"type": "probing", "stealth": 1},
            }
        }
    )
    names = {c.name: c for c in scenario.campaigns}
    assert "decoy" not in names
    assert names["extra_probe"].type == "probing" and names["extra_probe"].stealth == 1.0


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"population": {"userz": 5}}, "simulate.population.userz"),
        ({"population": {"users": -3}}, "simulate.population.users"),
        ({"stealth": 1.5}, "simulate.stealth"),
        ({"scale": "big"}, "simulate.scale"),
        ({"traps": {"carrier_nat": {"enabled": "yes"}}}, "simulate.traps.carrier_nat.enabled"),
        ({"campaigns": {"injection": {"stealth": -0.1}}}, "simulate.campaigns.injection.stealth"),
        ({"campaigns": {"mystery": {}}}, "simulate.campaigns.mystery.type"),
        ({"campaigns": {"decoy": {"bots": 2.5}}}, "simulate.campaigns.decoy.bots"),
        ({"start": "yesterday"}, "simulate.start"),
        ({"scenario": "nope"}, "simulate.scenario"),
        ({"population": 3}, "simulate.population"),
    ],
)
def test_bad_settings_name_the_key(params: dict, key: str) -> None:
    """Every bad setting is a UserError whose message starts with the full key path."""
    with pytest.raises(UserError) as caught:
        load_scenario(params)
    assert str(caught.value).startswith(key)


def test_scenarios_file_lists_default_and_hard() -> None:
    """The packaged scenarios include default and hard, and hard extends default."""
    named = available_scenarios()
    assert {"default", "hard"} <= set(named)
    assert named["hard"]["extends"] == "default"


def test_merge_is_recursive_and_pure() -> None:
    """Merging overrides nested keys without touching the inputs."""
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    merged = merge(base, {"a": {"b": 9}})
    assert merged == {"a": {"b": 9, "c": 2}, "d": 3}
    assert base == {"a": {"b": 1, "c": 2}, "d": 3}


def test_settings_round_trip_through_params() -> None:
    """A scenario's params form parses back to the same scenario (for every named one)."""
    for name in available_scenarios():
        scenario = load_scenario(scenario=name)
        assert parse_scenario(scenario.to_params()) == scenario


def test_no_campaigns_means_benign_only() -> None:
    """``campaigns: null`` removes every campaign."""
    assert load_scenario({"campaigns": None}).campaigns == ()


@settings(max_examples=40, deadline=None)
@given(
    stealth=st.floats(-2, 3, allow_nan=False),
    users=st.integers(-5, 10),
    contamination=st.floats(-1, 1, allow_nan=False),
)
def test_numbers_in_range_are_accepted_and_others_named(
    stealth: float, users: int, contamination: float
) -> None:
    """Values inside each key's range parse; a value outside names its key."""
    params = {"stealth": stealth, "population": {"users": users}, "contamination": contamination}
    bad = []
    if not 0 <= stealth <= 1:
        bad.append("simulate.stealth")
    if users < 1:
        bad.append("simulate.population.users")
    if not 0 <= contamination <= 0.5:
        bad.append("simulate.contamination")
    if not bad:
        scenario = load_scenario(params)
        assert (scenario.stealth, scenario.population.users) == (stealth, users)
        return
    with pytest.raises(UserError) as caught:
        load_scenario(params)
    assert str(caught.value).split(":")[0] in bad
