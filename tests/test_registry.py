"""Registry round trip and the promotion gate, against a temporary SQLite store."""

from __future__ import annotations

import json
import os

import mlflow
import pytest

from apibehave.common.errors import UserError
from apibehave.detect.model import LearningSettings
from apibehave.workbench import registry
from apibehave.workbench.pyfunc_model import log_bundle_model, model_input
from apibehave.workbench.registry import PromotionRule, Scorecard, decide
from apibehave.workbench.tracking import tracked_run
from apibehave.workbench.train import export_bundle, train_model
from apibehave.workbench.train_settings import TrainSettings
from tests.engine_world import CATALOGUE, make_logs
from tests.mlflow_store import fresh_store

GOOD = {"min_events": 100}
WEAK = {"min_events": 100_000}  # every API stays in learning mode: rules only, lower recall
NOISY = {"min_events": 100, "normal_quantile": 0.9, "min_normal_crossings": 1}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A temporary store and a logged model per learning setting (not yet registered)."""
    folder = tmp_path_factory.mktemp("registry")
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = fresh_store(folder)
    train, test = make_logs(seed=5)
    uris = {}
    for name, learning in {"good": GOOD, "weak": WEAK, "noisy": NOISY}.items():
        settings = TrainSettings(learning=LearningSettings(**learning))
        result = train_model(train, catalogue=CATALOGUE, settings=settings)
        with tracked_run("test-registry", name) as run:
            bundle = export_bundle(result, folder / name, settings, mlflow_run_id=run.info.run_id)
            uris[name] = log_bundle_model(bundle, example_events=test).model_uri
    yield {"uris": uris, "test": test, "folder": folder}
    if saved is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = saved


def tags(name: str, version: str) -> dict[str, str]:
    return mlflow.MlflowClient().get_model_version(name, version).tags


def test_registered_challenger_loads_by_alias_and_scores(world) -> None:
    """A registered version carries `challenger` and its pyfunc scores events by alias."""
    version = registry.register_challenger(world["uris"]["good"], "roundtrip")
    assert registry.alias_version("roundtrip", "challenger") == version
    loaded = mlflow.pyfunc.load_model("models:/roundtrip@challenger")
    decisions = loaded.predict(model_input(world["test"]))
    assert len(decisions) == len(world["test"])
    assert (decisions["decision"] == "block").any()


def test_promotion_gate_both_ways(world) -> None:
    """The first model becomes champion; a better one replaces it; worse ones do not."""
    name, test = "gate", world["test"]
    weak = registry.register_challenger(world["uris"]["weak"], name)
    first = registry.promote(name, weak, test)
    assert first.promoted and first.champion is None
    assert registry.alias_version(name, "champion") == weak

    good = registry.register_challenger(world["uris"]["good"], name)
    better = registry.promote(name, good, test)
    assert better.promoted, better.summary()
    assert better.challenger.mean_actor_recall > better.champion.mean_actor_recall
    assert registry.alias_version(name, "champion") == good
    assert registry.alias_version(name, "challenger") is None

    weak_again = registry.register_challenger(world["uris"]["weak"], name)
    worse = registry.promote(name, weak_again, test)
    assert not worse.promoted
    assert registry.alias_version(name, "champion") == good
    assert registry.alias_version(name, "challenger") == weak_again
    recorded = tags(name, weak_again)
    assert recorded["promotion.decision"] == "rejected"
    assert recorded["promotion.compared_with"] == good
    assert "not better" in recorded["promotion.reasons"]
    assert recorded["heldout.digest"] == tags(name, good)["heldout.digest"]

    noisy = registry.register_challenger(world["uris"]["noisy"], name)
    blocked_benign = registry.promote(name, noisy, test)
    assert not blocked_benign.promoted
    assert blocked_benign.challenger.benign_share_calls_blocked > 0.005
    assert "above the cap" in tags(name, noisy)["promotion.reasons"]
    assert registry.alias_version(name, "champion") == good


def test_the_same_model_again_is_not_promoted(world) -> None:
    """An identical challenger ties the champion and is not promoted."""
    name = "ties"
    first = registry.register_challenger(world["uris"]["good"], name)
    assert registry.promote(name, first, world["test"]).promoted
    second = registry.register_challenger(world["uris"]["good"], name)
    decision = registry.promote(name, second, world["test"])
    assert not decision.promoted
    assert decision.challenger.mean_actor_recall == decision.champion.mean_actor_recall


def test_a_deferred_promotion_moves_nothing_until_applied(world) -> None:
    """With apply=False a winner is only approved; apply_promotion moves champion."""
    name = "deferred"
    version = registry.register_challenger(world["uris"]["good"], name)
    decision = registry.promote(name, version, world["test"], apply=False)
    assert decision.promoted and not decision.applied
    assert "approved" in decision.summary()
    assert registry.alias_version(name, "champion") is None
    assert tags(name, version)["promotion.decision"] == "approved"
    applied = registry.apply_promotion(decision)
    assert applied.applied and registry.alias_version(name, "champion") == version
    assert tags(name, version)["promotion.decision"] == "promoted"
    weak = registry.register_challenger(world["uris"]["weak"], name)
    rejected = registry.promote(name, weak, world["test"], apply=False)
    assert registry.apply_promotion(rejected) is rejected
    assert registry.alias_version(name, "champion") == version


def test_staging_release_copy_and_export_name_the_version(world, tmp_path) -> None:
    """Challenger -> staging -> champion; a copy to production; the exported bundle names it."""
    name = "lifecycle"
    version = registry.register_challenger(world["uris"]["good"], name)
    staged = registry.promote(name, version, world["test"], alias="staging")
    assert staged.promoted and registry.alias_version(name, "champion") is None
    assert registry.alias_version(name, "challenger") == version
    assert registry.release_staging(name) == version
    assert registry.alias_version(name, "champion") == version
    assert registry.alias_version(name, "challenger") is None

    prod_version = registry.copy_to_registered_model(name, version, "lifecycle-prod")
    assert registry.alias_version("lifecycle-prod", "champion") == prod_version
    assert mlflow.pyfunc.load_model("models:/lifecycle-prod@champion") is not None

    out = registry.export_bundle_for(name, tmp_path / "served")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["registry"] == {"model_name": name, "version": version, "alias": "champion"}
    assert manifest["mlflow_run_id"]
    from apibehave.bundle.model_bundle import load_model_bundle

    load_model_bundle(out)
    with pytest.raises(UserError, match="exists"):
        registry.export_bundle_for(name, tmp_path / "served")
    with pytest.raises(UserError, match="no version holds"):
        registry.export_bundle_for("lifecycle-prod", tmp_path / "other", alias="staging")
    pinned = registry.export_bundle_for(name, tmp_path / "pinned", alias=None, version=version)
    pinned_manifest = json.loads((pinned / "manifest.json").read_text())
    assert pinned_manifest["registry"]["version"] == version
    assert pinned_manifest["registry"].get("alias") is None
    assert pinned_manifest["files"] == manifest["files"]  # the registered payload, unchanged


def card(recall: float, share: float, per_1000: float = 0.0) -> Scorecard:
    return Scorecard("1", recall, share, per_1000)


def test_decide_rule_on_hand_made_scorecards() -> None:
    """Better recall at no worse benign blocking wins; tolerances and the cap hold."""
    rule = PromotionRule(benign_share_tolerance=0.0001, benign_clients_per_1000_tolerance=0.5)
    assert decide(card(0.8, 0.001), card(0.7, 0.001), rule)[0]
    assert decide(card(0.8, 0.00105), card(0.7, 0.001), rule)[0]  # within tolerance
    assert not decide(card(0.8, 0.0012), card(0.7, 0.001), rule)[0]  # blocks more benign
    assert not decide(card(0.8, 0.001, 2.0), card(0.7, 0.001, 1.0), rule)[0]  # more clients
    assert not decide(card(0.7, 0.001), card(0.7, 0.001), rule)[0]  # a tie is not a win
    assert decide(card(0.7, 0.0005), card(0.7, 0.001), rule)[0]  # same recall, cleaner
    assert not decide(card(0.9, 0.006), None, rule)[0]  # above the absolute cap
    assert decide(card(0.1, 0.0), None, rule)[0]  # first champion
    with pytest.raises(UserError, match="at least 0"):
        PromotionRule(min_recall_gain=-1)
