"""The paper's claims against one run: a verdict per claim of ``resources/paper_claims.tsv``.

Each claim names a study, a quantity (a key of :data:`simplexgrad.studies.claim_quantities.QUANTITIES`,
which measures it from the run's tables), the paper's value or direction, a comparison and a tolerance. A
claim whose study is not part of the run, or whose model type, method or table is absent, is *not run at
this configuration* — listed, never dropped.

Each claim is also judged on a null baseline measured in the same run, where one is given: the same
architectures, seeds and initialisation, never trained (``simplexgrad untrained``), attributed and scored
by the same rules. A claim that the null passes too *does not discriminate*: it would hold for a model that
learned nothing, so it is reported apart, and the headline counts only the claims we pass and the null
fails.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.scorecard"):
    import pandas as pd
    from scipy.stats import mannwhitneyu, wilcoxon

    from simplexgrad import io
    from simplexgrad.studies.claim_quantities import QUANTITIES, measure
    from simplexgrad.studies.claims import STUDIES, Claim, Measurement, NotReachable, NotRun, RunTables
    from simplexgrad.studies.hypotheses import hypothesis_of, hypothesis_table
    from simplexgrad.tables import read_table

__all__ = [
    "VERDICTS",
    "EVIDENCE",
    "COMPARISONS",
    "MIN_TEST_SIZE",
    "read_claims",
    "judge",
    "evidence_of",
    "score",
    "hypotheses",
    "headline",
    "scorecard_markdown",
    "scorecard_file",
]

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run at this configuration"
NOT_REACHABLE = "not reachable here"  # no run of this project can measure it: its data, model or hardware
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_RUN, NOT_REACHABLE)
# What a reproduced claim shows against the null baseline of the same run.
DISCRIMINATES, DOES_NOT_DISCRIMINATE, NO_NULL = "discriminates", "does not discriminate", "no null"
EVIDENCE = (DISCRIMINATES, DOES_NOT_DISCRIMINATE, NO_NULL)
COMPARISONS = ("within", "in_range", "at_least", "at_most", "greater", "less")
CLAIM_COLUMNS = (
    "claim", "source", "study", "quantity", "model", "method", "metric", "reference", "statement", "paper",
    "comparison", "tolerance", "tolerance_source",
)  # fmt: skip
SCORECARD_COLUMNS = (
    "claim", "source", "study", "statement", "reference", "paper", "comparison", "tolerance", "ours", "n",
    "test", "p", "verdict", "null", "null_verdict", "evidence", "hypothesis", "note",
)  # fmt: skip
MIN_TEST_SIZE = 5
MAP_PATH = re.compile(r"(?P<model>[a-z0-9_]+_(?:relu|exponential))/seed(?P<seed>\d+)/saliency\.npz$")


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
    verdict, test, _ = _judged(claim, measurement)
    return verdict, test


def _judged(claim: Claim, measurement: Measurement) -> tuple[str, str, float]:
    """(verdict, how it was decided, the one-sided test's p or NaN) of a measured claim."""
    p = math.nan
    value = np.asarray(measurement.value, dtype=float)
    tolerance = np.asarray(_numbers(claim.tolerance, claim.claim), dtype=float)
    if np.isnan(value).any():
        return NOT_REPRODUCED, "no value", p
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
    return (REPRODUCED if ok else NOT_REPRODUCED), test, p


def _format(value: tuple[float, ...]) -> str:
    return "/".join("nan" if math.isnan(v) else f"{v:.4g}" for v in value)


def _null_verdict(claim: Claim, null: RunTables | None) -> tuple[str, str]:
    """(the null's value, its verdict) of one claim; ("", NOT_RUN) where the run has no null for it."""
    if null is None:
        return "", NOT_RUN
    try:
        measurement = measure(claim, null)
    except NotRun:
        return "", NOT_RUN
    return _format(measurement.value), judge(claim, measurement)[0]


def evidence_of(verdict: str, null_verdict: str) -> str:
    """What a reproduced claim shows against the null (:data:`EVIDENCE`); "" for any other verdict."""
    if verdict != REPRODUCED:
        return ""
    if null_verdict == NOT_RUN:
        return NO_NULL
    return DOES_NOT_DISCRIMINATE if null_verdict == REPRODUCED else DISCRIMINATES


def score(claims: Sequence[Claim], tables: RunTables, null: RunTables | None = None) -> pd.DataFrame:
    """The scorecard: one row per claim (columns :data:`SCORECARD_COLUMNS`), in the claims' order.

    Parameters
    ----------
    claims : sequence of Claim
    tables : RunTables
        The run's tables.
    null : RunTables or None
        The null baseline's tables (untrained models of the same run); each claim is judged on them
        too, where they can measure it (``null``, ``null_verdict``, ``evidence``).
    """
    rows = []
    for claim in claims:
        row = {key: getattr(claim, key) for key in SCORECARD_COLUMNS if hasattr(claim, key)}
        null_value, null_verdict = _null_verdict(claim, null)
        baseline = {
            "null": null_value,
            "null_verdict": null_verdict,
            "hypothesis": hypothesis_of(claim.quantity, claim.comparison),
        }
        try:
            measurement = measure(claim, tables)
        except NotRun as reason:
            verdict = NOT_REACHABLE if isinstance(reason, NotReachable) else NOT_RUN
            rows.append({**row, "ours": "", "n": 0, "test": "", "p": math.nan, "verdict": verdict, **baseline,
                         "evidence": "", "note": str(reason)})  # fmt: skip
            continue
        verdict, test, p = _judged(claim, measurement)
        rows.append(
            {
                **row,
                "ours": _format(measurement.value),
                "n": measurement.n,
                "test": test,
                "p": p,
                "verdict": verdict,
                **baseline,
                "evidence": evidence_of(verdict, null_verdict),
                "note": measurement.note,
            }
        )
    return pd.DataFrame(rows, columns=list(SCORECARD_COLUMNS))


def hypotheses(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's hypotheses judged over a scorecard's rows (:func:`simplexgrad.studies.hypotheses.
    hypothesis_table`): one row each, with the null's verdict and the evidence."""
    return hypothesis_table(table, REPRODUCED, NOT_RUN, evidence_of)


def headline(table: pd.DataFrame) -> str:
    """The verdict counts of the hypotheses and of the claims, those we pass and the null fails first:
    the only ones that are evidence that the run's models learned what the paper says."""
    judged = hypotheses(table)
    held = judged["evidence"].value_counts()
    tested = judged[judged["verdict"] != NOT_RUN]
    evidence = table["evidence"].value_counts()
    verdicts = table["verdict"].value_counts()
    return (
        f"hypotheses: **{int(held.get(DISCRIMINATES, 0))}** of {len(tested)} tested hold and the untrained "
        f"null fails them, {int(held.get(NO_NULL, 0))} hold with no null, "
        f"{int(held.get(DOES_NOT_DISCRIMINATE, 0))} hold for the null too; claims: "
        f"**{int(evidence.get(DISCRIMINATES, 0))}** reproduced that the untrained null fails, "
        f"{int(evidence.get(NO_NULL, 0))} reproduced with no null in this run, "
        f"{int(evidence.get(DOES_NOT_DISCRIMINATE, 0))} reproduced that the null passes too (they do not "
        f"discriminate), {int(verdicts.get(NOT_REPRODUCED, 0))} not reproduced, "
        f"{int(verdicts.get(NOT_RUN, 0))} not run at this configuration"
        + (f", {int(verdicts[NOT_REACHABLE])} not reachable here" if verdicts.get(NOT_REACHABLE) else "")
    )


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def scorecard_markdown(table: pd.DataFrame, title: str = "") -> str:
    """A readable page of a scorecard: the headline, one table per study (claims that do not discriminate
    left out), then the claims that do not discriminate."""
    lines = [
        f"# Scorecard{': ' + title if title else ''}",
        "",
        "The paper's checkable claims (`resources/paper_claims.tsv`) against this run: "
        + headline(table)
        + ". The null is the run's own architectures and seeds, never trained, scored by the same rules. "
        f"Directions are decided by the sign of the mean below {MIN_TEST_SIZE} seeds (or TFs) and by a "
        f"one-sided test at alpha = the claim's tolerance from {MIN_TEST_SIZE} on; tolerances and where "
        "they come from are in the claims file.",
    ]
    lines += ["", "## Hypotheses", "", "Each judged once over its claims (`hypothesis` column of the rows "
              "below) by an intersection-union test: it holds when every row measured in the run holds "
              "at its own tolerance; the combined p is the largest of its rows' one-sided p. Informational "
              "rows (the text's ranges, the angle spreads, the GPU epoch time) belong to none.", "",
              "| hypothesis | rows measured | hold | combined p | verdict | null | evidence |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in hypotheses(table).itertuples():
        p = "" if math.isnan(row.p) else f"{row.p:.2g}"
        null = row.null_verdict if row.null_verdict != NOT_RUN else "not measured"
        cells = (row.statement, f"{row.measured} of {row.rows}", row.held, p, row.verdict, null, row.evidence)
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    apart = table["evidence"] == DOES_NOT_DISCRIMINATE
    sections = [(name, table[(table["study"] == study) & ~apart]) for study, name in STUDIES.items()]
    sections.append(
        ("Reproduced, but the untrained null passes too: these do not discriminate", table[apart])
    )
    header = "| claim | source | paper | ours | n | verdict | null | test or reason |"
    for name, rows in sections:
        if rows.empty:
            continue
        lines += ["", f"## {name}", "", header, "|---|---|---|---|---|---|---|---|"]
        for row in rows.itertuples():
            verdict = row.verdict if row.verdict != NOT_REPRODUCED else f"**{row.verdict}**"
            null = f"{row.null} ({row.null_verdict})" if row.null_verdict != NOT_RUN else "not measured"
            how = row.test if row.verdict not in (NOT_RUN, NOT_REACHABLE) else row.note
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
                        null,
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
    null_metrics: str | None = None,
    null_angles: str | None = None,
    null_attributions: list[str] | None = None,
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
    null_metrics : str or None
        The null baseline's metrics table (results/null/metrics.tsv): untrained models of the synthetic
        study's architectures and seeds.
    null_angles : str or None
        The null baseline's per-sequence angle table (results/null/angles.tsv).
    null_attributions : list of str or None
        The null baseline's saliency files (<model>/seed<n>/saliency.npz) of the same dataset.
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
    given = (null_metrics, null_angles, null_attributions)
    null = (
        RunTables(
            metrics=_read_table(null_metrics),
            angles=_read_table(null_angles),
            maps=_map_files(null_attributions) if null_attributions else None,
            data=data,
        )
        if any(given)
        else None
    )
    if null is not None:  # claims measured against the null hold for the null itself never
        tables.null = null.null = null
    table = score(parsed, tables, null)
    page = scorecard_markdown(table, title)
    with io.atomic_output(out) as temporary_tsv, io.atomic_output(out_markdown) as temporary_md:
        table.to_csv(temporary_tsv, sep="\t", index=False)
        temporary_md.write_text(page, encoding="utf-8")
