"""The library's vocabulary and shape checks: arrays are (N, L, A), alphabet last, and never guessed.

Every module takes the alphabet, the layouts, the kinds of model output and the gradient-function types
from here, so each is defined once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

SEQUENCE_LAYOUT = "(N, L, A) = (sequences, positions, alphabet)"
ALPHABET = "ACGT"  # the DNA alphabet, in the order of the one-hot columns

Layout = Literal["NLA", "NAL"]  # NLA: (N, L, A) (Keras, this project); NAL: (N, A, L) (PyTorch)
ALPHABET_AXIS = {"NLA": 2, "NAL": 1}
OutputKind = Literal["probability", "logit"]
GradientFunction = Callable[[np.ndarray], np.ndarray]
Target = Callable[[Any], Any]  # model outputs -> (N,) scores, in the model's tensor type


def as_layout(array: np.ndarray, layout: Layout) -> np.ndarray:
    """(N, L, A) as ``layout`` (a view); for 'NAL' the same swap also turns (N, A, L) into (N, L, A)."""
    return array if layout == "NLA" else np.swapaxes(array, 1, 2)


def as_array(values: Any, name: str = "x") -> np.ndarray:
    """``values`` as a NumPy array: a torch tensor (with or without ``requires_grad``, on any device, in
    any dtype), a JAX or TensorFlow array, a (nested) list; ragged lists are refused naming ``name``."""
    if callable(getattr(values, "detach", None)) and callable(getattr(values, "cpu", None)):  # torch
        values = values.detach().cpu()
        if not values.dtype.is_floating_point or values.element_size() < 4:  # bfloat16 has no NumPy twin
            values = values.float()
        return values.numpy()
    try:
        array = np.asarray(values)
    except ValueError as error:  # a ragged list
        raise ValueError(f"{name}: not an array of equal-length sequences ({error})") from None
    if array.dtype == object:
        raise ValueError(f"{name}: not an array of numbers (a ragged list or mixed objects)")
    return array


def alphabet_axis(array: np.ndarray, axis: int, alphabet_size: int | None = None) -> int:
    """Normalise ``axis`` for ``array`` and check that it can be an alphabet axis (size >= 2) and, unless
    ``alphabet_size`` is None, that it has ``alphabet_size`` letters (the message names the axis to pass)."""
    if array.ndim == 0:
        raise ValueError("expected an array with an alphabet axis; got a scalar")
    if not -array.ndim <= axis < array.ndim:
        raise ValueError(f"axis {axis} is out of range for an array of shape {array.shape}")
    given = axis
    axis %= array.ndim
    if alphabet_size is not None and array.shape[axis] != alphabet_size:
        fitting = [index for index, size in enumerate(array.shape) if size == alphabet_size]
        hint = (
            f"pass axis={fitting[0]} (the axis of length {alphabet_size})"
            if len(fitting) == 1
            else f"pass the axis of the {alphabet_size} letters as axis="
        )
        raise ValueError(
            f"the alphabet axis {given} of shape {array.shape} has {array.shape[axis]} letters, not "
            f"alphabet_size={alphabet_size}: {hint}, or alphabet_size={array.shape[axis]} for an alphabet "
            f"of {array.shape[axis]} letters"
        )
    if array.shape[axis] < 2:
        raise ValueError(
            f"the alphabet axis {axis} of shape {array.shape} has size {array.shape[axis]}; "
            "a simplex needs at least 2 letters"
        )
    return axis


def as_sequences(
    array: np.ndarray, name: str, alphabet_size: int | None = None, dtype=np.float32
) -> np.ndarray:
    """``array`` as a 3-D ``(N, L, A)`` array of ``dtype``, or a ``ValueError`` that names the layout."""
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f"{name} must have shape {SEQUENCE_LAYOUT}; got shape {array.shape}")
    if alphabet_size is not None and array.shape[2] != alphabet_size:
        raise ValueError(
            f"{name} must have shape {SEQUENCE_LAYOUT} with A = {alphabet_size}; got shape "
            f"{array.shape} (channels-last layout: is the array transposed?)"
        )
    if array.shape[2] < 2:
        raise ValueError(f"{name} must have an alphabet of at least 2 letters; got shape {array.shape}")
    return array.astype(dtype, copy=False) if dtype is not None else array


def same_shape(reference: np.ndarray, reference_name: str, **others: np.ndarray) -> None:
    """Raise a ``ValueError`` unless every array in ``others`` has the shape of ``reference``."""
    for name, other in others.items():
        if other.shape != reference.shape:
            raise ValueError(
                f"{name} must have the same shape as {reference_name}, {reference.shape}; "
                f"got shape {other.shape}"
            )


def check_method_list(methods: Sequence[str]) -> None:
    """Refuse a list of attribution methods for one command that is empty or names a method twice."""
    if not methods:
        raise ValueError("methods: name at least one attribution method")
    repeated = sorted({method for method in methods if methods.count(method) > 1})
    if repeated:
        raise ValueError(f"methods: {repeated} named more than once")


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise a ``ValueError`` naming the first NaN or inf entry of ``array``."""
    finite = np.isfinite(array)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{name} contains NaN or inf (first at index {where})")


def check_one_hot(x: np.ndarray, name: str) -> None:
    """Refuse an empty array, NaN or inf, and positions that are not one-hot.

    A position is one-hot when its values along the last axis are one 1 and zeros; all zeros is accepted
    as an unknown base (N).
    """
    if x.shape[0] == 0:
        raise ValueError(f"{name} holds no sequences (shape {x.shape})")
    check_finite(x, name)
    sums = x.sum(axis=-1)
    bad = ~(((x == 0) | (x == 1)).all(axis=-1) & ((sums == 0) | (sums == 1)))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} is not one-hot: position {where[-1]} of sequence {where[0]} holds "
            f"{np.round(x[where], 4).tolist()} (expected a single 1 among zeros)"
        )
