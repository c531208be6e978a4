"""Gradient-based attribution maps for Keras 3 models on one-hot sequences.

All methods take ``x`` of shape ``(N, L, A)`` and return float32 maps of the same shape; with
``return_corrected=True`` they return ``(raw, corrected)`` where ``corrected = correct(raw)``.
Randomness (shuffled references, noise) is drawn per block of :data:`QUERY_BLOCK` queries from
``numpy.random.default_rng([seed, block])``, so results depend on ``seed`` and the inputs but not on
``batch_size``.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
from tqdm.auto import tqdm

from simplexgrad._arrays import as_sequences
from simplexgrad.correction import correct
from simplexgrad.gradients import GradientFunction, OutputKind, input_gradient_function

__all__ = [
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "expected_gradients",
    "shuffled_references",
    "QUERY_BLOCK",
]

QUERY_BLOCK = 64
PROGRESS_MIN_INPUTS = 20_000

Baseline = str | np.ndarray
PointMaker = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def saliency(
    model: keras.Model,
    x: np.ndarray,
    *,
    batch_size: int = 128,
    class_index: int = 0,
    output: OutputKind = "probability",
    return_corrected: bool = False,
    progress: bool | None = None,
):
    """Saliency map: the gradient of the prediction with respect to the input.

    Parameters
    ----------
    model : keras.Model
        Model taking ``(B, L, A)`` inputs.
    x : numpy.ndarray
        Sequences, shape ``(N, L, A)``.
    batch_size : int
        Model inputs per gradient call.
    class_index : int
        Output unit to explain.
    output : {'probability', 'logit'}
        Differentiate the sigmoid output or its logit.
    return_corrected : bool
        Also return the simplex-corrected map.
    progress : bool or None
        Show a progress bar; ``None`` shows one for large jobs.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        ``(N, L, A)`` float32 raw map, or ``(raw, corrected)``.
    """
    x = _check_inputs(model, x, batch_size)
    gradient = input_gradient_function(model, class_index, output)
    with _progress_bar(len(x), progress, "saliency") as bar:
        raw = _batched_gradients(gradient, x, batch_size, bar)
    return _result(raw, return_corrected)


def integrated_gradients(
    model: keras.Model,
    x: np.ndarray,
    *,
    baseline: Baseline = "shuffle",
    steps: int = 20,
    seed: int = 0,
    batch_size: int = 128,
    class_index: int = 0,
    output: OutputKind = "probability",
    return_corrected: bool = False,
    progress: bool | None = None,
):
    """Integrated gradients as the path-averaged gradient from a reference to each query.

    The gradient is evaluated at ``steps + 1`` evenly spaced points ``x' + alpha (x - x')`` and averaged
    with the trapezoid rule. As in the authors' code, the map is not multiplied by ``x - x'``:
    ``sum((x - x') * map)`` approximates ``f(x) - f(x')`` (completeness).

    Parameters
    ----------
    model, x, batch_size, class_index, output, return_corrected, progress
        As for :func:`saliency`.
    baseline : {'shuffle', 'zeros', 'uniform'} or numpy.ndarray
        Reference: a random shuffle of the query's positions, all zeros, ``1/A`` everywhere, or an array of
        shape ``(L, A)`` or ``(N, L, A)``.
    steps : int
        Number of interpolation intervals (>= 1).
    seed : int
        Seed for shuffled references.

    Returns
    -------
    numpy.ndarray or tuple of numpy.ndarray
        ``(N, L, A)`` float32 path-averaged gradients, or ``(raw, corrected)``.
    """
    x = _check_inputs(model, x, batch_size)
    alphas, weights = _trapezoid_path(steps)
    reference = _baseline_maker(baseline, x)

    def points(block: np.ndarray, start: int, rng: np.random.Generator) -> np.ndarray:
        references = reference(block, start, rng)
        return _interpolate(references, block, alphas)

    gradient = input_gradient_function(model, class_index, output)
    raw = _averaged_over_points(
        gradient, x, points, weights, seed, batch_size, progress, "integrated gradients"
    )
    return _result(raw, return_corrected)


def smoothgrad(
    model: keras.Model,
    x: np.ndarray,
    *,
    num_samples: int = 25,
    sigma: float = 0.1,
    seed: int = 0,
    batch_size: int = 128,
    class_index: int = 0,
    output: OutputKind = "probability",
    return_corrected: bool = False,
    progress: bool | None = None,
):
    """SmoothGrad: gradients averaged over noisy copies of each query.

    Parameters
    ----------
    model, x, batch_size, class_index, output, return_corrected, progress
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
        ``(N, L, A)`` float32 averaged gradients, or ``(raw, corrected)``.
    """
    x = _check_inputs(model, x, batch_size)
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1; got {num_samples}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0; got {sigma}")

    def points(block: np.ndarray, start: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal((len(block), num_samples) + block.shape[1:], dtype=np.float32)
        return block[:, None] + np.float32(sigma) * noise

    weights = np.full(num_samples, 1.0 / num_samples)
    gradient = input_gradient_function(model, class_index, output)
    raw = _averaged_over_points(gradient, x, points, weights, seed, batch_size, progress, "smoothgrad")
    return _result(raw, return_corrected)


def expected_gradients(
    model: keras.Model,
    x: np.ndarray,
    *,
    num_references: int = 10,
    steps: int = 20,
    seed: int = 0,
    batch_size: int = 128,
    class_index: int = 0,
    output: OutputKind = "probability",
    return_corrected: bool = False,
    progress: bool | None = None,
):
    """Expected gradients: integrated gradients averaged over shuffled references of each query.

    Parameters
    ----------
    model, x, batch_size, class_index, output, return_corrected, progress
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
        ``(N, L, A)`` float32 averaged path gradients, or ``(raw, corrected)``.
    """
    x = _check_inputs(model, x, batch_size)
    if num_references < 1:
        raise ValueError(f"num_references must be >= 1; got {num_references}")
    alphas, path_weights = _trapezoid_path(steps)

    def points(block: np.ndarray, start: int, rng: np.random.Generator) -> np.ndarray:
        references = shuffled_references(block, num_references, rng)
        paths = _interpolate(references, block[:, None], alphas)
        return paths.reshape((len(block), -1) + block.shape[1:])

    weights = np.tile(path_weights, num_references) / num_references
    gradient = input_gradient_function(model, class_index, output)
    raw = _averaged_over_points(
        gradient, x, points, weights, seed, batch_size, progress, "expected gradients"
    )
    return _result(raw, return_corrected)


def shuffled_references(x: np.ndarray, num_references: int, rng: np.random.Generator) -> np.ndarray:
    """Random shuffles of each sequence's positions.

    Parameters
    ----------
    x : numpy.ndarray
        Sequences ``(N, L, A)``.
    num_references : int
        Shuffles per sequence.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``(N, num_references, L, A)``; each ``[i, r]`` is a permutation of the rows of ``x[i]``.
    """
    n, length, _ = x.shape
    order = np.argsort(rng.random((n, num_references, length)), axis=-1)
    return np.take_along_axis(x[:, None], order[..., None], axis=2)


def _check_inputs(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    x = as_sequences(x, "x")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    expected = tuple(model.input_shape[1:])
    if len(expected) != 2 or any(e is not None and e != got for e, got in zip(expected, x.shape[1:])):
        raise ValueError(
            f"x must have shape (N, {expected[0]}, {expected[-1]}) to match the model input "
            f"{model.input_shape}; got shape {x.shape}"
        )
    return x


def _result(raw: np.ndarray, return_corrected: bool):
    return (raw, correct(raw)) if return_corrected else raw


def _progress_bar(total_inputs: int, progress: bool | None, description: str):
    show = total_inputs >= PROGRESS_MIN_INPUTS if progress is None else progress
    return tqdm(total=total_inputs, desc=description, unit="input", disable=not show, mininterval=5.0)


def _batched_gradients(gradient: GradientFunction, inputs: np.ndarray, batch_size: int, bar) -> np.ndarray:
    """Gradients of ``(M, L, A)`` inputs, ``batch_size`` at a time; the last batch is padded so the
    compiled function sees one shape."""
    total = len(inputs)
    size = min(batch_size, total)
    result = np.empty(inputs.shape, dtype=np.float32)
    for start in range(0, total, size):
        batch = inputs[start : start + size]
        count = len(batch)
        if count < size:
            batch = np.concatenate([batch, np.repeat(batch[-1:], size - count, axis=0)])
        result[start : start + count] = gradient(batch)[:count]
        bar.update(count)
    return result


def _averaged_over_points(
    gradient: GradientFunction,
    x: np.ndarray,
    make_points,
    weights: np.ndarray,
    seed: int,
    batch_size: int,
    progress: bool | None,
    description: str,
) -> np.ndarray:
    """Weighted average of gradients over P points per query: ``make_points`` maps a block of queries
    ``(q, L, A)`` to ``(q, P, L, A)``."""
    weights = np.asarray(weights, dtype=np.float64)
    result = np.empty(x.shape, dtype=np.float32)
    with _progress_bar(len(x) * len(weights), progress, description) as bar:
        for block_index, start in enumerate(range(0, len(x), QUERY_BLOCK)):
            block = x[start : start + QUERY_BLOCK]
            rng = np.random.default_rng([seed, block_index])
            points = make_points(block, start, rng).astype(np.float32, copy=False)
            flat = points.reshape((-1,) + x.shape[1:])
            grads = _batched_gradients(gradient, flat, batch_size, bar).reshape(points.shape)
            result[start : start + len(block)] = np.einsum("qpla,p->qla", grads, weights)
    return result


def _trapezoid_path(steps: int) -> tuple[np.ndarray, np.ndarray]:
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] /= 2.0
    return alphas, weights


def _interpolate(references: np.ndarray, queries: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Points ``ref + alpha (query - ref)``: ``(..., L, A)`` inputs give ``(..., S, L, A)``."""
    delta = queries - references
    return references[..., None, :, :] + alphas[:, None, None] * delta[..., None, :, :]


def _baseline_maker(baseline: Baseline, x: np.ndarray):
    """A function ``(block, start, rng) -> (q, L, A)`` references for a block of queries."""
    if isinstance(baseline, str):
        if baseline == "shuffle":
            return lambda block, start, rng: shuffled_references(block, 1, rng)[:, 0]
        if baseline == "zeros":
            return lambda block, start, rng: np.zeros_like(block)
        if baseline == "uniform":
            return lambda block, start, rng: np.full_like(block, 1.0 / x.shape[2])
        raise ValueError(f"baseline must be 'shuffle', 'zeros', 'uniform' or an array; got {baseline!r}")
    reference = np.asarray(baseline, dtype=np.float32)
    if reference.shape == x.shape[1:]:
        return lambda block, start, rng: np.broadcast_to(reference, block.shape)
    if reference.shape == x.shape:
        return lambda block, start, rng: reference[start : start + len(block)]
    raise ValueError(
        f"baseline array must have shape (L, A) = {x.shape[1:]} or (N, L, A) = {x.shape}; "
        f"got shape {reference.shape}"
    )
