"""How the ensemble engine computes its members' convolutions, at which precision, and in which buckets.

The engine vmaps one member's Keras forward pass over ``K`` members (:mod:`._ensemble_program`). Two
formulations of the members' 1-D convolutions are selectable, each the same function of each member's
inputs and kernel (up to float rounding):

``"vmap"``
    ``lax.conv_general_dilated`` per member, batched by JAX's rule: the members' inputs are stacked
    along the channels and convolved as one grouped convolution (``feature_group_count = K``); its
    gradients are that rule's transposes. This *is* the grouped-convolution formulation (a separate
    explicit one would compile to the same program), the engine's original one.
``"im2col"``
    Each member's windows unfolded (``(B, L, k · C)``, the layer's 'same' padding) and multiplied by its
    kernel reshaped to ``(k · C, F)``: under vmap one batched matrix product per layer (``K`` independent
    matrix products), which GPUs run on their matrix units rather than as a grouped convolution.

The formulation is swapped in while JAX traces a program (:func:`convolutions`), on the program's own
model, so the Keras variables and saved models do not change. ``precision`` names the
arithmetic of the matrix products and convolutions: ``"float32"`` (``jax.default_matmul_precision``
``"highest"``) or ``"tf32"`` (``"tensorfloat32"``: TensorFloat-32 inputs on GPUs that have it; CPUs
compute float32 either way). JAX is imported only when these are used.
"""

from __future__ import annotations

import contextlib
import math
import typing
from collections.abc import Iterator
from typing import Literal

import numpy as np

from simplexgrad._optional import needs

with needs("jax", "simplexgrad.training._ensemble_forward"):
    import keras

__all__ = [
    "CONVOLUTIONS",
    "PRECISIONS",
    "EPOCH_LOOPS",
    "Convolution",
    "Precision",
    "EpochLoop",
    "convolutions",
    "matmul_precision",
    "resolve_epoch_loop",
    "bucket_size",
    "unfolded_conv1d",
]

Convolution = Literal["vmap", "im2col"]
Precision = Literal["float32", "tf32"]
EpochLoop = Literal["auto", "compiled", "per_batch"]
CONVOLUTIONS: tuple[str, ...] = typing.get_args(Convolution)
PRECISIONS: tuple[str, ...] = typing.get_args(Precision)
EPOCH_LOOPS: tuple[str, ...] = typing.get_args(EpochLoop)
_JAX_PRECISION = {"float32": "highest", "tf32": "tensorfloat32"}


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Refuse ``value`` outside ``choices`` with a one-line ValueError naming ``name``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}")


def matmul_precision(precision: Precision):
    """The context under which a program of ``precision`` is traced and called (JAX's config)."""
    import jax

    check_choice("precision", precision, PRECISIONS)
    return jax.default_matmul_precision(_JAX_PRECISION[precision])


def resolve_epoch_loop(epoch_loop: EpochLoop) -> str:
    """``"compiled"`` or ``"per_batch"``; ``"auto"`` is compiled on an accelerator, per batch on a CPU.

    XLA's CPU backend runs convolutions inside ``lax.scan`` several times slower than as separate calls;
    on a GPU one program per epoch saves a launch and a host round trip per batch.
    """
    import jax

    check_choice("epoch_loop", epoch_loop, EPOCH_LOOPS)
    if epoch_loop == "auto":
        return "per_batch" if jax.default_backend() == "cpu" else "compiled"
    return epoch_loop


def bucket_size(active: int, members: int) -> int:
    """Members a group's program keeps when ``active`` of its ``members`` still train.

    Powers of two up to 8, then multiples of 8, never more than ``members``: few sizes, so few compiled
    programs, and at most 7 (or half) stopped members computed in vain.
    """
    if active < 1:
        return 0
    size = 1 << math.ceil(math.log2(active)) if active <= 8 else 8 * math.ceil(active / 8)
    return min(size, members)


def unfolded_conv1d(inputs, kernel, padding: str = "same"):
    """One member's 1-D convolution (stride 1, no dilation) as a matrix product over unfolded windows.

    Parameters
    ----------
    inputs : jax.Array
        ``(B, L, C)``, channels last.
    kernel : jax.Array
        ``(k, C, F)``, Keras' ``Conv1D`` kernel.
    padding : {'same', 'valid'}
        Keras' padding ('same': ``(k - 1) // 2`` zeros before, the rest after, as XLA's SAME).

    Returns
    -------
    jax.Array
        ``(B, L, F)`` for 'same', ``(B, L - k + 1, F)`` for 'valid'.
    """
    import jax.numpy as jnp

    width, channels, filters = kernel.shape
    if padding == "same":
        before = (width - 1) // 2
        inputs = jnp.pad(inputs, ((0, 0), (before, width - 1 - before), (0, 0)))
    elif padding != "valid":
        raise ValueError(f"unfolded convolutions support 'same' and 'valid' padding; got {padding!r}")
    length = inputs.shape[1] - width + 1
    windows = jnp.concatenate([inputs[:, tap : tap + length, :] for tap in range(width)], axis=-1)
    return jnp.einsum("blw,wf->blf", windows, kernel.reshape(width * channels, filters))


def _unfolded_call(layer):
    """``Conv1D.call`` of ``layer`` (Keras 3.15's, which calls ``ops.conv`` itself) with the convolution
    as :func:`unfolded_conv1d`."""

    def call(inputs):
        if tuple(layer.strides) != (1,) or tuple(layer.dilation_rate) != (1,) or layer.groups != 1:
            raise ValueError(f"{layer.name}: im2col needs stride 1, dilation 1 and one group")
        if layer.data_format != "channels_last" or layer.padding not in ("same", "valid"):
            raise ValueError(f"{layer.name}: im2col needs channels_last inputs and same or valid padding")
        kernel = keras.ops.convert_to_tensor(layer.kernel)  # the value in a stateless call's scope
        outputs = unfolded_conv1d(inputs, kernel, layer.padding)
        if layer.use_bias:
            outputs = outputs + keras.ops.convert_to_tensor(layer.bias)
        return layer.activation(outputs) if layer.activation is not None else outputs

    return call


@contextlib.contextmanager
def convolutions(model: keras.Model, formulation: Convolution) -> Iterator[None]:
    """While tracing: ``model``'s ``Conv1D`` layers compute their convolution as ``formulation`` does.

    ``"vmap"`` leaves the layers as they are; ``"im2col"`` gives each layer an instance-level ``call``
    computing :func:`unfolded_conv1d`, removed again on leaving.
    """
    check_choice("convolution", formulation, CONVOLUTIONS)
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv1D)]
    layers = [layer for layer in layers if "call" not in vars(layer)]  # not already swapped
    if formulation == "vmap":
        yield
        return
    for layer in layers:
        layer.call = _unfolded_call(layer)
    try:
        yield
    finally:
        for layer in layers:
            del layer.call


def expand(values: np.ndarray, slots: np.ndarray, members: int, fill: float = np.nan) -> np.ndarray:
    """``(members, ...)`` with row ``slots[i]`` = ``values[i]`` and ``fill`` elsewhere."""
    full = np.full((members, *np.shape(values)[1:]), fill, dtype=np.result_type(values, np.float64))
    full[slots] = values
    return full
