"""Gradient correction for inputs that live on a probability simplex, and angle statistics.

Each position of a one-hot sequence is a point on the simplex ``sum_a x_a = 1``. The simplex normal is
``n = (1, ..., 1) / sqrt(A)``; the component of a gradient along ``n`` points off the data manifold and is
removed by :func:`correct`. :func:`simplex_angle` measures how far each position's gradient leans off the
simplex plane.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simplexgrad._arrays import alphabet_axis, as_array, check_finite
from simplexgrad._optional import needs

__all__ = [
    "ANGLE_THRESHOLDS",
    "correct",
    "simplex_angle",
    "large_angle_fraction",
    "angle_statistics",
    "check_thresholds",
    "simplex_angle_ops",
]

ANGLE_THRESHOLDS = (30.0, 45.0, 60.0)


def correct(grads: np.ndarray, axis: int = -1, alphabet_size: int | None = 4) -> np.ndarray:
    """Remove the gradient component along the simplex normal.

    Parameters
    ----------
    grads : numpy.ndarray
        Gradients of any shape, e.g. ``(N, L, A)``; ``axis`` indexes the alphabet.
    axis : int
        The alphabet axis (size ``A >= 2``); ``axis=1`` for ``(N, A, L)`` maps.
    alphabet_size : int or None
        Letters the alphabet axis must have: 4 for DNA (the default), 20 for protein; None accepts any
        size >= 2. Guards against ``(N, A, L)`` maps passed without ``axis=1``.

    Returns
    -------
    numpy.ndarray
        Same shape as ``grads``: ``g - mean_a(g)``, which sums to zero over ``axis``.

    Raises
    ------
    ValueError
        For NaN or inf in ``grads`` (naming the first), as the command line refuses them: one NaN would
        spread over its position's letters.
    """
    grads = as_array(grads, "grads")
    axis = alphabet_axis(grads, axis, alphabet_size)
    check_finite(grads, "grads")
    return _centred(grads, axis)


def _centred(grads: np.ndarray, axis: int) -> np.ndarray:
    """``grads - grads.mean(axis)``: :func:`correct` without its checks (NaN propagates)."""
    return grads - grads.mean(axis=axis, keepdims=True)


def simplex_angle(
    grads: np.ndarray, axis: int = -1, zero: float = 0.0, alphabet_size: int | None = 4
) -> np.ndarray:
    """Signed angle, in degrees, between each position's gradient and the simplex plane.

    ``sin(theta) = (g . n) / |g|`` with ``n = (1, ..., 1) / sqrt(A)``. It is computed as
    ``atan2(g . n, |g - (g . n) n|)``, which is exact near +-90 degrees (no ``arcsin`` of a rounded
    value above 1) and never warns.

    Parameters
    ----------
    grads : numpy.ndarray
        Gradients, e.g. ``(N, L, A)``; ``axis`` indexes the alphabet.
    axis : int
        The alphabet axis (size ``A >= 2``).
    zero : float
        The value given where the gradient is exactly zero and has no direction: 0 by default; pass
        ``numpy.nan`` to leave those positions out of densities and spreads (max-pooling makes many).
    alphabet_size : int or None
        Letters the alphabet axis must have (4 for DNA, 20 for protein; None: any size >= 2).

    Returns
    -------
    numpy.ndarray
        ``grads.shape`` without ``axis`` (e.g. ``(N, L)``), values in ``[-90, 90]`` (or ``zero``), float64
        for float64 input and float32 otherwise.
    """
    grads = np.asarray(grads)
    if not np.issubdtype(grads.dtype, np.floating):
        grads = grads.astype(np.float64)
    axis = alphabet_axis(grads, axis, alphabet_size)
    size = grads.shape[axis]
    normal_component = grads.sum(axis=axis) / np.sqrt(size)
    in_plane_norm = np.linalg.norm(_centred(grads, axis), axis=axis)
    angles = np.degrees(np.arctan2(normal_component, in_plane_norm))
    if zero != 0:
        angles = np.where(np.any(grads != 0, axis=axis), angles, np.asarray(zero, dtype=angles.dtype))
    return angles


def large_angle_fraction(angles: np.ndarray, thresholds: Sequence[float] = (30.0, 45.0, 60.0)) -> np.ndarray:
    """Percentage of positions per sequence whose absolute angle exceeds each threshold.

    Parameters
    ----------
    angles : numpy.ndarray
        Angles in degrees, shape ``(N, L)`` (one row per sequence), e.g. from :func:`simplex_angle`.
    thresholds : sequence of float
        Thresholds in degrees; the sign is ignored (``|theta| > |t|``).

    Returns
    -------
    numpy.ndarray
        ``(N, T)`` float64 percentages in ``[0, 100]``, one column per threshold.
    """
    angles = np.asarray(angles)
    if angles.ndim != 2:
        raise ValueError(f"angles must have shape (N, L) (sequences x positions); got shape {angles.shape}")
    limits = check_thresholds(thresholds)
    if angles.shape[1] == 0:
        raise ValueError("angles must have at least one position per sequence (L >= 1)")
    exceeds = np.abs(angles)[:, :, None] > limits[None, None, :]
    return exceeds.mean(axis=1) * 100.0


def check_thresholds(thresholds: Sequence[float]) -> np.ndarray:
    """``|thresholds|`` as a float64 array after checking they are angles: at least one, each in
    [-90, 90] degrees (NaN refused); raises a ``ValueError`` otherwise."""
    limits = np.abs(np.asarray(thresholds, dtype=np.float64)).reshape(-1)
    if limits.size == 0:
        raise ValueError("thresholds must name at least one angle")
    if not np.all(limits <= 90):  # also refuses NaN
        raise ValueError(f"thresholds must be angles in [-90, 90] degrees; got {list(thresholds)}")
    return limits


def angle_statistics(
    grads: np.ndarray,
    thresholds: Sequence[float] = ANGLE_THRESHOLDS,
    axis: int = -1,
    alphabet_size: int | None = 4,
) -> dict[str, np.ndarray]:
    """Per-sequence summary of how far a map leans off the simplex.

    Parameters
    ----------
    grads : numpy.ndarray
        ``(N, L, A)`` maps (``axis`` the alphabet).
    thresholds : sequence of float
        Angles (degrees) for the large-angle percentages.
    axis : int
        The alphabet axis.
    alphabet_size : int or None
        Letters the alphabet axis must have (4 for DNA, 20 for protein; None: any size >= 2).

    Returns
    -------
    dict of str to numpy.ndarray
        Each ``(N,)`` float64: ``mean_abs_angle`` over positions with a non-zero gradient (NaN when there
        are none), ``percent_above_<t>`` for each threshold (denominator: all L positions, as in the
        paper), ``zero_gradient_percent`` and ``removed_norm_fraction``, the share of the map's squared
        norm that :func:`correct` removes.
    """
    grads = np.asarray(grads, dtype=np.float64)
    if grads.ndim != 3:
        raise ValueError(f"maps must have shape (N, L, A); got shape {grads.shape}")
    if grads.shape[0] == 0 or grads.shape[1] == 0:
        raise ValueError(f"maps must hold at least one sequence of at least one position; got {grads.shape}")
    angles = simplex_angle(grads, axis=axis, zero=np.nan, alphabet_size=alphabet_size)
    nonzero = ~np.isnan(angles)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_abs = np.where(nonzero, np.abs(angles), 0.0).sum(axis=1) / nonzero.sum(axis=1)
        total = np.square(grads).sum(axis=(1, 2))
        removed = total - np.square(_centred(grads, alphabet_axis(grads, axis))).sum(axis=(1, 2))
        removed_fraction = np.where(total > 0, removed / np.where(total > 0, total, 1.0), np.nan)
    statistics = {"mean_abs_angle": mean_abs}
    fractions = large_angle_fraction(np.nan_to_num(angles, nan=0.0), thresholds)
    for column, threshold in enumerate(thresholds):
        statistics[f"percent_above_{threshold:g}"] = fractions[:, column]
    statistics["zero_gradient_percent"] = 100.0 * (1.0 - nonzero.mean(axis=1))
    statistics["removed_norm_fraction"] = removed_fraction
    return statistics


def simplex_angle_ops(grads, axis: int = -1, epsilon: float = 1e-12):
    """Differentiable twin of :func:`simplex_angle` on ``keras.ops`` tensors (for training losses).

    The in-plane norm is ``sqrt(|g_par|^2 + epsilon)`` so that the angle and its derivatives stay
    finite at a zero gradient (where the angle is 0).

    Parameters
    ----------
    grads : tensor
        Backend tensor, e.g. ``(B, L, A)``.
    axis : int
        The alphabet axis.
    epsilon : float
        Added to the squared in-plane norm.

    Returns
    -------
    tensor
        Angles in degrees with ``axis`` removed.
    """
    with needs("keras", "simplexgrad.correction"):
        from keras import ops

    size = grads.shape[axis]
    if size is None or size < 2:
        raise ValueError(f"the alphabet axis {axis} must have a known size >= 2; got {size}")
    mean = ops.mean(grads, axis=axis, keepdims=True)
    normal_component = ops.sum(grads, axis=axis) / np.sqrt(size)
    in_plane_norm = ops.sqrt(ops.sum(ops.square(grads - mean), axis=axis) + epsilon)
    return ops.arctan2(normal_component, in_plane_norm) * (180.0 / np.pi)
