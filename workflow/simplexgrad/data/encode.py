"""The in vivo data: balanced ChIP-seq-vs-DNase datasets of ENCODE TFs.

For one TF, positives are ``length``-nt windows centred on its ChIP-seq peaks; negatives are windows
centred on DNase I hypersensitive sites of the same cell type that overlap none of its peaks (BEDTools
``intersect -v``), down-sampled with the seed to the number of positives (or the other way round when
there are fewer negatives), then shuffled and split 0.7 / 0.1 / 0.2. Only sites on chr1-22, chrX and
chrY are used, as in ENCODE's TF pipeline (GM12878 is EBV-transformed: chrEBV, chrM and unplaced contigs
must not become negatives). The manifest's rows (:mod:`simplexgrad.data.manifest`) name the files and
become the dataset's provenance.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.data.encode"):
    import pandas as pd

    from simplexgrad.data.genome import centred_windows, filter_windows, read_chrom_sizes, read_peaks
    from simplexgrad.data.manifest import DNASE_ASSAY, TF_ASSAY, genome_row, manifest_row, read_manifest
    from simplexgrad.io import atomic_output, split_rows, write_dataset_file

__all__ = [
    "CANONICAL_CHROMOSOMES",
    "non_overlapping",
    "EncodeDataset",
    "build_dataset",
    "write_dataset",
    "encode_dataset",
]

log = logging.getLogger(__name__)

CANONICAL_CHROMOSOMES = (*(f"chr{number}" for number in range(1, 23)), "chrX", "chrY")


def non_overlapping(candidates: pd.DataFrame, peaks: pd.DataFrame, tmpdir: str | os.PathLike) -> pd.DataFrame:
    """Rows of ``candidates`` that overlap no interval of ``peaks`` (BEDTools ``intersect -v``).

    pybedtools' temporary files go to a fresh folder inside ``tmpdir``, removed afterwards, so jobs
    running side by side never touch each other's files.
    """
    with needs("workflow", "simplexgrad.data.encode"):
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
    """Splits (``x`` (n, L, 4) uint8, ``y`` (n, 1) float32, ``chrom``, ``start``), the counts and the
    parameters that built them (``length``, ``centre``, ``seed``, ``split_fractions``, ``chromosomes``)."""

    splits: dict[str, dict[str, np.ndarray]]
    counts: dict[str, int]
    parameters: dict[str, object] = field(default_factory=dict)


def _deduplicated(peaks: pd.DataFrame, centre: str) -> pd.DataFrame:
    """One row per distinct window source: coordinates, plus the summit when windows centre on it (an
    IDR region with several summits is several binding sites)."""
    key = ["chrom", "start", "end", "peak"] if centre == "summit" else ["chrom", "start", "end"]
    return peaks.drop_duplicates(subset=key).sort_values(key, kind="stable")


def _on_chromosomes(peaks: pd.DataFrame, chromosomes: Sequence[str] | None) -> pd.DataFrame:
    return peaks if chromosomes is None else peaks[peaks["chrom"].isin(list(chromosomes))]


def build_dataset(
    peaks_path: str | os.PathLike,
    dnase_path: str | os.PathLike,
    fasta_path: str | os.PathLike,
    length: int = 200,
    centre: Literal["midpoint", "summit"] = "midpoint",
    seed: int = 0,
    split_fractions: Sequence[float] = (0.7, 0.1, 0.2),
    tmpdir: str | os.PathLike | None = None,
    chromosomes: Sequence[str] | None = CANONICAL_CHROMOSOMES,
) -> EncodeDataset:
    """Balanced positives (TF peaks) and negatives (non-overlapping DNase peaks) for one TF.

    Parameters
    ----------
    peaks_path, dnase_path
        narrowPeak files (plain or gzipped) of the TF and of the DNase-seq sites.
    fasta_path
        Indexed genome FASTA (``FILE.fai`` beside it).
    length
        Window width in nt.
    centre
        ``'midpoint'`` or ``'summit'`` (narrowPeak column 10). Duplicates are removed by window, so
        peaks that share coordinates but not summits all give windows when centring on summits.
    seed
        Seeds the down-sampling and the shuffled split.
    split_fractions
        Train / valid / test fractions.
    tmpdir
        Where BEDTools' temporary files go (the system's default when ``None``).
    chromosomes
        Chromosomes whose sites are used (default chr1-22, chrX, chrY); ``None`` keeps all.

    Raises
    ------
    ValueError
        For malformed peak files, chromosomes missing from the FASTA, or a TF without usable peaks.
    """
    chrom_sizes = read_chrom_sizes(f"{fasta_path}.fai")
    tmpdir = tmpdir or tempfile.gettempdir()
    peaks_read = read_peaks(peaks_path, "narrowPeak")
    dnase_read = read_peaks(dnase_path, "narrowPeak")
    peaks = _on_chromosomes(peaks_read, chromosomes)
    dnase = _on_chromosomes(dnase_read, chromosomes)
    unique_peaks = _deduplicated(peaks, centre)
    peak_intervals = unique_peaks.drop_duplicates(subset=["chrom", "start", "end"])
    positives, x_positive = filter_windows(
        centred_windows(unique_peaks, length, centre), fasta_path, chrom_sizes
    )
    if len(positives.windows) == 0:
        raise ValueError(
            f"{peaks_path}: no usable peaks ({len(peaks_read)} read; {len(peaks_read) - len(peaks)} on "
            f"other chromosomes, {positives.dropped_edge} off a chromosome end, {positives.dropped_n} with N)"
        )
    unique_dnase = _deduplicated(dnase, centre)
    open_sites = non_overlapping(unique_dnase, peak_intervals, tmpdir)
    negative_windows = centred_windows(open_sites, length, centre)
    # A short DNase site's window can reach into a peak that the site itself does not touch.
    negative_windows = non_overlapping(negative_windows, peak_intervals, tmpdir)
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
        "peaks_read": len(peaks_read),
        "peaks_dropped_chromosome": len(peaks_read) - len(peaks),
        "peaks_unique": len(unique_peaks),
        "positives_kept": len(positives.windows),
        "positives_dropped_edge": positives.dropped_edge,
        "positives_dropped_n": positives.dropped_n,
        "positives_dropped_duplicate": len(peaks) - len(unique_peaks) + positives.dropped_duplicate,
        "dnase_read": len(dnase_read),
        "dnase_dropped_chromosome": len(dnase_read) - len(dnase),
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
    parameters = {
        "length": int(length),
        "centre": centre,
        "seed": int(seed),
        "split_fractions": [float(value) for value in split_fractions],
        "chromosomes": "all" if chromosomes is None else list(chromosomes),
    }
    return EncodeDataset(splits=splits, counts=counts, parameters=parameters)


def write_dataset(
    path: str | os.PathLike,
    dataset: EncodeDataset,
    attributes: dict,
) -> None:
    """Write an in vivo dataset (the keys of :mod:`simplexgrad.io` plus ``chrom_*`` / ``start_*``, the
    window coordinates) atomically; ``attributes`` (provenance), the dataset's parameters and its counts
    become file attributes (the parameters that built the dataset win over ``attributes`` of the same
    name)."""
    write_dataset_file(path, dataset.splits, {**attributes, **dataset.parameters, **dataset.counts})


def encode_dataset(
    name: str,
    manifest: str,
    peaks: str,
    dnase: str,
    genome: str,
    out: str,
    out_counts: str,
    length: int = 200,
    centre: Literal["midpoint", "summit"] = "midpoint",
    seed: int = 0,
    tmpdir: str | None = None,
) -> None:
    """Build one TF's balanced dataset and write it with its provenance and a one-row counts table.

    Parameters
    ----------
    name
        The TF's row name in the manifest.
    manifest
        The resolved manifest TSV (its TF, DNase-seq and genome rows become provenance).
    peaks
        The TF's downloaded narrowPeak file.
    dnase
        The DNase-seq row's downloaded narrowPeak file.
    genome
        Indexed genome FASTA (FILE.fai beside it).
    out
        Dataset HDF5 file to write.
    out_counts
        One-row TSV of the counts (sites read, dropped by reason, used) to write.
    length
        Window width in nt.
    centre
        Centre windows on the peak midpoint or on its summit (narrowPeak column 10).
    seed
        Seeds the down-sampling and the shuffled split.
    tmpdir
        Folder for BEDTools' temporary files (the system's default when omitted).

    Raises
    ------
    ValueError
        For a row that is missing, not a TF row or unresolved, for malformed peak files and for a TF
        without usable peaks or negatives; nothing is written then.
    """
    table = read_manifest(manifest)
    row = manifest_row(table, name)
    if row["assay"] != TF_ASSAY:
        raise ValueError(f"{manifest}: row {name!r} is a {row['assay']} row, not a {TF_ASSAY} row")
    dnase_row = manifest_row(table, table["name"][table["assay"] == DNASE_ASSAY].iloc[0])
    reference = genome_row(table)
    dataset = build_dataset(peaks, dnase, genome, length, centre, seed, tmpdir=tmpdir)
    provenance = {
        "name": row["name"],
        "target": row["target"],
        "target_label": row["target_label"],
        "output_type": row["output_type"],
        "experiment": row["experiment"],
        "file": row["file"],
        "url": row["url"],
        "md5": row["md5"],
        "assembly": row["assembly"],
        "dnase_experiment": dnase_row["experiment"],
        "dnase_file": dnase_row["file"],
        "dnase_output_type": dnase_row["output_type"],
        "dnase_md5": dnase_row["md5"],
        "genome_file": "" if reference is None else reference["file"],
        "genome_url": "" if reference is None else reference["url"],
        "genome_md5": "" if reference is None else reference["md5"],
    }
    write_dataset(out, dataset, provenance)
    labels = {key: row[key] for key in ("name", "target", "target_label", "output_type")}
    with atomic_output(out_counts) as temporary:
        pd.DataFrame([labels | dataset.counts]).to_csv(temporary, sep="\t", index=False)
    log.info("wrote %s and %s: %s", out, out_counts, dataset.counts)
