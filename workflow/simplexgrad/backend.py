"""Every backend-specific branch of simplexgrad: seeds, CPU threads, model loading and input gradients.

Keras 3 models run on the TensorFlow backend (the default) or on JAX. Attribution also takes PyTorch
models: :func:`attribution_gradients` decides what a ``torch.nn.Module`` (a Keras 3 model on the torch
backend is one) is differentiated through and sends it to torch autograd in the private
:mod:`simplexgrad._torch_backend`, imported only then: nothing imports torch unless a torch model is
given, and Keras is imported where it is used, so a plain torch module never loads it. The rest of the
library works on NumPy arrays and ``keras.ops`` and calls into this module; the whole-ensemble trainer
(:mod:`simplexgrad.training.ensemble`) is a JAX program by design.
"""

from __future__ import annotations

import contextlib
import os
import sys
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from simplexgrad._arrays import GradientFunction, OutputKind, Target
from simplexgrad._model_files import TORCH_SUFFIXES, is_factory, load_torch_model
from simplexgrad._optional import needs
from simplexgrad._startup import KERAS_LAZY_TENSORFLOW, skipped_imports

if TYPE_CHECKING:  # keras is imported where it is used, so a torch model never loads it (nor TensorFlow)
    import keras

__all__ = [
    "configure_threads",
    "load_model",
    "as_model",
    "seed_everything",
    "OutputKind",
    "is_torch_model",
    "attribution_gradients",
    "input_gradient_function",
    "scoring_model",
    "differentiable_input_gradient",
    "training_mode_input_gradient",
]

# Compiled functions per model, so repeated calls do not trace again; they read the model's current
# weights at every call, so a cached function stays right after further training. A logit function
# built on a copy of the last layer would not, and is never cached.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def configure_threads(threads: int | None) -> None:
    """Limit the backend to ``threads`` CPU threads (None leaves the backend's default).

    Call before the first model is built: TensorFlow fixes its thread pools on first use, and JAX when it
    creates its CPU client. XLA stays off on the TensorFlow CPU path, where it was measured to be far
    slower for these models.
    """
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    with needs("keras", "simplexgrad.backend"):
        import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    elif backend == "jax":
        _start_jax_with_threads(threads)


def _start_jax_with_threads(threads: int) -> None:
    """Create JAX's clients while the process may run on only ``threads`` of its CPUs, then give the
    CPUs back.

    JAX sizes its CPU thread pools from the process's CPU affinity when it creates its CPU client, and
    ignores XLA's ``intra_op_parallelism_threads`` flag (measured on jax 0.10: a 2-core machine kept two
    busy compute threads). The pools keep their size afterwards; the threads may run on any of the
    process's CPUs, so concurrent jobs are not pinned to the same ones. Without ``os.sched_setaffinity``
    (macOS, Windows), or after JAX has started, JAX keeps its default.
    """
    if not hasattr(os, "sched_setaffinity"):
        return
    allowed = os.sched_getaffinity(0)
    if threads >= len(allowed):
        return
    import jax

    os.sched_setaffinity(0, sorted(allowed)[:threads])
    try:
        jax.devices()
    finally:
        os.sched_setaffinity(0, allowed)


def seed_everything(seed: int) -> None:
    """Python, NumPy and backend seeds; deterministic TensorFlow kernels.

    On another backend, TensorFlow is seeded too if it is imported, but not imported for that (Keras
    would, about 3 s of a JAX job's start).
    """
    with needs("keras", "simplexgrad.backend"):
        import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
    else:
        from keras.src.utils import module_utils

        lazy_tensorflow = module_utils.tensorflow
        checked = getattr(lazy_tensorflow, "_available", None) is not None
        with skipped_imports({"tensorflow": KERAS_LAZY_TENSORFLOW}):
            keras.utils.set_random_seed(seed)
        if not checked:  # Keras remembers a skipped import as TensorFlow missing: let it look again later
            lazy_tensorflow._available = None


def load_model(path: str | os.PathLike, state_dict: str | os.PathLike | None = None) -> Any:
    """Load a model for inference: Keras ``.keras`` or ``.h5`` (no optimizer state, no custom training
    objects needed), a TorchScript file, or ``package.module:factory`` with a ``state_dict`` file (see
    :func:`simplexgrad._model_files.load_torch_model`; torch is imported only for these).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When it is not a readable model file (naming the file).
    """
    if is_factory(path) or state_dict is not None:
        return load_torch_model(path, state_dict)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: model file not found")
    if str(path).lower().endswith(TORCH_SUFFIXES):
        return load_torch_model(path)  # TorchScript, or one line saying what the file is
    with needs("keras", "simplexgrad.backend"):
        import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for a damaged archive
        raise ValueError(f"{path}: not a readable .keras model ({type(error).__name__}: {error})") from None


def as_model(model: Any) -> Any:
    """``model`` itself, or the model a path (``str`` or ``os.PathLike``) names, loaded by :func:`load_model`
    (what the attribution methods do with a model given as a path)."""
    return load_model(model) if isinstance(model, (str, os.PathLike)) else model


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
    with needs("keras", "simplexgrad.backend"):
        import keras

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


def is_torch_model(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` (never imports torch: without it, no model is one)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


@contextlib.contextmanager
def attribution_gradients(
    model: Any,
    sample: np.ndarray,
    class_index: int = 0,
    output: OutputKind = "probability",
    target: Target | None = None,
) -> Iterator[GradientFunction]:
    """Context yielding ``f(batch) -> input gradients`` for any supported model; dispatches on the model.

    Parameters
    ----------
    model : keras.Model or torch.nn.Module or simplexgrad.attribution.group.MemberGroup
        A Keras 3 model on TensorFlow or JAX (compiled gradient, :func:`input_gradient_function`), or a
        ``torch.nn.Module``, a Keras model on the torch backend included (torch autograd, in eval mode
        for the duration of the context, on the module's device and in its dtype), or a group of
        same-shape Keras models on JAX, whose gradients are ``(B, K, L, A)`` for ``K`` members.
    sample : numpy.ndarray
        A few inputs in the layout the model takes; a torch module runs one forward pass on them, so that
        a wrong input shape or output selection fails early with a ``ValueError``.
    class_index, output, target
        As for :func:`input_gradient_function`; for a torch module (not a Keras one), ``output='logit'``
        is refused: the module is differentiated as it returns its outputs.

    Yields
    ------
    callable
        ``f(x)`` with ``x`` a NumPy batch in the model's layout, returning gradients of the same shape.
    """
    if is_torch_model(model):
        from simplexgrad._torch_backend import input_gradients  # here: only a torch model loads torch

        with input_gradients(model, _torch_forward(model, output), sample, class_index, target) as gradient:
            yield gradient
    elif callable(getattr(model, "attribution_gradients", None)):  # a group of models: (B, K, L, A)
        yield model.attribution_gradients(class_index, output, target)
    else:
        yield input_gradient_function(model, class_index, output, target)


def _torch_forward(module: Any, output: OutputKind) -> Callable[[Any], Any]:
    """What a torch module's input gradient differentiates: a Keras model on the torch backend through
    :func:`scoring_model` in inference mode, any other module as it returns its outputs."""
    keras = sys.modules.get("keras")  # not imported: the module cannot be a Keras model
    if keras is not None and isinstance(module, keras.Model):  # Keras on torch: training=False
        scorer = scoring_model(module, output)
        return lambda inputs: scorer(inputs, training=False)
    if output == "logit":
        raise ValueError(
            "output='logit' applies to Keras models that end in a sigmoid or softmax; a torch module is "
            "differentiated as it returns its outputs (logits if it returns logits): return the logits from "
            "the module, or pick them with target="
        )
    if output != "probability":
        raise ValueError(f"output must be 'probability' or 'logit'; got {output!r}")
    return module


def input_gradient_function(
    model: keras.Model,
    class_index: int = 0,
    output: OutputKind = "probability",
    target: Target | None = None,
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
    target : callable or None
        Instead of ``class_index``: maps the outputs (backend tensors; write it with ``keras.ops``) to
        one score per input, shape ``(B,)``.

    Returns
    -------
    callable
        ``f(x)`` with ``x`` an array ``(B, L, A)`` returning gradients ``(B, L, A)`` in the model's input
        dtype (float32 for the models of this project).
        Inference mode (dropout off, batch-norm moving statistics). Each sample's gradient depends only
        on that sample. Compiled once per (model, output) and cached, the unit being an argument of the
        compiled function, so every unit of a multi-task model shares one trace (not with a target).
        Its ``fixed_shape`` attribute says whether every batch must have one shape: True on JAX (each new
        shape compiles again), False on TensorFlow (a second batch shape traces once for every size).
    """
    with needs("keras", "simplexgrad.backend"):
        import keras

    if target is not None:
        return _compile(scoring_model(model, output), target)
    cached = _COMPILED.setdefault(model, {})
    if output in cached:
        scorer, per_unit = cached[output]
    else:
        scorer = scoring_model(model, output)
        per_unit = _compile(scorer, None)
        if scorer is model or isinstance(model.layers[-1], keras.layers.Activation):
            cached[output] = scorer, per_unit
    units = scorer.output_shape[-1] if len(scorer.output_shape) > 1 else 1
    if not 0 <= class_index < units:
        raise ValueError(f"class_index must be in [0, {units}); got {class_index}")

    def selected(inputs: np.ndarray) -> np.ndarray:
        return per_unit(inputs, class_index)

    selected.fixed_shape = per_unit.fixed_shape
    return selected


def _compile(scorer: keras.Model, target: Target | None) -> Callable:
    """``f(x, unit)`` (``unit`` ignored with a ``target``): the gradient of the selected scores."""
    with needs("keras", "simplexgrad.backend"):
        import keras

    dtype = keras.backend.standardize_dtype(scorer.inputs[0].dtype) if scorer.inputs else "float32"
    select = _unit_selector(target)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_gradient(scorer, select, dtype)
    if backend == "jax":
        return _jax_gradient(scorer, select, dtype)
    raise NotImplementedError(
        f"compiled input gradients are implemented for the tensorflow and jax backends; KERAS_BACKEND="
        f"{backend!r} (a Keras model on the torch backend goes through attribution_gradients)"
    )


def _select_unit(predictions, class_index: int):
    return predictions[:, class_index] if len(predictions.shape) > 1 else predictions


def _unit_selector(target: Target | None):
    """``select(predictions, unit)``: one score per input, column ``unit`` of ``(B, C)`` predictions (all
    of ``(B,)`` ones), or what ``target`` makes of them."""
    if target is None:
        return _select_unit

    def select(predictions, unit):
        scores = target(predictions)
        if len(scores.shape) != 1:  # checked when traced
            raise ValueError(f"target must map the outputs to one score per input, (B,); got {scores.shape}")
        return scores

    return select


def _tensorflow_gradient(scorer: keras.Model, select, dtype: str) -> Callable:
    import tensorflow as tf

    @tf.function(reduce_retracing=True, jit_compile=False)
    def gradient(inputs, unit):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = select(scorer(inputs, training=False), unit)
        return tape.gradient(score, inputs)

    def run(inputs: np.ndarray, unit: int = 0) -> np.ndarray:
        return gradient(tf.convert_to_tensor(inputs, dtype=dtype), tf.constant(unit, tf.int32)).numpy()

    # reduce_retracing: a second batch shape is traced once with a free batch size, which then serves
    # every size (as fast as the fixed shape, measured on CPU); so a last, smaller batch is not padded.
    run.fixed_shape = False
    return run


def _jax_gradient(scorer: keras.Model, select, dtype: str) -> Callable:
    import jax
    import jax.numpy as jnp

    def summed_score(inputs, unit, trainable_values, non_trainable_values):
        predictions, _ = scorer.stateless_call(trainable_values, non_trainable_values, inputs, training=False)
        return jnp.sum(select(predictions, unit))

    gradient = jax.jit(jax.grad(summed_score))

    def run(inputs: np.ndarray, unit: int = 0) -> np.ndarray:
        trainable = [variable.value for variable in scorer.trainable_variables]
        non_trainable = [variable.value for variable in scorer.non_trainable_variables]
        batch = jnp.asarray(inputs, dtype=dtype)
        return np.asarray(gradient(batch, jnp.int32(unit), trainable, non_trainable))

    run.fixed_shape = True  # jit compiles each new shape again: pad
    return run


def differentiable_input_gradient(model: keras.Model, inputs, class_index: int = 0):
    """Input gradient of one output unit as a backend tensor that stays differentiable w.r.t. weights.

    For use inside a training step (the angle penalty's inference mode): the model runs in inference
    mode, so the gradient is that of the function used for attribution, and no batch-norm statistics or
    dropout state are touched. :func:`training_mode_input_gradient` is the authors' (training-mode) one.

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
    with needs("keras", "simplexgrad.backend"):
        import keras

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


def training_mode_input_gradient(model: keras.Model, inputs, class_index: int = 0):
    """Outputs and input gradient of one output unit from one training-mode forward pass, both backend
    tensors that stay differentiable w.r.t. the weights.

    For the authors' angle penalty inside a training step (their ``model(x, training=True)`` under a
    gradient tape): dropout is on and batch norm normalises with the batch's statistics, so the gradient
    is that of the function being fitted in this step, and the same pass's outputs feed the loss (one
    dropout draw, batch-norm moving statistics updated once, as by a plain training call).

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
    tuple
        The training-mode outputs ``(B, units)`` and the gradients ``(B, L, A)`` of the summed unit.
    """
    with needs("keras", "simplexgrad.backend"):
        import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = model(inputs, training=True)
            score = _select_unit(outputs, class_index)
        return outputs, tape.gradient(score, inputs)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        trainable = [variable.value for variable in model.trainable_variables]
        non_trainable = [variable.value for variable in model.non_trainable_variables]

        def summed_score(values):
            outputs, updated = model.stateless_call(trainable, non_trainable, values, training=True)
            return jnp.sum(_select_unit(outputs, class_index)), (outputs, updated)

        (_, (outputs, updated)), gradient = jax.value_and_grad(summed_score, has_aux=True)(inputs)
        for variable, value in zip(model.non_trainable_variables, updated):  # as a plain call would
            variable.assign(value)
        return outputs, gradient
    raise NotImplementedError(
        f"input gradients are implemented for the tensorflow and jax backends; KERAS_BACKEND={backend!r}"
    )
