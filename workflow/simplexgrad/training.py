"""Training with the paper's recipe, seeded, with optional angle regularisation.

Recipe (appendix A): binary cross-entropy, Adam (learning rate 1e-3), batches of 100, up to 100 epochs,
learning rate × 0.2 after 3 epochs without a better validation AUROC (down to 1e-7), early stopping after
10 such epochs, weights of the best validation-AUROC epoch restored.

Angle regularisation (Fig 4d) adds ``λ · mean over the batch of sqrt(Σ_positions θ²)`` to the loss,
with θ the simplex angle (degrees) of each position's saliency, computed inside the training step. Its
mode says which function's saliency: ``training`` (default, the authors'): the model in training mode,
the same forward pass as the loss (dropout on, batch-norm batch statistics); ``inference``: the model in
inference mode, the function that attribution later explains.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from simplexgrad._optional import needs

with needs("keras", "simplexgrad.training"):
    import keras
    import pandas as pd
    from keras import ops

    from simplexgrad._process import check_stop, stops_at_safe_points
    from simplexgrad.backend import (
        configure_threads,
        differentiable_input_gradient,
        seed_everything,
        training_mode_input_gradient,
    )
    from simplexgrad.correction import simplex_angle_ops
    from simplexgrad.io import atomic_output, check_output_path, load_split
    from simplexgrad.metrics import aupr_per_row, auroc_per_row
    from simplexgrad.models import ACTIVATIONS, ARCHITECTURES, Activation, Architecture, build_model

__all__ = [
    "ANGLE_PENALTY_MODES",
    "AnglePenaltyMode",
    "TrainingConfig",
    "AngleRegularized",
    "angle_penalty",
    "compile_model",
    "train",
    "save_run",
    "check_run_folder",
    "train_to_directory",
]

log = logging.getLogger(__name__)

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


class AngleRegularized(keras.Model):
    """Wraps a model for training with an angle penalty on its saliency; predictions are the wrapped
    model's. Save ``inner`` after training: the wrapper exists only for the loss.

    ``mode`` ``"training"`` (the authors'): the saliency of the training-mode forward pass that also
    gives the predictions (dropout on, batch-norm batch statistics); ``"inference"``: the saliency of the
    model in inference mode (moving statistics, no dropout), beside the training-mode predictions.
    """

    def __init__(self, inner: keras.Model, strength: float, mode: AnglePenaltyMode = "training", **kwargs):
        super().__init__(**kwargs)
        if mode not in ANGLE_PENALTY_MODES:
            raise ValueError(f"angle penalty mode must be one of {list(ANGLE_PENALTY_MODES)}; got {mode!r}")
        self.inner = inner
        self.strength = float(strength)
        self.mode = mode

    def call(self, inputs, training=False):
        if not (training and self.strength > 0):
            return self.inner(inputs, training=training)
        if self.mode == "training":
            predictions, saliency = training_mode_input_gradient(self.inner, inputs)
        else:
            predictions = self.inner(inputs, training=True)
            saliency = differentiable_input_gradient(self.inner, inputs)
        self.add_loss(self.strength * angle_penalty(saliency))
        return predictions


def compile_model(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Compile with BCE, Adam and an AUROC metric (logged as ``auroc`` / ``val_auroc``)."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.AUC(name="auroc", num_thresholds=1000)],
    )
    return model


def _callbacks(config: TrainingConfig) -> list[keras.callbacks.Callback]:
    return [
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_auroc",
            mode="max",
            factor=config.lr_factor,
            patience=config.lr_patience,
            min_lr=config.min_learning_rate,
            verbose=1,
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_auroc",
            mode="max",
            patience=config.early_stopping_patience,
            restore_best_weights=True,
            verbose=1,
        ),
    ]


def train(
    config: TrainingConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    verbose: int = 0,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> tuple[keras.Model, pd.DataFrame]:
    """Build and train one model.

    Parameters
    ----------
    config : TrainingConfig
    x_train, x_valid : numpy.ndarray
        ``(N, L, A)`` float32 one-hot sequences.
    y_train, y_valid : numpy.ndarray
        ``(N, 1)`` labels.
    verbose : int
        Keras ``fit`` verbosity; the default 0 leaves the epoch lines to the timestamped log.
    extra_callbacks : sequence of keras.callbacks.Callback
        Added after the recipe's learning-rate and early-stopping callbacks.

    Returns
    -------
    tuple
        The trained model (best validation-AUROC weights) and its per-epoch history.
    """
    seed_everything(config.seed)
    model = build_model(
        config.architecture,
        x_train.shape[1:],
        activation=config.activation,
        first_layer_filters=config.first_layer_filters,
        first_layer_kernel_size=config.first_layer_kernel_size,
        init_stddev=config.init_stddev,
    )
    trained = (
        AngleRegularized(model, config.angle_penalty, config.angle_penalty_mode)
        if config.angle_penalty > 0
        else model
    )
    compile_model(trained, config.learning_rate)
    with stops_at_safe_points():  # SIGTERM/SIGINT stop training between batches (simplexgrad._process)
        history = trained.fit(
            x_train,
            y_train,
            validation_data=(x_valid, y_valid),
            epochs=config.epochs,
            batch_size=config.batch_size,
            shuffle=True,
            callbacks=[StopAtSafePoints(), *_callbacks(config), EpochLog(), *extra_callbacks],
            verbose=verbose,
        )
    table = pd.DataFrame(history.history)
    table.insert(0, "epoch", np.arange(1, len(table) + 1))
    return model, table


class StopAtSafePoints(keras.callbacks.Callback):
    """The safe points of ``fit``: after each training or validation batch and each epoch, raise
    :class:`simplexgrad._process.Stopped` if SIGTERM or SIGINT was received."""

    def on_train_batch_end(self, batch, logs=None):
        check_stop()

    def on_test_batch_end(self, batch, logs=None):
        check_stop()

    def on_epoch_end(self, epoch, logs=None):
        check_stop()


class EpochLog(keras.callbacks.Callback):
    """One timestamped log line per epoch: losses, AUROCs, learning rate and seconds."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        values = ", ".join(f"{name} {float(value):.4g}" for name, value in (logs or {}).items())
        log.info("epoch %d: %s (%.1f s)", epoch + 1, values, time.perf_counter() - self.started)


def check_labels(y: np.ndarray, source: str) -> None:
    """Refuse labels that are not 0/1 or hold a single class (no AUROC is defined then)."""
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
        raise


def train_to_directory(data: str, out: str, config: TrainingConfig, threads: int | None = None) -> dict:
    """Train one model on a dataset file; write model.keras, history.tsv and metrics.json to a folder.

    Each file is written atomically; ``metrics.json`` comes last, so its presence marks a finished run.

    Parameters
    ----------
    data : str
        Dataset file (.h5) with train, valid and test splits.
    out : str
        Folder for model.keras, history.tsv and metrics.json.
    config : TrainingConfig
        The recipe.
    threads : int or None
        CPU threads for the backend.

    Returns
    -------
    dict
        The contents of ``metrics.json``.
    """
    check_run_folder(out, "--out")
    configure_threads(threads)
    train_split, valid_split, test_split = (load_split(data, name) for name in ("train", "valid", "test"))
    for name, split in (("train", train_split), ("valid", valid_split), ("test", test_split)):
        check_labels(split.y, f"{data}:y_{name}")
    start = time.perf_counter()
    model, history = train(config, train_split.x, train_split.y, valid_split.x, valid_split.y)
    seconds = time.perf_counter() - start
    best_epoch = int(history["val_auroc"].idxmax()) + 1
    metrics = {
        **evaluate(model, test_split.x, test_split.y),
        "epochs_run": int(len(history)),
        "best_epoch": best_epoch,
        "best_val_auroc": float(history["val_auroc"].max()),
        "seconds": round(seconds, 3),
        "backend": keras.backend.backend(),
        "data": str(data),
        **asdict(config),
    }
    check_stop()  # not even a complete run is saved after a stop
    save_run(out, model, history, metrics)
    log.info(
        "test AUROC %.4f, AUPR %.4f after %d epochs (%.1f s)",
        metrics["test_auroc"],
        metrics["test_aupr"],
        metrics["epochs_run"],
        seconds,
    )
    return metrics
