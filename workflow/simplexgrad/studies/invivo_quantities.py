"""What an in vivo run measures of the paper's claims (Fig 3e, §5.4, App. Figs 9, 10 and 13): the
ensemble-difference reduction by angle and overall, against the geometric baseline, the narrowing of the
ensemble map's angles and the large-angle gap to the synthetic study. Each function takes a claim and the
run's tables and returns a :class:`~simplexgrad.studies.claims.Measurement`, as every quantity of
:data:`simplexgrad.studies.claim_quantities.QUANTITIES` does. This module loads no deep-learning framework.
"""

from __future__ import annotations

import math

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.invivo_quantities"):
    from scipy.stats import spearmanr

    from simplexgrad.studies.claims import (
        Claim,
        Measurement,
        NotRun,
        RunTables,
        joined,
        matching_rows,
        model_labels,
        need,
        percent_columns,
    )

__all__ = [
    "MIN_BIN_POSITIONS",
    "invivo_reduction_trend",
    "invivo_overall_reduction",
    "invivo_reduction_beyond_geometry",
    "invivo_ensemble_narrowing",
    "invivo_large_angle_gap",
]

MIN_BIN_POSITIONS = 10  # angle bins with fewer positions are left out of the Fig 3e trend


def invivo_reduction_trend(claim: Claim, tables: RunTables) -> Measurement:
    """Median over TFs of Spearman's ρ between |angle| (bin centre) and the ensemble-difference reduction
    (Fig 3e, App. Fig 9); bins with fewer than :data:`MIN_BIN_POSITIONS` positions are left out."""
    table = need(tables.invivo_differences, "invivo", "results/invivo/ensemble_difference.tsv")
    rows = matching_rows(table, "the in vivo ensemble differences", **model_labels(claim))
    rhos = []
    for _, tf in rows.groupby("tf", sort=True):
        tf = tf[(tf["positions"] >= MIN_BIN_POSITIONS) & np.isfinite(tf["reduction_percent"])]
        if len(tf) >= 3:
            centre = np.abs((tf["bin_low"].to_numpy() + tf["bin_high"].to_numpy()) / 2)
            rhos.append(float(spearmanr(centre, tf["reduction_percent"].to_numpy()).statistic))
    rhos = [rho for rho in rhos if not math.isnan(rho)]
    if not rhos:
        return Measurement((math.nan,), 0, note="no TF has 3 angle bins with enough positions")
    return Measurement((float(np.median(rhos)),), len(rhos), note=f"rho per TF: {joined(rhos, '.2f')}")


def _invivo_overall(claim: Claim, tables: RunTables) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per TF (sorted), the position-weighted reduction of the ensemble difference over every angle bin
    and the geometric baseline's (the members' own norm reduction), in percent."""
    table = need(tables.invivo_differences, "invivo", "results/invivo/ensemble_difference.tsv")
    rows = matching_rows(table, "the in vivo ensemble differences", **model_labels(claim))
    missing = {"member_l2", "member_corrected_l2"} - set(rows.columns)
    if missing:
        raise NotRun(f"the in vivo ensemble differences lack {sorted(missing)} (written since 2026-12-04)")
    names, reductions, geometric = [], [], []
    for name, tf in rows.groupby("tf", sort=True):
        tf = tf[tf["positions"] > 0]
        weights = tf["positions"].to_numpy(dtype=float)
        raw, corrected = weights @ tf["raw_l2"].to_numpy(float), weights @ tf["corrected_l2"].to_numpy(float)
        norm = weights @ tf["member_l2"].to_numpy(float)
        corrected_norm = weights @ tf["member_corrected_l2"].to_numpy(float)
        if raw > 0 and norm > 0:
            names.append(str(name))
            reductions.append(100.0 * (raw - corrected) / raw)
            geometric.append(100.0 * (norm - corrected_norm) / norm)
    if not names:
        raise NotRun(f"no TF of {claim.model} has a position with an angle")
    return names, np.asarray(reductions), np.asarray(geometric)


def invivo_overall_reduction(claim: Claim, tables: RunTables) -> Measurement:
    """Per TF, how much closer the members' maps come to the ensemble's after correction, over all
    positions (§5.4: "a noticeable decrease in the L2-norm after the correction")."""
    names, reductions, _ = _invivo_overall(claim, tables)
    return Measurement(
        (float(reductions.mean()),), len(names), differences=reductions,
        note=f"percent per TF: {joined(reductions, '.2f')}",
    )  # fmt: skip


def invivo_reduction_beyond_geometry(claim: Claim, tables: RunTables) -> Measurement:
    """Per TF, the overall reduction minus the geometric baseline: the reduction of the members' own norms,
    ``1 - cos(angle)`` per position, which members that learned nothing in common would show (their mean
    map is about 0). Above it, the members agree on the simplex more than off it (§5.4's reading)."""
    names, reductions, geometric = _invivo_overall(claim, tables)
    differences = reductions - geometric
    return Measurement(
        (float(differences.mean()),), len(names), differences=differences,
        note=f"reduction - geometric baseline per TF: {joined(differences, '.2f')} percentage points",
    )  # fmt: skip


def invivo_ensemble_narrowing(claim: Claim, tables: RunTables) -> Measurement:
    """Per TF, the ensemble map's angle SD minus its members' mean angle SD (App. Figs 9/10)."""
    table = need(tables.invivo_angles, "invivo", "results/invivo/angles.tsv")
    rows = matching_rows(table, "the in vivo angles", **model_labels(claim))
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
    invivo = need(tables.invivo_angles, "invivo", "results/invivo/angles.tsv")
    synthetic = need(tables.angles, "synthetic", "results/synthetic/angles.tsv")
    members = matching_rows(invivo, "the in vivo angles", **model_labels(claim))
    members = members[members["member"].astype(str) != "ensemble"]
    reference = matching_rows(synthetic, "the synthetic angles", **model_labels(claim), method=claim.method)
    columns = percent_columns(members, "results/invivo/angles.tsv")
    percent_columns(reference, "results/synthetic/angles.tsv")
    by_tf = members.groupby("tf")[columns].mean()
    gap = tuple(float(by_tf[c].mean() - reference[c].mean()) for c in columns)
    return Measurement(
        gap, len(by_tf), note=f"in vivo {joined(by_tf.mean(), '.1f', '/')}, synthetic "
        f"{joined(reference[columns].mean(), '.1f', '/')}"
    )  # fmt: skip
