"""Tidy TSV tables: reading, writing (atomically, 6 significant digits), collecting, and the label
columns (``NAME=VALUE``) that identify a run in every table of the study."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.tables"):
    import pandas as pd

    from simplexgrad.io import atomic_output

__all__ = ["read_table", "read_tables", "write_table", "collect_tables", "parse_labels", "with_labels"]


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """A tidy TSV with a header, as :func:`write_table` writes it."""
    return pd.read_csv(path, sep="\t")


def read_tables(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Several tidy TSVs as one table, rows in the order of ``paths``."""
    return pd.concat([read_table(path) for path in paths], ignore_index=True)


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a tidy TSV atomically (6 significant digits)."""
    with atomic_output(path) as temporary:
        table.to_csv(temporary, sep="\t", index=False, float_format="%.6g")


def collect_tables(tables: list[str], out: str) -> None:
    """Concatenate tidy TSV tables that have the same columns.

    Parameters
    ----------
    tables : list of str
        TSV files to concatenate, in order.
    out : str
        TSV to write.
    """
    frames = [read_table(path) for path in tables]
    columns = list(frames[0].columns)
    for path, frame in zip(tables, frames):
        if list(frame.columns) != columns:
            raise ValueError(f"{path} has columns {list(frame.columns)}, expected {columns}")
    write_table(pd.concat(frames, ignore_index=True), out)


def parse_labels(pairs: Sequence[str]) -> dict[str, str]:
    """``['architecture=cnn_deep', 'seed=3']`` → ``{'architecture': 'cnn_deep', 'seed': '3'}``."""
    labels = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"a label must be NAME=VALUE; got {pair!r}")
        labels[name] = value
    return labels


def with_labels(table: pd.DataFrame, labels: Mapping[str, object]) -> pd.DataFrame:
    """``table`` with one constant column per label in front, in the labels' order (in place)."""
    for position, (name, value) in enumerate(labels.items()):
        table.insert(position, name, value)
    return table
