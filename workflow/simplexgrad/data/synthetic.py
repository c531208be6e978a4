"""The billboard generator of the synthetic study (Koo & Ploenzke 2021, as released), vectorised.

Per sequence: draw a motif count (3-7 with probabilities 0.50/0.25/0.17/0.05/0.03), draw that many motifs
with replacement from the pool, split the remaining length into count + 1 gaps (uniform(0, 2) draws
scaled to the free length and rounded, redrawn until they sum exactly), lay out gap, motif, gap, …,
motif, gap over a uniform background, and sample each nucleotide from its position's probabilities.
Positives use the core pool, negatives the background pool. One seed fixes everything.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simplexgrad.data.motifs import (
    BACKGROUND_CHOICES,
    CORE_MOTIFS,
    PUBLISHED_BACKGROUND_TABLE,
    Motif,
    core_and_background_pools,
    read_motif_ids,
)
from simplexgrad.io import split_rows, write_dataset_file

__all__ = [
    "MOTIF_COUNTS",
    "MOTIF_COUNT_PROBABILITIES",
    "PlantedModels",
    "plant_motifs",
    "sample_onehot",
    "billboard_dataset",
    "synthetic_dataset",
]

log = logging.getLogger(__name__)

MOTIF_COUNTS = (3, 4, 5, 6, 7)
MOTIF_COUNT_PROBABILITIES = (0.50, 0.25, 0.17, 0.05, 0.03)
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)
MAX_GAP_REDRAWS = 10_000


@dataclass(frozen=True)
class PlantedModels:
    """Sequence models with their planted motifs.

    ``ground_truth_probs`` is ``(N, L, 4)``; ``motif_index`` and ``motif_start`` are ``(N, max count)``, -1
    where a sequence has fewer motifs.
    """

    ground_truth_probs: np.ndarray
    motif_index: np.ndarray
    motif_start: np.ndarray


def plant_motifs(
    pwms: Sequence[np.ndarray],
    num_seqs: int,
    length: int,
    rng: np.random.Generator,
    counts: Sequence[int] = MOTIF_COUNTS,
    count_probabilities: Sequence[float] = MOTIF_COUNT_PROBABILITIES,
) -> PlantedModels:
    """Sequence models with motifs from ``pwms`` planted in a uniform background.

    Parameters
    ----------
    pwms : sequence of numpy.ndarray
        The pool: ``(W_k, 4)`` probability matrices.
    num_seqs, length : int
        ``N`` sequences of ``L`` positions.
    rng : numpy.random.Generator
        Source of randomness.
    counts, count_probabilities : sequence
        Possible motif counts per sequence and their probabilities.

    Returns
    -------
    PlantedModels
    """
    counts = np.asarray(counts, dtype=np.int64)
    widths = np.array([len(pwm) for pwm in pwms], dtype=np.int64)
    if len(pwms) == 0:
        raise ValueError("the motif pool is empty")
    if length < counts.max() * widths.max():
        raise ValueError(
            f"length {length} is shorter than {counts.max()} motifs of up to {widths.max()} nt; "
            f"use a length of at least {counts.max() * widths.max()}"
        )
    max_count = int(counts.max())
    per_seq = rng.choice(counts, size=num_seqs, p=np.asarray(count_probabilities, dtype=np.float64))
    slots = np.arange(max_count)[None, :] < per_seq[:, None]
    motif_index = np.where(slots, rng.integers(0, len(pwms), size=(num_seqs, max_count)), -1)
    motif_width = np.where(slots, widths[np.maximum(motif_index, 0)], 0)

    gaps = _gaps(length - motif_width.sum(axis=1), per_seq + 1, max_count + 1, rng)
    motif_start = np.cumsum(gaps[:, :max_count], axis=1) + np.cumsum(motif_width, axis=1) - motif_width
    motif_start = np.where(slots, motif_start, -1)

    ground_truth_probs = np.full((num_seqs, length, 4), 0.25)
    seq_of_slot, slot = np.nonzero(slots)
    pool_of_slot = motif_index[seq_of_slot, slot]
    row_counts = widths[pool_of_slot]
    offset = np.arange(row_counts.sum()) - np.repeat(np.cumsum(row_counts) - row_counts, row_counts)
    padded = np.zeros((len(pwms), widths.max(), 4))
    for k, pwm in enumerate(pwms):  # pool-sized, not sequence-sized
        padded[k, : len(pwm)] = pwm
    ground_truth_probs[
        np.repeat(seq_of_slot, row_counts),
        np.repeat(motif_start[seq_of_slot, slot], row_counts) + offset,
    ] = padded[np.repeat(pool_of_slot, row_counts), offset]
    return PlantedModels(ground_truth_probs, motif_index, motif_start)


def _gaps(free: np.ndarray, num_gaps: np.ndarray, max_gaps: int, rng: np.random.Generator) -> np.ndarray:
    """``(N, max_gaps)`` integer gaps: row i uses ``num_gaps[i]`` slots, which sum to ``free[i]``."""
    gaps = np.zeros((len(free), max_gaps), dtype=np.int64)
    used = np.arange(max_gaps)[None, :] < num_gaps[:, None]
    pending = np.arange(len(free))
    for _ in range(MAX_GAP_REDRAWS):
        draws = np.where(used[pending], rng.uniform(0.0, 2.0, size=(len(pending), max_gaps)), 0.0)
        scaled = np.round(draws / draws.sum(axis=1, keepdims=True) * free[pending, None]).astype(np.int64)
        exact = scaled.sum(axis=1) == free[pending]
        gaps[pending[exact]] = scaled[exact]
        pending = pending[~exact]
        if len(pending) == 0:
            return gaps
    raise RuntimeError(f"gap lengths did not sum exactly after {MAX_GAP_REDRAWS} redraws")


def sample_onehot(ground_truth_probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample one nucleotide per position: ``(N, L, 4)`` probabilities → ``(N, L, 4)`` uint8 one-hot.

    A letter with probability 0 is never drawn.
    """
    cumulative = np.cumsum(ground_truth_probs, axis=2)
    cumulative[..., -1] = 1.0
    draws = 1.0 - rng.random(ground_truth_probs.shape[:2])  # in (0, 1]
    letters = (cumulative < draws[..., None]).sum(axis=2)
    return np.eye(ground_truth_probs.shape[2], dtype=np.uint8)[letters]


@dataclass
class SyntheticDataset:
    """Splits of the billboard data (x uint8, y float32 ``(N, 1)``, model float32) and provenance."""

    splits: dict[str, dict[str, np.ndarray]]
    attributes: dict = field(default_factory=dict)


def billboard_dataset(
    core: Sequence[Motif],
    background: Sequence[Motif],
    num_seqs: int = 20_000,
    length: int = 200,
    seed: int = 0,
    split_fractions: Sequence[float] = SPLIT_FRACTIONS,
) -> SyntheticDataset:
    """Positives from ``core`` and negatives from ``background``, shuffled and split.

    Returns
    -------
    SyntheticDataset
        ``splits[name]`` holds ``x`` ``(n, L, 4)`` uint8, ``y`` ``(n, 1)`` float32, ``model``
        ``(n, L, 4)`` float32 and ``planted`` ``(n, 7)`` int16 indices into the background pool (whose
        first entries are the core pool), -1 for empty slots.
    """
    if num_seqs < 2:
        raise ValueError(f"num_seqs must be >= 2; got {num_seqs}")
    labels = [motif.label for motif in background]
    if [motif.label for motif in core] != labels[: len(core)]:
        raise ValueError("the background pool must start with the core pool")
    rng = np.random.default_rng(seed)
    num_pos = (num_seqs + 1) // 2
    log.info("planting motifs: %d positives (%d core PWMs), %d negatives (%d background PWMs)",
             num_pos, len(core), num_seqs - num_pos, len(background))  # fmt: skip
    positives = plant_motifs([m.pwm for m in core], num_pos, length, rng)
    negatives = plant_motifs([m.pwm for m in background], num_seqs - num_pos, length, rng)
    log.info("sampling %d sequences of %d nt", num_seqs, length)
    ground_truth_probs = np.concatenate([positives.ground_truth_probs, negatives.ground_truth_probs])
    planted = np.concatenate([positives.motif_index, negatives.motif_index]).astype(np.int16)
    x = sample_onehot(ground_truth_probs, rng)
    y = np.concatenate([np.ones(num_pos), np.zeros(num_seqs - num_pos)]).astype(np.float32)[:, None]

    rows_of = split_rows(rng.permutation(num_seqs), split_fractions)
    splits = {
        name: {
            "x": x[rows],
            "y": y[rows],
            "model": ground_truth_probs[rows].astype(np.float32),
            "planted": planted[rows],
        }
        for name, rows in rows_of.items()
    }
    attributes = {
        "generator": "billboard (Koo & Ploenzke 2021)",
        "seed": seed,
        "num_seqs": num_seqs,
        "length": length,
        "num_positive": num_pos,
        "split_fractions": list(split_fractions),
        "motif_counts": list(MOTIF_COUNTS),
        "motif_count_probabilities": list(MOTIF_COUNT_PROBABILITIES),
        "core_motifs": [m.label for m in core],
        "background_motifs": labels,
        "motif_names": [m.name for m in background],
    }
    return SyntheticDataset(splits, attributes)


BYTES_PER_VALUE = 40  # peak memory per one-hot value: float64 models, their sums, splits' copies, output


def check_memory(num_seqs: int, length: int) -> None:
    """Refuse, before allocating anything, a dataset whose generation needs more memory than this machine
    has (about :data:`BYTES_PER_VALUE` bytes per value of the ``(num_seqs, length, 4)`` arrays)."""
    needed = num_seqs * length * 4 * BYTES_PER_VALUE
    available = _physical_memory()
    if available and needed > available:
        raise ValueError(
            f"--num-seqs {num_seqs} of --length {length}: generating them needs about {_size(needed)} of "
            f"memory; this machine has {_size(available)}. Use fewer sequences"
        )


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _size(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:.3g} {unit}"
        count /= 1000
    return f"{count:.3g} PB"


def synthetic_dataset(
    out: str,
    seed: int,
    num_seqs: int = 20_000,
    length: int = 200,
    jaspar_release: str = "JASPAR2016",
    core_ids: list[str] | None = None,
    background_table: str = "published",
    num_background: int = 50,
) -> SyntheticDataset:
    """Generate the billboard dataset and write it as a dataset file (HDF5), atomically.

    Keys ``x_*`` (uint8 one-hot), ``y_*``, ``model_*`` (ground-truth probabilities) and ``planted_*`` for
    train/valid/test; file attributes record every parameter, the JASPAR release and IDs, and the seed
    (lists as JSON). The same arguments give the same bytes.

    Parameters
    ----------
    out : str
        Dataset file to write (.h5).
    seed : int
        Seed of every random draw.
    num_seqs : int
        Sequences in all (half positive).
    length : int
        Sequence length (nt).
    jaspar_release : str
        JASPAR release shipped with pyjaspar.
    core_ids : list of str or None
        Core JASPAR matrix IDs; default the paper's five (SP1, Gabpa, CEBPB, MAX, YY1).
    background_table : str
        Background pool: published (the published generator's 50 motifs), draw, or a TSV of matrix IDs.
        ``"published"`` is the table shipped with the package (the paper's pool); ``"draw"`` draws
        ``num_background`` other CORE vertebrate motifs with the seed (an easier task: the authors'
        models score test AUROC 0.02-0.03 higher on it); a path is read as a TSV with a header whose
        first column holds the matrix IDs.
    num_background : int
        With draw: how many other CORE vertebrate motifs to draw with the seed.
    """
    if num_seqs < 2 or length < 1:
        raise ValueError(f"--num-seqs must be >= 2 and --length >= 1; got {num_seqs} and {length}")
    check_memory(num_seqs, length)
    core_ids = list(core_ids or CORE_MOTIFS)
    if background_table in BACKGROUND_CHOICES:
        background_ids = background_table
        source = {"published": PUBLISHED_BACKGROUND_TABLE, "draw": "seeded draw"}[background_table]
    elif os.path.isfile(background_table):
        background_ids = read_motif_ids(background_table)
        source = os.path.basename(background_table)
    else:
        raise FileNotFoundError(
            f"background table {background_table}: no such file (or pass published or draw)"
        )
    core, background = core_and_background_pools(
        core_ids, background_ids, num_background, jaspar_release, seed
    )
    dataset = billboard_dataset(core, background, num_seqs, length, seed)
    attributes = {
        **dataset.attributes,
        "jaspar_release": jaspar_release,
        "jaspar_core_ids": core_ids,
        "background_source": source,
        "num_background_matrices": (len(background) - len(core)) // 2,
    }
    write_dataset_file(out, dataset.splits, attributes)
    return dataset
