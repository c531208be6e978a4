"""The paper's claims against one run: a verdict per claim of ``resources/paper_claims.tsv``.

Each claim names a study, a quantity (a key of :data:`QUANTITIES`), the paper's value or direction, a
comparison and a tolerance. A quantity is measured from the run's own tables (and, for the angle spreads
of Fig 3c/3d, the synthetic saliency maps); a claim whose study is not part of the run, or whose model type,
method or table is absent, is *not run at this configuration* — listed, never dropped.

Directions (``greater``/``less``) are decided by the sign of the mean with fewer than :data:`MIN_TEST_SIZE`
seeds (or TFs), and by a one-sided test at α = the claim's tolerance from then on: Wilcoxon signed-rank on
paired differences (scipy), Mann-Whitney U for two sets of models. One-sided, because a two-sided exact
Wilcoxon p cannot fall below 0.0625 with 5 pairs. This module loads no deep-learning framework.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.scorecard"):
    import pandas as pd
    from scipy.stats import mannwhitneyu, spearmanr, wilcoxon

    from simplexgrad import io
    from simplexgrad.correction import simplex_angle
    from simplexgrad.io import ground_truth_of
    from simplexgrad.metrics import (
        BACKGROUND_INFORMATION,
        background_positions,
        information_content,
        motif_positions,
    )
    from simplexgrad.tables import read_table

__all__ = [
    "VERDICTS",
    "STUDIES",
    "COMPARISONS",
    "QUANTITIES",
    "MIN_TEST_SIZE",
    "NEAR_ZERO_ANGLE",
    "Claim",
    "Measurement",
    "NotRun",
    "RunTables",
    "read_claims",
    "measure",
    "judge",
    "score",
    "scorecard_markdown",
    "scorecard_file",
]

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run at this configuration"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_RUN)
STUDIES = {
    "synthetic": "Synthetic study",
    "invivo": "In vivo study",
    "init_study": "Initialisation study",
    "angle_penalty_study": "Angle-penalty study",
    "gpu": "GPU timing",
}
COMPARISONS = ("within", "in_range", "at_least", "at_most", "greater", "less")
CLAIM_COLUMNS = (
    "claim", "source", "study", "quantity", "model", "method", "metric", "reference", "statement", "paper",
    "comparison", "tolerance", "tolerance_source",
)  # fmt: skip
SCORECARD_COLUMNS = (
    "claim", "source", "study", "statement", "reference", "paper", "comparison", "tolerance", "ours", "n",
    "test", "verdict", "note",
)  # fmt: skip
MIN_TEST_SIZE = 5
# An angle spread (degrees) counted as "about 0" when the angle-penalty claims pick a sufficient λ; the
# same value is the tolerance of the penalty_min_angle rows.
NEAR_ZERO_ANGLE = 5.0
THRESHOLDS = (30, 45, 60)
NO_SUFFICIENT_LAMBDA = f"no lambda brought the angle SD under {NEAR_ZERO_ANGLE:g} degrees"
MIN_BIN_POSITIONS = 10  # angle bins with fewer positions are left out of the Fig 3e trend
MODEL = re.compile(r"^(?P<architecture>[a-z0-9_]+?)_(?P<activation>relu|exponential)$")
MAP_PATH = re.compile(r"(?P<model>[a-z0-9_]+_(?:relu|exponential))/seed(?P<seed>\d+)/saliency\.npz$")


@dataclass(frozen=True)
class Claim:
    """One row of the claims file (every column a string, as written)."""

    claim: str
    source: str
    study: str
    quantity: str
    model: str
    method: str
    metric: str
    reference: str
    statement: str
    paper: str
    comparison: str
    tolerance: str
    tolerance_source: str


@dataclass(frozen=True)
class Measurement:
    """What the run shows for one claim.

    ``value`` has one component, or one per angle threshold (30, 45, 60°); ``n`` counts the seeds, models
    or TFs behind it; ``differences`` (paired, e.g. corrected − raw per seed) or ``groups`` (two sets of
    models) are the samples of a direction's test; ``note`` says how the value was obtained.
    """

    value: tuple[float, ...]
    n: int
    differences: np.ndarray | None = None
    groups: tuple[np.ndarray, np.ndarray] | None = None
    note: str = ""


class NotRun(Exception):
    """The claim cannot be measured in this run (its study is off, or its model type or table is absent)."""


@dataclass
class RunTables:
    """The run's tables, each None where its study is not part of the run.

    Parameters
    ----------
    metrics, angles : pandas.DataFrame or None
        The synthetic study's collected ``metrics.tsv`` and ``angles.tsv``.
    maps : mapping or None
        ``{model: [(seed, saliency .npz path), ...]}`` of the synthetic study, with ``data`` its dataset.
    data : str or None
        The synthetic dataset (.h5) with the ground-truth sequence models.
    models : list of dict or None
        The synthetic models' ``metrics.json`` contents.
    accelerator : str
        ``gpu`` when the run trained on a GPU, else ``cpu``.
    init_study, angle_penalty_study : pandas.DataFrame or None
        The training studies' per-model ``summary.tsv``.
    invivo_differences, invivo_angles : pandas.DataFrame or None
        The in vivo study's collected ``ensemble_difference.tsv`` and ``angles.tsv``.
    """

    metrics: pd.DataFrame | None = None
    angles: pd.DataFrame | None = None
    maps: Mapping[str, list[tuple[int, str]]] | None = None
    data: str | None = None
    models: list[dict] | None = None
    accelerator: str = "cpu"
    init_study: pd.DataFrame | None = None
    angle_penalty_study: pd.DataFrame | None = None
    invivo_differences: pd.DataFrame | None = None
    invivo_angles: pd.DataFrame | None = None
    _spreads: dict = field(default_factory=dict, repr=False)


def _need(table, study: str, what: str):
    if table is None:
        raise NotRun(f"{what} not in this run ({STUDIES[study].lower()} off or not planned)")
    return table


def _model(claim: Claim) -> dict[str, str]:
    match = MODEL.match(claim.model)
    if not match:
        raise ValueError(f"claim {claim.claim}: model {claim.model!r} is not architecture_activation")
    return match.groupdict()


def _rows(table: pd.DataFrame, what: str, **labels: str) -> pd.DataFrame:
    mask = np.ones(len(table), dtype=bool)
    for column, value in labels.items():
        mask &= table[column].astype(str).to_numpy() == value
    if not mask.any():
        described = ", ".join(f"{key} {value}" for key, value in labels.items())
        raise NotRun(f"no {described} in {what}")
    return table[mask]


def _percent_columns(table: pd.DataFrame, what: str) -> list[str]:
    columns = [f"percent_above_{threshold}" for threshold in THRESHOLDS]
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise NotRun(f"{what} lacks {missing} (figures.angle_thresholds)")
    return columns


def correction_gain(claim: Claim, tables: RunTables) -> Measurement:
    """Mean over seeds of corrected − raw ``metric`` of ``method`` maps (Figs 2d–f, App. Fig 5)."""
    metrics = _need(tables.metrics, "synthetic", "results/synthetic/metrics.tsv")
    rows = _rows(metrics, "the synthetic metrics", **_model(claim), method=claim.method)
    paired = rows.pivot_table(index="seed", columns="corrected", values=claim.metric).dropna()
    differences = (paired[True] - paired[False]).to_numpy(dtype=float)
    return Measurement((float(differences.mean()),), len(differences), differences=differences)


def activation_gain(claim: Claim, tables: RunTables) -> Measurement:
    """Mean raw-map ``metric`` of exponential minus ReLU models of one architecture (Figs 2a–c)."""
    metrics = _need(tables.metrics, "synthetic", "results/synthetic/metrics.tsv")
    raw = metrics[~metrics["corrected"].astype(bool)]
    labels = {"architecture": claim.model, "method": claim.method}
    samples = [
        _rows(raw, "the synthetic metrics", **labels, activation=activation)
        .groupby("seed")[claim.metric]
        .mean()
        .dropna()
        .to_numpy(dtype=float)
        for activation in ("exponential", "relu")
    ]
    return Measurement(
        (float(samples[0].mean() - samples[1].mean()),),
        min(len(samples[0]), len(samples[1])),
        groups=(samples[0], samples[1]),
        note=f"{len(samples[0])} exponential and {len(samples[1])} ReLU models",
    )


def _angle_spreads(tables: RunTables, model: str) -> dict[str, np.ndarray]:
    """Per seed and pooled: count, sum and sum of squares of the angles at motif and background positions
    (as Fig 3c/3d: motif = any information, background = none; zero gradients left out)."""
    if model in tables._spreads:
        return tables._spreads[model]
    maps = _need(tables.maps, "synthetic", "the synthetic saliency maps")
    if model not in maps or not maps[model]:
        raise NotRun(f"no saliency maps of {model} in this run")
    if tables.data is None:
        raise NotRun("the synthetic dataset is not an input of this run's scorecard")
    sums = np.zeros((len(maps[model]), 2, 3))  # seed x (motif, background) x (count, sum, sum of squares)
    for row, (_, path) in enumerate(sorted(maps[model])):
        attributions = io.load_attributions(path)
        angles = simplex_angle(attributions["raw"], zero=np.nan)
        information = information_content(ground_truth_of(attributions, tables.data))
        masks = (motif_positions(information, BACKGROUND_INFORMATION), background_positions(information))
        for column, mask in enumerate(masks):
            values = angles[mask & ~np.isnan(angles)].astype(np.float64)
            sums[row, column] = values.size, values.sum(), np.square(values).sum()
    tables._spreads[model] = {"seeds": sums, "pooled": sums.sum(axis=0)}
    return tables._spreads[model]


def _sd(sums: np.ndarray) -> np.ndarray:
    """Population standard deviation from (..., 3) count, sum, sum of squares (NaN without values)."""
    count, total, squares = np.moveaxis(np.asarray(sums, dtype=np.float64), -1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = squares / count - np.square(total / count)
    return np.sqrt(np.clip(variance, 0.0, None))


def _angle_sd(column: int, where: str) -> Callable[[Claim, RunTables], Measurement]:
    def spread(claim: Claim, tables: RunTables) -> Measurement:
        sums = _angle_spreads(tables, claim.model)
        return Measurement(
            (float(_sd(sums["pooled"][column])),),
            len(sums["seeds"]),
            note=f"SD of {int(sums['pooled'][column, 0])} {where} angles pooled over seeds",
        )

    spread.__doc__ = f"Standard deviation of the saliency angles at {where} positions, pooled over seeds."
    return spread


def angle_sd_gap(claim: Claim, tables: RunTables) -> Measurement:
    """Per seed, background minus motif angle SD (Fig 3c/3d, App. Fig 8): wider background angles."""
    per_seed = _sd(_angle_spreads(tables, claim.model)["seeds"])
    differences = per_seed[:, 1] - per_seed[:, 0]
    differences = differences[~np.isnan(differences)]
    return Measurement((float(differences.mean()),), len(differences), differences=differences)


def large_angle_percent(claim: Claim, tables: RunTables) -> Measurement:
    """Mean over sequences and seeds of the % of positions above 30, 45 and 60° (Fig 4a, App. Fig 12)."""
    angles = _need(tables.angles, "synthetic", "results/synthetic/angles.tsv")
    rows = _rows(angles, "the synthetic angles", **_model(claim), method=claim.method)
    columns = _percent_columns(rows, "results/synthetic/angles.tsv")
    return Measurement(tuple(float(rows[c].mean()) for c in columns), rows["seed"].nunique())


def classification_auroc(claim: Claim, tables: RunTables) -> Measurement:
    """Mean test AUROC over the model type's seeds (from the synthetic metrics table)."""
    metrics = _need(tables.metrics, "synthetic", "results/synthetic/metrics.tsv")
    rows = _rows(metrics, "the synthetic metrics", **_model(claim))
    values = rows.groupby("seed")["classification_auroc"].first().to_numpy(dtype=float)
    return Measurement((float(values.mean()),), len(values))


def invivo_reduction_trend(claim: Claim, tables: RunTables) -> Measurement:
    """Median over TFs of Spearman's ρ between |angle| (bin centre) and the ensemble-difference reduction
    (Fig 3e, App. Fig 9); bins with fewer than :data:`MIN_BIN_POSITIONS` positions are left out."""
    table = _need(tables.invivo_differences, "invivo", "results/invivo/ensemble_difference.tsv")
    rows = _rows(table, "the in vivo ensemble differences", **_model(claim))
    rhos = []
    for _, tf in rows.groupby("tf", sort=True):
        tf = tf[(tf["positions"] >= MIN_BIN_POSITIONS) & np.isfinite(tf["reduction_percent"])]
        if len(tf) >= 3:
            centre = np.abs((tf["bin_low"].to_numpy() + tf["bin_high"].to_numpy()) / 2)
            rhos.append(float(spearmanr(centre, tf["reduction_percent"].to_numpy()).statistic))
    rhos = [rho for rho in rhos if not math.isnan(rho)]
    if not rhos:
        return Measurement((math.nan,), 0, note="no TF has 3 angle bins with enough positions")
    return Measurement((float(np.median(rhos)),), len(rhos), note=f"rho per TF: {_join(rhos, '.2f')}")


def invivo_ensemble_narrowing(claim: Claim, tables: RunTables) -> Measurement:
    """Per TF, the ensemble map's angle SD minus its members' mean angle SD (App. Figs 9/10)."""
    table = _need(tables.invivo_angles, "invivo", "results/invivo/angles.tsv")
    rows = _rows(table, "the in vivo angles", **_model(claim))
    differences = []
    for _, tf in rows.groupby("tf", sort=True):
        ensemble = tf["member"].astype(str) == "ensemble"
        if ensemble.any() and (~ensemble).any():
            spreads = tf["angle_sd"]
            differences.append(float(spreads[ensemble].mean() - spreads[~ensemble].mean()))
    differences = np.asarray(differences)
    if not len(differences):
        raise NotRun(f"no ensemble with members for {claim.model} in results/invivo/angles.tsv")
    return Measurement((float(differences.mean()),), len(differences), differences=differences)


def invivo_large_angle_gap(claim: Claim, tables: RunTables) -> Measurement:
    """In vivo minus synthetic mean % above 30, 45 and 60° for one model type (Fig 4b, App. Fig 13)."""
    invivo = _need(tables.invivo_angles, "invivo", "results/invivo/angles.tsv")
    synthetic = _need(tables.angles, "synthetic", "results/synthetic/angles.tsv")
    members = _rows(invivo, "the in vivo angles", **_model(claim))
    members = members[members["member"].astype(str) != "ensemble"]
    reference = _rows(synthetic, "the synthetic angles", **_model(claim), method=claim.method)
    columns = _percent_columns(members, "results/invivo/angles.tsv")
    _percent_columns(reference, "results/synthetic/angles.tsv")
    by_tf = members.groupby("tf")[columns].mean()
    gap = tuple(float(by_tf[c].mean() - reference[c].mean()) for c in columns)
    return Measurement(
        gap, len(by_tf), note=f"in vivo {_join(by_tf.mean(), '.1f', '/')}, synthetic "
        f"{_join(reference[columns].mean(), '.1f', '/')}"
    )  # fmt: skip


def _settings(claim: Claim, table: pd.DataFrame | None, study: str, parameter: str) -> pd.DataFrame:
    """Mean over seeds per setting of one model type of a training study, with ``seeds``."""
    table = _need(table, study, f"results/{study}/summary.tsv")
    rows = _rows(table, f"results/{study}/summary.tsv", **_model(claim))
    grouped = rows.groupby(parameter, sort=True)
    columns = ["angle_sd", "classification_auroc", "cosine_raw"]
    return grouped[columns].mean().assign(seeds=grouped.size(), samples=grouped["cosine_raw"].agg(list))


def init_angle_trend(claim: Claim, tables: RunTables) -> Measurement:
    """Spearman's ρ between σ and the mean angle SD over the settings of the init study (Fig 4c)."""
    settings = _settings(claim, tables.init_study, "init_study", "init_stddev")
    if len(settings) < 3:
        raise NotRun(f"{len(settings)} initialisation scale(s): a trend needs at least 3")
    rho = float(spearmanr(settings.index.to_numpy(), settings["angle_sd"].to_numpy()).statistic)
    return Measurement(
        (rho,), int(settings["seeds"].min()),
        note=f"angle SD {_join(settings['angle_sd'], '.1f')} at sigma {_join(settings.index, 'g')}",
    )  # fmt: skip


def init_auroc_drop(claim: Claim, tables: RunTables) -> Measurement:
    """Best mean test AUROC over σ minus the mean AUROC at the largest σ (Fig 4c)."""
    settings = _settings(claim, tables.init_study, "init_study", "init_stddev")
    if len(settings) < 2:
        raise NotRun("one initialisation scale: no drop to measure")
    auroc = settings["classification_auroc"]
    return Measurement(
        (float(auroc.max() - auroc.iloc[-1]),), int(settings["seeds"].min()),
        note=f"AUROC {_join(auroc, '.3f')} at sigma {_join(settings.index, 'g')}",
    )  # fmt: skip


def _penalty(claim: Claim, tables: RunTables) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """(all settings, the λ = 0 reference, the settings with λ > 0) of the angle-penalty study."""
    settings = _settings(claim, tables.angle_penalty_study, "angle_penalty_study", "angle_penalty")
    if 0.0 not in settings.index:
        raise NotRun(f"no lambda = 0 reference: {claim.model} is not among the main study's models")
    penalised = settings[settings.index > 0]
    if penalised.empty:
        raise NotRun("no lambda > 0 in this run")
    return settings, settings.loc[0.0], penalised


def _sufficient(penalised: pd.DataFrame, reference: pd.Series) -> pd.Series | None:
    """The λ whose angle SD is under :data:`NEAR_ZERO_ANGLE` with the smallest AUROC drop, or None."""
    near_zero = penalised[penalised["angle_sd"] <= NEAR_ZERO_ANGLE]
    if near_zero.empty:
        return None
    drops = reference["classification_auroc"] - near_zero["classification_auroc"]
    return near_zero.loc[drops.idxmin()]


def penalty_min_angle(claim: Claim, tables: RunTables) -> Measurement:
    """The smallest mean angle SD over λ > 0 (Fig 4d)."""
    _, reference, penalised = _penalty(claim, tables)
    best = penalised["angle_sd"].idxmin()
    return Measurement(
        (float(penalised["angle_sd"].min()),), int(penalised["seeds"].min()),
        note=f"at lambda {best:g}; {reference['angle_sd']:.1f} at lambda = 0",
    )  # fmt: skip


def penalty_auroc_kept(claim: Claim, tables: RunTables) -> Measurement:
    """AUROC at λ = 0 minus AUROC at the sufficient λ (angle SD ≤ :data:`NEAR_ZERO_ANGLE`, smallest drop)."""
    _, reference, penalised = _penalty(claim, tables)
    chosen = _sufficient(penalised, reference)
    if chosen is None:
        return Measurement((math.nan,), int(penalised["seeds"].min()), note=NO_SUFFICIENT_LAMBDA)
    return Measurement(
        (float(reference["classification_auroc"] - chosen["classification_auroc"]),), int(chosen["seeds"]),
        note=f"at lambda {chosen.name:g}: AUROC {chosen['classification_auroc']:.3f} vs "
        f"{reference['classification_auroc']:.3f}",
    )  # fmt: skip


def penalty_auroc_too_large(claim: Claim, tables: RunTables) -> Measurement:
    """AUROC at λ = 0 minus AUROC at the largest λ (Fig 4d)."""
    _, reference, penalised = _penalty(claim, tables)
    largest = penalised.iloc[-1]
    return Measurement(
        (float(reference["classification_auroc"] - largest["classification_auroc"]),), int(largest["seeds"]),
        note=f"largest lambda {largest.name:g}",
    )  # fmt: skip


def penalty_interpretability_bump(claim: Claim, tables: RunTables) -> Measurement:
    """Raw-map cosine at the sufficient λ minus at λ = 0 (Fig 4d's bump); models differ, so unpaired."""
    _, reference, penalised = _penalty(claim, tables)
    chosen = _sufficient(penalised, reference)
    if chosen is None:
        return Measurement((math.nan,), int(penalised["seeds"].min()), note=NO_SUFFICIENT_LAMBDA)
    groups = (np.asarray(chosen["samples"], dtype=float), np.asarray(reference["samples"], dtype=float))
    return Measurement(
        (float(groups[0].mean() - groups[1].mean()),), min(map(len, groups)), groups=groups,
        note=f"at lambda {chosen.name:g}",
    )  # fmt: skip


def epoch_seconds(claim: Claim, tables: RunTables) -> Measurement:
    """Median over the synthetic models of training seconds per epoch (a GPU run only)."""
    if tables.accelerator != "gpu":
        raise NotRun("a CPU run: the epoch-time claim is about a GPU")
    models = _need(tables.models, "synthetic", "the synthetic models' metrics.json")
    if not models:
        raise NotRun("no synthetic model in this run")
    seconds = [float(model["seconds"]) / int(model["epochs_run"]) for model in models]
    engines = sorted({str(model.get("engine", "single")) for model in models})
    return Measurement(
        (float(np.median(seconds)),), len(seconds),
        note=f"engine {'/'.join(engines)} (ensemble engine: per member, a group's time / its size)",
    )  # fmt: skip


# quantity -> (the study it needs, how it is measured)
QUANTITIES: dict[str, tuple[str, Callable[[Claim, RunTables], Measurement]]] = {
    "correction_gain": ("synthetic", correction_gain),
    "activation_gain": ("synthetic", activation_gain),
    "angle_sd_motif": ("synthetic", _angle_sd(0, "motif")),
    "angle_sd_background": ("synthetic", _angle_sd(1, "background")),
    "angle_sd_gap": ("synthetic", angle_sd_gap),
    "large_angle_percent": ("synthetic", large_angle_percent),
    "classification_auroc": ("synthetic", classification_auroc),
    "invivo_reduction_trend": ("invivo", invivo_reduction_trend),
    "invivo_ensemble_narrowing": ("invivo", invivo_ensemble_narrowing),
    "invivo_large_angle_gap": ("invivo", invivo_large_angle_gap),
    "init_angle_trend": ("init_study", init_angle_trend),
    "init_auroc_drop": ("init_study", init_auroc_drop),
    "penalty_min_angle": ("angle_penalty_study", penalty_min_angle),
    "penalty_auroc_kept": ("angle_penalty_study", penalty_auroc_kept),
    "penalty_auroc_too_large": ("angle_penalty_study", penalty_auroc_too_large),
    "penalty_interpretability_bump": ("angle_penalty_study", penalty_interpretability_bump),
    "epoch_seconds": ("gpu", epoch_seconds),
}


def _numbers(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number or a/b/c numbers") from None


def _ranges(text: str, what: str) -> tuple[tuple[float, float], ...]:
    bounds = []
    for part in text.split("/"):
        low, separator, high = part.partition("-")
        try:
            bounds.append((float(low), float(high)))
        except ValueError:
            raise ValueError(f"{what}: {text!r} is not lo-hi ranges separated by /") from None
        if not separator or bounds[-1][0] > bounds[-1][1]:
            raise ValueError(f"{what}: {part!r} is not an increasing lo-hi range")
    return tuple(bounds)


def read_claims(path: str | Path) -> list[Claim]:
    """Read and check the claims file (tab-separated, ``#`` comment lines; columns :data:`CLAIM_COLUMNS`).

    Raises
    ------
    ValueError
        Naming the file and the row: wrong columns, a repeated claim id, an unknown study, quantity or
        comparison, a quantity filed under another study, or a paper value or tolerance that the
        comparison cannot read.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t")
    if tuple(reader.fieldnames or ()) != CLAIM_COLUMNS:
        raise ValueError(f"{path}: columns must be {list(CLAIM_COLUMNS)}; got {reader.fieldnames}")
    claims: list[Claim] = []
    for number, row in enumerate(reader, start=2):
        where = f"{path}: row {number}"
        if None in row or any(value is None for value in row.values()):
            raise ValueError(f"{where}: needs exactly {len(CLAIM_COLUMNS)} tab-separated fields")
        claim = Claim(**{key: value.strip() for key, value in row.items()})
        where = f"{path}: claim {claim.claim}"
        if claim.study not in STUDIES:
            raise ValueError(f"{where}: unknown study {claim.study!r}; known: {list(STUDIES)}")
        if claim.quantity not in QUANTITIES:
            raise ValueError(f"{where}: unknown quantity {claim.quantity!r}; known: {list(QUANTITIES)}")
        if QUANTITIES[claim.quantity][0] != claim.study:
            raise ValueError(f"{where}: {claim.quantity} belongs to study {QUANTITIES[claim.quantity][0]}")
        if claim.comparison not in COMPARISONS:
            raise ValueError(f"{where}: unknown comparison {claim.comparison!r}; known: {list(COMPARISONS)}")
        tolerance = _numbers(claim.tolerance, f"{where}: tolerance")
        if claim.comparison == "within":
            paper = _numbers(claim.paper, f"{where}: paper")
            if len(tolerance) not in (1, len(paper)):
                raise ValueError(f"{where}: {len(tolerance)} tolerances for {len(paper)} paper values")
        elif claim.comparison == "in_range":
            _ranges(claim.paper, f"{where}: paper")
        elif len(tolerance) != 1:
            raise ValueError(f"{where}: {claim.comparison} takes one tolerance; got {claim.tolerance!r}")
        if any(existing.claim == claim.claim for existing in claims):
            raise ValueError(f"{where}: claim id used twice")
        claims.append(claim)
    if not claims:
        raise ValueError(f"{path}: no claims")
    return claims


def measure(claim: Claim, tables: RunTables) -> Measurement:
    """The run's value for one claim (:class:`NotRun` when it cannot be measured here)."""
    return QUANTITIES[claim.quantity][1](claim, tables)


def _one_sided_p(measurement: Measurement, alternative: str) -> tuple[float, str] | None:
    """(p, test name) of a direction's one-sided test, or None below :data:`MIN_TEST_SIZE`."""
    if measurement.n < MIN_TEST_SIZE:
        return None
    if measurement.differences is not None:
        differences = np.asarray(measurement.differences, dtype=float)
        if np.all(differences == 0):
            return 1.0, "Wilcoxon signed-rank"
        return float(wilcoxon(differences, alternative=alternative).pvalue), "Wilcoxon signed-rank"
    if measurement.groups is not None:
        first, second = measurement.groups
        return float(mannwhitneyu(first, second, alternative=alternative).pvalue), "Mann-Whitney U"
    return None


def judge(claim: Claim, measurement: Measurement) -> tuple[str, str]:
    """(verdict, how it was decided) of a measured claim: :data:`VERDICTS` ``[0]`` or ``[1]``."""
    value = np.asarray(measurement.value, dtype=float)
    tolerance = np.asarray(_numbers(claim.tolerance, claim.claim), dtype=float)
    if np.isnan(value).any():
        return NOT_REPRODUCED, "no value"
    if claim.comparison == "within":
        paper = np.asarray(_numbers(claim.paper, claim.claim), dtype=float)
        if value.shape != paper.shape:
            raise ValueError(f"claim {claim.claim}: {len(value)} values measured, {len(paper)} in the paper")
        ok = bool(np.all(np.abs(value - paper) <= tolerance + 1e-12))
        test = f"|ours - paper| <= {claim.tolerance}"
    elif claim.comparison == "in_range":
        bounds = np.asarray(_ranges(claim.paper, claim.claim), dtype=float)
        if len(value) != len(bounds):
            raise ValueError(f"claim {claim.claim}: {len(value)} measured values for {len(bounds)} ranges")
        ok = bool(np.all((value >= bounds[:, 0] - tolerance) & (value <= bounds[:, 1] + tolerance)))
        test = "inside the paper's ranges"
    elif claim.comparison in ("at_least", "at_most"):
        sign = 1 if claim.comparison == "at_least" else -1
        ok = bool(np.all(sign * (value - tolerance) >= -1e-12))
        test = f"ours {'>=' if sign > 0 else '<='} {claim.tolerance}"
    else:
        alternative = "greater" if claim.comparison == "greater" else "less"
        direction = bool(value[0] > 0) if alternative == "greater" else bool(value[0] < 0)
        tested = _one_sided_p(measurement, alternative)
        sign = ">" if alternative == "greater" else "<"
        if tested is None:
            ok, test = (
                direction,
                f"needs mean {sign} 0; direction only (n = {measurement.n} < {MIN_TEST_SIZE})",
            )
        else:
            p, name = tested
            ok = direction and p < float(tolerance[0])
            test = (
                f"needs mean {sign} 0 and one-sided {name} p < {claim.tolerance}: "
                f"p = {p:.2g} (n = {measurement.n})"
            )
    return (REPRODUCED if ok else NOT_REPRODUCED), test


def _join(values, spec: str, separator: str = ", ") -> str:
    return separator.join(format(float(value), spec) for value in values)


def _format(value: tuple[float, ...]) -> str:
    return "/".join("nan" if math.isnan(v) else f"{v:.4g}" for v in value)


def score(claims: Sequence[Claim], tables: RunTables) -> pd.DataFrame:
    """The scorecard: one row per claim (columns :data:`SCORECARD_COLUMNS`), in the claims' order."""
    rows = []
    for claim in claims:
        row = {key: getattr(claim, key) for key in SCORECARD_COLUMNS if hasattr(claim, key)}
        try:
            measurement = measure(claim, tables)
        except NotRun as reason:
            rows.append({**row, "ours": "", "n": 0, "test": "", "verdict": NOT_RUN, "note": str(reason)})
            continue
        verdict, test = judge(claim, measurement)
        rows.append(
            {
                **row,
                "ours": _format(measurement.value),
                "n": measurement.n,
                "test": test,
                "verdict": verdict,
                "note": measurement.note,
            }
        )
    return pd.DataFrame(rows, columns=list(SCORECARD_COLUMNS))


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def scorecard_markdown(table: pd.DataFrame, title: str = "") -> str:
    """A readable page of a scorecard: verdict counts, then one table per study."""
    counts = table["verdict"].value_counts()
    lines = [
        f"# Scorecard{': ' + title if title else ''}",
        "",
        "The paper's checkable claims (`resources/paper_claims.tsv`) against this run: "
        + ", ".join(f"**{int(counts.get(verdict, 0))}** {verdict}" for verdict in VERDICTS)
        + ". Directions are decided by the sign of the mean below "
        f"{MIN_TEST_SIZE} seeds (or TFs) and by a one-sided test at alpha = the claim's tolerance from "
        f"{MIN_TEST_SIZE} on; tolerances and where they come from are in the claims file.",
    ]
    for study, name in STUDIES.items():
        rows = table[table["study"] == study]
        if rows.empty:
            continue
        lines += ["", f"## {name}", "", "| claim | source | paper | ours | n | verdict | test or reason |"]
        lines.append("|---|---|---|---|---|---|---|")
        for row in rows.itertuples():
            verdict = row.verdict if row.verdict != NOT_REPRODUCED else f"**{row.verdict}**"
            how = row.test if row.verdict != NOT_RUN else row.note
            reference = f" ({row.reference})" if row.reference != "paper text" else ""
            lines.append(
                "| "
                + " | ".join(
                    _cell(cell)
                    for cell in (
                        f"{row.statement}{reference}",
                        row.source,
                        row.paper,
                        row.ours,
                        row.n,
                        verdict,
                        how,
                    )
                )
                + " |"
            )
    return "\n".join(lines) + "\n"


def _map_files(paths: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
    maps: dict[str, list[tuple[int, str]]] = {}
    for path in paths:
        match = MAP_PATH.search(Path(path).as_posix())
        if not match:
            raise ValueError(f"{path}: not a <architecture>_<activation>/seed<n>/saliency.npz file")
        maps.setdefault(match["model"], []).append((int(match["seed"]), str(path)))
    return maps


def _read_table(path: str | None) -> pd.DataFrame | None:
    return None if path is None else read_table(path)


def scorecard_file(
    claims: str,
    out: str,
    out_markdown: str,
    metrics: str | None = None,
    angles: str | None = None,
    attributions: list[str] | None = None,
    data: str | None = None,
    models: list[str] | None = None,
    accelerator: Literal["cpu", "gpu"] = "cpu",
    init_study: str | None = None,
    angle_penalty_study: str | None = None,
    invivo_differences: str | None = None,
    invivo_angles: str | None = None,
    title: str = "",
) -> None:
    """Score a run against the paper's claims: a TSV and a Markdown page, one row per claim.

    A table that is not given makes its claims "not run at this configuration".

    Parameters
    ----------
    claims : str
        The claims file (resources/paper_claims.tsv).
    out : str
        TSV to write: one row per claim with the paper's value, ours, n and the verdict.
    out_markdown : str
        Markdown page to write: the same verdicts, grouped by study.
    metrics : str or None
        The synthetic study's metrics table (results/synthetic/metrics.tsv).
    angles : str or None
        The synthetic study's per-sequence angle table (results/synthetic/angles.tsv).
    attributions : list of str or None
        The synthetic study's saliency files (<model>/seed<n>/saliency.npz), for the Fig 3c/3d spreads.
    data : str or None
        The synthetic dataset (.h5) that the saliency files explain.
    models : list of str or None
        The synthetic models' metrics.json files, for the epoch time.
    accelerator : {'cpu', 'gpu'}
        What the run trained on; the GPU epoch-time claim is scored on a GPU run only.
    init_study : str or None
        The initialisation study's per-model table (results/init_study/summary.tsv).
    angle_penalty_study : str or None
        The angle-penalty study's per-model table (results/angle_penalty_study/summary.tsv).
    invivo_differences : str or None
        The in vivo ensemble-difference table (results/invivo/ensemble_difference.tsv).
    invivo_angles : str or None
        The in vivo angle table (results/invivo/angles.tsv).
    title : str
        A heading for the Markdown page (e.g. the configuration's name).
    """
    parsed = read_claims(claims)
    records = []
    for path in models or []:
        with open(path) as handle:
            records.append(json.load(handle))
    tables = RunTables(
        metrics=_read_table(metrics),
        angles=_read_table(angles),
        maps=_map_files(attributions) if attributions else None,
        data=data,
        models=records if models else None,
        accelerator=accelerator,
        init_study=_read_table(init_study),
        angle_penalty_study=_read_table(angle_penalty_study),
        invivo_differences=_read_table(invivo_differences),
        invivo_angles=_read_table(invivo_angles),
    )
    table = score(parsed, tables)
    page = scorecard_markdown(table, title)
    with io.atomic_output(out) as temporary_tsv, io.atomic_output(out_markdown) as temporary_md:
        table.to_csv(temporary_tsv, sep="\t", index=False)
        temporary_md.write_text(page, encoding="utf-8")
