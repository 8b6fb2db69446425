"""Labelled API traffic: benign populations with traps, attack campaigns, scenario mixing.

>>> from apibehave.simulate import load_scenario, simulate
>>> result = simulate(load_scenario({"scale": 0.01}))  # doctest: +SKIP
"""

from apibehave.simulate.apis import APIS, catalogue_dict
from apibehave.simulate.run import SimulationResult, simulate
from apibehave.simulate.scenario import Scenario, available_scenarios, load_scenario

__all__ = [
    "APIS",
    "Scenario",
    "SimulationResult",
    "available_scenarios",
    "catalogue_dict",
    "load_scenario",
    "simulate",
]
