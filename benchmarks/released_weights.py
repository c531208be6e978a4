"""Test AUROC of the authors' released synthetic models on a dataset of ours (a fidelity check, not speed).

The authors' repository (p-koo/GradientCorrection) ships 50 weights files per model type in
``results/synthetic/model_params/<architecture>_<activation>_<trial>.h5`` (Keras 2 ``save_weights``; their
CNN-deep first layer has a kernel of 11). Each is loaded by layer order
(:func:`simplexgrad.training.models.import_weights`) and scored on the test split of ``--data``, e.g. the
dataset that ``simplexgrad synthetic --seed 0`` writes with its defaults. On the published generator's data
the trials 0-9 score 0.922 (CNN-shallow-relu), 0.951 (CNN-shallow-exp), 0.963 (CNN-deep-relu) and 0.969
(CNN-deep-exp); a generator that matches theirs lands within 0.01 of those.

    python -m simplexgrad synthetic --out /tmp/default.h5 --seed 0
    python benchmarks/released_weights.py --weights-dir GradientCorrection/results/synthetic/model_params \\
        --data /tmp/default.h5 --trials 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RELEASED_AUROC = {  # trials 0-9 on the published generator's data
    "cnn_shallow_relu": 0.922,
    "cnn_shallow_exponential": 0.951,
    "cnn_deep_relu": 0.963,
    "cnn_deep_exponential": 0.969,
}
KERNEL = {"cnn_shallow": 19, "cnn_deep": 11}  # first-layer kernel of the released weights


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights-dir", required=True, help="the authors' results/synthetic/model_params")
    parser.add_argument("--data", required=True, help="dataset file with a test split")
    parser.add_argument("--trials", type=int, default=10, help="trials 0 .. trials-1 per model type")
    args = parser.parse_args()

    from simplexgrad.io import load_split
    from simplexgrad.training import evaluate
    from simplexgrad.training.models import build_model, import_weights

    test = load_split(args.data, "test")
    print(f"{args.data}: {len(test.y)} test sequences; trials 0-{args.trials - 1}")
    print("model                     test AUROC (mean ± sd)   released on their data   difference")
    for name, released in RELEASED_AUROC.items():
        architecture, activation = name.rsplit("_", 1)
        scores = []
        for trial in range(args.trials):
            kernel = KERNEL[architecture]
            model = build_model(architecture, activation=activation, first_layer_kernel_size=kernel)
            import_weights(model, Path(args.weights_dir) / f"{name}_{trial}.h5")
            scores.append(evaluate(model, test.x, test.y)["test_auroc"])
        mean = statistics.mean(scores)
        spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
        print(f"{name:<25} {mean:.4f} ± {spread:.4f}{released:>23.3f}{mean - released:>24.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
