"""Where the gradients of the averaged attribution methods are taken: reference paths, noisy copies and
batching (the machinery behind :mod:`simplexgrad.attribution.methods`).

A method builds, for each block of queries ``(q, L, A)``, the ``(q, P, L, A)`` points at which gradients
are averaged; :func:`averaged_over_points` evaluates them ``batch_size`` at a time with one compiled
shape and returns the weighted averages ``(q, L, A)``. Inside, arrays are always ``(N, L, A)``; a user's
``layout='NAL'`` arrays ``(N, A, L)`` are swapped on the way in and out
(:func:`simplexgrad._arrays.as_layout`).
"""

from __future__ import annotations

import contextlib

import numpy as np

from simplexgrad._arrays import (
    ALPHABET_AXIS,
    GradientFunction,
    Layout,
    Target,
    as_layout,
    as_sequences,
    check_one_hot,
)
from simplexgrad._process import check_stop
from simplexgrad.backend import attribution_gradients

__all__ = [
    "QUERY_BLOCK",
    "baseline_as_nla",
    "check_queries",
    "gradients_in_layout",
    "shuffled_references",
    "progress_bar",
    "batched_gradients",
    "averaged_over_points",
    "trapezoid_path",
    "interpolate",
    "baseline_maker",
]

QUERY_BLOCK = 64
PROGRESS_MIN_INPUTS = 20_000


@contextlib.contextmanager
def gradients_in_layout(
    model, x: np.ndarray, layout: Layout, class_index: int, output: str, target: Target | None
):
    """Yields ``f`` mapping ``(B, L, A)`` batches to gradients; the model sees them in ``layout``."""
    sample = as_layout(x[:2], layout)
    with attribution_gradients(model, sample, class_index, output, target) as gradient:
        if layout == "NLA":
            yield gradient
        else:
            yield lambda batch: as_layout(gradient(as_layout(batch, layout)), layout)


def check_queries(model, x: np.ndarray, batch_size: int, layout: Layout) -> np.ndarray:
    """``x`` checked against ``layout`` and the model's input shape, returned as (N, L, A) float32."""
    if layout not in ALPHABET_AXIS:
        raise ValueError(f"layout must be 'NLA' (N, L, A) or 'NAL' (N, A, L); got {layout!r}")
    given = np.asarray(x)
    names = "(N, L, A)" if layout == "NLA" else "(N, A, L)"
    if given.ndim != 3:
        raise ValueError(f"x must have shape {names} for layout={layout!r}; got shape {given.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    # A Keras model states its input shape; a torch module's is checked by a forward pass (backend).
    expected = getattr(model, "input_shape", None)
    if expected is not None:
        expected = tuple(expected[1:])
        if len(expected) != 2 or any(e is not None and e != got for e, got in zip(expected, given.shape[1:])):
            swapped = len(expected) == 2 and all(
                e is None or e == got for e, got in zip(expected, given.shape[:0:-1])
            )
            raise ValueError(
                f"x must have shape (N, {expected[0]}, {expected[-1]}) to match the model input "
                f"{model.input_shape}; got shape {given.shape} for layout={layout!r}"
                + ("; x looks transposed: swap its last two axes" if swapped else "")
            )
    x = as_sequences(as_layout(given, layout), "x")
    try:
        check_one_hot(x, "x")
    except ValueError:
        other = "NAL" if layout == "NLA" else "NLA"
        if given.size and _one_hot_along(given, ALPHABET_AXIS[other]):
            pattern = f"(N, {given.shape[1]}, L)" if other == "NAL" else f"(N, L, {given.shape[2]})"
            raise ValueError(f"x looks like {pattern}, shape {given.shape}: pass layout='{other}'") from None
        raise
    return x


def _one_hot_along(x: np.ndarray, axis: int) -> bool:
    """Whether every position of ``x`` is one-hot (or all zeros) along ``axis``."""
    if not np.issubdtype(x.dtype, np.number) or x.shape[axis] < 2:
        return False
    binary = (x == 0) | (x == 1)
    sums = np.sum(x, axis=axis)
    return bool(binary.all() and np.all((sums == 0) | (sums == 1)) and np.any(sums == 1))


def baseline_as_nla(baseline, x: np.ndarray, layout: Layout):
    """An array baseline given in ``layout``, one sequence or one per query, as (L, A) or (N, L, A) for
    queries ``x`` (N, L, A); names ('shuffle', ...) pass through."""
    if isinstance(baseline, str) or layout == "NLA":
        return baseline
    reference = np.asarray(baseline)
    if reference.shape == x.shape[:0:-1]:
        return reference.T
    if reference.shape == as_layout(x, layout).shape:
        return as_layout(reference, layout)
    raise ValueError(
        f"baseline array must have shape (A, L) = {x.shape[:0:-1]} or (N, A, L) = "
        f"{as_layout(x, layout).shape} for layout='NAL'; got shape {reference.shape}"
    )


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


def progress_bar(total_inputs: int, progress: bool | None, description: str):
    """A tqdm bar over ``total_inputs`` model inputs (shown for large jobs when ``progress`` is None);
    without tqdm (it is optional) a bar that shows nothing."""
    show = total_inputs >= PROGRESS_MIN_INPUTS if progress is None else progress
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total_inputs, desc=description, unit="input", disable=not show, mininterval=5.0)


class _NoBar(contextlib.AbstractContextManager):
    """The part of tqdm's interface that :func:`batched_gradients` uses, doing nothing."""

    def update(self, count: int = 1) -> None:
        """Count ``count`` more inputs as done (nothing to show)."""

    def __exit__(self, *exc_info) -> None:
        return None


def batched_gradients(gradient: GradientFunction, inputs: np.ndarray, batch_size: int, bar) -> np.ndarray:
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
        check_stop()  # a stop whose exception a framework swallowed (simplexgrad._process)
    return result


def averaged_over_points(
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
    with progress_bar(len(x) * len(weights), progress, description) as bar:
        for block_index, start in enumerate(range(0, len(x), QUERY_BLOCK)):
            block = x[start : start + QUERY_BLOCK]
            rng = np.random.default_rng([seed, block_index])
            points = make_points(block, start, rng).astype(np.float32, copy=False)
            flat = points.reshape((-1,) + x.shape[1:])
            grads = batched_gradients(gradient, flat, batch_size, bar).reshape(points.shape)
            result[start : start + len(block)] = np.einsum("qpla,p->qla", grads, weights)
    return result


def trapezoid_path(steps: int) -> tuple[np.ndarray, np.ndarray]:
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] /= 2.0
    return alphas, weights


def interpolate(references: np.ndarray, queries: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Points ``ref + alpha (query - ref)``: ``(..., L, A)`` inputs give ``(..., S, L, A)``."""
    delta = queries - references
    return references[..., None, :, :] + alphas[:, None, None] * delta[..., None, :, :]


def baseline_maker(baseline: str | np.ndarray, x: np.ndarray):
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
    if not np.all(np.isfinite(reference)):
        raise ValueError("baseline array must be finite (no NaN or inf)")
    if reference.shape == x.shape[1:]:
        return lambda block, start, rng: np.broadcast_to(reference, block.shape)
    if reference.shape == x.shape:
        return lambda block, start, rng: reference[start : start + len(block)]
    raise ValueError(
        f"baseline array must have shape (L, A) = {x.shape[1:]} or (N, L, A) = {x.shape}; "
        f"got shape {reference.shape}"
    )
