"""The paper's recipe, shared by both training engines (the TensorFlow one of
:mod:`simplexgrad.training.single` and the JAX one of :mod:`simplexgrad.training.ensemble`).

Recipe (appendix A): binary cross-entropy, Adam (learning rate 1e-3), batches of 100, up to 100 epochs,
learning rate × 0.2 after 3 epochs without a better validation AUROC (down to 1e-7), early stopping after
10 such epochs, weights of the best validation-AUROC epoch restored. Here: its settings
(:class:`TrainingConfig`), the angle penalty of Fig 4d, the label checks, the test metrics, and the run
folder each trained model is saved to.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from simplexgrad._optional import needs

with needs("keras", "simplexgrad.training.recipe"):
    import keras
    import pandas as pd
    from keras import ops

    from simplexgrad._process import check_stop
    from simplexgrad.backend import seed_everything
    from simplexgrad.correction import simplex_angle_ops
    from simplexgrad.io import atomic_output, check_output_path, missing_folders
    from simplexgrad.metrics import aupr_per_row, auroc_per_row
    from simplexgrad.training.models import ACTIVATIONS, ARCHITECTURES, Activation, Architecture, build_model

__all__ = [
    "ANGLE_PENALTY_MODES",
    "AnglePenaltyMode",
    "TrainingConfig",
    "angle_penalty",
    "check_labels",
    "evaluate",
    "RUN_FILES",
    "check_run_folder",
    "save_run",
    "seeded_model",
]

AnglePenaltyMode = Literal["training", "inference"]
ANGLE_PENALTY_MODES: tuple[str, ...] = ("training", "inference")


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that determines one trained model; the defaults are the paper's recipe.

    Attributes
    ----------
    architecture : str
        Model architecture: cnn_shallow or cnn_deep.
    activation : str
        First-layer activation: relu or exponential.
    seed : int
        Seed of the initialisation, batch order and dropout.
    first_layer_filters : int
        Filters of the first convolution.
    first_layer_kernel_size : int
        Filter length of the first convolution (the authors' released CNN-deep weights use 11).
    init_stddev : float or None
        RandomNormal(0, σ) for the hidden kernels instead of he_normal (initialisation study).
    angle_penalty : float
        λ of the angle regulariser (0: none).
    angle_penalty_mode : str
        Saliency of the penalty: training (the model in training mode, the authors') or inference.
    epochs : int
        Maximum number of epochs.
    batch_size : int
        Sequences per training batch.
    learning_rate : float
        Adam's initial learning rate.
    early_stopping_patience : int
        Epochs without a better validation AUROC before training stops (best weights restored).
    lr_patience : int
        Epochs without a better validation AUROC before the learning rate drops.
    lr_factor : float
        Factor applied to the learning rate when it drops.
    min_learning_rate : float
        Floor of the learning rate.
    """

    architecture: Architecture = "cnn_deep"
    activation: Activation = "relu"
    seed: int = 0
    first_layer_filters: int = 24
    first_layer_kernel_size: int = 19
    init_stddev: float | None = None
    angle_penalty: float = 0.0
    angle_penalty_mode: AnglePenaltyMode = "training"
    epochs: int = 100
    batch_size: int = 100
    learning_rate: float = 1e-3
    early_stopping_patience: int = 10
    lr_patience: int = 3
    lr_factor: float = 0.2
    min_learning_rate: float = 1e-7

    def __post_init__(self):
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be > 0; got {value}")
        if self.angle_penalty < 0:
            raise ValueError(f"angle_penalty must be >= 0; got {self.angle_penalty}")
        if self.angle_penalty_mode not in ANGLE_PENALTY_MODES:
            raise ValueError(
                f"angle_penalty_mode must be one of {list(ANGLE_PENALTY_MODES)}; "
                f"got {self.angle_penalty_mode!r}"
            )
        if self.early_stopping_patience < 1 or self.lr_patience < 1:
            raise ValueError("patience values must be >= 1")
        if self.architecture not in ARCHITECTURES or self.activation not in ACTIVATIONS:
            raise ValueError(
                f"architecture must be one of {list(ARCHITECTURES)} and activation one of "
                f"{list(ACTIVATIONS)}; got {self.architecture!r}, {self.activation!r}"
            )


def angle_penalty(saliency, epsilon: float = 1e-12):
    """``mean over the batch of sqrt(Σ_positions θ²)`` for ``(B, L, A)`` saliency tensors (θ in degrees)."""
    angles = simplex_angle_ops(saliency, axis=-1)
    return ops.mean(ops.sqrt(ops.sum(ops.square(angles), axis=1) + epsilon))


def check_labels(y: np.ndarray, source: str) -> None:
    """Refuse labels that are not one column of 0/1 or hold a single class (no AUROC is defined then)."""
    if y.ndim != 2 or y.shape[1] != 1:
        raise ValueError(
            f"{source}: labels of shape {y.shape}; the models have one output, so training takes one "
            "column of 0/1 labels, shape (N, 1)"
        )
    classes = np.unique(y[:, 0])
    if not set(classes.tolist()) <= {0.0, 1.0}:
        raise ValueError(f"{source}: labels must be 0 or 1; found {classes[:5].tolist()}")
    if len(classes) < 2:
        raise ValueError(f"{source}: every label is {classes.tolist()}; training needs both classes")


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> dict:
    """Exact test AUROC and AUPR (trapezoid PR area, as for the interpretability metrics)."""
    scores = model.predict(x, batch_size=batch_size, verbose=0)[:, 0][None, :]
    positive = (y[:, 0] == 1)[None, :]
    return {
        "test_auroc": float(auroc_per_row(scores, positive, ~positive)[0]),
        "test_aupr": float(aupr_per_row(scores, positive, ~positive)[0]),
    }


RUN_FILES = ("model.keras", "history.tsv", "metrics.json")


def check_run_folder(out_dir: str | os.PathLike, option: str) -> None:
    """Refuse, before training, a run folder that :func:`save_run` could not write: a file in its
    place or in a parent's, a folder that cannot be written, or a folder where one of its files goes."""
    check_output_path(out_dir, option, folder=True)
    for name in RUN_FILES:
        if (Path(out_dir) / name).is_dir():
            raise ValueError(f"{option} {out_dir}: {name} there is a folder; the run writes a file there")


def save_run(out_dir: str | os.PathLike, model: keras.Model, history: pd.DataFrame, metrics: dict) -> None:
    """Write one trained model's ``model.keras``, ``history.tsv`` and ``metrics.json``, each atomically;
    ``metrics.json`` comes last, so its presence marks a finished run. A failure or a stop signal on
    the way removes the files already written: a run is saved whole or not at all."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    created = missing_folders(out_dir)
    try:
        with atomic_output(out_dir / "model.keras") as temporary:
            model.save(temporary)
        written.append(out_dir / "model.keras")
        with atomic_output(out_dir / "history.tsv") as temporary:
            history.to_csv(temporary, sep="\t", index=False, float_format="%.6g")
        written.append(out_dir / "history.tsv")
        with atomic_output(out_dir / "metrics.json") as temporary:
            temporary.write_text(json.dumps(metrics, indent=2, sort_keys=True, allow_nan=False) + "\n")
        written.append(out_dir / "metrics.json")
        check_stop()  # a stop whose exception a library swallowed while writing
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        for folder in created:  # no empty run folder is left behind
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def seeded_model(config: TrainingConfig, input_shape: tuple[int, ...]) -> keras.Model:
    """The model ``config`` describes, with the weights its seed draws before any training.

    Both engines start training from exactly this model (:func:`simplexgrad.training.single.train`, the
    ensemble's members), so an untrained model of the same config is the trained one's starting point
    (:func:`simplexgrad.training.single.untrained_to_directory`).

    Parameters
    ----------
    config : TrainingConfig
    input_shape : tuple of int
        ``(L, A)``.
    """
    seed_everything(config.seed)
    return build_model(
        config.architecture,
        input_shape,
        activation=config.activation,
        first_layer_filters=config.first_layer_filters,
        first_layer_kernel_size=config.first_layer_kernel_size,
        init_stddev=config.init_stddev,
    )
