"""Genomic intervals, fixed-width windows and one-hot sequences from an indexed FASTA.

Intervals are BED-style (0-based, half-open) and held as a :class:`pandas.DataFrame` with at least the
columns ``chrom``, ``start`` and ``end``. Windows are cut from the genome chromosome by chromosome with
array indexing, so a dataset of 100,000 windows costs one FASTA read per chromosome, not one per window.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from simplexgrad._arrays import ALPHABET
from simplexgrad._optional import needs
from simplexgrad.data.download import decompress_gzip
from simplexgrad.io import atomic_output

with needs("workflow", "simplexgrad.data.genome"):
    import pandas as pd

__all__ = [
    "NARROWPEAK_COLUMNS",
    "read_peaks",
    "read_chrom_sizes",
    "centred_windows",
    "WindowFilter",
    "filter_windows",
    "one_hot_windows",
    "one_hot_encode",
    "prepare_genome",
]

NARROWPEAK_COLUMNS = (
    "chrom",
    "start",
    "end",
    "name",
    "score",
    "strand",
    "signal_value",
    "p_value",
    "q_value",
    "peak",
)
_HEADER_PREFIXES = ("#", "track", "browser")

# Byte → row of the one-hot table; anything that is not A, C, G or T (either case) maps to row 4.
_CODES = np.full(256, 4, dtype=np.uint8)
for _index, _base in enumerate(ALPHABET):
    _CODES[ord(_base)] = _index
    _CODES[ord(_base.lower())] = _index
_ONE_HOT = np.vstack([np.eye(4, dtype=np.uint8), np.zeros((1, 4), dtype=np.uint8)])


def _open_text(path: str | os.PathLike):
    path = os.fspath(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rt")
    return open(path)


def read_peaks(path: str | os.PathLike, format: str = "narrowPeak") -> pd.DataFrame:
    """Read a peak file (plain or gzipped) and check every line.

    Parameters
    ----------
    path
        ENCODE ``bed narrowPeak`` (exactly 10 tab-separated columns) or BED (at least 3 columns).
    format
        ``'narrowPeak'`` or ``'bed'``.

    Returns
    -------
    pandas.DataFrame
        One row per line with ``chrom`` (str), ``start``, ``end`` (int64) and, for narrowPeak, the other
        nine named columns (``peak`` is the summit offset from ``start``, -1 when absent).

    Raises
    ------
    ValueError
        Naming the file and line for a wrong column count, a non-integer coordinate, a negative start or
        ``start >= end``; or for a file with no intervals.
    """
    if format not in ("narrowPeak", "bed"):
        raise ValueError(f"format must be 'narrowPeak' or 'bed'; got {format!r}")
    rows = []
    line_numbers = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n\r")
            if not line.strip() or line.startswith(_HEADER_PREFIXES):
                continue
            fields = line.split("\t")
            if format == "narrowPeak" and len(fields) != len(NARROWPEAK_COLUMNS):
                raise ValueError(
                    f"{path}:{number}: a narrowPeak line has {len(NARROWPEAK_COLUMNS)} tab-separated "
                    f"columns; this one has {len(fields)}"
                )
            if len(fields) < 3:
                raise ValueError(
                    f"{path}:{number}: a BED line has at least 3 columns; this one has {len(fields)}"
                )
            rows.append(fields if format == "narrowPeak" else fields[:3])
            line_numbers.append(number)
    if not rows:
        raise ValueError(f"{path}: no intervals in the file")
    columns = list(NARROWPEAK_COLUMNS) if format == "narrowPeak" else ["chrom", "start", "end"]
    frame = pd.DataFrame(rows, columns=columns)
    line_numbers = np.asarray(line_numbers)
    integer_columns = ["start", "end"] + (["peak"] if format == "narrowPeak" else [])
    for column in integer_columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{path}:{line_numbers[first]}: column {column!r} must be an integer; "
                f"got {frame[column].iloc[first]!r}"
            )
        frame[column] = values.astype(np.int64)
    bad = (frame["start"] < 0) | (frame["start"] >= frame["end"])
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{path}:{line_numbers[first]}: needs 0 <= start < end; got start={frame['start'].iloc[first]}, "
            f"end={frame['end'].iloc[first]}"
        )
    if format == "narrowPeak":
        for column in ("score", "signal_value", "p_value", "q_value"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def read_chrom_sizes(fai_path: str | os.PathLike) -> dict[str, int]:
    """Chromosome lengths from a FASTA index (``.fai``, or any two-column ``name<TAB>length`` file)."""
    sizes = pd.read_csv(fai_path, sep="\t", header=None, usecols=[0, 1], dtype={0: str, 1: np.int64})
    return dict(zip(sizes[0], sizes[1]))


def centred_windows(peaks: pd.DataFrame, length: int = 200, centre: str = "midpoint") -> pd.DataFrame:
    """``length``-nt windows centred on each interval.

    Parameters
    ----------
    peaks
        Intervals with ``chrom``, ``start``, ``end`` and, for ``centre='summit'``, ``peak``.
    length
        Window width (positive, even or odd; an odd width puts the extra base after the centre).
    centre
        ``'midpoint'`` (``(start + end) // 2``) or ``'summit'`` (``start + peak``; the midpoint where the
        summit is absent, i.e. ``peak < 0``).

    Returns
    -------
    pandas.DataFrame
        ``chrom``, ``start``, ``end`` of each window, one row per input row, same order and index.
        Starts can be negative or ends past a chromosome end: :func:`filter_windows` drops those.
    """
    if length < 1:
        raise ValueError(f"window length must be positive; got {length}")
    if centre not in ("midpoint", "summit"):
        raise ValueError(f"centre must be 'midpoint' or 'summit'; got {centre!r}")
    starts = peaks["start"].to_numpy(np.int64)
    ends = peaks["end"].to_numpy(np.int64)
    centres = (starts + ends) // 2
    if centre == "summit":
        if "peak" not in peaks:
            raise ValueError("centre='summit' needs narrowPeak intervals (a 'peak' column)")
        summits = peaks["peak"].to_numpy(np.int64)
        centres = np.where(summits >= 0, starts + summits, centres)
    window_starts = centres - length // 2
    return pd.DataFrame(
        {"chrom": peaks["chrom"].to_numpy(), "start": window_starts, "end": window_starts + length},
        index=peaks.index,
    )


@dataclass(frozen=True)
class WindowFilter:
    """Windows that survived :func:`filter_windows` and how many were dropped, by reason."""

    windows: pd.DataFrame
    dropped_edge: int
    dropped_n: int
    dropped_duplicate: int


def filter_windows(
    windows: pd.DataFrame, fasta_path: str | os.PathLike, chrom_sizes: Mapping[str, int]
) -> tuple[WindowFilter, np.ndarray]:
    """Drop duplicate windows, windows that run off a chromosome and windows containing a base other
    than A/C/G/T; return the survivors with their one-hot sequences.

    Returns
    -------
    (WindowFilter, numpy.ndarray)
        The kept windows (sorted by chromosome and start) with drop counts, and their one-hot sequences
        ``(N, L, 4)`` uint8, ACGT.

    Raises
    ------
    ValueError
        When a window lies on a chromosome that the FASTA does not have.
    """
    missing = sorted(set(windows["chrom"]) - set(chrom_sizes))
    if missing:
        raise ValueError(
            f"{fasta_path}: chromosome(s) {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''} "
            "of the intervals are not in the genome FASTA (is it the right assembly?)"
        )
    unique = windows.drop_duplicates(subset=["chrom", "start", "end"])
    dropped_duplicate = len(windows) - len(unique)
    sizes = unique["chrom"].map(chrom_sizes).to_numpy(np.int64)
    inside = (unique["start"].to_numpy() >= 0) & (unique["end"].to_numpy() <= sizes)
    inside_windows = unique[inside].sort_values(["chrom", "start"], kind="stable")
    sequences = one_hot_windows(inside_windows, fasta_path)
    has_n = sequences.sum(axis=(1, 2)) < sequences.shape[1]
    kept = inside_windows[~has_n].reset_index(drop=True)
    return (
        WindowFilter(
            windows=kept,
            dropped_edge=int((~inside).sum()),
            dropped_n=int(has_n.sum()),
            dropped_duplicate=int(dropped_duplicate),
        ),
        sequences[~has_n],
    )


def one_hot_encode(sequences: np.ndarray) -> np.ndarray:
    """One-hot encode byte codes ``(N, L)`` (uint8 ASCII) to ``(N, L, 4)`` uint8, ACGT; any other base
    (N, IUPAC codes) becomes an all-zero row."""
    return _ONE_HOT[_CODES[np.asarray(sequences, dtype=np.uint8)]]


def one_hot_windows(windows: pd.DataFrame, fasta_path: str | os.PathLike) -> np.ndarray:
    """One-hot sequences ``(N, L, 4)`` uint8 of equal-width windows, in the order of ``windows``.

    The FASTA must be indexed (``.fai``, see :func:`pyfaidx.Faidx`); each chromosome is read once.
    Soft-masked (lower-case) bases count as their upper-case base. A window that starts before its
    chromosome or ends after it is refused (a ``ValueError`` naming it), never wrapped or cut.
    """
    with needs("workflow", "simplexgrad.data.genome"):
        import pyfaidx

    widths = (windows["end"] - windows["start"]).to_numpy()
    if len(windows) == 0:
        return np.zeros((0, 0, 4), dtype=np.uint8)
    if np.any(widths != widths[0]):
        raise ValueError("windows must all have the same width")
    width = int(widths[0])
    codes = np.empty((len(windows), width), dtype=np.uint8)
    offsets = np.arange(width)
    positions = np.arange(len(windows))
    with pyfaidx.Fasta(os.fspath(fasta_path), sequence_always_upper=False, as_raw=True) as fasta:
        for chrom, rows in windows.groupby("chrom", sort=True).indices.items():
            chromosome = np.frombuffer(fasta[chrom][:].encode("ascii"), dtype=np.uint8)
            starts = windows["start"].to_numpy()[rows]
            outside = np.flatnonzero((starts < 0) | (starts + width > len(chromosome)))
            if outside.size:  # a negative start would wrap to the chromosome's end
                start = int(starts[outside[0]])
                raise ValueError(
                    f"{fasta_path}: window {chrom}:{start}-{start + width} lies outside {chrom} "
                    f"(0-{len(chromosome)}); {outside.size} window(s) of {chrom} do"
                )
            codes[positions[rows]] = chromosome[starts[:, None] + offsets]
    return one_hot_encode(codes)


def prepare_genome(fasta_gz: str, out: str) -> None:
    """Decompress a gzipped FASTA and index it: writes ``out`` and ``out.fai``, each atomically.

    Parameters
    ----------
    fasta_gz : str
        Genome FASTA (.fa.gz).
    out : str
        Plain FASTA to write; its index goes to OUT.fai.
    """
    with needs("workflow", "simplexgrad.data.genome"):
        import pyfaidx

    decompress_gzip(fasta_gz, out)
    with atomic_output(f"{out}.fai") as temporary:
        temporary.unlink()  # pyfaidx would otherwise trust the empty placeholder as an index
        pyfaidx.Faidx(out, indexname=str(temporary)).close()
