"""Compiled input gradients of a Keras 3 model: the only backend-specific code in simplexgrad.

Supported backends are TensorFlow (the default) and JAX. Everything else in the library works on NumPy
arrays and ``keras.ops`` and calls into this module.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Literal

import keras
import numpy as np

__all__ = [
    "OutputKind",
    "input_gradient_function",
    "scoring_model",
    "differentiable_input_gradient",
]

OutputKind = Literal["probability", "logit"]
GradientFunction = Callable[[np.ndarray], np.ndarray]

# Compiled functions per model, so repeated calls do not trace again; they read the model's current
# weights at every call, so a cached function stays right after further training. A logit function
# built on a copy of the last layer would not, and is never cached.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def scoring_model(model: keras.Model, output: OutputKind = "probability") -> keras.Model:
    """The model whose output is differentiated.

    Parameters
    ----------
    model : keras.Model
        A built functional or Sequential model whose last layer ends in a sigmoid (or softmax).
    output : {'probability', 'logit'}
        'probability' differentiates the model as it is. 'logit' differentiates the pre-activation of the
        last layer: either the input of a final ``Activation`` layer, or a copy of the last layer with a
        linear activation and the same weights. Use it when predictions saturate and the probability's
        gradient vanishes.

    Returns
    -------
    keras.Model
        ``model`` itself, or a model sharing its inputs that returns logits.
    """
    if output == "probability":
        return model
    if output != "logit":
        raise ValueError(f"output must be 'probability' or 'logit'; got {output!r}")
    if not getattr(model, "inputs", None):
        raise ValueError("output='logit' needs a functional or Sequential model with defined inputs")
    last = model.layers[-1]
    if isinstance(last, keras.layers.Activation):
        return keras.Model(model.inputs, last.input, name=f"{model.name}_logit")
    activation = getattr(last, "activation", None)
    if activation is None or activation is keras.activations.linear:
        raise ValueError(
            f"output='logit' needs a last layer with a non-linear activation; {last.name!r} has none"
        )
    linear_copy = last.__class__.from_config(
        {**last.get_config(), "activation": "linear", "name": f"{last.name}_logit"}
    )
    logits = linear_copy(last.input)
    linear_copy.set_weights(last.get_weights())
    return keras.Model(model.inputs, logits, name=f"{model.name}_logit")


def input_gradient_function(
    model: keras.Model, class_index: int = 0, output: OutputKind = "probability"
) -> GradientFunction:
    """A compiled function mapping a batch of inputs to the gradient of one output unit.

    Parameters
    ----------
    model : keras.Model
        Built Keras 3 model with one output of shape ``(B, C)``.
    class_index : int
        Output unit to differentiate (``0 <= class_index < C``).
    output : {'probability', 'logit'}
        See :func:`scoring_model`.

    Returns
    -------
    callable
        ``f(x)`` with ``x`` an array ``(B, L, A)`` returning gradients ``(B, L, A)`` in the model's input
        dtype (float32 for the models of this project).
        Inference mode (dropout off, batch-norm moving statistics). Each sample's gradient depends only
        on that sample. Compiled once per (model, class_index, output) and cached.
    """
    cached = _COMPILED.setdefault(model, {})
    key = (class_index, output)
    if key in cached:
        return cached[key]
    scorer = scoring_model(model, output)
    function = _compile(scorer, class_index)
    if scorer is model or isinstance(model.layers[-1], keras.layers.Activation):
        cached[key] = function
    return function


def _compile(scorer: keras.Model, class_index: int) -> GradientFunction:
    units = scorer.output_shape[-1] if len(scorer.output_shape) > 1 else 1
    if not 0 <= class_index < units:
        raise ValueError(f"class_index must be in [0, {units}); got {class_index}")
    dtype = keras.backend.standardize_dtype(scorer.inputs[0].dtype) if scorer.inputs else "float32"
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_gradient(scorer, class_index, dtype)
    if backend == "jax":
        return _jax_gradient(scorer, class_index, dtype)
    raise NotImplementedError(
        f"input gradients are implemented for the tensorflow and jax backends; KERAS_BACKEND={backend!r}"
    )


def _select_unit(predictions, class_index: int):
    return predictions[:, class_index] if len(predictions.shape) > 1 else predictions


def _tensorflow_gradient(scorer: keras.Model, class_index: int, dtype: str) -> GradientFunction:
    import tensorflow as tf

    @tf.function(reduce_retracing=True, jit_compile=False)
    def gradient(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = _select_unit(scorer(inputs, training=False), class_index)
        return tape.gradient(score, inputs)

    def run(inputs: np.ndarray) -> np.ndarray:
        return gradient(tf.convert_to_tensor(inputs, dtype=dtype)).numpy()

    return run


def _jax_gradient(scorer: keras.Model, class_index: int, dtype: str) -> GradientFunction:
    import jax
    import jax.numpy as jnp

    def summed_score(inputs, trainable_values, non_trainable_values):
        predictions, _ = scorer.stateless_call(trainable_values, non_trainable_values, inputs, training=False)
        return jnp.sum(_select_unit(predictions, class_index))

    gradient = jax.jit(jax.grad(summed_score))

    def run(inputs: np.ndarray) -> np.ndarray:
        trainable = [variable.value for variable in scorer.trainable_variables]
        non_trainable = [variable.value for variable in scorer.non_trainable_variables]
        return np.asarray(gradient(jnp.asarray(inputs, dtype=dtype), trainable, non_trainable))

    return run


def differentiable_input_gradient(model: keras.Model, inputs, class_index: int = 0):
    """Input gradient of one output unit as a backend tensor that stays differentiable w.r.t. weights.

    For use inside a training step (angle regularisation): the model runs in inference mode, so the
    gradient is that of the function used for attribution, and no batch-norm statistics or dropout
    state are touched.

    Parameters
    ----------
    model : keras.Model
        Model taking ``(B, L, A)`` inputs.
    inputs : tensor
        ``(B, L, A)`` backend tensor.
    class_index : int
        Output unit.

    Returns
    -------
    tensor
        ``(B, L, A)`` gradients.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = _select_unit(model(inputs, training=False), class_index)
        return tape.gradient(score, inputs)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def summed_score(values):
            return jnp.sum(_select_unit(model(values, training=False), class_index))

        return jax.grad(summed_score)(inputs)
    raise NotImplementedError(
        f"input gradients are implemented for the tensorflow and jax backends; KERAS_BACKEND={backend!r}"
    )
