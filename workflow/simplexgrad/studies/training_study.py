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
        One row per (architecture, activation, parameter): ``seeds`` and ``<column>_mean`` /
        ``<column>_sd`` for each numeric column.
    """
    keys = ["architecture", "activation", parameter]
    values = [
        column
        for column in models.select_dtypes("number").columns
        if column not in (*keys, "seed", *STUDIED_OPTIONS)
    ]
    grouped = models.groupby(keys, sort=True)
    table = grouped[values].agg(["mean", "std"])
    table.columns = [
        f"{column}_{'sd' if statistic == 'std' else 'mean'}" for column, statistic in table.columns
    ]
    return table.reset_index().assign(seeds=grouped.size().to_numpy())


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
        Rows of models trained without the option (the main study), added with the option at 0.
    """
    if parameter not in STUDIED_OPTIONS:
        raise ValueError(f"parameter must be one of {list(STUDIED_OPTIONS)}; got {parameter!r}")
    models = read_tables(tables)
    if reference:
        baseline = read_tables(reference)
        models = pd.concat([baseline.assign(**{parameter: 0.0}), models], ignore_index=True)
    models = models.sort_values(["architecture", "activation", parameter, "seed"], kind="stable")
    write_table(models, out)
    write_table(settings_table(models, parameter), out_settings)
