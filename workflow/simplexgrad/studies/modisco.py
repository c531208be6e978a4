"""Motif discovery on attribution maps with tfmodisco-lite: running it, its results file, its HTML report
and its numba kernels, compiled once.

The maps ``(N, L, 4)`` (raw or corrected) are the *hypothetical contributions*; the contribution scores
are ``maps * one_hot``. tfmodisco-lite's Python API takes channels-last arrays; its ``modisco motifs``
command reads ``(N, 4, L)`` arrays (:func:`to_modisco_layout`, :func:`export_modisco_inputs`). The patterns
are matched to JASPAR by :mod:`simplexgrad.studies.motif_matching` (TOMTOM and PWM similarity); all of it
runs offline.

Determinism: tfmodisco-lite seeds its own randomness (``RandomState(1234)``; Leiden run ``i``: seed
``100 * i``), memelite's TOMTOM has none; ``seed`` draws the order in which sequences reach modisco.
"""

from __future__ import annotations

import contextlib
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
from typing import Literal

import h5py
import numpy as np

from simplexgrad._optional import needs

with needs("modisco", "simplexgrad.studies.modisco"):
    import pandas as pd

    from simplexgrad._arrays import ALPHABET, as_sequences, check_finite, check_one_hot, same_shape
    from simplexgrad.io import atomic_output, load_attributions
    from simplexgrad.studies.motif_matching import (
        MAX_MATCHES,
        MIN_OVERLAP,
        NO_PATTERN,
        QVALUE_THRESHOLD,
        Pattern,
        check_matching,
        jaspar_targets,
        match_patterns,
        no_pattern_row,
    )
    from simplexgrad.tables import parse_labels, with_labels, write_table

log = logging.getLogger(__name__)

__all__ = [
    "ModiscoRun",
    "to_modisco_layout",
    "from_modisco_layout",
    "modisco_inputs",
    "export_modisco_inputs",
    "run_modisco",
    "save_modisco",
    "read_patterns",
    "write_report",
    "find_motifs",
    "modisco_file",
    "modisco_kernels",
]

PROGRESS_EVERY_S = 300.0  # a running tfmodisco-lite logs that it still runs this often (seconds)
PATTERN_GROUPS = ("pos_patterns", "neg_patterns")
# `modisco motifs` settings not exposed here, at that command's defaults.
_MODISCO_FIXED = {"trim_to_window_size": 30, "initial_flank_to_add": 10, "final_flank_to_add": 0}
_RUN_SETTINGS = ("max_seqlets", "window", "target_fdr", "n_leiden", "max_sequences", "seed")
# modisco_kernels' example: sequences, their length, and the motif planted once in each.
KERNEL_EXAMPLE = (300, 100, "TTGACTCATG")


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
    :func:`~simplexgrad.studies.motif_matching.jaspar_targets`. ``report_dir`` is replaced as a whole on
    success.
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
    its keyword ``settings``), then :func:`~simplexgrad.studies.motif_matching.match_patterns` (with the other
    keywords); returns ``(run, table)``; the table is empty when modisco found no pattern."""
    check_matching(qvalue_threshold, max_matches, min_overlap)
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
    :data:`~simplexgrad.studies.motif_matching.TABLE_COLUMNS` after the label columns, see
    :func:`~simplexgrad.studies.motif_matching.match_patterns`) and the HTML report in ``out_dir/report/``.
    When modisco finds no pattern it logs one line naming the input, and motifs.tsv records the run in
    one :func:`~simplexgrad.studies.motif_matching.no_pattern_row` (pattern ``none``, 0 seqlets), so that the
    collected table and the recovery figure show the run with zero patterns.

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
    check_matching(**matching)
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

    Runs :func:`run_modisco` and :func:`~simplexgrad.studies.motif_matching.match_patterns` on a small
    example (:data:`KERNEL_EXAMPLE`: one motif planted in random sequences; maps = the one-hot motif plus
    Gaussian noise) with the array types real runs pass, so that later runs in the environment load the
    kernels instead of compiling them for a minute or more each. The workflow runs it before any motif
    discovery, so that no two modisco jobs compile at the same time. The table's one row: the
    modisco-lite, memelite and numba versions, the folder where numba caches memelite's TOMTOM kernel
    (empty when unknown), the seconds taken and the number of patterns found.

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
