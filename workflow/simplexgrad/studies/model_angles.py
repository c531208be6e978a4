"""How far any Keras model's saliency leans off the simplex (``simplexgrad angles``): a per-sequence
table of angle statistics per output unit, and its figure (as the paper's App. Fig 11 for Basset).

Needs the ``keras`` extra; works on any model with one-hot ``(N, L, A)`` input and map files of any tool
(:mod:`simplexgrad.attribution.maps`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simplexgrad._arrays import Layout, OutputKind, check_one_hot
from simplexgrad._optional import needs
from simplexgrad.attribution.maps import HDF5_SUFFIXES, read_array, to_nla
from simplexgrad.attribution.methods import saliency
from simplexgrad.backend import load_model, scoring_model
from simplexgrad.correction import ANGLE_THRESHOLDS, angle_statistics, check_thresholds, simplex_angle

with needs("keras", "simplexgrad.studies.model_angles"):
    import pandas as pd

    from simplexgrad.plots import common
    from simplexgrad.tables import write_table

__all__ = ["angles"]


def angles(
    model: str,
    data: str,
    out: str,
    out_pdf: str,
    out_png: str,
    key: str | None = None,
    layout: Layout = "NLA",
    class_index: list[int] | None = None,
    output: OutputKind = "probability",
    num_seqs: int | None = None,
    batch_size: int = 128,
    thresholds: list[float] | None = None,
) -> pd.DataFrame:
    """How far a Keras model's saliency leans off the simplex: a per-sequence table and a figure.

    Parameters
    ----------
    model : str
        A Keras 3 model (.keras) with one-hot (N, L, A) input and one or more output units.
    data : str
        One-hot sequences: a dataset file (.h5, default key x_test) or an array file (.npy, .npz).
    out : str
        TSV to write: one row per output unit and sequence.
    out_pdf, out_png : str
        Figure to write: angle density and large-angle histogram (as the paper's App. Fig 11).
    key : str or None
        Array or dataset of --data (default: x_test for .h5, else the only array).
    layout : {'NLA', 'NAL'}
        Layout of --data; the model takes NLA.
    class_index : list of int or None
        Output units to explain (default: all of them).
    output : {'probability', 'logit'}
        Differentiate the model's output or its logit.
    num_seqs : int or None
        Use only the first N sequences.
    batch_size : int
        Model inputs per gradient call.
    thresholds : list of float or None
        Angles (degrees) for the large-angle percentages; default 30, 45 and 60.

    Returns
    -------
    pandas.DataFrame
        The table written to ``out``.
    """
    with needs("keras", "simplexgrad angles"):
        import keras  # noqa: F401  (here, not at import: Keras loads TensorFlow; names the extra to add)

    check_thresholds(thresholds or ANGLE_THRESHOLDS)
    if key is None and Path(data).suffix.lower() in HDF5_SUFFIXES:
        key = "x_test"
    sequences, key = read_array(data, key)
    x = np.ascontiguousarray(to_nla(sequences, layout, f"{data}:{key}" if key else data), dtype=np.float32)
    x = x[:num_seqs] if num_seqs else x
    check_one_hot(x, f"{data}:{key}" if key else data)
    loaded = load_model(model)
    units = int(loaded.output_shape[-1])
    chosen = list(range(units)) if class_index is None else class_index
    bad = [index for index in chosen if not 0 <= index < units]
    if bad:
        raise ValueError(f"{model} has {units} output units; --class-index {bad} is out of range")
    # One scoring model (with output='logit', a linear copy of the last layer) for every unit: its
    # gradient function is compiled once and takes the unit as an argument.
    scorer = scoring_model(loaded, output)
    tables, pooled = [], []
    for index in chosen:
        maps = saliency(scorer, x, class_index=index, batch_size=batch_size)
        statistics = angle_statistics(maps, thresholds or ANGLE_THRESHOLDS)
        tables.append(pd.DataFrame({"class_index": index, "sequence": np.arange(len(x)), **statistics}))
        sample = simplex_angle(maps, zero=np.nan).ravel()
        pooled.append(sample[~np.isnan(sample)])
    table = pd.concat(tables, ignore_index=True)
    write_table(table, out)
    title = f"{Path(model).name}: {len(chosen)} output unit(s), {len(x)} sequences"
    common.save_figure(common.model_angles(np.concatenate(pooled), table, title), out_pdf, out_png)
    return table
