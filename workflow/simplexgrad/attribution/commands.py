"""The attribution commands: a saved model and a dataset file in, attribution files out.

``simplexgrad attribute`` (:func:`attribute_file`) writes one method's maps; ``simplexgrad
attribute-methods`` (:func:`attribute_methods_file`) writes several methods' maps from one load of the
model and the data, their options given as ``METHOD.NAME=VALUE`` texts. The methods themselves, their
registry and their options are :mod:`simplexgrad.attribution.methods`'; this module reads and writes the
files and turns the command line's texts into the methods' options.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
import types
import typing
from typing import Literal

import numpy as np

from simplexgrad._arrays import Layout, OutputKind, as_layout, check_method_list
from simplexgrad._docs import parameter_help
from simplexgrad._model_files import chosen_units, input_length, output_head, output_units
from simplexgrad.attribution.methods import METHODS, method_options
from simplexgrad.backend import configure_threads, load_model
from simplexgrad.data.sequences import NO_SEQUENCE_FILE, SequenceInput

__all__ = ["attribute_file", "attribute_methods_file", "command_options"]

log = logging.getLogger(__name__)


def attribute_file(
    model: str,
    out: str,
    method: str,
    data: str | None = None,
    inputs: SequenceInput = NO_SEQUENCE_FILE,
    split: Literal["train", "valid", "test"] = "test",
    positives_only: bool = False,
    num_seqs: int | None = None,
    class_index: list[str] | None = None,
    output: OutputKind = "probability",
    batch_size: int = 128,
    threads: int | None = None,
    state_dict: str | None = None,
    layout: Layout = "NLA",
    output_head: str | None = None,
    **options,
) -> None:
    """Raw and corrected maps of a saved model on a dataset split, written as an attribution file.

    Parameters
    ----------
    model : str
        Trained model: Keras (.keras, .h5), TorchScript (.pt), or package.module:factory with --state-dict.
    out : str
        Attribution file to write (.npz): raw, corrected, x, indices, the parameters (and names).
    method : str
        One of :data:`METHODS`.
    data : str or None
        Dataset file (.h5) with ``x_<split>`` and ``y_<split>``; or give --sequences, or --bed and --genome.
    inputs : SequenceInput
        Sequences from a FASTA file or a BED file and a genome instead of --data (:class:`SequenceInput`).
    split : {'train', 'valid', 'test'}
        Dataset split to explain.
    positives_only : bool
        Keep only sequences labelled 1 in output ``class_index``.
    num_seqs : int or None
        Explain only the first N selected sequences.
    class_index : list of str or None
        Output units: one (default 0), several (0 2 5-7) or all; several write OUT_unit<k>.npz files.
    output : {'probability', 'logit'}
        Differentiate the sigmoid output or its logit.
    batch_size : int
        Model inputs per gradient call.
    threads : int or None
        CPU threads for the backend.
    state_dict : str or None
        Weights (torch.save of a state_dict) of a PyTorch model given as package.module:factory.
    layout : {'NLA', 'NAL'}
        The model's input layout: (N, L, 4) or (N, 4, L) (PyTorch's usual one); maps are written NLA.
    output_head : str or None
        Output head (name or index) of a model with several outputs.
    **options
        The method's own options (:func:`method_options`); unset ones take the method's defaults.
    """
    unknown = sorted(set(options) - set(method_options(method)))
    if unknown:
        raise ValueError(f"{method} has no option(s) {unknown}; its options: {list(method_options(method))}")
    settings = (split, positives_only, num_seqs, class_index, output, batch_size, threads)
    source = ModelSource(model, state_dict, layout, output_head)
    _attribute(source, data, inputs, {out: (method, options)}, *settings)


def attribute_methods_file(
    model: str,
    out_dir: str,
    methods: list[str],
    data: str | None = None,
    inputs: SequenceInput = NO_SEQUENCE_FILE,
    split: Literal["train", "valid", "test"] = "test",
    positives_only: bool = False,
    num_seqs: int | None = None,
    class_index: list[str] | None = None,
    output: OutputKind = "probability",
    batch_size: int = 128,
    threads: int | None = None,
    options: list[str] | None = None,
    state_dict: str | None = None,
    layout: Layout = "NLA",
    output_head: str | None = None,
) -> None:
    """Maps of several methods from one load of the model and the data, one attribution file per method.

    ``<out_dir>/<method>.npz`` holds what :func:`attribute_file` writes for that method with the same
    arguments and options. Every method's maps are computed before any file is written.

    Parameters
    ----------
    model : str
        Trained model: Keras (.keras, .h5), TorchScript (.pt), or package.module:factory with --state-dict.
    out_dir : str
        Folder to write one attribution file per method in, named ``<method>.npz``.
        Each holds raw and corrected ``(N, L, A)``, x ``(N, L, A)``, indices ``(N,)`` and the parameters.
    methods : list of str
        Methods of :data:`METHODS`, each named once.
    data : str or None
        Dataset file (.h5) with ``x_<split>`` and ``y_<split>``; or give --sequences, or --bed and --genome.
    inputs : SequenceInput
        Sequences from a FASTA file or a BED file and a genome instead of --data (:class:`SequenceInput`).
    split : {'train', 'valid', 'test'}
        Dataset split to explain.
    positives_only : bool
        Keep only sequences labelled 1 in output ``class_index``.
    num_seqs : int or None
        Explain only the first N selected sequences.
    class_index : list of str or None
        Output units: one (default 0), several (0 2 5-7) or all; several give <method>_unit<k>.npz files.
    output : {'probability', 'logit'}
        Differentiate the sigmoid output or its logit.
    batch_size : int
        Model inputs per gradient call.
    threads : int or None
        CPU threads for the backend.
    options : list of str or None
        Methods' own options as METHOD.NAME=VALUE, e.g. integrated_gradients.steps=25.
        Unset ones take the method's defaults (:func:`method_options`).
    state_dict : str or None
        Weights (torch.save of a state_dict) of a PyTorch model given as package.module:factory.
    layout : {'NLA', 'NAL'}
        The model's input layout: (N, L, 4) or (N, 4, L) (PyTorch's usual one); maps are written NLA.
    output_head : str or None
        Output head (name or index) of a model with several outputs.
    """
    check_method_list(methods)
    for method in methods:
        method_options(method)  # an unknown method is refused before anything is read
    chosen = _parsed_options(options or [], methods)
    outputs = {os.path.join(out_dir, f"{method}.npz"): (method, chosen[method]) for method in methods}
    settings = (split, positives_only, num_seqs, class_index, output, batch_size, threads)
    _attribute(ModelSource(model, state_dict, layout, output_head), data, inputs, outputs, *settings)


def command_options() -> dict[str, tuple[object, str]]:
    """Every method's options as options of ``simplexgrad attribute`` (the keywords of
    :func:`attribute_file`): name → (type, help naming the methods using it and the library's default, per
    method where the methods differ)."""
    options: dict[str, tuple[object, str, dict[str, object]]] = {}
    for method, function in METHODS.items():
        hints, helps = typing.get_type_hints(function), parameter_help(function)
        for name, parameter in method_options(method).items():
            options.setdefault(name, (hints[name], helps.get(name, ""), {}))[2][method] = parameter.default
    described = {}
    for name, (hint, text, defaults) in options.items():
        values = set(map(repr, defaults.values()))
        default = (
            next(iter(defaults.values()))
            if len(values) == 1
            else ", ".join(f"{value} for {method}" for method, value in defaults.items())
        )
        described[name] = (hint, f"{text} [{', '.join(defaults)}] (default: {default})")
    return described


def _parsed_options(items: list[str], methods: list[str]) -> dict[str, dict[str, object]]:
    """Options given as ``METHOD.NAME=VALUE`` texts, per method of ``methods``, each value of the type
    the method's signature gives the option; a ``ValueError`` naming the item for anything else."""
    chosen: dict[str, dict[str, object]] = {method: {} for method in methods}
    for item in items:
        match = re.fullmatch(r"(\w+)\.(\w+)=(.*)", item)
        if match is None:
            raise ValueError(f"option {item!r}: write it as METHOD.NAME=VALUE (smoothgrad.num_samples=50)")
        method, name, text = match.groups()
        if method not in chosen:
            raise ValueError(f"option {item!r}: {method} is not among the methods {methods}")
        known = method_options(method)
        if name not in known:
            raise ValueError(f"option {item!r}: {method} has no option {name!r}; its options: {list(known)}")
        if name in chosen[method]:
            raise ValueError(f"option {item!r}: {method}.{name} is given twice")
        hint = typing.get_type_hints(METHODS[method])[name]
        chosen[method][name] = _option_value(hint, text, item)
    return chosen


def _option_value(hint: object, text: str, item: str) -> object:
    """``text`` as a value of ``hint``: an int, float or str, or one of a Literal's choices (also of a
    Literal in a union, such as :data:`~simplexgrad.attribution.methods.Baseline`)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        hint = next((m for m in members if typing.get_origin(m) is typing.Literal), members[0])
    if typing.get_origin(hint) is typing.Literal:
        choices = typing.get_args(hint)
        if text not in choices:
            raise ValueError(f"option {item!r}: choose one of {list(choices)}")
        return text
    try:
        return hint(text)
    except ValueError:
        raise ValueError(f"option {item!r}: {text!r} is not a valid {hint.__name__}") from None


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """A model as a command names it: the file or import string, its ``state_dict`` file (a PyTorch
    factory's), the input layout it takes and the output head to explain."""

    model: str
    state_dict: str | None = None
    layout: Layout = "NLA"
    output_head: str | None = None

    def load(self):
        """The model with one output head; its stated input shape checked against :attr:`layout`."""
        loaded = output_head(load_model(self.model, self.state_dict), self.output_head, self.model)
        input_length(loaded, self.layout, self.model)
        return loaded


def model_sequences(
    source: ModelSource, loaded, inputs: SequenceInput, num_seqs: int | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """One-hot ``(N, L, 4)`` float32 sequences and their names ``(N,)`` from a FASTA or BED file, at the
    loaded model's input length, and what they were read from."""
    found = inputs.read(input_length(loaded, source.layout, source.model))
    if num_seqs is not None and num_seqs < 1:
        raise ValueError(f"num_seqs must be >= 1; got {num_seqs}")
    return found.x[:num_seqs], found.names[:num_seqs], found.source


def _attribute(
    source: ModelSource,
    data: str | None,
    inputs: SequenceInput,
    outputs: dict[str, tuple[str, dict]],
    split: str,
    positives_only: bool,
    num_seqs: int | None,
    class_index: list[str] | int | None,
    output: OutputKind,
    batch_size: int,
    threads: int | None,
) -> None:
    """Write ``outputs`` (attribution file → (method, its options)) from one load of the model and of the
    selected sequences (a dataset split, or ``inputs``), computing every method's maps before the first
    file is written; the other arguments as for :func:`attribute_file`."""
    from simplexgrad import io  # here: h5py only for files, so `import simplexgrad` stays NumPy-only

    configure_threads(threads)
    if inputs.given() == (data is not None):
        raise ValueError("give the sequences as --data (a dataset file), --sequences or --bed, one of them")
    if inputs.given() and positives_only:
        raise ValueError("--positives-only needs labels: it goes with --data, not --sequences or --bed")
    names = None
    class_index = [class_index] if isinstance(class_index, int) else class_index
    label = [] if "all" in map(str, class_index or ()) else chosen_units(class_index, sys.maxsize, "")
    if positives_only and len(label) != 1:
        raise ValueError("--positives-only selects by one label column: give one --class-index")
    if data is not None:
        split_data = io.load_split(data, split)
        unit = label[0] if positives_only else 0  # the labels' column matters only for positives
        indices = io.select_rows(split_data.y, positives_only, num_seqs, unit, f"{data}:{split}")
        x, where = split_data.x[indices], f"{data}:{split}"
    loaded = source.load()
    if data is None:
        x, names, where = model_sequences(source, loaded, inputs, num_seqs)
        indices = np.arange(len(x))
    layout = source.layout
    units = chosen_units(
        class_index, output_units(loaded, as_layout(x[:2], layout), source.model), source.model
    )
    shared = {"batch_size": batch_size, "output": output, "layout": layout}
    maps = {}
    for (out, (method, options)), unit in ((item, unit) for item in outputs.items() for unit in units):
        out = out if len(units) == 1 else f"{os.path.splitext(out)[0]}_unit{unit}.npz"  # one file per unit
        parameters = {**shared, "class_index": unit, **options}
        defaults = {name: p.default for name, p in method_options(method).items()}
        log.info("%s on %d sequences of %s: %s", method, len(x), where, {**defaults, **parameters})
        raw, corrected = METHODS[method](
            loaded, as_layout(x, layout), return_corrected=True, progress=True, **parameters
        )
        record = {"method": method, "split": split, "model": os.path.basename(source.model)}
        if data is None:
            record.update(split="", sequences=os.path.basename(where))
        maps[out] = as_layout(raw, layout), as_layout(corrected, layout), {**record, **defaults, **parameters}
    for out, (raw, corrected, record) in maps.items():
        io.save_attributions(out, raw, corrected, x, indices, record, names)
