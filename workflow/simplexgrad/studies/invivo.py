"""The in vivo study: an ensemble of models of one type trained on one TF's data, their saliency maps
against the ensemble's, angle statistics of members and of the ensemble map, and the ensemble's AUROC.

An ensemble's map is the mean of its members' *raw* maps (:func:`simplexgrad.metrics.ensemble_average`);
how far each member's map lies from it, before and after correction, is
:func:`simplexgrad.metrics.ensemble_difference_by_angle`. Members are read one at a time, so an ensemble
of 50 maps of a large TF never sits in memory at once.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from simplexgrad._optional import needs

with needs("workflow", "simplexgrad.studies.invivo"):
    import pandas as pd

    from simplexgrad import io
    from simplexgrad.backend import load_model
    from simplexgrad.correction import ANGLE_THRESHOLDS, angle_statistics, correct, simplex_angle
    from simplexgrad.metrics import auroc_per_row, ensemble_average, ensemble_difference_by_angle
    from simplexgrad.studies.evaluation import angle_summary
    from simplexgrad.tables import parse_labels, with_labels, write_table

__all__ = [
    "ANGLE_BINS",
    "AUTHORS_ANGLE_BINS",
    "angle_bin_edges",
    "MemberMaps",
    "angle_histogram",
    "ensemble_predictions_auroc",
    "invivo_ensemble",
]

ANGLE_BINS = np.arange(-90.0, 91.0, 5.0)  # 36 bins of 5°
# The authors' binning of Fig 3e: 37 bins of 180/37° over [-90°, 90°], drawn at -90 + 5i (i = 0 … 36).
AUTHORS_ANGLE_BINS = np.linspace(-90.0, 90.0, 38)
AngleBins = Literal["authors", "5"]


def angle_bin_edges(choice: AngleBins = "authors") -> tuple[np.ndarray, np.ndarray]:
    """Edges of the angle bins of Fig 3e and App. Figs 9/10 and where each bin is drawn.

    Parameters
    ----------
    choice : {"authors", "5"}
        ``"authors"``: 37 bins of 180/37° drawn at −90 + 5i, as the authors' plotting code does (so that
        the curve matches the paper's point for point); ``"5"``: 36 bins of 5° drawn at their centres.

    Returns
    -------
    tuple of numpy.ndarray
        The ``(B + 1,)`` edges in degrees and the ``(B,)`` angles at which the bins are drawn.
    """
    if choice == "authors":
        return AUTHORS_ANGLE_BINS, -90.0 + 5.0 * np.arange(len(AUTHORS_ANGLE_BINS) - 1)
    if str(choice) == "5":
        return ANGLE_BINS, (ANGLE_BINS[:-1] + ANGLE_BINS[1:]) / 2
    raise ValueError(f"angle bins must be 'authors' or '5'; got {choice!r}")


class MemberMaps:
    """The raw maps of an ensemble's members, read from their attribution files on each iteration (so that
    the members can be streamed twice: once for the mean, once for the distances)."""

    def __init__(self, paths: Sequence[str | os.PathLike]):
        if not paths:
            raise ValueError("an ensemble needs at least one attribution file")
        self.paths = list(paths)
        first = io.load_attributions(self.paths[0])
        self.indices, self.x, self.split = first["indices"], first["x"], first["params"]["split"]

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[np.ndarray]:
        for path in self.paths:
            maps = io.load_attributions(path)
            if not np.array_equal(maps["indices"], self.indices) or maps["params"]["split"] != self.split:
                raise ValueError(f"{path}: explains other sequences than {self.paths[0]}")
            yield maps["raw"]


def angle_histogram(angles: np.ndarray, bins: np.ndarray = ANGLE_BINS) -> np.ndarray:
    """Counts of a map's angles (NaN where the gradient is zero: left out) per angle bin:
    ``(len(bins) - 1,)`` int64 (an angle of exactly 90 degrees falls in the last bin)."""
    return np.histogram(angles[~np.isnan(angles)], bins=bins)[0].astype(np.int64)


def ensemble_predictions_auroc(models: Sequence[str], data: str, batch_size: int = 500) -> tuple[list, float]:
    """Test AUROC of each member and of the ensemble (the mean of the members' predicted probabilities)."""
    test = io.load_split(data, "test")
    positive = (test.y[:, 0] == 1)[None, :]
    predictions = np.stack(
        [load_model(path).predict(test.x, batch_size=batch_size, verbose=0)[:, 0] for path in models]
    )
    members = auroc_per_row(
        predictions, np.repeat(positive, len(models), 0), ~np.repeat(positive, len(models), 0)
    )
    ensemble = auroc_per_row(predictions.mean(axis=0, keepdims=True), positive, ~positive)[0]
    return members.tolist(), float(ensemble)


def invivo_ensemble(
    members: list[str],
    attributions: list[str],
    data: str,
    out_dir: str,
    labels: list[str] | None = None,
    thresholds: list[float] | None = None,
    angle_bins: AngleBins = "authors",
) -> None:
    """Everything the in vivo figures need from one ensemble, written to a folder.

    Parameters
    ----------
    members : list of str
        The members' training folders (model.keras and metrics.json), in the order of ``attributions``.
    attributions : list of str
        The members' saliency files (.npz) on the same sequences.
    data : str
        The TF's dataset (.h5), for the ensemble's test AUROC.
    out_dir : str
        Folder for differences.tsv, angles.tsv, angle_histogram.tsv, sequence_angles.tsv,
        classification.tsv and ensemble.npz.
    labels : list of str or None
        Identifying columns of every table, as NAME=VALUE (e.g. tf=CTCF).
    thresholds : list of float or None
        Angles (degrees) for the large-angle percentages; default 30, 45 and 60.
    angle_bins : {"authors", "5"}
        Angle bins of differences.tsv and angle_histogram.tsv: authors (37 of 180/37°) or 5 (5° each).
        Both tables get ``bin_low``, ``bin_high`` and ``plot_angle``, where the figures draw the bin
        (the authors draw bin i at −90 + 5i; 5° bins at their centres).
    """
    if len(members) != len(attributions):
        raise ValueError(f"{len(members)} members but {len(attributions)} attribution files")
    columns = parse_labels(labels or [])
    thresholds = thresholds or list(ANGLE_THRESHOLDS)
    edges, drawn_at = angle_bin_edges(angle_bins)
    records = [json.loads((Path(member) / "metrics.json").read_text()) for member in members]
    maps = MemberMaps(attributions)
    mean = ensemble_average(maps)
    out = Path(out_dir)

    differences = ensemble_difference_by_angle(maps, bins=edges, ensemble_mean=mean)
    differences.insert(2, "plot_angle", drawn_at)
    write_table(with_labels(differences, columns), out / "differences.tsv")

    angle_rows, histogram_rows, sequence_tables = [], [], []
    names = [f"filters{r['first_layer_filters']}_seed{r['seed']}" for r in records]
    for name, member in itertools.chain(zip(names, maps), [("ensemble", mean)]):  # streamed
        angles, per_sequence = simplex_angle(member, zero=np.nan), angle_statistics(member, thresholds)
        angle_rows.append({"member": name, **angle_summary(angles, per_sequence)})
        histogram_rows.append({"member": name, "counts": angle_histogram(angles, edges)})
        if name != "ensemble":
            sequence_tables.append(
                pd.DataFrame({"sequence": maps.indices, **per_sequence}).assign(member=name)
            )
    write_table(with_labels(pd.DataFrame(angle_rows), columns), out / "angles.tsv")
    histogram = pd.DataFrame(
        [
            {"member": row["member"], "bin_low": low, "bin_high": high, "plot_angle": at, "count": count}
            for row in histogram_rows
            for low, high, at, count in zip(edges[:-1], edges[1:], drawn_at, row["counts"])
        ]
    )
    write_table(with_labels(histogram, columns), out / "angle_histogram.tsv")
    sequence_angles = pd.concat(sequence_tables, ignore_index=True)
    write_table(with_labels(sequence_angles, columns), out / "sequence_angles.tsv")

    member_aurocs, ensemble_auroc = ensemble_predictions_auroc([f"{m}/model.keras" for m in members], data)
    classification = pd.DataFrame(
        [
            {
                "members": len(members),
                "member_auroc_mean": float(np.mean(member_aurocs)),
                "member_auroc_sd": float(np.std(member_aurocs, ddof=1)) if len(members) > 1 else np.nan,
                "ensemble_auroc": ensemble_auroc,
            }
        ]
    )
    write_table(with_labels(classification, columns), out / "classification.tsv")
    io.save_attributions(
        out / "ensemble.npz",
        mean,
        correct(mean),
        maps.x,
        maps.indices,
        {"method": "saliency", "split": maps.split, "ensemble_of": [os.fspath(m) for m in members]},
    )
