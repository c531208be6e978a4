"""Position probability matrices from JASPAR, offline through ``pyjaspar`` (it ships the SQLite releases).

A PWM here is a float64 array ``(W, 4)`` of per-position probabilities in ACGT order (counts divided by
their column total); its reverse complement is ``pwm[::-1, ::-1]``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np

from simplexgrad._arrays import ALPHABET
from simplexgrad._optional import needs

__all__ = [
    "CORE_MOTIFS",
    "Motif",
    "reverse_complement",
    "available_releases",
    "core_vertebrate_pwms",
    "load_motifs",
    "core_and_background_pools",
    "read_motif_ids",
    "published_background_ids",
    "BACKGROUND_CHOICES",
]

COLLECTION = "CORE"
TAX_GROUP = "vertebrates"
# The synthetic study's core motifs (JASPAR 2016): SP1, Gabpa, CEBPB, MAX, YY1.
CORE_MOTIFS = ("MA0079.3", "MA0062.2", "MA0466.2", "MA0058.3", "MA0095.2")
# Background pools by keyword: the published generator's 50 IDs (shipped with the package), or a draw.
BACKGROUND_CHOICES = ("published", "draw")
PUBLISHED_BACKGROUND_TABLE = "published_background_motifs.tsv"


@dataclass(frozen=True)
class Motif:
    """One oriented motif: ``matrix_id`` with ``strand`` '+' or '-' and its ``(W, 4)`` probabilities."""

    matrix_id: str
    name: str
    strand: str
    pwm: np.ndarray

    @property
    def label(self) -> str:
        return f"{self.matrix_id}{self.strand}"


def reverse_complement(pwm: np.ndarray) -> np.ndarray:
    """Reverse complement of a ``(W, 4)`` ACGT matrix: positions reversed, A↔T and C↔G."""
    pwm = np.asarray(pwm)
    if pwm.ndim != 2 or pwm.shape[1] != 4:
        raise ValueError(f"pwm must have shape (W, 4) in ACGT order; got shape {pwm.shape}")
    return pwm[::-1, ::-1].copy()


def available_releases() -> list[str]:
    """JASPAR releases shipped with the installed pyjaspar."""
    with needs("modisco", "simplexgrad.data.motifs"):
        from pyjaspar import jaspardb

    return list(jaspardb().get_releases())


def _database(release: str):
    with needs("modisco", "simplexgrad.data.motifs"):
        from pyjaspar import jaspardb

    releases = available_releases()
    if release not in releases:
        raise ValueError(f"JASPAR release {release!r} is not available; pyjaspar ships {releases}")
    return jaspardb(release=release)


def _to_pwm(jaspar_motif) -> np.ndarray:
    counts = np.array([jaspar_motif.counts[letter] for letter in ALPHABET], dtype=np.float64).T
    totals = counts.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError(f"JASPAR motif {jaspar_motif.matrix_id} has a column without counts")
    return counts / totals


def core_vertebrate_pwms(release: str = "JASPAR2016") -> dict[str, tuple[str, np.ndarray]]:
    """Every CORE vertebrate motif of ``release`` as pyjaspar lists it: matrix ID → (name, PWM ``(W, 4)``).

    Raises
    ------
    ValueError
        For a release that pyjaspar does not ship, or a motif with a column without counts.
    """
    motifs = _database(release).fetch_motifs(collection=COLLECTION, tax_group=[TAX_GROUP])
    return {motif.matrix_id: (motif.name, _to_pwm(motif)) for motif in motifs}


def _check_core_vertebrate(jaspar_motif, matrix_id: str, release: str) -> None:
    tax_groups = jaspar_motif.tax_group
    tax_groups = [tax_groups] if isinstance(tax_groups, str) else list(tax_groups or [])
    if jaspar_motif.collection != COLLECTION or TAX_GROUP not in tax_groups:
        raise ValueError(
            f"{matrix_id} in {release} is {jaspar_motif.collection}/{tax_groups}, "
            f"not {COLLECTION}/{TAX_GROUP}"
        )


def load_motifs(matrix_ids: Sequence[str], release: str = "JASPAR2016") -> list[Motif]:
    """Load motifs by matrix ID, each as its forward and reverse-complement orientation.

    Parameters
    ----------
    matrix_ids : sequence of str
        JASPAR matrix IDs with version, e.g. ``'MA0079.3'``; each must be CORE vertebrates.
    release : str
        JASPAR release, e.g. ``'JASPAR2016'``.

    Returns
    -------
    list of Motif
        ``2 * len(matrix_ids)`` motifs: for each ID, '+' then '-'.

    Raises
    ------
    ValueError
        For an unknown release or ID, or an ID outside CORE vertebrates.
    """
    database = _database(release)
    motifs = []
    for matrix_id in matrix_ids:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyjaspar warns, then returns None, for unknown IDs
            found = database.fetch_motif_by_id(matrix_id)
        if found is None:
            raise ValueError(f"JASPAR matrix ID {matrix_id!r} is not in {release}")
        _check_core_vertebrate(found, matrix_id, release)
        pwm = _to_pwm(found)
        motifs.append(Motif(found.matrix_id, found.name, "+", pwm))
        motifs.append(Motif(found.matrix_id, found.name, "-", reverse_complement(pwm)))
    return motifs


def read_motif_ids(path: str | os.PathLike) -> list[str]:
    """Matrix IDs from the first column of a TSV with a header (e.g. ``matrix_id<TAB>name``)."""
    with needs("modisco", "simplexgrad.data.motifs"):
        import pandas as pd

    table = pd.read_csv(path, sep="\t", dtype=str)
    ids = table.iloc[:, 0].str.strip().tolist() if len(table.columns) else []
    if not ids:
        raise ValueError(f"{path}: no matrix IDs (expected a header line and one ID per row)")
    return ids


def published_background_ids() -> list[str]:
    """The published generator's 50 background matrix IDs (JASPAR 2016 CORE vertebrates, picked by the
    authors with NumPy seed 22), read from the table shipped inside the package
    (``simplexgrad/resources/published_background_motifs.tsv``)."""
    table = resources.files("simplexgrad").joinpath("resources", PUBLISHED_BACKGROUND_TABLE)
    with resources.as_file(table) as path:
        return read_motif_ids(path)


def core_and_background_pools(
    core_ids: Sequence[str] = CORE_MOTIFS,
    background_ids: Sequence[str] | Literal["published", "draw"] = "published",
    num_background: int = 50,
    release: str = "JASPAR2016",
    seed: int = 0,
) -> tuple[list[Motif], list[Motif]]:
    """The two motif pools of the billboard generator.

    The core pool is the core motifs in both orientations. The background pool is the core pool plus
    other CORE vertebrate motifs in both orientations: by default the published generator's 50
    (:func:`published_background_ids`); ``"draw"``: ``num_background`` drawn without replacement with
    ``seed`` from the release's motifs sorted by ID, leaving out every motif that shares a name with a
    core motif (e.g. an older SP1 matrix); or the given matrix IDs.

    Parameters
    ----------
    core_ids : sequence of str
        Core JASPAR matrix IDs (the positives' motifs).
    background_ids : sequence of str, "published" or "draw"
        The other background motifs: the published generator's 50, a seeded draw, or these IDs.
    num_background : int
        With ``"draw"``: how many to draw.
    release : str
        JASPAR release shipped with pyjaspar.
    seed : int
        Seed of the draw.

    Returns
    -------
    tuple of list of Motif
        ``(core, background)`` with ``2 * len(core_ids)`` and ``2 * (len(core_ids) + B)`` motifs, B the
        number of background IDs.
    """
    core = load_motifs(core_ids, release)
    if isinstance(background_ids, str):
        if background_ids not in BACKGROUND_CHOICES:
            raise ValueError(
                f"background_ids must be a list of matrix IDs or one of {list(BACKGROUND_CHOICES)}; "
                f"got {background_ids!r}"
            )
        if background_ids == "published":
            background_ids = published_background_ids()
    if background_ids != "draw":
        overlap = sorted(set(background_ids) & set(core_ids))
        if overlap or len(set(background_ids)) != len(background_ids):
            raise ValueError(
                f"background IDs must be distinct and not core motifs; got {overlap or 'repeats'}"
            )
        return core, core + load_motifs(background_ids, release)
    if num_background < 0:
        raise ValueError(f"num_background must be >= 0; got {num_background}")
    database = _database(release)
    candidates = database.fetch_motifs(collection=COLLECTION, tax_group=[TAX_GROUP])
    core_names = {motif.name.upper() for motif in core}
    eligible = sorted(
        motif.matrix_id
        for motif in candidates
        if motif.matrix_id not in core_ids and motif.name.upper() not in core_names
    )
    if num_background > len(eligible):
        raise ValueError(
            f"{release} has {len(eligible)} eligible background motifs; {num_background} requested"
        )
    chosen = np.random.default_rng(seed).choice(len(eligible), size=num_background, replace=False)
    background = load_motifs([eligible[i] for i in sorted(chosen)], release)
    return core, core + background
