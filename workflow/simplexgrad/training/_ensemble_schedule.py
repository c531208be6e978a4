"""NumPy side of the ensemble engine: Keras' AUROC and callbacks, vectorised over the members of a group.

The TensorFlow engine (:mod:`simplexgrad.training.single`) decides on ``val_auroc`` from
``keras.metrics.AUC(num_thresholds=1000)`` with ``ReduceLROnPlateau`` and ``EarlyStopping``. The ensemble
engine must take the same decisions from the same numbers, so this module re-implements the three for
``K`` members at once: :func:`keras_auroc` reproduces Keras' bucketed 1000-threshold AUROC (not the exact
rank AUROC), and :class:`MemberSchedules` the two callbacks' state machines (including their comparisons
in float32), one row per member. Imports only NumPy: it runs in any process and is unit-tested against
Keras itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["keras_auroc", "MemberSchedules", "EpochDecision"]

KERAS_AUC_THRESHOLDS = 1000
# ReduceLROnPlateau's default min_delta; EarlyStopping's is 0 (the TF engine keeps both defaults).
LR_MIN_DELTA = 1e-4


def keras_auroc(
    scores: np.ndarray, labels: np.ndarray, num_thresholds: int = KERAS_AUC_THRESHOLDS
) -> np.ndarray:
    """ROC AUC of each row exactly as ``keras.metrics.AUC(num_thresholds)`` accumulates and reports it.

    Keras puts each (clipped) score ``p`` in bucket ``max(ceil(p · (T - 1)) - 1, 0)`` (float32), counts
    true and false positives above each of ``T`` evenly spaced thresholds and sums trapezoids of the
    (FPR, TPR) curve. NaN scores count as 0.

    Parameters
    ----------
    scores : numpy.ndarray
        ``(K, N)`` predicted probabilities, one row per member.
    labels : numpy.ndarray
        ``(K, N)`` or ``(N,)`` binary labels.
    num_thresholds : int
        Keras' ``num_thresholds``.

    Returns
    -------
    numpy.ndarray
        ``(K,)`` float32 AUROCs (0 for a row without positives or negatives, as Keras' divide_no_nan).
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    members = scores.shape[0]
    positive = np.broadcast_to(np.asarray(labels) != 0, scores.shape)
    clipped = np.nan_to_num(np.clip(scores, 0.0, 1.0), nan=0.0)
    buckets = np.maximum(np.ceil(clipped * np.float32(num_thresholds - 1)) - 1, 0).astype(np.int64)
    flat = buckets + num_thresholds * np.arange(members)[:, None]
    size = members * num_thresholds
    tp_per_bucket = np.bincount(flat[positive], minlength=size).reshape(members, num_thresholds)
    fp_per_bucket = np.bincount(flat[~positive], minlength=size).reshape(members, num_thresholds)
    true_positives = np.cumsum(tp_per_bucket[:, ::-1], axis=1)[:, ::-1].astype(np.float32)
    false_positives = np.cumsum(fp_per_bucket[:, ::-1], axis=1)[:, ::-1].astype(np.float32)
    positives = positive.sum(axis=1, dtype=np.float32)[:, None]
    negatives = np.float32(scores.shape[1]) - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(positives > 0, true_positives / positives, np.float32(0))
        fp_rate = np.where(negatives > 0, false_positives / negatives, np.float32(0))
    heights = (recall[:, :-1] + recall[:, 1:]) / np.float32(2)
    return np.sum((fp_rate[:, :-1] - fp_rate[:, 1:]) * heights, axis=1, dtype=np.float32)


@dataclass(frozen=True)
class EpochDecision:
    """What the callbacks decided at the end of one epoch, per member (all ``(K,)``)."""

    trained: np.ndarray  # bool: the member trained this epoch (was not stopped before it)
    learning_rate: np.ndarray  # float32: the rate used this epoch (Keras logs it before reducing)
    store_best: np.ndarray  # bool: keep this epoch's weights as the member's best
    stopped: np.ndarray  # bool: early stopping fired at this epoch


class MemberSchedules:
    """``ReduceLROnPlateau`` and ``EarlyStopping`` (mode max, restore best weights) for ``K`` members.

    Mirrors Keras 3's callbacks as the TF engine configures them: a reduction after ``lr_patience``
    epochs without ``val_auroc > best + 1e-4`` (``lr ← max(lr · factor, min_lr)``, only while
    ``lr > min_lr``), a stop once ``early_stopping_patience`` epochs passed without ``val_auroc > best``
    (never at the first epoch), and best weights taken at the first epoch and at each improvement.
    Stopped members keep their state.

    Parameters
    ----------
    learning_rates, lr_factors, min_learning_rates : sequence of float
        ``(K,)`` initial rates and reduction settings.
    lr_patience, early_stopping_patience : sequence of int
        ``(K,)`` patience values.
    """

    def __init__(
        self,
        learning_rates: Sequence[float],
        lr_factors: Sequence[float],
        min_learning_rates: Sequence[float],
        lr_patience: Sequence[int],
        early_stopping_patience: Sequence[int],
    ):
        self.learning_rate = np.asarray(learning_rates, dtype=np.float32)
        members = self.learning_rate.shape[0]
        self.lr_factor = np.asarray(lr_factors, dtype=np.float64)
        self.min_learning_rate = np.asarray(min_learning_rates, dtype=np.float64)
        self.lr_patience = np.asarray(lr_patience, dtype=np.int64)
        self.stop_patience = np.asarray(early_stopping_patience, dtype=np.int64)
        self.active = np.ones(members, dtype=bool)
        self.lr_best = np.full(members, np.nan)
        self.lr_wait = np.zeros(members, dtype=np.int64)
        self.stop_best = np.full(members, np.nan)
        self.stop_wait = np.zeros(members, dtype=np.int64)
        self.best_epoch = np.zeros(members, dtype=np.int64)  # 0-based, as Keras' EarlyStopping
        self._seen = np.zeros(members, dtype=bool)  # both callbacks start with best = None

    def end_epoch(self, epoch: int, val_auroc: np.ndarray) -> EpochDecision:
        """Apply one epoch's ``(K,)`` validation AUROCs to the members that trained in it.

        ``epoch`` is 0-based, as Keras passes it to ``on_epoch_end``.
        """
        current = np.asarray(val_auroc, dtype=np.float64)
        trained = self.active.copy()
        used_rate = self.learning_rate.copy()
        first = ~self._seen
        with np.errstate(invalid="ignore"):
            # Keras compares through keras.ops on Python floats, i.e. in float32.
            lr_better = first | (np.float32(current - LR_MIN_DELTA) > self.lr_best.astype(np.float32))
            stop_better = first | (current.astype(np.float32) > self.stop_best.astype(np.float32))

        # ReduceLROnPlateau (cooldown 0).
        lr_wait = np.where(lr_better, 0, self.lr_wait + 1)
        due = ~lr_better & (lr_wait >= self.lr_patience)
        reducible = due & (used_rate.astype(np.float64) > self.min_learning_rate.astype(np.float32))
        reduced_rate = np.maximum(used_rate.astype(np.float64) * self.lr_factor, self.min_learning_rate)
        new_rate = np.where(reducible, reduced_rate, used_rate).astype(np.float32)
        lr_wait = np.where(reducible, 0, lr_wait)

        # EarlyStopping (restore_best_weights, baseline None, start_from_epoch 0).
        stop_wait = np.where(stop_better, 0, self.stop_wait + 1)
        stopped = trained & ~stop_better & (stop_wait >= self.stop_patience) & (epoch > 0)

        self.lr_best = np.where(trained & lr_better, current, self.lr_best)
        self.lr_wait = np.where(trained, lr_wait, self.lr_wait)
        self.learning_rate = np.where(trained, new_rate, self.learning_rate)
        self.stop_best = np.where(trained & stop_better, current, self.stop_best)
        self.best_epoch = np.where(trained & stop_better, epoch, self.best_epoch)
        self.stop_wait = np.where(trained, stop_wait, self.stop_wait)
        self._seen |= trained
        self.active = trained & ~stopped
        return EpochDecision(
            trained=trained, learning_rate=used_rate, store_best=trained & stop_better, stopped=stopped
        )
