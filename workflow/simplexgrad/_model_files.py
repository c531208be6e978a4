"""Models from where users keep them, for the commands that feed a model: PyTorch files and factories, the
input layout and length a model states, its output heads and output units.

A PyTorch model is a TorchScript file (``torch.jit.save``) or ``package.module:factory``, an import string
naming a function that builds the module, with its weights from a ``state_dict`` file (``torch.save``).
A Keras model states its input shape, so its layout (``NLA``: ``(N, L, A)``, ``NAL``: ``(N, A, L)``) and
length are checked against it; a torch module states neither, and a wrong layout fails in its first
forward pass. Torch is imported only when a torch model is given, Keras only for a Keras one.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from simplexgrad._arrays import ALPHABET_AXIS, Layout
from simplexgrad._optional import needs

__all__ = [
    "FACTORY",
    "is_factory",
    "load_torch_model",
    "input_length",
    "stated_layout",
    "output_head",
    "output_units",
    "chosen_units",
]

FACTORY = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # package.module:factory
TORCH_SUFFIXES = (".pt", ".pth", ".ts", ".torchscript", ".jit")


def is_factory(model: str | os.PathLike) -> bool:
    """Whether ``model`` is an import string ``package.module:factory`` (and not an existing file)."""
    text = os.fspath(model)
    return FACTORY.fullmatch(text) is not None and not os.path.exists(text)


def _torch_model_kind(path: str) -> str:
    """'torchscript' for a TorchScript archive, 'state_dict' for another ``torch.save`` file, '' else."""
    if not zipfile.is_zipfile(path):
        return "state_dict" if path.lower().endswith(TORCH_SUFFIXES) else ""
    with zipfile.ZipFile(path) as archive:
        entries = archive.namelist()
    if any(entry.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for entry in entries):
        return "torchscript"
    return "state_dict" if any(entry.endswith("data.pkl") for entry in entries) else ""


def load_torch_model(model: str | os.PathLike, state_dict: str | os.PathLike | None = None) -> Any:
    """A ``torch.nn.Module`` from a TorchScript file, or from ``package.module:factory`` and a
    ``state_dict`` file, in eval mode on the CPU.

    Parameters
    ----------
    model : str or os.PathLike
        A TorchScript file, or an import string whose function, called without arguments, builds the
        module (the current folder is searched first, as ``python -m`` does).
    state_dict : str or os.PathLike or None
        The module's weights (``torch.save(module.state_dict(), path)``); required with a factory.

    Raises
    ------
    ValueError
        Naming the file or import string: not TorchScript (a ``state_dict`` given as the model), a factory
        that cannot be imported or does not build a module, weights that do not fit the module.
    """
    with needs("torch", "loading a PyTorch model"):
        import torch

    text = os.fspath(model)
    if not is_factory(text):
        kind = _torch_model_kind(text)
        if kind == "state_dict":
            raise ValueError(
                f"{text}: holds weights (a state_dict), not a TorchScript model; give the function that "
                f"builds the module as --model package.module:factory and this file as --state-dict"
            )
        if state_dict is not None:
            raise ValueError(f"--state-dict {state_dict}: goes with --model package.module:factory")
        try:
            with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; users still hold such files
                warnings.simplefilter("ignore", DeprecationWarning)
                return torch.jit.load(text, map_location="cpu").eval()
        except Exception as error:  # noqa: BLE001 - torch raises many types for a damaged archive
            raise ValueError(f"{text}: not a readable TorchScript file ({type(error).__name__})") from None
    if state_dict is None:
        raise ValueError(f"--model {text}: give the module's weights with --state-dict (torch.save file)")
    if not os.path.exists(state_dict):
        raise FileNotFoundError(f"{state_dict}: state_dict file not found")
    module_name, _, function_name = text.partition(":")
    added = os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        factory = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"--model {text}: cannot import it ({type(error).__name__}: {error})") from None
    finally:
        if added:
            sys.path.remove(os.getcwd())
    module = factory()
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"--model {text}: returned a {type(module).__name__}, not a torch.nn.Module")
    try:
        weights = torch.load(state_dict, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - pickle and zip errors of a damaged file
        raise ValueError(f"{state_dict}: not a readable torch.save file ({type(error).__name__})") from None
    if isinstance(weights, Mapping) and isinstance(weights.get("state_dict"), Mapping):
        weights = weights["state_dict"]  # a checkpoint that holds the state_dict
    if not isinstance(weights, Mapping):
        raise ValueError(f"{state_dict}: holds a {type(weights).__name__}, not a state_dict")
    try:
        module.load_state_dict(weights)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[1:2] or [str(error)]
        raise ValueError(f"{state_dict}: does not fit {text} ({first[0].strip()})") from None
    return module.eval()


def _declared_shape(model: Any) -> tuple | None:
    """A Keras model's input shape without the batch axis, or None (torch modules declare none)."""
    shape = getattr(model, "input_shape", None)
    if shape is None or isinstance(shape, list):
        return None
    return tuple(shape[1:])


def stated_layout(model: Any) -> Layout | None:
    """The layout a Keras model's input shape states: 'NLA' for ``(N, L, 4)``, 'NAL' for ``(N, 4, L)``;
    None for a torch module, or a shape that fits both or neither."""
    shape = _declared_shape(model)
    if shape is None or len(shape) != 2 or (shape[0] == 4) == (shape[1] == 4):
        return None
    return "NAL" if shape[0] == 4 else "NLA"


def input_length(model: Any, layout: Layout, source: str) -> int | None:
    """The input length ``model`` states for ``layout``, or None when it states none (a torch module, a
    Keras model of any length).

    Raises
    ------
    ValueError
        Naming ``source`` when the model's stated input shape does not fit ``layout`` (the message names
        the layout it takes) or is not one-hot DNA of 4 letters.
    """
    if layout not in ALPHABET_AXIS:
        raise ValueError(f"layout must be NLA or NAL; got {layout!r}")
    shape = _declared_shape(model)
    if shape is None:
        return None
    axis = ALPHABET_AXIS[layout] - 1
    if len(shape) != 2 or shape[axis] != 4:
        fits = {name: len(shape) == 2 and shape[index - 1] == 4 for name, index in ALPHABET_AXIS.items()}
        other = [name for name, fit in fits.items() if fit and name != layout]
        hint = f"it takes {other[0]}: pass --layout {other[0]}" if other else "it does not take one-hot DNA"
        raise ValueError(
            f"{source}: the model's input is (N, {', '.join(map(str, shape))}), which does not fit "
            f"--layout {layout} ({'(N, L, 4)' if layout == 'NLA' else '(N, 4, L)'}); {hint}"
        )
    length = shape[1 - axis]
    return None if length is None else int(length)


def output_head(model: Any, head: str | None, source: str) -> Any:
    """The model with one output: ``model`` itself when it has one, else its head ``head`` (a name or an
    index) as a model sharing its weights.

    Raises
    ------
    ValueError
        Naming ``source`` and the heads: several heads and none chosen, or an unknown head.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module) and not hasattr(model, "output_names"):
        return model if head is None else _TorchHead.build(torch, model, head)
    outputs = list(getattr(model, "outputs", None) or [])
    names = list(getattr(model, "output_names", None) or [f"output_{index}" for index in range(len(outputs))])
    if len(outputs) <= 1:
        if head not in (None, "0", *names[:1]):
            raise ValueError(f"{source}: the model has one output; --output-head {head} names none")
        return model
    if head is None:
        raise ValueError(
            f"{source}: the model has {len(outputs)} output heads {names}; choose one with --output-head"
        )
    index = int(head) if head.lstrip("-").isdigit() else names.index(head) if head in names else None
    if index is None or not 0 <= index < len(outputs):
        raise ValueError(f"{source}: no output head {head!r}; its heads: {names} (or their index)")
    with needs("keras", "simplexgrad.backend"):
        import keras

    return keras.Model(model.inputs, outputs[index], name=f"{model.name}_{names[index]}")


class _TorchHead:
    """Builds a module returning ``outputs[head]`` of a module that returns a tuple, list or dict."""

    @staticmethod
    def build(torch, module, head: str):
        class Head(torch.nn.Module):
            def __init__(self, inner, key):
                super().__init__()
                self.inner, self.key = inner, key

            def forward(self, inputs):
                return self.inner(inputs)[self.key]

        return Head(module, int(head) if head.lstrip("-").isdigit() else head)


def output_units(model: Any, sample: np.ndarray, source: str) -> int:
    """How many output units ``model`` has (its last axis); a torch module runs once on ``sample``
    (inputs in the layout it takes), a Keras model states it."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module) and not hasattr(model, "output_shape"):
        from simplexgrad._torch_backend import module_placement

        device, dtype = module_placement(model)
        with torch.no_grad():
            try:
                outputs = model(torch.as_tensor(np.ascontiguousarray(sample), dtype=dtype, device=device))
            except RuntimeError as error:
                raise ValueError(
                    f"{source}: the model refused inputs of shape {sample.shape} (--layout or length?); "
                    f"{str(error).strip().splitlines()[0]}"
                ) from None
        if not torch.is_tensor(outputs):
            raise ValueError(
                f"{source}: the model returns a {type(outputs).__name__}; choose one with --output-head"
            )
        return 1 if outputs.ndim == 1 else int(outputs.shape[-1])
    shape = getattr(model, "output_shape", None)
    if isinstance(shape, list):
        raise ValueError(f"{source}: the model has {len(shape)} output heads; choose one with --output-head")
    return 1 if shape is None or len(shape) == 1 else int(shape[-1])


def chosen_units(class_index: Sequence[str] | Sequence[int] | None, units: int, source: str) -> list[int]:
    """The output units named by ``--class-index``: numbers and ranges (``0 2 5-7``), or ``all``; None is
    unit 0. Checked against the model's ``units``, naming ``source``."""
    if class_index is None:
        return [0]
    texts = [str(item) for item in class_index]
    if texts == ["all"]:
        return list(range(units))
    chosen: list[int] = []
    for text in texts:
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", text.strip())
        if match is None:
            raise ValueError(f"--class-index {text!r}: give unit numbers, ranges (0-3) or all")
        first, last = int(match[1]), int(match[2] or match[1])
        chosen.extend(unit for unit in range(first, last + 1) if unit not in chosen)
    bad = [unit for unit in chosen if unit >= units]
    if bad or not chosen:
        raise ValueError(
            f"{source}: --class-index {bad or texts} is out of range: the model has {units} output "
            f"unit{'s' if units != 1 else ''} "
            f"(class_index 0 to {units - 1})"
        )
    return chosen
