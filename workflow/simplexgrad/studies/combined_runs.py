"""Several runs scored as one record: per claim the verdict of the run that measured it with the most
evidence, and the per-member tables of GPU runs as scorecard inputs.

A study at the paper's scale may run in pieces: the CPU medium run with its null baseline, and GPU runs of
some model types at 50 seeds. :func:`combine_scorecards` keeps each run's scorecard as it is and takes,
per claim, the row of the run that measured it on the most seeds (or TFs, or models); ties go to the run
listed first. A verdict is never pooled across runs (their models differ in seeds, epochs and engine), and
the combined row says which run it comes from (``run``). The null baseline is judged once per claim too:
from the chosen run where it measured one, else from the first run that did (``null_run``), so a GPU run
without untrained models still has its claims checked against the null of a run of the same
architectures.

:func:`member_tables_file` turns the per-member tables of ``benchmarks/gpu_paper_scale.py`` (one row per
model: test AUROC, large-angle percentages, raw and corrected interpretability metrics of its saliency
maps) into the synthetic study's ``metrics.tsv`` and ``angles.tsv``, for ``simplexgrad scorecard``. Their
angle rows are one per model, not per sequence, so the claims that need per-sequence rows or the maps
themselves are not run from them. This module loads no deep-learning framework.
"""

from __future__ import annotations

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.combined_runs"):
    import pandas as pd

    from simplexgrad import io
    from simplexgrad.metrics import METRICS
    from simplexgrad.studies.claims import MODEL, THRESHOLDS
    from simplexgrad.studies.reproduction import read_scorecard
    from simplexgrad.studies.scorecard import (
        NOT_REPRODUCED,
        REPRODUCED,
        SCORECARD_COLUMNS,
        evidence_of,
        scorecard_markdown,
    )
    from simplexgrad.tables import read_table, write_table

__all__ = [
    "RUN_COLUMNS",
    "combine_scorecards",
    "scorecard_combine_file",
    "member_tables_to_run",
    "member_tables_file",
]

RUN_COLUMNS = ("run", "null_run")
MEMBER_COLUMNS = ("model", "seed", "test_auroc") + tuple(f"percent_above_{t}" for t in THRESHOLDS)
MEASURED = (REPRODUCED, NOT_REPRODUCED)


def combine_scorecards(scorecards: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One scorecard from several runs': per claim the row of the run with the largest ``n``.

    Parameters
    ----------
    scorecards : dict
        Run name → its scorecard (columns :data:`~simplexgrad.studies.scorecard.SCORECARD_COLUMNS`), in
        order of preference for ties; every scorecard must list the same claims.

    Returns
    -------
    pandas.DataFrame
        The claims in the first scorecard's order, with the chosen run's columns, the null's columns from
        the chosen run or the first run that measured the null, ``evidence`` judged on those, and
        :data:`RUN_COLUMNS`. A claim no run measured keeps the first run's row (its reason) and run "".
    """
    if not scorecards:
        raise ValueError("no scorecards to combine")
    indexed = {name: table.set_index("claim", drop=False) for name, table in scorecards.items()}
    first_name, first = next(iter(indexed.items()))
    for name, table in indexed.items():
        if set(table.index) != set(first.index) or not table.index.is_unique:
            raise ValueError(f"run {name}: its scorecard lists other claims than run {first_name}'s")
    rows = []
    for claim in first.index:
        candidates = [(name, table.loc[claim]) for name, table in indexed.items()]
        measured = [(name, row) for name, row in candidates if row["verdict"] in MEASURED]
        if measured:
            most = max(int(float(row["n"])) for _, row in measured)
            run, chosen = next((name, row) for name, row in measured if int(float(row["n"])) == most)
        else:
            run, chosen = "", candidates[0][1]
        chosen = chosen.copy()
        with_null = [(name, row) for name, row in candidates if row["null_verdict"] in MEASURED]
        null_run = ""
        if chosen["null_verdict"] in MEASURED:
            null_run = run
        elif with_null:
            null_run, null_row = with_null[0]
            chosen["null"], chosen["null_verdict"] = null_row["null"], null_row["null_verdict"]
        chosen["evidence"] = evidence_of(chosen["verdict"], chosen["null_verdict"])
        rows.append({**{key: chosen[key] for key in SCORECARD_COLUMNS}, "run": run, "null_run": null_run})
    return pd.DataFrame(rows, columns=[*SCORECARD_COLUMNS, *RUN_COLUMNS])


def scorecard_combine_file(
    scorecards: list[str], runs: list[str], out: str, out_markdown: str, title: str = ""
) -> None:
    """Score several runs as one: a combined scorecard TSV and its Markdown page.

    Parameters
    ----------
    scorecards : list of str
        The runs' ``scorecard.tsv`` files, in order of preference for ties.
    runs : list of str
        A short name per scorecard (e.g. ``medium``, ``gpu-2026-11-29``), written in the ``run`` column.
    out : str
        Combined scorecard TSV to write (a scorecard's columns and ``run``, ``null_run``).
    out_markdown : str
        Its Markdown page.
    title : str
        A heading for the page.

    Raises
    ------
    ValueError
        For a different number of names and files, repeated names, a file that is not a scorecard, or
        scorecards of different claims.
    """
    if len(scorecards) != len(runs):
        raise ValueError(f"{len(scorecards)} scorecards but {len(runs)} run names: give one name each")
    if len(set(runs)) != len(runs):
        raise ValueError(f"run names must differ; got {runs}")
    combined = combine_scorecards({name: read_scorecard(path) for name, path in zip(runs, scorecards)})
    combined["p"] = pd.to_numeric(combined["p"], errors="coerce")
    combined["n"] = pd.to_numeric(combined["n"], errors="coerce").fillna(0).astype(int)
    page = scorecard_markdown(combined, title)
    with io.atomic_output(out) as temporary_tsv, io.atomic_output(out_markdown) as temporary_md:
        combined.to_csv(temporary_tsv, sep="\t", index=False)
        temporary_md.write_text(page, encoding="utf-8")


def member_tables_to_run(
    members: pd.DataFrame, method: str = "saliency"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic study's metrics and angle tables from per-member rows.

    Parameters
    ----------
    members : pandas.DataFrame
        One row per model: ``model`` (architecture_activation), ``seed``, ``test_auroc``,
        ``percent_above_30/45/60`` and ``<metric>_raw``, ``<metric>_corrected`` for the metrics of
        :data:`~simplexgrad.metrics.METRICS`.
    method : str
        The attribution method the rows describe.

    Returns
    -------
    tuple of pandas.DataFrame
        ``metrics`` (per model two rows, raw and corrected: labels, ``method``, ``corrected``, the
        metrics and ``classification_auroc``) and ``angles`` (per model one row: labels, ``method`` and
        the percentages; no ``sequence`` column, as the rows are per model).
    """
    needed = [*MEMBER_COLUMNS, *(f"{m}_{state}" for m in METRICS for state in ("raw", "corrected"))]
    missing = [column for column in needed if column not in members.columns]
    if missing:
        raise ValueError(f"member table lacks columns {missing}")
    metrics_rows, angle_rows = [], []
    for row in members.itertuples(index=False):
        match = MODEL.match(str(row.model))
        if not match:
            raise ValueError(f"member table: model {row.model!r} is not architecture_activation")
        labels = {**match.groupdict(), "seed": int(row.seed), "method": method}
        for corrected in (False, True):
            state = "corrected" if corrected else "raw"
            metrics_rows.append(
                {**labels, "corrected": corrected, **{m: getattr(row, f"{m}_{state}") for m in METRICS},
                 "classification_auroc": row.test_auroc}
            )  # fmt: skip
        angle_rows.append(
            {**labels, **{f"percent_above_{t}": getattr(row, f"percent_above_{t}") for t in THRESHOLDS}}
        )
    return pd.DataFrame(metrics_rows), pd.DataFrame(angle_rows)


def member_tables_file(
    members: list[str], out_metrics: str, out_angles: str, method: str = "saliency"
) -> None:
    """Write the synthetic study's ``metrics.tsv`` and ``angles.tsv`` from per-member tables.

    Parameters
    ----------
    members : list of str
        Per-member TSV files (e.g. a GPU record's ``cnn_deep_relu_members.tsv``), one row per model.
    out_metrics : str
        The metrics table to write, for ``simplexgrad scorecard --metrics``.
    out_angles : str
        The angle table to write, for ``simplexgrad scorecard --angles``.
    method : str
        The attribution method of the members' maps.
    """
    tables = []
    for path in members:
        try:
            tables.append(read_table(path))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    combined = pd.concat(tables, ignore_index=True)
    try:
        metrics, angles = member_tables_to_run(combined, method)
    except ValueError as error:
        raise ValueError(f"{', '.join(members)}: {error}") from None
    duplicated = metrics.duplicated(["architecture", "activation", "seed", "corrected"])
    if duplicated.any():
        raise ValueError(f"{', '.join(members)}: a model and seed appear twice")
    write_table(metrics, out_metrics)
    write_table(angles, out_angles)
