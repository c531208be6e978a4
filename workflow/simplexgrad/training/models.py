"""The paper's CNNs (appendix A): CNN-shallow and CNN-deep, with a ReLU or exponential first layer.

Layers are those of the authors' ``model_zoo`` (Keras 2), created in the same order, so that a weights file
saved from their models loads into ours by order (:func:`import_weights`). Every hidden block is
convolution (or dense) → batch norm → activation → dropout [→ max-pool]; convolutions use 'same' padding;
hidden convolution and dense layers keep Keras' default bias, carry an L2 penalty of 1e-6 on their kernels
and use the study's initialiser (he_normal, or RandomNormal(0, σ)). The output is a linear ``Dense(1)``
with Keras' default initialiser, a bias and no penalty, followed by a separate sigmoid ``Activation``.
At the defaults CNN-shallow has 15,433 parameters and CNN-deep 53,161.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from typing import Literal

import numpy as np

from simplexgrad._optional import needs
from simplexgrad.io import atomic_output, open_hdf5

with needs("keras", "simplexgrad.training.models"):
    import keras

__all__ = [
    "ARCHITECTURES",
    "ACTIVATIONS",
    "cnn_shallow",
    "cnn_deep",
    "build_model",
    "read_legacy_weights",
    "import_weights",
    "import_weights_file",
]

Architecture = Literal["cnn_shallow", "cnn_deep"]
Activation = Literal["relu", "exponential"]
ACTIVATIONS: tuple[str, ...] = typing.get_args(Activation)
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
    """CNN-shallow: conv(24, 19) → pool 50 → conv(48, 3) → pool 2 → dense 96 → dense 1 → sigmoid.

    Parameters
    ----------
    input_shape : tuple of int
        ``(L, A)``, e.g. ``(200, 4)``.
    activation : {'relu', 'exponential'}
        Activation of the first convolution only; all other hidden layers use ReLU.
    first_layer_filters, first_layer_kernel_size : int
        Width and filter length of the first convolution.
    init_stddev : float or None
        ``None`` → he_normal; a float σ → RandomNormal(0, σ) for every hidden kernel (initialisation
        study). The output layer keeps Keras' default (glorot_uniform) either way.
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
    → dense 96 → dense 1 → sigmoid.

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


_BUILDERS: dict[str, Callable[..., keras.Model]] = {"cnn_shallow": cnn_shallow, "cnn_deep": cnn_deep}
ARCHITECTURES: tuple[str, ...] = typing.get_args(Architecture)


def build_model(
    architecture: Architecture, input_shape: tuple[int, int] = (200, 4), **options
) -> keras.Model:
    """Build an architecture by name (one of :data:`ARCHITECTURES`) with the options of its function."""
    if architecture not in _BUILDERS:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {list(ARCHITECTURES)}")
    return _BUILDERS[architecture](input_shape, **options)


def read_legacy_weights(path: str | os.PathLike) -> list[tuple[str, list[np.ndarray]]]:
    """The weights of a Keras 2 / legacy HDF5 file, layer by layer in creation order.

    Reads what ``model.save_weights('file.h5')`` (TF-Keras 2) or ``model.save('file.h5')`` writes: a root
    (or ``model_weights`` group) whose ``layer_names`` attribute lists the layers in order and whose
    layer groups list their arrays in ``weight_names``.

    Returns
    -------
    list of (str, list of numpy.ndarray)
        One entry per layer that has weights: its name in the file and its arrays in the file's order.

    Raises
    ------
    FileNotFoundError, ValueError
        When the file is missing, not HDF5, or not a legacy Keras weights file.
    """
    with open_hdf5(path) as handle:
        group = handle
        if "layer_names" not in handle.attrs and "model_weights" in handle:
            group = handle["model_weights"]  # a whole model saved as legacy .h5
        if "layer_names" not in group.attrs:
            raise ValueError(
                f"{path}: no 'layer_names' attribute; expected weights saved by Keras 2 "
                "(model.save_weights('file.h5')) or a legacy .h5 model"
            )
        layers = []
        for layer_name in _strings(group.attrs["layer_names"]):
            weight_names = _strings(group[layer_name].attrs.get("weight_names", []))
            if weight_names:
                arrays = [np.asarray(group[layer_name][weight]) for weight in weight_names]
                layers.append((layer_name, arrays))
    return layers


def import_weights(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """Load a legacy weights file (:func:`read_legacy_weights`) into ``model`` by layer order.

    Layer names are ignored (the authors' files name their layers ``conv1d_3`` …); the number of layers
    with weights, the number of arrays of each and every shape must agree.

    Raises
    ------
    ValueError
        Naming the first layer whose weights do not fit, with both shapes.
    """
    stored = read_legacy_weights(path)
    targets = [layer for layer in model.layers if layer.weights]
    if len(stored) != len(targets):
        raise ValueError(
            f"{path}: {len(stored)} layers with weights in the file, {len(targets)} in {model.name} "
            f"({', '.join(layer.name for layer in targets)}): is it the right architecture?"
        )
    for (stored_name, arrays), layer in zip(stored, targets):
        expected = [tuple(weight.shape) for weight in layer.weights]
        found = [array.shape for array in arrays]
        if expected != found:
            raise ValueError(
                f"{path}: layer {stored_name!r} has weight shapes {found}, but {model.name}'s layer "
                f"{layer.name!r} needs {expected} (check --architecture, --first-layer-filters and "
                "--first-layer-kernel-size)"
            )
    for (_, arrays), layer in zip(stored, targets):
        layer.set_weights(arrays)
    return model


def import_weights_file(
    weights: str,
    out: str,
    architecture: Architecture,
    activation: Activation = "relu",
    first_layer_filters: int = 24,
    first_layer_kernel_size: int = 19,
    length: int = 200,
) -> None:
    """Build an architecture, load a Keras 2 weights file into it by layer order, save it as .keras.

    Parameters
    ----------
    weights : str
        Weights saved from the authors' model (.h5, Keras 2 ``save_weights`` or a legacy .h5 model).
    out : str
        Model file to write (.keras), usable by ``simplexgrad attribute``.
    architecture : str
        cnn_shallow or cnn_deep.
    activation : {'relu', 'exponential'}
        First-layer activation.
    first_layer_filters : int
        Filters of the first convolution.
    first_layer_kernel_size : int
        Filter length of the first convolution (11 for the authors' released CNN-deep weights).
    length : int
        Input sequence length.
    """
    model = build_model(
        architecture,
        (length, 4),
        activation=activation,
        first_layer_filters=first_layer_filters,
        first_layer_kernel_size=first_layer_kernel_size,
    )
    import_weights(model, weights)
    with atomic_output(out) as temporary:
        model.save(temporary)


def _strings(values) -> list[str]:
    return [value.decode() if isinstance(value, bytes) else str(value) for value in values]


class _Blocks:
    """Layer factories sharing the initialiser and regulariser of one model's hidden layers."""

    def __init__(self, init_stddev: float | None):
        if init_stddev is not None and not init_stddev > 0:
            raise ValueError(f"init_stddev must be > 0 or None; got {init_stddev}")
        self.init_stddev = init_stddev

    def initializer(self):
        if self.init_stddev is None:
            return keras.initializers.HeNormal()
        return keras.initializers.RandomNormal(mean=0.0, stddev=self.init_stddev)

    def conv(self, inputs, filters: int, kernel_size: int, activation: str, dropout: float, name: str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}; got {activation!r}")
        if filters < 1 or kernel_size < 1:
            raise ValueError(f"{name}: filters and kernel size must be >= 1; got {filters}, {kernel_size}")
        hidden = keras.layers.Conv1D(
            filters,
            kernel_size,
            padding="same",
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
            kernel_initializer=self.initializer(),
            kernel_regularizer=keras.regularizers.L2(L2_STRENGTH),
            name="dense",
        )(hidden)
        hidden = keras.layers.BatchNormalization(name="dense_bn")(hidden)
        hidden = keras.layers.Activation("relu", name="dense_relu")(hidden)
        hidden = keras.layers.Dropout(0.5, name="dense_dropout")(hidden)
        logit = keras.layers.Dense(1, name="output")(hidden)
        return keras.layers.Activation("sigmoid", name="output_sigmoid")(logit)
