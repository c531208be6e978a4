"""Motif discovery on attribution maps with tfmodisco-lite, matched to JASPAR by TOMTOM (memelite).

The maps ``(N, L, 4)`` (raw or corrected) are the *hypothetical contributions*; the contribution scores
are ``maps * one_hot``. tfmodisco-lite's Python API takes channels-last arrays; its ``modisco motifs``
command reads ``(N, 4, L)`` arrays (:func:`to_modisco_layout`, :func:`export_modisco_inputs`). All of it
runs offline: JASPAR from pyjaspar's SQLite files, TOMTOM from memelite (no MEME suite binary).

Determinism: tfmodisco-lite seeds its own randomness (``RandomState(1234)``; Leiden run ``i``: seed
``100 * i``), memelite's TOMTOM has none; ``seed`` draws the order in which sequences reach modisco.

Whether a pattern is a known (planted) motif is judged two ways, never by TOMTOM's best match alone
(relatives of one family, e.g. the ETS factors ELK4, EHF and Gabpa, often outrank each other):

- TOMTOM: the motif is among the pattern's *significant* matches (q below ``qvalue_threshold``, default
  :data:`QVALUE_THRESHOLD`), at some rank of the pattern's TOMTOM ranking (``planted_ranks``);
- PWM similarity, without TOMTOM: the best Pearson correlation, over offsets with at least
  ``min_overlap`` aligned positions (default :data:`MIN_OVERLAP`) and both strands, between the
  information-trimmed PPM (:func:`trim_by_information`) and the motif's PWM (:func:`pwm_similarity`);
  :func:`recovery_counts` counts a motif as recovered when some pattern reaches :data:`SIMILARITY_THRESHOLD`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib.metadata
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import h5py
import numpy as np

from simplexgrad._optional import needs

with needs("modisco", "simplexgrad.studies.modisco"):
    import pandas as pd

    from simplexgrad._arrays import ALPHABET, as_sequences, check_finite, check_one_hot, same_shape
    from simplexgrad.data.motifs import core_vertebrate_pwms, load_motifs, reverse_complement
    from simplexgrad.io import atomic_output, load_attributions
    from simplexgrad.tables import parse_labels, with_labels, write_table

log = logging.getLogger(__name__)

__all__ = [
    "TABLE_COLUMNS",
    "Pattern",
    "ModiscoRun",
    "to_modisco_layout",
    "from_modisco_layout",
    "modisco_inputs",
    "export_modisco_inputs",
    "run_modisco",
    "save_modisco",
    "read_patterns",
    "trim_pattern",
    "trim_by_information",
    "Similarity",
    "pwm_similarity",
    "jaspar_targets",
    "match_patterns",
    "no_pattern_row",
    "recovery_counts",
    "write_report",
    "find_motifs",
    "modisco_file",
    "modisco_kernels",
]

TABLE_COLUMNS = (
    "pattern",
    "seqlets",
    "best_match_id",
    "best_match_name",
    "tomtom_qvalue",
    "planted",
    "significant_matches",
    "matches",
    "planted_ranks",
    "similar_planted_id",
    "pwm_similarity",
)
# The row that records a run without patterns (its labels reach the collected table; 0 seqlets).
NO_PATTERN = "none"
QVALUE_THRESHOLD = 0.05  # a TOMTOM match is significant when its q-value is below this
MAX_MATCHES = 5  # significant matches listed per pattern in the `matches` column
MIN_OVERLAP = 6  # fewest aligned positions for a PPM-PWM correlation (half a typical JASPAR core motif)
INFORMATION_FRACTION = 0.25  # trim_by_information keeps the span of positions above this share of the max
SIMILARITY_THRESHOLD = 0.8  # a planted motif is recovered when some pattern's PPM correlates this well
PROGRESS_EVERY_S = 300.0  # a running tfmodisco-lite logs that it still runs this often (seconds)
PATTERN_GROUPS = ("pos_patterns", "neg_patterns")
# `modisco motifs` settings not exposed here, at that command's defaults.
_MODISCO_FIXED = {"trim_to_window_size": 30, "initial_flank_to_add": 10, "final_flank_to_add": 0}
_RUN_SETTINGS = ("max_seqlets", "window", "target_fdr", "n_leiden", "max_sequences", "seed")
# modisco_kernels' example: sequences, their length, and the motif planted once in each.
KERNEL_EXAMPLE = (300, 100, "TTGACTCATG")


@dataclass(frozen=True)
class Pattern:
    """One pattern: ``name`` as in modisco's report (``'pos_patterns.pattern_0'``), its seqlet count,
    position probability matrix ``ppm`` and contribution weight matrix ``cwm``, both ``(W, 4)``."""

    name: str
    n_seqlets: int
    ppm: np.ndarray
    cwm: np.ndarray


@dataclass(frozen=True)
class ModiscoRun:
    """tfmodisco-lite's patterns (``SeqletSet`` lists) per metacluster, the input row of each of its
    example indices (``example_rows``, (M,)) and the sequence length."""

    pos_patterns: list
    neg_patterns: list
    example_rows: np.ndarray
    sequence_length: int

    def patterns(self) -> list[Pattern]:
        """All patterns, positive metacluster first, named as in the results file."""
        metaclusters = zip(PATTERN_GROUPS, (self.pos_patterns, self.neg_patterns))
        named = [(f"{group}.pattern_{i}", p) for group, found in metaclusters for i, p in enumerate(found)]
        return [Pattern(name, len(p.seqlets), p.sequence, p.contrib_scores) for name, p in named]


def to_modisco_layout(array: np.ndarray, name: str = "array") -> np.ndarray:
    """``(N, L, 4)`` → tfmodisco-lite's file layout ``(N, 4, L)``, float32, C-contiguous."""
    return np.ascontiguousarray(as_sequences(array, name, alphabet_size=4).transpose(0, 2, 1))


def from_modisco_layout(array: np.ndarray, name: str = "array") -> np.ndarray:
    """tfmodisco-lite's ``(N, 4, L)`` → ``(N, L, 4)`` float32, the inverse of :func:`to_modisco_layout`."""
    array = np.asarray(array)
    if array.ndim != 3 or array.shape[1] != 4:
        raise ValueError(f"{name} must have tfmodisco-lite's shape (N, 4, L); got shape {array.shape}")
    return np.ascontiguousarray(array.transpose(0, 2, 1), dtype=np.float32)


def _checked(one_hot: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 ``(N, L, 4)`` one-hot sequences and finite maps of the same shape, or a ValueError."""
    x = as_sequences(one_hot, "one_hot", alphabet_size=4)
    maps = as_sequences(maps, "maps", alphabet_size=4)
    same_shape(x, "one_hot", maps=maps)
    check_one_hot(x, "one_hot")
    check_finite(maps, "maps")
    return x, maps


def modisco_inputs(one_hot: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(one_hot, hypothetical, contributions)`` in tfmodisco-lite's layout, each ``(N, 4, L)`` float32,
    from ``(N, L, 4)`` one-hot sequences and maps: hypothetical = ``maps``, contributions =
    ``maps * one_hot``."""
    x, maps = _checked(one_hot, maps)
    return to_modisco_layout(x), to_modisco_layout(maps), to_modisco_layout(maps * x)


def export_modisco_inputs(
    one_hot: np.ndarray, maps: np.ndarray, sequences: str | os.PathLike, attributions: str | os.PathLike
) -> None:
    """Write the inputs of ``modisco motifs -s SEQUENCES -a ATTRIBUTIONS`` atomically: ``.npz`` files
    whose ``arr_0`` is the ``(N, 4, L)`` one-hot sequences and hypothetical contributions (``maps``)."""
    x, hypothetical, _ = modisco_inputs(one_hot, maps)
    for path, array in ((sequences, x), (attributions, hypothetical)):
        with atomic_output(path) as temporary, open(temporary, "wb") as handle:
            np.savez(handle, array)


@contextlib.contextmanager
def _progress(task: str, every: float = PROGRESS_EVERY_S) -> Iterator[None]:
    """Log ``task`` as it starts, every ``every`` seconds while the block runs, and as it ends."""
    started, stop = time.perf_counter(), threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            log.info("%s: still running after %.0f s", task, time.perf_counter() - started)

    log.info("%s: started", task)
    thread = threading.Thread(target=beat, name="modisco-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    log.info("%s: done in %.1f s", task, time.perf_counter() - started)


def _cache_modisco_kernels() -> None:
    """Turn on numba's on-disk cache for tfmodisco-lite's kernels (and compile them in forked children
    where the thread budget allows), so that a second run loads them instead of compiling for about a
    minute. ``precompile.start()`` must run before :func:`_progress` starts its thread (tfmodisco-lite's
    own call comes too late): it does nothing, caching included, once another thread runs. The command
    line's log filter is such a thread, so caching is also turned on here for the kernels it lists."""
    try:
        from modiscolite import precompile
    except ImportError:  # releases without the precompile module compile on every run
        return
    precompile.start()
    for group in getattr(precompile, "_kernels", list)():
        for kernel, _ in group:
            with contextlib.suppress(Exception):  # not a numba dispatcher, or no writable cache location
                kernel.enable_caching()


def run_modisco(
    one_hot: np.ndarray,
    maps: np.ndarray,
    *,
    max_seqlets: int = 2000,
    window: int = 15,
    flank: int = 5,
    target_fdr: float = 0.05,
    n_leiden: int = 2,
    max_sequences: int | None = None,
    seed: int = 0,
) -> ModiscoRun:
    """Run tfmodisco-lite (its Python API; other settings as ``modisco motifs``): a :class:`ModiscoRun`.

    The sequences are shuffled with ``seed`` first: modisco's ``max_seqlets`` cut keeps the seqlets of
    the first sequences (tfmodisco-lite recommends shuffled input). A metacluster with at most 100
    seqlets (modisco's minimum) gets no patterns. It logs (logger ``simplexgrad.studies.modisco``) as it
    starts, every :data:`PROGRESS_EVERY_S` seconds while it runs and as it ends, with the patterns found.

    Parameters
    ----------
    one_hot, maps : numpy.ndarray
        ``(N, L, 4)`` one-hot sequences (ACGT) and hypothetical contributions.
    flank : int
        Flank added on each side of a seqlet core (``flank_size``, ``modisco motifs -f``).
    max_seqlets, window, target_fdr, n_leiden, max_sequences, seed
        As in :func:`modisco_file`; :func:`save_modisco` writes the result.
    """
    x, hypothetical = _checked(one_hot, maps)
    for name in ("max_seqlets", "window", "n_leiden", "max_sequences"):
        if (value := locals()[name]) is not None and value < 1:
            raise ValueError(f"{name} must be >= 1; got {value}")
    if flank < 0 or not 0 < target_fdr < 1:
        raise ValueError(f"flank must be >= 0 and target_fdr in (0, 1); got {flank} and {target_fdr}")
    if window + 2 * flank > x.shape[1]:
        raise ValueError(f"window + 2 * flank = {window + 2 * flank} exceeds the length L = {x.shape[1]}")
    rows = np.random.default_rng(seed).permutation(len(x))[:max_sequences]
    with needs("modisco", "simplexgrad.studies.modisco"):
        from modiscolite import tfmodisco

    settings = {"sliding_window_size": window, "flank_size": flank, "n_leiden_runs": n_leiden}
    settings.update(max_seqlets_per_metacluster=max_seqlets, target_seqlet_fdr=target_fdr, **_MODISCO_FIXED)
    sequences, hypothetical = np.ascontiguousarray(x[rows]), np.ascontiguousarray(hypothetical[rows])
    task = f"tfmodisco-lite on {len(rows)} sequences of length {x.shape[1]}"
    _cache_modisco_kernels()
    with _progress(task):
        pos, neg = tfmodisco.TFMoDISco(one_hot=sequences, hypothetical_contribs=hypothetical, **settings)
    run = ModiscoRun(list(pos or []), list(neg or []), rows.astype(np.int64), int(x.shape[1]))
    log.info("%s: %d positive and %d negative patterns", task, len(run.pos_patterns), len(run.neg_patterns))
    return run


def save_modisco(path: str | os.PathLike, run: ModiscoRun) -> None:
    """Write modisco's results HDF5 with ``modiscolite.io.save_hdf5`` (what ``modisco report`` reads),
    atomically, plus a root dataset ``example_rows`` (the input row of each modisco example index)."""
    with needs("modisco", "simplexgrad.studies.modisco"):
        from modiscolite.io import save_hdf5

    with atomic_output(path) as temporary:
        save_hdf5(temporary, run.pos_patterns or None, run.neg_patterns or None, run.sequence_length)
        gc.collect()  # save_hdf5 leaves its h5py.File for the garbage collector to close
        with h5py.File(temporary, "a") as handle:
            handle.create_dataset("example_rows", data=run.example_rows)


def read_patterns(path: str | os.PathLike) -> list[Pattern]:
    """The patterns of a modisco results HDF5, positive metacluster first, in pattern order."""
    patterns = []
    with h5py.File(path, "r") as handle:
        for group in PATTERN_GROUPS:
            for name in sorted(handle.get(group, {}), key=lambda name: int(name.rsplit("_", 1)[-1])):
                found = handle[group][name]
                count = int(found["seqlets/n_seqlets"][0])
                patterns.append(
                    Pattern(f"{group}.{name}", count, found["sequence"][()], found["contrib_scores"][()])
                )
    return patterns


def trim_pattern(ppm: np.ndarray, cwm: np.ndarray, threshold: float = 0.3) -> np.ndarray:
    """A ``(W, 4)`` PPM trimmed as ``modisco report`` trims it for TOMTOM: from the first to the last
    position whose ``sum |cwm|`` reaches ``threshold`` times the maximum."""
    score = np.abs(np.asarray(cwm)).sum(axis=1)
    passing = np.flatnonzero(score >= threshold * score.max())
    return np.asarray(ppm)[passing.min() : passing.max() + 1]


def _matrix(array: np.ndarray, name: str) -> np.ndarray:
    """A finite, non-negative float64 ``(W, 4)`` matrix, or a ValueError naming ``name``."""
    matrix = np.asarray(array, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != 4 or len(matrix) == 0:
        raise ValueError(f"{name} must have shape (W, 4) in ACGT order with W >= 1; got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0):
        raise ValueError(f"{name} must hold finite non-negative probabilities")
    return matrix


def trim_by_information(ppm: np.ndarray, fraction: float = INFORMATION_FRACTION) -> np.ndarray:
    """A ``(W, 4)`` PPM trimmed to its informative span: from the first to the last position whose
    information content ``2 + sum_a p log2 p`` (bits; rows normalised to sum 1) reaches ``fraction``
    times the largest; a PPM without information (all rows uniform) is returned whole."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction}")
    matrix = _matrix(ppm, "ppm")
    totals = matrix.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError("ppm has a position whose probabilities sum to 0")
    p = matrix / totals
    information = 2 + np.sum(p * np.log2(np.where(p > 0, p, 1.0)), axis=1)
    if information.max() <= 0:
        return matrix
    passing = np.flatnonzero(information >= fraction * information.max())
    return matrix[passing.min() : passing.max() + 1]


class Similarity(NamedTuple):
    """The best alignment of a PPM to a PWM (:func:`pwm_similarity`): Pearson ``r``, ``offset`` (the PWM
    position of the PPM's first column; negative when the PPM starts before the PWM) and ``strand``
    ('+' the PWM as given, '-' its reverse complement, whose positions the offset then counts)."""

    r: float
    offset: int | None
    strand: str | None


def pwm_similarity(ppm: np.ndarray, pwm: np.ndarray, min_overlap: int = MIN_OVERLAP) -> Similarity:
    """Best Pearson correlation between a PPM and a PWM over offsets and both strands, without TOMTOM.

    At each offset the aligned positions of both matrices (at least ``min_overlap`` of them; fewer are
    not compared) are flattened to ``4 * overlap`` values and correlated; the PWM is tried as given and
    reverse complemented. Offsets where either block is constant (e.g. uniform) have no correlation.

    Parameters
    ----------
    ppm : numpy.ndarray
        ``(W, 4)`` position probability matrix of a pattern (e.g. :func:`trim_by_information`'s).
    pwm : numpy.ndarray
        ``(V, 4)`` probabilities of a known motif, ACGT order.
    min_overlap : int
        Fewest aligned positions an offset needs.

    Returns
    -------
    Similarity
        ``(r, offset, strand)``; ``(nan, None, None)`` when no offset has ``min_overlap`` positions with a
        correlation. Ties go to '+' and then to the smallest offset.
    """
    if min_overlap < 1:
        raise ValueError(f"min_overlap must be >= 1; got {min_overlap}")
    query, target = _matrix(ppm, "ppm"), _matrix(pwm, "pwm")
    best = Similarity(float("nan"), None, None)
    for strand, oriented in (("+", target), ("-", reverse_complement(target))):
        for offset in range(min_overlap - len(query), len(oriented) - min_overlap + 1):
            start, stop = max(0, -offset), min(len(query), len(oriented) - offset)
            if stop - start < min_overlap:  # a matrix shorter than min_overlap
                continue
            a, b = query[start:stop].ravel(), oriented[start + offset : stop + offset].ravel()
            a, b = a - a.mean(), b - b.mean()
            norm = np.sqrt(np.dot(a, a) * np.dot(b, b))
            if norm > 1e-12:
                r = float(np.clip(np.dot(a, b) / norm, -1.0, 1.0))
                if not r <= best.r:  # also true while best.r is nan
                    best = Similarity(r, offset, strand)
    return best


@functools.lru_cache(maxsize=8)
def jaspar_targets(release: str = "JASPAR2016", extra_ids: tuple[str, ...] = ()) -> tuple[tuple, ...]:
    """TOMTOM's targets: the release's CORE vertebrate motifs (latest versions) plus ``extra_ids``, as
    ``(matrix_id, name, pwm (W, 4))`` sorted by ID, offline through pyjaspar; ValueError if unknown."""
    targets = core_vertebrate_pwms(release)
    missing = [matrix_id for matrix_id in extra_ids if matrix_id not in targets]
    for motif in load_motifs(missing, release)[::2]:  # forward orientations
        targets[motif.matrix_id] = (motif.name, motif.pwm)
    return tuple((matrix_id, *targets[matrix_id]) for matrix_id in sorted(targets))


def _check_matching(qvalue_threshold: float, max_matches: int, min_overlap: int) -> None:
    """ValueError unless ``0 < qvalue_threshold <= 1``, ``max_matches >= 1`` and ``min_overlap >= 1``."""
    if not 0 < qvalue_threshold <= 1:
        raise ValueError(f"qvalue_threshold must be in (0, 1]; got {qvalue_threshold}")
    for name, value in (("max_matches", max_matches), ("min_overlap", min_overlap)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1; got {value}")


def match_patterns(
    patterns: Sequence[Pattern],
    release: str = "JASPAR2016",
    planted_ids: Sequence[str] | None = None,
    trim_threshold: float = 0.3,
    *,
    qvalue_threshold: float = QVALUE_THRESHOLD,
    max_matches: int = MAX_MATCHES,
    min_overlap: int = MIN_OVERLAP,
) -> pd.DataFrame:
    """JASPAR matches of each pattern by TOMTOM (memelite) and its PPM's similarity to the planted PWMs.

    Each PPM is trimmed (:func:`trim_pattern`) and compared with all :func:`jaspar_targets` on both
    strands. The q-value is Benjamini-Hochberg over the pattern's p-values against all targets (MEME's
    tomtom also computes q-values per query, estimating pi0; this is the conservative pi0 = 1). A
    pattern's TOMTOM ranking orders the targets by p-value, ties to the lower matrix ID.

    Parameters
    ----------
    patterns : sequence of Pattern
        The patterns (e.g. :meth:`ModiscoRun.patterns` or :func:`read_patterns`).
    release : str
        JASPAR release whose CORE vertebrate motifs are the targets.
    planted_ids : sequence of str or None
        JASPAR matrix IDs of the planted (known) motifs; added to the targets if not CORE vertebrates.
    trim_threshold : float
        :func:`trim_pattern`'s share of the largest ``sum |cwm|`` for TOMTOM's query.
    qvalue_threshold : float
        A TOMTOM match is significant when its q-value is below this.
    max_matches : int
        Most significant matches listed per pattern (``matches``); ranks are counted over all targets.
    min_overlap : int
        Fewest aligned positions for :func:`pwm_similarity`.

    Returns
    -------
    pandas.DataFrame
        One row per pattern with :data:`TABLE_COLUMNS`: ``pattern``, ``seqlets``; the best match
        (``best_match_id``, ``best_match_name``, ``tomtom_qvalue``); ``planted``: a planted motif is among
        the significant matches; ``significant_matches``: how many targets are; ``matches``: the first
        ``max_matches`` of them as ``'ID name (q=...)'`` joined by ``'; '``; ``planted_ranks``: each planted
        motif among them with its rank in the TOMTOM ranking (1 = best), ``'ID:rank'`` joined by ``';'``;
        ``similar_planted_id`` and ``pwm_similarity``: the planted PWM that the information-trimmed PPM
        (:func:`trim_by_information`) correlates with best, and that :func:`pwm_similarity` r (empty and
        NaN when no offset overlaps ``min_overlap`` positions).
    """
    with needs("modisco", "simplexgrad.studies.modisco"):
        from scipy.stats import false_discovery_control

    _check_matching(qvalue_threshold, max_matches, min_overlap)
    planted = list(dict.fromkeys(planted_ids or ()))
    targets = jaspar_targets(release, tuple(sorted(planted)))
    if not patterns:
        return pd.DataFrame({column: [] for column in TABLE_COLUMNS})
    with needs("modisco", "simplexgrad.studies.modisco"):
        from memelite import tomtom

    queries = [trim_pattern(p.ppm, p.cwm, trim_threshold).T for p in patterns]
    as_float = functools.partial(np.ascontiguousarray, dtype=np.float64)  # one compiled TOMTOM variant
    p_values = tomtom([as_float(q) for q in queries], [as_float(pwm.T) for _, _, pwm in targets])[0]
    q_values = false_discovery_control(np.clip(p_values, 0.0, 1.0), axis=1)
    rankings = np.argsort(p_values, axis=1, kind="stable")  # targets are sorted by ID
    row_of = {matrix_id: i for i, (matrix_id, _, _) in enumerate(targets)}
    planted_pwms = [(matrix_id, targets[row_of[matrix_id]][2]) for matrix_id in planted]
    rows = []
    for pattern, ranking, q in zip(patterns, rankings, q_values, strict=True):
        significant = [(rank, int(i)) for rank, i in enumerate(ranking, start=1) if q[i] < qvalue_threshold]
        ranks = [(targets[i][0], rank) for rank, i in significant if targets[i][0] in planted]
        listed = [f"{targets[i][0]} {targets[i][1]} (q={q[i]:.2g})" for _, i in significant[:max_matches]]
        trimmed = trim_by_information(pattern.ppm)
        scores = [(pwm_similarity(trimmed, pwm, min_overlap).r, matrix_id) for matrix_id, pwm in planted_pwms]
        scores = [(r, matrix_id) for r, matrix_id in scores if not np.isnan(r)]
        r, similar = max(scores, key=lambda score: score[0]) if scores else (float("nan"), "")
        best = int(ranking[0])
        rows.append(
            {
                "pattern": pattern.name,
                "seqlets": pattern.n_seqlets,
                "best_match_id": targets[best][0],
                "best_match_name": targets[best][1],
                "tomtom_qvalue": q[best],
                "planted": bool(ranks),
                "significant_matches": len(significant),
                "matches": "; ".join(listed),
                "planted_ranks": ";".join(f"{matrix_id}:{rank}" for matrix_id, rank in ranks),
                "similar_planted_id": similar,
                "pwm_similarity": r,
            }
        )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def no_pattern_row() -> pd.DataFrame:
    """The one-row table that records a run without patterns: ``pattern`` :data:`NO_PATTERN`, 0 seqlets,
    0 significant matches, not planted, empty matches and NaN scores (:data:`TABLE_COLUMNS`)."""
    row = dict.fromkeys(TABLE_COLUMNS, "")
    row.update(pattern=NO_PATTERN, seqlets=0, tomtom_qvalue=float("nan"), planted=False)
    row.update(significant_matches=0, pwm_similarity=float("nan"))
    return pd.DataFrame([row], columns=list(TABLE_COLUMNS))


def _planted_ranks(cell: object) -> list[str]:
    """The matrix IDs of a ``planted_ranks`` cell (``'ID:rank;ID:rank'``; empty or NaN: none)."""
    if not isinstance(cell, str) or not cell.strip():
        return []
    return [entry.rsplit(":", 1)[0].strip() for entry in cell.split(";") if entry.strip()]


def recovery_counts(
    motifs: pd.DataFrame,
    by: Sequence[str] = ("architecture", "activation", "seed", "maps"),
    similarity_threshold: float = SIMILARITY_THRESHOLD,
) -> pd.DataFrame:
    """Per run (``by``), how many planted motifs were recovered, by each definition, and how many
    patterns match nothing planted.

    Parameters
    ----------
    motifs : pandas.DataFrame
        Collected motifs tables (:data:`TABLE_COLUMNS` plus the ``by`` label columns); a run without
        patterns has its :data:`NO_PATTERN` row and counts zero everywhere.
    by : sequence of str
        Label columns that identify a run.
    similarity_threshold : float
        Pearson r a pattern's PPM needs with a planted PWM for that motif to count as recovered.

    Returns
    -------
    pandas.DataFrame
        One row per run: the ``by`` columns; ``patterns`` (found, :data:`NO_PATTERN` rows excluded);
        ``recovered_similarity``: distinct planted motifs that are some pattern's ``similar_planted_id``
        with ``pwm_similarity >= similarity_threshold``; ``recovered_tomtom``: distinct planted motifs
        among some pattern's significant TOMTOM matches (``planted_ranks``); ``false_discoveries``:
        patterns with neither (no planted motif reaches the threshold or is a significant match).
    """
    by = list(by)
    missing = sorted({*by, "pattern", "planted_ranks", "similar_planted_id", "pwm_similarity"} - {*motifs})
    if missing:
        raise ValueError(
            f"the motifs table lacks columns {missing}; rerun the modisco rules to rewrite it "
            "(e.g. snakemake --forcerun modisco_synthetic)"
        )
    if not 0 < similarity_threshold <= 1:
        raise ValueError(f"similarity_threshold must be in (0, 1]; got {similarity_threshold}")
    rows = []
    for run, group in motifs.groupby(by, sort=True, dropna=False):
        found = group[group["pattern"].astype(str) != NO_PATTERN]
        similar = found["pwm_similarity"].astype(float) >= similarity_threshold
        tomtom_ids = [_planted_ranks(cell) for cell in found["planted_ranks"]]
        significant = np.array([bool(ids) for ids in tomtom_ids], dtype=bool)
        row = dict(zip(by, run if isinstance(run, tuple) else (run,), strict=True))
        row.update(
            patterns=len(found),
            recovered_similarity=found.loc[similar, "similar_planted_id"].nunique(),
            recovered_tomtom=len({matrix_id for ids in tomtom_ids for matrix_id in ids}),
            false_discoveries=int(np.sum(~similar.to_numpy() & ~significant)),
        )
        rows.append(row)
    columns = [*by, "patterns", "recovered_similarity", "recovered_tomtom", "false_discoveries"]
    return pd.DataFrame(rows, columns=columns)


def write_report(
    modisco_h5: str | os.PathLike,
    report_dir: str | os.PathLike,
    release: str = "JASPAR2016",
    extra_ids: Sequence[str] = (),
    kind: Literal["full", "simple"] = "full",
    trim_threshold: float = 0.3,
) -> None:
    """tfmodisco-lite's HTML report of a results file, with TOMTOM matches to JASPAR, offline.

    ``'full'`` is ``modisco report`` (``report.html``, images embedded); ``'simple'`` is ``modisco
    report-simple`` (``motifs.html`` + PNGs, several times faster). Both match with memelite's TOMTOM
    (their ``--lite`` mode; the table shows p-values) against ``report_dir/jaspar.meme``, the targets of
    :func:`jaspar_targets`. ``report_dir`` is replaced as a whole on success.
    """
    with needs("modisco", "simplexgrad.studies.modisco"):
        from memelite.io import write_meme

    if kind not in ("full", "simple"):
        raise ValueError(f"report kind must be 'full' or 'simple'; got {kind!r}")
    report_dir = Path(report_dir)
    report_dir.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{report_dir.name}.partial.", dir=report_dir.parent))
    os.chmod(temporary, 0o755)  # mkdtemp's 0700 would hide the report from other users
    try:
        meme = None
        if read_patterns(modisco_h5):  # the reports' TOMTOM step fails on a file without patterns
            meme = str(temporary / "jaspar.meme")
            targets = jaspar_targets(release, tuple(sorted(set(extra_ids))))
            write_meme(meme, {f"{mid}_{'_'.join(name.split())}": pwm.T for mid, name, pwm in targets})
        options = {"img_path_suffix": "./", "meme_motif_db": meme}
        options.update(ttl=True, trim_threshold=trim_threshold)
        with contextlib.redirect_stdout(sys.stderr):  # the reports print their progress
            if kind == "full":
                with needs("modisco", "simplexgrad.studies.modisco"):
                    from modiscolite.descriptive_report import generate_descriptive_report

                generate_descriptive_report(str(modisco_h5), str(temporary), **options)
            else:
                with needs("modisco", "simplexgrad.studies.modisco"):
                    from modiscolite.report import report_motifs

                report_motifs(str(modisco_h5), str(temporary), is_writing_tomtom_matrix=False, **options)
        if report_dir.exists():
            shutil.rmtree(report_dir)
        os.replace(temporary, report_dir)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def find_motifs(
    one_hot: np.ndarray,
    maps: np.ndarray,
    *,
    jaspar_release: str = "JASPAR2016",
    planted_ids: Sequence[str] | None = None,
    trim_threshold: float = 0.3,
    qvalue_threshold: float = QVALUE_THRESHOLD,
    max_matches: int = MAX_MATCHES,
    min_overlap: int = MIN_OVERLAP,
    **settings,
) -> tuple[ModiscoRun, pd.DataFrame]:
    """Motif discovery on arrays: :func:`run_modisco` on ``(N, L, 4)`` ``one_hot`` and ``maps`` (with
    its keyword ``settings``), then :func:`match_patterns` (with the other keywords); returns ``(run,
    table)``; the table is empty when modisco found no pattern."""
    _check_matching(qvalue_threshold, max_matches, min_overlap)
    jaspar_targets(jaspar_release, tuple(sorted(set(planted_ids or ()))))  # fail before modisco runs
    run = run_modisco(one_hot, maps, **settings)
    matching = {"qvalue_threshold": qvalue_threshold, "max_matches": max_matches, "min_overlap": min_overlap}
    return run, match_patterns(run.patterns(), jaspar_release, planted_ids, trim_threshold, **matching)


def _parts(name: str) -> set[str]:
    """The TFs of a JASPAR motif name: ``'Pou5f1::Sox2'`` → ``{'POU5F1', 'SOX2'}``, variants dropped."""
    return {part.split("(")[0].upper() for part in name.split("::")}


def modisco_file(
    attributions: str,
    out_dir: str,
    which: Literal["raw", "corrected"] = "corrected",
    jaspar_release: str = "JASPAR2016",
    planted_ids: list[str] | None = None,
    planted_names: list[str] | None = None,
    max_seqlets: int = 2000,
    window: int = 15,
    target_fdr: float = 0.05,
    n_leiden: int = 2,
    max_sequences: int | None = None,
    seed: int = 0,
    report: Literal["full", "simple", "none"] = "full",
    labels: list[str] | None = None,
    qvalue_threshold: float = QVALUE_THRESHOLD,
    max_matches: int = MAX_MATCHES,
    min_overlap: int = MIN_OVERLAP,
) -> None:
    """tfmodisco-lite on one attribution file's raw or corrected maps, patterns matched to JASPAR.

    Writes ``out_dir/modisco.h5`` (modisco's results file), ``out_dir/motifs.tsv`` (one row per pattern:
    :data:`TABLE_COLUMNS` after the label columns, see :func:`match_patterns`) and the HTML report in
    ``out_dir/report/``. When modisco finds no pattern it logs one line naming the input, and motifs.tsv
    records the run in one :func:`no_pattern_row` (pattern ``none``, 0 seqlets), so that the collected
    table and the recovery figure show the run with zero patterns.

    Parameters
    ----------
    attributions : str
        Attribution file (.npz with raw, corrected and x arrays).
    out_dir : str
        Output folder for modisco.h5, motifs.tsv and report/.
    which : {'raw', 'corrected'}
        Which maps are the hypothetical contributions.
    jaspar_release : str
        JASPAR release whose CORE vertebrate motifs TOMTOM matches against.
    planted_ids : list of str or None
        JASPAR matrix IDs counted as planted (the table's planted column).
    planted_names : list of str or None
        TF names whose JASPAR motifs also count (e.g. CTCF, or MAX for Max::Myc); case is ignored.
    max_seqlets : int
        Most seqlets per metacluster (modisco -n).
    window : int
        Seqlet core width (modisco's sliding window, -z); 15-21 for JASPAR-sized motifs.
    target_fdr : float
        Target false discovery rate of seqlet calling.
    n_leiden : int
        Number of Leiden clusterings (modisco -l).
    max_sequences : int or None
        Use at most this many sequences, a random subset drawn with the seed; default all.
    seed : int
        Seed of the order of the sequences given to modisco (and of the subset).
    report : {'full', 'simple', 'none'}
        HTML report: modisco report (full), modisco report-simple (fast), or none.
    labels : list of str or None
        Identifying columns for motifs.tsv, as NAME=VALUE.
    qvalue_threshold : float
        A TOMTOM match is significant (and a planted motif among them counts) when its q-value is below this.
    max_matches : int
        Most significant TOMTOM matches listed per pattern in motifs.tsv's matches column.
    min_overlap : int
        Fewest aligned positions in the PPM-PWM correlation (pwm_similarity column).
    """
    settings = {name: value for name, value in locals().items() if name in _RUN_SETTINGS}
    matching = {"qvalue_threshold": qvalue_threshold, "max_matches": max_matches, "min_overlap": min_overlap}
    _check_matching(**matching)
    columns = parse_labels(labels or [])
    if which not in ("raw", "corrected") or report not in ("full", "simple", "none"):
        raise ValueError(
            f"which must be raw or corrected, report full, simple or none; got {which}, {report}"
        )
    contents = load_attributions(attributions)
    targets = jaspar_targets(jaspar_release, tuple(sorted(set(planted_ids or ()))))  # fails before modisco
    wanted = {name.upper() for name in planted_names or ()}
    planted_ids = [*(planted_ids or ()), *(mid for mid, name, _ in targets if wanted & _parts(name))]
    try:
        run = run_modisco(contents["x"], contents[which], **settings)
    except ValueError as error:
        raise ValueError(f"{attributions}: {error}") from None
    out = Path(out_dir)
    save_modisco(results := out / "modisco.h5", run)
    if patterns := run.patterns():
        with _progress(f"TOMTOM and PWM similarity of {len(patterns)} patterns"):
            table = match_patterns(patterns, jaspar_release, planted_ids, **matching)
    else:
        log.warning(
            "%s: tfmodisco-lite found no pattern in the %s maps of %d sequences; motifs.tsv records the run "
            "as pattern %r with 0 seqlets", attributions, which, len(run.example_rows), NO_PATTERN
        )  # fmt: skip
        table = no_pattern_row()
    write_table(with_labels(table, columns), out / "motifs.tsv")
    if report != "none":
        with _progress(f"modisco {report} report of {len(patterns)} patterns"):
            write_report(results, out / "report", jaspar_release, planted_ids or (), report)


def _numba_cache_dir() -> str:
    """Where numba caches memelite's TOMTOM kernel (after its first call), or '' when it is not known."""
    with needs("modisco", "simplexgrad.studies.modisco"):
        from memelite import tomtom

    kernel = getattr(sys.modules[tomtom.__module__], "_tomtom", None)
    return str(getattr(getattr(kernel, "_cache", None), "_cache_path", ""))


def modisco_kernels(out: str, seed: int = 0) -> None:
    """Compile tfmodisco-lite's and memelite's numba kernels into numba's on-disk cache, once.

    Runs :func:`run_modisco` and :func:`match_patterns` on a small example (:data:`KERNEL_EXAMPLE`: one
    motif planted in random sequences; maps = the one-hot motif plus Gaussian noise) with the array
    types real runs pass, so that later runs in the environment load the kernels instead of compiling
    them for a minute or more each. The workflow runs it before any motif discovery, so that no two
    modisco jobs compile at the same time. The table's one row: the modisco-lite, memelite and numba
    versions, the folder where numba caches memelite's TOMTOM kernel (empty when unknown), the seconds
    taken and the number of patterns found.

    Parameters
    ----------
    out : str
        TSV to write (.tsv): versions, numba's cache folder, seconds taken and patterns found.
    seed : int
        Seed of the example's sequences and noise.
    """
    started = time.perf_counter()
    n, length, motif = KERNEL_EXAMPLE
    rng = np.random.default_rng(seed)
    letters = rng.integers(0, 4, size=(n, length))
    positions = rng.integers(0, length - len(motif) + 1, size=n)[:, None] + np.arange(len(motif))
    letters[np.arange(n)[:, None], positions] = [ALPHABET.index(base) for base in motif]
    one_hot = np.eye(4, dtype=np.float32)[letters]
    signal = np.zeros((n, length, 1), dtype=np.float32)
    signal[np.arange(n)[:, None], positions] = 1.0
    maps = one_hot * signal + rng.normal(0.0, 0.05, one_hot.shape).astype(np.float32)
    patterns = run_modisco(one_hot, maps, seed=seed).patterns()
    match_patterns(patterns)
    packages = {"modiscolite": "modisco-lite", "memelite": "memelite", "numba": "numba"}
    row = {f"{name}_version": importlib.metadata.version(package) for name, package in packages.items()}
    row.update(numba_cache=_numba_cache_dir(), seconds=time.perf_counter() - started, patterns=len(patterns))
    write_table(pd.DataFrame([row]), out)
