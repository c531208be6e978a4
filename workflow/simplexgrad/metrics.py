"""Interpretability metrics against a ground-truth sequence model, and ensemble differences.

Conventions: attribution maps, one-hot inputs and sequence models are ``(N, L, A)``; per-position
quantities are ``(N, L)``; per-sequence quantities are ``(N,)``. Undefined values (a sequence without
positive or negative positions, a zero vector in a cosine) are NaN, never a silent 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.metrics"):
    import pandas as pd

    from simplexgrad._arrays import as_sequences, same_shape
    from simplexgrad.correction import correct, simplex_angle

__all__ = [
    "METRICS",
    "MOTIF_INFORMATION",
    "BACKGROUND_INFORMATION",
    "information_content",
    "motif_positions",
    "background_positions",
    "grad_times_input",
    "cosine_similarity",
    "auroc_per_row",
    "average_ranks",
    "aupr_per_row",
    "interpretability_auc",
    "positionwise_improvement",
    "ensemble_average",
    "ensemble_difference_by_angle",
]

# The interpretability metrics of a map against the ground truth, named as the tables' columns.
METRICS = ("cosine", "auroc", "aupr")
# Information content (bits) above which a position is a motif position for AUROC/AUPR labels (paper).
MOTIF_INFORMATION = 0.1
# At or below this information content (bits) a position is background: the uniform 1/A model.
BACKGROUND_INFORMATION = 1e-6


def information_content(ground_truth_probs: np.ndarray) -> np.ndarray:
    """Information content of each position of a sequence model, in bits.

    ``I_i = log2(A) + sum_a M_ia log2 M_ia`` with ``0 log 0 = 0``.

    Parameters
    ----------
    ground_truth_probs : numpy.ndarray
        ``(N, L, A)`` probabilities; each row sums to 1.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` float64 in ``[0, log2(A)]``.
    """
    ground_truth_probs = as_sequences(ground_truth_probs, "ground_truth_probs", dtype=np.float64)
    safe = np.where(ground_truth_probs > 0, ground_truth_probs, 1.0)
    return np.log2(ground_truth_probs.shape[2]) + np.sum(ground_truth_probs * np.log2(safe), axis=2)


def motif_positions(information: np.ndarray, threshold: float = MOTIF_INFORMATION) -> np.ndarray:
    """Boolean mask of motif positions: information content above ``threshold`` bits.

    ``threshold`` is :data:`MOTIF_INFORMATION` for the AUROC/AUPR labels; the angle figures (Fig 3c) count
    every informative position, ``threshold=BACKGROUND_INFORMATION``.
    """
    return np.asarray(information) > threshold


def background_positions(information: np.ndarray) -> np.ndarray:
    """Boolean mask of background positions: information content 0 (within
    :data:`BACKGROUND_INFORMATION`)."""
    return np.asarray(information) <= BACKGROUND_INFORMATION


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


def cosine_similarity(attributions: np.ndarray, ground_truth_probs: np.ndarray) -> np.ndarray:
    """Per-sequence cosine similarity between a whole map and the centred ground truth ``M - 1/A``.

    Parameters
    ----------
    attributions, ground_truth_probs : numpy.ndarray
        ``(N, L, A)`` each.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` float64 in ``[-1, 1]``; NaN where either vector is zero.
    """
    attributions = as_sequences(attributions, "attributions", dtype=np.float64)
    ground_truth_probs = as_sequences(ground_truth_probs, "ground_truth_probs", dtype=np.float64)
    same_shape(attributions, "attributions", ground_truth_probs=ground_truth_probs)
    n = len(attributions)
    return _cosine(
        attributions.reshape(n, -1), (ground_truth_probs - 1.0 / ground_truth_probs.shape[2]).reshape(n, -1)
    )


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
    ranks = average_ranks(np.where(valid, scores, np.inf))
    n_pos = positive.sum(axis=1)
    n_neg = negative.sum(axis=1)
    u_statistic = np.where(positive, ranks, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u_statistic / (n_pos * n_neg), np.nan)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks within each row, from 1, tied values sharing the mean of their ranks.

    The same numbers as ``scipy.stats.rankdata(values, axis=1)`` (method ``'average'``), without the
    second that importing ``scipy.stats`` takes in every evaluation job.

    Parameters
    ----------
    values : numpy.ndarray
        ``(N, L)`` values without NaN (``inf`` is allowed).

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` float64 ranks; a group of tied values from sorted position ``i`` to ``j`` (from 0) gets
        ``(i + j) / 2 + 1``.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must have shape (N, L); got shape {values.shape}")
    if np.issubdtype(values.dtype, np.floating) and np.isnan(values).any():
        raise ValueError("values must not be NaN (a NaN has no rank)")
    length = values.shape[1]
    order = np.argsort(values, axis=1, kind="stable")
    ordered = np.take_along_axis(values, order, axis=1)
    starts_group = np.ones(values.shape, dtype=bool)
    starts_group[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends_group = np.ones(values.shape, dtype=bool)
    ends_group[:, :-1] = starts_group[:, 1:]
    positions = np.arange(length)
    first = np.maximum.accumulate(np.where(starts_group, positions, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends_group, positions, length - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty(values.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    return ranks


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
    ground_truth_probs: np.ndarray,
    threshold: float = MOTIF_INFORMATION,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence AUROC and AUPR of grad-times-input against ground-truth motif positions.

    Positives are positions with information content ``> threshold`` bits (:func:`motif_positions`);
    negatives are background positions (:func:`background_positions`); other positions are left out.

    Parameters
    ----------
    attributions, x, ground_truth_probs : numpy.ndarray
        ``(N, L, A)`` each.
    threshold : float
        Information (bits) above which a position is a motif position.

    Returns
    -------
    tuple of numpy.ndarray
        ``(auroc, aupr)``, each ``(N,)``; NaN for sequences without motif or background positions.
    """
    scores = grad_times_input(attributions, x)
    info = information_content(ground_truth_probs)
    if info.shape != scores.shape:
        raise ValueError(
            f"ground_truth_probs must have the shape of attributions {attributions.shape}; "
            f"got {ground_truth_probs.shape}"
        )
    positive = motif_positions(info, threshold)
    negative = background_positions(info)
    return auroc_per_row(scores, positive, negative), aupr_per_row(scores, positive, negative)


def positionwise_improvement(
    raw: np.ndarray, corrected: np.ndarray, ground_truth_probs: np.ndarray
) -> np.ndarray:
    """Per-position gain in cosine similarity to the ground truth from the correction.

    ``cos(corrected_i, M_i - 1/A) - cos(raw_i, M_i - 1/A)``, cosines over the ``A`` values of a position.

    Parameters
    ----------
    raw, corrected, ground_truth_probs : numpy.ndarray
        ``(N, L, A)`` each.

    Returns
    -------
    numpy.ndarray
        ``(N, L)`` float64; NaN at background positions (``M_i = 1/A``) and zero gradients.
    """
    raw = as_sequences(raw, "raw", dtype=np.float64)
    corrected = as_sequences(corrected, "corrected", dtype=np.float64)
    ground_truth_probs = as_sequences(ground_truth_probs, "ground_truth_probs", dtype=np.float64)
    same_shape(raw, "raw", corrected=corrected, ground_truth_probs=ground_truth_probs)
    truth = ground_truth_probs - 1.0 / ground_truth_probs.shape[2]
    return _cosine(corrected, truth) - _cosine(raw, truth)


def ensemble_difference_by_angle(
    member_maps: Iterable[np.ndarray] | np.ndarray,
    bins: np.ndarray | None = None,
    ensemble_mean: np.ndarray | None = None,
) -> pd.DataFrame:
    """How far each member's map lies from the ensemble's, before and after correction, by angle.

    The authors' statistic (their ``geomath.dispersion``): with ``s_hat`` the mean of the members' *raw*
    maps, per member k and position ``d_raw = |s_k - s_hat|`` and ``d_corr = |correct(s_k) - s_hat|``
    (Euclidean over the alphabet), binned by the member's raw angle; per bin the reduction is
    ``100 (mean d_raw - mean d_corr) / mean d_raw``, a ratio of bin means. The reference stays raw on
    purpose: against ``correct(s_hat)`` the distance could only shrink (a projection never lengthens a
    difference), whatever the models learned. Positions whose gradient is zero have no angle and are left
    out (``zero_gradient_positions`` counts them).

    The geometric baseline is the reduction of the members' own norms, ``|s_k|`` against
    ``|correct(s_k)| = |s_k| cos(angle)``, per bin ``100 (mean |s_k| - mean |correct(s_k)|) / mean |s_k|``:
    what the reduction would be if the ensemble's mean were 0, as for members that learned nothing in
    common. A reduction above it says that the members agree on the simplex more than off it.

    Parameters
    ----------
    member_maps : numpy.ndarray or iterable of numpy.ndarray
        Raw maps ``(K, N, L, A)``, or an iterable (re-iterable, e.g. a list of file-backed arrays) of K
        ``(N, L, A)`` maps; members are streamed, so at most two ``(N, L, A)`` arrays are held at once
        besides the mean.
    bins : numpy.ndarray or None
        Angle bin edges in degrees; default ``numpy.arange(-90, 91, 5)``. An angle of exactly 90 falls in
        the last bin.
    ensemble_mean : numpy.ndarray or None
        ``s_hat`` if already computed (``(N, L, A)``); by default the mean of ``member_maps``.

    Returns
    -------
    pandas.DataFrame
        One row per bin: ``bin_low``, ``bin_high``, ``positions``, ``raw_l2`` and ``corrected_l2`` (mean
        distances), ``reduction_percent`` (NaN for an empty bin), ``member_l2`` and
        ``member_corrected_l2`` (mean norms of the members' raw and corrected maps),
        ``geometric_percent`` (the geometric baseline), plus ``zero_gradient_positions`` (the same in
        every row).
    """
    edges = np.arange(-90.0, 91.0, 5.0) if bins is None else np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bins must be increasing angle edges; got {edges}")
    if ensemble_mean is None:
        ensemble_mean = ensemble_average(member_maps)
    ensemble_mean = as_sequences(ensemble_mean, "ensemble_mean", dtype=np.float64)
    counts = np.zeros(len(edges) - 1)
    raw_sums = np.zeros(len(edges) - 1)
    corrected_sums = np.zeros(len(edges) - 1)
    norm_sums = np.zeros(len(edges) - 1)
    corrected_norm_sums = np.zeros(len(edges) - 1)
    zero_positions = 0
    for member in member_maps:
        member = as_sequences(member, "member map", dtype=np.float64)
        same_shape(ensemble_mean, "ensemble_mean", member=member)
        angles = simplex_angle(member, zero=np.nan)
        has_angle = ~np.isnan(angles)
        zero_positions += int((~has_angle).sum())
        index = np.clip(np.searchsorted(edges, angles[has_angle], side="right") - 1, 0, len(edges) - 2)
        inside = (angles[has_angle] >= edges[0]) & (angles[has_angle] <= edges[-1])
        index = index[inside]
        raw = np.linalg.norm(member - ensemble_mean, axis=-1)[has_angle][inside]
        corrected_member = correct(member)
        corrected = np.linalg.norm(corrected_member - ensemble_mean, axis=-1)[has_angle][inside]
        norm = np.linalg.norm(member, axis=-1)[has_angle][inside]
        corrected_norm = np.linalg.norm(corrected_member, axis=-1)[has_angle][inside]
        counts += np.bincount(index, minlength=len(counts))
        raw_sums += np.bincount(index, weights=raw, minlength=len(counts))
        corrected_sums += np.bincount(index, weights=corrected, minlength=len(counts))
        norm_sums += np.bincount(index, weights=norm, minlength=len(counts))
        corrected_norm_sums += np.bincount(index, weights=corrected_norm, minlength=len(counts))
    with np.errstate(invalid="ignore", divide="ignore"):
        raw_mean = np.where(counts > 0, raw_sums / counts, np.nan)
        corrected_mean = np.where(counts > 0, corrected_sums / counts, np.nan)
        reduction = 100.0 * (raw_mean - corrected_mean) / raw_mean
        norm_mean = np.where(counts > 0, norm_sums / counts, np.nan)
        corrected_norm_mean = np.where(counts > 0, corrected_norm_sums / counts, np.nan)
        geometric = 100.0 * (norm_mean - corrected_norm_mean) / norm_mean
    return pd.DataFrame(
        {
            "bin_low": edges[:-1],
            "bin_high": edges[1:],
            "positions": counts.astype(np.int64),
            "raw_l2": raw_mean,
            "corrected_l2": corrected_mean,
            "reduction_percent": reduction,
            "member_l2": norm_mean,
            "member_corrected_l2": corrected_norm_mean,
            "geometric_percent": geometric,
            "zero_gradient_positions": zero_positions,
        }
    )


def ensemble_average(member_maps: Iterable[np.ndarray] | np.ndarray) -> np.ndarray:
    """Mean of K member maps ``(N, L, A)`` (an array ``(K, N, L, A)`` or an iterable), float64, streamed."""
    total, count = None, 0
    for member in member_maps:
        member = as_sequences(member, "member map", dtype=np.float64)
        if total is None:
            total = np.zeros_like(member)
        same_shape(total, "the first member map", member=member)
        total += member
        count += 1
    if count == 0:
        raise ValueError("an ensemble needs at least one member map")
    return total / count


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
