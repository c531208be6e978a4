"""Drawing the in vivo figures (Fig 3b, 3e, 4b; App. Figs 7, 9, 10, 13) from the ensemble tables, and the
per-TF large-angle histograms (ours, beside Fig 4b).

Each function carries its figure's name and returns a matplotlib Figure; :mod:`simplexgrad.figures`
reads the files.
"""

from __future__ import annotations

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.plots.invivo"):
    import matplotlib.pyplot as plt
    import pandas as pd

    from simplexgrad.plots.common import angle_axis, angle_track, large_angle_panels, logo_track

__all__ = [
    "fig3b_invivo_patch",
    "fig3e_ensemble_difference",
    "appfig10_ensemble_angles",
    "fig4b_invivo_large_angles",
    "invivo_large_angle_histograms",
]


def fig3b_invivo_patch(
    member_raw: np.ndarray,
    member_corrected: np.ndarray,
    ensemble: np.ndarray,
    angles: np.ndarray,
    start: int,
    width: int,
    title: str,
) -> plt.Figure:
    """Fig 3b (App. Fig 7): one member's raw and corrected saliency, the ensemble-average map and the
    member's angles on a patch of a positive test sequence.

    Parameters
    ----------
    member_raw, member_corrected, ensemble : numpy.ndarray
        ``(L, 4)`` maps of one sequence.
    angles : numpy.ndarray
        ``(L,)`` angles of the member's raw gradient (NaN where it is zero: no bar).
    start, width : int
        The patch ``[start, start + width)``.
    """
    window = slice(start, start + width)
    figure, axes = plt.subplots(4, 1, figsize=(min(0.16 * width + 2, 14), 6.6), sharex=True)
    logo_track(axes[0], member_raw[window], start, "one model\n(raw)")
    logo_track(axes[1], member_corrected[window], start, "one model\n(corrected)")
    logo_track(axes[2], ensemble[window], start, "ensemble\naverage")
    limit = np.abs(np.concatenate([member_raw[window], member_corrected[window]])).max() * 1.05 or 1.0
    for axis in axes[:2]:
        axis.set_ylim(-limit, limit)
    angle_track(axes[3], angles, start, width)
    axes[0].set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def _drawn_at(bins: pd.DataFrame) -> pd.Series:
    """Where each angle bin is drawn: its ``plot_angle`` (the authors' bins: −90 + 5i), else its centre."""
    if "plot_angle" in bins:
        return bins["plot_angle"]
    return (bins["bin_low"] + bins["bin_high"]) / 2


def _bins_label(bins: pd.DataFrame) -> str:
    """The x-axis label, saying which angle bins are drawn."""
    centres = (bins["bin_low"] + bins["bin_high"]) / 2
    if np.allclose(_drawn_at(bins), centres):
        width = float((bins["bin_high"] - bins["bin_low"]).iloc[0]) if len(bins) else 0.0
        return f"angle between gradient and simplex (°; {width:g}° bins)"
    count = bins[["bin_low", "bin_high"]].drop_duplicates().shape[0]
    return f"angle between gradient and simplex (°; the authors' {count} bins, drawn at −90 + 5i)"


def _densities(histogram: pd.DataFrame, member_is_ensemble: bool) -> pd.DataFrame:
    """Angle densities per TF (1 / degree) from the binned counts of members (pooled) or the ensemble."""
    rows = histogram[(histogram["member"] == "ensemble") == member_is_ensemble]
    keys = ["tf", "bin_low", "bin_high", *(["plot_angle"] if "plot_angle" in rows else [])]
    pooled = rows.groupby(keys, as_index=False)["count"].sum()
    totals = pooled.groupby("tf")["count"].transform("sum").replace(0, np.nan)
    pooled["density"] = pooled["count"] / totals / (pooled["bin_high"] - pooled["bin_low"])
    pooled["centre"] = _drawn_at(pooled)
    return pooled


def fig3e_ensemble_difference(
    histogram: pd.DataFrame, differences: pd.DataFrame, title: str, min_positions: int = 1
) -> plt.Figure:
    """Fig 3e (App. Fig 9): per TF, the angle density of the members' saliency (top) and the reduction of
    their distance to the ensemble map brought by the correction, by angle (bottom).

    Parameters
    ----------
    histogram : pandas.DataFrame
        ``tf``, ``member``, ``bin_low``, ``bin_high``, ``count`` (and ``plot_angle``) for one model type.
    differences : pandas.DataFrame
        ``tf``, ``bin_low``, ``bin_high``, ``positions``, ``reduction_percent`` (and ``plot_angle``: where
        a bin is drawn; default its centre) for the same model type.
    min_positions : int
        Bins with fewer positions are not drawn (their ratio is noise).
    """
    densities = _densities(histogram, member_is_ensemble=False)
    figure, axes = plt.subplots(2, 1, figsize=(5.4, 6.4), sharex=True)
    for index, (tf, rows) in enumerate(densities.groupby("tf", sort=True)):
        colour = f"C{index % 10}"
        axes[0].plot(rows["centre"], rows["density"], color=colour, label=tf)
        reduction = differences[(differences["tf"] == tf) & (differences["positions"] >= min_positions)]
        axes[1].plot(
            _drawn_at(reduction), reduction["reduction_percent"], marker="o", ms=3, color=colour, label=tf
        )
    axes[0].set_ylabel("density")
    axes[0].set_title(title, fontsize=9)
    axes[0].legend(fontsize=7, ncol=2)
    angle_axis(axes[1], "reduction of the distance\nto the ensemble (%)")
    axes[1].set_xlabel(_bins_label(differences), fontsize=8)
    figure.tight_layout()
    return figure


def appfig10_ensemble_angles(histogram: pd.DataFrame, title: str) -> plt.Figure:
    """App. Fig 10: per TF, the angle density of single members (pooled) and of the ensemble-average map,
    whose spread is narrower: averaging cancels the members' independent off-simplex components."""
    members = _densities(histogram, member_is_ensemble=False)
    ensemble = _densities(histogram, member_is_ensemble=True)
    tfs = sorted(members["tf"].unique())
    columns = min(len(tfs), 5)
    rows = int(np.ceil(len(tfs) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 2.6 * rows), squeeze=False)
    for axis, tf in zip(axes.flat, tfs):
        for frame, label, colour in ((members, "single models", "C0"), (ensemble, "ensemble", "C3")):
            subset = frame[frame["tf"] == tf]
            axis.plot(subset["centre"], subset["density"], color=colour, label=label)
        axis.set_title(tf, fontsize=9)
        axis.set_xlim(-90, 90)
    for axis in axes.flat[len(tfs) :]:
        axis.set_visible(False)
    axes[0, 0].legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def _threshold_columns(table: pd.DataFrame) -> list[str]:
    columns = [column for column in table.columns if column.startswith("percent_above_")]
    return sorted(columns, key=lambda column: float(column.removeprefix("percent_above_")))


def fig4b_invivo_large_angles(
    sequence_angles: pd.DataFrame, synthetic_means: pd.Series | None, title: str
) -> plt.Figure:
    """Fig 4b (App. Fig 13), drawn as the paper draws it: per TF and angle threshold one dot, the % of
    positions above the threshold averaged over every member and positive test sequence; dashed lines at
    the synthetic study's means for the same model type.

    Parameters
    ----------
    sequence_angles : pandas.DataFrame
        ``tf``, ``member``, ``sequence`` and ``percent_above_<t>`` columns for one model type.
    synthetic_means : pandas.Series or None
        The synthetic study's mean ``percent_above_<t>`` for the same model type (index: the columns);
        None: no synthetic models of this type in the run (no dashed lines; the title says so).
    title : str
        The model type.
    """
    columns = _threshold_columns(sequence_angles)
    means = sequence_angles.groupby("tf")[columns].mean().sort_index()
    figure, axis = plt.subplots(figsize=(1.6 * len(columns) + 2.6, 3.6))
    offsets = np.linspace(-0.25, 0.25, len(means)) if len(means) > 1 else np.zeros(1)
    for index, (tf, row) in enumerate(means.iterrows()):
        axis.plot(np.arange(len(columns)) + offsets[index], row.to_numpy(), "o", ms=5, color=f"C{index % 10}",
                  label=tf)  # fmt: skip
    if synthetic_means is not None:
        for position, column in enumerate(columns):
            label = "synthetic (this run)" if position == 0 else None
            span = (position - 0.4, position + 0.4)
            axis.hlines(synthetic_means[column], *span, colors="0.2", linestyles="--", label=label)
    axis.set_xticks(np.arange(len(columns)))
    axis.set_xticklabels([f"> {column.removeprefix('percent_above_')}°" for column in columns])
    axis.set_ylabel("% positions per sequence\n(mean over members and sequences)")
    axis.set_ylim(bottom=0)
    axis.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    reference = "" if synthetic_means is not None else " (no synthetic models of this type)"
    axis.set_title(f"{title}{reference}", fontsize=10)
    figure.tight_layout()
    return figure


def invivo_large_angle_histograms(sequence_angles: pd.DataFrame, title: str) -> plt.Figure:
    """Per TF, the distribution over sequences of the % of positions whose angle exceeds 30/45/60°,
    every member's maps pooled (ours, beside Fig 4b's means)."""
    figure = large_angle_panels(sequence_angles, "tf", sorted(sequence_angles["tf"].unique()))
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
