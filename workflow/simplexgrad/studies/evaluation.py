"""Tidy tables from attribution files: interpretability metrics, angle statistics and before/after
summaries, plus the per-position data behind the synthetic angle figures."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simplexgrad._arrays import check_method_list
from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.evaluation"):
    import pandas as pd

    from simplexgrad import io
    from simplexgrad.correction import ANGLE_THRESHOLDS, angle_statistics, simplex_angle
    from simplexgrad.io import ground_truth_of
    from simplexgrad.metrics import (
        BACKGROUND_INFORMATION,
        METRICS,
        background_positions,
        cosine_similarity,
        grad_times_input,
        information_content,
        interpretability_auc,
        motif_positions,
        positionwise_improvement,
    )
    from simplexgrad.tables import parse_labels, read_table, with_labels, write_table

__all__ = [
    "STUDIED_OPTIONS",
    "interpretability_table",
    "angle_table",
    "angle_summary",
    "model_row",
    "evaluate_file",
    "evaluate_methods_file",
    "summary_table",
    "summarize_file",
    "PositionData",
    "pooled_positions",
]

# Training options that the training studies vary; every model row records them (from metrics.json).
STUDIED_OPTIONS = ("init_stddev", "angle_penalty")


def interpretability_table(
    raw: np.ndarray,
    corrected: np.ndarray,
    x: np.ndarray,
    ground_truth_probs: np.ndarray,
    labels: Mapping[str, object],
) -> pd.DataFrame:
    """Mean interpretability of raw and corrected maps against the ground truth.

    Parameters
    ----------
    raw, corrected, x, ground_truth_probs : numpy.ndarray
        ``(N, L, 4)`` each.
    labels : mapping
        Columns that identify the run (e.g. architecture, activation, seed, method).

    Returns
    -------
    pandas.DataFrame
        Two rows (``corrected`` False, True) with the labels, ``cosine``, ``auroc``, ``aupr`` (means over
        sequences where defined) and ``num_seqs``.
    """
    rows = []
    for is_corrected, maps in ((False, raw), (True, corrected)):
        auroc, aupr = interpretability_auc(maps, x, ground_truth_probs)
        values = {"cosine": cosine_similarity(maps, ground_truth_probs), "auroc": auroc, "aupr": aupr}
        rows.append(
            {
                **labels,
                "corrected": is_corrected,
                **{name: float(np.nanmean(value)) for name, value in values.items()},
                "num_seqs": len(maps),
            }
        )
    return pd.DataFrame(rows)


def angle_table(
    raw: np.ndarray,
    indices: np.ndarray,
    labels: Mapping[str, object],
    thresholds: Sequence[float] = ANGLE_THRESHOLDS,
) -> pd.DataFrame:
    """Per-sequence angle statistics of raw maps (:func:`simplexgrad.correction.angle_statistics`).

    Returns
    -------
    pandas.DataFrame
        One row per sequence: the labels, ``sequence`` (row in the split), ``mean_abs_angle``,
        ``percent_above_<t>`` per threshold, ``zero_gradient_percent``, ``removed_norm_fraction``.
    """
    table = pd.DataFrame({"sequence": np.asarray(indices), **angle_statistics(raw, thresholds)})
    return with_labels(table, labels)


def angle_summary(angles: np.ndarray, per_sequence: Mapping[str, np.ndarray]) -> dict[str, float]:
    """One map file's angle statistics from its angles ``(N, L)`` (NaN where the gradient is zero, as
    ``simplex_angle(maps, zero=numpy.nan)``) and its :func:`~simplexgrad.correction.angle_statistics`:
    ``angle_sd`` (standard deviation of θ over positions with a non-zero gradient, pooled over
    sequences), ``mean_abs_angle``, the mean over sequences of ``percent_above_<t>`` and
    ``zero_gradient_percent``, and ``positions`` (with an angle)."""
    defined = angles[~np.isnan(angles)]
    return {
        "angle_sd": float(np.std(defined)) if defined.size else float("nan"),
        "mean_abs_angle": float(np.abs(defined).mean()) if defined.size else float("nan"),
        **{
            name: float(np.mean(values))
            for name, values in per_sequence.items()
            if name.startswith("percent_above_") or name == "zero_gradient_percent"
        },
        "positions": int(defined.size),
    }


def model_row(
    raw: np.ndarray,
    corrected: np.ndarray,
    x: np.ndarray,
    ground_truth_probs: np.ndarray,
    labels: Mapping[str, object],
    thresholds: Sequence[float] = ANGLE_THRESHOLDS,
) -> pd.DataFrame:
    """One row for one model's maps: the labels, its angle statistics (:func:`angle_summary`) and each
    interpretability metric raw and corrected (``cosine_raw``, ``cosine_corrected``, …)."""
    metrics = interpretability_table(raw, corrected, x, ground_truth_probs, {}).set_index("corrected")
    values = {
        f"{metric}_{state}": float(metrics.loc[is_corrected, metric])
        for metric in METRICS
        for state, is_corrected in (("raw", False), ("corrected", True))
    }
    summary = angle_summary(simplex_angle(raw, zero=np.nan), angle_statistics(raw, thresholds))
    return pd.DataFrame([{**labels, **summary, **values}])


def evaluate_file(
    attributions: str,
    data: str,
    classification: str,
    out_metrics: str,
    out_angles: str,
    out_model: str | None = None,
    labels: list[str] | None = None,
    thresholds: list[float] | None = None,
) -> None:
    """Interpretability (raw and corrected) and per-sequence angles of one attribution file.

    Parameters
    ----------
    attributions : str
        Attribution file (.npz).
    data : str
        The dataset (.h5) with ground-truth sequence models.
    classification : str
        The model's metrics.json (its test AUROC is copied into the table).
    out_metrics : str
        TSV to write: one row per correction state.
    out_angles : str
        TSV to write: one row per sequence.
    out_model : str or None
        TSV to write: one row for the model (angle statistics, metrics raw and corrected, AUROC).
    labels : list of str or None
        Identifying columns, as NAME=VALUE.
    thresholds : list of float or None
        Angles (degrees) for the large-angle percentages; default 30, 45 and 60.
    """
    maps = io.load_attributions(attributions)
    training = _read_json(classification)
    truth = ground_truth_of(maps, data, attributions)
    tables = _evaluation_tables(maps, truth, training, labels, thresholds, out_model is not None)
    for table, out in zip(tables, (out_metrics, out_angles, out_model)):
        write_table(table, out)


def evaluate_methods_file(
    attributions_dir: str,
    methods: list[str],
    data: str,
    classification: str,
    out_dir: str,
    labels: list[str] | None = None,
    thresholds: list[float] | None = None,
) -> None:
    """Interpretability and angle tables of one model's attribution file of each method.

    For each method, ``<attributions_dir>/<method>.npz`` gives ``<out_dir>/<method>.metrics.tsv``,
    ``.angles.tsv`` and ``.model.tsv``, as :func:`evaluate_file` writes them. The data and the
    classification metrics are read once, and every table is computed before the first is written.

    Parameters
    ----------
    attributions_dir : str
        Folder with one attribution file (``<method>.npz``, maps ``(N, L, 4)``) per method.
    methods : list of str
        Methods to evaluate, each named once.
    data : str
        The dataset (.h5) with ground-truth sequence models.
    classification : str
        The model's metrics.json (its test AUROC is copied into the tables).
    out_dir : str
        Folder to write ``<method>.metrics.tsv``, ``.angles.tsv`` and ``.model.tsv`` in for each method.
        As ``out_metrics`` (a row per correction state), ``out_angles`` (a row per sequence) and
        ``out_model`` (a row for the model) of :func:`evaluate_file`.
    labels : list of str or None
        Identifying columns, as NAME=VALUE.
    thresholds : list of float or None
        Angles (degrees) for the large-angle percentages; default 30, 45 and 60.
    """
    check_method_list(methods)
    training = _read_json(classification)
    splits: dict[str, io.Split] = {}  # each split of the data is read once
    tables = {}
    for method in methods:
        path = os.path.join(attributions_dir, f"{method}.npz")
        maps = io.load_attributions(path)
        name = maps["params"]["split"]
        if name not in splits:
            splits[name] = io.load_split(data, name)
        truth = ground_truth_of(maps, data, path, splits[name])
        tables[method] = _evaluation_tables(maps, truth, training, labels, thresholds, True)
    for method, (metrics, angles, model) in tables.items():
        for kind, table in (("metrics", metrics), ("angles", angles), ("model", model)):
            write_table(table, os.path.join(out_dir, f"{method}.{kind}.tsv"))


def _read_json(path: str) -> dict:
    with open(path) as handle:
        return json.load(handle)


def _evaluation_tables(
    maps: Mapping[str, np.ndarray],
    truth: np.ndarray,
    training: Mapping[str, object],
    labels: list[str] | None,
    thresholds: list[float] | None,
    with_model: bool,
) -> list[pd.DataFrame]:
    """The metrics and angle tables of one attribution file (:func:`~simplexgrad.io.load_attributions`)
    with its ground truth ``(N, L, 4)`` and its model's metrics.json, and the model's row if asked for."""
    columns = {**parse_labels(labels or []), "method": maps["params"]["method"]}
    thresholds = thresholds or ANGLE_THRESHOLDS
    metrics = interpretability_table(maps["raw"], maps["corrected"], maps["x"], truth, columns)
    metrics["classification_auroc"] = training["test_auroc"]
    tables = [metrics, angle_table(maps["raw"], maps["indices"], columns, thresholds)]
    if with_model:
        setting = {key: training.get(key) for key in STUDIED_OPTIONS}
        row = model_row(maps["raw"], maps["corrected"], maps["x"], truth, {**columns, **setting}, thresholds)
        row.insert(len(columns) + len(setting), "classification_auroc", training["test_auroc"])
        if "epochs" in training and "epochs_run" in training:  # a trained run's metrics.json has both
            row["epoch_limit"] = training["epochs"]
            row["epochs_run"] = training["epochs_run"]
            # Stopped by the limit rather than by early stopping: the model may not have converged.
            row["reached_epoch_limit"] = training["epochs_run"] >= training["epochs"]
        tables.append(row)
    return tables


def summary_table(
    metrics: pd.DataFrame, group_by: Sequence[str] = ("architecture", "activation", "method")
) -> pd.DataFrame:
    """Before/after summary per group: mean ± sd, mean paired difference and a Wilcoxon signed-rank test.

    Pairs are the raw and corrected values of one seed. The p-value is two-sided and NaN when fewer than
    two pairs exist or all differences are zero.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Tidy table with ``group_by`` columns, ``seed``, ``corrected`` and the
        :data:`~simplexgrad.metrics.METRICS` columns.

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


def summarize_file(metrics: str, out: str) -> None:
    """Before/after summary of a tidy metrics table (:func:`summary_table`).

    Parameters
    ----------
    metrics : str
        Tidy metrics TSV (from ``collect``).
    out : str
        TSV to write.
    """
    write_table(summary_table(read_table(metrics)), out)


def _wilcoxon(difference: np.ndarray) -> float:
    if len(difference) < 2 or np.all(difference == 0):
        return float("nan")
    with needs("workflow", "simplexgrad.studies.evaluation"):  # here: scipy.stats takes a second
        from scipy.stats import wilcoxon

    return float(wilcoxon(difference).pvalue)


@dataclass(frozen=True)
class PositionData:
    """Per-position values pooled over attribution files, for positions with a non-zero gradient:
    ``angle`` (degrees), ``improvement`` (cosine gain), ``raw_score`` / ``corrected_score`` (grad×input),
    ``motif`` / ``background`` masks; ``zero_gradients`` counts the positions left out."""

    angle: np.ndarray
    improvement: np.ndarray
    raw_score: np.ndarray
    corrected_score: np.ndarray
    motif: np.ndarray
    background: np.ndarray
    zero_gradients: int


def pooled_positions(attribution_files: Sequence[str], data: str) -> PositionData:
    """Pool every position of several attribution files (e.g. all seeds of one model).

    Motif positions are those with any information (> :data:`~simplexgrad.metrics.BACKGROUND_INFORMATION`),
    background positions those without, as for the paper's Fig 3c/3d. Positions whose raw gradient is
    exactly zero have no angle and are left out.
    """
    parts: dict[str, list[np.ndarray]] = {name: [] for name in PositionData.__dataclass_fields__}
    zero_gradients = 0
    for path in attribution_files:
        maps = io.load_attributions(path)
        truth = ground_truth_of(maps, data, path)
        raw, corrected, x = maps["raw"], maps["corrected"], maps["x"]
        angle = simplex_angle(raw, zero=np.nan)
        keep = ~np.isnan(angle)
        zero_gradients += int((~keep).sum())
        information = information_content(truth)
        values = {
            "angle": angle,
            "improvement": positionwise_improvement(raw, corrected, truth),
            "raw_score": grad_times_input(raw, x),
            "corrected_score": grad_times_input(corrected, x),
            "motif": motif_positions(information, BACKGROUND_INFORMATION),
            "background": background_positions(information),
        }
        for name, value in values.items():
            parts[name].append(value[keep])
    del parts["zero_gradients"]
    return PositionData(
        **{name: np.concatenate(v) for name, v in parts.items()}, zero_gradients=zero_gradients
    )
