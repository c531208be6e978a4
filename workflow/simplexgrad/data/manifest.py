"""The ENCODE manifest (``config/encode.tsv``): one row per TF, one DNase-seq row and optionally one
``reference genome`` row, with the portal's experiment, file, URL and md5 of each.

Its format lives here once: :mod:`simplexgrad.data.portal` fills a manifest from the ENCODE portal,
:mod:`simplexgrad.data.download` fetches a row's file, :mod:`simplexgrad.data.encode` builds a TF's
dataset from its rows, and the workflow reads the TF names and assays from it.
"""

from __future__ import annotations

import os

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.data.manifest"):
    import pandas as pd

    from simplexgrad.io import atomic_output

__all__ = [
    "MANIFEST_COLUMNS",
    "ASSAYS",
    "TF_ASSAY",
    "DNASE_ASSAY",
    "GENOME_ASSAY",
    "read_manifest",
    "write_manifest",
    "manifest_row",
    "genome_row",
]

MANIFEST_COLUMNS = (
    "name",
    "target",
    "target_label",
    "assay",
    "output_type",
    "experiment",
    "file",
    "url",
    "md5",
    "assembly",
)
TF_ASSAY = "TF ChIP-seq"
DNASE_ASSAY = "DNase-seq"
GENOME_ASSAY = "reference genome"
ASSAYS = (TF_ASSAY, DNASE_ASSAY, GENOME_ASSAY)
_OPTIONAL_COLUMNS = ("target_label",)  # manifests written before it existed still read
_REQUIRED_CELLS = ("name", "assay", "assembly")


def _rows(table: pd.DataFrame, mask: pd.Series) -> list[int]:
    """1-based line numbers of the TSV (the header is line 1)."""
    return list(table.index[mask] + 2)


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check a manifest TSV.

    Parameters
    ----------
    path
        A TSV with the columns :data:`MANIFEST_COLUMNS` (``target_label`` may be absent). Cells that the
        portal fills (experiment, file, url, md5, target_label) may be empty; a TF row's
        ``output_type`` may be empty (the preference list then applies), other rows need theirs.

    Returns
    -------
    pandas.DataFrame
        All cells as stripped strings, columns in :data:`MANIFEST_COLUMNS` order.

    Raises
    ------
    ValueError
        Naming the file and the row(s) for a missing column, an empty required cell, a duplicate name,
        an unknown assay, not exactly one DNase-seq row, more than one genome row, a genome row without
        its file, or an md5 that is not 32 hex digits.
    """
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    table = table.assign(**{column: "" for column in _OPTIONAL_COLUMNS if column not in table.columns})
    missing = [column for column in MANIFEST_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: manifest lacks column(s) {missing}; expected {list(MANIFEST_COLUMNS)}")
    table = table[list(MANIFEST_COLUMNS)].apply(lambda column: column.str.strip())
    for column in _REQUIRED_CELLS:
        empty = table[column] == ""
        if empty.any():
            raise ValueError(f"{path}: column {column!r} is empty in line(s) {_rows(table, empty)}")
    duplicated = table["name"][table["name"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{path}: duplicate name(s) {sorted(set(duplicated))}")
    unknown = sorted(set(table["assay"]) - set(ASSAYS))
    if unknown:
        raise ValueError(f"{path}: unknown assay(s) {unknown}; expected one of {list(ASSAYS)}")
    no_type = (table["assay"] != TF_ASSAY) & (table["output_type"] == "")
    if no_type.any():
        raise ValueError(
            f"{path}: output_type is empty in line(s) {_rows(table, no_type)} (only TF rows may omit it)"
        )
    if (table["assay"] == DNASE_ASSAY).sum() != 1:
        raise ValueError(f"{path}: exactly one {DNASE_ASSAY} row is needed for the negatives")
    genome = table["assay"] == GENOME_ASSAY
    if genome.sum() > 1:
        raise ValueError(f"{path}: at most one {GENOME_ASSAY!r} row; lines {_rows(table, genome)} are")
    if (genome & (table["file"] == "")).any():
        raise ValueError(f"{path}: the {GENOME_ASSAY!r} row needs its file (the portal's file name)")
    bad_md5 = (table["md5"] != "") & ~table["md5"].str.fullmatch(r"[0-9a-fA-F]{32}")
    if bad_md5.any():
        raise ValueError(f"{path}: md5 of {list(table['name'][bad_md5])} is not 32 hex digits")
    return table


def write_manifest(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a manifest TSV atomically, columns in :data:`MANIFEST_COLUMNS` order."""
    with atomic_output(path) as temporary:
        table[list(MANIFEST_COLUMNS)].to_csv(temporary, sep="\t", index=False)


def manifest_row(table: pd.DataFrame, name: str) -> pd.Series:
    """The row called ``name``; a clear error when it is absent or has no URL yet."""
    rows = table[table["name"] == name]
    if rows.empty:
        raise ValueError(f"no manifest row named {name!r}; names: {list(table['name'])}")
    row = rows.iloc[0]
    if not row["url"]:
        raise ValueError(
            f"manifest row {name!r} has no URL: resolve it online with "
            "`simplexgrad encode-manifest --table config/encode.tsv --out config/encode.tsv`"
        )
    return row


def genome_row(table: pd.DataFrame) -> pd.Series | None:
    """The ``reference genome`` row (URL resolved), or ``None`` when the manifest has none."""
    rows = table[table["assay"] == GENOME_ASSAY]
    return None if rows.empty else manifest_row(table, rows["name"].iloc[0])
