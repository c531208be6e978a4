"""The paper's CNNs (appendix A): CNN-shallow and CNN-deep, with a ReLU or exponential first layer.

Every hidden block is convolution (or dense) → batch norm → activation → dropout [→ max-pool].
Convolutions use 'same' padding and no bias (the batch norm that follows carries the shift), kernels
have an L2 penalty of 1e-6, and the output is one sigmoid unit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import keras

__all__ = ["MODELS", "cnn_shallow", "cnn_deep", "build_model"]

Activation = Literal["relu", "exponential"]
L2_STRENGTH = 1e-6


def cnn_shallow(
    input_shape: tuple[int, int] = (200, 4),
    *,
    activation: Activation = "relu",
    first_layer_filters: int = 24,
    first_layer_kernel_size: int = 19,
    init_stddev: float | None = None,
    name: str | None = None,
) -> keras.Model:
    """CNN-shallow: conv(24, 19) → pool 50 → conv(48, 3) → pool 2 → dense 96 → sigmoid.

    Parameters
    ----------
    input_shape : tuple of int
        ``(L, A)``, e.g. ``(200, 4)``.
    activation : {'relu', 'exponential'}
        Activation of the first convolution only; all other hidden layers use ReLU.
    first_layer_filters, first_layer_kernel_size : int
        Width and filter length of the first convolution.
    init_stddev : float or None
        ``None`` → he_normal; a float σ → RandomNormal(0, σ) for every kernel (initialisation study).
    name : str or None
        Model name; defaults to ``cnn_shallow_<activation>``.

    Returns
    -------
    keras.Model
        Maps ``(B, L, A)`` to ``(B, 1)`` probabilities.
    """
    block = _Blocks(init_stddev)
    inputs = keras.Input(input_shape, name="sequence")
    hidden = block.conv(inputs, first_layer_filters, first_layer_kernel_size, activation, 0.1, "conv1")
    hidden = keras.layers.MaxPooling1D(50, name="conv1_pool")(hidden)
    hidden = block.conv(hidden, 48, 3, "relu", 0.2, "conv2")
    hidden = keras.layers.MaxPooling1D(2, name="conv2_pool")(hidden)
    outputs = block.head(hidden)
    return keras.Model(inputs, outputs, name=name or f"cnn_shallow_{activation}")


def cnn_deep(
    input_shape: tuple[int, int] = (200, 4),
    *,
    activation: Activation = "relu",
    first_layer_filters: int = 24,
    first_layer_kernel_size: int = 19,
    init_stddev: float | None = None,
    name: str | None = None,
) -> keras.Model:
    """CNN-deep: conv(24, 19) → conv(32, 7) → pool 4 → conv(48, 7) → pool 4 → conv(64, 3) → pool 3
    → dense 96 → sigmoid.

    Parameters are those of :func:`cnn_shallow`. The authors' released CNN-deep weights use a first-layer
    kernel of 11 although the appendix says 19: 19 is the default, ``first_layer_kernel_size`` selects.

    Returns
    -------
    keras.Model
        Maps ``(B, L, A)`` to ``(B, 1)`` probabilities.
    """
    block = _Blocks(init_stddev)
    inputs = keras.Input(input_shape, name="sequence")
    hidden = block.conv(inputs, first_layer_filters, first_layer_kernel_size, activation, 0.1, "conv1")
    hidden = block.conv(hidden, 32, 7, "relu", 0.2, "conv2")
    hidden = keras.layers.MaxPooling1D(4, name="conv2_pool")(hidden)
    hidden = block.conv(hidden, 48, 7, "relu", 0.3, "conv3")
    hidden = keras.layers.MaxPooling1D(4, name="conv3_pool")(hidden)
    hidden = block.conv(hidden, 64, 3, "relu", 0.4, "conv4")
    hidden = keras.layers.MaxPooling1D(3, name="conv4_pool")(hidden)
    outputs = block.head(hidden)
    return keras.Model(inputs, outputs, name=name or f"cnn_deep_{activation}")


MODELS: dict[str, Callable[..., keras.Model]] = {"cnn_shallow": cnn_shallow, "cnn_deep": cnn_deep}


def build_model(architecture: str, input_shape: tuple[int, int] = (200, 4), **options) -> keras.Model:
    """Build a model by name (``'cnn_shallow'`` or ``'cnn_deep'``) with the options of its function."""
    if architecture not in MODELS:
        raise ValueError(f"unknown model {architecture!r}; choose one of {sorted(MODELS)}")
    return MODELS[architecture](input_shape, **options)


class _Blocks:
    """Layer factories sharing the initialiser and regulariser of one model."""

    def __init__(self, init_stddev: float | None):
        if init_stddev is not None and init_stddev <= 0:
            raise ValueError(f"init_stddev must be > 0 or None; got {init_stddev}")
        self.init_stddev = init_stddev

    def initializer(self):
        if self.init_stddev is None:
            return keras.initializers.HeNormal()
        return keras.initializers.RandomNormal(mean=0.0, stddev=self.init_stddev)

    def conv(self, inputs, filters: int, kernel_size: int, activation: str, dropout: float, name: str):
        if activation not in ("relu", "exponential"):
            raise ValueError(f"activation must be 'relu' or 'exponential'; got {activation!r}")
        if filters < 1 or kernel_size < 1:
            raise ValueError(f"{name}: filters and kernel size must be >= 1; got {filters}, {kernel_size}")
        hidden = keras.layers.Conv1D(
            filters,
            kernel_size,
            padding="same",
            use_bias=False,
            kernel_initializer=self.initializer(),
            kernel_regularizer=keras.regularizers.L2(L2_STRENGTH),
            name=name,
        )(inputs)
        hidden = keras.layers.BatchNormalization(name=f"{name}_bn")(hidden)
        hidden = keras.layers.Activation(activation, name=f"{name}_{activation}")(hidden)
        return keras.layers.Dropout(dropout, name=f"{name}_dropout")(hidden)

    def head(self, hidden):
        hidden = keras.layers.Flatten(name="flatten")(hidden)
        hidden = keras.layers.Dense(
            96,
            use_bias=False,
            kernel_initializer=self.initializer(),
            kernel_regularizer=keras.regularizers.L2(L2_STRENGTH),
            name="dense",
        )(hidden)
        hidden = keras.layers.BatchNormalization(name="dense_bn")(hidden)
        hidden = keras.layers.Activation("relu", name="dense_relu")(hidden)
        hidden = keras.layers.Dropout(0.5, name="dense_dropout")(hidden)
        return keras.layers.Dense(
            1,
            activation="sigmoid",
            kernel_initializer=self.initializer(),
            kernel_regularizer=keras.regularizers.L2(L2_STRENGTH),
            name="output",
        )(hidden)
