"""Sequences from where users keep them: a FASTA file, or a BED file and an indexed genome FASTA.

Both give :class:`Sequences`: one-hot ``(N, L, 4)`` float32 (ACGT) and a name per sequence (the FASTA
header's first word, the BED name column, else ``chrom:start-end``), which the commands carry to every
output. Lowercase (soft-masked) letters count as their uppercase base; ``N`` and every other letter that is
not A, C, G or T becomes an all-zero position (an unknown base, as the data contract says). Everything a
user can get wrong is refused in one line naming the file and the sequence: characters that are not
letters, a sequence shorter than the model's input (unless ``pad``), a region that runs off its
chromosome, a genome without its ``.fai`` index, names given twice. A FASTA sequence longer than the
model's input is cut to its central ``length`` positions, as a BED region is widened or narrowed to its
centred window. The one-hot table and the genome windows are :mod:`simplexgrad.data.genome`'s.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from simplexgrad._optional import needs

__all__ = [
    "SequenceInput",
    "NO_SEQUENCE_FILE",
    "Sequences",
    "read_fasta",
    "fasta_one_hot",
    "bed_one_hot",
    "read_sequences",
    "write_fasta",
]

log = logging.getLogger(__name__)

Centre = Literal["midpoint", "summit"]
_LETTERS = np.zeros(256, dtype=bool)
_LETTERS[np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)] = True


@dataclass(frozen=True)
class Sequences:
    """One-hot sequences and their names.

    Attributes
    ----------
    names : numpy.ndarray
        ``(N,)`` str, unique.
    x : numpy.ndarray
        ``(N, L, 4)`` float32 one-hot, ACGT; an unknown base is an all-zero position.
    source : str
        Where they were read from, for messages and reports.
    """

    names: np.ndarray
    x: np.ndarray
    source: str


@dataclass(frozen=True)
class SequenceInput:
    """Where a command's sequences come from when they are not a dataset file: a FASTA file, or a BED
    file with its genome (:func:`read_sequences`).

    Attributes
    ----------
    sequences : str or None
        FASTA file (plain or gzipped) of the sequences to explain; names from the headers.
    bed : str or None
        BED file of regions, with --genome: windows at the model's input length, names from column 4.
    genome : str or None
        Genome FASTA of --bed, indexed (GENOME.fai beside it).
    centre : {'midpoint', 'summit'}
        Centre --bed windows on each region's midpoint or its summit (narrowPeak column 10).
    length : int or None
        Input length for a model that states none (a PyTorch model); default: the model's.
    pad : bool
        Centre FASTA sequences shorter than the input between Ns instead of refusing them.
    """

    sequences: str | None = None
    bed: str | None = None
    genome: str | None = None
    centre: Centre = "midpoint"
    length: int | None = None
    pad: bool = False

    def given(self) -> bool:
        """Whether a FASTA or BED file is named."""
        return self.sequences is not None or self.bed is not None

    def read(self, model_length: int | None) -> Sequences:
        """The sequences at ``model_length`` positions (the model's input length), or at :attr:`length`
        when the model states none; both given and different is refused."""
        if self.length is not None and model_length is not None and self.length != model_length:
            raise ValueError(f"--length {self.length}: the model takes {model_length} positions")
        return read_sequences(
            self.sequences, self.bed, self.genome, model_length or self.length, self.pad, self.centre
        )


NO_SEQUENCE_FILE = SequenceInput()  # a command's default: the sequences come from its --data


def _open(path: str | os.PathLike):
    """A text handle on a plain or gzipped file (gzip told by its magic bytes, not its name)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: file not found")
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a folder, not a file")
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="ascii") if gzipped else open(path, encoding="ascii")


def read_fasta(path: str | os.PathLike) -> tuple[list[str], list[bytes]]:
    """The names and letters of a FASTA file (plain or gzipped), in file order.

    Returns
    -------
    (list of str, list of bytes)
        Each record's name (its header's first word) and its letters as ASCII bytes (lines joined).

    Raises
    ------
    ValueError
        Naming the file (and the line or sequence): text before the first header, a header without a
        name, a name given twice, a record without letters, characters that are not letters, a file that
        is not ASCII text or holds no record.
    """
    names: list[str] = []
    chunks: list[list[bytes]] = []
    seen: dict[str, int] = {}
    try:
        with _open(path) as handle:
            for number, line in enumerate(handle, start=1):
                line = line.strip()
                if line.startswith(">"):
                    name = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
                    if not name:
                        raise ValueError(f"{path}:{number}: a FASTA header without a name")
                    if name in seen:
                        raise ValueError(
                            f"{path}:{number}: sequence name {name!r} is given twice (first on line "
                            f"{seen[name]}); names must be unique"
                        )
                    seen[name] = number
                    names.append(name)
                    chunks.append([])
                elif line and not names:
                    raise ValueError(f"{path}:{number}: text before the first '>' header; is it FASTA?")
                elif line:
                    chunks[-1].append(line.replace(" ", "").encode("ascii"))
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as error:
        raise ValueError(f"{path}: not a FASTA text file ({type(error).__name__})") from None
    if not names:
        raise ValueError(f"{path}: no sequences (no '>' header)")
    letters = [b"".join(chunk) for chunk in chunks]
    for name, text in zip(names, letters):
        if not text:
            raise ValueError(f"{path}: sequence {name!r} has no letters")
        codes = np.frombuffer(text, dtype=np.uint8)
        bad = np.flatnonzero(~_LETTERS[codes])
        if bad.size:
            raise ValueError(
                f"{path}: sequence {name!r} holds {chr(codes[bad[0]])!r} at position {bad[0] + 1}, not a "
                "letter (A, C, G, T; N and other letters are unknown bases)"
            )
    return names, letters


def fasta_one_hot(path: str | os.PathLike, length: int | None = None, pad: bool = False) -> Sequences:
    """One-hot sequences of a FASTA file at ``length`` positions.

    Parameters
    ----------
    path : str or os.PathLike
        FASTA file, plain or gzipped.
    length : int or None
        Positions per sequence (the model's input length): longer sequences are cut to their central
        ``length`` positions; shorter ones are refused, or with ``pad`` centred between unknown bases.
        None: every sequence must have one length.
    pad : bool
        Pad short sequences with unknown bases (all-zero positions) on both sides instead of refusing them.

    Returns
    -------
    Sequences
        ``x`` ``(N, length, 4)`` float32 and the FASTA names.
    """
    from simplexgrad.data.genome import one_hot_encode  # here: the genome module loads pandas

    names, letters = read_fasta(path)
    lengths = np.array([len(text) for text in letters])
    if length is None:
        if len(set(lengths.tolist())) > 1:
            raise ValueError(
                f"{path}: sequences of {lengths.min()} to {lengths.max()} nt; give the model's input length "
                "(--length) to cut or pad them to one"
            )
        length = int(lengths[0])
    if length < 1:
        raise ValueError(f"length must be >= 1; got {length}")
    short = np.flatnonzero(lengths < length)
    if short.size and not pad:
        more = f" and {short.size - 1} more" if short.size > 1 else ""
        raise ValueError(
            f"{path}: sequence {names[short[0]]!r} has {lengths[short[0]]} nt, shorter than the model's "
            f"input of {length}{more}; pass --pad to centre them between unknown bases (N)"
        )
    codes = np.full((len(letters), length), ord("N"), dtype=np.uint8)
    for row, text in enumerate(letters):
        array = np.frombuffer(text, dtype=np.uint8)
        cut = max(0, (len(array) - length) // 2)
        kept = array[cut : cut + length]
        offset = (length - len(kept)) // 2
        codes[row, offset : offset + len(kept)] = kept
    longer = int((lengths > length).sum())
    if longer:
        log.info("%s: %d sequences longer than %d nt cut to their central %d", path, longer, length, length)
    if short.size:
        log.info("%s: %d sequences shorter than %d nt padded with N", path, short.size, length)
    x = one_hot_encode(codes).astype(np.float32)
    return Sequences(np.asarray(names, dtype=str), x, os.fspath(path))


def _bed_columns(path: str | os.PathLike) -> tuple[list[str], list[int]]:
    """The name (column 4, '' if absent) and summit offset (column 10, -1 if absent) of each interval
    line, skipping what :func:`~simplexgrad.data.genome.read_peaks` skips."""
    names, summits = [], []
    with _open(path) as handle:
        for line in handle:
            line = line.rstrip("\n\r")
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.split("\t")
            names.append(fields[3].strip() if len(fields) > 3 and fields[3].strip() not in ("", ".") else "")
            summit = fields[9].strip() if len(fields) > 9 else "-1"
            summits.append(int(summit) if summit.lstrip("-").isdigit() else -1)
    return names, summits


def bed_one_hot(
    bed: str | os.PathLike, genome: str | os.PathLike, length: int, centre: Centre = "midpoint"
) -> Sequences:
    """One-hot windows of ``length`` positions centred on each region of a BED file, from a genome.

    Parameters
    ----------
    bed : str or os.PathLike
        BED (3 or more tab-separated columns, plain or gzipped; a narrowPeak's 10th column is the summit).
    genome : str or os.PathLike
        Genome FASTA with its index beside it (``<genome>.fai``; ``samtools faidx`` makes one).
    length : int
        Window width: the model's input length.
    centre : {'midpoint', 'summit'}
        Centre each window on the region's midpoint or on its summit (column 10; the midpoint where it
        is -1 or absent).

    Returns
    -------
    Sequences
        ``x`` ``(N, length, 4)`` float32 in the BED's order, named by the name column, else
        ``chrom:start-end`` of the region.
    """
    with needs("workflow", "simplexgrad.data.sequences"):
        import pyfaidx  # noqa: F401  (one_hot_windows reads the genome with it)

        from simplexgrad.data.genome import centred_windows, one_hot_windows, read_chrom_sizes, read_peaks
    if not os.path.exists(genome):
        raise FileNotFoundError(f"{genome}: genome FASTA not found")
    index = Path(f"{os.fspath(genome)}.fai")
    if not index.exists():
        raise ValueError(
            f"{genome}: no index {index.name} beside it; make one with `samtools faidx {genome}` "
            "(a bgzip- or plain-compressed genome: decompress it first)"
        )
    if not os.path.exists(bed):
        raise FileNotFoundError(f"{bed}: file not found")
    regions = read_peaks(bed, "bed")
    names, summits = _bed_columns(bed)
    regions["peak"] = summits
    starts, ends = regions["start"].to_numpy(), regions["end"].to_numpy()
    default = [f"{chrom}:{start}-{end}" for chrom, start, end in zip(regions["chrom"], starts, ends)]
    names = [name or fallback for name, fallback in zip(names, default)]
    counts = Counter(names)
    repeated = next((name for name in names if counts[name] > 1), None)
    if repeated is not None:
        raise ValueError(
            f"{bed}: region name {repeated!r} is given {counts[repeated]} times; names must be unique"
        )
    windows = centred_windows(regions, length, centre)
    sizes = read_chrom_sizes(index)
    missing = sorted(set(regions["chrom"]) - set(sizes))
    if missing:
        raise ValueError(
            f"{bed}: chromosome {missing[0]!r} is not in the genome {genome} (is it the right assembly?)"
        )
    ends_of = windows["chrom"].map(sizes).to_numpy(np.int64)
    off = np.flatnonzero((windows["start"].to_numpy() < 0) | (windows["end"].to_numpy() > ends_of))
    if off.size:
        first = off[0]
        more = f" ({off.size} regions in all)" if off.size > 1 else ""
        raise ValueError(
            f"{bed}: region {names[first]!r}: its {length}-nt window {windows['chrom'].iloc[first]}:"
            f"{windows['start'].iloc[first]}-{windows['end'].iloc[first]} runs off the chromosome "
            f"(length {ends_of[first]}){more}"
        )
    x = one_hot_windows(windows, genome).astype(np.float32)
    log.info("%s: %d windows of %d nt from %s (%s-centred)", bed, len(x), length, genome, centre)
    return Sequences(np.asarray(names, dtype=str), x, os.fspath(bed))


def read_sequences(
    sequences: str | os.PathLike | None = None,
    bed: str | os.PathLike | None = None,
    genome: str | os.PathLike | None = None,
    length: int | None = None,
    pad: bool = False,
    centre: Centre = "midpoint",
) -> Sequences:
    """A FASTA file (``sequences``) or a BED file with its genome, as :class:`Sequences` of ``length``.

    Exactly one of ``sequences`` and ``bed`` is given; ``genome`` goes with ``bed``, ``pad`` with
    ``sequences`` (:func:`fasta_one_hot`), ``centre`` with ``bed`` (:func:`bed_one_hot`, which needs a
    ``length``).
    """
    if (sequences is None) == (bed is None):
        raise ValueError(
            "give the sequences as --sequences FASTA or as --bed BED with --genome FASTA, one of them"
        )
    if bed is not None:
        if genome is None:
            raise ValueError(f"--bed {bed}: give the genome FASTA it refers to with --genome")
        if length is None:
            raise ValueError(f"--bed {bed}: the model states no input length; give it with --length")
        return bed_one_hot(bed, genome, length, centre)
    if genome is not None:
        raise ValueError(f"--genome {genome} goes with --bed; --sequences {sequences} is read as it is")
    return fasta_one_hot(sequences, length, pad)


def write_fasta(path: str | os.PathLike, names: np.ndarray, x: np.ndarray, width: int = 80) -> None:
    """Write one-hot ``(N, L, 4)`` sequences as FASTA (an all-zero position as ``N``), not atomically:
    for tests and examples."""
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    x = np.asarray(x)
    codes = np.where(x.sum(axis=-1) > 0, x.argmax(axis=-1), 4)
    with open(path, "w", encoding="ascii") as handle:
        for name, row in zip(names, codes):
            text = letters[row].tobytes().decode("ascii")
            lines = "\n".join(text[start : start + width] for start in range(0, len(text), width))
            handle.write(f">{name}\n{lines}\n")
