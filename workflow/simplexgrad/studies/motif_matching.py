"""Patterns of motif discovery matched to known motifs: TOMTOM against JASPAR (memelite), the PPM's
similarity to the planted PWMs, and how many planted motifs a run recovered.

A :class:`Pattern` (e.g. one of tfmodisco-lite's, :mod:`simplexgrad.studies.modisco`) has a position
probability matrix and a contribution weight matrix, both ``(W, 4)`` in ACGT order. All of it runs
offline: JASPAR from pyjaspar's SQLite files, TOMTOM from memelite (no MEME suite binary, no randomness).

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

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from simplexgrad._optional import needs

with needs("modisco", "simplexgrad.studies.motif_matching"):
    import pandas as pd

    from simplexgrad.data.motifs import core_vertebrate_pwms, load_motifs, reverse_complement

__all__ = [
    "TABLE_COLUMNS",
    "Pattern",
    "trim_pattern",
    "trim_by_information",
    "Similarity",
    "pwm_similarity",
    "jaspar_targets",
    "check_matching",
    "match_patterns",
    "no_pattern_row",
    "recovery_counts",
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


@dataclass(frozen=True)
class Pattern:
    """One pattern: ``name`` as in modisco's report (``'pos_patterns.pattern_0'``), its seqlet count,
    position probability matrix ``ppm`` and contribution weight matrix ``cwm``, both ``(W, 4)``."""

    name: str
    n_seqlets: int
    ppm: np.ndarray
    cwm: np.ndarray


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


def check_matching(qvalue_threshold: float, max_matches: int, min_overlap: int) -> None:
    """Check :func:`match_patterns`' settings before anything runs.

    Parameters
    ----------
    qvalue_threshold : float
        Must be in ``(0, 1]``.
    max_matches, min_overlap : int
        Must be at least 1.

    Raises
    ------
    ValueError
        Naming the setting out of range and its value.
    """
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
        The patterns (e.g. :meth:`simplexgrad.studies.modisco.ModiscoRun.patterns` or
        :func:`simplexgrad.studies.modisco.read_patterns`).
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
    with needs("modisco", "simplexgrad.studies.motif_matching"):
        from scipy.stats import false_discovery_control

    check_matching(qvalue_threshold, max_matches, min_overlap)
    planted = list(dict.fromkeys(planted_ids or ()))
    targets = jaspar_targets(release, tuple(sorted(planted)))
    if not patterns:
        return pd.DataFrame({column: [] for column in TABLE_COLUMNS})
    with needs("modisco", "simplexgrad.studies.motif_matching"):
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
