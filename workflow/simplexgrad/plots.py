"""Drawing the study's figures from tidy tables and arrays; each function returns a matplotlib Figure.

A function carries its figure's name (``fig3a_patch`` is the file stem, the rule's figure, the
``simplexgrad figure`` subcommand and this function); :mod:`simplexgrad.figures` reads the inputs.
Nothing here computes attributions or statistics beyond what is drawn.
"""

from __future__ import annotations

import os

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.plots"):
    import matplotlib

    matplotlib.use("Agg")  # files only, before pyplot picks an interactive backend
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    from simplexgrad.evaluation import METRICS
    from simplexgrad.io import atomic_output
    from simplexgrad.modisco import SIMILARITY_THRESHOLD, recovery_counts

__all__ = [
    "save_figure",
    "model_label",
    "fig2_interpretability",
    "fig2_correction",
    "fig3a_patch",
    "fig3c_motif_angles",
    "fig3d_background_angles",
    "fig4a_large_angles",
    "model_angles",
    "modisco_recovery",
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


def model_label(architecture: str, activation: str) -> str:
    """The paper's model names: ``('cnn_deep', 'exponential')`` → ``'CNN-deep-exp'``."""
    short = {"exponential": "exp"}.get(activation, activation)
    return f"{architecture.replace('cnn_', 'CNN-')}-{short}"


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


def logo_track(axis, values: np.ndarray, start: int, title: str) -> None:
    """Draw ``(W, 4)`` ACGT values as a sequence logo on ``axis``, positions numbered from ``start``."""
    with needs("workflow", "simplexgrad.plots"):
        import logomaker

    frame = pd.DataFrame(values, columns=ALPHABET, index=np.arange(start, start + len(values)))
    logomaker.Logo(frame, ax=axis, color_scheme="classic")
    axis.axhline(0, color="0.3", lw=0.5)
    axis.set_ylabel(title, fontsize=8)
    axis.tick_params(labelsize=7)


def angle_track(axis, angles: np.ndarray, start: int, width: int) -> None:
    """Bars of the ``(L,)`` angles over the patch ``[start, start + width)`` (red above 45°, none where the
    gradient is zero, i.e. NaN); it frames the patch on the x axis, shared with the panels above."""
    shown = np.nan_to_num(angles[start : start + width])
    axis.bar(np.arange(start, start + width), shown, color=np.where(np.abs(shown) > 45, "C3", "C0"))
    axis.axhline(0, color="0.3", lw=0.5)
    axis.set_ylim(-90, 90)
    axis.set_xlim(start - 0.5, start + width - 0.5)
    axis.set_ylabel("angle (°)", fontsize=8)
    axis.set_xlabel("position")


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
    four letters), corrected grad×input, and the angle between each position's gradient and the simplex.

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
    figure, axes = plt.subplots(5, 1, figsize=(min(0.16 * width + 2, 14), 8.0), sharex=True)
    logo_track(axes[0], (ground_truth_probs - 0.25)[window], start, "ground truth\nM - 0.25")
    label = method.replace("_", " ").replace(" gradients", "\ngradients")
    logo_track(axes[1], raw[window], start, f"{label}\n(raw)")
    logo_track(axes[2], corrected[window], start, f"{label}\n(corrected)")
    limit = np.abs(np.concatenate([raw[window], corrected[window]])).max() * 1.05 or 1.0
    for axis in axes[1:3]:
        axis.set_ylim(-limit, limit)
    logo_track(axes[3], (corrected * x)[window], start, "grad × input\n(corrected)")
    angle_track(axes[4], angles, start, width)
    axes[0].set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def angle_axis(axis, ylabel: str) -> None:
    """An axis with the angle to the simplex on x ([-90, 90] degrees) and a line at y = 0."""
    axis.axhline(0, color="0.3", lw=0.5)
    axis.set_xlabel("angle between gradient and simplex (°)")
    axis.set_ylabel(ylabel)
    axis.set_xlim(-90, 90)


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


def large_angle_panels(angles: pd.DataFrame, panel: str, order: list[str]) -> plt.Figure:
    """Histograms of the per-sequence % of positions above each angle threshold, one panel per value of
    the column ``panel`` (in ``order``); ``angles`` has ``percent_above_<t>`` columns."""
    columns = [column for column in angles.columns if column.startswith("percent_above_")]
    long = angles.melt(id_vars=[panel], value_vars=columns, var_name="threshold", value_name="percent")
    long["threshold"] = "> " + long["threshold"].str.removeprefix("percent_above_") + "°"
    figure, axes = plt.subplots(1, len(order), figsize=(3.6 * len(order), 3.2), squeeze=False)
    for axis, name in zip(axes[0], order):
        sns.histplot(
            data=long[long[panel] == name], x="percent", hue="threshold", bins=np.arange(0, 101, 2.5),
            stat="percent", common_norm=False, element="step", ax=axis,
        )  # fmt: skip
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("% positions per sequence")
    figure.tight_layout()
    return figure


def fig4a_large_angles(angles: pd.DataFrame, method: str = "saliency") -> plt.Figure:
    """Fig 4a (App. Fig 12): per-sequence % of positions whose angle exceeds 30/45/60°, per model."""
    rows = _method_rows(angles, method)
    return large_angle_panels(rows, "model_name", sorted(rows["model_name"].unique()))


def model_angles(angles: np.ndarray, per_sequence: pd.DataFrame, title: str) -> plt.Figure:
    """Any model's saliency angles (as the paper's App. Fig 11 for Basset): the density of the angles of
    every position with a non-zero gradient (left) and the per-sequence % of positions above each
    threshold (right).

    Parameters
    ----------
    angles : numpy.ndarray
        ``(P,)`` angles in degrees, pooled over sequences and output units.
    per_sequence : pandas.DataFrame
        One row per (output unit, sequence) with ``percent_above_<t>`` columns.
    """
    figure, axes = plt.subplots(1, 2, figsize=(9.0, 3.4))
    sns.histplot(angles, bins=np.arange(-90, 91, 5), stat="density", ax=axes[0], color="C0")
    axes[0].set_xlabel("angle between gradient and simplex (°)")
    axes[0].set_title(f"sd {np.std(angles):.1f}°" if len(angles) else "no non-zero gradient", fontsize=9)
    columns = [column for column in per_sequence.columns if column.startswith("percent_above_")]
    for column in columns:
        sns.histplot(per_sequence[column], bins=np.arange(0, 101, 2.5), stat="percent", element="step",
                     fill=False, ax=axes[1], label=f"> {column.removeprefix('percent_above_')}°")  # fmt: skip
    axes[1].set_xlabel("% positions per sequence")
    axes[1].legend(fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def modisco_recovery(
    motifs: pd.DataFrame, similarity_threshold: float = SIMILARITY_THRESHOLD
) -> plt.Figure:
    """Motif discovery on raw vs corrected maps, per model, mean over seeds
    (:func:`simplexgrad.modisco.recovery_counts`): planted motifs recovered by PWM similarity (some
    pattern's information-trimmed PPM correlates with the planted PWM at r >= ``similarity_threshold``,
    best offset and strand) and by TOMTOM (the planted motif is among some pattern's significant matches,
    at any rank), the patterns found, and the patterns that match nothing planted by either definition.

    Parameters
    ----------
    motifs : pandas.DataFrame
        One row per pattern (:data:`simplexgrad.modisco.TABLE_COLUMNS`) with ``architecture``,
        ``activation``, ``seed`` and ``maps`` (raw or corrected); a run without patterns has its ``none``
        row and shows zeros.
    similarity_threshold : float
        Pearson r that counts a planted motif as recovered.
    """
    counts = recovery_counts(motifs, similarity_threshold=similarity_threshold)
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
