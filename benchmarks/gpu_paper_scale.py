"""One paper-scale group of the synthetic study on a GPU: train, explain and score it, and time each step.

Trains ``--seeds`` members of one model type with the ensemble engine (``simplexgrad train-ensemble``, as
the workflow's ``training.engine: ensemble`` does: one vmapped JAX program, the recipe's schedule and early
stopping per member) on a dataset made by ``simplexgrad synthetic`` with its defaults (20,000 sequences, the
published background pool). Then, per member, saliency on the first ``--num-seqs`` positive test sequences,
raw and corrected, scored as the workflow scores it (:func:`simplexgrad.studies.evaluation.model_row`:
angles, large-angle percentages, cosine / AUROC / AUPR against the ground truth). Writes ``members.tsv``
(one row per member, with its test AUROC and epochs) and ``summary.txt`` (wall times, means over members) to
``--out``.

The dataset is generated where pyjaspar is installed and carried to the GPU machine:

    python -m simplexgrad synthetic --out .gpu-data/data.h5 --seed 0
    KERAS_BACKEND=jax python benchmarks/gpu_paper_scale.py --data .gpu-data/data.h5 \\
        --architecture cnn_deep --activation relu --seeds 50 --out "$OUT"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="dataset file from `simplexgrad synthetic`")
    parser.add_argument("--architecture", default="cnn_deep", choices=["cnn_shallow", "cnn_deep"])
    parser.add_argument("--activation", default="relu", choices=["relu", "exponential"])
    parser.add_argument("--seeds", type=int, default=50, help="members, seeds 0 .. seeds-1 (paper: 50)")
    parser.add_argument("--epochs", type=int, default=100, help="at most (paper: 100)")
    parser.add_argument("--num-seqs", type=int, default=500, help="positive test sequences explained")
    parser.add_argument("--out", required=True, help="folder for members.tsv and summary.txt")
    parser.add_argument("--models", help="folder for the members (default: a temporary one)")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = Path(args.models or tempfile.mkdtemp(prefix="members-"))
    template = str(models / "seed{seed}")
    command = [
        sys.executable, "-m", "simplexgrad", "train-ensemble", "--data", args.data,
        "--out-template", template, "--architecture", args.architecture,
        "--activation", args.activation, "--epochs", str(args.epochs),
        "--seeds", *[str(seed) for seed in range(args.seeds)],
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True)
    train_seconds = time.perf_counter() - start

    import keras
    import numpy as np
    import pandas as pd
    from simplexgrad import correct, saliency
    from simplexgrad.io import load_split, open_hdf5, select_rows
    from simplexgrad.studies.evaluation import model_row

    test = load_split(args.data, "test")
    rows = select_rows(test.y, positives_only=True, num_seqs=args.num_seqs)
    with open_hdf5(args.data) as handle:
        truth = handle["model_test"][rows]  # rows ascend, as h5py needs
    x = test.x[rows].astype(np.float32)

    start = time.perf_counter()
    table = []
    for seed in range(args.seeds):
        member = models / f"seed{seed}"
        model = keras.models.load_model(member / "model.keras", compile=False)
        raw = saliency(model, x, progress=False)
        metrics = json.loads((member / "metrics.json").read_text())
        labels = {
            "model": f"{args.architecture}_{args.activation}",
            "seed": seed,
            "test_auroc": metrics["test_auroc"],
            "epochs_run": metrics["epochs_run"],
        }
        table.append(model_row(raw, correct(raw), x, truth, labels))
        # Rewritten after each member, so that a run cut short still leaves the members it scored.
        scored = pd.concat(table, ignore_index=True)
        scored.to_csv(out / "members.tsv", sep="\t", index=False, float_format="%.6g")
    explain_seconds = time.perf_counter() - start
    table = pd.concat(table, ignore_index=True)

    means = table.drop(columns=["model", "seed"]).mean(numeric_only=True)
    lines = [
        f"{args.architecture}_{args.activation}: {args.seeds} members, {len(rows)} positive test sequences",
        f"train-ensemble wall time: {train_seconds:.1f} s (imports, compilation, all epochs, saving)",
        f"saliency + scoring of all members: {explain_seconds:.1f} s",
        "means over members:",
        *[f"  {name} {value:.4g}" for name, value in means.items()],
        f"  test_auroc sd {table['test_auroc'].std():.4g}",
    ]
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
