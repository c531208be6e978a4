"""How far any model's saliency leans off the simplex (``simplexgrad angles``): a per-sequence table of
angle statistics per output unit, and its figure (as the paper's App. Fig 11 for Basset).

Needs the ``keras`` extra; works on Keras and PyTorch models with one-hot ``(N, L, A)`` or ``(N, A, L)``
input (``layout``), on sequences from a dataset or array file, a FASTA file or a BED file and a genome
(:mod:`simplexgrad.data.sequences`), and on map files of any tool (:mod:`simplexgrad.attribution.maps`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simplexgrad._arrays import Layout, OutputKind, as_layout, check_one_hot
from simplexgrad._model_files import chosen_units, output_units, stated_layout
from simplexgrad._model_files import output_head as head_of
from simplexgrad._optional import needs
from simplexgrad.attribution.commands import ModelSource, model_sequences
from simplexgrad.attribution.maps import HDF5_SUFFIXES, read_array, to_nla
from simplexgrad.attribution.methods import saliency
from simplexgrad.backend import is_torch_model, load_model, scoring_model
from simplexgrad.correction import ANGLE_THRESHOLDS, angle_statistics, check_thresholds, simplex_angle
from simplexgrad.data.sequences import NO_SEQUENCE_FILE, SequenceInput

with needs("keras", "simplexgrad.studies.model_angles"):
    import pandas as pd

    from simplexgrad.plots import common
    from simplexgrad.tables import write_table

__all__ = ["angles"]


def angles(
    model: str,
    out: str,
    out_pdf: str,
    out_png: str,
    data: str | None = None,
    inputs: SequenceInput = NO_SEQUENCE_FILE,
    key: str | None = None,
    layout: Layout = "NLA",
    class_index: list[str] | None = None,
    output: OutputKind = "probability",
    num_seqs: int | None = None,
    batch_size: int = 128,
    thresholds: list[float] | None = None,
    state_dict: str | None = None,
    output_head: str | None = None,
) -> pd.DataFrame:
    """How far a model's saliency leans off the simplex: a per-sequence table and a figure.

    Parameters
    ----------
    model : str
        Keras (.keras, .h5), TorchScript (.pt), or package.module:factory with --state-dict.
    out : str
        TSV to write: one row per output unit and sequence.
    out_pdf, out_png : str
        Figure to write: angle density and large-angle histogram (as the paper's App. Fig 11).
    data : str or None
        One-hot sequences: a dataset file (.h5, default key x_test) or an array file (.npy, .npz).
    inputs : SequenceInput
        Sequences from a FASTA file or a BED file and a genome instead of --data (:class:`SequenceInput`).
    key : str or None
        Array or dataset of --data (default: x_test for .h5, else the only array).
    layout : {'NLA', 'NAL'}
        Layout of --data; the model is fed the layout its input states (a PyTorch model: this one).
    class_index : list of str or None
        Output units to explain: numbers, ranges (0-3) or all (the default).
    output : {'probability', 'logit'}
        Differentiate the model's output or its logit.
    num_seqs : int or None
        Use only the first N sequences.
    batch_size : int
        Model inputs per gradient call.
    thresholds : list of float or None
        Angles (degrees) for the large-angle percentages; default 30, 45 and 60.
    state_dict : str or None
        Weights (torch.save of a state_dict) of a PyTorch model given as package.module:factory.
    output_head : str or None
        Output head (name or index) of a model with several outputs.

    Returns
    -------
    pandas.DataFrame
        The table written to ``out``.
    """
    check_thresholds(thresholds or ANGLE_THRESHOLDS)
    if inputs.given() == (data is not None):
        raise ValueError("give the sequences as --data, --sequences or --bed, one of them")
    names = None
    if data is not None:
        dataset = key is None and Path(data).suffix.lower() in HDF5_SUFFIXES
        sequences, key = read_array(data, "x_test" if dataset else key)
        where = f"{data}:{key}" if key else data
        x = np.ascontiguousarray(to_nla(sequences, layout, where), dtype=np.float32)
        x = x[:num_seqs] if num_seqs else x
        check_one_hot(x, where)
    loaded = head_of(load_model(model, state_dict), output_head, model)
    feed = stated_layout(loaded) or layout  # a Keras model states its layout; a torch module does not
    source = ModelSource(model, state_dict, feed, output_head)
    if data is None:
        x, names, _ = model_sequences(source, loaded, inputs, num_seqs)
    units = output_units(loaded, as_layout(x[:2], feed), model)
    chosen = chosen_units(["all"] if class_index is None else class_index, units, model)
    # One scoring model (with output='logit', a linear copy of the last layer) for every unit: its
    # gradient function is compiled once and takes the unit as an argument.
    torch_model = is_torch_model(loaded) and not hasattr(loaded, "output_shape")
    scorer = loaded if torch_model else scoring_model(loaded, output)
    fed = as_layout(x, feed)
    labels = np.arange(len(x)) if names is None else names
    tables, pooled = [], []
    for index in chosen:
        chosen_output = {"output": output} if torch_model else {}
        maps = saliency(scorer, fed, class_index=index, batch_size=batch_size, layout=feed, **chosen_output)
        maps = as_layout(maps, feed)
        statistics = angle_statistics(maps, thresholds or ANGLE_THRESHOLDS)
        tables.append(pd.DataFrame({"class_index": index, "sequence": labels, **statistics}))
        sample = simplex_angle(maps, zero=np.nan).ravel()
        pooled.append(sample[~np.isnan(sample)])
    table = pd.concat(tables, ignore_index=True)
    write_table(table, out)
    title = f"{Path(model).name}: {len(chosen)} output unit(s), {len(x)} sequences"
    common.save_figure(common.model_angles(np.concatenate(pooled), table, title), out_pdf, out_png)
    return table
