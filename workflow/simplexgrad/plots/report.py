"""The figures of ``simplexgrad report`` (:mod:`simplexgrad.studies.report`), each returned as PNG bytes
for an HTML page that works offline: the angles against the isotropic null, one sequence's raw and
corrected maps with its angle track, and the logos of the motifs found in the maps."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from simplexgrad._optional import needs
from simplexgrad.angle_null import null_angle_density, null_angle_sd, null_percent_above

with needs("workflow", "simplexgrad.plots.report"):
    import matplotlib.pyplot as plt

    from simplexgrad.plots.common import angle_track, logo_track

__all__ = ["png_bytes", "angles_against_null", "sequence_maps", "motif_logos"]

DPI = 90  # the page's figures: sharp on screen, small in the page


def png_bytes(figure: plt.Figure) -> bytes:
    """The figure as PNG bytes (no timestamp in the file); the figure is closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def angles_against_null(angles: np.ndarray, percent_above: dict[str, np.ndarray], title: str) -> plt.Figure:
    """The density of a map's angles against the isotropic null (left) and the per-sequence % of
    positions above each threshold, the null's expected % marked (right).

    Parameters
    ----------
    angles : numpy.ndarray
        ``(P,)`` angles in degrees of every position with a non-zero gradient.
    percent_above : dict of str to numpy.ndarray
        Threshold (degrees, as text) → ``(N,)`` % of positions above it per sequence.
    title : str
        The figure's title.
    """
    figure, axes = plt.subplots(1, 2, figsize=(9.0, 3.2))
    grid = np.linspace(-90, 90, 361)
    axes[0].hist(angles, bins=np.arange(-90, 91, 5), density=True, color="C0", alpha=0.7, label="model")
    axes[0].plot(
        grid, null_angle_density(grid), color="k", lw=1.2, label=f"isotropic (sd {null_angle_sd():.1f}°)"
    )
    spread = f"sd {np.std(angles):.1f}°" if len(angles) else "no non-zero gradient"
    axes[0].set_title(spread, fontsize=9)
    axes[0].set_xlim(-90, 90)
    axes[0].set_xlabel("angle between gradient and simplex (°)")
    axes[0].set_ylabel("density (per °)")
    axes[0].legend(fontsize=7, loc="upper left")
    expected = null_percent_above([float(threshold) for threshold in percent_above])
    for color, (threshold, values), null in zip(("C0", "C1", "C3"), percent_above.items(), expected):
        axes[1].hist(
            values, bins=np.arange(0, 101, 2.5), histtype="step", color=color, label=f"> {threshold}°"
        )
        axes[1].axvline(null, color=color, ls="--", lw=1)
    axes[1].set_xlabel("% positions per sequence (dashed: isotropic null)")
    axes[1].set_ylabel("sequences")
    axes[1].legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def sequence_maps(
    raw: np.ndarray, corrected: np.ndarray, angles: np.ndarray, name: str, start: int, width: int
) -> plt.Figure:
    """One sequence's raw and corrected ``(L, 4)`` maps as logos over ``[start, start + width)`` and its
    ``(L,)`` angle track (degrees; NaN where the gradient is zero)."""
    figure, axes = plt.subplots(3, 1, figsize=(max(6.0, width * 0.12), 3.9), sharex=True)
    window = slice(start, start + width)
    logo_track(axes[0], raw[window], start, "raw")
    logo_track(axes[1], corrected[window], start, "corrected")
    angle_track(axes[2], angles, start, width)
    figure.suptitle(name, fontsize=9)
    figure.tight_layout()
    return figure


def motif_logos(cwms: Sequence[tuple[str, np.ndarray]], title: str) -> plt.Figure:
    """Contribution weight matrices ``(W, 4)`` of motifs as logos, one row per ``(label, cwm)``."""
    rows = max(1, len(cwms))
    figure, axes = plt.subplots(rows, 1, figsize=(4.0, 1.1 * rows + 0.4), squeeze=False)
    for axis, (label, cwm) in zip(axes[:, 0], cwms):
        logo_track(axis, cwm, 0, "")
        axis.set_title(label, fontsize=8)
        axis.set_xticks([])
    if not cwms:
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "no motif", ha="center", va="center")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure
