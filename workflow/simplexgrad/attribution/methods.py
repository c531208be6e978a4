"""Gradient-based attribution maps for Keras 3 and PyTorch models on one-hot sequences, and the registry.

All methods take one-hot ``x`` of shape ``(N, L, A)`` (``layout='NLA'``, the default) or ``(N, A, L)``
(``layout='NAL'``, the PyTorch convention) and return float32 maps in the same layout; ``x`` is fed to the
model in that layout. With ``return_corrected=True`` they return ``(raw, corrected)`` where ``corrected``
is ``correct(raw)`` over the alphabet axis of the layout. The model is a Keras 3 model (TensorFlow or JAX
backend) or a ``torch.nn.Module`` (:func:`simplexgrad.backend.attribution_gradients` dispatches on it).
Randomness (shuffled references, noise) is drawn per block of :data:`QUERY_BLOCK` queries from
``numpy.random.default_rng([seed, block])``, so results depend on ``seed`` and the inputs but not on
``batch_size`` or ``layout``. :data:`METHODS` maps each method's name to its function; a method's own
options and their defaults are its keyword parameters (:func:`method_options`). This module imports no
backend until a gradient is needed, so the registry is available without Keras (or torch).
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from simplexgrad._arrays import ALPHABET_AXIS, Layout, OutputKind, Target, as_layout, check_method_list
from simplexgrad._docs import parameter_help
from simplexgrad.attribution._points import (
    QUERY_BLOCK,
    averaged_over_points,
    baseline_as_nla,
    baseline_maker,
    batched_gradients,
    check_queries,
    gradients_in_layout,
    interpolate,
    progress_bar,
    shuffled_references,
    trapezoid_path,
)
from simplexgrad.backend import configure_threads, load_model
from simplexgrad.correction import correct

__all__ = [
    "METHODS",
    "method_options",
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "expected_gradients",
    "shuffled_references",
    "attribute_file",
    "attribute_methods_file",
    "QUERY_BLOCK",
]

log = logging.getLogger(__name__)

Model = Any  # a built Keras 3 model or a torch.nn.Module taking batches in the layout of x
BaselineName = Literal["shuffle", "zeros", "uniform"]
Baseline = BaselineName | np.ndarray


def saliency(
    model: Model,
    x: np.ndarray,
    *,
    batch_size: int = 128,
    class_index: int = 0,
    output: OutputKind = "probability",
    target: Target | None = None,
    layout: Layout = "NLA",
    return_corrected: bool = False,
    progress: bool | None = None,
):
    """Saliency map: the gradient of the prediction with respect to the input.

    Parameters
    ----------
    model : keras.Model or torch.nn.Module
        Model taking batches of ``x`` in ``layout``. A torch module runs in eval mode (training flags
        restored afterwards), on its device and in its dtype; the map equals captum's
        ``Saliency(model).attribute(x, target=class_index, abs=False)``.
    x : numpy.ndarray
        One-hot sequences in ``layout``: each position one-hot, or all zeros for an unknown base.
    batch_size : int
        Model inputs per gradient call.
    class_index : int
        Output unit to explain: column of an ``(N, C)`` output (or 0 for an ``(N,)`` output).
    output : {'probability', 'logit'}
        Keras models: differentiate the sigmoid output or its logit. A torch module is differentiated as
        it returns its outputs (probabilities or logits are the module's business): ``'logit'`` raises a
        ``ValueError``; return logits from the module, or pick them with ``target``.
    target : callable or None
        Instead of ``class_index``, for any other output (tuples, dicts, profile heads): maps the model's
        outputs for a batch to one score per input, shape ``(B,)``, in the model's tensor type (torch
        operations for a module, ``keras.ops`` for a Keras model). For a BPNet-style module returning
        ``(profile_logits, log_counts)`` with profile logits ``(B, strands, L)``, the usual profile score
        is the sum of the logits weighted by their softmax, the weights detached::

            def profile_score(outputs):
                logits = outputs[0].reshape(len(outputs[0]), -1)
                weights = torch.softmax(logits, dim=-1).detach()
                return (logits * weights).sum(dim=-1)

        and ``target=lambda outputs: outputs[1][:, 0]`` explains the counts head.
    layout : {'NLA', 'NAL'}
        The layout of ``x``, of what the model is fed and of the returned maps: ``(N, L, A)`` or
        ``(N, A, L)``. Never guessed from the shape.
    return_corrected : bool
        Also return the simplex-corrected map (corrected over the alphabet axis of ``layout``).
    progress : bool or None
        Show a progress bar; ``None`` shows one for large jobs.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        Float32 raw map in ``layout`` (the shape of ``x``), or ``(raw, corrected)``.
    """
    x = check_queries(model, x, batch_size, layout)
    with (
        gradients_in_layout(model, x, layout, class_index, output, target) as gradient,
        progress_bar(len(x), progress, "saliency") as bar,
    ):
        raw = batched_gradients(gradient, x, batch_size, bar)
    return _result(raw, return_corrected, layout)


def integrated_gradients(
    model: Model,
    x: np.ndarray,
    *,
    baseline: Baseline = "shuffle",
    steps: int = 20,
    seed: int = 0,
    batch_size: int = 128,
    class_index: int = 0,
    output: OutputKind = "probability",
    target: Target | None = None,
    layout: Layout = "NLA",
    return_corrected: bool = False,
    progress: bool | None = None,
):
    """Integrated gradients as the path-averaged gradient from a reference to each query.

    The gradient is evaluated at ``steps + 1`` evenly spaced points ``x' + alpha (x - x')`` and averaged
    with the trapezoid rule. As in the authors' code, the map is not multiplied by ``x - x'``:
    ``sum((x - x') * map)`` approximates ``f(x) - f(x')`` (completeness).

    Against captum: ``IntegratedGradients(model).attribute(x, x', target=class_index,
    n_steps=steps + 1, method='riemann_trapezoid')`` evaluates the same ``steps + 1`` points
    (``alpha = linspace(0, 1, n_steps)``) but weighs them ``1/n_steps`` (halved at both ends), a total of
    ``steps / (steps + 1)`` rather than 1, and multiplies by ``x - x'``. So captum's map equals
    ``(x - x') * map * steps / (steps + 1)``.

    Parameters
    ----------
    model, x, batch_size, class_index, output, target, layout, return_corrected, progress
        As for :func:`saliency`.
    baseline : {'shuffle', 'zeros', 'uniform'} or numpy.ndarray
        Reference: a shuffle of the query's positions, all zeros, 1/A everywhere, or an array.
        An array has the shape of one sequence or of ``x``, in ``layout`` (``(L, A)`` or ``(N, L, A)``
        for 'NLA') and may be soft (any finite values): the interpolation path leaves the simplex's
        vertices by definition.
    steps : int
        Number of interpolation intervals (>= 1).
    seed : int
        Seed for shuffled references.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        Float32 path-averaged gradients in ``layout``, or ``(raw, corrected)``.
    """
    x = check_queries(model, x, batch_size, layout)
    alphas, weights = trapezoid_path(steps)
    reference = baseline_maker(baseline_as_nla(baseline, x, layout), x)

    def points(block: np.ndarray, start: int, rng: np.random.Generator) -> np.ndarray:
        references = reference(block, start, rng)
        return interpolate(references, block, alphas)

    with gradients_in_layout(model, x, layout, class_index, output, target) as gradient:
        raw = averaged_over_points(
            gradient, x, points, weights, seed, batch_size, progress, "integrated gradients"
        )
    return _result(raw, return_corrected, layout)


def smoothgrad(
    model: Model,
    x: np.ndarray,
    *,
    num_samples: int = 25,
    sigma: float = 0.1,
    seed: int = 0,
    batch_size: int = 128,
    class_index: int = 0,
    output: OutputKind = "probability",
    target: Target | None = None,
    layout: Layout = "NLA",
    return_corrected: bool = False,
    progress: bool | None = None,
):
    """SmoothGrad: gradients averaged over noisy copies of each query.

    Parameters
    ----------
    model, x, batch_size, class_index, output, target, layout, return_corrected, progress
        As for :func:`saliency`.
    num_samples : int
        Noisy copies per query (>= 1).
    sigma : float
        Standard deviation of the Gaussian noise added to every entry (>= 0).
    seed : int
        Seed for the noise.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        Float32 averaged gradients in ``layout``, or ``(raw, corrected)``.
    """
    x = check_queries(model, x, batch_size, layout)
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1; got {num_samples}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0; got {sigma}")

    def points(block: np.ndarray, start: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal((len(block), num_samples) + block.shape[1:], dtype=np.float32)
        return block[:, None] + np.float32(sigma) * noise

    weights = np.full(num_samples, 1.0 / num_samples)
    with gradients_in_layout(model, x, layout, class_index, output, target) as gradient:
        raw = averaged_over_points(gradient, x, points, weights, seed, batch_size, progress, "smoothgrad")
    return _result(raw, return_corrected, layout)


def expected_gradients(
    model: Model,
    x: np.ndarray,
    *,
    num_references: int = 10,
    steps: int = 20,
    seed: int = 0,
    batch_size: int = 128,
    class_index: int = 0,
    output: OutputKind = "probability",
    target: Target | None = None,
    layout: Layout = "NLA",
    return_corrected: bool = False,
    progress: bool | None = None,
):
    """Expected gradients: integrated gradients averaged over shuffled references of each query.

    Parameters
    ----------
    model, x, batch_size, class_index, output, target, layout, return_corrected, progress
        As for :func:`saliency`.
    num_references : int
        Random shuffles of the query used as references (>= 1).
    steps : int
        Interpolation intervals per reference (>= 1).
    seed : int
        Seed for the shuffles.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        Float32 averaged path gradients in ``layout``, or ``(raw, corrected)``.
    """
    x = check_queries(model, x, batch_size, layout)
    if num_references < 1:
        raise ValueError(f"num_references must be >= 1; got {num_references}")
    alphas, path_weights = trapezoid_path(steps)

    def points(block: np.ndarray, start: int, rng: np.random.Generator) -> np.ndarray:
        references = shuffled_references(block, num_references, rng)
        paths = interpolate(references, block[:, None], alphas)
        return paths.reshape((len(block), -1) + block.shape[1:])

    weights = np.tile(path_weights, num_references) / num_references
    with gradients_in_layout(model, x, layout, class_index, output, target) as gradient:
        raw = averaged_over_points(
            gradient, x, points, weights, seed, batch_size, progress, "expected gradients"
        )
    return _result(raw, return_corrected, layout)


METHODS: dict[str, Callable[..., Any]] = {
    "saliency": saliency,
    "integrated_gradients": integrated_gradients,
    "smoothgrad": smoothgrad,
    "expected_gradients": expected_gradients,
}
# Keyword parameters every method shares; the others are the method's own options.
SHARED_PARAMETERS = (
    *("batch_size", "class_index", "output", "target", "layout"),
    *("return_corrected", "progress"),
)


def method_options(method: str) -> dict[str, inspect.Parameter]:
    """The options of one method (keyword parameters besides :data:`SHARED_PARAMETERS`) with defaults.

    >>> {name: p.default for name, p in method_options("smoothgrad").items()}
    {'num_samples': 25, 'sigma': 0.1, 'seed': 0}
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {list(METHODS)}")
    parameters = inspect.signature(METHODS[method]).parameters.values()
    return {
        p.name: p
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in SHARED_PARAMETERS
    }


def _result(raw: np.ndarray, return_corrected: bool, layout: Layout):
    raw = np.ascontiguousarray(as_layout(raw, layout))
    if not return_corrected:
        return raw
    return raw, correct(raw, axis=ALPHABET_AXIS[layout], alphabet_size=None)  # the model's alphabet


def attribute_file(
    model: str,
    data: str,
    out: str,
    method: str,
    split: Literal["train", "valid", "test"] = "test",
    positives_only: bool = False,
    num_seqs: int | None = None,
    class_index: int = 0,
    output: OutputKind = "probability",
    batch_size: int = 128,
    threads: int | None = None,
    **options,
) -> None:
    """Raw and corrected maps of a saved model on a dataset split, written as an attribution file.

    Parameters
    ----------
    model : str
        Trained model (.keras).
    data : str
        Dataset file (.h5) with ``x_<split>`` and ``y_<split>``.
    out : str
        Attribution file to write (.npz): raw, corrected, x, indices and the parameters.
    method : str
        One of :data:`METHODS`.
    split : {'train', 'valid', 'test'}
        Dataset split to explain.
    positives_only : bool
        Keep only sequences labelled 1 in output ``class_index``.
    num_seqs : int or None
        Explain only the first N selected sequences.
    class_index : int
        Output unit to explain.
    output : {'probability', 'logit'}
        Differentiate the sigmoid output or its logit.
    batch_size : int
        Model inputs per gradient call.
    threads : int or None
        CPU threads for the backend.
    **options
        The method's own options (:func:`method_options`); unset ones take the method's defaults.
    """
    unknown = sorted(set(options) - set(method_options(method)))
    if unknown:
        raise ValueError(f"{method} has no option(s) {unknown}; its options: {list(method_options(method))}")
    settings = (split, positives_only, num_seqs, class_index, output, batch_size, threads)
    _attribute(model, data, {out: (method, options)}, *settings)


def attribute_methods_file(
    model: str,
    data: str,
    out_dir: str,
    methods: list[str],
    split: Literal["train", "valid", "test"] = "test",
    positives_only: bool = False,
    num_seqs: int | None = None,
    class_index: int = 0,
    output: OutputKind = "probability",
    batch_size: int = 128,
    threads: int | None = None,
    options: list[str] | None = None,
) -> None:
    """Maps of several methods from one load of the model and the data, one attribution file per method.

    ``<out_dir>/<method>.npz`` holds what :func:`attribute_file` writes for that method with the same
    arguments and options. Every method's maps are computed before any file is written.

    Parameters
    ----------
    model : str
        Trained model (.keras).
    data : str
        Dataset file (.h5) with ``x_<split>`` and ``y_<split>``.
    out_dir : str
        Folder to write one attribution file per method in, named ``<method>.npz``.
        Each holds raw and corrected ``(N, L, A)``, x ``(N, L, A)``, indices ``(N,)`` and the parameters.
    methods : list of str
        Methods of :data:`METHODS`, each named once.
    split : {'train', 'valid', 'test'}
        Dataset split to explain.
    positives_only : bool
        Keep only sequences labelled 1 in output ``class_index``.
    num_seqs : int or None
        Explain only the first N selected sequences.
    class_index : int
        Output unit to explain.
    output : {'probability', 'logit'}
        Differentiate the sigmoid output or its logit.
    batch_size : int
        Model inputs per gradient call.
    threads : int or None
        CPU threads for the backend.
    options : list of str or None
        Methods' own options as METHOD.NAME=VALUE, e.g. integrated_gradients.steps=25.
        Unset ones take the method's defaults (:func:`method_options`).
    """
    check_method_list(methods)
    for method in methods:
        method_options(method)  # an unknown method is refused before anything is read
    chosen = _parsed_options(options or [], methods)
    outputs = {os.path.join(out_dir, f"{method}.npz"): (method, chosen[method]) for method in methods}
    settings = (split, positives_only, num_seqs, class_index, output, batch_size, threads)
    _attribute(model, data, outputs, *settings)


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
    Literal in a union, such as :data:`Baseline`)."""
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


def _attribute(
    model: str,
    data: str,
    outputs: dict[str, tuple[str, dict]],
    split: str,
    positives_only: bool,
    num_seqs: int | None,
    class_index: int,
    output: OutputKind,
    batch_size: int,
    threads: int | None,
) -> None:
    """Write ``outputs`` (attribution file → (method, its options)) from one load of the model and of the
    selected sequences, computing every method's maps before the first file is written; the other
    arguments as for :func:`attribute_file`."""
    from simplexgrad import io  # here: h5py only for files, so `import simplexgrad` stays NumPy-only

    configure_threads(threads)
    split_data = io.load_split(data, split)
    indices = io.select_rows(split_data.y, positives_only, num_seqs, class_index, f"{data}:{split}")
    x = split_data.x[indices]
    loaded = load_model(model)
    shared = {"batch_size": batch_size, "class_index": class_index, "output": output}
    maps = {}
    for out, (method, options) in outputs.items():
        parameters = {**shared, **options}
        defaults = {name: p.default for name, p in method_options(method).items()}
        log.info("%s on %d sequences of %s:%s: %s", method, len(x), data, split, {**defaults, **parameters})
        raw, corrected = METHODS[method](loaded, x, return_corrected=True, progress=True, **parameters)
        source = {"method": method, "split": split, "model": os.path.basename(model)}
        maps[out] = raw, corrected, {**source, **defaults, **parameters}
    for out, (raw, corrected, record) in maps.items():
        io.save_attributions(out, raw, corrected, x, indices, record)


def _cli_options() -> dict[str, tuple[object, str]]:
    """Every method's options for the command line: name → (type, help naming the methods using it and
    the library's default, per method where the methods differ)."""
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


attribute_file.extra_options = _cli_options
