"""The null distribution of the simplex angle: the angle an *isotropic* gradient makes with the simplex
plane, against which a model's angles are read.

A gradient with no preferred direction in the A-dimensional space of one position (e.g. i.i.d. Gaussian
components) has ``sin(theta) = u . n`` for a uniform unit vector ``u`` and the simplex normal ``n``. Its
signed angle ``theta`` (:func:`simplexgrad.correction.simplex_angle`) then has the density
``cos(theta) ** (A - 2)`` on ``[-90, 90]`` degrees, normalised: for DNA (A = 4) ``(2 / pi) cos^2(theta)``,
whose standard deviation is ``sqrt(pi^2 / 12 - 1 / 2)`` rad, about 32.5 degrees, with about 39 %, 18 % and
6 % of positions above 30, 45 and 60 degrees. Everything here is computed, never tabulated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["null_angle_density", "null_angle_sd", "null_percent_above"]

_GRID = 200_001  # points of the quadrature grid on [-90, 90] degrees


def _check_alphabet(alphabet_size: int) -> None:
    if alphabet_size < 2:
        raise ValueError(f"alphabet_size must be >= 2; got {alphabet_size}")


def null_angle_density(angles: np.ndarray, alphabet_size: int = 4) -> np.ndarray:
    """Density (per degree) of an isotropic gradient's signed angle to the simplex at ``angles``.

    Parameters
    ----------
    angles : numpy.ndarray
        Angles in degrees, any shape; outside ``[-90, 90]`` the density is 0.
    alphabet_size : int
        Letters per position, A (4 for DNA).

    Returns
    -------
    numpy.ndarray
        ``cos(theta) ** (A - 2) / Z`` with ``Z = sqrt(pi) Gamma((A - 1) / 2) / Gamma(A / 2)`` (the
        integral over radians), converted to per degree; the shape of ``angles``.
    """
    _check_alphabet(alphabet_size)
    power = alphabet_size - 2
    norm = math.sqrt(math.pi) * math.gamma((power + 1) / 2) / math.gamma(power / 2 + 1)
    theta = np.radians(np.asarray(angles, dtype=np.float64))
    inside = np.abs(theta) <= np.pi / 2
    density = np.where(inside, np.cos(np.clip(theta, -np.pi / 2, np.pi / 2)) ** power, 0.0) / norm
    return density * (np.pi / 180.0)


def _grid(alphabet_size: int) -> tuple[np.ndarray, np.ndarray]:
    angles = np.linspace(-90.0, 90.0, _GRID)
    return angles, null_angle_density(angles, alphabet_size)


def null_angle_sd(alphabet_size: int = 4) -> float:
    """Standard deviation, in degrees, of the isotropic null (its mean is 0): 32.5 for A = 4."""
    angles, density = _grid(alphabet_size)
    values = angles**2 * density  # the trapezoid rule (np.trapezoid needs NumPy 2)
    return float(np.sqrt((angles[1] - angles[0]) * (values.sum() - (values[0] + values[-1]) / 2)))


def null_percent_above(thresholds: Sequence[float], alphabet_size: int = 4) -> np.ndarray:
    """Expected % of positions whose ``|theta|`` exceeds each threshold (degrees) under the null.

    Returns
    -------
    numpy.ndarray
        ``(T,)`` float64 percentages, one per threshold.
    """
    angles, density = _grid(alphabet_size)
    step = angles[1] - angles[0]
    cumulative = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * step)])
    limits = np.abs(np.asarray(thresholds, dtype=np.float64))
    inside = np.interp(limits, angles, cumulative) - np.interp(-limits, angles, cumulative)
    return 100.0 * (1.0 - inside / cumulative[-1])
