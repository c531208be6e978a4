"""What the figures share: writing a figure, the paper's model names, sequence-logo and angle tracks,
large-angle panels, and the figure of any model's angles (``simplexgrad angles``)."""

from __future__ import annotations

import functools
import os

import numpy as np

from simplexgrad._arrays import ALPHABET
from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.plots.common"):
    import matplotlib

    matplotlib.use("Agg")  # files only: every plots module imports this one before it draws anything
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns
    from matplotlib.collections import PatchCollection
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    from simplexgrad.io import atomic_output

__all__ = [
    "save_figure",
    "model_label",
    "logo_glyphs",
    "logo_track",
    "angle_track",
    "angle_axis",
    "large_angle_panels",
    "model_angles",
]


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


# The sequence logos' letter colours (the classic scheme: A green, C blue, G orange, T red), glyph width
# (positions) and font.
LOGO_COLORS = {"A": (0.0, 0.5, 0.0), "C": (0.0, 0.0, 1.0), "G": (1.0, 0.65, 0.0), "T": (1.0, 0.0, 0.0)}
LOGO_WIDTH = 0.95
LOGO_FONT = {"family": "sans", "weight": "bold"}


@functools.cache
def _letter(letter: str, flip: bool) -> tuple[Path, float]:
    """A letter's outline moved and scaled into the unit square (upside down if ``flip``), and the width
    it may take in a glyph box: at most an E's, so that narrow letters are not stretched wide."""
    font = FontProperties(**LOGO_FONT)
    path = TextPath((0, 0), letter, size=1, prop=font)
    if flip:
        path = Affine2D().scale(1, -1).transform_path(path)
    box = path.get_extents()
    unit = Affine2D().translate(-box.xmin, -box.ymin).scale(1 / box.width, 1 / box.height)
    widest = TextPath((0, 0), "E", size=1, prop=font).get_extents().width
    return unit.transform_path(path), min(1.0, box.width / widest)


def logo_glyphs(values: np.ndarray, start: int) -> list[tuple[str, int, float, float, bool]]:
    """Where a sequence logo of ``(W, 4)`` ACGT values puts its letters: ``(letter, position, floor,
    height, upside_down)`` per non-zero value. At each position the letters are stacked by value, the
    smallest at the bottom: those below zero under the baseline, upside down, the largest on top (the
    conventions of logomaker's ``Logo``)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, axis=1, kind="stable")
    stacked = np.take_along_axis(values, order, axis=1)
    heights = np.abs(stacked)
    below, above = np.where(stacked < 0, heights, 0.0), np.where(stacked > 0, heights, 0.0)
    floors = np.where(
        stacked < 0,
        np.cumsum(below, axis=1) - below - below.sum(axis=1, keepdims=True),
        np.cumsum(above, axis=1) - above,  # the positive stack starts at 0 exactly
    )
    return [
        (ALPHABET[order[row, rank]], start + int(row), float(floors[row, rank]), float(heights[row, rank]),
         bool(stacked[row, rank] < 0))
        for row, rank in zip(*np.nonzero(heights))
    ]  # fmt: skip


def logo_track(axis, values: np.ndarray, start: int, title: str) -> None:
    """Draw ``(W, 4)`` ACGT values as a sequence logo on ``axis``, positions numbered from ``start``: each
    letter fills its box (:func:`logo_glyphs`), all drawn as one collection, which is many times faster
    than a patch per letter."""
    glyphs = logo_glyphs(values, start)
    patches, colors = [], []
    for letter, position, floor, height, flip in glyphs:
        outline, width = _letter(letter, flip)
        width *= LOGO_WIDTH
        box = Affine2D().scale(width, height).translate(position - width / 2, floor)
        patches.append(PathPatch(box.transform_path(outline)))
        colors.append(LOGO_COLORS[letter])
    axis.add_collection(PatchCollection(patches, facecolors=colors, edgecolors="none", linewidths=0))
    axis.set_xlim(start - 0.5, start + len(values) - 0.5)
    if glyphs:
        axis.set_ylim(min(glyph[2] for glyph in glyphs), max(glyph[2] + glyph[3] for glyph in glyphs))
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


def angle_axis(axis, ylabel: str) -> None:
    """An axis with the angle to the simplex on x ([-90, 90] degrees) and a line at y = 0."""
    axis.axhline(0, color="0.3", lw=0.5)
    axis.set_xlabel("angle between gradient and simplex (°)")
    axis.set_ylabel(ylabel)
    axis.set_xlim(-90, 90)


def large_angle_panels(angles: pd.DataFrame, panel: str, order: list[str]) -> plt.Figure:
    """Histograms of the per-sequence % of positions above each angle threshold, one panel per value of
    the column ``panel`` (in ``order``); ``angles`` has ``percent_above_<t>`` columns."""
    columns = [column for column in angles.columns if column.startswith("percent_above_")]
    long = angles.melt(id_vars=[panel], value_vars=columns, var_name="threshold", value_name="percent")
    long["threshold"] = "> " + long["threshold"].str.removeprefix("percent_above_") + "°"
    # the axis ends at the data (to the next 10 %), not at 100 % far beyond it
    upper = float(np.clip(10 * np.ceil(long["percent"].max() / 10), 10, 100)) if len(long) else 100.0
    figure, axes = plt.subplots(1, len(order), figsize=(3.6 * len(order), 3.2), squeeze=False)
    for axis, name in zip(axes[0], order):
        sns.histplot(
            data=long[long[panel] == name], x="percent", hue="threshold", bins=np.arange(0, upper + 2.5, 2.5),
            stat="percent", common_norm=False, element="step", ax=axis,
        )  # fmt: skip
        axis.set_xlim(0, upper)
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("% positions per sequence")
    figure.tight_layout()
    return figure


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
