"""Seconds for `simplexgrad report` of a CNN-deep model on 500 FASTA sequences, end to end, and the size
of its page.

A CNN-deep-exp model (untrained: the time does not depend on the weights) and 500 synthetic 200-nt
sequences (motifs planted in a uniform background) are written to a temporary folder; the command runs
as a user runs it, in a fresh process (start-up, model load, saliency, correction, angle table, map files
and the page), without motif discovery, on two CPU cores (``taskset`` where there is one, and ``--threads
2``). The median of ``--repeats`` runs is reported with the page's size, and the machine's load average
(a shared machine's figure is an upper bound).

    python benchmarks/report.py [--num-seqs 500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from simplexgrad.data.sequences import write_fasta  # noqa: E402
from simplexgrad.data.synthetic import plant_motifs, sample_onehot  # noqa: E402
from simplexgrad.training.models import cnn_deep  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-seqs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    pwms = [rng.dirichlet(np.full(4, 0.3), size=width) for width in (8, 10, 12)]
    planted = plant_motifs(pwms, args.num_seqs, 200, rng)
    x = sample_onehot(planted.ground_truth_probs, rng)
    command = [str(Path(sys.executable).parent / "simplexgrad"), "report", "--model", "model.keras",
               "--sequences", "enhancers.fa", "--no-motifs", "--threads", "2", "--out", "report"]  # fmt: skip
    if shutil.which("taskset") and len(os.sched_getaffinity(0)) > 2:
        command = ["taskset", "-c", ",".join(map(str, sorted(os.sched_getaffinity(0))[:2])), *command]
    with tempfile.TemporaryDirectory() as folder:
        cnn_deep((200, 4), activation="exponential").save(Path(folder) / "model.keras")
        write_fasta(Path(folder) / "enhancers.fa", [f"seq{index}" for index in range(len(x))], x)
        seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
            seconds.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(done.stderr[-3000:])
        size = (Path(folder) / "report" / "index.html").stat().st_size
    load = os.getloadavg()
    print(f"report of {args.num_seqs} sequences, CNN-deep-exp, no motifs: {statistics.median(seconds):.1f} s "
          f"(runs: {', '.join(f'{s:.1f}' for s in seconds)}); index.html {size / 1e6:.2f} MB; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
