"""Interpretability metrics against a ground-truth sequence model, and ensemble differences.

Conventions: attribution maps, one-hot inputs and sequence models are ``(N, L, A)``; per-position
quantities are ``(N, L)``; per-sequence quantities are ``(N,)``. Undefined values (a sequence without
positive or negative positions, a zero vector in a cosine) are NaN, never a silent 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from simplexgrad._arrays import as_sequences, same_shape

__all__ = [
    "information_content",
    "grad_times_input",
    "cosine_similarity",
    "auroc_per_row",
    "aupr_per_row",
    "interpretability_auc",
    "positionwise_improvement",
    "ensemble_difference",
    "difference_reduction_by_angle",
]


def information_content(model_probs: np.ndarray) -> np.ndarray:
    """Information content of each position of a sequence model, in bits.

    ``I_i = log2(A) + sum_a M_ia log2 M_ia`` with ``0 log 0 = 0``.

    Parameters
    ----------
    model_probs : numpy.ndarray
        ``(N, L, A)`` probabilities; each row sums to 1.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` float64 in ``[0, log2(A)]``.
    """
    model_probs = as_sequences(model_probs, "model_probs", dtype=np.float64)
    safe = np.where(model_probs > 0, model_probs, 1.0)
    return np.log2(model_probs.shape[2]) + np.sum(model_probs * np.log2(safe), axis=2)


def grad_times_input(attributions: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One score per position: ``C_i = sum_a S_ia X_ia``.

    Parameters
    ----------
    attributions, x : numpy.ndarray
        ``(N, L, A)`` each.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` float64.
    """
    attributions = as_sequences(attributions, "attributions", dtype=np.float64)
    x = as_sequences(x, "x", dtype=np.float64)
    same_shape(attributions, "attributions", x=x)
    return np.sum(attributions * x, axis=2)


def cosine_similarity(attributions: np.ndarray, model_probs: np.ndarray) -> np.ndarray:
    """Per-sequence cosine similarity between a whole map and the centred ground truth ``M - 1/A``.

    Parameters
    ----------
    attributions, model_probs : numpy.ndarray
        ``(N, L, A)`` each.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64 in ``[-1, 1]``; NaN where either vector is zero.
    """
    attributions = as_sequences(attributions, "attributions", dtype=np.float64)
    model_probs = as_sequences(model_probs, "model_probs", dtype=np.float64)
    same_shape(attributions, "attributions", model_probs=model_probs)
    n = len(attributions)
    return _cosine(attributions.reshape(n, -1), (model_probs - 1.0 / model_probs.shape[2]).reshape(n, -1))


def auroc_per_row(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of each row, positives against negatives; other entries are ignored.

    Equal to ``sklearn.metrics.roc_auc_score`` on each row's selected entries (ties count one half).

    Parameters
    ----------
    scores : numpy.ndarray
        ``(N, L)`` scores.
    positive, negative : numpy.ndarray
        ``(N, L)`` disjoint boolean masks.

    Returns
    -------
    numpy.ndarray
        ``(N,)``; NaN for rows without positives or without negatives.
    """
    scores, positive, negative = _check_rows(scores, positive, negative)
    valid = positive | negative
    ranks = rankdata(np.where(valid, scores, np.inf), axis=1)
    n_pos = positive.sum(axis=1)
    n_neg = negative.sum(axis=1)
    u_statistic = np.where(positive, ranks, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u_statistic / (n_pos * n_neg), np.nan)


def aupr_per_row(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Area under the precision-recall curve of each row (trapezoid rule), positives against negatives.

    Equal to ``auc(recall, precision)`` from ``sklearn.metrics.precision_recall_curve`` on each row's
    selected entries, the measure of the authors' code: one point per distinct score, plus
    ``(recall 0, precision 1)``.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(N, L)`` scores.
    positive, negative : numpy.ndarray
        ``(N, L)`` disjoint boolean masks.

    Returns
    -------
    numpy.ndarray
        ``(N,)``; NaN for rows without positives or without negatives.
    """
    scores, positive, negative = _check_rows(scores, positive, negative)
    valid = positive | negative
    order = np.argsort(np.where(valid, -scores, np.inf), axis=1, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    is_positive = np.take_along_axis(positive, order, axis=1)
    is_valid = np.take_along_axis(valid, order, axis=1)
    true_pos = np.cumsum(is_positive, axis=1)
    false_pos = np.cumsum(is_valid & ~is_positive, axis=1)

    next_differs = np.ones_like(is_valid)
    next_differs[:, :-1] = (sorted_scores[:, 1:] != sorted_scores[:, :-1]) | ~is_valid[:, 1:]
    threshold_end = is_valid & next_differs

    n_pos = true_pos[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = true_pos / np.maximum(true_pos + false_pos, 1)
        recall = true_pos / n_pos

    columns = np.arange(scores.shape[1])
    last_end = np.maximum.accumulate(np.where(threshold_end, columns, -1), axis=1)
    previous_end = np.full_like(last_end, -1)
    previous_end[:, 1:] = last_end[:, :-1]
    has_previous = previous_end >= 0
    gather = np.maximum(previous_end, 0)
    previous_recall = np.where(has_previous, np.take_along_axis(recall, gather, axis=1), 0.0)
    previous_precision = np.where(has_previous, np.take_along_axis(precision, gather, axis=1), 1.0)
    trapezoids = (recall - previous_recall) * (precision + previous_precision) / 2.0
    area = np.where(threshold_end, trapezoids, 0.0).sum(axis=1)
    defined = (positive.sum(axis=1) > 0) & (negative.sum(axis=1) > 0)
    return np.where(defined, area, np.nan)


def interpretability_auc(
    attributions: np.ndarray,
    x: np.ndarray,
    model_probs: np.ndarray,
    threshold: float = 0.1,
    background_tolerance: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence AUROC and AUPR of grad-times-input against ground-truth motif positions.

    Positives are positions with information content ``> threshold`` bits; negatives are background
    positions (information content 0, within ``background_tolerance``); other positions are left out.

    Parameters
    ----------
    attributions, x, model_probs : numpy.ndarray
        ``(N, L, A)`` each.
    threshold : float
        Information (bits) above which a position is a motif position.
    background_tolerance : float
        Information (bits) at or below which a position is background.

    Returns
    -------
    tuple of numpy.ndarray
        ``(auroc, aupr)``, each ``(N,)``; NaN for sequences without motif or background positions.
    """
    scores = grad_times_input(attributions, x)
    info = information_content(model_probs)
    if info.shape != scores.shape:
        raise ValueError(
            f"model_probs must have the shape of attributions {attributions.shape}; got {model_probs.shape}"
        )
    positive = info > threshold
    negative = info <= background_tolerance
    return auroc_per_row(scores, positive, negative), aupr_per_row(scores, positive, negative)


def positionwise_improvement(raw: np.ndarray, corrected: np.ndarray, model_probs: np.ndarray) -> np.ndarray:
    """Per-position gain in cosine similarity to the ground truth from the correction.

    ``cos(corrected_i, M_i - 1/A) - cos(raw_i, M_i - 1/A)``, cosines over the ``A`` values of a position.

    Parameters
    ----------
    raw, corrected, model_probs : numpy.ndarray
        ``(N, L, A)`` each.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` float64; NaN at background positions (``M_i = 1/A``) and zero gradients.
    """
    raw = as_sequences(raw, "raw", dtype=np.float64)
    corrected = as_sequences(corrected, "corrected", dtype=np.float64)
    model_probs = as_sequences(model_probs, "model_probs", dtype=np.float64)
    same_shape(raw, "raw", corrected=corrected, model_probs=model_probs)
    truth = model_probs - 1.0 / model_probs.shape[2]
    return _cosine(corrected, truth) - _cosine(raw, truth)


def ensemble_difference(maps: np.ndarray, ensemble_mean: np.ndarray) -> np.ndarray:
    """Per-position Euclidean distance between attribution maps and an ensemble-average map.

    Parameters
    ----------
    maps : numpy.ndarray
        ``(N, L, A)`` maps of one model, or ``(M, N, L, A)`` for M models.
    ensemble_mean : numpy.ndarray
        ``(N, L, A)`` ensemble-average map.

    Returns
    -------
    numpy.ndarray
        ``maps.shape[:-1]``: ``||s_i - sbar_i||_2`` per position.
    """
    ensemble_mean = as_sequences(ensemble_mean, "ensemble_mean", dtype=np.float64)
    maps = np.asarray(maps, dtype=np.float64)
    if maps.shape[-3:] != ensemble_mean.shape or maps.ndim not in (3, 4):
        raise ValueError(
            f"maps must have shape (N, L, A) or (M, N, L, A) with (N, L, A) = {ensemble_mean.shape}; "
            f"got shape {maps.shape}"
        )
    return np.linalg.norm(maps - ensemble_mean, axis=-1)


def difference_reduction_by_angle(
    raw_difference: np.ndarray,
    corrected_difference: np.ndarray,
    angles: np.ndarray,
    bin_width: float = 5.0,
) -> pd.DataFrame:
    """Percentage reduction of the ensemble difference by the correction, binned by angle.

    Per position, ``100 (d_raw - d_corr) / d_raw``; positions with ``d_raw = 0`` are left out. Bins cover
    ``[-90, 90]`` degrees.

    Parameters
    ----------
    raw_difference, corrected_difference, angles : numpy.ndarray
        Same shape, e.g. ``(N, L)``: distances before and after correction, and the raw gradient's angle.
    bin_width : float
        Width of the angle bins in degrees; must divide 180.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``angle_low``, ``angle_high``, ``angle_center``,
        ``reduction_percent`` (mean over positions), ``positions``.
    """
    raw_difference = np.asarray(raw_difference, dtype=np.float64)
    corrected_difference = np.asarray(corrected_difference, dtype=np.float64)
    angles = np.asarray(angles, dtype=np.float64)
    if not raw_difference.shape == corrected_difference.shape == angles.shape:
        raise ValueError(
            "raw_difference, corrected_difference and angles must have one shape; got "
            f"{raw_difference.shape}, {corrected_difference.shape}, {angles.shape}"
        )
    bins = 180.0 / bin_width
    if bin_width <= 0 or abs(bins - round(bins)) > 1e-9:
        raise ValueError(f"bin_width must be a positive divisor of 180; got {bin_width}")
    keep = raw_difference > 0
    reduction = 100.0 * (raw_difference[keep] - corrected_difference[keep]) / raw_difference[keep]
    edges = np.linspace(-90.0, 90.0, int(round(bins)) + 1)
    index = np.clip(np.digitize(angles[keep], edges) - 1, 0, len(edges) - 2)
    counts = np.bincount(index, minlength=len(edges) - 1)
    sums = np.bincount(index, weights=reduction, minlength=len(edges) - 1)
    present = counts > 0
    return pd.DataFrame(
        {
            "angle_low": edges[:-1][present],
            "angle_high": edges[1:][present],
            "angle_center": ((edges[:-1] + edges[1:]) / 2.0)[present],
            "reduction_percent": sums[present] / counts[present],
            "positions": counts[present],
        }
    )


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine along the last axis; NaN where either vector is zero."""
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    dots = np.sum(a * b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), np.nan)


def _check_rows(scores, positive, negative):
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    negative = np.asarray(negative, dtype=bool)
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (N, L); got shape {scores.shape}")
    same_shape(scores, "scores", positive=positive, negative=negative)
    if np.any(positive & negative):
        raise ValueError("positive and negative masks overlap")
    if np.any(~np.isfinite(scores) & (positive | negative)):
        raise ValueError("scores must be finite at the positions they are evaluated on")
    return scores, positive, negative
