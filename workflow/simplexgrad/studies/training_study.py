"""The training studies on the synthetic data (initialisation scale, angle penalty): one row per model
and one per model type and setting, from the per-model rows of ``simplexgrad evaluate --out-model``."""

from __future__ import annotations

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.training_study"):
    import pandas as pd

    from simplexgrad.studies.evaluation import STUDIED_OPTIONS
    from simplexgrad.tables import read_tables, write_table

__all__ = ["settings_table", "summarize_study"]


def settings_table(models: pd.DataFrame, parameter: str) -> pd.DataFrame:
    """Mean and standard deviation over seeds of every numeric column, per model type and setting.

    Parameters
    ----------
    models : pandas.DataFrame
        One row per model with ``architecture``, ``activation``, ``seed``, ``parameter`` and numeric columns.
    parameter : str
        The studied option (e.g. ``init_stddev``).

    Returns
    -------
    pandas.DataFrame
        One row per (architecture, activation, parameter): ``seeds``, ``<column>_mean`` /
        ``<column>_sd`` for each numeric column, and, where the rows have ``reached_epoch_limit``,
        ``epoch_limit`` and ``models_at_epoch_limit`` (how many stopped at the limit, not early).
    """
    keys = ["architecture", "activation", parameter]
    values = [
        column
        for column in models.select_dtypes("number").columns
        if column not in (*keys, "seed", "epoch_limit", *STUDIED_OPTIONS)
    ]
    grouped = models.groupby(keys, sort=True)
    table = grouped[values].agg(["mean", "std"])
    table.columns = [
        f"{column}_{'sd' if statistic == 'std' else 'mean'}" for column, statistic in table.columns
    ]
    table = table.reset_index().assign(seeds=grouped.size().to_numpy())
    if "reached_epoch_limit" in models:
        table["epoch_limit"] = grouped["epoch_limit"].max().to_numpy()
        table["models_at_epoch_limit"] = grouped["reached_epoch_limit"].sum().astype(int).to_numpy()
    return table


def summarize_study(
    tables: list[str], parameter: str, out: str, out_settings: str, reference: list[str] | None = None
) -> None:
    """One row per model of a training study, and one per model type and setting (mean ± sd over seeds).

    Parameters
    ----------
    tables : list of str
        Per-model rows (``evaluate --out-model``) of the study's models.
    parameter : str
        The studied option: init_stddev or angle_penalty.
    out : str
        TSV to write: every model.
    out_settings : str
        TSV to write: per model type and setting.
    reference : list of str or None
        Rows of models trained without the option (the main study), added with the option at 0. They must
        have been trained with the study's epoch limit, and the study must not train its own reference
        (the option at 0): either would confound the comparison.
    """
    if parameter not in STUDIED_OPTIONS:
        raise ValueError(f"parameter must be one of {list(STUDIED_OPTIONS)}; got {parameter!r}")
    models = read_tables(tables)
    if reference:
        baseline = read_tables(reference)
        _check_reference(models, baseline, parameter, tables[0], reference[0])
        models = pd.concat([baseline.assign(**{parameter: 0.0}), models], ignore_index=True)
    models = models.sort_values(["architecture", "activation", parameter, "seed"], kind="stable")
    write_table(models, out)
    write_table(settings_table(models, parameter), out_settings)


def _check_reference(models: pd.DataFrame, reference: pd.DataFrame, parameter: str, table: str, other: str):
    """Refuse a reference that the study's models cannot be compared with, naming a file of each."""
    if (models[parameter] == 0).any():
        raise ValueError(
            f"{table}: the study trains its own {parameter} = 0 models; {other} would be a second"
        )
    limits = [set(rows["epoch_limit"]) for rows in (models, reference) if "epoch_limit" in rows]
    if len(limits) == 2 and limits[0] != limits[1]:
        raise ValueError(
            f"{other}: the reference was trained for up to {sorted(limits[1])} epochs, the study's models of "
            f"{table} for up to {sorted(limits[0])}: train the reference with the study ({parameter} = 0)"
        )
