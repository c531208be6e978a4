"""The PyTorch branch of :mod:`simplexgrad.backend`: input gradients with torch autograd.

It serves any ``torch.nn.Module``, a Keras 3 model on the torch backend included (one is a module);
:mod:`simplexgrad.backend` decides what is differentiated (the ``forward`` callable) and imports this
module only when such a model is given, so nothing else in the library imports torch.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from simplexgrad._arrays import GradientFunction, Target

__all__ = ["input_gradients", "module_placement"]


def module_placement(module: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    """The device and floating dtype of the module's first floating parameter or buffer.

    A module without any (e.g. a pure function) gets the CPU and torch's default dtype.
    """
    for tensor in itertools.chain(module.parameters(), module.buffers()):
        if torch.nn.parameter.is_lazy(tensor):
            continue
        if tensor.is_floating_point():
            return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.get_default_dtype()


@contextlib.contextmanager
def input_gradients(
    module: torch.nn.Module,
    forward: Callable[[torch.Tensor], Any],
    sample: np.ndarray,
    class_index: int = 0,
    target: Target | None = None,
) -> Iterator[GradientFunction]:
    """Context in which ``module`` runs in eval mode; yields ``f(batch) -> input gradients`` of
    ``forward`` (``module`` itself, or the scoring function :mod:`simplexgrad.backend` chose for it).

    On entry every submodule is put in eval mode (dropout off, batch-norm running statistics) and one
    forward pass on ``sample`` (a few inputs in the layout the module takes) checks that the module takes
    them and that ``class_index`` or ``target`` selects one score per input; on exit each submodule's
    ``training`` flag is restored. The yielded function takes a NumPy batch, moves it to the module's
    device and dtype, and returns the gradient of the summed scores as a NumPy array (the module's dtype):
    each input's gradient depends only on that input, because the module is in eval mode. Everything but
    that gradient call runs under ``torch.no_grad``. Its ``fixed_shape`` attribute is False: batches of any
    size run as they are (nothing is compiled for one shape), so callers do not pad them.
    """
    device, dtype = module_placement(module)
    flags = [(submodule, submodule.training) for submodule in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            _probe(module, forward, sample, device, dtype, class_index, target)
        yield _gradient_function(forward, device, dtype, class_index, target)
    finally:
        for submodule, training in flags:
            submodule.training = training


def _as_input(batch: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``batch`` as a contiguous tensor on ``device`` in ``dtype``; a contiguous, writeable batch of that
    dtype on the CPU is shared, not copied.

    Contiguous matters: a transposed view (a user's (N, A, L) made from (N, L, A) arrays) reaches the
    convolutions in a channels-last memory format, which they keep through the network; there the
    convolutions and activations ran up to twice as long, a whole batch's gradient up to 1.3x (measured
    with torch 2.13 on the CPU).
    """
    array = np.ascontiguousarray(batch)
    if not array.flags.writeable:  # torch.from_numpy warns about read-only arrays
        array = array.copy()
    return torch.from_numpy(array).to(device=device, dtype=dtype)


def _probe(module, forward, sample, device, dtype, class_index, target) -> None:
    inputs = _as_input(sample, device, dtype)
    try:
        outputs = forward(inputs)
    except RuntimeError as error:
        raise ValueError(
            f"the module refused inputs of shape {tuple(inputs.shape)}{_first_layer(module)} "
            f"(wrong layout or length? 'NLA' feeds (N, L, A), 'NAL' feeds (N, A, L)); "
            f"{type(error).__name__}: {error}"
        ) from None
    _scores(outputs, class_index, target, len(sample))


def _first_layer(module: torch.nn.Module) -> str:
    for submodule in module.modules():
        if torch.nn.parameter.is_lazy(getattr(submodule, "weight", None)):
            return ""
        if isinstance(submodule, torch.nn.Conv1d):
            return f"; its first layer {submodule} takes (N, {submodule.in_channels}, L)"
        if isinstance(submodule, torch.nn.Linear):
            return f"; its first layer {submodule} takes (..., {submodule.in_features})"
    return ""


def _scores(outputs, class_index: int, target: Target | None, count: int) -> torch.Tensor:
    """One score per input: ``target(outputs)``, or column ``class_index`` of an (N, C) or (N,) output."""
    if target is not None:
        scores = target(outputs)
        shape = tuple(scores.shape) if torch.is_tensor(scores) else type(scores).__name__
        if shape != (count,):
            raise ValueError(
                f"target must map the outputs to one score per input, shape ({count},); got {shape}"
            )
        return scores
    if not torch.is_tensor(outputs):
        raise ValueError(
            f"the module returns a {type(outputs).__name__}, not one tensor: pass target=, a callable "
            "mapping its outputs to one score per input"
        )
    columns = 1 if outputs.ndim == 1 else outputs.shape[1]
    if outputs.ndim > 2 or outputs.shape[0] != count:
        raise ValueError(
            f"class_index selects a column of an (N, C) output; the module returns shape "
            f"{tuple(outputs.shape)} for {count} inputs: pass target= to reduce it to one score per input"
        )
    if not 0 <= class_index < columns:
        raise ValueError(
            f"class_index must be in [0, {columns}) for the module's output of shape "
            f"{tuple(outputs.shape)}; got {class_index}"
        )
    return outputs if outputs.ndim == 1 else outputs[:, class_index]


def _gradient_function(forward, device, dtype, class_index, target) -> GradientFunction:
    def run(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            inputs = _as_input(batch, device, dtype)
        inputs.requires_grad_(True)
        with torch.enable_grad():
            scores = _scores(forward(inputs), class_index, target, len(batch))
            (gradient,) = torch.autograd.grad(scores.sum(), inputs, allow_unused=True)
        if gradient is None:  # the scores do not depend on the inputs
            return np.zeros(batch.shape, dtype=batch.dtype)
        return gradient.detach().cpu().numpy()

    run.fixed_shape = False  # eager autograd: no batch needs padding
    return run
