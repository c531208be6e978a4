"""The paper's figures as functions of tidy tables and arrays; each returns a matplotlib Figure."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from simplexgrad.evaluation import METRICS  # noqa: E402
from simplexgrad.io import atomic_output  # noqa: E402

__all__ = [
    "save_figure",
    "classification_vs_interpretability",
    "correction_scatter",
    "sequence_patch",
    "motif_angles",
    "background_angles",
    "large_angle_histograms",
]

METRIC_NAMES = {"cosine": "cosine similarity", "auroc": "AUROC", "aupr": "AUPR"}
ALPHABET = list("ACGT")


def save_figure(figure: plt.Figure, pdf: str | os.PathLike, png: str | os.PathLike) -> None:
    """Write a figure as PDF and PNG, atomically and without timestamps (same input, same bytes)."""
    with atomic_output(pdf) as temporary:
        figure.savefig(temporary, format="pdf", bbox_inches="tight", metadata={"CreationDate": None})
    with atomic_output(png) as temporary:
        figure.savefig(temporary, format="png", dpi=150, bbox_inches="tight")
    plt.close(figure)


def _model_labels(table: pd.DataFrame) -> pd.Series:
    short = {"exponential": "exp", "relu": "relu"}
    return (
        table["model"].str.replace("_", "-").str.replace("cnn", "CNN")
        + "-"
        + table["activation"].map(short).fillna(table["activation"])
    )


def _method_rows(metrics: pd.DataFrame, method: str) -> pd.DataFrame:
    rows = metrics[metrics["method"] == method].copy()
    if rows.empty:
        raise ValueError(f"no rows for method {method!r} in the metrics table")
    rows["model_name"] = _model_labels(rows)
    return rows.sort_values(["model_name", "seed"])


def classification_vs_interpretability(metrics: pd.DataFrame, method: str = "saliency") -> plt.Figure:
    """Fig 2a-c: classification AUROC against each interpretability metric of the raw maps, per model."""
    rows = _method_rows(metrics, method)
    rows = rows[~rows["corrected"].astype(bool)]
    figure, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.8))
    for axis, metric in zip(axes, METRICS):
        sns.scatterplot(
            data=rows, x="classification_auroc", y=metric, hue="model_name", ax=axis, s=30, alpha=0.8
        )
        axis.set_xlabel("classification AUROC")
        axis.set_ylabel(f"interpretability ({METRIC_NAMES[metric]})")
        axis.legend(fontsize=7, title=None)
    figure.suptitle(f"{method.replace('_', ' ')}: classification vs interpretability (raw maps)")
    figure.tight_layout()
    return figure


def correction_scatter(metrics: pd.DataFrame, method: str = "saliency") -> plt.Figure:
    """Fig 2d-f / appendix Fig 5: each model's interpretability before (x) and after (y) correction."""
    rows = _method_rows(metrics, method)
    paired = rows.pivot_table(
        index=["model_name", "seed"], columns="corrected", values=list(METRICS)
    ).reset_index()
    figure, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.8))
    for axis, metric in zip(axes, METRICS):
        before, after = paired[(metric, False)], paired[(metric, True)]
        sns.scatterplot(x=before, y=after, hue=paired["model_name"], ax=axis, s=30, alpha=0.8)
        low = float(np.nanmin([before.min(), after.min()]))
        high = float(np.nanmax([before.max(), after.max()]))
        pad = 0.02 * (high - low or 1.0)
        axis.plot([low - pad, high + pad], [low - pad, high + pad], color="0.5", lw=1, ls="--")
        axis.set_xlabel(f"{METRIC_NAMES[metric]} before correction")
        axis.set_ylabel(f"{METRIC_NAMES[metric]} after correction")
        axis.legend(fontsize=7, title=None)
    figure.suptitle(f"{method.replace('_', ' ')}: interpretability before vs after correction")
    figure.tight_layout()
    return figure


def _logo(axis, values: np.ndarray, start: int, title: str) -> None:
    import logomaker

    frame = pd.DataFrame(values, columns=ALPHABET, index=np.arange(start, start + len(values)))
    logomaker.Logo(frame, ax=axis, color_scheme="classic")
    axis.axhline(0, color="0.3", lw=0.5)
    axis.set_ylabel(title, fontsize=8)
    axis.tick_params(labelsize=7)


def sequence_patch(
    x: np.ndarray,
    model_probs: np.ndarray,
    raw: np.ndarray,
    corrected: np.ndarray,
    angles: np.ndarray,
    start: int,
    width: int,
) -> plt.Figure:
    """Fig 3a: one sequence patch: ground-truth logo, raw and corrected grad×input logos, angle track.

    Parameters
    ----------
    x, model_probs, raw, corrected : numpy.ndarray
        ``(L, 4)`` arrays of one sequence.
    angles : numpy.ndarray
        ``(L,)`` angles of the raw gradient.
    start, width : int
        The patch ``[start, start + width)``.
    """
    window = slice(start, start + width)
    information = np.log2(4) + np.sum(
        model_probs * np.log2(np.where(model_probs > 0, model_probs, 1.0)), axis=1
    )
    figure, axes = plt.subplots(4, 1, figsize=(min(0.16 * width + 2, 14), 6.4), sharex=True)
    _logo(axes[0], (model_probs * information[:, None])[window], start, "ground truth\n(bits)")
    _logo(axes[1], (raw * x)[window], start, "saliency\n(raw)")
    _logo(axes[2], (corrected * x)[window], start, "saliency\n(corrected)")
    limits = np.abs(np.concatenate([(raw * x)[window], (corrected * x)[window]])).max() * 1.05 or 1.0
    for axis in axes[1:3]:
        axis.set_ylim(-limits, limits)
    positions = np.arange(start, start + width)
    axes[3].bar(positions, angles[window], color=np.where(np.abs(angles[window]) > 45, "C3", "C0"))
    axes[3].axhline(0, color="0.3", lw=0.5)
    axes[3].set_ylim(-90, 90)
    axes[3].set_xlim(start - 0.5, start + width - 0.5)  # the axes are shared: this frames every panel
    axes[3].set_ylabel("angle (°)", fontsize=8)
    axes[3].set_xlabel("position")
    figure.tight_layout()
    return figure


def motif_angles(angles: np.ndarray, improvement: np.ndarray, model_name: str) -> plt.Figure:
    """Fig 3c: angle density at motif positions (top) and cosine improvement vs angle (bottom).

    Parameters
    ----------
    angles, improvement : numpy.ndarray
        ``(P,)`` values at ground-truth motif positions.
    """
    figure, axes = plt.subplots(2, 1, figsize=(4.8, 6.0), sharex=True)
    sns.histplot(angles, bins=np.arange(-90, 91, 5), stat="density", ax=axes[0], color="C0")
    axes[0].set_title(f"{model_name}: motif positions (sd {np.std(angles):.1f}°)")
    axes[1].scatter(angles, improvement, s=3, alpha=0.3, color="C0", rasterized=True)
    axes[1].axhline(0, color="0.3", lw=0.5)
    axes[1].set_xlabel("angle between gradient and simplex (°)")
    axes[1].set_ylabel("improvement (cosine)")
    axes[1].set_xlim(-90, 90)
    figure.tight_layout()
    return figure


def background_angles(
    angles: np.ndarray, raw_scores: np.ndarray, corrected_scores: np.ndarray, model_name: str
) -> plt.Figure:
    """Fig 3d: angle density at background positions (top) and grad×input before/after vs angle.

    Parameters
    ----------
    angles, raw_scores, corrected_scores : numpy.ndarray
        ``(P,)`` values at background positions.
    """
    figure, axes = plt.subplots(2, 1, figsize=(4.8, 6.0), sharex=True)
    sns.histplot(angles, bins=np.arange(-90, 91, 5), stat="density", ax=axes[0], color="C1")
    axes[0].set_title(f"{model_name}: background positions (sd {np.std(angles):.1f}°)")
    axes[1].scatter(angles, raw_scores, s=3, alpha=0.3, color="0.5", label="raw", rasterized=True)
    axes[1].scatter(
        angles, corrected_scores, s=3, alpha=0.3, color="C1", label="corrected", rasterized=True
    )
    axes[1].axhline(0, color="0.3", lw=0.5)
    axes[1].set_xlabel("angle between gradient and simplex (°)")
    axes[1].set_ylabel("grad × input")
    axes[1].set_xlim(-90, 90)
    axes[1].legend(markerscale=4, fontsize=8)
    figure.tight_layout()
    return figure


def large_angle_histograms(angles: pd.DataFrame, method: str = "saliency") -> plt.Figure:
    """Fig 4a: per-sequence % of positions with |angle| above each threshold, one panel per model."""
    rows = _method_rows(angles, method)
    models = sorted(rows["model_name"].unique())
    figure, axes = plt.subplots(1, len(models), figsize=(3.6 * len(models), 3.2), squeeze=False)
    for axis, name in zip(axes[0], models):
        subset = rows[rows["model_name"] == name].copy()
        subset["threshold"] = subset["threshold"].map(lambda t: f"> {t:g}°")
        sns.histplot(
            data=subset, x="percent", hue="threshold", bins=np.arange(0, 101, 2.5),
            stat="percent", common_norm=False, element="step", ax=axis,
        )
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("% positions per sequence")
    figure.tight_layout()
    return figure
