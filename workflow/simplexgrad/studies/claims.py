"""A claim of the paper and what one run measures of it: the claim (one row of
``resources/paper_claims.tsv``), a :class:`Measurement`, the run's tables (:class:`RunTables`) and
:class:`NotRun`, with the helpers that every quantity of :mod:`simplexgrad.studies.claim_quantities` uses to
find its rows. This module loads no deep-learning framework.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.claims"):
    import pandas as pd

__all__ = [
    "STUDIES",
    "THRESHOLDS",
    "MODEL",
    "Claim",
    "Measurement",
    "NotRun",
    "NotReachable",
    "RunTables",
    "need",
    "model_labels",
    "matching_rows",
    "percent_columns",
    "joined",
]

# study -> its heading; every quantity needs one of them (a claim of a study that is off is not run)
STUDIES = {
    "synthetic": "Synthetic study",
    "invivo": "In vivo study",
    "init_study": "Initialisation study",
    "angle_penalty_study": "Angle-penalty study",
    "gpu": "GPU timing",
}
THRESHOLDS = (30, 45, 60)
# A model type as claims name it: architecture_activation.
MODEL = re.compile(r"^(?P<architecture>[a-z0-9_]+?)_(?P<activation>relu|exponential)$")


@dataclass(frozen=True)
class Claim:
    """One row of the claims file (every column a string, as written)."""

    claim: str
    source: str
    study: str
    quantity: str
    model: str
    method: str
    metric: str
    reference: str
    statement: str
    paper: str
    comparison: str
    tolerance: str
    tolerance_source: str


@dataclass(frozen=True)
class Measurement:
    """What the run shows for one claim.

    ``value`` has one component, or one per angle threshold (30, 45, 60°); ``n`` counts the seeds, models
    or TFs behind it; ``differences`` (paired, e.g. corrected − raw per seed) or ``groups`` (two sets of
    models) are the samples of a direction's test; ``note`` says how the value was obtained.
    """

    value: tuple[float, ...]
    n: int
    differences: np.ndarray | None = None
    groups: tuple[np.ndarray, np.ndarray] | None = None
    note: str = ""


class NotRun(Exception):
    """The claim cannot be measured in this run (its study is off, or its model type or table is absent)."""


class NotReachable(NotRun):
    """The claim cannot be measured by any run of this project (its data, model or hardware is out of
    reach); the message says why. A kind of :class:`NotRun`, which the scorecard reports apart."""


@dataclass
class RunTables:
    """The run's tables, each None where its study is not part of the run.

    Parameters
    ----------
    metrics, angles : pandas.DataFrame or None
        The synthetic study's collected ``metrics.tsv`` and ``angles.tsv``.
    maps : mapping or None
        ``{model: [(seed, saliency .npz path), ...]}`` of the synthetic study, with ``data`` its dataset.
    data : str or None
        The synthetic dataset (.h5) with the ground-truth sequence models.
    models : list of dict or None
        The synthetic models' ``metrics.json`` contents.
    accelerator : str
        ``gpu`` when the run trained on a GPU, else ``cpu``.
    init_study, angle_penalty_study : pandas.DataFrame or None
        The training studies' per-model ``summary.tsv``.
    invivo_differences, invivo_angles : pandas.DataFrame or None
        The in vivo study's collected ``ensemble_difference.tsv`` and ``angles.tsv``.
    null : RunTables or None
        The run's null baseline (its models untrained), for the claims measured against it; the null's
        own tables have themselves as their null, so such a claim never holds for the null.
    """

    metrics: pd.DataFrame | None = None
    angles: pd.DataFrame | None = None
    maps: Mapping[str, list[tuple[int, str]]] | None = None
    data: str | None = None
    models: list[dict] | None = None
    accelerator: str = "cpu"
    init_study: pd.DataFrame | None = None
    angle_penalty_study: pd.DataFrame | None = None
    invivo_differences: pd.DataFrame | None = None
    invivo_angles: pd.DataFrame | None = None
    null: RunTables | None = field(default=None, repr=False)
    _spreads: dict = field(default_factory=dict, repr=False)


def need(table, study: str, what: str):
    """``table``, or :class:`NotRun` naming ``what`` when the run has none (its study is off)."""
    if table is None:
        raise NotRun(f"{what} not in this run ({STUDIES[study].lower()} off or not planned)")
    return table


def model_labels(claim: Claim) -> dict[str, str]:
    """``{"architecture": ..., "activation": ...}`` of a claim's ``architecture_activation`` model."""
    match = MODEL.match(claim.model)
    if not match:
        raise ValueError(f"claim {claim.claim}: model {claim.model!r} is not architecture_activation")
    return match.groupdict()


def matching_rows(table: pd.DataFrame, what: str, **labels: str) -> pd.DataFrame:
    """The rows of ``table`` with every column of ``labels`` at its value; :class:`NotRun` if none."""
    mask = np.ones(len(table), dtype=bool)
    for column, value in labels.items():
        mask &= table[column].astype(str).to_numpy() == value
    if not mask.any():
        described = ", ".join(f"{key} {value}" for key, value in labels.items())
        raise NotRun(f"no {described} in {what}")
    return table[mask]


def percent_columns(table: pd.DataFrame, what: str) -> list[str]:
    """The large-angle percentage columns (30, 45, 60°) of ``table``; :class:`NotRun` if one lacks."""
    columns = [f"percent_above_{threshold}" for threshold in THRESHOLDS]
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise NotRun(f"{what} lacks {missing} (figures.angle_thresholds)")
    return columns


def joined(values, spec: str, separator: str = ", ") -> str:
    """``values`` formatted with ``spec`` and joined, for notes."""
    return separator.join(format(float(value), spec) for value in values)
