"""The angle penalty's two modes on the same data: mean |θ| of the saliency and test AUROC.

Trains CNN-shallow-exp with the paper's recipe three times on one synthetic dataset (default pool, the
published one): without the penalty, with λ in ``training`` mode (the default and the authors': the
saliency of the training-mode pass, dropout on, batch-norm batch statistics) and with λ in ``inference``
mode (the saliency of the inference-mode model). Reports, for each, the mean |θ| (degrees) of the
saliency on the first positive test sequences (zero gradients left out) and the test AUROC, and how far
each penalised run moved from the unpenalised one. Issue 26's criterion: in training mode, mean |θ| at
least 4x smaller at a test AUROC within 0.05.

    python benchmarks/angle_penalty_modes.py --num-seqs 8000 --epochs 10 --strength 3e-3 --threads 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from simplexgrad.attribution import saliency  # noqa: E402
from simplexgrad.backend import configure_threads  # noqa: E402
from simplexgrad.correction import simplex_angle  # noqa: E402
from simplexgrad.data.synthetic import synthetic_dataset  # noqa: E402
from simplexgrad.io import load_split  # noqa: E402
from simplexgrad.training import TrainingConfig, evaluate, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-seqs", type=int, default=8000, help="synthetic sequences in all")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--strength", type=float, default=3e-3, help="λ of the penalised runs")
    parser.add_argument("--seed", type=int, default=2, help="seed of the data and of every model")
    parser.add_argument("--positives", type=int, default=300, help="positive test sequences explained")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    configure_threads(args.threads)

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.h5")
        synthetic_dataset(path, num_seqs=args.num_seqs, seed=args.seed)
        train_split, valid, test = (load_split(path, name) for name in ("train", "valid", "test"))
    explained = test.x[test.y[:, 0] == 1][: args.positives]

    runs = {
        "no penalty": {},
        "training mode": {"angle_penalty": args.strength, "angle_penalty_mode": "training"},
        "inference mode": {"angle_penalty": args.strength, "angle_penalty_mode": "inference"},
    }
    results = {}
    for name, options in runs.items():
        config = TrainingConfig(
            architecture="cnn_shallow",
            activation="exponential",
            epochs=args.epochs,
            seed=args.seed,
            **options,
        )
        start = time.perf_counter()
        model, history = train(config, train_split.x, train_split.y, valid.x, valid.y)
        seconds = time.perf_counter() - start
        angles = np.abs(simplex_angle(saliency(model, explained), zero=np.nan))
        results[name] = {
            "mean_angle": float(np.nanmean(angles)),
            "auroc": evaluate(model, test.x, test.y)["test_auroc"],
            "epochs": len(history),
            "seconds": seconds,
        }

    print(
        f"backend {keras.backend.backend()}, CNN-shallow-exp, {args.num_seqs} sequences (seed {args.seed}), "
        f"<= {args.epochs} epochs, λ = {args.strength:g}, {len(explained)} positive test sequences"
    )
    print(f"{'run':<16}{'mean |θ| (°)':>14}{'test AUROC':>12}{'|θ| ratio':>11}{'ΔAUROC':>9}{'s':>8}")
    plain = results["no penalty"]
    for name, result in results.items():
        ratio = plain["mean_angle"] / result["mean_angle"] if result["mean_angle"] > 0 else float("inf")
        print(
            f"{name:<16}{result['mean_angle']:>14.2f}{result['auroc']:>12.3f}{ratio:>10.1f}x"
            f"{result['auroc'] - plain['auroc']:>+9.3f}{result['seconds']:>8.0f}"
        )


if __name__ == "__main__":
    main()
