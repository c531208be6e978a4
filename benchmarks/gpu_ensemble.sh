#!/usr/bin/env bash
# The ensemble engine against the chip, on one GPU: the device, then for K = 1, 50, 200 and 500 CNN-deep
# members, each convolution formulation (vmap, im2col) and precision (float32, tf32), the steady epoch,
# member-epochs/s, the FLOP/s achieved (XLA's cost analysis of the compiled step) and their fraction of
# the GPU's FP32 peak (benchmarks/ensemble_chip.py does the measuring; 4,000 x 200 training sequences,
# batch 100, 3 epochs per group). The benchmark is cut at 270 s: it starts no new group after 230 s
# (those are printed as skipped), and each group's line is printed as soon as it is done.
#
# Made for a GPU machine with JAX (CUDA), Python 3.12, numpy, h5py, pandas and scipy, but maybe no Keras,
# no TensorFlow, no pyjaspar and no network. The data are generated there (NumPy: random sequences with a
# planted motif). Where Keras is missing, the script installs wheels from the folder given as its first
# argument (else the environment variable GPU_WHEELS, else .gpu-wheels in the repository root, which git
# ignores) into a temporary folder on PYTHONPATH: Keras 3.15.1 and the two of its dependencies that JAX
# does not bring, namex 0.1.0 and optree 0.20.0 (the versions of requirements/constraints.txt). Fetch them
# once, on a machine with network access, for the GPU machine's Python and platform:
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#         --platform manylinux_2_28_x86_64 -d .gpu-wheels keras==3.15.1 namex==0.1.0 optree==0.20.0
# Copy the folder to the GPU machine with the checkout (it is not tracked), and run there:
#     bash benchmarks/gpu_ensemble.sh                          # wheels in .gpu-wheels
#     bash benchmarks/gpu_ensemble.sh path/to/wheels           # wheels elsewhere
#     GPU_WHEELS=path/to/wheels bash benchmarks/gpu_ensemble.sh   # the same
# The report is printed and also written to $OUT/gpu_ensemble.txt ($OUT, else $TMPDIR, else /tmp), the
# rows as JSON to $OUT/ensemble_chip.json. Further arguments go to the benchmark, e.g.
# `--members 1 50 --precisions float32` for a quick try. The epoch-time comparison with sequential members
# of the benchmarks page's GPU table is benchmarks/ensemble_training.py (--members 1 10 50 --epochs 3
# --num-seqs 14000 --gpu-utilisation).
set -euo pipefail
cd "$(dirname "$0")/.."

wheels=${GPU_WHEELS:-.gpu-wheels}
if [[ $# -gt 0 && $1 != -* ]]; then  # a first argument that is not an option: the wheels folder
    wheels=$1
    shift
fi
source benchmarks/gpu_env.sh
gpu_env "$wheels" "$PWD" || exit 2
folder=${OUT:-${TMPDIR:-/tmp}}
report=$folder/gpu_ensemble.txt

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    python3 - <<'PY'
import sys

import jax
import simplexgrad.training.ensemble  # noqa: F401  (the engine's imports, without TensorFlow or pyjaspar)

unwanted = [name for name in ("tensorflow", "pyjaspar", "pybedtools", "pyfaidx") if name in sys.modules]
print(f"python {sys.version.split()[0]}, jax {jax.__version__}, devices {jax.devices()}")
print("simplexgrad.training.ensemble imported", f"and pulled in {unwanted}" if unwanted else "without TensorFlow/pyjaspar")
PY
    timeout 270 python3 benchmarks/ensemble_chip.py \
        --members 1 50 200 500 --epochs 3 --num-seqs 4000 --budget 230 --json "$folder/ensemble_chip.json" "$@"
} 2>&1 | tee "$report"
