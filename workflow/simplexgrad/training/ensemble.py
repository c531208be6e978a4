"""Train many models of one shape at once: an ensemble as one jit-compiled, vmapped JAX program.

Each member follows the recipe (:mod:`simplexgrad.training.recipe`) on its own: its seed (initial
weights, dropout keys and batch order), its learning rate with ``ReduceLROnPlateau`` on validation AUROC,
its early stopping with best weights kept, its batch-norm statistics, the L2 penalty of the models'
regularisers (``stateless_call`` returns them with ``return_losses=True``), ``angle_penalty`` with its
``angle_penalty_mode`` (the saliency of the training-mode pass, or of the inference-mode model, inside
the step) and ``init_stddev``; members of one group may differ in seed, schedule, ``init_stddev`` and
``angle_penalty`` (a ``(K,)`` λ inside the one compiled step). One training step updates all ``K`` members
of a group (``jax.vmap`` over the members); an epoch is one compiled call per batch or one ``lax.scan``
over its full batches (``epoch_loop``). Members that stopped are frozen by masked updates, and once enough
have stopped the others move to a smaller program (a bucket of :func:`._ensemble_forward.bucket_size`),
their state scattered back after each epoch. Data are put on the device once per group; each member
gathers its own batches. ``convolution`` and ``precision`` select how convolutions are computed
(:mod:`simplexgrad.training._ensemble_forward`).

Decisions use ``val_auroc`` computed as ``keras.metrics.AUC(num_thresholds=1000)`` computes it, and the
callbacks' rules, re-implemented per member in :mod:`simplexgrad.training._ensemble_schedule`, so that a
member takes the decisions the TF engine would take on the same numbers. The loss is BCE on the output
logit, as TensorFlow computes it for a sigmoid output. Test AUROC and AUPR are the exact ones of
:func:`simplexgrad.training.recipe.evaluate`. Each member is saved like a single run
(:func:`simplexgrad.training.recipe.save_run`), with ``"engine": "ensemble"`` in ``metrics.json``.

Not shared with the TF engine: random streams (JAX's, not TensorFlow's), so a seed gives a different (but
equally distributed) model under each engine.

Needs the JAX backend (``KERAS_BACKEND=jax``); JAX is imported only when a group is trained, so this
module imports wherever Keras does.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, replace

import numpy as np

from simplexgrad._optional import needs

with needs("jax", "simplexgrad.training.ensemble"):
    import keras
    import pandas as pd
    from scipy.special import expit

    from simplexgrad._process import check_stop, stops_at_safe_points
    from simplexgrad.backend import configure_threads
    from simplexgrad.io import load_split
    from simplexgrad.metrics import aupr_per_row, auroc_per_row
    from simplexgrad.training._ensemble_forward import (
        Convolution,
        EpochLoop,
        Precision,
        bucket_size,
        expand,
        resolve_epoch_loop,
    )
    from simplexgrad.training._ensemble_members import member_directories, member_settings
    from simplexgrad.training._ensemble_program import device_chunks, program_for, stacked_values
    from simplexgrad.training._ensemble_schedule import MemberSchedules, keras_auroc
    from simplexgrad.training.models import Activation, Architecture
    from simplexgrad.training.recipe import (
        AnglePenaltyMode,
        TrainingConfig,
        check_labels,
        check_run_folder,
        save_run,
        seeded_model,
    )

__all__ = ["GROUP_FIELDS", "train_group", "predict_group", "train_ensemble"]

log = logging.getLogger(__name__)

# Members of one group share these fields (they fix the compiled program or the recipe's length); they
# may differ in seed, initialisation (init_stddev), angle penalty strength and the schedule's fields
# (learning rate, patience, factor, minimum rate).
GROUP_FIELDS = (
    "architecture",
    "activation",
    "first_layer_filters",
    "first_layer_kernel_size",
    "angle_penalty_mode",
    "epochs",
    "batch_size",
)
HISTORY_COLUMNS = ["epoch", "auroc", "loss", "val_auroc", "val_loss", "learning_rate"]


def _require_jax() -> None:
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(
            f"the ensemble engine runs on JAX: set KERAS_BACKEND=jax (this process uses {backend!r})"
        )


def _mean_bce(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(K,)`` mean binary cross-entropy of ``(K, N)`` logits against ``(N,)`` labels."""
    logits = logits.astype(np.float64)
    with np.errstate(invalid="ignore"):  # a diverged member's NaN logits give a NaN loss, quietly
        return np.mean(labels * np.logaddexp(0, -logits) + (1 - labels) * np.logaddexp(0, logits), axis=1)


def _check_group(configs: Sequence[TrainingConfig]) -> TrainingConfig:
    if not configs:
        raise ValueError("a group needs at least one member")
    first = configs[0]
    for config in configs[1:]:
        differing = [name for name in GROUP_FIELDS if getattr(config, name) != getattr(first, name)]
        if differing:
            raise ValueError(f"members of one group must agree on {differing}: seed {config.seed} differs")
    return first


def train_group(
    configs: Sequence[TrainingConfig],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    epoch_loop: EpochLoop = "auto",
    convolution: Convolution = "vmap",
    precision: Precision = "float32",
    compact: bool = True,
) -> list[tuple[keras.Model, pd.DataFrame]]:
    """Train ``K`` members of one shape together, each as :func:`simplexgrad.training.single.train` would.

    Parameters
    ----------
    configs : sequence of TrainingConfig
        One per member; they must agree on :data:`GROUP_FIELDS`.
    x_train, x_valid : numpy.ndarray
        ``(N, L, A)`` one-hot sequences.
    y_train, y_valid : numpy.ndarray
        ``(N, 1)`` binary labels.
    epoch_loop : {'auto', 'compiled', 'per_batch'}
        An epoch as one compiled loop or one call per batch (:func:`._ensemble_forward.resolve_epoch_loop`).
    convolution : {'vmap', 'im2col'}
        Formulation of the members' convolutions (:mod:`._ensemble_forward`).
    precision : {'float32', 'tf32'}
        Arithmetic of matrix products and convolutions.
    compact : bool
        Move the members still training to a smaller program once one fits them
        (:func:`._ensemble_forward.bucket_size`); results do not depend on it.

    Returns
    -------
    list of (keras.Model, pandas.DataFrame)
        Per member, in order: the model with its best validation-AUROC weights and its per-epoch
        history (columns :data:`HISTORY_COLUMNS`, as the TF engine's; rows up to its stopping epoch).
    """
    import jax

    _require_jax()
    group = _check_group(configs)
    loop = resolve_epoch_loop(epoch_loop)
    models = [seeded_model(config, tuple(x_train.shape[1:])) for config in configs]
    program = program_for(models[0], convolution, precision)
    schedules = MemberSchedules(
        [config.learning_rate for config in configs],
        [config.lr_factor for config in configs],
        [config.min_learning_rate for config in configs],
        [config.lr_patience for config in configs],
        [config.early_stopping_patience for config in configs],
    )
    state = program.initial_state(models, schedules.learning_rate)
    best = (state[0], state[1])
    floatx = keras.config.floatx()
    x_device = jax.device_put(np.asarray(x_train, dtype=floatx))  # on the device once for the group
    y_device = jax.device_put(np.asarray(y_train, dtype=floatx).reshape(len(x_train), 1))
    valid_chunks = device_chunks(x_valid)
    train_labels = np.asarray(y_train).reshape(-1) != 0
    valid_labels = (np.asarray(y_valid).reshape(-1) != 0).astype(np.float64)
    keys = np.stack([np.asarray(jax.random.PRNGKey(config.seed)) for config in configs])
    strengths = np.array([config.angle_penalty for config in configs], dtype=floatx)
    penalised = bool(np.any(strengths > 0))
    members = len(configs)
    rows: list[list[tuple]] = [[] for _ in configs]
    for epoch in range(group.epochs):
        check_stop()  # a safe point: SIGTERM/SIGINT stop the group between epochs
        active = np.flatnonzero(schedules.active)
        size = bucket_size(len(active), members) if compact else members
        slots = np.arange(members)
        if size < members:  # the active members and as few stopped ones as fill the bucket
            slots = np.sort(np.concatenate([active, np.flatnonzero(~schedules.active)[: size - len(active)]]))
            slots_device = jax.device_put(slots)
            log.info("epoch %d: %d members still train, in a program of %d", epoch + 1, len(active), size)
            part = program.take(slots_device, state)
        else:
            part = state
        part, orders, loss, probabilities = program.run_epoch(
            part,
            x_device,
            y_device,
            jax.device_put(keys[slots]),
            epoch,
            jax.device_put(schedules.active[slots]),
            batch_size=group.batch_size,
            strength=strengths[slots],
            mode=group.angle_penalty_mode,
            loop=loop,
            penalised=penalised,  # the group's: a smaller program computes what the whole group did
        )
        logits, regularisation = program.predict(part[0], part[1], valid_chunks)
        state = program.put(state, slots_device, part) if size < members else part
        logits = logits[:, : len(x_valid)]
        train_auroc = expand(keras_auroc(probabilities, train_labels[orders]), slots, members)
        val_auroc = expand(keras_auroc(expit(logits), valid_labels), slots, members)
        val_loss = expand(_mean_bce(logits, valid_labels) + regularisation, slots, members)
        loss = expand(loss, slots, members)
        decision = schedules.end_epoch(epoch, val_auroc)
        best = program.keep_where(jax.device_put(decision.store_best), (state[0], state[1]), best)
        state = program.with_learning_rates(state, schedules.learning_rate)
        for member in np.flatnonzero(decision.trained):
            values = (train_auroc, loss, val_auroc, val_loss, decision.learning_rate)
            rows[member].append((epoch + 1, *(float(column[member]) for column in values)))
        log.info(
            "epoch %d: %d of %d members trained, median val AUROC %.4f, %d stopped so far",
            epoch + 1,
            decision.trained.sum(),
            len(configs),
            np.median(val_auroc[decision.trained]),
            (~schedules.active).sum(),
        )
        if not schedules.active.any():
            break
    best_values = [np.asarray(values) for values in best[0] + best[1]]  # one copy to the host per variable
    for member, model in enumerate(models):
        variables = model.trainable_variables + model.non_trainable_variables
        for variable, values in zip(variables, best_values):
            variable.assign(values[member])
    return [(model, pd.DataFrame(table, columns=HISTORY_COLUMNS)) for model, table in zip(models, rows)]


def predict_group(
    models: Sequence[keras.Model],
    x: np.ndarray,
    convolution: Convolution = "vmap",
    precision: Precision = "float32",
) -> np.ndarray:
    """Inference-mode probabilities ``(K, N)`` of same-shape models on ``x (N, L, A)``, in one program."""
    _require_jax()
    trainable, non_trainable = stacked_values(models)
    program = program_for(models[0], convolution, precision)
    logits, _ = program.predict(trainable, non_trainable, device_chunks(x))
    return expit(logits[:, : len(x)])


def train_ensemble(
    data: str,
    out_template: str,
    architecture: Architecture,
    seeds: list[int],
    activation: Activation = TrainingConfig.activation,
    first_layer_filters: list[int] | None = None,
    first_layer_kernel_size: int = TrainingConfig.first_layer_kernel_size,
    init_stddev: float | None = TrainingConfig.init_stddev,
    init_stddevs: list[str] | None = None,
    angle_penalty: float = TrainingConfig.angle_penalty,
    angle_penalties: list[str] | None = None,
    angle_penalty_mode: AnglePenaltyMode = TrainingConfig.angle_penalty_mode,
    epochs: int = TrainingConfig.epochs,
    batch_size: int = TrainingConfig.batch_size,
    learning_rate: float = TrainingConfig.learning_rate,
    early_stopping_patience: int = TrainingConfig.early_stopping_patience,
    lr_patience: int = TrainingConfig.lr_patience,
    epoch_loop: EpochLoop = "auto",
    convolution: Convolution = "vmap",
    precision: Precision = "float32",
    threads: int | None = None,
) -> None:
    """Train an ensemble on a GPU with JAX: every (σ, λ, filters, seed) member, one program per width.

    Members are the product of settings (each of ``init_stddevs`` × each of ``angle_penalties``) ×
    first-layer widths × seeds; all settings and seeds of one width train as one group. Each member's
    directory gets ``model.keras``, ``history.tsv`` and ``metrics.json`` exactly as ``simplexgrad train``
    writes them (its own ``init_stddev`` and ``angle_penalty`` included), plus ``"engine": "ensemble"``,
    ``"epoch_loop"``, ``"convolution"`` and ``"precision"``; ``seconds`` is the group's training time
    divided by its members. Needs ``KERAS_BACKEND=jax``.

    Parameters
    ----------
    data
        Dataset HDF5 file with train, valid and test splits.
    out_template
        Member directory with {seed} or {index} (the seed's position in --seeds), and {filters},
        {init_stddev}, {angle_penalty} (each needed when it varies; σ and λ as written on the command line).
    architecture
        Model architecture.
    seeds
        One member per seed (per first-layer width).
    activation
        First-layer activation.
    first_layer_filters
        First-layer widths, one group each (default: the recipe's single width).
    first_layer_kernel_size
        First-layer filter length.
    init_stddev
        RandomNormal(0, σ) initialisation instead of he_normal.
    init_stddevs
        Several σ, one set of members each ('none': he_normal); instead of --init-stddev.
    angle_penalty
        Strength λ of the angle penalty (0: none).
    angle_penalties
        Several λ, one set of members each; instead of --angle-penalty.
    angle_penalty_mode
        Saliency of the penalty: training (the model in training mode, the authors') or inference.
    epochs
        Maximum number of epochs.
    batch_size
        Training batch size.
    learning_rate
        Initial Adam learning rate.
    early_stopping_patience
        Epochs without a better validation AUROC before a member stops.
    lr_patience
        Epochs without a better validation AUROC before a member's learning rate drops.
    epoch_loop
        An epoch as one compiled loop or a call per batch (auto: compiled on a GPU, per batch on a CPU).
    convolution
        How the members' convolutions are computed: vmap (a grouped convolution) or im2col (matrix products).
    precision
        Arithmetic of matrix products and convolutions: float32, or tf32 on GPUs that have it.
    threads
        CPU threads for XLA (when JAX runs on the CPU).

    Raises
    ------
    ValueError
        For a bad template, repeated seeds, widths, σ or λ, labels that are not 0/1 of both classes, or
        a backend other than JAX.
    FileNotFoundError
        When the dataset file does not exist.
    """
    widths = list(first_layer_filters or [TrainingConfig.first_layer_filters])
    settings = member_settings(init_stddev, init_stddevs, angle_penalty, angle_penalties)
    directories = member_directories(out_template, seeds, widths, settings)
    for directory in directories.values():
        check_run_folder(directory, "--out-template")
    if not os.path.exists(data):
        raise FileNotFoundError(f"{data}: dataset file not found")
    _require_jax()
    with stops_at_safe_points():  # JAX's client starts here; a stop raised inside JAX can crash at exit
        configure_threads(threads)
        loop = resolve_epoch_loop(epoch_loop)
    base = TrainingConfig(
        architecture=architecture,
        activation=activation,
        first_layer_kernel_size=first_layer_kernel_size,
        angle_penalty_mode=angle_penalty_mode,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        early_stopping_patience=early_stopping_patience,
        lr_patience=lr_patience,
    )
    train_split, valid_split, test_split = (load_split(data, name) for name in ("train", "valid", "test"))
    for name, split in (("train", train_split), ("valid", valid_split), ("test", test_split)):
        check_labels(split.y, f"{data}:y_{name}")
    for width in widths:
        keys = [(width, setting, seed) for setting in settings for seed in seeds]
        configs = [
            replace(
                base,
                seed=seed,
                first_layer_filters=width,
                init_stddev=setting.init_stddev,
                angle_penalty=setting.angle_penalty,
            )
            for _, setting, seed in keys
        ]
        log.info("training %d members with %d first-layer filters", len(configs), width)
        start = time.perf_counter()
        with stops_at_safe_points():  # the signal handler only records; the step loop stops
            members = train_group(
                configs,
                train_split.x,
                train_split.y,
                valid_split.x,
                valid_split.y,
                epoch_loop=loop,
                convolution=convolution,
                precision=precision,
            )
        seconds = (time.perf_counter() - start) / len(configs)
        with stops_at_safe_points():
            scores = predict_group([model for model, _ in members], test_split.x, convolution, precision)
        positive = np.broadcast_to(test_split.y[:, 0] == 1, scores.shape)
        test_auroc = auroc_per_row(scores, positive, ~positive)  # as training.evaluate, one row per member
        test_aupr = aupr_per_row(scores, positive, ~positive)
        for index, (key, config, (model, history)) in enumerate(zip(keys, configs, members)):
            metrics = {
                "test_auroc": float(test_auroc[index]),
                "test_aupr": float(test_aupr[index]),
                "epochs_run": int(len(history)),
                "best_epoch": int(history["val_auroc"].idxmax()) + 1,
                "best_val_auroc": float(history["val_auroc"].max()),
                "seconds": round(seconds, 3),
                "backend": keras.backend.backend(),
                "data": str(data),
                **asdict(config),
                "engine": "ensemble",
                "epoch_loop": loop,
                "convolution": convolution,
                "precision": precision,
            }
            save_run(directories[key], model, history, metrics)
        log.info("saved %d members; median test AUROC %.4f", len(configs), float(np.median(test_auroc)))
