"""Training one model with the paper's recipe (:mod:`simplexgrad.training.recipe`), seeded, with optional
angle regularisation: Keras ``fit`` with the recipe's callbacks.

Angle regularisation (Fig 4d) adds ``λ · mean over the batch of sqrt(Σ_positions θ²)`` to the loss,
with θ the simplex angle (degrees) of each position's saliency, computed inside the training step. Its
mode says which function's saliency: ``training`` (default, the authors'): the model in training mode,
the same forward pass as the loss (dropout on, batch-norm batch statistics); ``inference``: the model in
inference mode, the function that attribution later explains.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from simplexgrad._optional import needs

with needs("keras", "simplexgrad.training.single"):
    import keras
    import pandas as pd

    from simplexgrad._process import check_stop, stops_at_safe_points
    from simplexgrad.backend import (
        configure_threads,
        differentiable_input_gradient,
        training_mode_input_gradient,
    )
    from simplexgrad.io import load_split
    from simplexgrad.training.recipe import (
        ANGLE_PENALTY_MODES,
        AnglePenaltyMode,
        TrainingConfig,
        angle_penalty,
        check_labels,
        check_run_folder,
        evaluate,
        save_run,
        seeded_model,
    )

__all__ = [
    "AngleRegularized",
    "compile_model",
    "train",
    "train_to_directory",
    "untrained_to_directory",
]

log = logging.getLogger(__name__)


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
    """Compile with BCE, Adam and an AUROC metric (logged as ``auroc`` / ``val_auroc``).

    The optimizer's slots are created here, not in ``fit``: on TensorFlow, ``fit`` would create them while
    tracing the training step, and a traced function that creates variables is traced a second time (about
    2.3 s of each CNN-deep training job). The slots start at zero either way: the weights are the same.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.AUC(name="auroc", num_thresholds=1000)],
    )
    model.optimizer.build(model.trainable_variables)
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
    # SIGTERM/SIGINT stop only at safe points, here between batches (simplexgrad._process): a stop raised
    # inside JAX's building or compiling of the model can crash the interpreter at exit.
    with stops_at_safe_points():
        model = seeded_model(config, x_train.shape[1:])
        trained = (
            AngleRegularized(model, config.angle_penalty, config.angle_penalty_mode)
            if config.angle_penalty > 0
            else model
        )
        compile_model(trained, config.learning_rate)
        check_stop()
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
    with stops_at_safe_points():  # JAX's client starts here: see train
        configure_threads(threads)
    train_split, valid_split, test_split = (load_split(data, name) for name in ("train", "valid", "test"))
    for name, split in (("train", train_split), ("valid", valid_split), ("test", test_split)):
        check_labels(split.y, f"{data}:y_{name}")
    start = time.perf_counter()
    model, history = train(config, train_split.x, train_split.y, valid_split.x, valid_split.y)
    seconds = time.perf_counter() - start
    best_epoch = int(history["val_auroc"].idxmax()) + 1
    with stops_at_safe_points():
        scores = evaluate(model, test_split.x, test_split.y)
    metrics = {
        **scores,
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


def untrained_to_directory(data: str, out: str, config: TrainingConfig, threads: int | None = None) -> dict:
    """The null baseline of one model: built and seeded as :func:`train_to_directory` would, never trained.

    Writes the same run folder as a trained model (``model.keras``, an empty ``history.tsv`` and
    ``metrics.json`` with the test AUROC and AUPR, ``epochs_run`` 0 and ``"untrained": true``), so that
    attribution and evaluation treat it alike: a claim that such a model also passes does not tell a
    model that learned from one that did not.

    Parameters
    ----------
    data : str
        Dataset file (.h5) with a test split.
    out : str
        Folder for model.keras, history.tsv and metrics.json.
    config : TrainingConfig
        The recipe whose model (architecture, activation, seed, initialisation) is built; its training
        options are recorded, not used.
    threads : int or None
        CPU threads for the backend.

    Returns
    -------
    dict
        The contents of ``metrics.json``.
    """
    check_run_folder(out, "--out")
    with stops_at_safe_points():
        configure_threads(threads)
    test_split = load_split(data, "test")
    check_labels(test_split.y, f"{data}:y_test")
    with stops_at_safe_points():
        model = seeded_model(config, test_split.x.shape[1:])
        scores = evaluate(model, test_split.x, test_split.y)
    history = pd.DataFrame(columns=["epoch", "auroc", "loss", "val_auroc", "val_loss", "learning_rate"])
    metrics = {
        **scores,
        "epochs_run": 0,
        "best_epoch": 0,
        "seconds": 0.0,
        "untrained": True,
        "backend": keras.backend.backend(),
        "data": str(data),
        **asdict(config),
    }
    check_stop()
    save_run(out, model, history, metrics)
    log.info("untrained model: test AUROC %.4f, AUPR %.4f", metrics["test_auroc"], metrics["test_aupr"])
    return metrics
