"""Where the gradients of the averaged attribution methods are taken: reference paths, noisy copies and
batching (the machinery behind :mod:`simplexgrad.attribution.methods`).

A method builds, for each block of queries ``(q, L, A)``, the ``(q, P, L, A)`` points at which gradients
are averaged; :func:`averaged_over_points` evaluates each distinct point once, ``batch_size`` at a time,
the batches running on across the blocks' boundaries, and returns the weighted averages ``(q, L, A)``.
Only the very last batch may be smaller; it is padded for a gradient function that must see one shape
(a Keras model on JAX), not for one whose ``fixed_shape`` attribute is False (a torch module, a Keras
model on TensorFlow). Inside, arrays are always ``(N, L, A)``; a user's ``layout='NAL'`` arrays
``(N, A, L)`` are swapped on the way in and out (:func:`simplexgrad._arrays.as_layout`).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

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
    "streamed_gradients",
    "averaged_over_points",
    "distinct_points",
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
    """Yields ``f`` mapping ``(B, L, A)`` batches to gradients; the model sees them in ``layout``.

    ``f.fixed_shape`` is that of the backend's function: whether every batch must have one shape.
    """
    sample = as_layout(x[:2], layout)
    with steady_heap(), attribution_gradients(model, sample, class_index, output, target) as gradient:
        if layout == "NLA":
            yield gradient
        else:

            def swapped(batch: np.ndarray) -> np.ndarray:
                return as_layout(gradient(as_layout(batch, layout)), layout)

            swapped.fixed_shape = needs_fixed_shape(gradient)
            yield swapped


# glibc's mallopt parameters (malloc.h) and the largest values its dynamic thresholds reach on 64-bit.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20
_TRIM_THRESHOLD_DYNAMIC_MAX = 2 * _MMAP_THRESHOLD_MAX
# While attributing, free memory at the top of the heap is kept up to this much.
HEAP_KEPT_BYTES = 2**30
_heap = threading.Lock()
_heap_users = 0


def _glibc():
    """The C library through ctypes when it is glibc (None elsewhere: musl, macOS, Windows)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
        return ctypes.CDLL("libc.so.6")
    except (AttributeError, ValueError, OSError):
        return None


@contextlib.contextmanager
def steady_heap() -> Iterator[None]:
    """While inside (on glibc): blocks up to 32 MiB come from the heap, and freed memory stays in it.

    Each batch allocates its activations (MiB to tens of MiB each) and frees them at its end. glibc
    serves blocks above its mmap threshold with fresh mappings and gives the top of its heap back to the
    system once more than its trim threshold is free there; it raises both thresholds (up to 32 and 64 MiB)
    only as large blocks come and go. So, depending on what else the process had allocated (our points,
    between the batches), every batch could fault its activations' pages in again, one 4 KiB page at a
    time: on 2 CPU cores (torch 2.13, glibc 2.36) one SmoothGrad call took 20,000 to 120,000 page faults
    and ran at 0.7-0.9x the speed it reached without them. Inside, the mmap threshold is 32 MiB (the
    largest dynamic value; it stays so afterwards) and the trim threshold ``HEAP_KEPT_BYTES``; on leaving
    the outermost context the trim threshold is 64 MiB again (the largest dynamic value), and glibc
    returns the free memory as it does otherwise, when a block is next freed at the top of the heap.
    """
    global _heap_users
    libc = _glibc()
    if libc is None:
        yield
        return
    with _heap:
        _heap_users += 1
        if _heap_users == 1:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
            libc.mallopt(_M_TRIM_THRESHOLD, HEAP_KEPT_BYTES)
    try:
        yield
    finally:
        with _heap:
            _heap_users -= 1
            if _heap_users == 0:
                libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_DYNAMIC_MAX)


def needs_fixed_shape(gradient: GradientFunction) -> bool:
    """Whether ``gradient`` must see one batch shape: True unless it says otherwise with a ``fixed_shape``
    attribute (False for torch modules and Keras on TensorFlow, True for Keras on JAX)."""
    return getattr(gradient, "fixed_shape", True)


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
    """Gradients of ``(M, L, A)`` inputs, ``batch_size`` at a time; for a function that needs one shape
    the last batch is padded (with copies of the last input)."""
    ((_, result),) = streamed_gradients(gradient, [(None, inputs)], len(inputs), batch_size, bar)
    return result


class _Block:
    """Inputs of one block on their way through the batches (``rows`` of them, or all): how many were
    sent, how many came back."""

    __slots__ = ("key", "inputs", "rows", "size", "gradients", "sent", "done")

    def __init__(self, key: Any, inputs: np.ndarray, rows: np.ndarray | None = None):
        self.key, self.inputs, self.rows = key, inputs, rows
        self.size = len(inputs) if rows is None else len(rows)
        self.gradients: np.ndarray | None = None  # made by the first batch: (size, *its trailing shape)
        self.sent = self.done = 0

    def store(self, first: int, gradients: np.ndarray) -> None:
        """Keep ``gradients`` of inputs ``first ...``: ``(B, L, A)`` for a model, ``(B, K, L, A)`` for a
        group of ``K`` (:mod:`simplexgrad.attribution.group`)."""
        if self.gradients is None:
            self.gradients = np.empty((self.size,) + gradients.shape[1:], dtype=np.float32)
        self.gradients[first : first + len(gradients)] = gradients
        self.done += len(gradients)

    def result(self) -> np.ndarray:
        if self.gradients is None:  # no inputs
            return np.empty((0,) + self.inputs.shape[1:], dtype=np.float32)
        return self.gradients

    def take(self, first: int, stop: int) -> np.ndarray:
        return self.inputs[first:stop] if self.rows is None else self.inputs[self.rows[first:stop]]


def streamed_gradients(
    gradient: GradientFunction,
    blocks: Iterable[tuple[Any, np.ndarray] | tuple[Any, np.ndarray, np.ndarray | None]],
    total: int,
    batch_size: int,
    bar,
) -> Iterator[tuple[Any, np.ndarray]]:
    """For each ``(key, inputs)`` or ``(key, inputs, rows)`` of ``blocks`` (``inputs`` ``(M, L, A)``;
    ``rows`` the indices of the inputs to evaluate, all if None; at most ``total`` inputs in all), yields
    ``(key, gradients)`` (float32, one per evaluated input), in order, as soon as they are all known.

    Batches hold ``min(batch_size, total)`` inputs, taken across the blocks' boundaries, so that no batch
    but the last is smaller. A function that needs one shape gets that last batch padded; any other (a
    torch module's, TensorFlow's) gets it as it is.
    """
    size = min(batch_size, total)
    pad = needs_fixed_shape(gradient)
    queue: collections.deque[_Block] = collections.deque()
    waiting = 0  # inputs queued but not yet sent

    def send(count: int) -> None:
        pieces, owners = [], []
        for block in queue:
            take = min(block.size - block.sent, count - sum(len(piece) for piece in pieces))
            if take > 0:
                pieces.append(block.take(block.sent, block.sent + take))
                owners.append((block, block.sent, take))
                block.sent += take
        batch = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        if pad and len(batch) < size:
            batch = np.concatenate([batch, np.repeat(batch[-1:], size - len(batch), axis=0)])
        gradients = gradient(batch)
        offset = 0
        for block, first, take in owners:
            block.store(first, gradients[offset : offset + take])
            offset += take
        bar.update(count)
        check_stop()  # a stop whose exception a framework swallowed (simplexgrad._process)

    def finished() -> Iterator[tuple[Any, np.ndarray]]:
        while queue and queue[0].done == queue[0].size:
            block = queue.popleft()
            yield block.key, block.result()

    for key, inputs, *rows in blocks:
        queue.append(_Block(key, inputs, *rows))
        waiting += queue[-1].size
        while waiting >= size > 0:
            send(size)
            waiting -= size
            yield from finished()
    if waiting:
        send(waiting)
    yield from finished()


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
    ``(q, L, A)`` to ``(q, P, L, A)``. A point that repeats within a block (the shared baseline of
    integrated gradients, the query that ends each path of expected gradients) is evaluated once
    (:func:`distinct_points`); the batches run on across blocks (:func:`streamed_gradients`). A group's
    gradient function (``(B, K, L, A)`` for ``K`` models) gives ``(N, K, L, A)``, each member's maps
    averaged as one model's are."""
    weights = np.asarray(weights, dtype=np.float64)
    count = len(weights)
    result = np.empty(x.shape, dtype=np.float32) if len(x) == 0 else None

    def blocks() -> Iterator[tuple[tuple[int, np.ndarray | None], np.ndarray, np.ndarray | None]]:
        for block_index, start in enumerate(range(0, len(x), QUERY_BLOCK)):
            block = x[start : start + QUERY_BLOCK]
            rng = np.random.default_rng([seed, block_index])
            points = make_points(block, start, rng).astype(np.float32, copy=False)
            points = np.ascontiguousarray(points).reshape((-1,) + x.shape[1:])
            rows, inverse = distinct_points(points)
            yield (start, inverse), points, rows

    with progress_bar(len(x) * count, progress, description) as bar:
        for (start, inverse), grads in streamed_gradients(
            gradient, blocks(), len(x) * count, batch_size, bar
        ):
            if inverse is not None:
                bar.update(len(inverse) - len(grads))  # the repeats, not evaluated again
                grads = grads[inverse]
            grads = grads.reshape((-1, count) + grads.shape[1:])
            if result is None:
                result = np.empty((len(x),) + grads.shape[2:], dtype=np.float32)
            if grads.ndim == 4:
                result[start : start + len(grads)] = np.einsum("qpla,p->qla", grads, weights)
                continue
            for member in range(grads.shape[2]):  # a group's: each member as one model's
                member_grads = np.ascontiguousarray(grads[:, :, member])
                result[start : start + len(grads), member] = np.einsum("qpla,p->qla", member_grads, weights)
    return result


def distinct_points(points: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The points of ``points`` (M, L, A), contiguous float32, to evaluate: ``(rows, inverse)`` with
    ``points[rows][inverse]`` equal to ``points`` bit for bit, or ``(None, None)`` when no point repeats.

    Each point's gradient depends only on that point, so a repeated point need not be evaluated again.
    A point's key is an exact integer hash of its bits (the sum, modulo 2**32, of its 16-bit halves
    times fixed odd numbers), so equal points have equal keys; a point is merged with the first point of
    its key only if the two are identical bit for bit, so a collision of keys costs only the saving.
    About 6 ms per 10,000 points of 800 values.
    """
    flat = points.reshape(len(points), -1)
    halves = flat.view(np.uint16)
    keys = np.einsum("ij,j->i", halves, _key_vector(halves.shape[1]), dtype=np.uint32)
    _, first, owner = np.unique(keys, return_index=True, return_inverse=True)
    if len(first) == len(points):
        return None, None
    owner = first[owner.ravel()]  # the first point with the same key
    candidates = np.flatnonzero(owner != np.arange(len(points)))
    bits = flat.view(np.uint32)
    differ = ~(bits[candidates] == bits[owner[candidates]]).all(axis=1)
    owner[candidates[differ]] = candidates[differ]  # a collision of keys: evaluated on its own
    rows = np.flatnonzero(owner == np.arange(len(points)))
    if len(rows) == len(points):
        return None, None
    position = np.empty(len(points), dtype=np.intp)
    position[rows] = np.arange(len(rows))
    return rows, position[owner]


_KEY_VECTORS: dict[int, np.ndarray] = {}


def _key_vector(size: int) -> np.ndarray:
    """``size`` fixed odd 32-bit multipliers (the same in every process)."""
    if size not in _KEY_VECTORS:
        draws = np.random.default_rng(20261204).integers(0, 2**31, size, dtype=np.uint32)
        _KEY_VECTORS[size] = draws * np.uint32(2) + np.uint32(1)
    return _KEY_VECTORS[size]


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
    points = alphas[:, None, None] * delta[..., None, :, :]
    points += references[..., None, :, :]  # in place: one array of all the points, not two
    return points


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
