"""The in vivo data: ENCODE manifests and balanced ChIP-seq-vs-DNase datasets.

For one TF, positives are ``length``-nt windows centred on its ChIP-seq peaks; negatives are windows
centred on DNase I hypersensitive sites of the same cell type that overlap none of its peaks (BEDTools
``intersect -v``), down-sampled with the seed to the number of positives (or the other way round when
there are fewer negatives). The balanced set is shuffled and split 0.7 / 0.1 / 0.2.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simplexgrad.genome import centred_windows, filter_windows, read_chrom_sizes, read_peaks
from simplexgrad.io import atomic_output, split_rows, write_dataset_file

__all__ = [
    "MANIFEST_COLUMNS",
    "PORTAL",
    "read_manifest",
    "write_manifest",
    "manifest_row",
    "resolve_manifest",
    "non_overlapping",
    "EncodeDataset",
    "build_dataset",
    "write_dataset",
]

log = logging.getLogger(__name__)

PORTAL = "https://www.encodeproject.org"
MANIFEST_COLUMNS = (
    "name",
    "target",
    "assay",
    "output_type",
    "experiment",
    "file",
    "url",
    "md5",
    "assembly",
)
_REQUIRED = ("name", "assay", "output_type", "assembly")
_ASSAY_TITLES = {"TF ChIP-seq": "TF ChIP-seq", "DNase-seq": "DNase-seq"}


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check a manifest TSV (columns :data:`MANIFEST_COLUMNS`; empty cells allowed where the
    portal can fill them). Names must be unique and exactly one row must be a DNase-seq row."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    missing = [column for column in MANIFEST_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: manifest lacks column(s) {missing}; expected {list(MANIFEST_COLUMNS)}")
    table = table[list(MANIFEST_COLUMNS)].apply(lambda column: column.str.strip())
    for column in _REQUIRED:
        empty = table[column] == ""
        if empty.any():
            raise ValueError(f"{path}: column {column!r} is empty for row(s) {list(table.index[empty] + 2)}")
    duplicated = table["name"][table["name"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{path}: duplicate name(s) {sorted(set(duplicated))}")
    unknown = sorted(set(table["assay"]) - set(_ASSAY_TITLES))
    if unknown:
        raise ValueError(f"{path}: unknown assay(s) {unknown}; expected one of {sorted(_ASSAY_TITLES)}")
    if (table["assay"] == "DNase-seq").sum() != 1:
        raise ValueError(f"{path}: exactly one DNase-seq row is needed for the negatives")
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


def _portal_search(portal: str, parameters: Sequence[tuple[str, str]], timeout: float) -> list[dict]:
    query = urllib.parse.urlencode([*parameters, ("format", "json"), ("limit", "all")])
    url = f"{portal.rstrip('/')}/search/?{query}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response).get("@graph", [])
    except urllib.error.HTTPError as error:
        if error.code == 404:  # the portal answers an empty search with 404
            return []
        raise


def _portal_object(portal: str, path: str, timeout: float) -> dict:
    url = f"{portal.rstrip('/')}{path}?format=json"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def _choose(candidates: list[dict], what: str) -> dict:
    """The preferred-default candidate if there is one, else the lowest accession (deterministic)."""
    if not candidates:
        raise LookupError(f"the portal has no {what}")
    ranked = sorted(
        candidates, key=lambda item: (not item.get("preferred_default", False), item["accession"])
    )
    if len(ranked) > 1:
        others = ", ".join(item["accession"] for item in ranked[1:])
        log.warning("%s: chose %s over %s", what, ranked[0]["accession"], others)
    return ranked[0]


def resolve_manifest(
    table: pd.DataFrame,
    portal: str = PORTAL,
    biosample: str = "GM12878",
    refresh: bool = False,
    timeout: float = 60.0,
) -> pd.DataFrame:
    """Fill empty experiment / file / URL / md5 cells from the ENCODE portal's search API.

    Rows that are complete are left alone (no request is made) unless ``refresh`` is true. Experiments
    are found by target label, assay and biosample; files by experiment, output type, ``bed
    narrowPeak`` and assembly, among released files, preferring the portal's default file.

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with the cells filled.
    """
    resolved = table.copy()
    for index, row in table.iterrows():
        complete = all(row[column] for column in ("experiment", "file", "url", "md5"))
        if complete and not refresh:
            continue
        experiment = row["experiment"]
        if not experiment:
            parameters = [
                ("type", "Experiment"),
                ("assay_title", _ASSAY_TITLES[row["assay"]]),
                ("biosample_ontology.term_name", biosample),
                ("status", "released"),
            ]
            if row["target"]:
                parameters.append(("target.label", row["target"]))
            found = _portal_search(portal, parameters, timeout)
            experiment = _choose(found, f"{row['assay']} experiment for {row['name']} in {biosample}")[
                "accession"
            ]
        if row["file"] and not refresh:
            chosen = _portal_object(portal, f"/files/{row['file']}/", timeout)
        else:
            files = _portal_search(
                portal,
                [
                    ("type", "File"),
                    ("dataset", f"/experiments/{experiment}/"),
                    ("output_type", row["output_type"]),
                    ("file_type", "bed narrowPeak"),
                    ("assembly", row["assembly"]),
                    ("status", "released"),
                ],
                timeout,
            )
            chosen = _choose(files, f"{row['output_type']} ({row['assembly']}) file of {experiment}")
        resolved.loc[index, "experiment"] = experiment
        resolved.loc[index, "file"] = chosen["accession"]
        resolved.loc[index, "url"] = urllib.parse.urljoin(
            portal.rstrip("/") + "/", chosen["href"].lstrip("/")
        )
        resolved.loc[index, "md5"] = chosen["md5sum"]
        log.info("%s: %s / %s (md5 %s)", row["name"], experiment, chosen["accession"], chosen["md5sum"])
    return resolved


def non_overlapping(candidates: pd.DataFrame, peaks: pd.DataFrame, tmpdir: str | os.PathLike) -> pd.DataFrame:
    """Rows of ``candidates`` that overlap no interval of ``peaks`` (BEDTools ``intersect -v``).

    pybedtools' temporary files go to a fresh folder inside ``tmpdir``, removed afterwards, so jobs
    running side by side never touch each other's files.
    """
    import pybedtools

    own_tmpdir = tempfile.mkdtemp(prefix="simplexgrad-bedtools-", dir=tmpdir)
    previous = pybedtools.helpers.get_tempdir()
    pybedtools.helpers.set_tempdir(own_tmpdir)
    try:
        keyed = candidates[["chrom", "start", "end"]].assign(row=np.arange(len(candidates)))
        query = pybedtools.BedTool.from_dataframe(keyed)
        subject = pybedtools.BedTool.from_dataframe(peaks[["chrom", "start", "end"]])
        survivors = query.intersect(subject, v=True)
        rows = [int(interval.fields[3]) for interval in survivors]
    finally:
        pybedtools.helpers.set_tempdir(previous)
        shutil.rmtree(own_tmpdir, ignore_errors=True)
    return candidates.iloc[sorted(rows)]


@dataclass(frozen=True)
class EncodeDataset:
    """Splits (``x`` (n, L, 4) uint8, ``y`` (n, 1) float32, ``chrom``, ``start``) and the counts."""

    splits: dict[str, dict[str, np.ndarray]]
    counts: dict[str, int]


def _deduplicated(peaks: pd.DataFrame) -> pd.DataFrame:
    return peaks.drop_duplicates(subset=["chrom", "start", "end"]).sort_values(["chrom", "start", "end"])


def build_dataset(
    peaks_path: str | os.PathLike,
    dnase_path: str | os.PathLike,
    fasta_path: str | os.PathLike,
    length: int = 200,
    centre: str = "midpoint",
    seed: int = 0,
    split_fractions: Sequence[float] = (0.7, 0.1, 0.2),
    tmpdir: str | os.PathLike | None = None,
) -> EncodeDataset:
    """Balanced positives (TF peaks) and negatives (non-overlapping DNase peaks) for one TF.

    Raises
    ------
    ValueError
        For malformed peak files, chromosomes missing from the FASTA, or a TF without usable peaks.
    """
    chrom_sizes = read_chrom_sizes(f"{fasta_path}.fai")
    peaks = read_peaks(peaks_path, "narrowPeak")
    dnase = read_peaks(dnase_path, "narrowPeak")
    unique_peaks = _deduplicated(peaks)
    positives, x_positive = filter_windows(
        centred_windows(unique_peaks, length, centre), fasta_path, chrom_sizes
    )
    if len(positives.windows) == 0:
        raise ValueError(
            f"{peaks_path}: no usable peaks ({len(peaks)} read; {positives.dropped_edge} off a "
            f"chromosome end, {positives.dropped_n} with N)"
        )
    unique_dnase = _deduplicated(dnase)
    open_sites = non_overlapping(unique_dnase, unique_peaks, tmpdir or tempfile.gettempdir())
    negative_windows = centred_windows(open_sites, length, centre)
    # A short DNase site's window can reach into a peak that the site itself does not touch.
    negative_windows = non_overlapping(negative_windows, unique_peaks, tmpdir or tempfile.gettempdir())
    negatives, x_negative = filter_windows(negative_windows, fasta_path, chrom_sizes)
    if len(negatives.windows) == 0:
        raise ValueError(f"{dnase_path}: no DNase site is free of the peaks of {peaks_path}")

    rng = np.random.default_rng(seed)
    num_each = min(len(positives.windows), len(negatives.windows))
    keep_positive = np.sort(rng.choice(len(positives.windows), num_each, replace=False))
    keep_negative = np.sort(rng.choice(len(negatives.windows), num_each, replace=False))
    x = np.concatenate([x_positive[keep_positive], x_negative[keep_negative]])
    y = np.concatenate([np.ones(num_each), np.zeros(num_each)]).astype(np.float32)[:, None]
    windows = pd.concat(
        [positives.windows.iloc[keep_positive], negatives.windows.iloc[keep_negative]], ignore_index=True
    )
    splits = {
        name: {
            "x": x[rows],
            "y": y[rows],
            "chrom": windows["chrom"].to_numpy()[rows].astype("S"),
            "start": windows["start"].to_numpy(np.int64)[rows],
        }
        for name, rows in split_rows(rng.permutation(len(x)), split_fractions).items()
    }
    counts = {
        "peaks_read": len(peaks),
        "peaks_unique": len(unique_peaks),
        "positives_kept": len(positives.windows),
        "positives_dropped_edge": positives.dropped_edge,
        "positives_dropped_n": positives.dropped_n,
        "positives_dropped_duplicate": len(peaks) - len(unique_peaks) + positives.dropped_duplicate,
        "dnase_read": len(dnase),
        "dnase_unique": len(unique_dnase),
        "dnase_without_overlap": len(open_sites),
        "negatives_dropped_overlap": len(open_sites) - len(negative_windows),
        "negatives_dropped_edge": negatives.dropped_edge,
        "negatives_dropped_n": negatives.dropped_n,
        "negatives_dropped_duplicate": negatives.dropped_duplicate,
        "negatives_available": len(negatives.windows),
        "positives_used": num_each,
        "negatives_used": num_each,
    }
    return EncodeDataset(splits=splits, counts=counts)


def write_dataset(
    path: str | os.PathLike,
    dataset: EncodeDataset,
    attributes: dict,
) -> None:
    """Write an in vivo dataset (DESIGN §3 keys plus ``chrom_*`` / ``start_*`` window coordinates)
    atomically; ``attributes`` (provenance) and the counts become file attributes."""
    write_dataset_file(path, dataset.splits, {**attributes, **dataset.counts})
