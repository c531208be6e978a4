"""Motif discovery on attribution maps with tfmodisco-lite, matched to JASPAR by TOMTOM (memelite).

The maps ``(N, L, 4)`` (raw or corrected) are the *hypothetical contributions*; the contribution scores
are ``maps * one_hot``. tfmodisco-lite's Python API takes channels-last arrays; its ``modisco motifs``
command reads ``(N, 4, L)`` arrays (:func:`to_modisco_layout`, :func:`export_modisco_inputs`). All of it
runs offline: JASPAR from pyjaspar's SQLite files, TOMTOM from memelite (no MEME suite binary).

Determinism: tfmodisco-lite seeds its own randomness (``RandomState(1234)``; Leiden run ``i``: seed
``100 * i``), memelite's TOMTOM has none; ``seed`` draws the order in which sequences reach modisco.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import pandas as pd

from simplexgrad._arrays import as_sequences, check_finite, check_one_hot, same_shape
from simplexgrad.io import atomic_output, load_attributions
from simplexgrad.motifs import COLLECTION, TAX_GROUP, _database, _to_pwm, load_motifs

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
    "jaspar_targets",
    "match_patterns",
    "write_report",
    "find_motifs",
    "discover_motifs",
]

TABLE_COLUMNS = ("pattern", "seqlets", "best_match_id", "best_match_name", "tomtom_qvalue", "planted")
PATTERN_GROUPS = ("pos_patterns", "neg_patterns")
# `modisco motifs` settings not exposed here, at that command's defaults.
_MODISCO_FIXED = {"trim_to_window_size": 30, "initial_flank_to_add": 10, "final_flank_to_add": 0}
_RUN_SETTINGS = ("max_seqlets", "window", "target_fdr", "n_leiden", "max_sequences", "seed")


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
    seqlets (modisco's minimum) gets no patterns.

    Parameters
    ----------
    one_hot, maps : numpy.ndarray
        ``(N, L, 4)`` one-hot sequences (ACGT) and hypothetical contributions.
    flank : int
        Flank added on each side of a seqlet core (``flank_size``, ``modisco motifs -f``).
    max_seqlets, window, target_fdr, n_leiden, max_sequences, seed
        As in :func:`discover_motifs`; :func:`save_modisco` writes the result.
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
    from modiscolite import tfmodisco

    settings = {"sliding_window_size": window, "flank_size": flank, "n_leiden_runs": n_leiden}
    settings.update(max_seqlets_per_metacluster=max_seqlets, target_seqlet_fdr=target_fdr, **_MODISCO_FIXED)
    sequences, hypothetical = np.ascontiguousarray(x[rows]), np.ascontiguousarray(hypothetical[rows])
    pos, neg = tfmodisco.TFMoDISco(one_hot=sequences, hypothetical_contribs=hypothetical, **settings)
    return ModiscoRun(list(pos or []), list(neg or []), rows.astype(np.int64), int(x.shape[1]))


def save_modisco(path: str | os.PathLike, run: ModiscoRun) -> None:
    """Write modisco's results HDF5 with ``modiscolite.io.save_hdf5`` (what ``modisco report`` reads),
    atomically, plus a root dataset ``example_rows`` (the input row of each modisco example index)."""
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


@functools.lru_cache(maxsize=8)
def jaspar_targets(release: str = "JASPAR2016", extra_ids: tuple[str, ...] = ()) -> tuple[tuple, ...]:
    """TOMTOM's targets: the release's CORE vertebrate motifs (latest versions) plus ``extra_ids``, as
    ``(matrix_id, name, pwm (W, 4))`` sorted by ID, offline through pyjaspar; ValueError if unknown."""
    motifs = _database(release).fetch_motifs(collection=COLLECTION, tax_group=[TAX_GROUP])
    targets = {motif.matrix_id: (motif.name, _to_pwm(motif)) for motif in motifs}
    missing = [matrix_id for matrix_id in extra_ids if matrix_id not in targets]
    for motif in load_motifs(missing, release)[::2]:  # forward orientations
        targets[motif.matrix_id] = (motif.name, motif.pwm)
    return tuple((matrix_id, *targets[matrix_id]) for matrix_id in sorted(targets))


def match_patterns(
    patterns: Sequence[Pattern],
    release: str = "JASPAR2016",
    planted_ids: Sequence[str] | None = None,
    trim_threshold: float = 0.3,
) -> pd.DataFrame:
    """Best JASPAR match of each pattern by TOMTOM (memelite): a table with :data:`TABLE_COLUMNS`.

    Each PPM is trimmed (:func:`trim_pattern`) and compared with all :func:`jaspar_targets` on both
    strands. The q-value is Benjamini-Hochberg over the pattern's p-values against all targets (MEME's
    tomtom also computes q-values per query, estimating pi0; this is the conservative pi0 = 1). Ties go
    to the lower matrix ID; ``planted`` says whether the best match is one of ``planted_ids``.
    """
    from scipy.stats import false_discovery_control

    planted = set(planted_ids or ())
    targets = jaspar_targets(release, tuple(sorted(planted)))
    if not patterns:
        return pd.DataFrame({column: [] for column in TABLE_COLUMNS})
    from memelite import tomtom

    queries = [trim_pattern(p.ppm, p.cwm, trim_threshold).T for p in patterns]
    as_float = functools.partial(np.ascontiguousarray, dtype=np.float64)  # one compiled TOMTOM variant
    p_values = tomtom([as_float(q) for q in queries], [as_float(pwm.T) for _, _, pwm in targets])[0]
    q_values = false_discovery_control(np.clip(p_values, 0.0, 1.0), axis=1)
    best = np.argmin(p_values, axis=1)
    ids = [targets[i][0] for i in best]
    table = {"pattern": [p.name for p in patterns], "seqlets": [p.n_seqlets for p in patterns]}
    table.update(best_match_id=ids, best_match_name=[targets[i][1] for i in best])
    table.update(tomtom_qvalue=q_values[np.arange(len(best)), best], planted=[i in planted for i in ids])
    return pd.DataFrame(table)


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
                from modiscolite.descriptive_report import generate_descriptive_report

                generate_descriptive_report(str(modisco_h5), str(temporary), **options)
            else:
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
    **settings,
) -> tuple[ModiscoRun, pd.DataFrame]:
    """Motif discovery on arrays: :func:`run_modisco` on ``(N, L, 4)`` ``one_hot`` and ``maps`` (with
    its keyword ``settings``), then :func:`match_patterns`; returns ``(run, table)``."""
    jaspar_targets(jaspar_release, tuple(sorted(set(planted_ids or ()))))  # fail before modisco runs
    run = run_modisco(one_hot, maps, **settings)
    return run, match_patterns(run.patterns(), jaspar_release, planted_ids, trim_threshold)


def _parts(name: str) -> set[str]:
    """The TFs of a JASPAR motif name: ``'Pou5f1::Sox2'`` → ``{'POU5F1', 'SOX2'}``, variants dropped."""
    return {part.split("(")[0].upper() for part in name.split("::")}


def discover_motifs(
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
) -> None:
    """tfmodisco-lite on one attribution file's raw or corrected maps, patterns matched to JASPAR.

    Writes ``out_dir/modisco.h5`` (modisco's results file), ``out_dir/motifs.tsv`` (one row per pattern:
    :data:`TABLE_COLUMNS` after the label columns) and the HTML report in ``out_dir/report/``.

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
    """
    from simplexgrad.evaluation import parse_labels, with_labels, write_table

    settings = {name: value for name, value in locals().items() if name in _RUN_SETTINGS}
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
    write_table(
        with_labels(match_patterns(run.patterns(), jaspar_release, planted_ids), columns), out / "motifs.tsv"
    )
    if report != "none":
        write_report(results, out / "report", jaspar_release, planted_ids or (), report)
