"""The synthetic study's figures (Fig 2, 3a, 3c, 3d and 4a, and motif recovery), drawn from its tidy
tables and arrays; each function returns a matplotlib Figure.

A function carries its figure's name (``fig3a_patch`` is the file stem, the rule's figure, the
``simplexgrad figure`` subcommand and this function); :mod:`simplexgrad.figures` reads the inputs.
Nothing here computes attributions or statistics beyond what is drawn.
"""

from __future__ import annotations

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.plots.synthetic"):
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    from simplexgrad.metrics import METRICS
    from simplexgrad.plots.common import angle_axis, angle_track, large_angle_panels, logo_track, model_label

__all__ = [
    "fig2_interpretability",
    "fig2_correction",
    "fig3a_patch",
    "fig3c_motif_angles",
    "fig3d_background_angles",
    "fig4a_large_angles",
    "modisco_recovery",
]

METRIC_NAMES = {"cosine": "cosine similarity", "auroc": "AUROC", "aupr": "AUPR"}


def _method_rows(metrics: pd.DataFrame, method: str) -> pd.DataFrame:
    rows = metrics[metrics["method"] == method].copy()
    if rows.empty:
        raise ValueError(f"no rows for method {method!r} in the table")
    rows["model_name"] = [model_label(a, b) for a, b in zip(rows["architecture"], rows["activation"])]
    return rows.sort_values(["model_name", "seed"])


def fig2_interpretability(metrics: pd.DataFrame, method: str = "saliency") -> plt.Figure:
    """Fig 2a-c: classification AUROC (x) against each interpretability metric of the raw maps (y)."""
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


def fig2_correction(metrics: pd.DataFrame, method: str = "saliency") -> plt.Figure:
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


def fig3a_patch(
    x: np.ndarray,
    ground_truth_probs: np.ndarray,
    raw: np.ndarray,
    corrected: np.ndarray,
    angles: np.ndarray,
    start: int,
    width: int,
    title: str = "",
    method: str = "saliency",
) -> plt.Figure:
    """Fig 3a (App. Fig 6): a sequence patch: ground truth ``M - 1/4``, raw and corrected maps (all
    four letters), grad×input raw and corrected on one scale (how the observed bases' scores change), and
    the angle between each position's gradient and the simplex.

    Parameters
    ----------
    x, ground_truth_probs, raw, corrected : numpy.ndarray
        ``(L, 4)`` arrays of one sequence.
    angles : numpy.ndarray
        ``(L,)`` angles of the raw gradient (NaN where it is zero: no bar).
    start, width : int
        The patch ``[start, start + width)``.
    title : str
        Title of the figure.
    method : str
        The attribution method of the maps, for the track labels (underscores become spaces).
    """
    window = slice(start, start + width)
    figure, axes = plt.subplots(6, 1, figsize=(min(0.16 * width + 2, 14), 9.4), sharex=True)
    logo_track(axes[0], (ground_truth_probs - 0.25)[window], start, "ground truth\nM - 0.25")
    label = method.replace("_", " ").replace(" gradients", "\ngradients")
    logo_track(axes[1], raw[window], start, f"{label}\n(raw)")
    logo_track(axes[2], corrected[window], start, f"{label}\n(corrected)")
    limit = np.abs(np.concatenate([raw[window], corrected[window]])).max() * 1.05 or 1.0
    for axis in axes[1:3]:
        axis.set_ylim(-limit, limit)
    logo_track(axes[3], (raw * x)[window], start, "grad × input\n(raw)")
    logo_track(axes[4], (corrected * x)[window], start, "grad × input\n(corrected)")
    scores = np.abs(np.concatenate([(raw * x)[window], (corrected * x)[window]])).max() * 1.05 or 1.0
    for axis in axes[3:5]:
        axis.set_ylim(-scores, scores)
    angle_track(axes[5], angles, start, width)
    axes[0].set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def _angle_density(axis, angles: np.ndarray, color: str, title: str, zero_gradients: int) -> None:
    sns.histplot(angles, bins=np.arange(-90, 91, 5), stat="density", ax=axis, color=color)
    spread = f"sd {np.std(angles):.1f}°" if len(angles) else "no angles"
    axis.set_title(f"{title} ({spread}; {zero_gradients} zero gradients left out)", fontsize=9)


def fig3c_motif_angles(
    angles: np.ndarray, improvement: np.ndarray, title: str, zero_gradients: int = 0
) -> plt.Figure:
    """Fig 3c (App. Fig 8): angle density at motif positions (top) and the per-position improvement in
    cosine similarity from the correction against the angle (bottom).

    Parameters
    ----------
    angles, improvement : numpy.ndarray
        ``(P,)`` values at motif positions with a non-zero gradient.
    """
    figure, axes = plt.subplots(2, 1, figsize=(4.8, 6.0), sharex=True)
    _angle_density(axes[0], angles, "C0", f"{title}: motif positions", zero_gradients)
    axes[1].scatter(angles, improvement, s=3, alpha=0.3, color="C0", rasterized=True)
    angle_axis(axes[1], "improvement (cosine)")
    figure.tight_layout()
    return figure


def fig3d_background_angles(
    angles: np.ndarray,
    raw_scores: np.ndarray,
    corrected_scores: np.ndarray,
    title: str,
    zero_gradients: int = 0,
) -> plt.Figure:
    """Fig 3d (App. Fig 8): angle density at background positions (top) and grad×input before and after
    the correction against the angle (bottom).

    Parameters
    ----------
    angles, raw_scores, corrected_scores : numpy.ndarray
        ``(P,)`` values at background positions with a non-zero gradient.
    """
    figure, axes = plt.subplots(2, 1, figsize=(4.8, 6.0), sharex=True)
    _angle_density(axes[0], angles, "C1", f"{title}: background", zero_gradients)
    axes[1].scatter(angles, raw_scores, s=3, alpha=0.3, color="0.5", label="raw", rasterized=True)
    axes[1].scatter(angles, corrected_scores, s=3, alpha=0.3, color="C1", label="corrected", rasterized=True)
    angle_axis(axes[1], "grad × input")
    axes[1].legend(markerscale=4, fontsize=8)
    figure.tight_layout()
    return figure


def fig4a_large_angles(angles: pd.DataFrame, method: str = "saliency") -> plt.Figure:
    """Fig 4a (App. Fig 12): per-sequence % of positions whose angle exceeds 30/45/60°, per model."""
    rows = _method_rows(angles, method)
    return large_angle_panels(rows, "model_name", sorted(rows["model_name"].unique()))


def modisco_recovery(counts: pd.DataFrame, similarity_threshold: float) -> plt.Figure:
    """Motif discovery on raw vs corrected maps, per model, mean over seeds: planted motifs recovered by
    PWM similarity (some pattern's information-trimmed PPM correlates with the planted PWM at
    r >= ``similarity_threshold``, best offset and strand) and by TOMTOM (the planted motif is among some
    pattern's significant matches, at any rank), the patterns found, and the patterns that match nothing
    planted by either definition.

    Parameters
    ----------
    counts : pandas.DataFrame
        :func:`simplexgrad.studies.motif_matching.recovery_counts` of the motif table: per model
        (``architecture``, ``activation``), ``seed`` and ``maps`` (raw or corrected), the four counts
        drawn; a run without patterns counts zeros.
    similarity_threshold : float
        Pearson r that counted a planted motif as recovered (for the panel's label).
    """
    counts["model"] = [model_label(a, b) for a, b in zip(counts["architecture"], counts["activation"])]
    panels = {
        "recovered_similarity": f"planted motifs recovered\n(PPM-PWM r ≥ {similarity_threshold:g})",
        "recovered_tomtom": "planted motifs recovered\n(significant TOMTOM match)",
        "patterns": "patterns found",
        "false_discoveries": "patterns matching\nnothing planted",
    }
    figure, axes = plt.subplots(1, 4, figsize=(14.0, 3.6))
    for axis, (column, label) in zip(axes, panels.items()):
        sns.barplot(data=counts, x="model", y=column, hue="maps", hue_order=["raw", "corrected"], ax=axis,
                    errorbar=None)  # fmt: skip
        for bars in axis.containers:
            axis.bar_label(bars, fmt="%.1f", fontsize=7)  # a zero stays visible as "0.0"
        axis.set_xlabel("")
        axis.set_ylabel(f"{label}, mean over seeds", fontsize=8)
        axis.set_ylim(0, max(1.0, float(counts[column].max()) * 1.1))  # counts: no negative axis when all 0
        axis.tick_params(axis="x", labelsize=8)
        if axis is not axes[0] and axis.get_legend() is not None:
            axis.get_legend().remove()
    figure.tight_layout()
    return figure
