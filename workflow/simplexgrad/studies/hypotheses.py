"""The paper's hypotheses, each judged once over the claims that are its evidence.

The claims file lists measurements, many of them of one hypothesis ("the correction improves the maps" is
48 rows: model types x methods x metrics of the same maps). Counting rows would count that hypothesis 48
times, so the scorecard also judges each hypothesis as a whole, with an *intersection-union test*: the
hypothesis says that every one of its rows holds, and it is reproduced when every row measured in the run
holds at its own tolerance (a one-sided test at alpha for a direction). No correction for the number of
rows is needed for that test (each row must pass at alpha; the combined p-value is the largest of the
rows'), and it makes no assumption about how the rows, computed from the same maps, depend on each other.
The null baseline's rows are judged the same way.

Rows that the null passes by construction are informational and left out of every hypothesis: the text's
ranges of large-angle percentages and the angle spreads at motif and background positions, which
isotropic gradients fall in (32.5° SD, 39 / 18 / 6 % above 30 / 45 / 60°; so does "pervasive in most
sequences"), the GPU epoch time, and the claims no run of this project can reach.
"""

from __future__ import annotations

import math

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.hypotheses"):
    import pandas as pd

__all__ = ["HYPOTHESES", "INFORMATIONAL", "hypothesis_of", "hypothesis_table"]

# id -> (what the paper argues, the claim quantities that are its evidence)
HYPOTHESES: dict[str, tuple[str, tuple[str, ...]]] = {
    "models_learn": ("the models learn the task as well as the authors' did", ("classification_auroc",)),
    "correction_improves": (
        "the correction improves attribution maps, for every model type, method and metric",
        ("correction_gain",),
    ),
    "correction_acts_at_large_angles": (
        "the correction changes the maps most where gradients lean far off the simplex: its improvement "
        "grows with the angle at motif positions, and background scores at large angles shrink",
        ("improvement_angle_trend", "background_large_angle_shrink"),
    ),
    "exponential_interpretable": (
        "exponential first layers give more interpretable maps than ReLU ones",
        ("activation_gain",),
    ),
    "auroc_is_not_interpretability": (
        "classification AUROC does not track interpretability: CNN-shallow-exp gives more interpretable "
        "maps than CNN-deep-relu at a similar AUROC",
        ("model_pair_gain",),
    ),
    "background_wider": (
        "gradients lean off the simplex more at background positions than at motif positions, and less "
        "at motif positions than an untrained model's",
        ("angle_sd_gap", "angle_sd_motif_vs_null", "angle_sd_background_vs_null"),
    ),
    "large_angles_common": (
        "large angles are common in trained models, in vivo as in the synthetic study",
        ("large_angle_percent", "invivo_large_angle_gap"),
    ),
    "ensembles_disagree": (
        "ensemble members disagree most where angles are large, and the correction narrows them",
        (
            "invivo_reduction_trend",
            "invivo_overall_reduction",
            "invivo_reduction_beyond_geometry",
            "invivo_ensemble_narrowing",
        ),
    ),
    "initialisation_widens": (
        "a wider initialisation widens the angles and costs classification AUROC",
        ("init_angle_trend", "init_auroc_drop"),
    ),
    "penalty_flattens": (
        "an angle penalty drives the angles to about 0 at a kept AUROC",
        (
            "penalty_min_angle",
            "penalty_auroc_kept",
            "penalty_auroc_too_large",
            "penalty_interpretability_bump",
        ),
    ),
}
# Quantities (and comparisons) reported for information only: the null passes them by construction.
INFORMATIONAL = {
    "angle_sd_motif", "angle_sd_background", "large_angle_prevalence", "epoch_seconds", "basset_angles",
    "p100_epoch_seconds",
}  # fmt: skip
INFORMATIONAL_COMPARISONS = {"in_range"}
COLUMNS = (
    "hypothesis", "statement", "rows", "measured", "held", "p", "verdict", "null_verdict", "evidence", "test",
)  # fmt: skip


def hypothesis_of(quantity: str, comparison: str) -> str:
    """The id of the hypothesis a claim is evidence of (:data:`HYPOTHESES`), or "" for an informational
    claim (a quantity of :data:`INFORMATIONAL` or a range of the paper's text)."""
    if quantity in INFORMATIONAL or comparison in INFORMATIONAL_COMPARISONS:
        return ""
    for name, (_, quantities) in HYPOTHESES.items():
        if quantity in quantities:
            return name
    raise ValueError(f"quantity {quantity!r} is evidence of no hypothesis and not informational")


def _combined(verdicts: pd.Series, held: str, not_run: str) -> tuple[str, int, int]:
    """(verdict, rows measured, rows that hold) of the intersection-union test over row verdicts."""
    measured = verdicts[verdicts != not_run]
    holding = int((measured == held).sum())
    if measured.empty:
        return not_run, 0, 0
    return (held if holding == len(measured) else "not reproduced"), len(measured), holding


def hypothesis_table(scorecard: pd.DataFrame, reproduced: str, not_run: str, evidence) -> pd.DataFrame:
    """One row per hypothesis of :data:`HYPOTHESES` from a scorecard's rows (their ``hypothesis``,
    ``verdict``, ``null_verdict`` and ``p`` columns).

    Parameters
    ----------
    scorecard : pandas.DataFrame
        The scorecard (one row per claim).
    reproduced, not_run : str
        The scorecard's verdicts for a claim that holds and one not measured.
    evidence : callable
        ``(verdict, null_verdict) -> str``: what a reproduced hypothesis shows against the null.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: the rows of each hypothesis, how many were measured and hold, the
        combined p (the largest one-sided p of its tested rows; NaN without a tested row), the verdict of
        the intersection-union test, the null's verdict by the same test, and the evidence.
    """
    table = []
    for name, (statement, _) in HYPOTHESES.items():
        rows = scorecard[scorecard["hypothesis"] == name]
        verdict, measured, holding = _combined(rows["verdict"], reproduced, not_run)
        null_verdict, _, _ = _combined(rows["null_verdict"], reproduced, not_run)
        tested = pd.to_numeric(rows.loc[rows["verdict"] != not_run, "p"], errors="coerce").dropna()
        p = float(tested.max()) if len(tested) else math.nan
        test = (
            f"intersection-union: every measured row holds at its tolerance ({holding} of {measured} do)"
            + (f"; combined p = max of {len(tested)} one-sided p = {p:.2g}" if len(tested) else "")
        )
        table.append({
            "hypothesis": name, "statement": statement, "rows": len(rows), "measured": measured,
            "held": holding, "p": p, "verdict": verdict, "null_verdict": null_verdict,
            "evidence": evidence(verdict, null_verdict), "test": test if measured else "",
        })  # fmt: skip
    return pd.DataFrame(table, columns=list(COLUMNS))
