"""Figures for the notebooks: traffic, thresholds, detection. Each returns a Figure.

Every function builds a matplotlib :class:`~matplotlib.figure.Figure` without pyplot (no
display needed, no global state); :meth:`apibehave.workbench.step.Step.log_figure` renders
it once to a PNG in the run folder, logs that PNG to the step's MLflow run (what
``mlflow.log_figure`` stores, without a second render) and shows it in the notebook.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from apibehave.detect.decision_model import DecisionModel
from apibehave.schema.attacks import NORMAL_LABEL


def _figure(rows: int = 1, cols: int = 1, *, size: tuple[float, float] = (10, 4)) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=size)  # no layout engine: constrained layout triples render time
    axes = figure.subplots(rows, cols, squeeze=False)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.88, hspace=0.55, wspace=0.3)
    return figure, axes


def traffic_figure(events: pd.DataFrame, *, freq: str = "1h") -> Any:
    """Plot calls and error ratio (4xx and 5xx) per API over time."""
    figure, axes = _figure(2, 1, size=(11, 6))
    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime(events["ts"]),
            "api": events["api"].astype(object).fillna("(none)"),
            "error": events["status"].astype("int64").between(400, 599),
        }
    )
    grouped = frame.groupby(["api", pd.Grouper(key="ts", freq=freq)])
    calls = grouped.size().unstack("api").fillna(0)
    errors = grouped["error"].mean().unstack("api")
    for api in calls.columns:
        axes[0, 0].plot(calls.index, calls[api], label=str(api), linewidth=1.2)
        axes[1, 0].plot(errors.index, errors[api], label=str(api), linewidth=1.2)
    axes[0, 0].set_ylabel(f"calls per {freq}")
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_title("Traffic per API")
    axes[1, 0].set_ylabel("error ratio (4xx+5xx)")
    axes[1, 0].set_xlabel("time (UTC)")
    axes[0, 0].legend(fontsize=7, ncol=4, loc="upper left")
    for ax in axes[:, 0]:
        ax.grid(alpha=0.3)
    return figure


def top_clients_figure(report: dict[str, Any]) -> Any:
    """Plot the busiest source IPs of a usage report (``usage_report``)."""
    rows = report["source_ips"][::-1]
    figure, axes = _figure(size=(9, 0.35 * max(len(rows), 4) + 1))
    ax = axes[0, 0]
    ax.barh([r["ip"] for r in rows], [r["total_requests"] for r in rows], color="#4477aa")
    ax.set_xlabel("requests")
    ax.set_title("Top source IPs")
    ax.grid(axis="x", alpha=0.3)
    return figure


def training_features(events: pd.DataFrame, model: DecisionModel) -> tuple[np.ndarray, np.ndarray]:
    """Recompute a model's training features as its thresholds see them.

    Returns
    -------
    features : ndarray of shape (n_calls, n_features)
        Batch features after the model's address normalisation.
    apis : ndarray of str
        Each call's API.
    """
    from apibehave.features.batch import compute_features
    from apibehave.features.prepare import prepare_events
    from apibehave.schema.catalogue import resolve_apis

    events = events.reset_index(drop=True)
    catalogue = model.catalogue
    apis = resolve_apis(events, catalogue) if len(catalogue) else events["api"]
    prepared = prepare_events(events.assign(api=apis), model.feature_context())
    features = compute_features(prepared, model.feature_set, model.vocabulary).to_numpy()
    features = model.detectors.normalizer.apply(features)
    return features, prepared["api"].astype(object).to_numpy()


def threshold_figure(
    model: DecisionModel,
    features: np.ndarray,
    apis: np.ndarray,
    api: str,
    *,
    max_features: int = 8,
) -> Any:
    """Plot one API's training distribution per feature, with its normal and extreme thresholds.

    Shows the features with learned thresholds whose training values vary most often
    (up to ``max_features``), each as a histogram (log counts) with the normal (dashed)
    and extreme (solid) thresholds.
    """
    detector = model.detectors.detectors.get(api)
    names = model.feature_set.names
    rows = np.flatnonzero(apis == api)
    chosen = []
    if detector is not None:
        for j, name in enumerate(names):
            t = detector.thresholds.get(name)
            if t is None or not np.isfinite(t.extreme) or not np.isfinite(t.normal):
                continue
            values = features[rows, j]
            values = values[np.isfinite(values)]
            if values.size:
                chosen.append((float(np.mean(values > np.min(values))), j, t))
    chosen = sorted(chosen, key=lambda c: -c[0])[:max_features]
    cols = 4
    n_rows = max(1, -(-len(chosen) // cols))
    figure, axes = _figure(n_rows, cols, size=(13, 2.4 * n_rows + 0.6))
    for ax in axes.ravel():
        ax.set_visible(False)
    for ax, (_, j, t) in zip(axes.ravel(), sorted(chosen, key=lambda c: c[1]), strict=False):
        ax.set_visible(True)
        values = features[rows, j]
        values = values[np.isfinite(values)]
        top = max(float(np.max(values)), t.extreme) * 1.05 if values.size else t.extreme
        bottom = min(float(np.min(values)), t.normal) if values.size else 0.0
        bins = np.linspace(bottom, top if top > bottom else bottom + 1, 40)
        ax.hist(values, bins=bins, color="#88aacc")
        ax.set_yscale("log")
        ax.axvline(t.normal, color="#ee7733", linestyle="--", linewidth=1.2, label="normal")
        ax.axvline(t.extreme, color="#cc3311", linewidth=1.4, label="extreme")
        ax.set_title(names[j], fontsize=8)
        ax.tick_params(labelsize=7)
    if chosen:
        axes.ravel()[0].legend(fontsize=7)
    status = detector.status if detector is not None else "not trained"
    figure.suptitle(
        f"API {api}: {rows.size:,} training calls, {status}; thresholds against the training "
        f"distribution ({len(chosen)} features shown)",
        fontsize=10,
    )
    return figure


def recall_figure(by_type: pd.DataFrame) -> Any:
    """Plot actor recall and share of attack calls blocked per attack type."""
    frame = by_type.sort_values("attack_type")
    figure, axes = _figure(size=(11, 4))
    ax = axes[0, 0]
    x = np.arange(len(frame))
    ax.bar(x - 0.2, frame["actor_recall"], width=0.4, label="actor recall", color="#4477aa")
    ax.bar(x + 0.2, frame["share_calls_blocked"], width=0.4, label="calls blocked",
           color="#ee6677")  # fmt: skip
    ax.set_xticks(x, frame["attack_type"], rotation=60, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("Held-out detection per attack type")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return figure


def confusion_figure(events: pd.DataFrame, decisions: pd.DataFrame) -> Any:
    """Plot calls by truth (benign, attack) and decision (allowed, blocked), counts and shares."""
    attack = (events["label"].astype(object).fillna(NORMAL_LABEL) != NORMAL_LABEL).to_numpy()
    block = (decisions["decision"] == "block").to_numpy()
    matrix = np.array(
        [
            [np.sum(~attack & ~block), np.sum(~attack & block)],
            [np.sum(attack & ~block), np.sum(attack & block)],
        ]
    )
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axes = _figure(size=(5, 4))
    ax = axes[0, 0]
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{matrix[i, j]:,}\n{shares[i, j]:.2%}", ha="center", va="center",
                    color="white" if shares[i, j] > 0.5 else "black", fontsize=9)  # fmt: skip
    ax.set_xticks([0, 1], ["allowed", "blocked"])
    ax.set_yticks([0, 1], ["benign", "attack"])
    ax.set_title("Held-out calls: truth x decision")
    return figure


def first_block_figure(outcomes: pd.DataFrame) -> Any:
    """Plot the calls each attack actor made before its first block, per attack type.

    ``outcomes`` is :func:`apibehave.workbench.evaluate.actor_outcomes`; actors never
    blocked are counted in the labels.
    """
    blocked = outcomes[outcomes["blocked"]]
    types = sorted(outcomes["label"].unique())
    figure, axes = _figure(size=(11, 4))
    ax = axes[0, 0]
    for i, attack in enumerate(types):
        values = blocked.loc[blocked["label"] == attack, "calls_before_first_block"].astype(float)
        ax.scatter(np.full(len(values), i), values + 1, s=18, alpha=0.7, color="#4477aa")
    never = outcomes[~outcomes["blocked"]].groupby("label").size()
    labels = [f"{t} ({never.get(t, 0)} never)" if never.get(t, 0) else t for t in types]
    ax.set_xticks(range(len(types)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("calls before first block + 1")
    ax.set_title("Calls to first block per attack actor")
    ax.grid(axis="y", alpha=0.3)
    return figure
