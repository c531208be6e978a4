"""What each of the paper's claims is about, measured from one run: the registry :data:`QUANTITIES`.

A claim (a :class:`~simplexgrad.studies.claims.Claim`, one row of ``resources/paper_claims.tsv``) names a
study and a quantity, a key of :data:`QUANTITIES` that gives the study the quantity needs and the function
that measures it. A quantity is measured from the run's own tables
(:class:`~simplexgrad.studies.claims.RunTables`; and, for the angle spreads of Fig 3c/3d, the synthetic
saliency maps) into a :class:`~simplexgrad.studies.claims.Measurement`: its value, how many seeds, models
or TFs are behind it, and the samples of a direction's test. A claim whose study is not part of the run, or
whose model type, method or table is absent, raises :class:`~simplexgrad.studies.claims.NotRun`.
:mod:`simplexgrad.studies.scorecard` reads the claims, judges the measurements and writes the scorecard.
This module loads no deep-learning framework.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.claim_quantities"):
    import pandas as pd
    from scipy.stats import spearmanr

    from simplexgrad import io
    from simplexgrad.correction import simplex_angle
    from simplexgrad.io import ground_truth_of
    from simplexgrad.metrics import (
        BACKGROUND_INFORMATION,
        background_positions,
        grad_times_input,
        information_content,
        motif_positions,
        positionwise_improvement,
    )
    from simplexgrad.studies.claims import (
        MODEL,
        Claim,
        Measurement,
        NotReachable,
        NotRun,
        RunTables,
        joined,
        matching_rows,
        model_labels,
        need,
        percent_columns,
    )
    from simplexgrad.studies.invivo_quantities import (
        invivo_ensemble_narrowing,
        invivo_large_angle_gap,
        invivo_overall_reduction,
        invivo_reduction_beyond_geometry,
        invivo_reduction_trend,
    )

__all__ = ["QUANTITIES", "NEAR_ZERO_ANGLE", "measure"]

# An angle spread (degrees) counted as "about 0" when the angle-penalty claims pick a sufficient λ; the
# same value is the tolerance of the penalty_min_angle rows.
NEAR_ZERO_ANGLE = 5.0
NO_SUFFICIENT_LAMBDA = f"no lambda brought the angle SD under {NEAR_ZERO_ANGLE:g} degrees"
LARGE_ANGLE = 45.0  # degrees: "large" background angles of Fig 3d's bottom panel


def correction_gain(claim: Claim, tables: RunTables) -> Measurement:
    """Mean over seeds of corrected − raw ``metric`` of ``method`` maps (Figs 2d–f, App. Fig 5)."""
    metrics = need(tables.metrics, "synthetic", "results/synthetic/metrics.tsv")
    rows = matching_rows(metrics, "the synthetic metrics", **model_labels(claim), method=claim.method)
    paired = rows.pivot_table(index="seed", columns="corrected", values=claim.metric).dropna()
    differences = (paired[True] - paired[False]).to_numpy(dtype=float)
    return Measurement((float(differences.mean()),), len(differences), differences=differences)


def _raw_per_seed(tables: RunTables, column: str, method: str, **labels: str) -> np.ndarray:
    """Per seed, the raw maps' ``column`` of the synthetic metrics rows with ``labels`` and ``method``."""
    metrics = need(tables.metrics, "synthetic", "results/synthetic/metrics.tsv")
    raw = metrics[~metrics["corrected"].astype(bool)]
    rows = matching_rows(raw, "the synthetic metrics", method=method, **labels)
    return rows.groupby("seed")[column].mean().dropna().to_numpy(dtype=float)


def _gain(samples: list[np.ndarray], names: tuple[str, str]) -> Measurement:
    """The first set's mean minus the second's, with both sets for a Mann-Whitney U test."""
    return Measurement(
        (float(samples[0].mean() - samples[1].mean()),),
        min(len(samples[0]), len(samples[1])),
        groups=(samples[0], samples[1]),
        note=f"{len(samples[0])} {names[0]} and {len(samples[1])} {names[1]} models",
    )


def activation_gain(claim: Claim, tables: RunTables) -> Measurement:
    """Mean raw-map ``metric`` of exponential minus ReLU models of one architecture (Figs 2a–c)."""
    samples = [
        _raw_per_seed(tables, claim.metric, claim.method, architecture=claim.model, activation=activation)
        for activation in ("exponential", "relu")
    ]
    return _gain(samples, ("exponential", "ReLU"))


def model_pair_gain(claim: Claim, tables: RunTables) -> Measurement:
    """Mean raw-map ``metric`` (or ``classification_auroc``) of the first model type of ``model``
    (``first>second``) minus the second's (§5.1: CNN-shallow-exp against CNN-deep-relu)."""
    names = tuple(claim.model.split(">"))
    matches = [MODEL.match(name) for name in names]
    if len(names) != 2 or not all(matches):
        raise ValueError(f"claim {claim.claim}: model {claim.model!r} is not first>second model types")
    samples = [_raw_per_seed(tables, claim.metric, claim.method, **match.groupdict()) for match in matches]
    return _gain(samples, names)


def _angle_spreads(tables: RunTables, model: str) -> dict[str, np.ndarray]:
    """Per seed and pooled: count, sum and sum of squares of the angles at motif and background positions
    (as Fig 3c/3d: motif = any information, background = none; zero gradients left out); and per seed the
    bottom panels' statistics: the rank correlation of |θ| with the correction's improvement at motif
    positions (``trend``), and the mean |grad × input| at background positions above
    :data:`LARGE_ANGLE` degrees, raw minus corrected (``shrink``)."""
    if model in tables._spreads:
        return tables._spreads[model]
    maps = need(tables.maps, "synthetic", "the synthetic saliency maps")
    if model not in maps or not maps[model]:
        raise NotRun(f"no saliency maps of {model} in this run")
    if tables.data is None:
        raise NotRun("the synthetic dataset is not an input of this run's scorecard")
    sums = np.zeros((len(maps[model]), 2, 3))  # seed x (motif, background) x (count, sum, sum of squares)
    trend, shrink = np.full(len(maps[model]), np.nan), np.full(len(maps[model]), np.nan)
    for row, (_, path) in enumerate(sorted(maps[model])):
        attributions = io.load_attributions(path)
        angles = simplex_angle(attributions["raw"], zero=np.nan)
        truth = ground_truth_of(attributions, tables.data, path)
        information = information_content(truth)
        masks = (motif_positions(information, BACKGROUND_INFORMATION), background_positions(information))
        for column, mask in enumerate(masks):
            values = angles[mask & ~np.isnan(angles)].astype(np.float64)
            sums[row, column] = values.size, values.sum(), np.square(values).sum()
        gain = positionwise_improvement(attributions["raw"], attributions["corrected"], truth)
        ranked = masks[0] & ~np.isnan(angles) & ~np.isnan(gain)
        pairs = np.abs(angles[ranked]), gain[ranked]
        if ranked.sum() > 2 and min(np.ptp(pairs[0]), np.ptp(pairs[1])) > 0:  # no rank of a constant
            trend[row] = spearmanr(*pairs).statistic
        large = masks[1] & (np.abs(angles) > LARGE_ANGLE)
        if large.any():
            scores = [np.abs(grad_times_input(attributions[key], attributions["x"]))[large]
                      for key in ("raw", "corrected")]  # fmt: skip
            shrink[row] = float(scores[0].mean() - scores[1].mean())
    tables._spreads[model] = {"seeds": sums, "pooled": sums.sum(axis=0), "trend": trend, "shrink": shrink}
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


def _angle_sd_against_null(column: int, where: str) -> Callable[[Claim, RunTables], Measurement]:
    def against_null(claim: Claim, tables: RunTables) -> Measurement:
        if tables.null is None:
            raise NotRun("no null baseline in this run (models.null_baseline)")
        ours, null = (
            _sd(_angle_spreads(run, claim.model)["seeds"])[:, column] for run in (tables, tables.null)
        )
        if len(ours) != len(null):
            raise NotRun(f"{len(ours)} seeds of {claim.model} but {len(null)} in the null baseline")
        differences = (ours - null)[~np.isnan(ours - null)]
        note = f"{where} SD {np.nanmean(ours):.1f}, the untrained null's {np.nanmean(null):.1f} degrees"
        return Measurement((float(differences.mean()),), len(differences), differences=differences, note=note)

    against_null.__doc__ = (
        f"Per seed, the {where} angle SD minus that of the seed's untrained model (the null)."
    )
    return against_null


def _per_seed(statistic: str, what: str) -> Callable[[Claim, RunTables], Measurement]:
    def per_seed(claim: Claim, tables: RunTables) -> Measurement:
        values = _angle_spreads(tables, claim.model)[statistic]
        values = values[~np.isnan(values)]
        if not len(values):
            raise NotRun(f"no {what} in the saliency maps of {claim.model}")
        return Measurement((float(values.mean()),), len(values), differences=values, note=f"mean {what}")

    per_seed.__doc__ = f"Per seed, the {what} (the bottom panels of Figs 3c and 3d)."
    return per_seed


def angle_sd_gap(claim: Claim, tables: RunTables) -> Measurement:
    """Per seed, background minus motif angle SD (Fig 3c/3d, App. Fig 8): wider background angles."""
    per_seed = _sd(_angle_spreads(tables, claim.model)["seeds"])
    differences = per_seed[:, 1] - per_seed[:, 0]
    differences = differences[~np.isnan(differences)]
    return Measurement((float(differences.mean()),), len(differences), differences=differences)


def large_angle_percent(claim: Claim, tables: RunTables) -> Measurement:
    """Mean over sequences and seeds of the % of positions above 30, 45 and 60° (Fig 4a, App. Fig 12)."""
    angles = need(tables.angles, "synthetic", "results/synthetic/angles.tsv")
    rows = matching_rows(angles, "the synthetic angles", **model_labels(claim), method=claim.method)
    columns = percent_columns(rows, "results/synthetic/angles.tsv")
    return Measurement(tuple(float(rows[c].mean()) for c in columns), rows["seed"].nunique())


PERVASIVE_PERCENT = 20.0  # the text's lower bound of the share of positions above 30 degrees


def large_angle_prevalence(claim: Claim, tables: RunTables) -> Measurement:
    """Mean over seeds of the % of sequences with at least :data:`PERVASIVE_PERCENT` % of their positions
    above 30° (§5.5: "large gradient angles are pervasive in most sequences")."""
    angles = need(tables.angles, "synthetic", "results/synthetic/angles.tsv")
    rows = matching_rows(angles, "the synthetic angles", **model_labels(claim), method=claim.method)
    column = percent_columns(rows, "results/synthetic/angles.tsv")[0]
    if "sequence" not in rows.columns:
        raise NotRun("the synthetic angle table has one row per model, not per sequence")
    per_seed = rows.groupby("seed")[column].apply(lambda x: 100.0 * float((x >= PERVASIVE_PERCENT).mean()))
    return Measurement(
        (float(per_seed.mean()),), len(per_seed),
        note=f"sequences with >= {PERVASIVE_PERCENT:g} % of positions above 30 degrees",
    )  # fmt: skip


def classification_auroc(claim: Claim, tables: RunTables) -> Measurement:
    """Mean test AUROC over the model type's seeds (from the synthetic metrics table)."""
    metrics = need(tables.metrics, "synthetic", "results/synthetic/metrics.tsv")
    rows = matching_rows(metrics, "the synthetic metrics", **model_labels(claim))
    values = rows.groupby("seed")["classification_auroc"].first().to_numpy(dtype=float)
    return Measurement((float(values.mean()),), len(values))


def _settings(claim: Claim, table: pd.DataFrame | None, study: str, parameter: str) -> pd.DataFrame:
    """Mean over seeds per setting of one model type of a training study, with ``seeds``."""
    table = need(table, study, f"results/{study}/summary.tsv")
    rows = matching_rows(table, f"results/{study}/summary.tsv", **model_labels(claim))
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
        note=f"angle SD {joined(settings['angle_sd'], '.1f')} at sigma {joined(settings.index, 'g')}",
    )  # fmt: skip


def init_auroc_drop(claim: Claim, tables: RunTables) -> Measurement:
    """Best mean test AUROC over σ minus the mean AUROC at the largest σ (Fig 4c)."""
    settings = _settings(claim, tables.init_study, "init_study", "init_stddev")
    if len(settings) < 2:
        raise NotRun("one initialisation scale: no drop to measure")
    auroc = settings["classification_auroc"]
    return Measurement(
        (float(auroc.max() - auroc.iloc[-1]),), int(settings["seeds"].min()),
        note=f"AUROC {joined(auroc, '.3f')} at sigma {joined(settings.index, 'g')}",
    )  # fmt: skip


def _penalty(claim: Claim, tables: RunTables) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """(all settings, the λ = 0 reference, the settings with λ > 0) of the angle-penalty study."""
    settings = _settings(claim, tables.angle_penalty_study, "angle_penalty_study", "angle_penalty")
    if 0.0 not in settings.index:
        raise NotRun(f"no lambda = 0 reference for {claim.model}, in the study or the main study")
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
    """Median over the synthetic models of training seconds per epoch, each trained alone on a GPU (an
    informational row: the paper's GPU is a P100). A member of the ensemble engine has no time of its
    own (its group's divided by its size is not one model's epoch), so such a run is not measured."""
    if tables.accelerator != "gpu":
        raise NotRun("a CPU run: the epoch-time claim is about a GPU")
    models = need(tables.models, "synthetic", "the synthetic models' metrics.json")
    alone = [model for model in models if model.get("engine", "single") == "single"]
    if not alone:
        raise NotRun("no synthetic model trained alone in this run (the ensemble engine trains groups)")
    seconds = [float(model["seconds"]) / int(model["epochs_run"]) for model in alone]
    return Measurement((float(np.median(seconds)),), len(seconds), note="models trained one at a time")


def basset_angles(claim: Claim, tables: RunTables) -> Measurement:
    """App. Fig 11: angles of the Basset model, out of reach (see the message)."""
    raise NotReachable(
        "needs Basset trained on DNase-seq of 164 cell types (hundreds of GB from ENCODE and Roadmap) or "
        "the authors' trained Basset weights; neither is reachable from a machine that reaches package "
        "registries only, and the study's synthetic and TF models do not stand in for a multi-task model"
    )


def p100_epoch_seconds(claim: Claim, tables: RunTables) -> Measurement:
    """Appendix A's P100 epoch time, out of reach (see the message)."""
    raise NotReachable(
        "needs an NVIDIA P100; the GPU this project is lent is an H100 or H200, whose epoch time is the "
        "informational row epoch_seconds_gpu"
    )


# quantity -> (the study it needs, how it is measured)
QUANTITIES: dict[str, tuple[str, Callable[[Claim, RunTables], Measurement]]] = {
    "correction_gain": ("synthetic", correction_gain),
    "activation_gain": ("synthetic", activation_gain),
    "model_pair_gain": ("synthetic", model_pair_gain),
    "angle_sd_motif": ("synthetic", _angle_sd(0, "motif")),
    "angle_sd_background": ("synthetic", _angle_sd(1, "background")),
    "angle_sd_gap": ("synthetic", angle_sd_gap),
    "improvement_angle_trend": (
        "synthetic",
        _per_seed(
            "trend", "rank correlation of |angle| with the correction's improvement at motif positions"
        ),
    ),
    "background_large_angle_shrink": (
        "synthetic",
        _per_seed("shrink", f"drop of |grad x input| at background positions above {LARGE_ANGLE:g} degrees"),
    ),
    "angle_sd_motif_vs_null": ("synthetic", _angle_sd_against_null(0, "motif")),
    "angle_sd_background_vs_null": ("synthetic", _angle_sd_against_null(1, "background")),
    "large_angle_percent": ("synthetic", large_angle_percent),
    "large_angle_prevalence": ("synthetic", large_angle_prevalence),
    "classification_auroc": ("synthetic", classification_auroc),
    "invivo_reduction_trend": ("invivo", invivo_reduction_trend),
    "invivo_overall_reduction": ("invivo", invivo_overall_reduction),
    "invivo_reduction_beyond_geometry": ("invivo", invivo_reduction_beyond_geometry),
    "invivo_ensemble_narrowing": ("invivo", invivo_ensemble_narrowing),
    "invivo_large_angle_gap": ("invivo", invivo_large_angle_gap),
    "init_angle_trend": ("init_study", init_angle_trend),
    "init_auroc_drop": ("init_study", init_auroc_drop),
    "penalty_min_angle": ("angle_penalty_study", penalty_min_angle),
    "penalty_auroc_kept": ("angle_penalty_study", penalty_auroc_kept),
    "penalty_auroc_too_large": ("angle_penalty_study", penalty_auroc_too_large),
    "penalty_interpretability_bump": ("angle_penalty_study", penalty_interpretability_bump),
    "epoch_seconds": ("gpu", epoch_seconds),
    "basset_angles": ("invivo", basset_angles),
    "p100_epoch_seconds": ("gpu", p100_epoch_seconds),
}


def measure(claim: Claim, tables: RunTables) -> Measurement:
    """The run's value for one claim: its quantity's function of :data:`QUANTITIES`.

    Parameters
    ----------
    claim : Claim
        The claim; its ``quantity`` is a key of :data:`QUANTITIES`.
    tables : RunTables
        The run's tables.

    Returns
    -------
    Measurement
        The value (one component, or one per angle threshold), its ``n`` and a direction's samples.

    Raises
    ------
    NotRun
        When the claim cannot be measured in this run (its study is off, or its model type or table is
        absent).
    """
    return QUANTITIES[claim.quantity][1](claim, tables)
