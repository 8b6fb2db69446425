"""The MLflow model registry: register challengers, gate promotion, export what is served.

Aliases, never stages. A newly registered version gets the alias ``challenger``.
:func:`promote` replays the challenger *and* the current ``champion`` on the same fixed,
labelled held-out events and moves ``champion`` (or ``staging``) to the challenger only
when it **beats** the champion (:class:`PromotionRule`):

1. it blocks at most ``max_benign_share_calls_blocked`` of benign calls (an absolute cap
   that also applies when there is no champion yet);
2. its benign calls blocked share is not above the champion's plus
   ``benign_share_tolerance``, and its benign client IPs blocked per 1,000 not above the
   champion's plus ``benign_clients_per_1000_tolerance``;
3. its mean actor recall (the mean over attack types of the share of attack actors with
   at least one blocked call, each type weighing the same) is above the champion's plus
   ``min_recall_gain``, or equal to it while blocking a smaller share of benign calls.

With no champion, rule 1 alone decides. The decision, its reasons, both sides' figures
and the held-out set's digest are written as tags on the challenger's version
(``promotion.*``, ``heldout.*``; ``promotion.decision`` is ``rejected``, ``approved`` or,
once the alias has moved, ``promoted``); a rejected challenger keeps ``challenger`` and
``champion`` does not move. ``promote(..., apply=False)`` records the decision only, and
:func:`apply_promotion` moves the alias when the rest of a pipeline has succeeded.

Lifecycle across environments: ``challenger`` -> ``staging`` (``promote(...,
alias="staging")`` in the pre-production environment) -> ``champion``
(:func:`release_staging`), or :func:`copy_to_registered_model` copies a version into a
production registered model with its own ``champion`` alias. :func:`export_bundle_for`
writes the bundle an enforcer serves with ``registry: {model_name, version, alias}`` in its
manifest.

Usage (notebook 05 and 06)::

    from apibehave.workbench import registry

    version = registry.register_challenger(info.model_uri, "apibehave")  # ModelInfo of a run
    decision = registry.promote("apibehave", version, held_out_events, apply=False)
    print(decision.summary())
    ...  # the rest of the pipeline
    decision = registry.apply_promotion(decision)  # moves champion only if it won
    bundle = registry.export_bundle_for("apibehave", "bundles/latest", force=True)
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from apibehave.common.errors import UserError
from apibehave.workbench.evaluate import Evaluation

DEFAULT_MODEL_NAME = "apibehave"
CHALLENGER = "challenger"
STAGING = "staging"
CHAMPION = "champion"


@dataclass(frozen=True)
class PromotionRule:
    """When a challenger beats the champion (see the module docstring).

    Attributes
    ----------
    max_benign_share_calls_blocked : float
        Absolute cap on the share of benign calls blocked (0.005 = 0.5 %).
    benign_share_tolerance : float
        How much more of benign calls the challenger may block than the champion
        (absolute share; 0.0002 = 0.02 percentage points).
    benign_clients_per_1000_tolerance : float
        How many more benign client IPs per 1,000 it may block than the champion.
    min_recall_gain : float
        Least gain in mean actor recall that counts as better.
    """

    max_benign_share_calls_blocked: float = 0.005
    benign_share_tolerance: float = 0.0002
    benign_clients_per_1000_tolerance: float = 1.0
    min_recall_gain: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 0:
                raise UserError(f"promotion rule {name}: must be at least 0, got {value}")


@dataclass(frozen=True)
class Scorecard:
    """What promotion compares, for one model version on the held-out events."""

    version: str
    mean_actor_recall: float
    benign_share_calls_blocked: float
    benign_clients_blocked_per_1000: float
    recall_by_type: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_evaluation(cls, version: str, evaluation: Evaluation) -> Scorecard:
        """Summarise an evaluation (mean actor recall over attack types present)."""
        by_type = evaluation.by_type
        pairs = zip(by_type["attack_type"], by_type["actor_recall"], strict=True)
        recall = {str(t): float(r) for t, r in pairs}
        return cls(
            version=str(version),
            mean_actor_recall=sum(recall.values()) / len(recall) if recall else 0.0,
            benign_share_calls_blocked=float(evaluation.benign["share_calls_blocked"]),
            benign_clients_blocked_per_1000=float(evaluation.benign["clients_blocked_per_1000"]),
            recall_by_type=recall,
        )


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of :func:`promote`, as recorded on the challenger's version.

    ``promoted`` says the challenger beat the champion; ``applied`` that ``alias`` has
    moved to it (False until :func:`apply_promotion` when ``promote(..., apply=False)``).
    """

    model_name: str
    promoted: bool
    alias: str
    challenger: Scorecard
    champion: Scorecard | None
    reasons: tuple[str, ...]
    held_out_digest: str
    held_out_events: int
    applied: bool = False

    def summary(self) -> str:
        """One line for terminals and notebooks."""
        if not self.promoted:
            verdict = "not promoted"
        else:
            verdict = "promoted" if self.applied else "approved (alias not moved yet)"
        against = f"champion v{self.champion.version}" if self.champion else "no champion"
        return (
            f"{self.model_name} v{self.challenger.version} {verdict} to {self.alias} "
            f"(against {against}): " + "; ".join(self.reasons)
        )

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON-ready data."""
        return asdict(self)


def register_challenger(
    model_uri: str, name: str = DEFAULT_MODEL_NAME, *, tags: dict[str, str] | None = None
) -> str:
    """Register a logged model as a new version of ``name`` and give it ``challenger``.

    Parameters
    ----------
    model_uri : str
        The logged pyfunc (``ModelInfo.model_uri``, ``models:/m-...`` or ``runs:/...``).
    name : str
        The registered model.
    tags : dict, optional
        Version tags (e.g. params hash, training data digest).

    Returns
    -------
    str
        The new version.
    """
    mlflow = _mlflow()
    version = _call(lambda: mlflow.register_model(model_uri, name, tags=tags or None))
    client = _client()
    _call(lambda: client.set_registered_model_alias(name, CHALLENGER, version.version))
    return str(version.version)


def alias_version(name: str, alias: str) -> str | None:
    """Return the version holding ``alias`` in ``name``, or None."""
    mlflow = _mlflow()
    client = _client()
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None  # no such model, or no such alias
        raise _user_error(exc) from exc
    except Exception as exc:  # the store itself failed (SQLAlchemy, HTTP...)
        raise _user_error(exc) from exc


def download_bundle(name: str, version: str, dst: str | os.PathLike[str]) -> Path:
    """Download a registered version's bundle directory (verified when loaded)."""
    mlflow = _mlflow()
    from apibehave.workbench.pyfunc_model import BUNDLE_ARTIFACT

    local = _call(
        lambda: mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=str(dst)
        )
    )
    bundle = Path(local) / "artifacts" / BUNDLE_ARTIFACT
    if not (bundle / "manifest.json").is_file():
        raise UserError(f"{name} v{version} holds no apibehave bundle (not logged by apibehave?)")
    return bundle


def evaluate_version(name: str, version: str, held_out: pd.DataFrame) -> Evaluation:
    """Replay the held-out events with a registered version and score its decisions."""
    from apibehave.bundle.model_bundle import load_model_bundle
    from apibehave.engine.replay import replay_events
    from apibehave.workbench.evaluate import evaluate_decisions

    with tempfile.TemporaryDirectory() as tmp:
        model = load_model_bundle(download_bundle(name, version, tmp))
    return evaluate_decisions(held_out, replay_events(held_out, model).decisions)


def decide(
    challenger: Scorecard, champion: Scorecard | None, rule: PromotionRule
) -> tuple[bool, list[str]]:
    """Apply the promotion rule; return whether the challenger beats and why."""
    c = challenger
    reasons: list[str] = []
    cap_ok = c.benign_share_calls_blocked <= rule.max_benign_share_calls_blocked
    reasons.append(
        f"benign calls blocked {c.benign_share_calls_blocked:.4%} "
        f"{'within' if cap_ok else 'above'} the cap {rule.max_benign_share_calls_blocked:.4%}"
    )
    if champion is None:
        if cap_ok:
            reasons.append(f"no champion yet; mean actor recall {c.mean_actor_recall:.3f}")
        return cap_ok, reasons
    p = champion
    share_ok = c.benign_share_calls_blocked <= (
        p.benign_share_calls_blocked + rule.benign_share_tolerance
    )
    reasons.append(
        f"benign calls blocked {c.benign_share_calls_blocked:.4%} vs champion "
        f"{p.benign_share_calls_blocked:.4%} (tolerance {rule.benign_share_tolerance:.4%}): "
        f"{'ok' if share_ok else 'worse'}"
    )
    clients_ok = c.benign_clients_blocked_per_1000 <= (
        p.benign_clients_blocked_per_1000 + rule.benign_clients_per_1000_tolerance
    )
    reasons.append(
        f"benign clients blocked {c.benign_clients_blocked_per_1000:.2f}/1000 vs champion "
        f"{p.benign_clients_blocked_per_1000:.2f} (tolerance "
        f"{rule.benign_clients_per_1000_tolerance:g}): {'ok' if clients_ok else 'worse'}"
    )
    gain = c.mean_actor_recall - p.mean_actor_recall
    recall_better = gain > rule.min_recall_gain
    tie_but_cleaner = abs(gain) <= 1e-12 and (
        c.benign_share_calls_blocked < p.benign_share_calls_blocked
    )
    reasons.append(
        f"mean actor recall {c.mean_actor_recall:.3f} vs champion {p.mean_actor_recall:.3f} "
        f"(gain {gain:+.3f}, needs > {rule.min_recall_gain:g}"
        f"{', tied but blocks fewer benign calls' if tie_but_cleaner else ''}): "
        f"{'better' if recall_better or tie_but_cleaner else 'not better'}"
    )
    return cap_ok and share_ok and clients_ok and (recall_better or tie_but_cleaner), reasons


def promote(
    name: str,
    version: str,
    held_out: pd.DataFrame,
    *,
    rule: PromotionRule | None = None,
    alias: str = CHAMPION,
    apply: bool = True,
) -> PromotionDecision:
    """Move ``alias`` to ``version`` only when it beats the current champion.

    Both are replayed on the same labelled ``held_out`` events; the decision, its reasons
    and both scorecards are written as tags on ``version`` (and the held-out digest, so
    two decisions can be seen to use the same set).

    Parameters
    ----------
    name, version : str
        The registered model and the challenger's version.
    held_out : pandas.DataFrame
        Labelled events never used to train or tune (``label`` and ``actor`` columns).
    rule : PromotionRule, optional
        What "beats" means; the defaults are documented on :class:`PromotionRule`.
    alias : str
        The alias to move when the challenger wins: ``champion``, or ``staging`` for the
        pre-production step (the comparison is always against ``champion``).
    apply : bool
        Move the alias now; with False a winner is recorded as ``approved`` and
        :func:`apply_promotion` moves the alias later (e.g. once a whole pipeline has
        succeeded, so a failed pipeline never moves ``champion``).

    Returns
    -------
    PromotionDecision
    """
    from apibehave.workbench.train import events_digest

    rule = rule or PromotionRule()
    version = str(version)
    champion_version = alias_version(name, CHAMPION)
    challenger = Scorecard.from_evaluation(version, evaluate_version(name, version, held_out))
    champion = None
    if champion_version is not None and champion_version != version:
        champion = Scorecard.from_evaluation(
            champion_version, evaluate_version(name, champion_version, held_out)
        )
    if champion_version == version:
        promoted, reasons = False, [f"v{version} already holds {CHAMPION}"]
    else:
        promoted, reasons = decide(challenger, champion, rule)
    decision = PromotionDecision(
        model_name=name,
        promoted=promoted,
        alias=alias,
        challenger=challenger,
        champion=champion,
        reasons=tuple(reasons),
        held_out_digest=events_digest(held_out),
        held_out_events=len(held_out),
    )
    _record(decision)
    return apply_promotion(decision) if apply and promoted else decision


def apply_promotion(decision: PromotionDecision) -> PromotionDecision:
    """Move the decision's alias to the challenger, if it won; return the applied decision.

    A rejected decision is returned unchanged (nothing moves).
    """
    from apibehave.bundle.manifest import utc_timestamp

    if not decision.promoted or decision.applied:
        return decision
    client = _client()
    name, version = decision.model_name, decision.challenger.version
    _call(lambda: client.set_registered_model_alias(name, decision.alias, version))
    if decision.alias == CHAMPION and alias_version(name, CHALLENGER) == version:
        _call(lambda: client.delete_registered_model_alias(name, CHALLENGER))
    _call(lambda: client.set_model_version_tag(name, version, "promotion.decision", "promoted"))
    _call(lambda: client.set_model_version_tag(name, version, "promotion.applied_at",
                                               utc_timestamp()))  # fmt: skip
    return replace(decision, applied=True)


def _record(decision: PromotionDecision) -> None:
    from apibehave.bundle.manifest import utc_timestamp

    client = _client()
    name, c = decision.model_name, decision.challenger
    tags = {
        "promotion.decision": "approved" if decision.promoted else "rejected",
        "promotion.alias": decision.alias,
        "promotion.reasons": "; ".join(decision.reasons)[:4900],
        "promotion.compared_with": decision.champion.version if decision.champion else "none",
        "promotion.decided_at": utc_timestamp(),
        "heldout.digest": decision.held_out_digest,
        "heldout.events": str(decision.held_out_events),
        "heldout.mean_actor_recall": f"{c.mean_actor_recall:.6f}",
        "heldout.benign_share_calls_blocked": f"{c.benign_share_calls_blocked:.8f}",
        "heldout.benign_clients_blocked_per_1000": f"{c.benign_clients_blocked_per_1000:.4f}",
    }
    for key, value in tags.items():
        _call(lambda k=key, v=value: client.set_model_version_tag(name, c.version, k, v))


def release_staging(name: str = DEFAULT_MODEL_NAME) -> str:
    """Move ``champion`` to the version holding ``staging`` (it passed the gate there).

    ``staging`` stays where it is; ``challenger`` is dropped when it named that version.

    Returns
    -------
    str
        The released version.

    Raises
    ------
    UserError
        When no version holds ``staging``.
    """
    from apibehave.bundle.manifest import utc_timestamp

    version = alias_version(name, STAGING)
    if version is None:
        raise UserError(f"{name}: no version holds the alias {STAGING!r}")
    client = _client()
    previous = alias_version(name, CHAMPION)
    _call(lambda: client.set_registered_model_alias(name, CHAMPION, version))
    if alias_version(name, CHALLENGER) == version:  # a champion is no longer a challenger
        _call(lambda: client.delete_registered_model_alias(name, CHALLENGER))
    _call(lambda: client.set_model_version_tag(name, version, "released_at", utc_timestamp()))
    _call(lambda: client.set_model_version_tag(name, version, "released_over", previous or "none"))
    return version


def copy_to_registered_model(
    name: str, version: str, destination: str, *, alias: str = CHAMPION
) -> str:
    """Copy a version into another registered model (e.g. production) and alias it there.

    Returns
    -------
    str
        The version in ``destination``.
    """
    client = _client()
    copied = _call(lambda: client.copy_model_version(f"models:/{name}/{version}", destination))
    _call(lambda: client.set_registered_model_alias(destination, alias, copied.version))
    _call(
        lambda: client.set_model_version_tag(
            destination, copied.version, "copied_from", f"{name}/{version}"
        )
    )
    return str(copied.version)


def export_bundle_for(
    name: str,
    out_dir: str | os.PathLike[str],
    *,
    alias: str | None = CHAMPION,
    version: str | None = None,
    force: bool = False,
) -> Path:
    """Write the bundle of the version holding ``alias`` (or of ``version``), naming it.

    The payload files are the registered bundle's own bytes; the manifest gains
    ``registry: {model_name, version, alias}`` (``alias`` as given; pass ``alias=None``
    with ``version`` for a version that holds none). The write is atomic: a failure leaves
    any existing bundle at ``out_dir`` as it was.

    Raises
    ------
    UserError
        When no version holds ``alias``, or ``out_dir`` exists without ``force``.
    """
    from apibehave.bundle.manifest import RegistryRef
    from apibehave.bundle.reader import load_bundle
    from apibehave.bundle.writer import write_bundle
    from apibehave.common.output import check_output_path

    check_output_path(out_dir, force=force)
    if version is None:
        if alias is None:
            raise UserError("export_bundle_for needs an alias or a version")
        version = alias_version(name, alias)
        if version is None:
            raise UserError(f"{name}: no version holds the alias {alias!r}; nothing to export")
    version = str(version)
    with tempfile.TemporaryDirectory() as tmp:
        source = load_bundle(download_bundle(name, version, tmp))
        m = source.manifest
        payload = {file: source.read_bytes(file) for file in m.files}
        extra = dict(m.extra)
        if m.edited_by_hand:
            extra["registered_bundle_edited_by_hand"] = True
        fields = {
            "bundle_id": m.bundle_id,
            "created_at": m.created_at,
            "params_hash": m.params_hash,
            "feature_spec_hash": m.feature_spec_hash,
            "training_data_digest": m.training_data_digest,
            "apis": dict(m.apis),
            "libraries": dict(m.libraries),
            "extra": extra,
            "registry": RegistryRef(model_name=name, version=version, alias=alias),
        }
        if m.mlflow_run_id:
            fields["mlflow_run_id"] = m.mlflow_run_id
        return write_bundle(out_dir, payload, fields, force=force)


def _mlflow() -> Any:
    from apibehave.workbench.tracking import connect

    return connect()


def _client() -> Any:
    mlflow = _mlflow()
    return _call(mlflow.MlflowClient)


def _call(action: Any) -> Any:
    """Run one registry call; its errors (MLflow's, the store's) become one-line errors."""
    try:
        return action()
    except UserError:
        raise
    except Exception as exc:  # MLflow, SQLAlchemy and HTTP errors alike
        raise _user_error(exc) from exc


def _user_error(exc: BaseException) -> UserError:
    from apibehave.workbench.tracking import tracking_uri

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return UserError(f"MLflow registry at {tracking_uri()}: {first}")
