"""Seconds per epoch: simplexgrad.training.train vs a bare ``model.fit`` of the same model and data.

Both train CNN-deep (exponential first layer) on the same 14,000 x 200 synthetic training split with the
same batch size and validation split, in one process. The first epoch (tracing) is left out; the median
of the rest is reported, and the ratio simplexgrad / bare (1.0 means our loop adds nothing). With
``--angle-penalty λ`` a third run trains with the angle penalty (a saliency inside every step) and its
epoch time is reported against the plain one: the cost of the angle-regularisation study.

    python benchmarks/training_epoch.py --epochs 5 --threads 2 [--angle-penalty 1e-3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from simplexgrad.backend import configure_threads, seed_everything  # noqa: E402
from simplexgrad.data.synthetic import synthetic_dataset  # noqa: E402
from simplexgrad.io import load_split  # noqa: E402
from simplexgrad.training import TrainingConfig, train  # noqa: E402
from simplexgrad.training.models import cnn_deep  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--angle-penalty", type=float, default=0.0, help="also time a penalised run")
    args = parser.parse_args()
    configure_threads(args.threads)

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.h5")
        synthetic_dataset(path, num_seqs=20_000, seed=args.seed)
        tr, va = load_split(path, "train"), load_split(path, "valid")

    config = TrainingConfig(
        architecture="cnn_deep",
        activation="exponential",
        epochs=args.epochs,
        seed=args.seed,
        early_stopping_patience=args.epochs + 1,
        lr_patience=args.epochs + 1,
    )

    ours_timer = EpochTimer()
    train(config, tr.x, tr.y, va.x, va.y, verbose=0, extra_callbacks=[ours_timer])

    seed_everything(args.seed)
    bare = cnn_deep(activation="exponential")
    bare.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    bare_timer = EpochTimer()
    bare.fit(
        tr.x,
        tr.y,
        validation_data=(va.x, va.y),
        epochs=args.epochs,
        batch_size=100,
        callbacks=[bare_timer],
        verbose=0,
    )

    ours = statistics.median(ours_timer.seconds[1:])
    plain = statistics.median(bare_timer.seconds[1:])
    print(
        f"backend: {keras.backend.backend()}, CNN-deep-exp, {len(tr.x)} x 200 training sequences, batch 100"
    )
    print(f"bare model.fit      : {plain:7.2f} s/epoch")
    print(f"simplexgrad.train   : {ours:7.2f} s/epoch")
    print(f"ratio (ours / bare) : {ours / plain:7.3f}")
    if args.angle_penalty > 0:
        penalised_timer = EpochTimer()
        penalised = replace(config, angle_penalty=args.angle_penalty)
        train(penalised, tr.x, tr.y, va.x, va.y, verbose=0, extra_callbacks=[penalised_timer])
        cost = statistics.median(penalised_timer.seconds[1:])
        print(f"with angle penalty  : {cost:7.2f} s/epoch ({cost / ours:.2f} x the plain epoch)")


if __name__ == "__main__":
    main()
