"""Tidy tables from attribution files: interpretability metrics, angle statistics and summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from simplexgrad.correction import large_angle_fraction, simplex_angle
from simplexgrad.metrics import cosine_similarity, interpretability_auc

__all__ = [
    "METRICS",
    "interpretability_table",
    "large_angle_table",
    "summary_table",
]

METRICS = ("cosine", "auroc", "aupr")


def interpretability_table(
    raw: np.ndarray,
    corrected: np.ndarray,
    x: np.ndarray,
    model_probs: np.ndarray,
    labels: Mapping[str, object],
) -> pd.DataFrame:
    """Mean interpretability of raw and corrected maps against the ground truth.

    Parameters
    ----------
    raw, corrected, x, model_probs : numpy.ndarray
        ``(N, L, 4)`` each.
    labels : mapping
        Columns that identify the run (e.g. model, activation, seed, method, classification_auroc).

    Returns
    -------
    pandas.DataFrame
        Two rows (``corrected`` False, True) with the labels, ``cosine``, ``auroc``, ``aupr`` (means over
        sequences where defined) and ``num_seqs``.
    """
    rows = []
    for is_corrected, maps in ((False, raw), (True, corrected)):
        auroc, aupr = interpretability_auc(maps, x, model_probs)
        values = {"cosine": cosine_similarity(maps, model_probs), "auroc": auroc, "aupr": aupr}
        rows.append(
            {
                **labels,
                "corrected": is_corrected,
                **{name: float(np.nanmean(value)) for name, value in values.items()},
                "num_seqs": len(maps),
            }
        )
    return pd.DataFrame(rows)


def large_angle_table(
    raw: np.ndarray,
    indices: np.ndarray,
    labels: Mapping[str, object],
    thresholds: Sequence[float] = (30.0, 45.0, 60.0),
) -> pd.DataFrame:
    """Per-sequence percentage of positions whose raw-gradient angle exceeds each threshold.

    Returns
    -------
    pandas.DataFrame
        One row per (sequence, threshold): the labels, ``sequence`` (row in the split), ``threshold``,
        ``percent``.
    """
    fractions = large_angle_fraction(simplex_angle(raw), thresholds)
    table = pd.DataFrame(
        {
            "sequence": np.repeat(np.asarray(indices), len(thresholds)),
            "threshold": np.tile(np.asarray(thresholds, dtype=float), len(raw)),
            "percent": fractions.reshape(-1),
        }
    )
    for position, (name, value) in enumerate(labels.items()):
        table.insert(position, name, value)
    return table


def summary_table(
    metrics: pd.DataFrame, group_by: Sequence[str] = ("model", "activation", "method")
) -> pd.DataFrame:
    """Before/after summary per group: mean ± sd, mean paired difference and a Wilcoxon signed-rank test.

    Pairs are the raw and corrected values of one seed. The p-value is two-sided and NaN when fewer than
    two pairs exist or all differences are zero.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Tidy table with ``group_by`` columns, ``seed``, ``corrected`` and the :data:`METRICS` columns.

    Returns
    -------
    pandas.DataFrame
        One row per (group, metric): ``raw_mean``, ``raw_sd``, ``corrected_mean``, ``corrected_sd``,
        ``difference_mean``, ``improved_fraction``, ``wilcoxon_p``, ``num_pairs``.
    """
    group_by = list(group_by)
    missing = set(group_by) | {"seed", "corrected", *METRICS}
    missing -= set(metrics.columns)
    if missing:
        raise ValueError(f"metrics table lacks columns {sorted(missing)}")
    rows = []
    for key, group in metrics.groupby(group_by, sort=True):
        paired = group.pivot_table(index="seed", columns="corrected", values=list(METRICS))
        for metric in METRICS:
            raw, corrected = paired[(metric, False)], paired[(metric, True)]
            keep = raw.notna() & corrected.notna()
            raw, corrected = raw[keep].to_numpy(), corrected[keep].to_numpy()
            difference = corrected - raw
            rows.append(
                {
                    **dict(zip(group_by, key if isinstance(key, tuple) else (key,))),
                    "metric": metric,
                    "raw_mean": raw.mean(),
                    "raw_sd": raw.std(ddof=1) if len(raw) > 1 else np.nan,
                    "corrected_mean": corrected.mean(),
                    "corrected_sd": corrected.std(ddof=1) if len(corrected) > 1 else np.nan,
                    "difference_mean": difference.mean(),
                    "improved_fraction": float(np.mean(difference > 0)),
                    "wilcoxon_p": _wilcoxon(difference),
                    "num_pairs": len(difference),
                }
            )
    return pd.DataFrame(rows)


def _wilcoxon(difference: np.ndarray) -> float:
    if len(difference) < 2 or np.all(difference == 0):
        return float("nan")
    return float(wilcoxon(difference).pvalue)
