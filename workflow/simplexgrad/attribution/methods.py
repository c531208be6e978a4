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
backend until a gradient is needed, so the registry is available without Keras (or torch). Maps of saved
models on dataset files, and the methods' options on the command line, are
:mod:`simplexgrad.attribution.commands`'.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

from simplexgrad._arrays import ALPHABET_AXIS, Layout, OutputKind, Target, as_array, as_layout
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
from simplexgrad.backend import as_model
from simplexgrad.correction import correct

__all__ = [
    "METHODS",
    "method_options",
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "expected_gradients",
    "shuffled_references",
    "QUERY_BLOCK",
]

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
    model : keras.Model or torch.nn.Module or str
        Model taking batches of ``x`` in ``layout``, or the path of one (loaded by
        :func:`simplexgrad.backend.load_model`). A torch module runs in eval mode (training flags
        restored afterwards), on its device and in its dtype; the map equals captum's
        ``Saliency(model).attribute(x, target=class_index, abs=False)``.
    x : numpy.ndarray
        One-hot sequences in ``layout``: each position one-hot, or all zeros for an unknown base. A torch
        tensor (with or without ``requires_grad``, on any device) or a list is taken as its values.
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
    model = as_model(model)  # a path or an import string is loaded
    x = check_queries(model, _queries(model, x), batch_size, layout)
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
    model = as_model(model)  # a path or an import string is loaded
    x = check_queries(model, _queries(model, x), batch_size, layout)
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
    model = as_model(model)  # a path or an import string is loaded
    x = check_queries(model, _queries(model, x), batch_size, layout)
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1; got {num_samples}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0; got {sigma}")

    def points(block: np.ndarray, start: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal((len(block), num_samples) + block.shape[1:], dtype=np.float32)
        noise *= np.float32(sigma)  # the points in place: block + sigma * noise, no second array
        noise += block[:, None]
        return noise

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
    model = as_model(model)  # a path or an import string is loaded
    x = check_queries(model, _queries(model, x), batch_size, layout)
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


def _queries(model: Model, x: Any) -> np.ndarray:
    """``x`` as a NumPy array (a torch tensor with or without ``requires_grad``, on any device; a list;
    any array), after refusing what is not a model: a ``state_dict`` (a dict of tensors) or a list."""
    if isinstance(model, Mapping):
        raise TypeError(
            "model is a dict (a state_dict?), not a model: build the module, call "
            "module.load_state_dict(state_dict) and pass the module"
        )
    if isinstance(model, (list, tuple)):
        raise TypeError(f"model is a {type(model).__name__}; pass one model (average the maps of several)")
    return as_array(x, "x")


def _result(raw: np.ndarray, return_corrected: bool, layout: Layout):
    raw = np.ascontiguousarray(as_layout(raw, layout))
    if not return_corrected:
        return raw
    return raw, correct(raw, axis=ALPHABET_AXIS[layout], alphabet_size=None)  # the model's alphabet
